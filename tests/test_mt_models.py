"""Encoder-decoder MT models (NLLB, M2M-100 styles) behind the generation interface, built tiny
from config with tokenizers trained here on FLORES lines (nothing downloads)."""

import json

import pytest

from conftest import run_cli
from lingualift.core.io import InputError, read_lines
from lingualift.inference import mt
from lingualift.inference.generate import GenerationParams, load_generator


def _lines(flores, n=200):
    return [line for code in ("eng_Latn", "swh_Latn") for line in read_lines(flores / f"{code}.dev")[:n]]


@pytest.fixture(scope="module")
def nllb_dir(flores, tmp_path_factory):
    """An NLLB-architecture (M2M-100 model class) tiny model with an NllbTokenizer: FLORES-200
    codes as language tokens."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(_lines(flores), trainers.BpeTrainer(vocab_size=600, show_progress=False,
                                                                 special_tokens=["<s>", "<pad>", "</s>", "<unk>"]))
    data = json.loads(bpe.to_str())
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in data["model"]["merges"]]
    tokenizer = NllbTokenizer(vocab=data["model"]["vocab"], merges=merges)
    torch.manual_seed(0)
    config = M2M100Config(vocab_size=len(tokenizer), d_model=64, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                          decoder_ffn_dim=128, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          decoder_start_token_id=tokenizer.eos_token_id)
    out = tmp_path_factory.mktemp("nllb-tiny")
    M2M100ForConditionalGeneration(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def m2m_dir(flores, tmp_path_factory):
    """M2M-100 with its own tokenizer: ISO codes as __sw__ tokens."""
    import io

    import sentencepiece
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    out = tmp_path_factory.mktemp("m2m-tiny")
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(_lines(flores)), model_writer=model,
                                             vocab_size=500, minloglevel=2, bos_id=0, pad_id=1, eos_id=2, unk_id=3)
    (out / "spm.model").write_bytes(model.getvalue())
    sp = sentencepiece.SentencePieceProcessor(model_file=str(out / "spm.model"))
    (out / "vocab.json").write_text(json.dumps({sp.id_to_piece(i): i for i in range(sp.get_piece_size())}))
    tokenizer = M2M100Tokenizer(str(out / "vocab.json"), str(out / "spm.model"))
    torch.manual_seed(0)
    rows = 1 + max(tokenizer.convert_tokens_to_ids(t) for t in tokenizer.get_vocab() | {"__zu__": 0})  # language tokens too
    config = M2M100Config(vocab_size=rows, d_model=64, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                          decoder_ffn_dim=128, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                          decoder_start_token_id=tokenizer.eos_token_id)
    M2M100ForConditionalGeneration(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("which, src_token", [("nllb_dir", "eng_Latn"), ("m2m_dir", "en")])
def test_language_tokens_come_from_the_registry(which, src_token, request):
    gen = load_generator(str(request.getfixturevalue(which)), engine="hf")
    assert gen.seq2seq
    names = mt.language_tokens(gen.tokenizer, "eng_Latn", "swh_Latn")
    assert names.src == src_token and names.style in ("nllb", "m2m")
    params = GenerationParams(max_new_tokens=6, batch_size=2)
    texts = ["Hello.", "The cat sleeps on the warm stones.", "Good morning"]
    outs = gen.translate(texts, "eng_Latn", "swh_Latn", params)
    assert [len(row) for row in outs] == [1, 1, 1]
    beams = gen.translate(texts[:1], "eng_Latn", "swh_Latn", GenerationParams(max_new_tokens=6, num_beams=3), n=3)
    assert len(beams[0]) == 3 and beams[0][0] == gen.translate(texts[:1], "eng_Latn", "swh_Latn",
                                                               GenerationParams(max_new_tokens=6, num_beams=3))[0][0]
    with pytest.raises(InputError, match="no language token for sat_Olck"):
        mt.language_tokens(gen.tokenizer, "eng_Latn", "sat_Olck")


def test_madlad_style_prefix():
    class Vocab:
        def get_vocab(self):
            return {"<2sw>": 5, "<2en>": 6, "▁a": 7}

    names = mt.language_tokens(Vocab(), "eng_Latn", "swh_Latn")
    assert names.style == "madlad" and names.tgt == "<2sw>"


def test_eval_translate_on_a_seq2seq_model_beside_a_causal_one(flores, nllb_dir, tmp_path):
    common = ["--data", f"flores:{flores}", "--directions", "en-sw,sw-en", "--limit", "4", "--max-new-tokens", "6",
              "--metrics", "chrf++,off_target"]
    causal = run_cli("eval", "translate", "--model", "tiny", *common, "--out", str(tmp_path / "llm"))
    assert causal.returncode == 0, causal.stderr
    proc = run_cli("eval", "translate", "--model", str(nllb_dir), *common, "--out", str(tmp_path / "nllb"),
                   "--compare", str(tmp_path / "llm"))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "nllb" / "results.json").read_text())
    assert [d["direction"] for d in results["directions"]] == ["eng_Latn-swh_Latn", "swh_Latn-eng_Latn"]
    assert all(d["n"] == 4 for d in results["directions"]) and results["comparison"]["deltas"]
    bad = run_cli("eval", "translate", "--model", str(nllb_dir), "--data", f"flores:{flores}", "--directions",
                  "en-sat_Olck", "--limit", "2", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no language token for sat_Olck" in bad.stderr


def test_serve_translates_with_a_seq2seq_model(nllb_dir):
    """Behind /v1/translate the MT model is given the source sentences (not prompts), alone and
    with mbr per request; a direction it has no token for is the client's 400."""
    from fastapi.testclient import TestClient

    from lingualift.serve.app import create_app
    from lingualift.serve.config import ServeSettings

    gen = load_generator(str(nllb_dir), engine="hf")
    params = GenerationParams(max_new_tokens=6)
    sentences = ["Good morning.", "The river is wide."]
    alone = [gen.translate([s], "eng_Latn", "swh_Latn", params)[0][0] for s in sentences]
    body = {"texts": [" ".join(sentences)], "source_lang": "en", "target_lang": "sw", "options": {"max_new_tokens": 6}}
    with TestClient(create_app(gen, ServeSettings(max_new_tokens=6), model_name="nllb-tiny")) as client:
        reply = client.post("/v1/translate", json=body).json()
        assert reply["translations"] == [" ".join(a.strip() for a in alone)]
        assert reply["template"] == "none (encoder-decoder)" and reply["decoding"] == "standard"
        mbr = client.post("/v1/translate", json={**body, "options": {"decoding": "mbr", "candidates": 2}}).json()
        assert len(mbr["translations"]) == 1 and mbr["decoding"].startswith("mbr|utility:chrf++|candidates:2")
        missing = client.post("/v1/translate", json={**body, "target_lang": "sat_Olck"})
    assert missing.status_code == 400 and "no language token" in missing.json()["error"]["message"]

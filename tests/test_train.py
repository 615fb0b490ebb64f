"""Training stages on the `tiny` preset and real Tatoeba / FLORES Swahili, on CPU."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import ROOT, run_cli


def _data(shared, tmp, block: int, tokenizer: str = "tiny") -> str:
    """The embedded default's data config, pointed at the shared data, packed in `block` tokens."""
    cfg = yaml.safe_load((ROOT / "recipes" / "data-cpt-tiny.yaml").read_text())
    cfg["sources"][0]["paths"] = [str(shared / "tatoeba" / "eng-swa" / f"tatoeba-test-v2021-08-07.{x}")
                                  for x in ("eng", "swa")]
    cfg["sources"][1]["path"] = str(shared / "flores200")
    cfg["pack"] = {"tokenizer": tokenizer, "block_size": block}
    path = tmp / f"data-{block}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp / f"data-{block}"
    proc = run_cli("data", "build", "--config", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return str(out)


@pytest.fixture(scope="module")
def small_data(shared, tmp_path_factory):
    return _data(shared, tmp_path_factory.mktemp("data"), 128)


def test_packed_rows_keep_attention_inside_documents():
    """Two documents in one row with restarting position ids score exactly as apart."""
    import torch

    from lingualift.inference.models import build_tiny

    model, _ = build_tiny()
    model.eval()
    a, b = torch.randint(3, 250, (1, 7)), torch.randint(3, 250, (1, 5))
    row = torch.cat([a, b], dim=1)
    positions = torch.cat([torch.arange(7), torch.arange(5)]).unsqueeze(0)
    with torch.no_grad():
        # no KV cache: with one, transformers does not read the position ids as packing
        packed = model(input_ids=row, position_ids=positions, use_cache=False).logits
        alone = model(input_ids=b).logits
        leaky = model(input_ids=row).logits
    assert torch.allclose(packed[0, 7:], alone[0], atol=1e-5)
    assert not torch.allclose(leaky[0, 7:], alone[0], atol=1e-3)


def test_sft_labels_cover_assistant_turns_only():
    from lingualift.inference.models import build_tiny_tokenizer
    from lingualift.train.sft import encode

    tok = build_tiny_tokenizer()
    record = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                           {"role": "assistant", "content": "Jambo"}, {"role": "user", "content": "Again"},
                           {"role": "assistant", "content": "Habari"}]}
    ids, labels = encode(tok, record, "chat", 1024)
    learned = tok.decode([t for t, label in zip(ids, labels) if label != -100])
    assert learned == "Jambo<|im_end|>\nHabari<|im_end|>\n"
    prompt = tok.decode([t for t, label in zip(ids, labels) if label == -100])
    assert "Be brief." in prompt and "Again" in prompt and "Jambo" not in prompt
    assert all(label in (-100, t) for t, label in zip(ids, labels))


def test_embedded_default_cpt_then_sft(shared, tmp_path):
    """The README's default: CPT on Tatoeba eng-swa + FLORES Swahili 0-799, then translation
    SFT; loss falls, and held-out Swahili (FLORES 800-996) per-char perplexity falls at least
    tenfold (measured: 345 -> 11)."""
    data = _data(shared, tmp_path, 256)
    started = time.time()
    proc = run_cli("train", "cpt", "--config", str(ROOT / "recipes" / "cpt-tiny.yaml"), "--data", data,
                   "--out", str(tmp_path / "cpt"), "--set", f"eval_data=flores:{shared / 'flores200'}")
    assert proc.returncode == 0, proc.stderr
    cpt = json.loads((tmp_path / "cpt" / "manifest.json").read_text())
    ppl = cpt["heldout_ppl_char"]["swh_Latn"]
    print(f"CPT loss {cpt['first_loss']:.3f} -> {cpt['final_loss']:.3f}; held-out Swahili per-char "
          f"perplexity {ppl['before']:.1f} -> {ppl['after']:.2f}")
    assert cpt["final_loss"] < 0.6 * cpt["first_loss"]
    assert ppl["after"] < ppl["before"] / 10
    assert (tmp_path / "cpt" / "loss.png").stat().st_size > 5000
    assert any((tmp_path / "cpt" / "tensorboard").iterdir())
    logged = [json.loads(line) for line in (tmp_path / "cpt" / "log.jsonl").read_text().splitlines()]
    assert all(h["packing_efficiency"] == 1.0 and h["tokens_per_s"] > 0 for h in logged if "loss" in h)

    sft_cfg = yaml.safe_load((ROOT / "recipes" / "sft-data-tiny.yaml").read_text())
    sft_cfg["sources"][0]["paths"] = cpt["config"] and [str(shared / "tatoeba" / "eng-swa" / f"tatoeba-test-v2021-08-07.{x}")
                                                         for x in ("eng", "swa")]
    sft_cfg["dictionary"] = f"wechsel:{shared / 'dicts' / 'wechsel-wiktionary'}"
    (tmp_path / "sft-data.yaml").write_text(yaml.safe_dump(sft_cfg))
    proc = run_cli("data", "sft", "--config", str(tmp_path / "sft-data.yaml"), "--out", str(tmp_path / "sft.jsonl"))
    assert proc.returncode == 0, proc.stderr
    # 20 of the recipe's 60 steps: each carries 8 x 512 tokens, four times a CPT step, and the
    # loss has fallen by then; the recipe's full run is what the README times.
    proc = run_cli("train", "sft", "--config", str(ROOT / "recipes" / "sft-tiny.yaml"), "--model",
                   str(tmp_path / "cpt" / "model"), "--data", str(tmp_path / "sft.jsonl"), "--out", str(tmp_path / "sft"),
                   "--max-steps", "20", "--set", "save_steps=10")
    assert proc.returncode == 0, proc.stderr
    sft = json.loads((tmp_path / "sft" / "manifest.json").read_text())
    print(f"SFT loss {sft['first_loss']:.3f} -> {sft['final_loss']:.3f}, packing efficiency "
          f"{sft['packing_efficiency']:.3f}; both stages {time.time() - started:.0f} s")
    assert sft["final_loss"] < sft["first_loss"]
    assert sft["packing_efficiency"] > 0.8
    from huggingface_hub import ModelCard

    card = ModelCard.load(tmp_path / "sft" / "model" / "README.md")  # results travel with the model
    assert card.data.language == ["sw"] and "sft" in card.data.tags and card.data.datasets == [str(tmp_path / "sft.jsonl")]


def _cpt_args(data, out, steps=24):
    return ["train", "cpt", "--model", "tiny", "--data", data, "--out", str(out), "--max-steps", str(steps),
            "--lr", "1e-3", "--set", "batch_size=4", "--set", "save_steps=8", "--set", "logging_steps=4",
            "--set", "report_to=[]"]


def test_resume_after_kill_matches_uninterrupted_run(small_data, tmp_path):
    straight = run_cli(*_cpt_args(small_data, tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    killed_out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "lingualift", *_cpt_args(small_data, killed_out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not (killed_out / "checkpoints" / "checkpoint-16").is_dir() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed_out / "model").exists()
    again = run_cli(*_cpt_args(small_data, killed_out))  # without --resume: refused
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = run_cli(*_cpt_args(small_data, killed_out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "straight" / "manifest.json").read_text())
    b = json.loads((killed_out / "manifest.json").read_text())
    assert a["steps"] == b["steps"] == 24
    assert b["final_loss"] == pytest.approx(a["final_loss"], rel=0.01)


def test_lora_on_expanded_vocab_and_export_merge(shared, tmp_path):
    """LoRA CPT on a vocabulary-expanded tiny (embeddings and LM head trained in full), then
    `export --merge` against the *original* base: it is resized first and the merged model
    computes exactly what the adapter did."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    corpus = tmp_path / "sw.txt"
    corpus.write_text((shared / "tatoeba" / "eng-swa" / "tatoeba-test-v2021-08-07.swa").read_text(encoding="utf-8"))
    expanded = tmp_path / "tiny-sw"
    proc = run_cli("vocab", "expand", "--model", "tiny", "--corpus", str(corpus), "--langs", "sw", "--add", "200",
                   "--out", str(expanded))
    assert proc.returncode == 0, proc.stderr
    data = _data(shared, tmp_path, 128, tokenizer=str(expanded))
    proc = run_cli("train", "cpt", "--model", str(expanded), "--data", data, "--out", str(tmp_path / "lora"),
                   "--max-steps", "6", "--lr", "1e-3", "--lora", "--set", "lora.r=4",
                   "--set", "lora.target_modules=[q_proj,v_proj]", "--set", "report_to=[]")
    assert proc.returncode == 0, proc.stderr
    adapter = tmp_path / "lora" / "model"
    meta = json.loads((adapter / "lingualift_adapter.json").read_text())
    assert meta["vocab_rows"] == 512 and meta["tokenizer_length"] == 459  # 259 + 200, padded to 8 x 64
    assert "embed_tokens" in meta["modules_to_save"]  # tied: the LM head is the same matrix
    proc = run_cli("export", "--adapter", str(adapter), "--merge", "--base", "tiny", "--out", str(tmp_path / "merged"))
    assert proc.returncode == 0, proc.stderr
    assert "base resized first" in proc.stdout
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(expanded), adapter).eval()
    ids = AutoTokenizer.from_pretrained(tmp_path / "merged")("Ninapenda kusoma vitabu.", return_tensors="pt").input_ids
    assert ids.max() >= 259  # the text uses new tokens
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, peft(ids).logits, atol=1e-4)
    assert merged.generation_config.suppress_tokens == list(range(459, 512))  # padding never generated

    # The merged folder is a plain HF model: eval translate and serve load it, and its
    # tokenizer loads with AutoTokenizer in a process that never imports lingualift.
    proc = run_cli("eval", "translate", "--model", str(tmp_path / "merged"), "--data", f"flores:{shared / 'flores200'}",
                   "--directions", "en-sw", "--limit", "2", "--max-new-tokens", "8", "--out", str(tmp_path / "eval"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["directions"][0]["n"] == 2
    from fastapi.testclient import TestClient

    from lingualift.inference.generate import load_generator
    from lingualift.serve.app import create_app
    from lingualift.serve.config import ServeSettings

    app = create_app(load_generator(str(tmp_path / "merged"), engine="hf"), ServeSettings(max_new_tokens=8),
                     model_name="merged", trained_langs=["swh_Latn"])
    with TestClient(app) as client:
        reply = client.post("/v1/translate", json={"texts": ["Good morning."], "source_lang": "en", "target_lang": "sw"})
    assert reply.status_code == 200, reply.text
    script = ("import json, sys; from transformers import AutoTokenizer; "
              "tok = AutoTokenizer.from_pretrained(sys.argv[1]); ids = tok(sys.argv[2]).input_ids; "
              "print(json.dumps([ids, tok.decode(ids, skip_special_tokens=True), "
              "any(m.startswith('lingualift') for m in sys.modules)]))")
    text = "Ninapenda kusoma vitabu."
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    clean = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path / "merged"), text], capture_output=True,
                           text=True, cwd=tmp_path, env=env)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == [ids[0].tolist(), text, False]


def test_dpo_prefers_references(shared, tmp_path):
    cfg = {"sources": [{"type": "pairs", "src_lang": "eng_Latn", "tgt_lang": "swh_Latn",
                        "paths": [str(shared / "tatoeba" / "eng-swa" / f"tatoeba-test-v2021-08-07.{x}")
                                  for x in ("eng", "swa")]}],
           "examples": 64}
    (tmp_path / "dpo.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_cli("data", "dpo", "--config", str(tmp_path / "dpo.yaml"), "--out", str(tmp_path / "dpo.jsonl"))
    assert proc.returncode == 0, proc.stderr
    first = json.loads((tmp_path / "dpo.jsonl").read_text().splitlines()[0])
    assert first["chosen"] != first["rejected"] and first["prompt"][0]["role"] == "user"
    proc = run_cli("train", "dpo", "--model", "tiny", "--data", str(tmp_path / "dpo.jsonl"), "--out", str(tmp_path / "out"),
                   "--max-steps", "12", "--lr", "1e-3", "--set", "batch_size=8", "--set", "logging_steps=4",
                   "--set", "report_to=[]")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    # a random 3M model only starts to separate the pairs: the loss falls below ln 2 and the
    # chosen answers gain reward over the rejected ones
    assert manifest["final_loss"] < manifest["first_loss"] < 0.7
    assert manifest["rewards"]["margins"]["last"] > 0.1


def test_two_process_cpu_ddp(small_data, tmp_path):
    """torchrun with two processes on CPU: gloo DDP, each rank a half of every batch."""
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "lingualift",
                           *_cpt_args(small_data, tmp_path / "ddp", steps=4)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((tmp_path / "ddp" / "manifest.json").read_text())
    assert manifest["steps"] == 4 and manifest["tokens_seen"] == 2 * 4 * 4 * 128  # ranks x steps x batch x block
    assert proc.stdout.count("cpt: 4 steps") == 1


def test_bad_inputs_fail_before_training(small_data, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    pq.write_table(pa.table({"text": ["a", "b"]}), wrong / "shard-00000.parquet")
    proc = run_cli("train", "cpt", "--model", "tiny", "--data", str(wrong), "--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and "lacks column(s) input_ids, position_ids" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

    chat = tmp_path / "chat.jsonl"
    chat.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
                    '{"messages": [{"role": "bot", "content": "hi"}]}\n')
    proc = run_cli("train", "sft", "--model", "tiny", "--data", str(chat), "--out", str(tmp_path / "b"))
    assert proc.returncode == 2 and f"{chat}:2: unknown role 'bot'" in proc.stderr

    proc = run_cli("train", "cpt", "--model", "tiny", "--data", small_data, "--out", str(tmp_path / "c"), "--lora",
                   "--set", "lora.target_modules=[q_proj,qkv_proj]")
    assert proc.returncode == 2 and "LoRA target module 'qkv_proj'" in proc.stderr
    assert not (tmp_path / "c" / "checkpoints").exists()


@pytest.mark.slow
def test_lora_cpt_on_smollm2(shared, tmp_path):
    """LoRA CPT of SmolLM2-135M on Swahili packed for its own tokenizer: the loss falls."""
    data = _data(shared, tmp_path, 256, tokenizer="smollm2-135m")
    proc = run_cli("train", "cpt", "--model", "smollm2-135m", "--data", data, "--out", str(tmp_path / "out"),
                   "--max-steps", "8", "--lr", "1e-3", "--lora", "--set", "batch_size=2", "--set", "logging_steps=2",
                   "--set", "report_to=[]")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    print(f"SmolLM2 LoRA CPT loss {manifest['first_loss']:.3f} -> {manifest['final_loss']:.3f}")
    assert manifest["final_loss"] < manifest["first_loss"]
    assert (tmp_path / "out" / "model" / "adapter_model.safetensors").is_file()


@pytest.fixture(scope="module")
def expanded_tiny(shared, tmp_path_factory):
    """tiny expanded by 200 Swahili tokens, tied (the preset) and untied, and shards packed
    for their tokenizer (the same for both: the same base tokenizer and corpus)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = tmp_path_factory.mktemp("expanded")
    corpus = tmp / "sw.txt"
    corpus.write_text((shared / "tatoeba" / "eng-swa" / "tatoeba-test-v2021-08-07.swa").read_text(encoding="utf-8"))
    untied_base = tmp / "tiny-untied"
    tiny = AutoModelForCausalLM.from_pretrained(_preset("tiny"))
    tiny.config.tie_word_embeddings = False
    type(tiny)(tiny.config).save_pretrained(untied_base)
    AutoTokenizer.from_pretrained(_preset("tiny")).save_pretrained(untied_base)
    out = {}
    for name, base in (("tied", "tiny"), ("untied", str(untied_base))):
        out[name] = tmp / f"tiny-sw-{name}"
        proc = run_cli("vocab", "expand", "--model", base, "--corpus", str(corpus), "--langs", "sw", "--add", "200",
                       "--out", str(out[name]))
        assert proc.returncode == 0, proc.stderr
    out["data"] = _data(shared, tmp, 128, tokenizer=str(out["tied"]))
    return out


def _preset(name):
    from lingualift.inference.models import preset_dir

    return preset_dir(name)


@pytest.mark.parametrize("kind, rows", [("tied", "new"), ("untied", "new"), ("tied", "all")])
def test_embedding_phase_trains_new_rows_only(expanded_tiny, tmp_path, kind, rows):
    """embedding_rows new: after the embeddings-first phase (weight decay 0.1 configured) the
    new input and output rows have moved, every old row and padding row is bit-identical, and
    the rest of the network too; `all` moves the old rows as well."""
    import torch
    from transformers import AutoModelForCausalLM

    expanded = expanded_tiny[kind]
    proc = run_cli("train", "cpt", "--model", str(expanded), "--data", expanded_tiny["data"], "--out",
                   str(tmp_path / "cpt"), "--max-steps", "1", "--embedding-steps", "4", "--embedding-lr", "1e-2",
                   "--embedding-rows", rows, "--set", "weight_decay=0.1", "--set", "batch_size=4",
                   "--set", "report_to=[]")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((expanded / "manifest.json").read_text())
    first, last = manifest["new_token_ids"]
    before = AutoModelForCausalLM.from_pretrained(expanded)
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "cpt" / "embeddings")
    pairs = [(before.get_input_embeddings().weight, after.get_input_embeddings().weight)]
    if kind == "untied":
        pairs.append((before.get_output_embeddings().weight, after.get_output_embeddings().weight))
        assert after.get_output_embeddings().weight.data_ptr() != after.get_input_embeddings().weight.data_ptr()
    for old, new in pairs:
        moved = (old - new).abs().amax(dim=1) > 0
        assert moved[first:last + 1].float().mean() > 0.5  # rows of tokens the shards use
        if rows == "new":
            assert not moved[:first].any() and not moved[last + 1:].any()
        else:
            assert moved[:first].any()
    rest = [(n, p) for n, p in before.named_parameters() if "embed_tokens" not in n and "lm_head" not in n]
    changed = dict(after.named_parameters())
    assert all(torch.equal(p, changed[n]) for n, p in rest)


def test_padding_rows_never_generated_and_new_tokens_decode(expanded_tiny):
    """Padding rows (beyond the tokenizer, up to a multiple of 64) are suppressed in
    generation even when their logits would win; new tokens are ordinary tokens that
    `skip_special_tokens` keeps."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = expanded_tiny["untied"]
    tok = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    rows = model.get_output_embeddings().weight.shape[0]
    assert rows % 64 == 0 and rows > len(tok)
    assert model.generation_config.suppress_tokens == list(range(len(tok), rows))
    ids = tok("Ninapenda kusoma vitabu.", return_tensors="pt").input_ids
    with torch.no_grad():  # padding rows along the last hidden state: the most likely next tokens by far
        hidden = model(ids, output_hidden_states=True).hidden_states[-1][0, -1]
        model.get_output_embeddings().weight[len(tok):] = 100 * hidden / hidden.norm()
        logits = model(ids).logits[0, -1]
    assert logits.argmax() >= len(tok)
    out = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out[0, ids.shape[1]:].max() < len(tok)

    manifest = json.loads((directory / "manifest.json").read_text())
    first, last = manifest["new_token_ids"]
    text = "Ninapenda kusoma vitabu."
    encoded = tok(text).input_ids
    assert any(first <= i <= last for i in encoded)
    assert tok.decode(encoded, skip_special_tokens=True) == text
    assert not set(range(first, last + 1)) & set(tok.all_special_ids)

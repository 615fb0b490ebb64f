"""Every tokenizer family `vocab expand` meets, built offline in the hub's layouts.

SentencePiece-BPE as tokenizer.json only: Meta's Llama-2 layout (Prepend + Replace), Mistral's
(Metaspace pre-tokenizer) and Gemma's (Replace normaliser + Split pre-tokenizer, no
tokenizer.model), all three built from the real Llama-2 model; byte-level BPE in Llama-3's
layout (regex Split + ByteLevel, ignore_merges) trained on FLORES. Each is detected from its
content, expanded for Swahili, and must round-trip all 204 FLORES languages (as the base
does), shorten Swahili and leave protected English as it was. Unigram and WordPiece are
refused in one line.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import run_cli
from lingualift.core.io import InputError, read_lines
from lingualift.vocab import bpe, select

HALF = 500
# Lines per language in the round-trip check: 204 x 997 lines take ~40 s per tokenizer on a
# busy 2-core machine, so the four families here check 204 x 200; the Gemma-3 test checks all.
ROUND_TRIP_LINES = 200
# Llama-3's pre-tokenizer pattern (its tokenizer.json), so the byte-level family is tested
# with the regex split real models use.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def round_trip_failures(old, new, flores, limit=None) -> dict[str, int]:
    """Per FLORES language, lines `new` does not decode back as the base `old` does
    (the text itself where the base round-trips it)."""
    failures = {}
    for path in sorted(flores.glob("*.dev")):
        lines = read_lines(path)[:limit]
        after = new.decode_batch([e.ids for e in new.encode_batch(lines, add_special_tokens=False)])
        bad = [i for i, (a, line) in enumerate(zip(after, lines)) if a != line]
        if bad:  # only these need the base: does it lose the same text?
            base = old.decode_batch([old.encode(lines[i], add_special_tokens=False).ids for i in bad])
            bad = [i for i, b in zip(bad, base) if after[i] != b]
        if bad:
            failures[path.stem] = len(bad)
    return failures


def _llama2(shared):
    return bpe.read_proto(shared / "tokenizers" / "llama2-tokenizer.model")


def _sentencepiece_json(shared, tmp, layout: str):
    """The Llama-2 model as a tokenizer.json in one of the hub's SentencePiece layouts."""
    from tokenizers import decoders, normalizers, pre_tokenizers

    tok = bpe.sp_to_hf(_llama2(shared))  # Meta's layout: Prepend("▁") + Replace(" ", "▁")
    if layout == "metaspace":  # Mistral, and transformers' non-legacy Llama conversion
        tok.normalizer = None
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    elif layout == "gemma":  # Gemma 2/3: no dummy prefix, a Split that only marks words
        tok.normalizer = normalizers.Replace(" ", "▁")
        tok.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    path = tmp / f"{layout}-tokenizer.json"
    tok.save(str(path))
    return path


def _byte_level_json(shared, tmp):
    """A Llama-3-layout byte-level BPE trained on the first FLORES lines of a few languages."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), "isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False,
                                                                                        use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    lines = [line for code in ("eng_Latn", "deu_Latn", "fra_Latn", "rus_Cyrl", "zho_Hans")
             for line in read_lines(shared / "flores200" / f"{code}.dev")[:HALF]]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=len(alphabet) + 3000, initial_alphabet=alphabet,
                                                       show_progress=False, special_tokens=["<|begin_of_text|>"]))
    path = tmp / "llama3-tokenizer.json"
    tok.save(str(path))
    return path


FAMILIES = ["llama2-json", "metaspace", "gemma", "llama3-byte-level"]


@pytest.fixture(scope="module")
def family_json(shared, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("families")
    paths = {}

    def get(name):
        if name not in paths:
            paths[name] = (_byte_level_json(shared, tmp) if name == "llama3-byte-level"
                           else _sentencepiece_json(shared, tmp, name.removesuffix("-json")))
        return paths[name]

    return get


def _swahili(shared) -> list[str]:
    return (read_lines(shared / "tatoeba" / "eng-swa" / "tatoeba-test-v2021-08-07.swa")
            + read_lines(shared / "flores200" / "swh_Latn.dev")[:HALF])


@pytest.mark.parametrize("name", FAMILIES)
def test_family_detected_expanded_round_trips_all_flores(name, family_json, shared, flores, tmp_path):
    from transformers import AutoTokenizer

    base, model_dir = bpe.load_base(str(family_json(name)))
    assert model_dir is None and base.source == "json"
    assert base.family == (bpe.BYTE_LEVEL if "byte" in name else bpe.SENTENCEPIECE)
    english = read_lines(flores / "eng_Latn.dev")
    protected = select.protected_joins(base, english)
    candidates = select.train_candidates(base, _swahili(shared), 1000, protected)
    expanded, chosen, _ = select.select(base, candidates, 1000)
    assert 500 < len(chosen) <= 1000
    assert all(t not in base.vocab for t in chosen) and bpe.unreachable(expanded, chosen) == []

    old, new = base.tokenizer, expanded.tokenizer
    held = read_lines(flores / "swh_Latn.dev")[HALF:]
    count = lambda tok, lines: sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))  # noqa: E731
    drop = 1 - count(new, held) / count(old, held)
    print(f"{name}: {len(chosen)} tokens, held-out Swahili tokens -{100 * drop:.1f}%")
    assert drop > 0.15
    before = [e.tokens for e in old.encode_batch(english, add_special_tokens=False)]
    assert [e.tokens for e in new.encode_batch(english, add_special_tokens=False)] == before

    assert round_trip_failures(old, new, flores, ROUND_TRIP_LINES) == {}

    # The written directory is what transformers loads: same tokens, new ones kept on decode.
    bpe.save(expanded, tmp_path / "tok")
    assert not (tmp_path / "tok" / "tokenizer.model").exists()
    tok = AutoTokenizer.from_pretrained(tmp_path / "tok")
    line = held[0]
    ids = tok(line, add_special_tokens=False).input_ids
    assert ids == new.encode(line, add_special_tokens=False).ids
    assert any(i >= len(base.vocab) for i in ids)
    assert tok.decode(ids, skip_special_tokens=True) == line
    assert not set(chosen) & set(tok.all_special_tokens)


def test_bare_tokenizer_json_through_the_cli(family_json, shared, tmp_path):
    corpus = tmp_path / "sw.txt"
    corpus.write_text("\n".join(_swahili(shared)) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("vocab", "expand", "--model", str(family_json("gemma")), "--corpus", str(corpus), "--langs",
                   "sw", "--add", "300", "--protect", f"flores:{shared / 'flores200'}",
                   "--heldout", f"flores:{shared / 'flores200'}", "--heldout-lines", f"{HALF}:", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["family"] == "sentencepiece" and manifest["added"] == 300
    assert manifest["effect"]["fertility"]["swh_Latn"]["change"] < -0.1
    data = json.loads((out / "tokenizer.json").read_text())
    assert data["normalizer"]["type"] == "Replace" and data["pre_tokenizer"]["type"] == "Split"  # layout kept
    # The folder stands alone: AutoTokenizer loads it in a process that never imports lingualift.
    line = read_lines(shared / "flores200" / "swh_Latn.dev")[HALF]
    script = ("import json, sys; from transformers import AutoTokenizer; tok = AutoTokenizer.from_pretrained(sys.argv[1]); "
              "ids = tok(sys.argv[2], add_special_tokens=False).input_ids; print(json.dumps([ids, tok.decode(ids), "
              "any(m.startswith('lingualift') for m in sys.modules)]))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    clean = subprocess.run([sys.executable, "-I", "-c", script, str(out), line], capture_output=True, text=True,
                           cwd=tmp_path, env=env)
    assert clean.returncode == 0, clean.stderr
    ids, text, imported = json.loads(clean.stdout)
    expanded, _ = bpe.load_base(str(out / "tokenizer.json"))
    assert ids == expanded.tokenizer.encode(line, add_special_tokens=False).ids and text == line and not imported
    assert max(ids) >= 32000  # new tokens in use


def test_directory_with_both_files_edits_tokenizer_json_and_model_alike(family_json, shared, tmp_path):
    """A Llama-2 directory holding tokenizer.json and tokenizer.model: the json is what
    transformers runs and is edited; the model gets the same pieces, so both still agree."""
    import sentencepiece

    directory = tmp_path / "llama2"
    directory.mkdir()
    (directory / "tokenizer.json").write_text(family_json("metaspace").read_text(encoding="utf-8"), encoding="utf-8")
    (directory / "tokenizer.model").write_bytes((shared / "tokenizers" / "llama2-tokenizer.model").read_bytes())
    (directory / "config.json").write_text("{}")
    base, _ = bpe.load_base(str(directory))
    assert base.source == "json" and base.proto is not None
    expanded, chosen, _ = select.select(base, select.train_candidates(base, _swahili(shared), 500, set()), 500)
    bpe.save(expanded, tmp_path / "out")
    sp = sentencepiece.SentencePieceProcessor(model_file=str(tmp_path / "out" / "tokenizer.model"))
    held = read_lines(shared / "flores200" / "swh_Latn.dev")[HALF:]
    assert [e.tokens for e in expanded.tokenizer.encode_batch(held, add_special_tokens=False)] == \
        sp.encode(held, out_type=str)


def _unigram_model(shared, tmp):
    import sentencepiece

    path = tmp / "unigram"
    sentencepiece.SentencePieceTrainer.train(
        input=str(shared / "flores200" / "eng_Latn.dev"), model_prefix=str(path), model_type="unigram",
        vocab_size=800, minloglevel=2, num_threads=2)
    return path.with_suffix(".model")


def _unigram_json(tmp):
    from tokenizers import Tokenizer, models

    path = tmp / "t5-tokenizer.json"
    Tokenizer(models.Unigram([("<unk>", 0.0), ("▁a", -1.0), ("a", -2.0)], unk_id=0)).save(str(path))
    return path


def _wordpiece_json(tmp):
    from tokenizers import Tokenizer, models

    path = tmp / "bert-tokenizer.json"
    Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]")).save(str(path))
    return path


@pytest.mark.parametrize("make, family", [
    (lambda shared, tmp: _unigram_model(shared, tmp), "Unigram (the T5 / mT5 / XLM-R family)"),
    (lambda shared, tmp: _unigram_json(tmp), "Unigram (the T5 / mT5 / XLM-R family)"),
    (lambda shared, tmp: _wordpiece_json(tmp), "WordPiece (the BERT family)"),
])
def test_unmergeable_families_refused_in_one_line(make, family, shared, tmp_path):
    path = make(shared, tmp_path)
    corpus = tmp_path / "sw.txt"
    corpus.write_text("Habari ya asubuhi\n", encoding="utf-8")
    proc = run_cli("vocab", "expand", "--model", str(path), "--corpus", str(corpus), "--langs", "sw",
                   "--add", "10", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert family in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "out").exists()


def test_bpe_without_a_space_convention_is_refused(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(InputError, match="neither byte-level"):
        bpe.load_base(str(tmp_path / "tokenizer.json"))

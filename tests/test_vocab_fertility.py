import json

import pytest

from conftest import run_cli
from lingualift.core.io import read_lines
from lingualift.vocab.fertility import analyze, load_segmenter


@pytest.fixture(scope="module")
def llama2(shared):
    return str(shared / "tokenizers" / "llama2-tokenizer.model")


def test_llama2_fertility_numbers(llama2, flores):
    result = analyze(llama2, f"flores:{flores}", ["swh_Latn", "tha_Thai", "deu_Latn"], limit=100)
    rows = result["languages"]
    assert rows["eng_Latn"]["parity"] == 1.0
    # Llama-2 spends more than a token per Thai character, some of them raw bytes: the
    # motivating case for vocabulary expansion (measured: 1.05 tok/char, 11% bytes, parity 4.3).
    assert rows["tha_Thai"]["tokens_per_char"] > 1.0 and rows["tha_Thai"]["byte_fallback_rate"] > 0.05
    assert rows["tha_Thai"]["parity"] > 3
    assert 1.2 < rows["swh_Latn"]["parity"] < rows["tha_Thai"]["parity"]
    assert rows["deu_Latn"]["byte_fallback_rate"] < 0.01
    seg = load_segmenter(llama2)
    assert seg.pieces("On Monday")[0] == "▁On"  # sentencepiece itself: the first ▁ is kept


def test_vocab_analyze_cli_side_by_side(llama2, flores, tmp_path):
    proc = run_cli("vocab", "analyze", "--tokenizer", llama2, "--data", f"flores:{flores}", "--langs", "sw,th",
                   "--vs", "tiny", "--limit", "30", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((tmp_path / "fertility.json").read_text())
    # tiny is byte-level: exactly one token per UTF-8 byte.
    lines = read_lines(flores / "tha_Thai.dev")[:30]
    per_char = sum(len(line.encode()) for line in lines) / sum(len(line) for line in lines)
    assert saved["vs"]["languages"]["tha_Thai"]["tokens_per_char"] == pytest.approx(per_char, abs=1e-4)
    assert (tmp_path / "fertility.csv").read_text().startswith("code,name,tokens_per_word")
    assert "parity" in (tmp_path / "fertility.html").read_text()

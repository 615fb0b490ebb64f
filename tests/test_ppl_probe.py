"""`eval ppl` (bits per byte / character, sliding windows) and `probe` (ranked needs)."""

import json
import math

import pytest

from conftest import run_cli
from lingualift.inference.perplexity import nll, windows
from lingualift.probe import suggestions


@pytest.mark.parametrize("window, stride", [(4, 2), (4, 4), (4, 3), (3, 1), (2, None), (20, 5), (9, 8)])
def test_windows_predict_every_token_once(window, stride):
    sequence = list(range(10))
    predicted = [t for ids, first in windows(sequence, window, stride) for t in ids[1:][first:]]
    assert predicted == sequence[1:]
    assert all(len(ids) <= window for ids, _ in windows(sequence, window, stride))


def test_sliding_window_scores_the_same_tokens():
    from lingualift.inference import models

    model, tokenizer = models.load("tiny")
    lines = ["Habari ya asubuhi, rafiki yangu. " * 12, "short line"]
    whole = nll(model, tokenizer, lines)
    slid = nll(model, tokenizer, lines, window=64, stride=32)
    assert whole["tokens"] == slid["tokens"] == sum(len(line.encode()) for line in lines)  # byte-level tiny
    assert whole == nll(model, tokenizer, lines, window=10_000)  # a window longer than the text changes nothing
    assert slid["nll"] == pytest.approx(whole["nll"], rel=0.05)  # less context, close but not equal
    assert slid["nll"] != whole["nll"]


def test_eval_ppl_per_language(flores, tmp_path):
    out = tmp_path / "ppl"
    proc = run_cli("eval", "ppl", "--model", "tiny", "--data", f"flores:{flores}", "--langs", "sw,th",
                   "--lines", "0:10", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "results.json").read_text())
    assert result["meta"]["lines"] == "0:10" and result["meta"]["window"] == 2048
    for code in ("swh_Latn", "tha_Thai"):
        row = result["languages"][code]
        assert row["lines"] == 10
        # one summed NLL, divided by bytes or by characters
        assert row["bits_per_byte"] * row["bytes"] == pytest.approx(row["bits_per_char"] * row["chars"], rel=1e-3)
        assert row["ppl_char"] == pytest.approx(math.exp(row["nll"] / row["chars"]), rel=1e-3)
    thai = result["languages"]["tha_Thai"]
    assert thai["bytes"] > 2.5 * thai["chars"] and thai["bits_per_char"] > thai["bits_per_byte"]
    assert "| tha_Thai |" in (out / "report.md").read_text()


def test_suggestions_follow_thresholds():
    good = {"parity": 1.2, "bits_per_char": 1.0, "chrf_en_x": 45.0, "off_target_en_x": 0.0}
    assert suggestions(good, english_bpc=1.0) == ["no urgent gap"]
    bad = {"parity": 3.1, "bits_per_char": 2.0, "chrf_en_x": 5.0, "off_target_en_x": 60.0}
    said = suggestions(bad, english_bpc=1.0)
    assert len(said) == 3 and said[0].startswith("expand the vocabulary (parity 3.1x")
    assert "continual pretraining" in said[1] and "translation SFT" in said[2]


def test_probe_report(flores, tmp_path):
    out = tmp_path / "probe"
    proc = run_cli("probe", "--model", "tiny", "--langs", "sw,th", "--data", f"flores:{flores}", "--lines", "0:6",
                   "--sentences", "2", "--max-new-tokens", "8", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "probe.json").read_text())
    rows = result["languages"]
    assert set(rows) == {"swh_Latn", "tha_Thai"}
    needs = [r["need"] for r in rows.values()]
    assert needs == sorted(needs, reverse=True)  # ranked by need
    assert rows["tha_Thai"]["parity"] > rows["swh_Latn"]["parity"] > 1  # byte-level tiny: Thai costs 3 bytes a char
    assert all(r["suggestions"] for r in rows.values())
    page = (out / "probe.html").read_text()
    assert "data:image/png;base64," in page and "addEventListener(\"click\"" in page
    assert (out / "probe.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "probe.csv").read_text().splitlines()) == 3
    assert result["meta"]["chrf_signature"].startswith("nrefs:1")

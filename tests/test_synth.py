"""`data synth`: back-translated pairs, each filter on planted outputs, resume after a kill, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import ROOT, run_cli
from lingualift.core.io import read_lines
from lingualift.data.synth import SynthFilters, reason


def test_each_filter_removes_what_is_planted_for_it(flores):
    text = read_lines(flores / "swh_Latn.dev")[0]
    english = read_lines(flores / "eng_Latn.dev")[0]
    f = SynthFilters()
    assert reason(text, english, "eng_Latn", f) is None
    assert reason(text, "  ", "eng_Latn", f) == "empty"
    assert reason(text, text.upper(), "eng_Latn", f) == "copy"
    assert reason(text, "the dog " * 20, "eng_Latn", f) == "repetition"
    assert reason(text, "Yes.", "eng_Latn", f) == "length_ratio"
    french = read_lines(flores / "fra_Latn.dev")[0]
    assert reason(text, french, "eng_Latn", f) == "language"
    assert reason(text, french, "eng_Latn", SynthFilters(language=False)) is None


def _config(tmp_path, flores, **extra) -> str:
    corpus = tmp_path / "sw.txt"
    corpus.write_text("\n".join(read_lines(flores / "swh_Latn.dev")[:10]) + "\n", encoding="utf-8")
    cfg = {"sources": [{"type": "text", "path": str(corpus), "lang": "sw"}], "lang": "sw", "into": "en",
           "template": "llamax-alpaca", "max_new_tokens": 8, "chunk": 3, "batch_size": 4,
           "filters": {"language": False, "max_length_ratio": 50.0, "repetition": False}, **extra}
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_back_translation_end_to_end_with_counts_and_resume(flores, tmp_path):
    config = _config(tmp_path, flores, tag="<bt>")
    out = tmp_path / "bt.jsonl"
    proc = run_cli("data", "synth", "--config", config, "--model", "tiny", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "bt.jsonl.manifest.json").read_text())
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert manifest["texts"] == 10 and manifest["pairs"] == len(records)
    assert manifest["pairs"] + sum(manifest["removed"].values()) == 10
    for r in records:
        assert r["src_lang"] == "eng_Latn" and r["tgt_lang"] == "swh_Latn" and r["src"].startswith("<bt> ")
        assert r["meta"]["synthetic"]["direction"] == "back" and r["meta"]["synthetic"]["model"] == "tiny"
    assert {r["tgt"] for r in records} <= set(read_lines(flores / "swh_Latn.dev")[:10])  # the human side stays

    # kill -9 once the first chunk is done, then re-run: the same bytes as the uninterrupted run
    again = tmp_path / "again.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "lingualift", "data", "synth", "--config", config, "--model", "tiny",
                             "--out", str(again)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=os.environ.copy())
    deadline = time.time() + 120
    while not (tmp_path / "again.jsonl.parts" / "part-00000.json").is_file() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not again.exists()
    resumed = run_cli("data", "synth", "--config", config, "--model", "tiny", "--out", str(again))
    assert resumed.returncode == 0, resumed.stderr
    assert again.read_bytes() == out.read_bytes()

    changed = run_cli("data", "synth", "--config", config, "--model", "tiny", "--out", str(again), "--round", "1")
    assert changed.returncode == 0 and "starting over" in changed.stdout


@pytest.mark.parametrize("change, needle", [
    ({"lang": "klingon"}, "unknown language 'klingon'"),
    ({"sources": []}, "no swh_Latn text in the sources"),
])
def test_bad_input_is_one_line_and_writes_nothing(flores, tmp_path, change, needle):
    config = _config(tmp_path, flores, **change)
    out = tmp_path / "o.jsonl"
    proc = run_cli("data", "synth", "--config", config, "--model", "tiny", "--out", str(out))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and needle in proc.stderr, proc.stderr
    assert not out.exists() and not (tmp_path / "o.jsonl.parts").exists()


def test_synthetic_pairs_keep_their_direction_in_sft_dpo_and_grpo_data():
    """Both directions are drawn from human pairs; a back-translated pair only as English -> target,
    so no builder teaches the model to write the machine-made side."""
    from lingualift.data.parallel import by_direction

    human = {"src": "a cat", "tgt": "paka", "src_lang": "eng_Latn", "tgt_lang": "swh_Latn"}
    synthetic = {"src": "dog", "tgt": "mbwa", "src_lang": "eng_Latn", "tgt_lang": "swh_Latn",
                 "meta": {"synthetic": {"direction": "back", "round": 1}}}
    grouped = by_direction([human, synthetic], both=True)
    assert grouped[("eng_Latn", "swh_Latn")] == [("a cat", "paka"), ("dog", "mbwa")]
    assert grouped[("swh_Latn", "eng_Latn")] == [("paka", "a cat")]

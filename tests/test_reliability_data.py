"""`data build` and `data sft` under faults and odd input (issue 14): a failed rebuild keeps
the last good build, changed sources are not resumed, full disks, wrong field types,
cleaning that keeps words apart, empty sources and ambiguous codes said."""

import errno
import json

import pytest
import yaml

from conftest import run_cli
from lingualift.core.io import InputError, read_lines
from lingualift.data import clean
from lingualift.data.build import build
from lingualift.data.config import DataConfig, PackConfig, Source


def _config(path, **kw):
    return DataConfig(sources=[Source(type="text", path=str(path), lang="sw", **kw)],
                      pack=PackConfig(tokenizer="tiny", block_size=128, docs_per_shard=40))


@pytest.fixture()
def swahili(flores, tmp_path):
    lines = read_lines(flores / "swh_Latn.dev")[:200]
    path = tmp_path / "sw.txt"
    path.write_text("\n".join(lines[:50]) + "\n", encoding="utf-8")
    return path, lines


def _snapshot(out):
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_failed_rebuild_keeps_the_previous_good_shards_and_manifest(swahili, tmp_path):
    path, _ = swahili
    out = tmp_path / "out"
    build(_config(path), out)
    before = _snapshot(out)
    assert "manifest.json" in before and any(n.startswith("shard-") for n in before)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Habari ya asubuhi rafiki yangu.\n\xff broken\n")
    with pytest.raises(InputError, match="bad.txt:2: invalid UTF-8"):
        build(_config(bad), out)
    assert _snapshot(out) == before
    again = build(_config(path), out)  # and the good config builds again, to the same shards
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in json.loads(before["manifest.json"])["shards"]]


def test_full_disk_while_packing_keeps_the_previous_build_and_no_temp_files(swahili, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    path, lines = swahili
    out = tmp_path / "out"
    build(_config(path), out)
    before = _snapshot(out)
    path.write_text("\n".join(lines[:120]) + "\n", encoding="utf-8")

    def full(table, where, **kw):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    with pytest.raises(InputError) as err:
        build(_config(path), out)
    assert "\n" not in str(err.value) and str(err.value).endswith("no space left on device (nothing complete "
                                                                  "was left behind)")
    assert _snapshot(out) == before and not list(out.rglob("*.tmp"))
    assert not list((out / ".work" / "staged").glob("*.parquet"))
    fresh = tmp_path / "fresh"  # a fresh folder is removed whole
    with pytest.raises(InputError):
        build(_config(path), fresh)
    assert not fresh.exists()


def test_source_grown_between_runs_is_read_again(swahili, tmp_path):
    """The issue's case: a source grown from 50 to 200 lines re-ran as "read 50"."""
    path, lines = swahili
    out = tmp_path / "out"
    assert build(_config(path), out)["sources"][0]["read"] == 50
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = build(_config(path), out)
    assert manifest["sources"][0]["read"] == 200
    assert json.loads((out / "manifest.json").read_text())["sources"][0]["read"] == 200
    assert sum(s["rows"] for s in manifest["shards"]) > 0


def test_output_folder_that_is_a_file_is_refused_before_reading(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(InputError, match="out: is a file"):
        build(_config(tmp_path / "missing.txt"), tmp_path / "out")


@pytest.mark.parametrize("record, needle", [
    ({"text": "Habari", "lang": 5}, "a string lang"),
    ({"text": 5, "lang": "sw"}, "a string 'text'"),
    ({"src": "Hello", "tgt": "Habari", "src_lang": "en", "tgt_lang": ["sw"]}, "parallel record"),
])
def test_fields_of_the_wrong_type_are_one_line(record, needle, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"text": "Habari ya asubuhi", "lang": "sw"}) + "\n" + json.dumps(record) + "\n")
    cfg = DataConfig(sources=[Source(type="jsonl", path=str(path))], pack=PackConfig(tokenizer="tiny", block_size=64))
    with pytest.raises(InputError, match=f"c.jsonl:2: expected .*{needle}"):
        build(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("raw, clean_text", [
    ("neno\rjingine", "neno jingine"), ("neno\x00jingine", "neno jingine"), ("neno\x0bjingine", "neno jingine"),
    ("neno\x0cjingine", "neno jingine"), ("neno\x85jingine", "neno jingine"),
    ("\ufeffneno \u202ejingine\u202c", "neno jingine"), ("\u2067neno\u2069", "neno"),
    ("Cafe\u0301", "Café"), ("خواهم\u200cرفت", "خواهم\u200cرفت"),
])
def test_cleaning_makes_control_characters_spaces_and_drops_format_ones(raw, clean_text):
    assert clean.normalise(raw) == clean_text


def test_empty_source_and_ambiguous_code_are_said(swahili, tmp_path):
    path, _ = swahili
    (tmp_path / "empty.txt").write_text("")
    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump({
        "sources": [{"type": "text", "path": str(path), "lang": "sw"},
                    {"type": "text", "path": str(tmp_path / "empty.txt"), "lang": "zh", "name": "empty-zh"}],
        "pack": {"tokenizer": "tiny", "block_size": 128}}))
    proc = run_cli("data", "build", "--config", str(config), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["notes"] == ["zh -> zho_Hans (also zho_Hant, yue_Hant)"]
    assert manifest["warnings"] == ["source empty-zh is empty: nothing was read from it"]
    assert "note: zh -> zho_Hans (also zho_Hant, yue_Hant)" in proc.stderr
    assert "warning: source empty-zh is empty: nothing was read from it" in proc.stderr


def test_data_sft_cleans_alpaca_records(tmp_path):
    from lingualift.data.instructions import InstructionConfig
    from lingualift.data.instructions import build as build_sft

    alpaca = tmp_path / "alpaca.json"
    alpaca.write_bytes(b"\xef\xbb\xbf" + json.dumps([
        {"instruction": "\ufeffSay \u202ehello\u202c\x00now", "input": "", "output": "Cafe\u0301\rbar\n\tcode"},
    ]).encode())
    out = tmp_path / "sft.jsonl"
    build_sft(InstructionConfig(alpaca=[str(alpaca)], tasks={}), out)
    record = json.loads(out.read_text().splitlines()[0])
    assert record["instruction"] == "Say hello now" and record["output"] == "Café bar\n\tcode"
    assert [m["content"] for m in record["messages"]] == ["Say hello now", "Café bar\n\tcode"]


@pytest.mark.parametrize("record, needle", [
    ({"instruction": 5, "output": "x"}, "instruction must be a string"),
    ({"conversations": "hello"}, "conversations must be a list of turns"),
    ({"conversations": [{"from": ["human"], "value": "hi"}]}, "unknown role"),
])
def test_data_sft_alpaca_fields_of_the_wrong_type_are_one_line(record, needle, tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"alpaca": [str(tmp_path / "a.jsonl")], "tasks": {}}))
    proc = run_cli("data", "sft", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and f"a.jsonl:1: {needle}" in proc.stderr, \
        proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


KILLING = """
import os, sys, lingualift.data.build as b, lingualift.data.steps as s
from lingualift.data.config import DataConfig
real = s.pack_shard
def dying(bucket, *a):
    if bucket == 1:
        os.kill(os.getpid(), 9)
    return real(bucket, *a)
s.pack_shard = dying
b.build(DataConfig.model_validate_json(sys.argv[1]), sys.argv[2])
"""


def test_kill_9_mid_build_then_a_changed_source_is_built_afresh(swahili, tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    path, lines = swahili
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", KILLING, _config(path).model_dump_json(), str(out)], cwd=ROOT,
                          capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    assert not (out / "manifest.json").exists() and (out / ".work" / "staged" / "shard-00000.parquet").is_file()
    path.write_text("\n".join(lines[:120]) + "\n", encoding="utf-8")  # the source changes before the re-run
    resumed = build(_config(path), out)
    fresh = build(_config(path), tmp_path / "fresh")
    assert resumed["sources"][0]["read"] == 120
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in fresh["shards"]]
    assert sorted(p.name for p in out.glob("shard-*")) == [s["file"] for s in fresh["shards"]]


def test_ambiguous_codes_are_noted_however_the_config_is_made():
    noted = ["zh -> zho_Hans (also zho_Hant, yue_Hant)"]
    source = Source(type="text", path="x.txt", lang="zh")
    assert DataConfig(sources=[source]).notes() == noted  # built from instances, as the library is used
    assert DataConfig(sources=[source]).model_copy(update={"workers": 2}).notes() == noted
    cfg = DataConfig.model_validate({"sources": [{"type": "tsv", "path": "y", "src_lang": "en", "tgt_lang": "zh"},
                                                 {"type": "text", "path": "z", "lang": "sw"}]})
    assert cfg.notes() == noted and cfg.sources[0].tgt_lang == "zho_Hans"

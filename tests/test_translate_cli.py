"""`lingualift translate`: line count kept whatever the input, streaming, resume."""

import json

from conftest import run_cli
from lingualift.core.io import read_lines
from lingualift.translate import files
from lingualift.translate.config import FileTranslateSettings

ARGS = ["--model", "tiny", "--src-lang", "en", "--tgt-lang", "sw", "--max-new-tokens", "8"]


def _input(flores, tmp_path):
    """Blank lines, a very long line and five scripts, as users' files have them."""
    lines = [read_lines(flores / f"{code}.dev")[3] for code in ("eng_Latn", "tha_Thai", "zho_Hans", "amh_Ethi", "arb_Arab")]
    long = " ".join(read_lines(flores / "eng_Latn.dev")[:40])  # ~5,000 characters
    text = ["", lines[0], "", "", lines[1], long, lines[2] + " " + lines[3], "   ", lines[4], ""]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path, text


def test_line_count_kept_with_blank_long_and_mixed_lines(flores, tmp_path):
    path, text = _input(flores, tmp_path)
    proc = run_cli("translate", *ARGS, str(path), "--out", str(tmp_path / "out.txt"))
    assert proc.returncode == 0, proc.stderr
    out = (tmp_path / "out.txt").read_text(encoding="utf-8").split("\n")
    assert out[-1] == "" and len(out) - 1 == len(text)
    assert [i for i, line in enumerate(out[:-1]) if line == ""] == [i for i, line in enumerate(text) if not line.strip()]
    assert not (tmp_path / "out.txt.partial").exists()


def test_stdin_streams_to_stdout(tmp_path):
    proc = run_cli("translate", *ARGS, "-", input="Good morning.\n\nHow are you?\n")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.split("\n")) == 4 and proc.stdout.split("\n")[1] == ""


def test_resume_skips_lines_already_written(flores, tmp_path):
    path, text = _input(flores, tmp_path)
    out = tmp_path / "out.txt"
    # what a killed run leaves: two finished lines and one cut mid-line
    (tmp_path / "out.txt.partial").write_text("FIRST\nSECOND\nthird, cut", encoding="utf-8")
    settings = FileTranslateSettings(src_lang="en", tgt_lang="sw", max_new_tokens=8)
    files.sidecar(out).write_text(json.dumps({"fingerprint": files.fingerprint(settings, "tiny", str(path))}))
    proc = run_cli("translate", *ARGS, str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8").split("\n")[:-1]
    assert lines[:2] == ["FIRST", "SECOND"] and "cut" not in lines[2] and len(lines) == len(text)


def test_jsonl_field_and_tsv_column(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": 1, "text": "Hello"}\n\n{"id": 2, "text": "Bye"}\n')
    proc = run_cli("translate", *ARGS, str(tmp_path / "in.jsonl"))
    rows = proc.stdout.split("\n")
    assert proc.returncode == 0 and json.loads(rows[0])["id"] == 1 and "translation" in json.loads(rows[0])
    assert rows[1] == "" and json.loads(rows[2])["id"] == 2
    (tmp_path / "in.tsv").write_text("a\tHello\nb\tBye\n")
    proc = run_cli("translate", *ARGS, str(tmp_path / "in.tsv"), "--column", "3")
    assert proc.returncode == 2 and "in.tsv:1: expected at least 3 tab-separated columns" in proc.stderr

"""`translate` under faults (issue 14): stale partials, kill -9, full disk, bad paths, bad stdin."""

import errno
import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli
from lingualift.core.io import InputError
from lingualift.translate import files
from lingualift.translate.config import FileTranslateSettings

ARGS = ["--model", "tiny", "--src-lang", "en", "--tgt-lang", "sw", "--max-new-tokens", "4"]
SETTINGS = FileTranslateSettings(src_lang="en", tgt_lang="sw", max_new_tokens=4)


def _no_model(monkeypatch):
    """Checks must come before the model loads: loading it fails the test."""
    import lingualift.inference.generate as generate

    monkeypatch.setattr(generate, "load_generator", lambda *a, **k: pytest.fail("the model was loaded"))


def _input(tmp_path, n=3):
    path = tmp_path / "in.txt"
    path.write_text("".join(f"Good morning number {i}.\n" for i in range(n)), encoding="utf-8")
    return path


def test_stale_partial_without_a_record_is_refused_in_one_line(tmp_path):
    """The issue's case: a 500-line partial of another run and a 3-line input gave 500 lines."""
    path, out = _input(tmp_path), tmp_path / "out.txt"
    (tmp_path / "out.txt.partial").write_text("stale\n" * 500, encoding="utf-8")
    proc = run_cli("translate", *ARGS, str(path), "--out", str(out))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "out.txt.partial: has no record of the run that made it; not resuming" in proc.stderr
    assert not out.exists() and (tmp_path / "out.txt.partial").read_text().count("\n") == 500


@pytest.mark.parametrize("change", ["tgt_lang", "model", "input"])
def test_partial_of_another_run_is_refused_before_the_model_loads(change, tmp_path, monkeypatch):
    path, out = _input(tmp_path), tmp_path / "out.txt"
    (tmp_path / "out.txt.partial").write_text("done\n", encoding="utf-8")
    files.sidecar(out).write_text(json.dumps({"fingerprint": files.fingerprint(SETTINGS, "tiny", str(path))}))
    settings, model = SETTINGS, "tiny"
    if change == "tgt_lang":
        settings = SETTINGS.model_copy(update={"tgt_lang": "fr"})
    elif change == "model":
        model = "smollm2-135m"
    else:
        path.write_text("Another text.\n" * 5, encoding="utf-8")
    _no_model(monkeypatch)
    with pytest.raises(InputError, match="made by another run"):
        files.run(settings, model=model, path=str(path), out=str(out))


def test_partial_cannot_be_resumed_from_stdin(tmp_path):
    (tmp_path / "out.txt.partial").write_text("done\n", encoding="utf-8")
    proc = run_cli("translate", *ARGS, "-", "--out", str(tmp_path / "out.txt"), input="Hello\n")
    assert proc.returncode == 2 and "cannot be resumed from stdin" in proc.stderr, proc.stderr


def test_stdin_with_invalid_utf8_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lingualift", "translate", *ARGS, "-"], cwd=ROOT,
                          input=b"Hello\nbad \xff\xfe here\n", capture_output=True)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.strip().splitlines()[-1] == "error: <stdin>:2: invalid UTF-8 at byte 4 " \
        "of the line", err
    assert "Traceback" not in err


@pytest.mark.parametrize("case", ["parent_is_file", "out_is_folder"])
def test_unwritable_out_is_refused_before_the_model_loads(case, tmp_path, monkeypatch):
    path = _input(tmp_path)
    if case == "parent_is_file":
        (tmp_path / "notadir").write_text("x")
        out, needle = tmp_path / "notadir" / "out.txt", "notadir: is a file, not a folder"
    else:
        (tmp_path / "out.txt").mkdir()
        out, needle = tmp_path / "out.txt", "out.txt: is a folder (expected a file to write)"
    _no_model(monkeypatch)
    with pytest.raises(InputError, match=re.escape(needle)):
        files.run(SETTINGS, model="tiny", path=str(path), out=str(out))


def test_full_disk_ends_in_one_line_and_leaves_no_complete_looking_output(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "CHUNK", 4)
    path, out = _input(tmp_path, 6), tmp_path / "out.txt"
    real = files.translate_stream

    def filling(lines, translate, sink, skip=0, progress=None):
        class Full:  # the disk fills after the first chunk
            written = 0

            def write(self, text):
                if Full.written >= 4:
                    raise OSError(errno.ENOSPC, "No space left on device")
                Full.written += 1
                return sink.write(text)

            def flush(self):
                sink.flush()
        return real(lines, translate, Full(), skip, progress)

    monkeypatch.setattr(files, "translate_stream", filling)
    with pytest.raises(InputError) as err:
        files.run(SETTINGS, model="tiny", path=str(path), out=str(out))
    assert str(err.value) == f"{tmp_path}/out.txt.partial: cannot write: no space left on device (nothing " \
        "complete was left behind)"
    assert not out.exists() and (tmp_path / "out.txt.partial").read_text().count("\n") == 4
    monkeypatch.setattr(files, "translate_stream", real)  # space again: the same command resumes
    assert files.run(SETTINGS, model="tiny", path=str(path), out=str(out)) == 2
    assert out.read_text().count("\n") == 6 and not files.sidecar(out).exists()


KILLING = """
import os, sys
from lingualift.translate import files
from lingualift.translate.config import FileTranslateSettings
files.CHUNK = 4
real, chunks = files.translate_stream, []
def dying(lines, translate, sink, skip=0, progress=None):
    def counting(n):
        chunks.append(n)
        if len(chunks) == 2:  # kill -9 after the second chunk is on disk
            os.kill(os.getpid(), 9)
    return real(lines, translate, sink, skip, counting)
files.translate_stream = dying
files.run(FileTranslateSettings(src_lang="en", tgt_lang="sw", max_new_tokens=4), model="tiny",
          path=sys.argv[1], out=sys.argv[2])
"""


def test_kill_9_then_rerun_equals_an_uninterrupted_run_and_a_changed_input_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "CHUNK", 4)
    path = _input(tmp_path, 10)  # three chunks of 4
    files.run(SETTINGS, model="tiny", path=str(path), out=str(tmp_path / "fresh.txt"))
    out = tmp_path / "out.txt"
    proc = subprocess.run([sys.executable, "-c", KILLING, str(path), str(out)], cwd=ROOT, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    partial = tmp_path / "out.txt.partial"
    assert not out.exists() and partial.read_text().count("\n") == 8
    for name in ("out.txt.partial", "out.txt.partial.json"):  # the same killed state, kept for later
        shutil.copy(tmp_path / name, tmp_path / name.replace("out", "again"))
    assert files.run(SETTINGS, model="tiny", path=str(path), out=str(out)) == 2
    assert out.read_bytes() == (tmp_path / "fresh.txt").read_bytes()
    with path.open("a") as handle:  # the input changes before the other killed run is re-run
        handle.write("One more line.\n")
    with pytest.raises(InputError, match="made by another run"):
        files.run(SETTINGS, model="tiny", path=str(path), out=str(tmp_path / "again.txt"))
    assert (tmp_path / "again.txt.partial").read_text().count("\n") == 8

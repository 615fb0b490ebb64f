"""Output paths checked before any work (issue 14): one line, exit 2, before a model loads."""

import errno
import os
import tempfile

import pytest

from conftest import run_cli
from lingualift.core.io import InputError, atomic_path, check_output


@pytest.fixture()
def blocked(tmp_path):
    """A file where a folder should be: every path under it is unwritable."""
    (tmp_path / "afile").write_text("x")
    return tmp_path / "afile"


def test_check_output_cases(tmp_path, blocked, monkeypatch):
    with pytest.raises(InputError, match="afile: is a file, not a folder"):
        check_output(blocked / "deeper" / "out.txt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match=r"folder: is a folder \(expected a file"):
        check_output(tmp_path / "folder", "file")
    with pytest.raises(InputError, match=r"afile: is a file \(expected a folder"):
        check_output(blocked, "folder")
    assert check_output(tmp_path / "new" / "deeper", "folder") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # it creates nothing

    def refused(*a, **k):  # a read-only mount or a folder that is not ours
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(InputError, match=r"cannot write here \(Read-only file system\)"):
        check_output(tmp_path / "out.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_check_output_no_permission(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(InputError, match="cannot write here"):
        check_output(tmp_path / "ro" / "out.txt")


def test_atomic_write_on_a_full_disk_leaves_no_temp_file(tmp_path):
    with pytest.raises(InputError) as err:
        with atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(err.value).endswith("out.json: cannot write: no space left on device (nothing complete was left "
                                   "behind)")
    assert list(tmp_path.iterdir()) == []


COMMANDS = {
    "translate": ["translate", "--model", "tiny", "--src-lang", "en", "--tgt-lang", "sw", "IN", "--out", "OUT"],
    "eval translate": ["eval", "translate", "--model", "tiny", "--data", "flores:/nonexistent", "--directions",
                       "en-sw", "--out", "OUT"],
    "data build": ["data", "build", "--config", "recipes/data-cpt-tiny.yaml", "--out", "OUT"],
    "data sft": ["data", "sft", "--config", "recipes/sft-data-tiny.yaml", "--out", "OUT"],
    "data dpo": ["data", "dpo", "--config", "recipes/dpo-data-tiny.yaml", "--out", "OUT"],
    "vocab analyze": ["vocab", "analyze", "--tokenizer", "tiny", "--data", "flores:/nonexistent", "--langs", "sw",
                      "--out", "OUT"],
    "vocab expand": ["vocab", "expand", "--model", "tiny", "--corpus", "IN", "--langs", "sw", "--add", "10", "--out",
                     "OUT"],
    "train sft": ["train", "sft", "--model", "tiny", "--data", "IN", "--out", "OUT"],
    "eval tasks": ["eval", "tasks", "--model", "tiny", "--tasks", "xcopa", "--out", "OUT"],
    "eval ppl": ["eval", "ppl", "--model", "tiny", "--data", "flores:/nonexistent", "--langs", "sw", "--out", "OUT"],
    "probe": ["probe", "--model", "tiny", "--langs", "sw", "--out", "OUT"],
    "export": ["export", "--adapter", "IN", "--out", "OUT"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_writing_command_refuses_an_unwritable_output_first(command, tmp_path, blocked):
    (tmp_path / "in.txt").write_text("Hello\n")
    args = [str(tmp_path / "in.txt") if a == "IN" else str(blocked / "out") if a == "OUT" else a
            for a in COMMANDS[command]]
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "afile: is a file, not a folder" in proc.stderr, proc.stderr


def test_a_write_failure_anywhere_else_is_still_one_line(monkeypatch, capsys):
    """A writer that does not go through atomic_path (a library's own save) on a full disk."""
    from lingualift.cli import main as cli

    def full():
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/model.safetensors")

    monkeypatch.setattr(cli, "app", full)
    with pytest.raises(SystemExit) as code:
        cli.main()
    assert code.value.code == 2
    assert capsys.readouterr().err == "error: /runs/x/model.safetensors: cannot write: no space left on device\n"

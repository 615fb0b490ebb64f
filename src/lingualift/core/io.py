"""Readers that fail with file:line, and writers that never leave half a file behind.

Every user-facing input goes through here so that bad input always ends the same way: one
line naming the file, the line and what was expected (DESIGN.md, "Errors").
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import itertools
import json
import lzma
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")


class InputError(Exception):
    """A user error in input: printed as one line, exit status 2, no traceback."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


def open_binary(path: str | os.PathLike) -> BinaryIO:
    """A file opened for binary reading, decompressed by suffix (.gz, .zst, .xz)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", p)
    if p.suffix == ".gz":
        return gzip.open(p, "rb")
    if p.suffix == ".xz":
        return lzma.open(p, "rb")
    if p.suffix == ".zst":
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(p.open("rb"), closefd=True))
    return p.open("rb")


BOM = "\ufeff"


def decode_line(raw: bytes, first: bool = False) -> tuple[str | None, str | None]:
    """The one decoding rule for text input: UTF-8; a byte-order mark at the start of a file
    is dropped; the line ending (LF or CRLF) is removed. Returns (text, None) or (None, what
    is wrong)."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        return None, f"invalid UTF-8 at byte {err.start} of the line"
    return (text[1:] if first and text.startswith(BOM) else text), None


def iter_lines(path: str | os.PathLike, window: tuple[int, int | None] = (0, None)
               ) -> Iterator[tuple[int, str | None, str | None]]:
    """Stream (line number, text, error) without the newline; a line that is not UTF-8
    comes back as (number, None, what is wrong) so callers can stop or skip and count.

    `window` (START, STOP): only those 0-based lines, the ones before START skipped without
    decoding, so a task that reads one piece of a large file pays little for the rest."""
    start, stop = window
    with open_binary(path) as handle:
        lines = itertools.islice(handle, start, stop)
        for number, raw in enumerate(lines, start=start + 1):
            text, error = decode_line(raw, number == 1)
            yield number, text, error


def count_lines(path: str | os.PathLike) -> int:
    """The number of lines `iter_lines` yields, counted in 1 MiB blocks without decoding."""
    count, last = 0, b"\n"
    with open_binary(path) as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """A whole (possibly compressed) UTF-8 file, decoded by the rule of `decode_line`."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found", p)
    with open_binary(p) as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        start = data.rfind(b"\n", 0, err.start) + 1  # counted within the line, as decode_line does
        raise InputError(f"invalid UTF-8 at byte {err.start - start} of the line", p,
                         data.count(b"\n", 0, err.start) + 1) from None
    return text[1:] if text.startswith(BOM) else text


def read_lines(path: str | os.PathLike, *, allow_empty: bool = False) -> list[str]:
    """All lines of a (possibly compressed) UTF-8 file, stopping at the first bad line.

    A line-aligned corpus keeps its empty lines (they are segments); an empty file is an
    error unless allowed."""
    lines = []
    for number, text, error in iter_lines(path):
        if error:
            raise InputError(error, path, number)
        lines.append(text)
    if not lines and not allow_empty:
        raise InputError("file is empty (expected one segment per line)", path, 1)
    return lines


# Errors of the place written to, not of the program: said in one line like bad input.
# (Permissions, a file as parent, a folder as target are refused before work by check_output.)
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def write_problem(err: OSError) -> str:
    """What an OSError raised while writing means, for a one-line message."""
    if err.errno == errno.ENOSPC:
        return "cannot write: no space left on device"
    return f"cannot write: {err.strerror or err}"


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn a write failure of the place (full disk, quota, read-only mount) into an
    InputError naming `path`, so it ends in one line instead of a traceback. Used around
    writes whose result only gets its final name once whole (atomic_path, translate's partial,
    data build's staging), so the message can say that nothing complete was left."""
    try:
        yield
    except OSError as err:
        if err.errno not in WRITE_ERRORS:
            raise
        raise InputError(f"{write_problem(err)} (nothing complete was left behind)", path) from None


def check_output(path: str | os.PathLike, kind: str = "file") -> Path:
    """Refuse an output path that cannot be written, before any work starts (a model loaded,
    a corpus read): its parent is a file, a folder stands where a file is expected (or a
    file where a folder is), or the nearest existing folder is read-only or not ours.
    `kind` is "file" or "folder". Creates nothing."""
    target = Path(path)
    if target.exists():
        if kind == "file" and target.is_dir():
            raise InputError("is a folder (expected a file to write)", target)
        if kind == "folder" and not target.is_dir():
            raise InputError("is a file (expected a folder to write into)", target)
    existing = target if kind == "folder" and target.is_dir() else target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"is a file, not a folder (cannot write {target.name} under it)", existing)
    try:  # os.access misses read-only mounts and root; a real probe file does not
        fd, probe = tempfile.mkstemp(prefix=".lingualift-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"cannot write here ({err.strerror or err})", existing) from None
    if target.exists() and kind == "file" and not os.access(target, os.W_OK) and os.geteuid() != 0:
        raise InputError("file is read-only", target)
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path that replaces `path` only if the block succeeds; a
    failed write (full disk) removes the temporary file and ends as one InputError line."""
    target = Path(path)
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        with writing(target):
            yield tmp_path
            # mkstemp creates the file private; the result gets the permissions of any new file.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
            os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def write_lines(path: str | os.PathLike, lines: list[str]) -> None:
    """Write one segment per line; newlines inside a segment would break alignment."""
    write_text(path, "".join(line.replace("\n", " ") + "\n" for line in lines))


def parse_slice(text: str) -> slice:
    """'500:' -> slice(500, None): which lines of a file to use, e.g. to hold the rest out."""
    try:
        start, _, stop = text.partition(":")
        return slice(int(start) if start else None, int(stop) if stop else None)
    except ValueError:
        raise InputError(f"line range {text!r}: expected START:END, e.g. 500: or 0:200") from None


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last may be shorter); itertools.batched needs Python 3.12."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

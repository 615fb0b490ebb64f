"""Readers that fail with file:line, and writers that never leave half a file behind.

Every user-facing input goes through here so that bad input always ends the same way: one
line naming the file, the line and what was expected (DESIGN.md, "Errors").
"""

from __future__ import annotations

import contextlib
import gzip
import io
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


def iter_lines(path: str | os.PathLike) -> Iterator[tuple[int, str | None, str | None]]:
    """Stream (line number, text, error) without the newline; a line that is not UTF-8
    comes back as (number, None, what is wrong) so callers can stop or skip and count."""
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            text, error = decode_line(raw, number == 1)
            yield number, text, error


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
        raise InputError(f"invalid UTF-8 at byte {err.start}", p, data[:err.start].count(b"\n") + 1) from None
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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path that replaces `path` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
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

"""Fingerprints: what a cached or resumed result was made from, so a changed input is noticed.

A file is stamped by its size, modification time (ns) and inode: cheap on corpora of many
GB, and any rewrite (editor, `cp`, an appended line) changes at least one of them; a folder
by the stamps of the files under it. Content hashes are kept for what is small and already
in memory (evaluation lines). The choice is written down in docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Prefixes of data specs that name a path (`flores:DIR`, `muse:FILE`, ...).
SPEC_PREFIXES = ("flores:", "tsv:", "muse:", "wechsel:", "dictd:", "panlex:")


def spec_paths(spec: str) -> list[str]:
    """The local paths a data spec names (`flores:DIR`, `tsv:A,B`, a plain path); none for `hf:`."""
    if spec.startswith("hf:"):
        return []
    for prefix in SPEC_PREFIXES:
        if spec.startswith(prefix):
            return [p for p in spec[len(prefix):].split(",") if p]
    return [spec]


def stamp(path: str | os.PathLike) -> list:
    """[path, size, mtime_ns, inode] of a file; of a folder, the stamps of its files
    (sorted, recursively); a missing path stamps as missing."""
    p = Path(path)
    if p.is_file():
        st = p.stat()
        return [str(path), st.st_size, st.st_mtime_ns, st.st_ino]
    if p.is_dir():
        return [str(path), [stamp(c)[1:] + [c.name] for c in sorted(p.rglob("*")) if c.is_file()]]
    return [str(path), "missing"]


def digest(payload: Any, files: Iterable[str | os.PathLike] = (), length: int = 16) -> str:
    """A short sha256 of a JSON-able payload and the stamps of `files`."""
    blob = json.dumps({"payload": payload, "files": [stamp(f) for f in sorted(set(map(str, files)))]},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def text_digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()

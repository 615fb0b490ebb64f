"""What counts as the same text for deduplication; the dedup itself runs as datatrove's
exact and MinHash stages (`data/steps.py`), and `data stats` counts duplicates with it."""

from __future__ import annotations

import regex
import xxhash

_NON_WORD = regex.compile(r"[\W_]+")


def key_text(text: str) -> str:
    """What counts as the same text: case, punctuation and spacing do not."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def text_hash(text: str) -> int:
    return xxhash.xxh64_intdigest(text.encode("utf-8"))

"""Parallel data as the instruction and preference builders see it: pairs grouped by direction,
and a degraded translation to stand for a bad one."""

from __future__ import annotations

import random
from collections import defaultdict

from lingualift.data.config import Source
from lingualift.lang.languages import english_name


def degrade(text: str, rng: random.Random) -> str:
    """A plausible bad translation: one or two word-level errors (drop, swap, repeat)."""
    words = text.split()
    if len(words) < 3:
        return text + " " + text
    for _ in range(rng.choice((1, 2))):
        i = rng.randrange(len(words) - 1)
        operation = rng.choice(("drop", "swap", "repeat"))
        if operation == "drop" and len(words) > 2:
            del words[i]
        elif operation == "swap":
            words[i], words[i + 1] = words[i + 1], words[i]
        else:
            words.insert(i, words[i])
    out = " ".join(words)
    return out if out != text else out + " " + words[-1]


def read_pairs(sources: list[Source]) -> list[dict]:
    """Every parallel record of the sources, stopping at the first unreadable line."""
    from lingualift.data.readers import Bad, read

    pairs = []
    for source in sources:
        for item in read(source):
            if isinstance(item, Bad):
                raise item.error()
            if "src" in item:
                pairs.append(item)
    return pairs


def by_direction(pairs: list[dict], both: bool) -> dict[tuple[str, str], list[tuple[str, str]]]:
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for p in pairs:
        out[p["src_lang"], p["tgt_lang"]].append((p["src"], p["tgt"]))
        if both:
            out[p["tgt_lang"], p["src_lang"]].append((p["tgt"], p["src"]))
    return out


def language_names(src: str, tgt: str) -> dict:
    """{src, tgt}: the English names prompts use."""
    return {"src": english_name(src), "tgt": english_name(tgt)}



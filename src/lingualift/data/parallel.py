"""Parallel data as the instruction, preference and GRPO builders see it: pairs grouped by
direction, a degraded translation to stand for a bad one, and plain parallel records."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Optional

from pydantic import Field

from lingualift.core.config import StrictModel
from lingualift.core.io import InputError, atomic_path, check_output
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
    """Pairs grouped by direction, each also reversed when `both`; a synthetic pair
    (`meta.synthetic`, from `data synth`) keeps its own direction: its target side is the one a
    model should learn to write (human text after back-translation, the teacher's after
    distillation), its source side is machine-made."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for p in pairs:
        out[p["src_lang"], p["tgt_lang"]].append((p["src"], p["tgt"]))
        if both and not (p.get("meta") or {}).get("synthetic"):
            out[p["tgt_lang"], p["src_lang"]].append((p["tgt"], p["src"]))
    return out


def language_names(src: str, tgt: str) -> dict:
    """{src, tgt}: the English names prompts use."""
    return {"src": english_name(src), "tgt": english_name(tgt)}




class PairsConfig(StrictModel):
    """Parallel records (DESIGN.md: `src, tgt, src_lang, tgt_lang`) drawn from data-build
    sources: what a recipe's `grpo` stage learns from, so it names corpora as `sft` does."""

    sources: list[Source] = Field(..., min_length=1, description="parallel data, as in `data build`")
    examples: Optional[int] = Field(None, ge=1, description="records to keep after shuffling (default: all)")
    both_directions: bool = Field(True, description="each pair in both directions")
    seed: int = Field(0, description="seed of the shuffle")

    def inputs(self) -> list[str]:
        return [p for source in self.sources for p in source.inputs()]

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return [d for source in self.sources for d in source.hub_datasets()]


def build_pairs(cfg: PairsConfig, out: str | Path) -> dict:
    """Write the records as JSONL (all or none: an unreadable source line stops before writing)."""
    check_output(out, "file")
    items = [(d, pair) for d, pairs in by_direction(read_pairs(cfg.sources), cfg.both_directions).items()
             for pair in pairs]
    if not items:
        raise InputError("grpo data: the sources hold no parallel pairs (give pairs, tsv, flores pairs or jsonl "
                         "records with src and tgt)")
    random.Random(cfg.seed).shuffle(items)
    records = [{"src": a, "tgt": b, "src_lang": src, "tgt_lang": tgt}
               for (src, tgt), (a, b) in items[:cfg.examples]]
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return {"examples": len(records)}

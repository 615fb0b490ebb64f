"""LLaMAX's dictionary-based augmentation: swap a share of dictionary-covered words of a
sentence for their translations.

Modes: `codeswitch` adds the switched sentence as monolingual text; `pseudo-parallel` pairs
a sentence with its switched version; `parallel-source` switches the source side of a real
pair and keeps its target (LLaMAX found this the most useful). Randomness is seeded by the
sentence itself, so results do not depend on order or on the number of workers.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import regex

from lingualift.data import dictionaries
from lingualift.data.config import AugmentConfig

_WORD = regex.compile(r"\w+(?:['’-]\w+)*")
MAX_PHRASE_WORDS = 4  # longest dictionary entry matched, in words


@dataclass
class AugmentStats:
    lines: Counter = field(default_factory=Counter)  # augmented records per target language
    replaced: Counter = field(default_factory=Counter)  # words replaced per target language
    covered: Counter = field(default_factory=Counter)  # dictionary-covered words seen


def covered_spans(text: str, table: dictionaries.Dictionary) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, key) of dictionary entries, longest match first."""
    words = list(_WORD.finditer(text))
    spans, i = [], 0
    while i < len(words):
        for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            group = words[i:i + n]
            gaps = (text[a.end():b.start()] for a, b in zip(group, group[1:]))
            if all(g.isspace() for g in gaps):
                key = " ".join(w.group() for w in group).casefold()
                if key in table:
                    spans.append((group[0].start(), group[-1].end(), key))
                    i += n
                    break
        else:
            i += 1
    return spans


def _match_case(original: str, translation: str) -> str:
    if len(original) > 1 and original.isupper():
        return translation.upper()
    if original[:1].isupper():
        return translation[:1].upper() + translation[1:]
    return translation


def switch(text: str, table: dictionaries.Dictionary, ratio: float, max_replacements: int,
           rng: random.Random) -> tuple[str, int, int]:
    """(switched text, words replaced, words covered). Replaces round(ratio * covered),
    at most max_replacements; punctuation and spacing between words stay as they were."""
    spans = covered_spans(text, table)
    k = min(int(ratio * len(spans) + 0.5), max_replacements)
    chosen = sorted(rng.sample(range(len(spans)), k))
    out, last = [], 0
    for index in chosen:
        start, end, key = spans[index]
        out += [text[last:start], _match_case(text[start:end], rng.choice(table[key]))]
        last = end
    out.append(text[last:])
    return "".join(out), k, len(spans)


def load_table(cfg: AugmentConfig) -> dictionaries.Dictionary:
    table = dictionaries.load(cfg.dictionary, cfg.tgt_lang)
    if cfg.pivot:
        # dictionary is en->X (X = src_lang), pivot is en->Y: X->Y through English.
        table = dictionaries.pivot(dictionaries.invert(table), dictionaries.load(cfg.pivot, cfg.tgt_lang))
    return table


def augment(records: Iterable[dict], cfg: AugmentConfig, table: dictionaries.Dictionary,
            stats: AugmentStats) -> Iterator[dict]:
    """Pass every record through and add the augmented ones after their originals."""
    for record in records:
        yield record
        is_pair = "src" in record
        lang = record["src_lang"] if is_pair else record["lang"]
        if lang != cfg.src_lang or is_pair != (cfg.mode == "parallel-source"):
            continue
        text = record["src"] if is_pair else record["text"]
        rng = random.Random(f"{cfg.seed}:{cfg.tgt_lang}:{text}")
        if rng.random() >= cfg.fraction:
            continue
        switched, replaced, covered = switch(text, table, cfg.ratio, cfg.max_replacements, rng)
        stats.covered[cfg.tgt_lang] += covered
        if not replaced:
            continue
        stats.lines[cfg.tgt_lang] += 1
        stats.replaced[cfg.tgt_lang] += replaced
        tag = {"augment": f"{cfg.mode}:{cfg.tgt_lang}"}
        if cfg.mode == "codeswitch":
            yield {"text": switched, "lang": lang, **tag}
        elif cfg.mode == "pseudo-parallel":
            yield {"src": text, "tgt": switched, "src_lang": lang, "tgt_lang": cfg.tgt_lang, **tag}
        else:
            yield {**record, "src": switched, **tag}

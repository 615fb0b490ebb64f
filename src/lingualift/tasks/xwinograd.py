"""XWinograd (en, fr, jp, pt, ru, zh): lm-eval's `xwinograd_<lang>`, "multiple input" mode.

The sentence is cut at the pronoun; each candidate fills the gap as its own context and the
same rest of the sentence is scored after each (lm-eval: context = sentence[:gap] + option,
continuation = " " + sentence[gap+1:].strip()). The local file is the original
`dataset.tsv` (word tokens with pronoun and candidate spans); the gap is placed from the
pronoun's token span, which is how the hub copy lm-eval reads (`--data hub`) was made.
"""

from __future__ import annotations

import json
from pathlib import Path

from lingualift.core.io import InputError
from lingualift.tasks.base import HUB, Choice, Item, hub_rows, read_tsv

LANGS = ("en", "fr", "jp", "pt", "ru", "zh")
DEFAULT_SHOTS = 0


# The English rows are PTB-tokenised: quotes became `` and ''.
_SPELLINGS = {"``": ('"', "“"), "''": ('"', "”")}


def _offsets(sentence: str, tokens: list[str]) -> list[tuple[int, int] | None]:
    """Character span of each word token, found left to right (None for one not found)."""
    spans, cursor = [], 0
    for token in tokens:
        found = [(i, len(t)) for t in (token, *_SPELLINGS.get(token, ())) if (i := sentence.find(t, cursor)) >= 0]
        if not found:
            spans.append(None)
            continue
        start, length = min(found)
        spans.append((start, start + length))
        cursor = start + length
    return spans


def _local(root: Path, lang: str) -> list[tuple[int, dict]]:
    """Rows of the original dataset.tsv in the hub copy's shape: sentence with `_` at the
    pronoun, option1, option2, answer ("1" or "2")."""
    path = root / "xwinograd" / "dataset.tsv"
    docs = []
    for number, row in read_tsv(path, header=False, columns=7):
        if row[0] != lang:
            continue
        try:
            sentence, tokens, pronoun, candidates = row[3], json.loads(row[4]), json.loads(row[5]), json.loads(row[6])
            spans = _offsets(sentence, tokens)
            start, end = spans[pronoun[1][0]][0], spans[pronoun[1][1] - 1][1]
        except (ValueError, IndexError, TypeError) as err:  # a None span lands here too
            raise InputError(f"unreadable XWinograd row ({err})", path, number) from None
        golds = [i for i, c in enumerate(candidates) if c[3]]
        if len(candidates) != 2 or len(golds) != 1:
            raise InputError("expected two candidates, one of them correct", path, number)
        docs.append((number, {"sentence": sentence[:start] + "_" + sentence[end:], "option1": candidates[0][0],
                              "option2": candidates[1][0], "answer": str(golds[0] + 1)}))
    return docs


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    if shots:
        raise InputError("xwinograd is zero-shot (lm-eval has no few-shot split for it); use --shots 0")
    items = []
    for number, doc in hub_rows("Muennighoff/xwinograd", lang, "test") if root == HUB else _local(root, lang):
        gap = doc["sentence"].index("_")
        rest = " " + doc["sentence"][gap + 1:].strip()
        contexts = [doc["sentence"][:gap] + doc[key] for key in ("option1", "option2")]
        # lm-eval's multiple-input mode measures acc_norm on the contexts, the strings that differ
        items.append(Item(f"{lang}-{number}", tuple(Choice(c, rest) for c in contexts), int(doc["answer"]) - 1,
                          tuple(len(c) for c in contexts)))
    return items

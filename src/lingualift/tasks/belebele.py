"""Belebele (here English and German, 900 questions each): lm-eval's `belebele_<code>`.

"P: passage / Q: question / A: .. B: .. C: .. D: .. / Answer:" and the letters A-D scored;
the local copy groups questions by passage (mapping in the data's SOURCE.md).
"""

from __future__ import annotations

from pathlib import Path

from lingualift.io import InputError
from lingualift.tasks.base import Item, mc, read_jsonl, with_shots

LANGS = ("eng_Latn", "deu_Latn")
DEFAULT_SHOTS = 0
LETTERS = ["A", "B", "C", "D"]


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    path = root / "belebele" / f"{lang}.jsonl"
    items = []
    for number, passage in read_jsonl(path):
        for q, question in enumerate(passage["items"], start=1):
            answers = question["answers"]
            golds = [i for i, a in enumerate(answers) if a["correct"]]
            if len(answers) != 4 or len(golds) != 1:
                raise InputError("expected four answers, one of them correct", path, number)
            context = (f"P: {passage['text']}\nQ: {question['question'].strip()}\n"
                       + "".join(f"{letter}: {a['text']}\n" for letter, a in zip(LETTERS, answers)) + "Answer:")
            items.append(mc(f"{lang}-{number}-{q}", context, LETTERS, golds[0]))
    return [with_shots(item, items[:shots]) for item in items[shots:]]

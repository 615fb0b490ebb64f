"""Belebele (here English and German, 900 questions each): lm-eval's `belebele_<code>`.

"P: passage / Q: question / A: .. B: .. C: .. D: .. / Answer:" and the letters A-D scored;
the local copy groups questions by passage (mapping in the data's SOURCE.md).
"""

from __future__ import annotations

from pathlib import Path

from lingualift.core.io import InputError
from lingualift.tasks.base import HUB, Item, hub_rows, mc, read_jsonl, with_shots

LANGS = ("eng_Latn", "deu_Latn")
DEFAULT_SHOTS = 0
LETTERS = ["A", "B", "C", "D"]


def _local(root: Path, lang: str) -> list[tuple[int, dict]]:
    """The regrouped local copy flattened back to Belebele's own rows."""
    path = root / "belebele" / f"{lang}.jsonl"
    docs = []
    for number, passage in read_jsonl(path):
        for question in passage["items"]:
            answers = question["answers"]
            golds = [i for i, a in enumerate(answers) if a["correct"]]
            if len(answers) != 4 or len(golds) != 1:
                raise InputError("expected four answers, one of them correct", path, number)
            docs.append((number, {"flores_passage": passage["text"], "question": question["question"],
                                  **{f"mc_answer{i + 1}": a["text"] for i, a in enumerate(answers)},
                                  "correct_answer_num": str(golds[0] + 1)}))
    return docs


def langs(root: Path) -> tuple[str, ...]:
    return () if root == HUB else LANGS  # the hub has 122: name them with --langs


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    docs = hub_rows("facebook/belebele", lang, "test") if root == HUB else _local(root, lang)
    items = []
    for number, (_, doc) in enumerate(docs, start=1):
        context = (f"P: {doc['flores_passage']}\nQ: {doc['question'].strip()}\n"
                   + "".join(f"{letter}: {doc[f'mc_answer{i + 1}']}\n" for i, letter in enumerate(LETTERS)) + "Answer:")
        items.append(mc(f"{lang}-{number}", context, LETTERS, int(doc["correct_answer_num"]) - 1))
    return [with_shots(item, items[:shots]) for item in items[shots:]]

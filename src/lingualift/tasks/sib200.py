"""SIB-200 (204 languages, 204 FLORES sentences each): 7-way topic classification.

lm-evaluation-harness has no SIB-200 task, so the prompt is ours: "Text: {sentence}" then
"Topic:" and each of the seven English topic labels scored after it (English labels in every
language, as the SIB-200 paper's prompted baselines do).
"""

from __future__ import annotations

from pathlib import Path

from lingualift.core.io import InputError
from lingualift.tasks.base import ALPACA, HUB, Item, hub_rows, mc, need, read_tsv, shots_from_tail

DEFAULT_SHOTS = 0
LANGS = ()  # every folder under sib-200/: listed by `langs(root)`


# SIB-200's seven topics, in its labels.txt order (the hub copy has no labels file)
TOPICS = ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography")


def langs(root: Path) -> tuple[str, ...]:
    if root == HUB:
        return ()  # name them with --langs
    folder = root / "sib-200"
    return tuple(sorted(p.name for p in folder.iterdir() if (p / "test.tsv").is_file())) if folder.is_dir() else ()


def _docs(root: Path, lang: str) -> tuple[list[str], list[tuple[int, dict]]]:
    if root == HUB:
        return list(TOPICS), hub_rows("Davlan/sib200", lang, "test")
    folder = root / "sib-200" / lang
    labels = [x.strip() for x in need(folder / "labels.txt").read_text(encoding="utf-8").splitlines() if x.strip()]
    path = folder / "test.tsv"
    docs = []
    for number, (index, category, text) in read_tsv(path, header=True, columns=3):
        if category not in labels:
            raise InputError(f"category {category!r} not in labels.txt", path, number)
        docs.append((number, {"index_id": index, "category": category, "text": text}))
    return labels, docs


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    labels, docs = _docs(root, lang)
    items = []
    for _, doc in docs:
        index, category, text = doc["index_id"], doc["category"], doc["text"]
        if fmt == "llamax":
            context = ALPACA.format(instruction=f"What is the topic of this text? Choose one of: {', '.join(labels)}."
                                                f"\n{text}")
        else:
            context = f"Text: {text}\nTopic:"
        items.append(mc(f"{lang}-{index}", context, labels, labels.index(category)))
    return shots_from_tail(items, shots)

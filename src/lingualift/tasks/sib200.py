"""SIB-200 (204 languages, 204 FLORES sentences each): 7-way topic classification.

lm-evaluation-harness has no SIB-200 task, so the prompt is ours: "Text: {sentence}" then
"Topic:" and each of the seven English topic labels scored after it (English labels in every
language, as the SIB-200 paper's prompted baselines do).
"""

from __future__ import annotations

from pathlib import Path

from lingualift.io import InputError
from lingualift.tasks.base import ALPACA, Item, mc, need, read_tsv, with_shots

DEFAULT_SHOTS = 0
LANGS = ()  # every folder under sib-200/: listed by `langs(root)`


def langs(root: Path) -> tuple[str, ...]:
    folder = root / "sib-200"
    return tuple(sorted(p.name for p in folder.iterdir() if (p / "test.tsv").is_file())) if folder.is_dir() else ()


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    folder = root / "sib-200" / lang
    labels = [x.strip() for x in need(folder / "labels.txt").read_text(encoding="utf-8").splitlines() if x.strip()]
    path = folder / "test.tsv"
    items = []
    for number, (index, category, text) in read_tsv(path, header=True, columns=3):
        if category not in labels:
            raise InputError(f"category {category!r} not in labels.txt", path, number)
        if fmt == "llamax":
            context = ALPACA.format(instruction=f"What is the topic of this text? Choose one of: {', '.join(labels)}."
                                                f"\n{text}")
        else:
            context = f"Text: {text}\nTopic:"
        items.append(mc(f"{lang}-{index}", context, labels, labels.index(category)))
    return [with_shots(item, items[-shots:] if shots else []) for item in items[:len(items) - shots]]

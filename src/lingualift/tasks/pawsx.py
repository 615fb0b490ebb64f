"""PAWS-X (7 languages, labelled test): lm-eval's `paws_<lang>`.

Choices "sentence1, right? No|Yes, sentence2" (lm-eval's words) after an empty context with
no delimiter; sentence1 loses a final . , ; and sentence2 starts lower-case, as lm-eval
prepares them. Rows with the upstream `NS` placeholder (no translation) are dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from lingualift.core.io import InputError
from lingualift.tasks.base import HUB, Item, hub_rows, mc, read_tsv, shots_from_tail

# lm-evaluation-harness's lm_eval/tasks/paws-x/paws_<lang>.yaml: (right, no, yes)
WORDS = {
    "de": ("richtig", "Nein", "Ja"), "en": ("right", "No", "Yes"), "es": ("verdad", "No", "Sí"),
    "fr": ("n'est-ce pas", "Non", "Oui"), "ja": ("ですね", "いいえ", "はい"), "ko": ("맞죠", "아니요", "예"),
    "zh": ("对吧", "不是", "是"),
}
LANGS = tuple(WORDS)
DEFAULT_SHOTS = 0


def _detokenize(text: str) -> str:
    """lm-eval's general_detokenize: undo PTB-style spaces around quotes and punctuation."""
    text = text.replace(" n't", "n't").replace(" )", ")").replace("( ", "(").replace('" ', '"').replace(' "', '"')
    return re.sub(r" (['.,])", r"\1", text)


def _docs(root: Path, lang: str) -> list[tuple[int, dict]]:
    if root == HUB:
        return hub_rows("google-research-datasets/paws-x", lang, "test")
    path = root / "pawsx" / "test" / f"test-{lang}.labeled.tsv"
    docs = []
    for number, (_, first, second, label) in read_tsv(path, header=True, columns=4):
        if label not in ("0", "1"):
            raise InputError(f"label {label!r}; expected 0 or 1", path, number)
        docs.append((number, {"sentence1": first, "sentence2": second, "label": int(label)}))
    return docs


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    right, no, yes = WORDS[lang]
    items = []
    for number, doc in _docs(root, lang):
        first, second, label = doc["sentence1"], doc["sentence2"], int(doc["label"])
        if first in ("", "NS") or second in ("", "NS"):
            continue
        first, second = _detokenize(first).strip(), _detokenize(second).strip()
        first = first[:-1] if first.endswith((".", ",", ";")) else first
        second = second[0].lower() + second[1:]
        options = [f"{first}, {right}? {word}, {second}" for word in (no, yes)]
        items.append(mc(f"{lang}-{number}", "", options, label, delimiter=""))
    return shots_from_tail(items, shots)

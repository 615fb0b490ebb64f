"""XNLI (15 languages, test 5,010 each): lm-eval's `xnli_<lang>`.

Every choice is the whole "premise, right? Yes|Also|No, hypothesis" sentence in the item's
language (lm-eval's words), after an empty context: the model scores which connective makes
the most likely text. Labels: entailment 0, neutral 1, contradiction 2.
"""

from __future__ import annotations

from pathlib import Path

from lingualift.core.io import InputError
from lingualift.tasks.base import ALPACA, HUB, Item, hub_rows, mc, read_tsv, shots_from_tail

# lm-evaluation-harness's lm_eval/tasks/xnli/utils.py: (right, yes, also, no)
WORDS = {
    "ar": ("صحيح", "نعم", "لذا", "رقم"), "bg": ("правилно", "да", "така", "не"),
    "de": ("richtig", "Ja", "Auch", "Nein"), "el": ("σωστός", "Ναί", "Έτσι", "όχι"),
    "en": ("right", "Yes", "Also", "No"), "es": ("correcto", "Sí", "Asi que", "No"),
    "fr": ("correct", "Oui", "Aussi", "Non"), "hi": ("सही", "हाँ", "इसलिए", "नहीं"),
    "ru": ("правильно", "Да", "Так", "Нет"), "sw": ("sahihi", "Ndiyo", "Hivyo", "Hapana"),
    "th": ("ถูกต้อง", "ใช่", "ดังนั้น", "ไม่"), "tr": ("doğru", "Evet", "Böylece", "Hayır"),
    "ur": ("صحیح", "جی ہاں", "اس لئے", "نہیں"), "vi": ("đúng", "Vâng", "Vì vậy", "Không"),
    "zh": ("正确", "是的", "所以", "不是的"),
}
LANGS = tuple(WORDS)
DEFAULT_SHOTS = 0
LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2}
LLAMAX_INSTRUCTION = ("Premise: {premise}\nHypothesis: {hypothesis}\nDoes the premise entail the hypothesis? "
                      "Answer entailment, neutral or contradiction.")


def _docs(root: Path, lang: str) -> list[tuple[int, dict]]:
    if root == HUB:
        return hub_rows("facebook/xnli", lang, "test")
    path = root / "xnli" / "test" / f"test-{lang}.labeled.tsv"
    docs = []
    for number, (premise, hypothesis, label, *_) in read_tsv(path, header=True, columns=3):
        if label not in LABELS:
            raise InputError(f"label {label!r}; expected one of {', '.join(LABELS)}", path, number)
        docs.append((number, {"premise": premise, "hypothesis": hypothesis, "label": LABELS[label]}))
    return docs


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    right, *answers = WORDS[lang]
    items = []
    for number, doc in _docs(root, lang):
        premise, hypothesis, label = doc["premise"], doc["hypothesis"], int(doc["label"])
        if fmt == "llamax":
            context = ALPACA.format(instruction=LLAMAX_INSTRUCTION.format(premise=premise, hypothesis=hypothesis))
            items.append(mc(f"{lang}-{number}", context, list(LABELS), label))
        else:
            options = [f"{premise}, {right}? {word}, {hypothesis}" for word in answers]
            items.append(mc(f"{lang}-{number}", "", options, label))
    return shots_from_tail(items, shots)

"""MGSM (11 languages x 250 grade-school problems): lm-eval's `mgsm_native_cot_<lang>`.

Prompt: k native-language exemplars (question and step-by-step answer, from the data's
exemplars.py) then "<Question word>: problem\\n<Step-by-step answer word>:", greedy decoding
until the next question word or a blank line; the score is exact match of the last number
in the output (lm-eval's flexible-extract) with the answer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from lingualift.core.io import InputError
from lingualift.tasks.base import ALPACA, HUB, Item, hub_rows, need, read_tsv

# lm-evaluation-harness's lm_eval/tasks/mgsm/native_cot/mgsm_native_cot_<lang>.yaml
WORDS = {
    "bn": ("প্রশ্ন: ", "ধাপে ধাপে উত্তর:"), "de": ("Frage: ", "Schritt-für-Schritt-Antwort:"),
    "en": ("Question: ", "Step-by-Step Answer:"), "es": ("Pregunta: ", "Respuesta paso a paso:"),
    "fr": ("Question : ", "Réponse étape par étape :"), "ja": ("問題： ", "ステップごとの答え:"),
    "ru": ("Задача: ", "Пошаговоерешение:"), "sw": ("Swali: ", "Jibu la Hatua kwa Hatua:"),
    "te": ("ప్రశ్న: ", "దశలవారీగా సమాధానం:"), "th": ("โจทย์: ", "คำตอบทีละขั้นตอน:"),
    "zh": ("问题： ", "逐步解答:"),
}
LANGS = tuple(WORDS)
DEFAULT_SHOTS = 8  # the paper's and lm-eval's native chain-of-thought setting: all eight exemplars
MAX_NEW_TOKENS = 256  # lm-eval's default for generate_until
_NUMBER = re.compile(r"-?[$0-9.,]{2,}|-?[0-9]+")  # lm-eval's flexible-extract pattern


def exemplars(root: Path, lang: str) -> list[dict]:
    """The eight exemplars of a language ({q, a}): the hub's train split, or the local
    exemplars.py parsed as data, never executed."""
    if root == HUB:
        return [{"q": row["question"], "a": row["answer"]} for _, row in hub_rows("juletxara/mgsm", lang, "train")]
    path = need(root / "mgsm" / "exemplars.py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MGSM_EXEMPLARS":
            return list(ast.literal_eval(node.value)[lang].values())
    raise InputError("no MGSM_EXEMPLARS dictionary", path)


def extract_number(text: str) -> str | None:
    """The last number in a model's answer, normalised: "$1,234.50." -> "1234.5", "18." -> "18"."""
    found = [m for m in _NUMBER.findall(text) if any(ch.isdigit() for ch in m)]
    if not found:
        return None
    number = found[-1].replace("$", "").replace(",", "").rstrip(".")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number or None


def correct(output: str, answer: str) -> bool:
    got = extract_number(output)
    try:
        return got is not None and float(got) == float(answer)
    except ValueError:
        return False


def load(root: Path, lang: str, shots: int = DEFAULT_SHOTS, fmt: str = "lm-eval") -> list[Item]:
    question, answer_word = WORDS[lang]
    prefix = "".join(f"{e['q']}\n{e['a']}\n\n" for e in exemplars(root, lang)[:shots]) if shots else ""
    rows = ((n, (r["question"], str(r["answer_number"]))) for n, r in hub_rows("juletxara/mgsm", lang, "test")) \
        if root == HUB else read_tsv(root / "mgsm" / f"mgsm_{lang}.tsv", header=False, columns=2)
    items = []
    for number, (problem, answer) in rows:
        if fmt == "llamax":
            prompt, stop = prefix + ALPACA.format(instruction=problem), ("\n\n", "### Instruction")
        else:
            prompt, stop = f"{prefix}{question}{problem}\n{answer_word}", (question.strip(), "\n\n")
        items.append(Item(f"{lang}-{number}", prompt=prompt, answer=answer.strip(), stop=stop))
    return items

"""XCOPA (11 languages, test 500 each): lm-eval's `xcopa_<lang>`.

Context: the premise without its final period, then the language's "because" / "therefore"
connective (lm-eval's words); choices: the two alternatives with a lower-case first letter.
Few-shot examples come from the validation split.
"""

from __future__ import annotations

from pathlib import Path

from lingualift.tasks.base import ALPACA, HUB, Item, hub_rows, mc, read_jsonl, with_shots

# lm-evaluation-harness's lm_eval/tasks/xcopa/utils.py: (cause, effect)
CONNECTORS = {
    "et": ("sest", "seetõttu"), "ht": ("poukisa", "donk sa"), "id": ("karena", "maka"),
    "it": ("perché", "quindi"), "qu": ("imataq", "chaymi"), "sw": ("kwa sababu", "kwa hiyo"),
    "ta": ("காரணமாக", "எனவே"), "th": ("เพราะ", "ดังนั้น"), "tr": ("çünkü", "bu yüzden"),
    "vi": ("bởi vì", "vì vậy"), "zh": ("因为", "所以"),
}
LANGS = tuple(CONNECTORS)
DEFAULT_SHOTS = 0
LLAMAX_INSTRUCTION = "Premise: {premise}\nWhat is the {question}? Pick the more plausible option.\n1. {a}\n2. {b}"


def _items(root: Path, lang: str, split: str, fmt: str) -> list[Item]:
    cause, effect = CONNECTORS[lang]
    if root == HUB:
        docs = hub_rows("cambridgeltl/xcopa", lang, split)
    else:
        docs = read_jsonl(root / "xcopa" / "data" / lang / f"{'val' if split == 'validation' else split}.{lang}.jsonl")
    out = []
    for _number, doc in docs:
        premise, options = doc["premise"], [doc["choice1"], doc["choice2"]]
        if fmt == "llamax":
            context = ALPACA.format(instruction=LLAMAX_INSTRUCTION.format(
                premise=premise, question=doc["question"], a=options[0], b=options[1]))
            out.append(mc(f"{lang}-{doc['idx']}", context, ["1", "2"], int(doc["label"])))
            continue
        context = premise.strip()[:-1] + " " + (cause if doc["question"] == "cause" else effect)
        out.append(mc(f"{lang}-{doc['idx']}", context, [o[0].lower() + o[1:] for o in options], int(doc["label"])))
    return out


def load(root: Path, lang: str, shots: int = 0, fmt: str = "lm-eval") -> list[Item]:
    examples = _items(root, lang, "validation", fmt)[:shots] if shots else []
    return [with_shots(item, examples) for item in _items(root, lang, "test", fmt)]

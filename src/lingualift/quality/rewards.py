"""Translation rewards for reinforcement learning (`train grpo`) and for ranking a model's own
samples into preference pairs (`data dpo --mode samples`).

A reward is a weighted sum of named terms, each a function `(completions, references, sources,
tgt_langs) -> list[float]`, so TRL logs every term on its own:
- `chrf`: sentence chrF++ of the translation against the reference, / 100 (sacrebleu);
- `language`: 1 when the translation is in the target language (language ID, else script:
  the off-target rule of `metrics/off_target`), else 0;
- `repetition`: -1 for a loop or an output over twice the reference's length (the rules of
  `metrics/repetition`), else 0: a penalty, so a run-on answer cannot collect chrF;
- `length`: exp(-|ln(translation chars / reference chars)|), 1 at the reference's length;
- `qe`: COMET-Kiwi through the COMET process when a model is given, else left out.

The translation is the completion up to its first newline after text starts (what the
evaluation's stop rule keeps); `repetition` looks at the whole completion.
"""

from __future__ import annotations

import math
from collections.abc import Callable

TERMS = ("chrf", "language", "repetition", "length", "qe")
# chrF carries the signal; language and degeneration terms keep a policy from gaming it
DEFAULT_WEIGHTS = {"chrf": 1.0, "language": 0.5, "repetition": 0.5, "length": 0.2}


def _text(completion) -> str:
    """A TRL completion (text, or conversational [{"role", "content"}]) as text."""
    return completion if isinstance(completion, str) else completion[-1]["content"]


def translation(completion) -> str:
    from lingualift.inference.stopping import cut_at_stop

    return cut_at_stop(_text(completion), ("\n",)).strip()


def chrf(completions, references, sources, tgt_langs) -> list[float]:
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=2)
    return [metric.sentence_score(translation(c), [r]).score / 100 for c, r in zip(completions, references)]


def language(completions, references, sources, tgt_langs) -> list[float]:
    from lingualift.lang.langid import is_off_target

    return [0.0 if is_off_target(translation(c), t) else 1.0 for c, t in zip(completions, tgt_langs)]


def repetition(completions, references, sources, tgt_langs) -> list[float]:
    from lingualift.metrics.repetition import OVERGEN_RATIO, is_loop

    return [-1.0 if is_loop(_text(c)) or len(_text(c).strip()) > OVERGEN_RATIO * max(len(r), 1) else 0.0
            for c, r in zip(completions, references)]


def length(completions, references, sources, tgt_langs) -> list[float]:
    return [math.exp(-abs(math.log((len(translation(c)) + 1) / (len(r) + 1)))) for c, r in zip(completions, references)]


def qe(model: str) -> Callable:
    def score(completions, references, sources, tgt_langs) -> list[float]:
        from lingualift.metrics.comet import segment_scores

        found = segment_scores([translation(c) for c in completions], None, list(sources), model)
        return found if found is not None else [0.0] * len(completions)
    return score


def terms(weights: dict[str, float], qe_model: str | None = None) -> dict[str, Callable]:
    """The named term functions with a non-zero weight (qe only when a model is given)."""
    from lingualift.core.io import InputError

    unknown = sorted(set(weights) - set(TERMS))
    if unknown:
        raise InputError(f"unknown reward term(s) {', '.join(unknown)}; terms: {', '.join(TERMS)}")
    table = {"chrf": chrf, "language": language, "repetition": repetition, "length": length}
    if qe_model:
        table["qe"] = qe(qe_model)
    return {name: table[name] for name, w in weights.items() if w and name in table}


def total(weights: dict[str, float], completions, references, sources, tgt_langs,
          qe_model: str | None = None) -> tuple[list[float], dict[str, list[float]]]:
    """The weighted sum per completion, and each term's values."""
    found = {name: fn(completions, references, sources, tgt_langs) for name, fn in terms(weights, qe_model).items()}
    sums = [sum(weights[name] * values[k] for name, values in found.items()) for k in range(len(completions))]
    return sums, found


def for_trl(weights: dict[str, float], qe_model: str | None = None) -> tuple[list[Callable], list[float]]:
    """Reward functions in TRL's form (keyword columns of the dataset) and their weights."""
    funcs, ws = [], []
    for name, fn in terms(weights, qe_model).items():
        def reward(prompts, completions, reference, source, tgt_lang, _fn=fn, **kwargs):
            return _fn(completions, reference, source, tgt_lang)
        reward.__name__ = name  # TRL logs rewards/<name>/mean
        funcs.append(reward)
        ws.append(weights[name])
    return funcs, ws

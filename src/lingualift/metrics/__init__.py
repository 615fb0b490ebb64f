"""Translation metrics, one per module as in sacrebleu, in one registry.

Each is computed by sacrebleu where sacrebleu has it, so every number equals sacrebleu's
own, and returns a `Score` with its signature, or marked unavailable with the reason and
the fix, never a silently substituted number.
"""

from __future__ import annotations

from collections.abc import Callable

from lingualift.metrics.base import Options, Score
from lingualift.metrics.bleu import bleu
from lingualift.metrics.chrf import chrf_pp
from lingualift.metrics.off_target import off_target
from lingualift.metrics.repetition import over_generation, repetition
from lingualift.metrics.spbleu import spbleu
from lingualift.metrics.ter import ter


def comet(hyps, refs, tgt, srcs, options) -> Score:
    from lingualift.metrics.comet import comet_score

    return comet_score(hyps, refs, srcs, options.comet_model)


METRICS: dict[str, Callable[..., Score]] = {
    "bleu": bleu,
    "spbleu_flores101": spbleu("flores101"),
    "spbleu_flores200": spbleu("flores200"),
    "chrf++": chrf_pp,
    "ter": ter,
    "off_target": off_target,
    "repetition": repetition,
    "over_generation": over_generation,
    "comet": comet,
}
DEFAULT_METRICS = tuple(m for m in METRICS if m != "comet")

__all__ = ["METRICS", "DEFAULT_METRICS", "Options", "Score", "score_all", "check_names"]


def check_names(names) -> tuple[str, ...]:
    from lingualift.core.io import InputError

    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    return tuple(names)


def score_all(hyps: list[str], refs: list[str], tgt: str, srcs: list[str] | None = None,
              names=DEFAULT_METRICS, options: Options | None = None) -> dict[str, Score]:
    options = options or Options()
    return {name: METRICS[name](hyps, refs, tgt, srcs, options) for name in names}

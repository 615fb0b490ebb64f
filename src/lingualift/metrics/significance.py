"""Is a difference larger than chance? Paired tests for every comparison a report shows.

Corpus metrics (chrF++, BLEU, spBLEU, TER) go through sacrebleu's own `PairedTest`, so the
scores, the p-value and the system's "mean ± 95% CI" are the numbers `sacrebleu REF -i A B
--paired-bs` (or `--paired-ar`) prints: same resamples, same seed (`$SACREBLEU_SEED`,
default 12345, read as sacrebleu reads it), same defaults (1000 bootstrap resamples, 10000
randomization trials).

Our tables show a delta, so each result also carries the 95% CI *of the delta* (system
minus baseline), the 2.5th and 97.5th percentiles of the resampled deltas picked as
sacrebleu's `estimate_ci` picks its bounds. It is computed from the very resamples sacrebleu
used (the same index draw, replayed from the seed; bootstrap: the test's own resamples,
randomization: the bootstrap sacrebleu draws after the trials for its CI), and that is
checked: the replayed system mean must equal sacrebleu's.

Per-segment scores (task accuracy per item as 0/1, COMET per segment) have no sufficient
statistics to sum: `segment_test` resamples them the same way (same index draw from the same
seed, the same p-value and CI rules taken from sacrebleu's module) with the mean as the score.

One deliberate difference: a zero difference gets p = 1. sacrebleu counts only resampled
differences strictly larger than the real one, so two identical systems get its smallest
p-value, 1/(n+1), and would read as significantly different; a delta of exactly 0 is no
evidence of anything. Every other p-value is sacrebleu's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lingualift.metrics.base import Options
from lingualift.metrics.bleu import metric as bleu_metric
from lingualift.metrics.chrf import metric as chrf_metric
from lingualift.metrics.spbleu import metric as spbleu_metric
from lingualift.metrics.ter import metric as ter_metric

ALPHA = 0.05
DEFAULT_SEED = 12345
SEED_ENV = "SACREBLEU_SEED"
RESAMPLES = {"bs": 1000, "ar": 10000}  # sacrebleu's defaults: bootstrap resamples, randomization trials
AR_CONFIDENCE = 1000  # bootstrap resamples for the CI in a randomization test
TESTS = {"bs": "paired bootstrap resampling", "ar": "paired approximate randomization"}
CORPUS_METRICS = ("chrf++", "bleu", "spbleu_flores200", "spbleu_flores101", "ter")


@dataclass
class Significance:
    """One paired comparison: baseline against system on the same segments."""

    metric: str
    test: str  # "bs" or "ar"
    n: int  # segments (or items) compared
    baseline: float | None = None
    system: float | None = None
    delta: float | None = None  # system minus baseline
    ci: tuple[float, float] | None = None  # 95% CI of the delta, from the resamples
    p_value: float | None = None
    system_mean: float | None = None  # sacrebleu's bootstrap mean ± half-width of the system's 95% CI
    system_ci: float | None = None
    resamples: int = 0
    seed: int | None = DEFAULT_SEED
    signature: str = ""
    unavailable: str | None = None

    @property
    def significant(self) -> bool | None:
        return None if self.p_value is None else self.p_value < ALPHA

    def as_dict(self) -> dict:
        if self.unavailable:
            return {"metric": self.metric, "test": self.test, "unavailable": self.unavailable}
        return {"metric": self.metric, "test": self.test, "n": self.n, "baseline": self.baseline,
                "system": self.system, "delta": self.delta, "ci": list(self.ci) if self.ci else None,
                "ci_of": "delta", "p_value": self.p_value, "significant": self.significant,
                "system_mean": self.system_mean, "system_ci": self.system_ci, "resamples": self.resamples,
                "seed": self.seed, "signature": self.signature}


def seed() -> int | None:
    """The seed as sacrebleu reads it: `$SACREBLEU_SEED`, default 12345, `none` for OS entropy."""
    value = os.environ.get(SEED_ENV, str(DEFAULT_SEED))
    return None if value.lower() == "none" else int(value)


def _rng(value: int | None) -> np.random.Generator:
    # PairedTest passes `seed if seed else None` to its tests: a seed of 0 means unseeded there too.
    return np.random.default_rng(value if value else None)


def delta_ci(deltas: np.ndarray) -> tuple[float, float]:
    """95% interval of resampled deltas with sacrebleu's bounds (index n // 40 from each end)."""
    ordered = np.sort(np.asarray(deltas, dtype=float))
    lower = len(ordered) // 40
    return float(ordered[lower]), float(ordered[len(ordered) - lower - 1])


def _p(real_delta: float, p_value: float) -> float:
    return 1.0 if real_delta == 0 else float(p_value)


def _metric(name: str, tgt: str, options: Options):
    if name == "chrf++":
        return chrf_metric(tgt, options)
    if name == "bleu":
        return bleu_metric(tgt, options)
    if name == "ter":
        return ter_metric(tgt, options)
    if name.startswith("spbleu_"):
        return spbleu_metric(name.removeprefix("spbleu_"), options)
    raise ValueError(f"no paired test for {name}; corpus metrics: {', '.join(CORPUS_METRICS)}")


def corpus_test(name: str, baseline: list[str], system: list[str], refs: list[str], tgt: str,
                test: str = "bs", n_samples: int = 0, options: Options | None = None) -> Significance:
    """sacrebleu's paired test of `system` against `baseline` for one corpus metric."""
    from sacrebleu.significance import PairedTest, estimate_ci

    from lingualift.core import assets

    if test not in TESTS:
        raise ValueError(f"unknown paired test {test!r}: bs or ar")
    if not len(baseline) == len(system) == len(refs):
        raise ValueError(f"paired test needs aligned segments: {len(baseline)}, {len(system)}, {len(refs)}")
    n_samples = n_samples or RESAMPLES[test]
    try:
        metric = _metric(name, tgt, options or Options())
    except assets.AssetUnavailable as err:
        return Significance(name, test, len(refs), unavailable=err.message)
    confidence = AR_CONFIDENCE if test == "ar" else -1
    paired = PairedTest([("baseline", baseline), ("system", system)], {name: metric}, [refs], test_type=test,
                        n_samples=n_samples, n_ar_confidence=confidence)
    signatures, results = paired()
    (key, signature), = signatures.items()
    base, sys = results[key]
    idxs = _replay_indices(len(refs), test, n_samples, paired._seed)
    stats = {role: np.array(metric._extract_corpus_statistics(hyps, [refs]), dtype="float32")
             for role, hyps in (("baseline", baseline), ("system", system))}
    scores = {role: np.array([metric._compute_score_from_stats(s.sum(0)).score for s in st[idxs]])
              for role, st in stats.items()}
    if sys.mean is not None and estimate_ci(scores["system"])[0] != sys.mean:
        raise RuntimeError("the replayed resamples differ from sacrebleu's: its significance module changed")
    delta = sys.score - base.score
    return Significance(name, test, len(refs), base.score, sys.score, delta,
                        delta_ci(scores["system"] - scores["baseline"]), _p(delta, sys.p_value),
                        None if sys.mean is None else float(sys.mean), None if sys.ci is None else float(sys.ci),
                        n_samples, paired._seed, signature.format())


def _replay_indices(n: int, test: str, n_samples: int, value: int | None) -> np.ndarray:
    """The bootstrap draw sacrebleu made: the test's resamples, or (randomization) the draw
    for its CI, which follows the trials' coin flips from the same generator."""
    rng = _rng(value)
    if test == "ar":
        rng.integers(2, size=(n_samples, n), dtype=bool)
        return rng.choice(n, size=(AR_CONFIDENCE, n), replace=True)
    return rng.choice(n, size=(n_samples, n), replace=True)


def segment_test(name: str, baseline: list[float], system: list[float], n_samples: int = 0,
                 scale: float = 1.0, seed_value: int | None = None) -> Significance:
    """Paired bootstrap on per-segment scores (accuracy per item, COMET per segment): the
    score of a resample is the mean times `scale` (100 for accuracy in percent)."""
    from sacrebleu.significance import _compute_p_value, estimate_ci

    if len(baseline) != len(system) or not baseline:
        raise ValueError(f"paired test needs aligned, non-empty scores: {len(baseline)} and {len(system)}")
    n_samples = n_samples or RESAMPLES["bs"]
    value = seed() if seed_value is None else seed_value
    a, b = np.asarray(baseline, dtype=float), np.asarray(system, dtype=float)
    idxs = _rng(value).choice(len(a), size=(n_samples, len(a)), replace=True)
    scores_a, scores_b = a[idxs].mean(axis=1) * scale, b[idxs].mean(axis=1) * scale
    base, sys = float(a.mean() * scale), float(b.mean() * scale)
    differences = np.abs(scores_b - scores_a)
    p_value = _compute_p_value(differences - differences.mean(), abs(sys - base))
    mean, half = estimate_ci(scores_b)
    signature = f"{name}|test:bs|bs:{n_samples}|seed:{str(value).lower()}|ci:95%-delta|n:{len(a)}"
    return Significance(name, "bs", len(a), base, sys, sys - base, delta_ci(scores_b - scores_a),
                        _p(sys - base, p_value), float(mean), float(half), n_samples, value, signature)


def ppl_test(baseline_nll: list[float], system_nll: list[float], chars: list[int], n_samples: int = 0,
             seed_value: int | None = None) -> Significance:
    """Paired bootstrap of per-character perplexity over lines: a resample's score is
    exp(summed nats / summed characters) of the drawn lines, for both models on the same draw
    (the index draw and p-value rule of `segment_test`). Lower is better: a negative delta is
    a gain."""
    from sacrebleu.significance import _compute_p_value, estimate_ci

    if not len(baseline_nll) == len(system_nll) == len(chars) or not chars:
        raise ValueError(f"paired test needs aligned lines: {len(baseline_nll)}, {len(system_nll)}, {len(chars)}")
    n_samples = n_samples or RESAMPLES["bs"]
    value = seed() if seed_value is None else seed_value
    a, b, c = (np.asarray(x, dtype=float) for x in (baseline_nll, system_nll, chars))
    idxs = _rng(value).choice(len(a), size=(n_samples, len(a)), replace=True)
    width = c[idxs].sum(axis=1)
    scores_a, scores_b = np.exp(a[idxs].sum(axis=1) / width), np.exp(b[idxs].sum(axis=1) / width)
    base, sys = float(np.exp(a.sum() / c.sum())), float(np.exp(b.sum() / c.sum()))
    differences = np.abs(scores_b - scores_a)
    p_value = _compute_p_value(differences - differences.mean(), abs(sys - base))
    mean, half = estimate_ci(scores_b)
    signature = f"ppl_char|test:bs|bs:{n_samples}|seed:{str(value).lower()}|ci:95%-delta|n:{len(a)}"
    return Significance("ppl_char", "bs", len(a), base, sys, sys - base, delta_ci(scores_b - scores_a),
                        _p(sys - base, p_value), float(mean), float(half), n_samples, value, signature)


def describe(result: dict) -> str:
    """One cell of a report: `+1.23 [+0.41, +2.05] p=0.003`, ending in ` n.s.` when not significant."""
    if result.get("unavailable") or result.get("delta") is None:
        return "n/a"
    lo, hi = result["ci"]
    text = f"{result['delta']:+.2f} [{lo:+.2f}, {hi:+.2f}] p={result['p_value']:.3f}"
    return text if result["significant"] else text + " n.s."

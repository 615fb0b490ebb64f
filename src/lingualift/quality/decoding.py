"""Quality-aware decoding: choose one translation among several candidates.

- `mbr` (minimum-Bayes-risk decoding, Kumar & Byrne 2004; Freitag et al. 2022): the candidate
  with the highest expected utility against the other candidates, which stand in for
  references. Utilities are sacrebleu's sentence chrF++ and BLEU, so a candidate's utility is
  the number users see reported (`mbrs` was not used: it pins unbabel-comet, whose pins clash
  with transformers 5; with N=8 the 56 sentence scores per line cost far less than the
  generation). Ties go to the earlier candidate (the likelier one under beam N-best).
- `rerank`: each candidate scored without a reference. With a COMET-Kiwi model available
  through the COMET process (metrics/comet.py) its QE score decides; otherwise the
  documented heuristic `heuristic_score`: 1 for output in the target language (language ID,
  else script; `metrics/off_target`'s rule), 1 for no loop (`metrics/repetition`'s rule),
  and exp(-|ln(candidate chars / source chars)|) for a plausible length.

Candidates come from `Generator.candidates`: N samples (epsilon or nucleus sampling) or the
beam's N best.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import get_args

from lingualift.quality.config import Strategy, Utility

STRATEGIES = get_args(Strategy)
UTILITIES = get_args(Utility)


def utility(name: str) -> Callable[[str, str], float]:
    """Sentence-level utility u(hypothesis, pseudo-reference) through sacrebleu."""
    if name == "chrf++":
        from sacrebleu.metrics import CHRF

        metric = CHRF(word_order=2)
    elif name == "bleu":
        from sacrebleu.metrics import BLEU

        metric = BLEU(effective_order=True)  # sentence BLEU needs effective order (sacrebleu's advice)
    else:
        from lingualift.core.io import InputError

        raise InputError(f"unknown MBR utility {name!r}; choose {', '.join(UTILITIES)}")
    return lambda hyp, ref: metric.sentence_score(hyp, [ref]).score


def mbr_pick(candidates: list[str], u: Callable[[str, str], float]) -> int:
    """Index of the candidate with the highest mean utility against all the others."""
    if len(candidates) < 2:
        return 0
    best, best_score = 0, -math.inf
    for i, hyp in enumerate(candidates):
        score = sum(u(hyp, ref) for j, ref in enumerate(candidates) if j != i) / (len(candidates) - 1)
        if score > best_score:
            best, best_score = i, score
    return best


def heuristic_score(candidate: str, source: str, tgt: str) -> float:
    from lingualift.lang import langid
    from lingualift.metrics.repetition import is_loop

    on_target = 0.0 if langid.is_off_target(candidate, tgt) else 1.0
    no_loop = 0.0 if is_loop(candidate) else 1.0
    ratio = (len(candidate) + 1) / (len(source) + 1)
    return on_target + no_loop + math.exp(-abs(math.log(ratio)))


def rerank_pick(candidates: list[str], source: str, tgt: str, qe: list[float] | None = None) -> int:
    """Index of the best candidate by QE score when given, else by `heuristic_score`."""
    scores = qe if qe is not None else [heuristic_score(c, source, tgt) for c in candidates]
    return max(range(len(candidates)), key=lambda i: (scores[i], -i))


def qe_scores(sources: list[str], candidates: list[list[str]], model: str | None) -> list[list[float]] | None:
    """COMET-Kiwi segment scores for every candidate, or None when no QE model can run."""
    if not model:
        return None
    from lingualift.metrics.comet import segment_scores

    flat_src = [s for s, cands in zip(sources, candidates) for _ in cands]
    flat_hyp = [c for cands in candidates for c in cands]
    scores = segment_scores(flat_hyp, None, flat_src, model)
    if scores is None:
        return None
    out, cursor = [], 0
    for cands in candidates:
        out.append(scores[cursor:cursor + len(cands)])
        cursor += len(cands)
    return out


def choose(strategy: str, candidates: list[list[str]], sources: list[str], tgt: str, *, utility_name: str = "chrf++",
           qe_model: str | None = None) -> tuple[list[str], str]:
    """One translation per line, and how it was chosen (for signatures)."""
    if strategy == "mbr":
        u = utility(utility_name)
        return [cands[mbr_pick(cands, u)] for cands in candidates], f"mbr|utility:{utility_name}"
    qe = qe_scores(sources, candidates, qe_model)
    picked = [cands[rerank_pick(cands, src, tgt, None if qe is None else qe[k])]
              for k, (cands, src) in enumerate(zip(candidates, sources))]
    how = f"rerank|qe:{qe_model}" if qe is not None else "rerank|heuristic:lid+loop+length"
    return picked, how


def translate(generator, prompts: list[str], sources: list[str], src: str, tgt: str, params,
              extract: Callable[[str], str], progress=None) -> tuple[list[str], str]:
    """Translations by `params.decoding`: standard (greedy / beam / sampling as the params say)
    or mbr / rerank over `params.candidates` candidates. A causal model gets `prompts`, an
    encoder-decoder MT model the `sources`. Returns (translations, how they were chosen)."""
    if params.decoding not in STRATEGIES:
        from lingualift.core.io import InputError

        raise InputError(f"unknown decoding {params.decoding!r}; choose {', '.join(STRATEGIES)}")
    n = 1 if params.decoding == "standard" else params.candidates
    if generator.seq2seq:
        found = generator.translate(sources, src, tgt, params, n, progress)
    else:
        found = generator.candidates(prompts, params, n, progress)
    if params.decoding == "standard":
        return [extract(row[0]) for row in found], "standard"
    cands = [[extract(c) for c in row] for row in found]
    picked, how = choose(params.decoding, cands, sources, tgt, utility_name=params.utility, qe_model=params.qe_model)
    source = "samples" if params.do_sample else "beam n-best"
    return picked, f"{how}|candidates:{params.candidates}|from:{source}"

"""Translation edit rate through sacrebleu (lower is better)."""

from __future__ import annotations

from lingualift.metrics.base import Score


def metric(tgt=None, options=None):
    from sacrebleu.metrics import TER

    return TER()


def ter(hyps, refs, tgt, srcs, options) -> Score:
    m = metric()
    return Score("ter", m.corpus_score(hyps, [refs]).score, str(m.get_signature()))

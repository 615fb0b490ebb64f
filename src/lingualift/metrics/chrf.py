"""chrF++ (character n-grams plus word bigrams) through sacrebleu."""

from __future__ import annotations

from lingualift.metrics.base import Score


def metric(tgt=None, options=None):
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=2)  # chrF++; word_order=0 would be plain chrF


def chrf_pp(hyps, refs, tgt, srcs, options) -> Score:
    m = metric()
    return Score("chrf++", m.corpus_score(hyps, [refs]).score, str(m.get_signature()))

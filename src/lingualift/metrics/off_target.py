"""Share of outputs not in the target language (language ID, else the Unicode script)."""

from __future__ import annotations

from lingualift.lang import langid
from lingualift.metrics.base import Score


def off_target(hyps, refs, tgt, srcs, options) -> Score:
    rate = 100.0 * sum(langid.is_off_target(h, tgt) for h in hyps) / max(len(hyps), 1)
    return Score("off_target", rate, f"lid176-lite+top3+script|min_conf:{langid.MIN_CONFIDENCE}"
                                     f"|plausible:{langid.MIN_PLAUSIBLE}")

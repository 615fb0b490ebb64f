"""Degenerate outputs: loops (a unit repeated four times in a row) and over-generation."""

from __future__ import annotations

import regex

from lingualift.metrics.base import Score

# A loop: a unit of 2-50 characters starting with a letter, four times in a row
# ("la la la la la"); character units work for scripts without spaces, and the leading
# letter keeps numbers such as 1000000 and rules such as "----" out.
LOOP = regex.compile(r"(\p{L}.{1,49}?)\1{3,}", regex.DOTALL)
# An output over twice the reference's length has run on past the translation.
OVERGEN_RATIO = 2.0


def is_loop(text: str) -> bool:
    return bool(LOOP.search(text))


def repetition(hyps, refs, tgt, srcs, options) -> Score:
    rate = 100.0 * sum(map(is_loop, hyps)) / max(len(hyps), 1)
    return Score("repetition", rate, "loop:(\\p{L}.{1,49}?)\\1{3,}")


def over_generation(hyps, refs, tgt, srcs, options) -> Score:
    long = sum(len(h) > OVERGEN_RATIO * max(len(r), 1) for h, r in zip(hyps, refs))
    return Score("over_generation", 100.0 * long / max(len(hyps), 1), f"chars>{OVERGEN_RATIO}xref")

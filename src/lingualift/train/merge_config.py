"""Settings of `lingualift train merge`: what the CLI flags, a recipe's `merge` stage and
`lingualift.train.merge.run` share (the adapted model, the dev data and out are apart).

A merge is tried at several weights; each candidate is scored on held-out FLORES dev lines
and the best is kept. The default lines, 900:950, are ones the shipped recipes neither train
on (lines 0-799) nor evaluate on (eval reads from line 800: 16 lines in the demo, and
perplexity 800:900), so choosing the weight does not tune on the test lines.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from lingualift.core.config import CommaFloats, CommaList, StrictModel

Method = Literal["task_arithmetic", "ties", "linear"]


class MergeSettings(StrictModel):
    method: Method = Field(
        "task_arithmetic", description="task_arithmetic: adapted + w * (instruct - base), the chat vector; ties: "
                                       "base + w * TIES-trimmed (adapted - base); linear: (1 - w) * base + w * adapted")
    weights: CommaFloats = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0], min_length=1,
                                 description="weights w to try; each is merged, scored on the dev lines, the best kept")
    base: Optional[str] = Field(None, description="the model the adapted one was trained from: preset, HF directory, "
                                                  "hub id (a recipe: its model)")
    instruct: Optional[str] = Field(None, description="task_arithmetic: the instruction-tuned model of the same base "
                                                      "whose difference from it is added")
    # Half of each difference kept by magnitude: language adaptation moves many weights a
    # little, so the TIES paper's 20% (tuned on narrow task fine-tunes) would drop much of it.
    density: float = Field(0.5, gt=0, le=1, description="ties: share of the difference kept (largest magnitudes)")
    dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="dtype of the merged weights (computed "
                                                                       "in fp32)")
    metric: Literal["chrf++", "ppl"] = Field("chrf++", description="what chooses the weight: chrf++ (translation "
                                                                    "en-x and x-en, higher is better) or ppl "
                                                                    "(per-character perplexity, lower is better)")
    dev_lines: str = Field("900:950", description="FLORES dev lines the weight is chosen on, START:END (apart from "
                                                  "the lines trained and evaluated on)")
    langs: CommaList = Field(default_factory=list, description="languages of that choice (a recipe: its own)")
    template: str = Field("chat", description="chrf++: prompt template (chat, llamax-alpaca, tower-chatml, FILE.jinja)")
    max_new_tokens: int = Field(128, ge=1, description="chrf++: generation limit per dev line")
    batch_size: int = Field(16, ge=1, description="dev lines per generation or perplexity batch")

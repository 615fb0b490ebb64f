"""Settings of `vocab analyze` and `vocab expand`, shared by the CLI, the recipe's `vocab`
stage and the library."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from lingualift.core.config import CommaList, Dtype, StrictModel


class AnalyzeSettings(StrictModel):
    langs: CommaList = Field(default_factory=list, description="languages (default: all 204 of the registry)")
    split: str = Field("dev", description="FLORES split")
    limit: Optional[int] = Field(None, ge=1, description="first N sentences per language")


class ExpandSettings(StrictModel):
    add: int = Field(..., ge=1, description="at most this many new tokens (SambaLingo: up to 25000)")
    init: Literal["mean", "random"] = Field("mean", description="new embedding rows: mean (of the base pieces' "
                                                                "rows, SambaLingo) or random")
    method: Literal["continue", "fresh"] = Field(
        "continue", description="continue: BPE merges learned on the base's own segmentation (every token "
                                "reachable, ranked by saving); fresh: a target tokenizer trained from scratch, "
                                "SambaLingo's way")
    protect: CommaList = Field(default_factory=list, description="English text that must segment exactly as "
                                                                 "before: text files or flores:DIR (its eng_Latn dev)")
    heldout: Optional[str] = Field(None, description="flores:DIR for the effect report: fertility and "
                                                     "per-character perplexity before and after")
    heldout_lines: str = Field(":", description="which FLORES lines are held out, START:END (e.g. 500: when the "
                                                "corpus holds the first 500)")
    compare: CommaList = Field(default_factory=lambda: ["random"], description="other inits measured in the "
                                                                               "effect report ('' for none)")
    seed: int = Field(0, description="seed of the random init")
    dtype: Dtype = "auto"

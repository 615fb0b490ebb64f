"""Settings of `eval translate` and `eval ppl`: what the CLI flags, the recipe's `eval` stage
and the library functions share (inputs and outputs, the model, data and out, are apart)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from lingualift.core.config import CommaList, Dtype, StrictModel
from lingualift.quality.config import DecodingSettings


class TranslateSettings(DecodingSettings):
    directions: str = Field("en-x,x-en", description="eng_Latn-swh_Latn,... | en-x | x-en | all | hub:CODE, "
                                                      "comma-joined (en-x,x-en: both ways)")
    langs: CommaList = Field(default_factory=list, description="languages for en-x / x-en / all / hub: (any code "
                                                               "or name; a recipe fills in its own)")
    split: str = Field("dev", description="dev or devtest (FLORES file suffix)")
    limit: Optional[int] = Field(None, ge=1, description="only N segments of each direction")
    offset: int = Field(0, ge=0, description="start at this segment (e.g. 800: past lines a model trained on)")
    template: str = Field("llamax-alpaca", description="llamax-alpaca | tower-chatml | chat | fewshot | FILE.jinja")
    shots: int = Field(0, ge=0, description="few-shot examples per prompt (from the dev split)")
    shot_selection: Literal["random", "similar"] = Field("random", description="random | similar "
                                                                               "(character-trigram retrieval)")
    metrics: CommaList = Field(default_factory=list, description="default all but comet: bleu, spbleu_flores101, "
                               "spbleu_flores200, chrf++, ter, off_target, repetition, over_generation, comet")
    spm_model: Optional[str] = Field(None, description="SentencePiece file for spBLEU instead of $SACREBLEU/models")
    paired_test: Literal["bs", "ar"] = Field("bs", description="significance of --compare deltas: bs (paired "
                                             "bootstrap, 1000 resamples) | ar (approximate randomization, 10000 "
                                             "trials); seed $SACREBLEU_SEED (12345), as sacrebleu --paired-bs/-ar")



class PplSettings(StrictModel):
    langs: CommaList = Field(default_factory=list, description="languages (any code or name); default all 204")
    lines: str = Field(":", description="START:END of each file (e.g. 800: for lines no stage trained on)")
    split: str = Field("dev", description="FLORES split (file suffix)")
    window: Optional[int] = Field(None, ge=2, description="tokens per window for long texts (default: the "
                                                           "model's context)")
    stride: Optional[int] = Field(None, ge=1, description="tokens between windows (default: half a window)")
    batch_size: int = Field(16, ge=1, description="sequences per forward pass")
    dtype: Dtype = "auto"

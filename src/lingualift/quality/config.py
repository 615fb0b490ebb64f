"""How translations are decoded: the settings `eval translate` and `translate` share (the
server takes the same names per request, within its limits)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from lingualift.core.config import Dtype, Engine, StrictModel
from lingualift.inference.generate import GenerationParams

# The choices, named once: the request schema of `serve` and decoding.py use these too.
Strategy = Literal["standard", "mbr", "rerank"]
Utility = Literal["chrf++", "bleu"]


class DecodingSettings(StrictModel):
    batch_size: int = Field(16, ge=1, description="prompts per generation batch (length-sorted)")
    num_beams: int = Field(1, ge=1, description="beam size; LLaMAX evaluates with 4")
    max_new_tokens: int = Field(256, ge=1, description="generation limit per segment")
    do_sample: bool = Field(False, description="sample instead of greedy / beam search")
    temperature: float = Field(1.0, gt=0, description="sampling temperature")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling mass")
    epsilon: float = Field(0.0, ge=0, lt=1, description="epsilon sampling: cut tokens below this probability "
                                                        "(0.02 for MBR candidates, Freitag et al. 2023)")
    decoding: Strategy = Field(
        "standard", description="standard (greedy / beam / sampling as set), mbr (minimum Bayes risk over "
                                "--candidates) or rerank (QE or heuristic score over --candidates)")
    candidates: int = Field(8, ge=2, le=64, description="candidates per line for mbr / rerank (samples with "
                                                        "--do-sample, else the beam's n best)")
    utility: Utility = Field("chrf++", description="MBR utility")
    qe_model: Optional[str] = Field(None, description="COMET-Kiwi model for rerank through the COMET process "
                                                      "(default: the documented heuristic)")
    seed: int = Field(0, description="seed for sampling and few-shot selection")
    engine: Engine = "auto"
    dtype: Dtype = "auto"

    def generation(self) -> GenerationParams:
        return GenerationParams(max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                                do_sample=self.do_sample, temperature=self.temperature, top_p=self.top_p,
                                batch_size=self.batch_size, seed=self.seed, epsilon=self.epsilon,
                                decoding=self.decoding, candidates=self.candidates, utility=self.utility,
                                qe_model=self.qe_model)



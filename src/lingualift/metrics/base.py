"""What every metric returns: a score with sacrebleu's signature, or the reason it is unavailable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Score:
    name: str
    score: float | None
    signature: str | None = None
    unavailable: str | None = None
    segments: list[float] | None = None  # per-segment scores where the metric has them (COMET)

    def as_dict(self) -> dict:
        out = {"score": self.score, "signature": self.signature}
        if self.unavailable:
            out["unavailable"] = self.unavailable
        return out


@dataclass
class Options:
    spm_model: str | None = None  # explicit SentencePiece file for spBLEU (either flavour)
    comet_model: str = "Unbabel/wmt22-comet-da"

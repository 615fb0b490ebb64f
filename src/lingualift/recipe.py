"""A recipe: one YAML file that says what the whole loop does, validated before anything runs.

Stages run in this order, each optional except the model: `vocab` (expand the tokenizer)
-> `data` (build CPT shards, packed with the final tokenizer, which is why it follows
vocab) -> `cpt` -> `sft` -> `dpo` -> `eval` (base and adapted model, same settings) ->
`report`. Training stages take TrainConfig fields; `model`, `data` and `out` are filled in
by the runner from the stages before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from pydantic import Field, field_validator, model_validator

from lingualift.config import DataConfig, _Strict, load_yaml
from lingualift.data.instructions import InstructionConfig
from lingualift.data.preferences import PreferenceConfig
from lingualift.languages import resolve_code
from lingualift.train.config import TrainConfig

STAGES = ("vocab", "data", "cpt", "sft", "dpo", "eval", "report")
_FILLED = {"model": "-", "data": "-", "out": "-"}


class VocabStage(_Strict):
    corpus: list[str] = Field(default_factory=list)  # text files / DESIGN.md JSONL
    flores: Optional[str] = None  # flores:DIR: also learn from these FLORES dev lines of each language
    flores_lines: str = ":"  # START:END, keep the held-out part out
    add: int
    init: str = "mean"
    method: str = "continue"
    protect: list[str] = Field(default_factory=list)
    heldout: Optional[str] = None
    heldout_lines: str = ":"
    compare: list[str] = Field(default_factory=lambda: ["random"])
    seed: int = 0


def _train_settings(value: dict) -> dict:
    """Check training settings against TrainConfig now, not when the stage starts."""
    TrainConfig.model_validate({**value, **_FILLED})
    return value


class TrainStage(_Strict):
    data: Union[str, InstructionConfig, PreferenceConfig, None] = None  # sft/dpo: a file, or how to build it
    train: dict = Field(default_factory=dict)  # TrainConfig fields

    _check = field_validator("train")(_train_settings)


class EvalStage(_Strict):
    data: str  # flores:DIR
    directions: str = "en-x,x-en"
    limit: Optional[int] = None
    offset: int = 0  # first line evaluated (keep to lines no stage trained on)
    template: str = "llamax-alpaca"
    metrics: list[str] = Field(default_factory=lambda: ["chrf++", "bleu", "spbleu_flores200", "off_target"])
    generation: dict = Field(default_factory=dict)  # GenerationParams fields: num_beams, max_new_tokens, ...
    ppl_lines: Optional[str] = None  # FLORES dev lines held out for per-character perplexity, START:END


class Fallback(_Strict):
    """Another recipe to run when a data folder is absent (the demo without ../shared/data)."""

    missing: str  # when this path does not exist...
    recipe: str  # ...run this recipe instead (relative to this recipe's folder)
    note: str  # and say why, and what the numbers then mean


class Recipe(_Strict):
    name: str
    model: str
    langs: list[str]
    runs: str = "runs"  # the run folder is RUNS/NAME
    vocab: Optional[VocabStage] = None
    data: Optional[DataConfig] = None
    cpt: Optional[dict] = None  # TrainConfig fields
    sft: Optional[TrainStage] = None
    dpo: Optional[TrainStage] = None
    eval: Optional[EvalStage] = None
    fallback: Optional[Fallback] = None

    @field_validator("langs")
    @classmethod
    def _langs(cls, value: list[str]) -> list[str]:
        """Codes or names; `llamax` stands for LLaMAX's 102 languages (FLORES-101), English aside."""
        from lingualift.languages import all_languages

        out: list[str] = []
        for v in value:
            group = [lang.code for lang in all_languages() if lang.llamax and lang.code != "eng_Latn"] \
                if v == "llamax" else [resolve_code(v)]
            out += [code for code in group if code not in out]
        return out

    @field_validator("cpt")
    @classmethod
    def _cpt(cls, value: Optional[dict]) -> Optional[dict]:
        return None if value is None else _train_settings(value)

    @model_validator(mode="after")
    def _shape(self) -> "Recipe":
        if self.cpt is not None and self.data is None:
            raise ValueError("cpt needs a data stage (the shards it trains on)")
        for name in ("sft", "dpo"):
            stage = getattr(self, name)
            if stage is not None and stage.data is None:
                raise ValueError(f"{name} needs data: a file or a builder config")
        return self

    def stages(self) -> list[str]:
        return [s for s in STAGES if s == "report" or getattr(self, s) is not None]

    def folder(self) -> Path:
        return Path(self.runs) / self.name


def load(path: str | Path, say=print) -> Recipe:
    """The recipe, or its fallback when the data it names is absent (said, never silent)."""
    recipe = load_yaml(path, Recipe)
    fallback = recipe.fallback
    if fallback is not None and not Path(fallback.missing).exists():
        target = Path(path).parent / fallback.recipe
        say(f"{fallback.missing} not found: running {target} instead. {fallback.note}")
        return load(target, say)
    return recipe

"""A recipe: one YAML file that says what the whole loop does, validated before anything runs.

Stages run in this order, each optional except the model: `vocab` (expand the tokenizer)
-> `data` (build CPT shards, packed with the final tokenizer, which is why it follows
vocab) -> `cpt` -> `synth` (back-translated pairs for SFT, in rounds) -> `sft` -> `dpo` -> `grpo`
(translation rewards) -> `merge` (with the base or an instruct model, the weight
chosen on dev lines) -> `eval` (base and adapted model, same settings) -> `report`. Each
stage embeds the settings model of its command unchanged (`vocab expand`'s ExpandSettings,
`data build`'s DataConfig, `train`'s TrainSettings, `train merge`'s MergeSettings, `eval
translate`'s TranslateSettings), plus the inputs only a recipe names (corpora, SFT data); models, shards
and output folders are filled in by the runner from the stages before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from pydantic import Field, field_validator, model_validator

from lingualift.core.config import CommaList, StrictModel, read_yaml, validate
from lingualift.core.fingerprint import spec_paths
from lingualift.core.io import InputError
from lingualift.data.config import DataConfig, Source, hub_spec
from lingualift.data.instructions import InstructionConfig
from lingualift.data.parallel import PairsConfig
from lingualift.data.preferences import PreferenceConfig
from lingualift.data.synth import SynthConfig
from lingualift.eval.config import TranslateSettings
from lingualift.lang.languages import resolve_many
from lingualift.run.gates import Gate
from lingualift.tasks.config import DEFAULT_TASKS_DATA, RETENTION_TASKS, TARGET_TASKS
from lingualift.train.config import TrainSettings
from lingualift.train.merge_config import MergeSettings
from lingualift.vocab.config import ExpandSettings

STAGES = ("vocab", "data", "cpt", "synth", "sft", "dpo", "grpo", "merge", "eval", "report")

# Keys of earlier recipe versions, and what replaced them: a one-line error, not a silent change.
RENAMED = {
    ("sft", "train"): "training settings now sit directly under sft: (lr, max_steps, ...), beside data:",
    ("dpo", "train"): "training settings now sit directly under dpo: (lr, max_steps, beta, ...), beside data:",
    ("eval", "generation"): "generation settings now sit directly under eval: (num_beams, max_new_tokens, "
                            "batch_size, ...)",
}


def _source_inputs(sources: list[Source]) -> list[str]:
    return [p for s in sources for p in s.inputs()]


def _spec_datasets(*specs: Optional[str]) -> list[tuple[str, Optional[str]]]:
    """The hub datasets that `hf:NAME` data specs name (FLORES+ and the like: a config per language)."""
    return [(spec[3:].partition(":")[0], None) for spec in specs if spec and spec.startswith("hf:")]


class VocabStage(ExpandSettings):
    corpus: CommaList = Field(default_factory=list, description="text files / DESIGN.md JSONL")
    flores: Optional[str] = Field(None, description="flores:DIR: also learn from these FLORES dev lines of each "
                                                    "language")
    flores_lines: str = Field(":", description="START:END of those lines (keep the held-out part out)")

    def inputs(self) -> list[str]:
        specs = [*self.corpus, *(self.protect or []), *([self.flores] if self.flores else []),
                 *([self.heldout] if self.heldout else [])]
        return [p for spec in specs for p in spec_paths(spec)]

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return _spec_datasets(*(self.protect or []), self.flores, self.heldout)


class CptStage(TrainSettings):
    def inputs(self) -> list[str]:
        return spec_paths(self.eval_data) if self.eval_data else []

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return _spec_datasets(self.eval_data)


class SynthStage(SynthConfig):
    model: Optional[str] = Field(None, description="the model that translates in round 1 (default: the model so "
                                                   "far, after cpt)")
    rounds: int = Field(1, ge=1, description="iterative back-translation: round k translates with the model the "
                                             "SFT of round k-1 made; the last round's pairs go to the sft stage")

    @model_validator(mode="after")
    def _waits(self):
        if self.executor == "slurm":  # a recipe's stages run one after another in this process
            raise ValueError("synth: executor slurm submits and returns; run `lingualift data synth --executor slurm` "
                             "and name its output as a jsonl source of sft.data, or use local or ray here")
        return self

    def inputs(self) -> list[str]:
        return [*_source_inputs(self.sources), *([self.model] if self.model and Path(self.model).exists() else [])]

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return [d for source in self.sources for d in source.hub_datasets()]


class SftStage(TrainSettings):
    data: Union[str, InstructionConfig] = Field(..., description="instruction JSONL/JSON, or how to build it "
                                                                 "(a `data sft` config)")

    def inputs(self) -> list[str]:
        if isinstance(self.data, str):
            return [self.data]
        dictionary = spec_paths(self.data.dictionary) if self.data.dictionary else []
        return [*_source_inputs(self.data.sources), *(a for a in self.data.alpaca if not hub_spec(a)), *dictionary]

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return [] if isinstance(self.data, str) else self.data.hub_datasets()


class DpoStage(TrainSettings):
    data: Union[str, PreferenceConfig] = Field(..., description="preference JSONL/JSON, or how to build it "
                                                                "(a `data dpo` config)")

    def inputs(self) -> list[str]:
        if isinstance(self.data, str):
            return [self.data]
        return [*_source_inputs(self.data.sources), *(p for p in self.data.preferences if not hub_spec(p))]

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return [] if isinstance(self.data, str) else self.data.hub_datasets()


class GrpoStage(TrainSettings):
    data: Union[str, PairsConfig] = Field(..., description="parallel JSONL/JSON (src, tgt, src_lang, tgt_lang), "
                                                           "or sources to draw the records from")

    def inputs(self) -> list[str]:
        return [self.data] if isinstance(self.data, str) else self.data.inputs()

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return [] if isinstance(self.data, str) else self.data.hub_datasets()


class RetentionSuite(StrictModel):
    """What the adapted model must not lose: English, measured on base and adapted alike."""

    langs: CommaList = Field(default_factory=lambda: ["eng_Latn"], description="languages to retain")
    ppl: bool = Field(True, description="per-character perplexity on their held-out FLORES lines (eval.ppl_lines)")
    tasks: CommaList = Field(default_factory=lambda: list(RETENTION_TASKS),
                             description="task benchmarks in those languages (the English ones available offline)")

    @field_validator("langs")
    @classmethod
    def _langs(cls, value: list[str]) -> list[str]:
        return resolve_many(value)


class MergeStage(MergeSettings):
    data: Optional[str] = Field(None, description="flores:DIR of the dev lines (default: the eval stage's data)")

    def inputs(self) -> list[str]:
        models = [m for m in (self.base, self.instruct) if m and Path(m).is_dir()]  # presets and hub ids: no files
        return [*(spec_paths(self.data) if self.data else []), *models]

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return _spec_datasets(self.data)


class EvalStage(TranslateSettings):
    data: str = Field(..., description="flores:DIR | tsv:... | hf:NAME, as `eval translate --data`")
    ppl_lines: Optional[str] = Field(None, description="FLORES dev lines held out for per-character perplexity, "
                                                       "START:END (target languages and the retention ones)")
    tasks: CommaList = Field(default_factory=lambda: list(TARGET_TASKS),
                             description="target suite: task benchmarks run in the recipe's languages (a task "
                                         "without them is left out)")
    retention: RetentionSuite = Field(default_factory=RetentionSuite)
    tasks_data: str = Field(DEFAULT_TASKS_DATA, description="task data folder (the ../shared/data/tasks layout) or "
                                                            "`hub`")
    tasks_limit: Optional[int] = Field(None, ge=1, description="first N items per task and language (all by "
                                                               "default)")

    def inputs(self) -> list[str]:
        return spec_paths(self.data)

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return _spec_datasets(self.data)


class Fallback(StrictModel):
    """Another recipe to run when a data folder is absent (the demo without ../shared/data)."""

    missing: str  # when this path does not exist...
    recipe: str  # ...run this recipe instead (relative to this recipe's folder)
    note: str  # and say why, and what the numbers then mean


class Recipe(StrictModel):
    name: str
    model: str
    langs: CommaList
    runs: str = "runs"  # the run folder is RUNS/NAME
    vocab: Optional[VocabStage] = None
    data: Optional[DataConfig] = None
    cpt: Optional[CptStage] = None
    synth: Optional[SynthStage] = None
    sft: Optional[SftStage] = None
    dpo: Optional[DpoStage] = None
    grpo: Optional[GrpoStage] = None
    merge: Optional[MergeStage] = None
    eval: Optional[EvalStage] = None
    gates: list[Gate] = Field(default_factory=list, description="rules the report checks; a failed one ends the "
                                                                 "run with exit status 3")
    variants: dict[str, dict] = Field(default_factory=dict, description="name -> {dotted.key: value} overrides; "
                                                                         "the first is the reference")
    variant: Optional[str] = None  # set by the runner on each variant's recipe (its folder RUNS/NAME/VARIANT)
    fallback: Optional[Fallback] = None

    @field_validator("langs")
    @classmethod
    def _langs(cls, value: list[str]) -> list[str]:
        """Codes or names; `llamax` stands for LLaMAX's 102 languages (FLORES-101), English aside."""
        return resolve_many(value)

    @model_validator(mode="after")
    def _shape(self) -> Recipe:
        if self.cpt is not None and self.data is None:
            raise ValueError("cpt needs a data stage (the shards it trains on)")
        if self.synth is not None and (self.sft is None or isinstance(self.sft.data, str)):
            raise ValueError("synth: its pairs join the sources of sft.data, which must be a `data sft` config "
                             "(sources: ...), not a file")
        if self.merge is not None and self.merge.data is None:
            if self.eval is None:
                raise ValueError("merge needs data: (flores:DIR, whose dev lines choose the weight) without an eval stage")
            self.merge.data = self.eval.data  # set here, so the merge's fingerprint follows it
        return self

    def stages(self) -> list[str]:
        return [s for s in STAGES if s == "report" or getattr(self, s) is not None]

    def model_files(self) -> list[str]:
        """The model's folder when it is a local one (another run's output): its files' stamps
        join the fingerprints, so retraining that model re-runs what started from it."""
        return [self.model] if Path(self.model).is_dir() else []

    def folder(self) -> Path:
        return Path(self.runs) / self.name / (self.variant or "")


def _renamed(raw, lines: dict, path) -> None:
    if not isinstance(raw, dict):
        return
    for (stage, key), hint in RENAMED.items():
        if isinstance(raw.get(stage), dict) and key in raw[stage]:
            raise InputError(f"{stage}.{key}: {hint}", path, lines.get((stage, key)))


def load(path: str | Path, say=print) -> Recipe:
    """The recipe, or its fallback when the data it names is absent (said, never silent)."""
    raw, lines = read_yaml(path)
    _renamed(raw, lines, path)
    recipe = validate(Recipe, raw, path=path, lines=lines)
    fallback = recipe.fallback
    if fallback is not None and not Path(fallback.missing).exists():
        target = Path(path).parent / fallback.recipe
        say(f"{fallback.missing} not found: running {target} instead. {fallback.note}")
        return load(target, say)
    return recipe

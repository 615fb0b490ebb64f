"""The data config of `data build` (and the sources `data sft` / `data dpo` read).

Language codes are resolved through the registry at validation time, so everything after
this point sees canonical FLORES-200 codes. An ambiguous code (`zh`) gets the registry's
default and is said once: `DataConfig.notes()` ("zh -> zho_Hans (also zho_Hant, yue_Hant)"),
which `data build` puts in its manifest and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, PrivateAttr, field_validator, model_validator

from lingualift.core.config import StrictModel
from lingualift.lang.languages import candidates, resolve_code


def _code(value: Optional[str]) -> Optional[str]:
    return None if value is None else resolve_code(value)


def ambiguity(query) -> str | None:
    """"zh -> zho_Hans (also zho_Hant, yue_Hant)" for a code that names several languages."""
    found = candidates(query) if isinstance(query, str) else []
    if len(found) < 2:
        return None
    others = [lang.code for lang in found[1:]]
    shown = ", ".join(others[:4]) + (f", ... {len(others) - 4} more" if len(others) > 4 else "")
    return f"{query} -> {found[0].code} (also {shown})"


def _raw_codes(data) -> list:
    """The language codes of a source or augmentation as written, before resolving."""
    if not isinstance(data, dict):
        return []
    codes = [data.get(k) for k in ("lang", "src_lang", "tgt_lang")]
    codes += list(data.get("langs") or []) if isinstance(data.get("langs"), list) else []
    for pair in data.get("pairs") or [] if isinstance(data.get("pairs"), list) else []:
        codes += pair.split("-", 1) if isinstance(pair, str) else []
    return codes


class _Noted(StrictModel):
    """A model that remembers which of its codes were ambiguous (for `DataConfig.notes`)."""

    _notes: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _remember(cls, data, handler):
        made = handler(data)
        # An instance passed in (DataConfig(sources=[Source(...)])) keeps what it noted.
        made._notes = list(data._notes) if isinstance(data, _Noted) else \
            [n for n in map(ambiguity, _raw_codes(data)) if n]
        return made


class Source(_Noted):
    """One input. `paths` holds two aligned files for `pairs`; `path` everything else."""

    type: Literal["text", "jsonl", "pairs", "tsv", "flores", "parquet", "hf"]
    name: Optional[str] = None
    path: Optional[str] = None
    paths: Optional[list[str]] = None
    lang: Optional[str] = None  # text sources, and jsonl/parquet records without "lang"
    src_lang: Optional[str] = None
    tgt_lang: Optional[str] = None
    langs: list[str] = Field(default_factory=list)  # flores: monolingual languages
    pairs: list[str] = Field(default_factory=list)  # flores: directions such as eng_Latn-swh_Latn
    split: str = "dev"  # flores split / hf split
    lines: Optional[str] = None  # flores: only these lines of each file, START:END (hold the rest out)
    subset: Optional[str] = None  # hf config name
    text_field: str = "text"
    # hf/jsonl/parquet parallel records without src/tgt keys: where each side is, a key or a
    # dotted path into a nested column (OPUS-100 and NLLB keep both in `translation.<code>`)
    src_field: Optional[str] = None
    tgt_field: Optional[str] = None
    # Tasks that read this source, each a contiguous piece of its lines (rows), so one large
    # file is cleaned, deduplicated and drawn in parallel. The shards do not depend on it.
    tasks: int = Field(1, ge=1)

    _resolve = field_validator("lang", "src_lang", "tgt_lang")(_code)

    @field_validator("langs")
    @classmethod
    def _langs(cls, value: list[str]) -> list[str]:
        return [resolve_code(v) for v in value]

    @model_validator(mode="after")
    def _shape(self) -> Source:
        if self.type == "pairs":
            if not self.paths or len(self.paths) != 2:
                raise ValueError("pairs needs paths: [SRC_FILE, TGT_FILE]")
        elif not self.path:
            raise ValueError(f"{self.type} needs path")
        if self.type in ("pairs", "tsv") and not (self.src_lang and self.tgt_lang):
            raise ValueError(f"{self.type} needs src_lang and tgt_lang")
        if self.type == "text" and not self.lang:
            raise ValueError("text needs lang")
        if self.type == "flores" and not (self.langs or self.pairs):
            raise ValueError("flores needs langs and/or pairs")
        if (self.src_field is None) != (self.tgt_field is None):
            raise ValueError("src_field and tgt_field go together")
        if self.src_field and not (self.src_lang and self.tgt_lang):
            raise ValueError("src_field/tgt_field need src_lang and tgt_lang")
        if self.tasks > 1 and self.type == "hf":
            raise ValueError("an hf source is one stream: tasks must be 1 (save it as Parquet files to split it)")
        return self

    def label(self, index: int) -> str:
        return self.name or f"{index:03d}-{self.type}"

    def inputs(self) -> list[str]:
        """Local files and folders this source reads (none for a hub dataset)."""
        if self.type == "hf" and not Path(self.path).exists():
            return []
        return list(self.paths or [self.path])

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        """(dataset, config) this source streams from the hub (none for a local copy)."""
        return [(self.path, self.subset)] if self.type == "hf" and not self.inputs() else []


def hub_spec(spec: str) -> Optional[tuple[str, str]]:
    """`hf:NAME[:SPLIT]` as (NAME, SPLIT), the split `train` by default; None for a file.
    Hub names hold one slash and no colon, so the split needs no other delimiter."""
    if not spec.startswith("hf:"):
        return None
    name, _, split = spec[3:].partition(":")
    return name, split or "train"


class CleanConfig(StrictModel):
    nfc: bool = True
    min_chars: int = 1
    max_chars: int = 20000
    min_words: int = 1
    max_words: int = 5000
    max_length_ratio: float = 3.0  # pairs: longer side / shorter side, in characters
    drop_identical_pairs: bool = True
    script: bool = True
    langid: bool = True
    # lid.176 (lite) is unsure on short text and weak on some languages (short Swahili reads
    # as Finnish or Catalan): it vetoes a line only when this sure and the line's language
    # is not among its top three.
    langid_min_score: float = 0.9
    max_url_email_ratio: float = 0.3  # share of characters inside URLs or e-mail addresses


class DedupConfig(StrictModel):
    exact: bool = True
    near: bool = False  # MinHash LSH; off by default: sentence corpora are mostly exact dups
    near_threshold: float = 0.8  # estimated Jaccard similarity of character 5-gram sets
    num_perm: int = 64
    pair_keys: list[Literal["pair", "src", "tgt"]] = Field(default_factory=lambda: ["pair"])


class AugmentConfig(_Noted):
    dictionary: str  # muse:FILE | tsv:FILE | wechsel:DIR | dictd:INDEX_FILE | panlex:FILE
    src_lang: str
    tgt_lang: str
    mode: Literal["codeswitch", "pseudo-parallel", "parallel-source"] = "codeswitch"
    ratio: float = Field(0.3, gt=0, le=1)  # share of dictionary-covered words replaced
    max_replacements: int = 10
    fraction: float = Field(1.0, gt=0, le=1)  # share of eligible records augmented
    pivot: Optional[str] = None  # second en-Y dictionary: X->Y through English
    seed: int = 0

    _resolve = field_validator("src_lang", "tgt_lang")(_code)


class MixConfig(StrictModel):
    temperature: float = 1.0  # p_g ∝ n_g^(1/T); T > 1 flattens towards scarce groups
    min_per_group: int = 0  # LLaMAX: upsample scarce directions by repetition up to this
    caps: dict[str, int] = Field(default_factory=dict)  # group -> max records
    shares: dict[str, float] = Field(default_factory=dict)  # fixed shares, e.g. swh 0.75 / eng 0.25
    total: Optional[int] = None  # with shares: records in all; default the most without upsampling
    mono_share: Optional[float] = Field(None, ge=0, le=1)  # monolingual share of all records
    # English replay (SambaLingo's 25%): English's share of the monolingual text, the other
    # languages keeping their temperature-sampled proportions; one knob instead of `shares`
    english_share: Optional[float] = Field(None, ge=0, lt=1)
    seed: int = 0

    @field_validator("shares", "caps")
    @classmethod
    def _groups(cls, value: dict) -> dict:
        return {_group_key(k): v for k, v in value.items()}


def _group_key(key: str) -> str:
    """Group names: a language code (monolingual) or SRC-TGT (parallel), any spelling."""
    if "-" in key:
        src, tgt = key.split("-", 1)
        return f"{resolve_code(src)}-{resolve_code(tgt)}"
    return resolve_code(key)


class RenderConfig(StrictModel):
    pair_template: str = "{src}\n{tgt}"  # also {src_lang} {tgt_lang} (English names)
    both_directions: bool = True


class PackConfig(StrictModel):
    tokenizer: str = "tiny"  # any model spec; only its tokenizer is loaded
    block_size: int = 2048
    docs_per_shard: int = 20000  # one shard is shuffled and packed in memory: ~200 MB per worker


class SlurmConfig(StrictModel):
    """What each stage's job array asks Slurm for (datatrove's SlurmPipelineExecutor)."""

    partition: str = "cpu"
    time: str = "24:00:00"  # per task of a stage's array
    cpus_per_task: int = Field(1, ge=1)
    mem_per_cpu_gb: float = Field(2.0, gt=0)
    job_name: str = "lingualift-data"
    env_command: Optional[str] = None  # run before each task, e.g. "source .venv/bin/activate"
    sbatch_args: dict[str, str] = Field(default_factory=dict)  # more #SBATCH lines: {"account": "..."}


# How a build runs, not what it makes: left out of its fingerprint.
EXECUTION = ("workers", "skip_bad", "rejects", "executor", "slurm", "ray_address", "gpus_per_task")


class Execution(StrictModel):
    """Where the tasks of `data build` and `data synth` run: datatrove's local, Slurm or Ray executor."""

    workers: int = Field(1, ge=1, description="tasks of a stage run at once (processes on local, actors on ray, "
                                              "array slots on slurm)")
    executor: Literal["local", "slurm", "ray"] = Field(
        "local", description="where the stages run: this machine, Slurm job arrays, or a Ray cluster")
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)
    ray_address: Optional[str] = Field(
        None, description="ray: address of a running cluster (ray://host:10001 or auto); unset: a local one")
    gpus_per_task: int = Field(0, ge=0, description="GPUs each task reserves on slurm or ray (data synth: 1 loads "
                                                    "one model per GPU)")


class DataConfig(Execution):
    sources: list[Source] = Field(..., description="inputs: text, jsonl, pairs, tsv, flores, parquet, hf")
    clean: CleanConfig = Field(default_factory=CleanConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    augment: list[AugmentConfig] = Field(default_factory=list)
    mix: MixConfig = Field(default_factory=MixConfig)
    render: RenderConfig = Field(default_factory=RenderConfig)
    pack: PackConfig = Field(default_factory=PackConfig)
    seed: int = Field(0, description="seed of mixing and shuffling")
    skip_bad: bool = Field(False, description="skip and count unreadable lines instead of stopping")
    rejects: bool = Field(False, description="write removed records with their reason to OUT/rejects/")

    def inputs(self) -> list[str]:
        """Every local file or folder the build reads: sources and dictionaries."""
        from lingualift.core.fingerprint import spec_paths

        found = [p for source in self.sources for p in source.inputs()]
        for a in self.augment:
            found += spec_paths(a.dictionary) + (spec_paths(a.pivot) if a.pivot else [])
        return found

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        return [d for source in self.sources for d in source.hub_datasets()]

    def pieces(self) -> list[tuple[int, int]]:
        """(source index, piece) of every task of the per-source stages, in source order:
        task ranks follow the order of the records, which is what keeps the first copy of a
        duplicate and the mix's draw the same however the sources are split."""
        return [(i, k) for i, source in enumerate(self.sources) for k in range(source.tasks)]

    def notes(self) -> list[str]:
        """Ambiguous language codes and what they were taken as, each said once."""
        return list(dict.fromkeys(n for part in (*self.sources, *self.augment) for n in part._notes))

"""One pydantic config for the three training stages (cpt, sft, dpo).

The defaults are SambaLingo's (lr 1e-4 is its CPT value; we default to LLaMAX's 2e-5, the
safer one for full fine-tuning of a pretrained model), cosine schedule, warmup 1%, weight
decay 0.1. Stage-specific fields are ignored by the other stages and say so below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import Field, ValidationError

from lingualift.config import _Strict, load_yaml
from lingualift.io import InputError

# Every linear layer of a Llama-style block: LoRA on all of them is what QLoRA found to
# match full fine-tuning; attention-only LoRA loses quality.
LLAMA_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoraSettings(_Strict):
    r: int = 16
    alpha: int = 32  # alpha = 2r, the usual scale
    dropout: float = 0.05
    target_modules: list[str] = Field(default_factory=lambda: list(LLAMA_LINEAR))
    # Train the embeddings and LM head in full next to the adapters. None: only when the
    # model comes from `vocab expand` (its new rows start untrained).
    train_embeddings: Optional[bool] = None


class TrainConfig(_Strict):
    model: str
    data: str  # cpt: folder of `data build` shards; sft: instruction JSONL/JSON; dpo: preference JSONL/JSON
    out: str
    lr: float = 2e-5
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8  # per device
    grad_accum: int = 1
    warmup_ratio: float = 0.01
    weight_decay: float = 0.1
    scheduler: str = "cosine"
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # auto: bf16 on GPUs that have it, else fp32
    gradient_checkpointing: bool = False
    attn_implementation: str = "sdpa"  # or flash_attention_2 (packed rows run varlen)
    lora: Optional[LoraSettings] = None
    embedding_steps: int = 0  # cpt: first train only embeddings + LM head for this many steps
    embedding_lr: Optional[float] = None  # cpt: their learning rate (default: lr)
    save_steps: int = 200
    save_total_limit: int = 2
    logging_steps: int = 10
    seed: int = 0
    report_to: list[str] = Field(default_factory=lambda: ["tensorboard"])
    peak_tflops: Optional[float] = None  # per device, for MFU; known GPUs are looked up
    eval_data: Optional[str] = None  # flores:DIR: held-out per-char perplexity before and after
    eval_langs: list[str] = Field(default_factory=list)
    eval_lines: str = ":"  # which FLORES lines are held out, START:END
    template: str = "chat"  # sft/dpo: chat (the tokenizer's template) or llamax-alpaca
    max_length: int = 1024  # sft/dpo: longer examples are cut
    packing: bool = False  # sft: pack examples into max_length rows, attention kept inside each
    beta: float = 0.1  # dpo: KL strength (TRL's default; SambaLingo does not publish its own)


def _set(raw: dict, dotted: str, value) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[leaf] = value


def load(path: str | None, flags: dict, sets: dict, lora: bool = False) -> TrainConfig:
    """A config from YAML (optional), then command-line flags, then `--set a.b=v` values;
    `lora` turns LoRA on with default settings unless the YAML already configures it."""
    raw: dict = load_yaml(path, TrainConfig).model_dump(exclude_unset=True) if path else {}
    raw.update({k: v for k, v in flags.items() if v is not None})
    if lora and not raw.get("lora"):
        raw["lora"] = {}
    for key, value in sets.items():
        _set(raw, key, value)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", path) from None


def parse_sets(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"--set {pair!r}: expected KEY=VALUE, e.g. lr=1e-4 or lora.r=8")
        out[key] = yaml.safe_load(value)
    return out


def dump(cfg: TrainConfig, path: Path) -> None:
    from lingualift.io import write_text

    write_text(path, yaml.safe_dump(cfg.model_dump(), sort_keys=False, allow_unicode=True))

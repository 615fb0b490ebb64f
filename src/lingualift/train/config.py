"""One pydantic settings model for the three training stages (cpt, sft, dpo).

`TrainSettings` is what the CLI flags, a recipe's cpt/sft/dpo stage and `--config` YAML share;
`TrainConfig` adds a run's inputs and output (model, data, out), filled by flags or the runner.

The defaults are SambaLingo's (lr 1e-4 is its CPT value; we default to LLaMAX's 2e-5, the
safer one for full fine-tuning of a pretrained model), cosine schedule, warmup 1%, weight
decay 0.1. Stage-specific fields are ignored by the other stages and say so below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import Field

from lingualift.core.config import CommaList, StrictModel
from lingualift.quality.rewards import DEFAULT_WEIGHTS

# Every linear layer of a Llama-style block: LoRA on all of them is what QLoRA found to
# match full fine-tuning; attention-only LoRA loses quality.
LLAMA_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoraSettings(StrictModel):
    r: int = 16
    alpha: int = 32  # alpha = 2r, the usual scale
    dropout: float = 0.05
    target_modules: list[str] = Field(default_factory=lambda: list(LLAMA_LINEAR))
    # Train the embeddings and LM head in full next to the adapters. None: only when the
    # model comes from `vocab expand` (its new rows start untrained).
    train_embeddings: Optional[bool] = None


class TrainSettings(StrictModel):
    lr: float = Field(2e-5, gt=0, description="peak learning rate")
    epochs: float = Field(1.0, gt=0, description="passes over the data (max_steps > 0 overrides)")
    max_steps: int = Field(-1, description="stop after this many optimizer steps (> 0 overrides epochs)")
    batch_size: int = Field(8, ge=1, description="rows per device per step")
    grad_accum: int = Field(1, ge=1, description="gradient accumulation steps")
    warmup_ratio: float = Field(0.01, ge=0, description="share of steps warming the learning rate up")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay")
    scheduler: str = Field("cosine", description="transformers scheduler name")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field("auto", description="auto: bf16 on GPUs that "
                                                                                   "have it, else fp32")
    gradient_checkpointing: bool = Field(False, description="recompute activations to save memory")
    attn_implementation: str = Field("sdpa", description="sdpa, eager or flash_attention_2 (packed rows run varlen)")
    lora: Optional[LoraSettings] = Field(None, description="LoRA adapters instead of full fine-tuning "
                                                          "(--lora, or --set lora.r=8)")
    embedding_steps: int = Field(0, ge=0, description="cpt: first train only embeddings + LM head for this many steps")
    embedding_lr: Optional[float] = Field(None, gt=0, description="cpt: their learning rate (default: lr)")
    # auto: a model from `vocab expand` has untrained new rows and trained old ones; moving
    # only the new ones first is the point of the phase (SambaLingo), elsewhere all rows train.
    embedding_rows: Literal["auto", "new", "all"] = Field(
        "auto", description="cpt: rows that phase trains: new (only those vocab expand added; old rows keep "
                            "their values exactly), all, or auto (new on a vocab expand model, else all)")
    save_steps: int = Field(200, ge=1, description="checkpoint every N steps")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept")
    logging_steps: int = Field(10, ge=1, description="log every N steps")
    seed: int = Field(0, description="seed of initialisation and data order")
    report_to: CommaList = Field(default_factory=lambda: ["tensorboard"], description="loggers: tensorboard, "
                                                                                       "wandb, ... ('' for none)")
    peak_tflops: Optional[float] = Field(None, gt=0, description="per device, for MFU; known GPUs are looked up")
    eval_data: Optional[str] = Field(None, description="flores:DIR: held-out per-char perplexity before and after")
    eval_langs: CommaList = Field(default_factory=list, description="languages of that evaluation")
    eval_lines: str = Field(":", description="which FLORES lines are held out, START:END")
    template: Literal["chat", "llamax-alpaca"] = Field("chat", description="sft/dpo: chat (the tokenizer's "
                                                                           "template) or llamax-alpaca")
    max_length: int = Field(1024, ge=8, description="sft/dpo: longer examples are cut")
    packing: bool = Field(False, description="sft: pack examples into max_length rows, attention kept inside each")
    beta: float = Field(0.1, gt=0, description="dpo: KL strength (TRL's default; SambaLingo publishes none)")
    num_generations: int = Field(4, ge=2, description="grpo: completions sampled per prompt (the group)")
    max_completion_length: int = Field(128, ge=1, description="grpo: longest completion, in tokens")
    rewards: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS),
                                      description="grpo: reward term -> weight (chrf, language, repetition, length, "
                                                  "qe)")
    grpo_beta: float = Field(0.0, ge=0, description="grpo: KL strength to the starting model (TRL's default 0: "
                                                    "no reference model in memory)")
    qe_model: Optional[str] = Field(None, description="grpo: COMET-Kiwi model for the qe reward term")
    push_to_hub: Optional[str] = Field(None, description="upload the final model, tokenizer and card to this hub "
                                                         "repository (owner/name)")


class TrainConfig(TrainSettings):
    """A training run: its settings and what it reads and writes."""

    model: str  # model spec
    data: str  # cpt: folder of `data build` shards; sft: instruction JSONL/JSON; dpo: preference JSONL/JSON
    out: str  # run folder


def dump(cfg: TrainConfig, path: Path) -> None:
    from lingualift.core.io import write_text

    write_text(path, yaml.safe_dump(cfg.model_dump(), sort_keys=False, allow_unicode=True))

"""What every training stage shares: model loading, LoRA, Trainer arguments, throughput
logging, the loss curve, the final save and the manifest.

Runs are plain Hugging Face `Trainer` runs: checkpoints in OUT/checkpoints (optimizer,
scheduler, RNG and data position included, so `--resume` continues with the same data
order), the final model in OUT/model (a HF directory, or a PEFT adapter directory with
the tokenizer), TensorBoard logs in OUT/tensorboard, OUT/loss.png and OUT/manifest.json.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from transformers import TrainerCallback

from lingualift.core.io import InputError, write_json
from lingualift.train.config import TrainConfig, dump

# Dense bf16 peak per device (vendor datasheets), for the MFU estimate.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0,
               "RTX 4090": 165.0, "V100": 125.0}


def check_out(cfg: TrainConfig, resume: bool, overwrite: bool) -> Path:
    out = Path(cfg.out)
    if (out / "model").exists() and not overwrite:
        raise InputError("training output already has a final model (pass --overwrite to train again)", out / "model")
    if (out / "checkpoints").exists() and not (resume or overwrite):
        raise InputError("training output has checkpoints: pass --resume to continue, --overwrite to start over",
                         out / "checkpoints")
    if overwrite:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def load_model(cfg: TrainConfig, spec: str | None = None):
    """fp32 master weights (mixed precision casts on the fly) and the tokenizer, with a pad token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lingualift.inference.models import resolve_spec

    directory, gguf = resolve_spec(spec or cfg.model)
    if gguf:
        raise InputError("train from a converted model, not a GGUF file (`lingualift models fetch` converts presets)",
                         directory / gguf)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32,
                                                 attn_implementation=cfg.attn_implementation)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, directory


def model_skeleton(cfg: TrainConfig):
    """The model's directory and an empty (meta-device) instance: enough to check data and
    LoRA settings against it before any weights load."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from lingualift.inference.models import resolve_spec

    directory, gguf = resolve_spec(cfg.model)
    if gguf:
        raise InputError("train from a converted model, not a GGUF file (`lingualift models fetch` converts presets)",
                         directory / gguf)
    with torch.device("meta"):
        return directory, AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(directory))


def prepare(cfg: TrainConfig, resume: bool, overwrite: bool):
    """LoRA checked against the model before anything is written, OUT made ready, the model
    loaded: (model, tokenizer, peft config or None, out, base directory)."""
    directory, skeleton = model_skeleton(cfg)
    peft_config = lora_config(cfg, skeleton, directory) if cfg.lora else None
    out = check_out(cfg, resume, overwrite)
    model, tokenizer, _ = load_model(cfg)
    return model, tokenizer, peft_config, out, directory


def expanded_vocab(directory: Path) -> bool:
    """Whether the model was made by `vocab expand` (its manifest says so)."""
    manifest = directory / "manifest.json"
    return manifest.is_file() and "new_token_ids" in json.loads(manifest.read_text(encoding="utf-8"))


def lora_config(cfg: TrainConfig, model, directory: Path):
    """A PEFT LoraConfig, checked against the model's module names before anything runs."""
    from peft import LoraConfig

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in cfg.lora.target_modules if m not in names]
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if type(m).__name__ == "Linear"})
        raise InputError(f"LoRA target module {missing[0]!r} is not in {type(model).__name__}; "
                         f"its linear layers: {', '.join(linear)}")
    train_embeddings = cfg.lora.train_embeddings
    if train_embeddings is None:
        train_embeddings = expanded_vocab(directory)
    embeddings = [n for n in ("embed_tokens", "lm_head") if n in names] if train_embeddings else None
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, modules_to_save=embeddings, task_type="CAUSAL_LM",
                      # a tied input/output matrix stays one matrix when both are trained in full
                      ensure_weight_tying=tied and bool(embeddings))


def precision(cfg: TrainConfig) -> dict:
    import torch

    choice = cfg.precision
    if choice == "auto":
        choice = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return {"bf16": choice == "bf16", "fp16": choice == "fp16"}


def arguments(cfg: TrainConfig, out: Path, *, max_steps: int | None = None, lr: float | None = None,
              subdir: str = "checkpoints", config_class=None, **extra):
    """TrainingArguments (or a TRL config class) for this run."""
    import torch
    from transformers import TrainingArguments

    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(out / "tensorboard"))
    config_class = config_class or TrainingArguments
    return config_class(
        output_dir=str(out / subdir), learning_rate=lr or cfg.lr, num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps if max_steps is None else max_steps,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, lr_scheduler_type=cfg.scheduler,
        activation_checkpointing=cfg.gradient_checkpointing, save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit, logging_steps=cfg.logging_steps, logging_first_step=True,
        seed=cfg.seed, data_seed=cfg.seed, report_to=cfg.report_to, include_num_input_tokens_seen="all",
        # use_cpu makes a CPU run under torchrun a gloo DDP run (else each rank trains alone)
        dataloader_pin_memory=torch.cuda.is_available(), use_cpu=not torch.cuda.is_available(),
        **precision(cfg), **extra)


class Meter:
    """Counts the positions a collator hands out and those holding text (not padding):
    their ratio is the packing efficiency. Collators without one report none."""

    def __init__(self) -> None:
        self.positions = self.real = 0
        self.total_positions = self.total_real = 0

    def add(self, positions: int, real: int) -> None:
        self.positions += positions
        self.real += real
        self.total_positions += positions
        self.total_real += real

    def take(self) -> tuple[int, int]:
        out = (self.positions, self.real)
        self.positions = self.real = 0
        return out


class _Start(TrainerCallback):
    """Starts the throughput clock when training (re)starts, after a checkpoint's state loads."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer._last, self.trainer._seen = time.perf_counter(), state.num_input_tokens_seen


def metered(trainer_class):
    """`trainer_class` logging tokens/s, MFU and packing efficiency with its loss."""

    class Metered(trainer_class):
        def __init__(self, *args, meter: Meter, flops_per_token: float, peak_flops: float | None, **kwargs):
            super().__init__(*args, **kwargs)
            self.meter, self.flops_per_token, self.peak_flops = meter, flops_per_token, peak_flops
            self._last, self._seen = time.perf_counter(), 0
            self.add_callback(_Start(self))

        def log(self, logs: dict, *args, **kwargs) -> None:
            if "loss" in logs:
                now = time.perf_counter()
                seen = self.state.num_input_tokens_seen  # summed over processes
                seconds = max(now - self._last, 1e-9)
                per_s = (seen - self._seen) / seconds
                self._last, self._seen = now, seen
                logs["tokens_per_s"] = round(per_s, 1)
                positions, real = self.meter.take()
                if positions:
                    logs["packing_efficiency"] = round(real / positions, 4)
                if self.peak_flops:
                    world = max(self.args.world_size, 1)
                    logs["mfu"] = round(self.flops_per_token * per_s / world / self.peak_flops, 4)
            super().log(logs, *args, **kwargs)

    Metered.__name__ = f"Metered{trainer_class.__name__}"
    return Metered


def throughput_kwargs(cfg: TrainConfig, model, meter: Meter) -> dict:
    """6N FLOPs per token (Kaplan et al.: forward + backward, non-embedding parameters)."""
    import torch

    peak = cfg.peak_tflops
    if peak is None and torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    flops = 6 * model.num_parameters(exclude_embeddings=True)
    return {"meter": meter, "flops_per_token": flops, "peak_flops": peak * 1e12 if peak else None}


def resume_point(out: Path, subdir: str = "checkpoints") -> str | None:
    """The newest *complete* checkpoint. A kill while a checkpoint is being written leaves a
    folder without trainer_state.json (the Trainer writes it last), which transformers'
    get_last_checkpoint would pick and fail on; such folders are removed."""
    folder = out / subdir
    steps = sorted((int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*")
                   if p.name.split("-")[1].isdigit()) if folder.is_dir() else []
    for _, path in reversed(steps):
        if (path / "trainer_state.json").is_file():
            return str(path)
        shutil.rmtree(path, ignore_errors=True)
    return None


def loss_png(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(h["step"], h["loss"]) for h in history if "loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    if points:
        ax.plot(*zip(*points), marker="." if len(points) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def save_final(trainer, tokenizer, out: Path, base_directory: Path, cfg: TrainConfig, stage: str) -> Path:
    """The final model (or adapter) with its tokenizer in OUT/model, written then renamed.
    An adapter also records the base it was trained on and that base's vocabulary size, so
    `lingualift export --merge` can rebuild exactly that base (resized) before merging."""
    final = out / "model"
    tmp = out / ".model.tmp"
    main = trainer.args.process_index == 0
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))  # every rank takes part (FSDP gathers the shards); rank 0 writes
    if main:
        tokenizer.save_pretrained(str(tmp))
        _card(tmp, cfg, stage, base_directory)
        model = trainer.model
        if hasattr(model, "peft_config"):
            base = model.get_base_model()
            write_json(tmp / "lingualift_adapter.json", {
                "base_model": str(base_directory), "vocab_rows": base.get_input_embeddings().weight.shape[0],
                "tokenizer_length": len(tokenizer),
                "modules_to_save": sorted(model.peft_config["default"].modules_to_save or [])})
        shutil.rmtree(final, ignore_errors=True)
        tmp.replace(final)
    trainer.accelerator.wait_for_everyone()
    return final


def _card(folder: Path, cfg: TrainConfig, stage: str, base_directory: Path) -> None:
    """The model card of a training run's model: its base, languages (those of the vocab-expand
    manifest of its base, and the held-out ones) and data."""
    from lingualift.inference import modelcard

    manifest = base_directory / "manifest.json"
    langs = json.loads(manifest.read_text(encoding="utf-8")).get("langs", []) if manifest.is_file() else []
    from lingualift.lang.languages import resolve_many

    modelcard.write(folder, stage=stage, base_model=cfg.model, name=Path(cfg.out).name,
                    langs=list(dict.fromkeys([*langs, *resolve_many(cfg.eval_langs)])), datasets=[cfg.data])


def push(cfg: TrainConfig, final: Path) -> None:
    """`push_to_hub`: the final model with its card and the run's manifest and loss curve."""
    if not cfg.push_to_hub:
        return
    from lingualift.core.assets import push as upload

    for extra in ("manifest.json", "loss.png"):
        if (final.parent / extra).is_file():
            shutil.copy2(final.parent / extra, final / extra)
    upload(final, cfg.push_to_hub)


def write_manifest(out: Path, stage: str, cfg: TrainConfig, trainer, extra: dict) -> dict:
    from lingualift.core.provenance import provenance

    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    manifest = {"stage": stage, "config": cfg.model_dump(), "steps": trainer.state.global_step,
                "first_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None,
                "tokens_seen": trainer.state.num_input_tokens_seen, **extra, **provenance()}
    if trainer.args.process_index != 0:
        return manifest
    write_json(out / "manifest.json", manifest)
    (out / "log.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history), encoding="utf-8")
    dump(cfg, out / "config.yaml")
    loss_png(history, out / "loss.png", f"{stage}: {cfg.model}")
    push(cfg, out / "model")
    return manifest

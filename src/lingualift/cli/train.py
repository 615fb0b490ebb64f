"""`lingualift train cpt / sft / dpo / grpo / merge` and `lingualift export`."""

from __future__ import annotations

import os
from typing import Optional

import typer

from lingualift.cli.common import console, progress_bar
from lingualift.cli.options import stage_command
from lingualift.core.io import InputError, check_output
from lingualift.train.config import LoraSettings, TrainConfig, TrainSettings
from lingualift.train.merge_config import MergeSettings

train_app = typer.Typer(help="Train: continual pretraining (cpt), instruction tuning (sft), preference tuning (dpo), "
                             "reinforcement learning with translation rewards (grpo), model merging (merge).",
                        no_args_is_help=True)

CONFIG_HELP = "YAML with training settings (and optionally model, data, out); flags and --set override it."
STAGES = {
    "cpt": ("Folder of `lingualift data build` shards.",
            "Continual pretraining on packed shards; full fine-tuning or LoRA, optional embeddings-first phase.\n\n"
            "Example: lingualift train cpt --config recipes/cpt-tiny.yaml\n\nMany GPUs: accelerate launch "
            "--config_file configs/accelerate/fsdp.yaml -m lingualift train cpt --config ..."),
    "sft": ("Instruction JSONL/JSON: messages, Alpaca or ShareGPT records.",
            "Instruction tuning, loss on assistant tokens only; chat template or LLaMAX's Alpaca prompt.\n\n"
            "Example: lingualift train sft --config recipes/sft-tiny.yaml"),
    "grpo": ("Parallel JSONL/JSON: src, tgt, src_lang, tgt_lang.",
             "Reinforcement learning with translation rewards (chrF++, target language, repetition, length, "
             "QE) on TRL's GRPOTrainer.\n\nExample: lingualift train grpo --model runs/demo/sft/model --data "
             "pairs.jsonl --out runs/grpo --max-steps 200 --set rewards.chrf=1.0"),
    "dpo": ("Preference JSONL/JSON: prompt, chosen, rejected.",
            "Preference tuning with TRL's DPOTrainer (SambaLingo's stage after SFT).\n\n"
            "Example: lingualift train dpo --model runs/sft-tiny/model --data runs/dpo-tiny.jsonl --out runs/dpo-tiny"),
}


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.command("export")(export)
    for stage, (data_help, doc) in STAGES.items():
        _train_command(stage, data_help, doc)
    stage_command(train_app, "merge", MergeSettings, path="train merge")(merge)


def _train_command(stage: str, data_help: str, doc: str) -> None:
    def command(
        settings: TrainSettings,
        model: Optional[str] = typer.Option(None, help="Model spec: preset, HF directory, hub id."),
        data: Optional[str] = typer.Option(None, help=data_help),
        out: Optional[str] = typer.Option(None, help="Run folder: model/, checkpoints/, tensorboard/, loss.png, "
                                                     "manifest.json."),
        lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters with default settings (tune with "
                                                        "--set lora.r=...)."),
        resume: bool = typer.Option(False, help="Continue from the last complete checkpoint in OUT/checkpoints."),
        overwrite: bool = typer.Option(False, help="Delete OUT and start over."),
    ) -> None:
        import importlib

        for name, value in (("model", model), ("data", data), ("out", out)):
            if value is None:
                raise InputError(f"--{name} is required (or name it in --config)")
        check_output(out, "folder")
        if lora and settings.lora is None:
            settings = settings.model_copy(update={"lora": LoraSettings()})
        cfg = TrainConfig(**settings.model_dump(), model=model, data=data, out=out)
        manifest = importlib.import_module(f"lingualift.train.{stage}").run(cfg, resume=resume, overwrite=overwrite)
        if os.environ.get("RANK", "0") != "0":  # one report per run, not per process
            return
        console.print(f"{stage}: {manifest['steps']} steps, loss {manifest['first_loss']:.4f} -> "
                      f"{manifest['final_loss']:.4f}; model: {manifest['model_dir']}")
        for code, ppl in (manifest.get("heldout_ppl_char") or {}).items():
            console.print(f"{code}: held-out per-character perplexity {ppl['before']:.3f} -> {ppl['after']:.3f}")

    command.__doc__ = doc
    command.__name__ = f"train_{stage}"
    stage_command(train_app, stage, TrainSettings, path=f"train {stage}", config_help=CONFIG_HELP)(command)


def merge(
    settings: MergeSettings,
    model: Optional[str] = typer.Option(None, help="The adapted model: preset, HF directory, hub id."),
    data: Optional[str] = typer.Option(None, help="flores:DIR whose dev lines choose the weight."),
    out: Optional[str] = typer.Option(None, help="Folder: model/ (the chosen merge) and merge.json."),
    resume: bool = typer.Option(False, help="Continue an unfinished merge in OUT, rescoring no weight already "
                                            "scored."),
    overwrite: bool = typer.Option(False, help="Delete OUT and start over."),
) -> None:
    """Merge the adapted model with its base (and an instruct model) through mergekit at each
    of --weights, score each merge on held-out FLORES dev lines, keep the best.

    Example: lingualift train merge --model runs/demo/sft/model --base smollm2-135m --method linear
    --weights 0.25,0.5,0.75,1 --data flores:../shared/data/flores200 --langs sw --out runs/merge
    """
    from lingualift.train.merge import run

    for name, value in (("model", model), ("data", data), ("out", out)):
        if value is None:
            raise InputError(f"--{name} is required (or name it in --config)")
    info = run(settings, model=model, data=data, out=out, resume=resume, overwrite=overwrite, progress=progress_bar)
    for record in info["scores"]:
        console.print(f"w={record['weight']:g}: {info['metric']} {record['score']:.3f}")
    console.print(f"chosen w={info['chosen']['weight']:g} ({info['method']}); model: {info['model']}")


def export(
    adapter: str = typer.Option(..., help="A LoRA run's model/ folder (adapter + tokenizer)."),
    out: str = typer.Option(..., help="Folder for the merged Hugging Face model."),
    merge: bool = typer.Option(True, "--merge/--no-merge", help="Merge the adapter into its base (the only mode)."),
    base: Optional[str] = typer.Option(None, help="Base model, if not the one recorded at training time."),
) -> None:
    """Merge a LoRA adapter into its base, resizing the base's embeddings first if the
    vocabulary was expanded (the LLaMA-Factory / axolotl failure).

    Example: lingualift export --adapter runs/cpt-lora/model --merge --out runs/cpt-merged
    """
    from lingualift.train.export import merge as merge_adapter

    if not merge:
        raise InputError("export writes merged models; an adapter folder is already usable as it is")
    check_output(out, "folder")
    info = merge_adapter(adapter, out, base)
    console.print(f"merged into {out} (base {info['base']}, {info['vocab_rows']} embedding rows"
                  f"{', base resized first' if info['base_resized'] else ''})")

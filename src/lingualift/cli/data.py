"""`lingualift data build / stats / sft / dpo`: training data from corpora."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from lingualift.cli.common import console, err_console, progress_bar
from lingualift.cli.options import stage_command
from lingualift.core.io import InputError
from lingualift.data.config import DataConfig
from lingualift.data.instructions import InstructionConfig
from lingualift.data.preferences import PreferenceConfig
from lingualift.data.synth import SynthConfig

data_app = typer.Typer(help="Build training data: clean, deduplicate, augment, mix, pack; instruction and "
                            "preference data; inspect corpora.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@stage_command(data_app, "build", DataConfig, path="data build",
               config_help="Data config YAML (sources, clean, dedup, augment, mix, render, pack); required.")
def data_build(
    settings: DataConfig,
    out: str = typer.Option(..., help="Output folder: shard-*.parquet, manifest.json (and rejects/)."),
) -> None:
    """Build packed, tokenised Parquet shards from a data config on this machine, a Slurm
    cluster or a Ray cluster (--executor); resumes after a kill.

    Example: lingualift data build --config recipes/data-demo.yaml --out runs/data-demo --workers 2
    """
    from lingualift.data.build import build

    manifest = build(settings, out, progress=progress_bar)
    if manifest is None:
        console.print(f"submitted to Slurm: one job array per stage (logs: {out}/.work/logs/STAGE/); the last job "
                      f"writes {out}/manifest.json")
        return
    table = Table("language / direction", "documents", "tokens", "removed")
    for group, row in manifest["languages"].items():
        table.add_row(group, str(row["documents"]), str(row["tokens"]),
                      str(sum(manifest["removed"].get(group, {}).values())))
    console.print(table)
    for note in manifest["notes"]:
        err_console.print(f"note: {note}", soft_wrap=True)
    for warning in manifest["warnings"]:
        err_console.print(f"warning: {warning}", soft_wrap=True)
    packing = manifest["packing"]
    console.print(f"{packing['blocks']} blocks of {packing['block_size']} tokens, packing efficiency "
                  f"{packing['efficiency']}, {len(manifest['shards'])} shard(s); manifest: {out}/manifest.json")


@data_app.command("stats")
def data_stats(
    path: str = typer.Argument(..., help="A corpus file (.txt/.jsonl, optionally .gz/.zst/.xz) or a built folder."),
    lang: Optional[str] = typer.Option(None, help="Language of a plain-text corpus."),
) -> None:
    """Per-language counts, length histograms and duplicate share of a corpus or dataset.

    Example: lingualift data stats runs/demo/data     lingualift data stats corpus.sw.txt.gz --lang sw
    """
    from lingualift.data.stats import corpus_stats, dataset_stats

    if Path(path).is_dir():
        print(json.dumps(dataset_stats(path), indent=2, ensure_ascii=False))
    else:
        if ".jsonl" not in Path(path).name and not lang:
            raise InputError("a plain-text corpus needs --lang", path)
        print(json.dumps(corpus_stats(path, lang), indent=2, ensure_ascii=False))


@stage_command(data_app, "sft", InstructionConfig, path="data sft",
               config_help="YAML: sources (parallel), alpaca files, tasks with counts, dictionary, shots.")
def data_sft(
    settings: InstructionConfig,
    out: str = typer.Option(..., help="Instruction JSONL to write (a .report.json is written beside it)."),
) -> None:
    """Build instruction data: LLaMAX translation instructions and Tower-style tasks (document MT,
    terminology, post-editing, paraphrase, few-shot) from parallel data, plus Alpaca files.

    Example: lingualift data sft --config recipes/sft-data-tiny.yaml --out runs/sft-tiny.jsonl
    """
    from lingualift.data.instructions import build

    report = build(settings, out)
    table = Table("task", "examples", "requested")
    for task, n in sorted(report["tasks"].items()):
        table.add_row(task, str(n), str(report["requested"].get(task, "all")))
    console.print(table)
    console.print(f"{report['examples']} examples -> {out} (mixture report: {out}.report.json)")


@stage_command(data_app, "dpo", PreferenceConfig, path="data dpo",
               config_help="YAML: sources (parallel), examples, both_directions, seed.")
def data_dpo(
    settings: PreferenceConfig,
    out: str = typer.Option(..., help="Preference JSONL to write."),
    model: Optional[str] = typer.Option(None, help="Use this model's own translations as the rejected answers."),
) -> None:
    """Build translation preference pairs: the reference is chosen, the model's output (or a
    degraded reference) rejected.

    Example: lingualift data dpo --config recipes/dpo-data-tiny.yaml --out runs/dpo-tiny.jsonl
    """
    from lingualift.data.preferences import build

    report = build(settings, out, model)
    console.print(f"{report['examples']} pairs -> {out}; rejected from {report['rejected_from']}")


@stage_command(data_app, "synth", SynthConfig, path="data synth",
               config_help="YAML: sources, lang, into, direction, filters, decoding; flags override it.")
def data_synth(
    settings: SynthConfig,
    model: str = typer.Option(..., help="The model that translates: a preset, HF directory (LLM or NLLB / M2M-100 / "
                                        "MADLAD), hub id."),
    out: str = typer.Option(..., help="Parallel JSONL to write (OUT.manifest.json beside it; OUT.parts/ while it runs)."),
) -> None:
    """Synthetic parallel data: back-translation (target-language text -> English, human target side)
    or forward translation, filtered (language, length ratio, repetition, copies, round-trip chrF++,
    duplicates, QE), resumable in chunks, in --tasks tasks on this machine, Slurm or Ray (--executor).

    Example: lingualift data synth --config recipes/synth-demo.yaml --model smollm2-135m --out runs/bt.jsonl
    """
    from lingualift.data.synth_run import run

    manifest = run(settings, model=model, out=out, progress=progress_bar, log=console.print)
    if manifest is None:
        console.print(f"submitted to Slurm: {settings.tasks} array task(s) (logs: {out}.parts/logs/), then a job "
                      f"that writes {out} and {out}.manifest.json")
        return
    removed = ", ".join(f"{r} {n}" for r, n in manifest["removed"].items()) or "none"
    console.print(f"{manifest['pairs']} pairs from {manifest['texts']} texts -> {out}; removed: {removed}; "
                  f"manifest: {out}.manifest.json")

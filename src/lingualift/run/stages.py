"""The stages of a recipe: what each one needs, what it makes, and how it runs.

A stage reads artifacts that earlier stages made (`model`: the model the next stage starts
from; `shards`: CPT data) and returns its outputs, a dict of named paths that the runner
writes to STAGE/outputs.json. Later stages, a skipped re-run and the report read those
declared outputs; no stage guesses another's folder layout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lingualift.core.io import write_text
from lingualift.run.context import Context, Stage, settings_of
from lingualift.run.suites import evaluate


def _trained_model(folder: Path) -> str:
    """A training stage's model; a LoRA adapter is merged (resized first) so the next stage
    and evaluation get a plain model."""
    model = folder / "model"
    if (model / "adapter_config.json").is_file():
        merged = folder / "merged"
        if not (merged / "config.json").is_file():
            from lingualift.train.export import merge

            merge(model, merged)
        return str(merged)
    return str(model)


def vocab(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.corpora.sources import heldout
    from lingualift.vocab.expand import expand

    v = ctx.recipe.vocab
    corpus = list(v.corpus)
    if v.flores:
        lines = [line for code in ctx.recipe.langs for line in heldout(v.flores, code, v.flores_lines)]
        write_text(folder / "corpus-flores.txt", "\n".join(lines) + "\n")
        corpus.append(str(folder / "corpus-flores.txt"))
    from lingualift.vocab.config import ExpandSettings

    expand(settings_of(v, ExpandSettings), model=ctx.artifacts["model"], corpus=corpus, langs=ctx.recipe.langs,
           out=folder / "model", overwrite=True, log=ctx.log)
    return {"model": str(folder / "model"), "manifest": str(folder / "model" / "manifest.json")}


def data(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.data.build import build

    cfg = ctx.recipe.data.model_copy(deep=True)
    cfg.pack.tokenizer = ctx.artifacts["model"]  # packed with the tokenizer the model now has
    build(cfg, folder / "shards", progress=ctx.progress)
    return {"shards": str(folder / "shards"), "manifest": str(folder / "shards" / "manifest.json")}


def _train(ctx: Context, stage: str, folder: Path, resume: bool, data_path: str) -> dict:
    import importlib

    from lingualift.train.config import TrainConfig, TrainSettings

    settings = settings_of(getattr(ctx.recipe, stage), TrainSettings)
    cfg = TrainConfig(**settings.model_dump(), model=ctx.artifacts["model"], data=data_path, out=str(folder / "train"))
    finished = (folder / "train" / "manifest.json").is_file()  # killed after training, before the move
    has_checkpoints = (folder / "train" / "checkpoints").is_dir()
    if not (resume and finished):
        importlib.import_module(f"lingualift.train.{stage}").run(cfg, resume=resume and has_checkpoints,
                                                                 overwrite=not (resume and has_checkpoints))
    model = folder / "model"
    if model.exists():
        shutil.rmtree(model)
    (folder / "train" / "model").rename(model)
    return {"model": _trained_model(folder), "manifest": str(folder / "train" / "manifest.json"),
            "loss_png": str(folder / "train" / "loss.png")}


def cpt(ctx: Context, folder: Path, resume: bool) -> dict:
    return _train(ctx, "cpt", folder, resume, ctx.artifacts["shards"])


def _built(spec, folder: Path, builder) -> str:
    """A stage's data: a file as given, or built into the stage folder once."""
    if isinstance(spec, str):
        return spec
    path = folder / "data.jsonl"
    if not path.is_file():
        builder(spec, path)
    return str(path)


def sft(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.data.instructions import build

    return _train(ctx, "sft", folder, resume, _built(ctx.recipe.sft.data, folder, build))


def dpo(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.data.preferences import build

    return _train(ctx, "dpo", folder, resume, _built(ctx.recipe.dpo.data, folder, build))


def grpo(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.data.parallel import build_pairs

    return _train(ctx, "grpo", folder, resume, _built(ctx.recipe.grpo.data, folder, build_pairs))


def merge(ctx: Context, folder: Path, resume: bool) -> dict:
    """The model so far merged with the recipe's model (or `merge.base`) at the weight its
    dev lines choose; a merge finished before a kill is kept."""
    from lingualift.train.merge import run
    from lingualift.train.merge_config import MergeSettings

    m, recipe = ctx.recipe.merge, ctx.recipe
    settings = settings_of(m, MergeSettings)
    settings = settings.model_copy(update={"base": settings.base or recipe.model, "langs": settings.langs or recipe.langs})
    if not (resume and (folder / "merge.json").is_file()):
        run(settings, model=ctx.artifacts["model"], data=m.data, out=folder, resume=resume, progress=ctx.progress,
            log=ctx.log)
    return {"model": str(folder / "model"), "merge": str(folder / "merge.json")}


def report(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.core.io import write_json
    from lingualift.run.report import render, summary

    numbers = summary(ctx.outputs, ctx.recipe.gates)
    write_json(folder / "summary.json", numbers)
    write_text(folder / "report.html", render(ctx.recipe, ctx.artifacts["model"], numbers, ctx.outputs, folder))
    for gate in numbers["gates"]:
        ctx.log(f"gate {'passed' if gate['passed'] else 'FAILED'}: {gate['gate']} ({gate['measured']})")
    ctx.log(f"report: {folder / 'report.html'}")
    return {"report": str(folder / "report.html"), "summary": str(folder / "summary.json")}


STAGES = {s.name: s for s in (
    Stage("vocab", ("model",), ("model",), vocab),
    Stage("data", ("model",), ("shards",), data),
    Stage("cpt", ("model", "shards"), ("model",), cpt),
    Stage("sft", ("model",), ("model",), sft),
    Stage("dpo", ("model",), ("model",), dpo),
    Stage("grpo", ("model",), ("model",), grpo),
    Stage("merge", ("model",), ("model",), merge),
    Stage("eval", ("model",), (), evaluate),
    Stage("report", (), (), report),
)}

"""The stages of a recipe: what each one needs, what it makes, and how it runs.

A stage reads artifacts that earlier stages made (`model`: the model the next stage starts
from; `shards`: CPT data) and returns its outputs, a dict of named paths that the runner
writes to STAGE/outputs.json. Later stages, a skipped re-run and the report read those
declared outputs; no stage guesses another's folder layout.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from lingualift.core.io import write_text
from lingualift.core.progress import ProgressFactory
from lingualift.run.recipe import Recipe

M = TypeVar("M", bound=BaseModel)


@dataclass
class Context:
    recipe: Recipe
    artifacts: dict[str, str]  # artifact name -> path (or model spec), as made so far
    outputs: dict[str, dict]  # stage -> its declared outputs, for the report
    log: Callable[[str], None] = print
    progress: ProgressFactory | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    needs: tuple[str, ...]  # artifacts read
    makes: tuple[str, ...]  # artifacts written (a subset of the outputs returned)
    run: Callable[[Context, Path, bool], dict] = field(repr=False)


def settings_of(stage, settings: type[M]) -> M:
    """A command's settings out of the recipe stage that embeds them (and adds inputs)."""
    return settings(**stage.model_dump(include=set(settings.model_fields)))


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


def evaluate(ctx: Context, folder: Path, resume: bool) -> dict:
    """The base model and the adapted one on the same directions and settings, and their
    per-character perplexity on held-out lines."""
    from lingualift.core.io import write_json
    from lingualift.corpora.sources import heldout
    from lingualift.eval import translate
    from lingualift.eval.config import TranslateSettings
    from lingualift.inference import models
    from lingualift.inference.perplexity import nll

    e, recipe = ctx.recipe.eval, ctx.recipe
    settings = settings_of(e, TranslateSettings)
    if not settings.langs:
        settings = settings.model_copy(update={"langs": recipe.langs})
    adapted = ctx.artifacts["model"]
    for role, spec in (("base", recipe.model), ("adapted", adapted)):
        translate.run(settings, model=spec, data=e.data, out=str(folder / role),
                      compare=str(folder / "base") if role == "adapted" else None, progress=ctx.progress)
    outputs = {"base": str(folder / "base" / "results.json"), "adapted": str(folder / "adapted" / "results.json"),
               "adapted_report": str(folder / "adapted" / "report.html")}
    _card_results(adapted, folder / "adapted" / "results.json")
    if e.ppl_lines:
        result: dict = {}
        for role, spec in (("base", recipe.model), ("adapted", adapted)):
            model, tokenizer = models.load(spec)
            for code in recipe.langs:
                result.setdefault(code, {})[role] = nll(model, tokenizer, heldout(e.data, code, e.ppl_lines))
        write_json(folder / "perplexity.json", {"lines": e.ppl_lines, "languages": result})
        outputs["perplexity"] = str(folder / "perplexity.json")
    return outputs


def _card_results(model: str, results: Path) -> None:
    """The adapted model's card gains its scores (with CIs against the base) when lingualift made it."""
    import json

    from lingualift.inference import modelcard

    if (Path(model) / "README.md").is_file() and results.is_file():
        modelcard.add_results(model, modelcard.results_of(json.loads(results.read_text(encoding="utf-8"))))


def report(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.core.io import write_json
    from lingualift.run.report import render, summary

    numbers = summary(ctx.outputs)
    write_json(folder / "summary.json", numbers)
    write_text(folder / "report.html", render(ctx.recipe, ctx.artifacts["model"], numbers, ctx.outputs, folder))
    ctx.log(f"report: {folder / 'report.html'}")
    return {"report": str(folder / "report.html"), "summary": str(folder / "summary.json")}


STAGES = {s.name: s for s in (
    Stage("vocab", ("model",), ("model",), vocab),
    Stage("data", ("model",), ("shards",), data),
    Stage("cpt", ("model", "shards"), ("model",), cpt),
    Stage("sft", ("model",), ("model",), sft),
    Stage("dpo", ("model",), ("model",), dpo),
    Stage("merge", ("model",), ("model",), merge),
    Stage("eval", ("model",), (), evaluate),
    Stage("report", (), (), report),
)}

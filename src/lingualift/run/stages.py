"""The stages of a recipe: what each one needs, what it makes, and how it runs.

A stage reads artifacts that earlier stages made (`model`: the model the next stage starts
from; `shards`: CPT data) and returns its outputs, a dict of named paths that the runner
writes to STAGE/outputs.json. Later stages, a skipped re-run and the report read those
declared outputs; no stage guesses another's folder layout.
"""

from __future__ import annotations

import json
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
    model, trained = folder / "model", folder / "train" / "model"
    if trained.exists():  # else it was moved here before a kill
        if model.exists():
            shutil.rmtree(model)
        trained.rename(model)
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


def _sft_data(ctx: Context, synthetic: str | None):
    """sft.data, with a synth stage's pairs as one more source."""
    from lingualift.data.config import Source

    spec = ctx.recipe.sft.data
    if synthetic is None:
        return spec
    return spec.model_copy(update={"sources": [*spec.sources, Source(type="jsonl", path=synthetic,
                                                                     name="synthetic")]})


def synth(ctx: Context, folder: Path, resume: bool) -> dict:
    """Iterative back-translation. Round 1 translates with synth.model (default: the model so
    far); each round but the last then trains the recipe's SFT on sft.data plus its pairs, from
    the model so far, scores that model on the eval stage's held-out lines, and lends it to
    the next round. The last round's pairs join sft.data in the sft stage. A round whose pairs
    and SFT were made before a kill is kept."""
    from lingualift.core.io import write_json
    from lingualift.data.instructions import build
    from lingualift.data.synth import SynthConfig
    from lingualift.data.synth_run import run as synthesize

    s, start = ctx.recipe.synth, ctx.artifacts["model"]
    translator, rounds = s.model or start, []
    for k in range(1, s.rounds + 1):
        here = folder / f"round-{k}"
        pairs = here / "pairs.jsonl"
        manifest_path = Path(f"{pairs}.manifest.json")
        if not manifest_path.is_file():
            synthesize(settings_of(s, SynthConfig).model_copy(update={"round": k}), model=translator, out=pairs,
                       progress=ctx.progress, log=ctx.log)
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entry = {"round": k, "model": translator, "texts": manifest["texts"], "pairs": manifest["pairs"],
                 "removed": manifest["removed"], "output": str(pairs)}
        if k < s.rounds:
            data = _built(_sft_data(ctx, str(pairs)), here, build)
            round_ctx = Context(ctx.recipe, {**ctx.artifacts, "model": start}, {}, ctx.log, ctx.progress)
            translator = _train(round_ctx, "sft", here, resume and (here / "train").is_dir(), data)["model"]
            if ctx.recipe.eval is not None:
                entry["heldout"] = _round_scores(ctx, translator, here / "eval")
        rounds.append(entry)
        ctx.log(f"synth round {k}: {entry['pairs']} of {entry['texts']} pairs kept, removed {entry['removed']}")
    write_json(folder / "rounds.json", rounds)
    return {"synthetic": str(folder / f"round-{s.rounds}" / "pairs.jsonl"), "rounds": str(folder / "rounds.json")}


def _round_scores(ctx: Context, model: str, out: Path) -> dict:
    """A round's SFT model on the eval stage's translation settings and held-out lines: {direction: chrF++}."""
    from lingualift.eval import translate
    from lingualift.eval.config import TranslateSettings

    e = ctx.recipe.eval
    settings = settings_of(e, TranslateSettings)
    settings = settings.model_copy(update={"langs": settings.langs or ctx.recipe.langs})
    results = translate.run(settings, model=model, data=e.data, out=str(out), progress=ctx.progress)
    return {d["direction"]: {"chrf++": d["scores"]["chrf++"]["score"]} for d in results["directions"]
            if "chrf++" in d["scores"]}


def sft(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.data.instructions import build

    return _train(ctx, "sft", folder, resume, _built(_sft_data(ctx, ctx.artifacts.get("synthetic")), folder, build))


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
    Stage("synth", ("model",), ("synthetic",), synth),
    Stage("sft", ("model", "synthetic"), ("model",), sft),
    Stage("dpo", ("model",), ("model",), dpo),
    Stage("grpo", ("model",), ("model",), grpo),
    Stage("merge", ("model",), ("model",), merge),
    Stage("eval", ("model",), (), evaluate),
    Stage("report", (), (), report),
)}

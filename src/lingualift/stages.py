"""What each recipe stage does, on top of the stage commands (vocab expand, data build,
train, eval translate). A stage reads the current model and data from the Context and
leaves its outputs there for the next one; `restore` does the same from a finished stage's
folder when the runner skips it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lingualift.io import write_json, write_text
from lingualift.recipe import Recipe


@dataclass
class Context:
    recipe: Recipe
    model: str = ""  # the model the next stage starts from
    data: str = ""  # CPT shards
    outputs: dict = field(default_factory=dict)  # stage -> its folder

    def __post_init__(self) -> None:
        self.model = self.recipe.model


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


def restore(ctx: Context, name: str, folder: Path, done: bool) -> None:
    if not done:
        return
    ctx.outputs[name] = folder
    if name == "vocab":
        ctx.model = str(folder / "model")
    elif name == "data":
        ctx.data = str(folder / "shards")
    elif name in ("cpt", "sft", "dpo"):
        ctx.model = _trained_model(folder)


def vocab(ctx: Context, folder: Path, resume: bool) -> None:
    from lingualift.io import parse_slice
    from lingualift.vocab.expand import expand

    v = ctx.recipe.vocab
    corpus = list(v.corpus)
    if v.flores:
        from lingualift.eval.sources import load_side

        lines = [line for code in ctx.recipe.langs
                 for line in list(load_side(v.flores, code, "dev", "src").lines)[parse_slice(v.flores_lines)]]
        write_text(folder / "corpus-flores.txt", "\n".join(lines) + "\n")
        corpus.append(str(folder / "corpus-flores.txt"))
    expand(ctx.model, corpus, ctx.recipe.langs, v.add, folder / "model", init=v.init, method=v.method,
           protect=v.protect, heldout=v.heldout, heldout_lines=parse_slice(v.heldout_lines), compare=v.compare,
           seed=v.seed, overwrite=True, log=print)
    restore(ctx, "vocab", folder, True)


def data(ctx: Context, folder: Path, resume: bool) -> None:
    from lingualift.data.build import build

    cfg = ctx.recipe.data.model_copy(deep=True)
    cfg.pack.tokenizer = ctx.model  # packed with the tokenizer the model now has
    build(cfg, folder / "shards", workers=2)
    restore(ctx, "data", folder, True)


def _train(ctx: Context, stage: str, folder: Path, resume: bool, settings: dict, data_path: str) -> None:
    import importlib

    from lingualift.train.config import TrainConfig

    cfg = TrainConfig.model_validate({**settings, "model": ctx.model, "data": data_path, "out": str(folder / "train")})
    finished = (folder / "train" / "manifest.json").is_file()  # killed after training, before the move
    has_checkpoints = (folder / "train" / "checkpoints").is_dir()
    if not (resume and finished):
        importlib.import_module(f"lingualift.train.{stage}").run(cfg, resume=resume and has_checkpoints,
                                                                 overwrite=not (resume and has_checkpoints))
    model = folder / "model"
    if model.exists():
        shutil.rmtree(model)
    (folder / "train" / "model").rename(model)
    restore(ctx, stage, folder, True)


def cpt(ctx: Context, folder: Path, resume: bool) -> None:
    _train(ctx, "cpt", folder, resume, ctx.recipe.cpt, ctx.data)


def _built(stage, folder: Path, builder) -> str:
    """The stage's data: a file as given, or built into the stage folder once."""
    if isinstance(stage.data, str):
        return stage.data
    path = folder / "data.jsonl"
    if not path.is_file():
        builder(stage.data, path)
    return str(path)


def sft(ctx: Context, folder: Path, resume: bool) -> None:
    from lingualift.data.instructions import build

    _train(ctx, "sft", folder, resume, ctx.recipe.sft.train, _built(ctx.recipe.sft, folder, build))


def dpo(ctx: Context, folder: Path, resume: bool) -> None:
    from lingualift.data.preferences import build

    _train(ctx, "dpo", folder, resume, ctx.recipe.dpo.train, _built(ctx.recipe.dpo, folder, build))


def directions(spec: str, langs: list[str]) -> list[tuple[str, str]]:
    from lingualift.eval.sources import parse_directions

    out: list[tuple[str, str]] = []
    for part in spec.split(","):
        for pair in parse_directions(part.strip(), langs):
            if pair not in out:
                out.append(pair)
    return out


def evaluate(ctx: Context, folder: Path, resume: bool) -> None:
    """The base model and the adapted one on the same directions and settings, and their
    per-character perplexity on held-out FLORES lines."""
    from lingualift import models
    from lingualift.eval import translate
    from lingualift.eval.perplexity import nll
    from lingualift.eval.sources import load_side
    from lingualift.generate import GenerationParams
    from lingualift.io import parse_slice

    e, recipe = ctx.recipe.eval, ctx.recipe
    pairs = directions(e.directions, recipe.langs)
    for role, spec in (("base", recipe.model), ("adapted", ctx.model)):
        translate.run(translate.TranslateConfig(
            model=spec, data=e.data, directions=pairs, out=str(folder / role), limit=e.limit, offset=e.offset,
            template=e.template,
            metrics=tuple(e.metrics), generation=GenerationParams(**e.generation),
            compare=str(folder / "base") if role == "adapted" else None))
    if e.ppl_lines:
        result: dict = {}
        for role, spec in (("base", recipe.model), ("adapted", ctx.model)):
            model, tokenizer = models.load(spec)
            for code in recipe.langs:
                lines = list(load_side(e.data, code, "dev", "src").lines)[parse_slice(e.ppl_lines)]
                result.setdefault(code, {})[role] = nll(model, tokenizer, lines)
        write_json(folder / "perplexity.json", {"lines": e.ppl_lines, "languages": result})
    ctx.outputs["eval"] = folder


def report(ctx: Context, folder: Path, resume: bool) -> None:
    from lingualift.run_report import render

    write_text(folder / "report.html", render(ctx))
    print(f"report: {folder / 'report.html'}")
    print((folder / "summary.json").read_text(encoding="utf-8"))


STAGE_FUNCTIONS = {"vocab": vocab, "data": data, "cpt": cpt, "sft": sft, "dpo": dpo, "eval": evaluate,
                   "report": report}

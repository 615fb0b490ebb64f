"""The run's evaluation: what the adapted model learned beside what it forgot.

The target suite is translation in the recipe's directions, per-character perplexity on
held-out FLORES lines of the recipe's languages and the task benchmarks that have those
languages; the retention suite is the same perplexity on FLORES English and the English task
benchmarks available offline (continual pretraining on a new language is known to erode
English, which is why SambaLingo keeps 25% English in its mix). Base and adapted model are
measured alike, and every delta carries a paired test: sacrebleu's for translation, a paired
bootstrap over lines for perplexity and over items for task accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

from lingualift.core.fingerprint import digest
from lingualift.core.io import write_json
from lingualift.run.context import Context, settings_of

ROLES = ("base", "adapted")


def evaluate(ctx: Context, folder: Path, resume: bool) -> dict:
    from lingualift.eval import translate
    from lingualift.eval.config import TranslateSettings

    e, recipe = ctx.recipe.eval, ctx.recipe
    settings = settings_of(e, TranslateSettings)
    if not settings.langs:
        settings = settings.model_copy(update={"langs": recipe.langs})
    models = {"base": recipe.model, "adapted": ctx.artifacts["model"]}
    # The base model's evaluation depends on nothing a recipe trains: it is kept outside the
    # stage, keyed by model and settings, so variants and re-runs after an SFT change reuse it.
    base = Path(recipe.runs) / recipe.name / "base" / digest({"model": recipe.model, "langs": recipe.langs,
                                                            "eval": e.model_dump(mode="json")}, recipe.model_files())[:12]
    folders = {"base": base / "translation", "adapted": folder / "adapted"}
    for role, spec in models.items():
        translate.run(settings, model=spec, data=e.data, out=str(folders[role]),
                      compare=str(folders["base"]) if role == "adapted" else None, progress=ctx.progress)
    outputs = {"base": str(folders["base"] / "results.json"), "adapted": str(folders["adapted"] / "results.json"),
               "adapted_report": str(folder / "adapted" / "report.html")}
    _card_results(models["adapted"], folder / "adapted" / "results.json")
    ppl_langs = {**{code: "target" for code in recipe.langs},
                 **{code: "retention" for code in (e.retention.langs if e.retention.ppl else [])}}
    if e.ppl_lines and ppl_langs:
        outputs["perplexity"] = str(_perplexity(ctx, models, ppl_langs, folder / "perplexity.json"))
    for suite, names, langs in (("target", e.tasks, recipe.langs), ("retention", e.retention.tasks,
                                                                   e.retention.langs)):
        found = _tasks(ctx, models, names, langs, {"base": base / "tasks" / suite, "adapted": folder / "tasks" / suite})
        if found:
            outputs[f"tasks_{suite}_base"], outputs[f"tasks_{suite}"] = (str(path) for path in found)
    return outputs


def _perplexity(ctx: Context, models: dict[str, str], langs: dict[str, str], path: Path) -> Path:
    """Per-character perplexity of both models on the same held-out lines, with a paired
    bootstrap over lines; per-line nats are kept so the numbers can be re-tested."""
    from lingualift.corpora.sources import heldout
    from lingualift.inference import models as loader
    from lingualift.inference.perplexity import nll
    from lingualift.metrics.significance import ppl_test

    e = ctx.recipe.eval
    texts = {code: heldout(e.data, code, e.ppl_lines) for code in langs}
    result: dict = {code: {"suite": suite} for code, suite in langs.items()}
    for role, spec in models.items():
        model, tokenizer = loader.load(spec, e.dtype)
        for code, lines in texts.items():
            result[code][role] = nll(model, tokenizer, lines, per_line=True)
    for roles in result.values():
        roles["test"] = ppl_test(roles["base"]["line_nll"], roles["adapted"]["line_nll"],
                                 roles["base"]["line_chars"]).as_dict()
    write_json(path, {"lines": e.ppl_lines, "languages": result})
    return path


def _tasks(ctx: Context, models: dict[str, str], names: list[str], langs: list[str],
           folders: dict[str, Path]) -> tuple[Path, Path] | None:
    """Both models on the tasks that have any of `langs`; the adapted results carry the paired
    bootstrap against the base per (task, language). Their results files, or None when no
    task has those languages."""
    from lingualift.tasks.base import flores_code
    from lingualift.tasks.config import TasksSettings
    from lingualift.tasks.evaluate import evaluate as run_tasks
    from lingualift.tasks.evaluate import task_langs
    from lingualift.tasks.task_report import write_all

    e = ctx.recipe.eval
    root = Path(e.tasks_data)
    wanted = set(langs)
    names = [name for name in names if wanted & {flores_code(lang) for lang in task_langs(name, root)}]
    if not names:
        return None
    settings = TasksSettings(tasks=names, langs=list(langs), limit=e.tasks_limit, batch_size=e.batch_size,
                             dtype=e.dtype)
    previous = None
    for role, spec in models.items():
        results = run_tasks(settings, model=spec, data=root, out=folders[role], progress=ctx.progress)
        write_all(folders[role], results, previous, folders["base"] if previous else None)
        previous = results
    return folders["base"] / "results.json", folders["adapted"] / "results.json"


def _card_results(model: str, results: Path) -> None:
    """The adapted model's card gains its scores (with CIs against the base) when lingualift made it."""
    from lingualift.inference import modelcard

    if (Path(model) / "README.md").is_file() and results.is_file():
        modelcard.add_results(model, modelcard.results_of(json.loads(results.read_text(encoding="utf-8"))))

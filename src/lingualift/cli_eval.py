"""The `eval tasks`, `eval ppl` and `probe` commands (cli.py holds the app and the rest)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lingualift.cli import _csv_list, app, console, eval_app
from lingualift.io import InputError

DEFAULT_TASKS_DATA = "../shared/data/tasks"


@contextmanager
def _bar(label: str, total: int):
    with Progress(TextColumn(f"{label:<22}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _previous(compare: Optional[str]) -> dict | None:
    if not compare:
        return None
    path = Path(compare) / "results.json"
    if not path.is_file():
        raise InputError("no results.json (expected an earlier output folder)", path)
    return json.loads(path.read_text(encoding="utf-8"))


@eval_app.command("tasks")
def eval_tasks(
    model: str = typer.Option(..., help="Preset, local dir, .gguf file or hub id."),
    tasks_: str = typer.Option("xnli,xcopa,pawsx,xwinograd,sib200,belebele,mgsm", "--tasks",
                               help="Comma list: xnli, xcopa, pawsx, xwinograd, sib200, belebele, mgsm."),
    out: str = typer.Option(..., help="Output folder: parts/, results.json/csv, report.md/html."),
    data: str = typer.Option(DEFAULT_TASKS_DATA, envvar="LINGUALIFT_TASKS_DATA",
                             help="Folder in the ../shared/data/tasks layout."),
    langs_: str = typer.Option("", "--langs", help="Only these languages (any code or name); default: all of each task."),
    shots: Optional[int] = typer.Option(None, help="Few-shot examples (default: each task's; MGSM 8, others 0)."),
    limit: Optional[int] = typer.Option(None, help="Only the first N items per task and language."),
    fmt: str = typer.Option("lm-eval", "--format", help="lm-eval (lm-evaluation-harness prompts) or llamax "
                                                       "(Alpaca instruction prompts; xnli, xcopa, sib200, mgsm)."),
    batch_size: int = typer.Option(8, help="Sequences per forward pass / generation batch."),
    compare: Optional[str] = typer.Option(None, help="Earlier output folder: per-language deltas against it."),
) -> None:
    """Multilingual understanding and reasoning: accuracy per task and language.

    Multiple choice is scored by log-likelihood (lm-eval's acc and acc_norm), MGSM by greedy
    chain-of-thought and the last number. Finished (task, language) parts are kept, so a
    killed run resumes.

    Example: lingualift eval tasks --model smollm2-135m --tasks xcopa,xnli --langs sw,en --limit 100 --out runs/tasks
    """
    from lingualift import languages
    from lingualift.eval.report import fmt as show
    from lingualift.tasks import report
    from lingualift.tasks.evaluate import evaluate

    root = Path(data)
    if not root.is_dir():
        raise InputError("task data folder not found (set --data or LINGUALIFT_TASKS_DATA)", root)
    wanted = {languages.resolve_code(x) for x in _csv_list(langs_)} or None
    previous = _previous(compare)
    results = evaluate(model, _csv_list(tasks_), root, Path(out), langs=wanted, shots=shots, limit=limit, fmt=fmt,
                       batch_size=batch_size, progress_factory=_bar)
    report.write_all(Path(out), results, previous)
    table = Table("task", "languages", "mean", "English", "non-English", "gap", title=model)
    for task, s in results["summary"].items():
        table.add_row(task, str(s["languages"]), *(show(s[k]) for k in
                                                   ("mean", "english", "non_english_mean", "english_gap")))
    console.print(table)
    console.print(f"report: {out}/report.html  {out}/report.md  {out}/results.json")

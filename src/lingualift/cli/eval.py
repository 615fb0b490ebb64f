"""`lingualift eval translate / score / tasks / ppl` and `lingualift probe`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from lingualift.cli.common import console, progress_bar
from lingualift.cli.options import stage_command
from lingualift.core.io import InputError, check_output
from lingualift.core.pages import fmt
from lingualift.eval.config import PplSettings, TranslateSettings
from lingualift.probe import ProbeSettings
from lingualift.tasks.config import DEFAULT_TASKS_DATA, TasksSettings

eval_app = typer.Typer(help="Evaluate models: translation, scoring outputs, multilingual tasks, perplexity per "
                            "language.", no_args_is_help=True)
MODEL_HELP = "Preset (tiny, smollm2-135m, gemma3-270m), local dir, .gguf file or hub id."


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
    stage_command(app, "probe", ProbeSettings)(probe_cmd)


def _previous(compare: Optional[str]) -> dict | None:
    if not compare:
        return None
    path = Path(compare) / "results.json"
    if not path.is_file():
        raise InputError("no results.json (expected an earlier output folder)", path)
    return json.loads(path.read_text(encoding="utf-8"))


@stage_command(eval_app, "translate", TranslateSettings, path="eval translate")
def eval_translate(
    settings: TranslateSettings,
    model: str = typer.Option(..., help=MODEL_HELP),
    data: str = typer.Option(..., help="flores:DIR | tsv:SRC_FILE,TGT_FILE | tsv:FILE.tsv | hf:NAME"),
    out: str = typer.Option(..., help="Output folder (per-direction outputs, results.json/csv, report.md/html)."),
    compare: Optional[str] = typer.Option(None, help="Earlier output folder (same source lines): per-direction deltas "
                                                       "with sacrebleu's paired test, 95% CI and p-value."),
) -> None:
    """Translate a test set in many directions and score it with sacrebleu's metrics.

    Example: lingualift eval translate --model tiny --data flores:../shared/data/flores200
    --directions en-x,x-en --langs sw,fr --limit 20 --out runs/eval-tiny
    """
    from lingualift.eval import translation_report as report
    from lingualift.eval.translate import run

    check_output(out, "folder")
    results = run(settings, model=model, data=data, out=out, compare=compare, progress=progress_bar)
    table = Table("direction", "n", *report.SUMMARY, title="per direction")
    for r in results["directions"]:
        table.add_row(r["direction"], str(r["n"]), *[fmt(report.value(r, m)) for m in report.SUMMARY])
    console.print(table)
    for name, row in results["averages"].items():
        console.print(f"{name:>12}: " + "  ".join(f"{m} {fmt(row[m])}" for m in report.SUMMARY))
    console.print(f"report: {out}/report.html  {out}/report.md  {out}/results.json")


@eval_app.command("score")
def eval_score(
    hyp: str = typer.Option(..., help="Hypotheses, one segment per line (UTF-8)."),
    ref: str = typer.Option(..., help="References, aligned with --hyp."),
    tgt_lang: str = typer.Option(..., help="Target language (any code or name)."),
    src: Optional[str] = typer.Option(None, help="Sources, aligned (needed for COMET)."),
    metrics: str = typer.Option("", help="Comma list; default all but comet."),
    spm_model: Optional[str] = typer.Option(None, help="SentencePiece file for spBLEU."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object keyed by metric name."),
) -> None:
    """Score existing translations with every metric; each number carries its signature.

    Example: lingualift eval score --hyp out.sw --ref ref.sw --tgt-lang sw --json
    """
    from lingualift.core.io import read_lines
    from lingualift.lang.languages import resolve_code
    from lingualift.metrics import DEFAULT_METRICS, Options, check_names, score_all

    tgt = resolve_code(tgt_lang)
    names = check_names([m.strip() for m in metrics.split(",") if m.strip()]) or DEFAULT_METRICS
    hyps, refs = read_lines(hyp), read_lines(ref)
    srcs = read_lines(src) if src else None
    for path, lines in ((ref, refs), (src, srcs)):
        if lines is not None and len(lines) != len(hyps):
            raise InputError(f"has {len(lines)} lines but --hyp has {len(hyps)} (expected aligned files)",
                             path, min(len(lines), len(hyps)) + 1)
        blank = next((i for i, line in enumerate(lines or [], 1) if not line.strip()), None)
        if blank is not None:  # as `eval translate` refuses it: a blank reference scores nothing
            raise InputError("empty segment (expected one sentence per line)", path, blank)
    scores = score_all(hyps, refs, tgt, srcs, names, Options(spm_model=spm_model))
    if as_json:
        print(json.dumps({name: s.as_dict() for name, s in scores.items()}, ensure_ascii=False))
        return
    table = Table("metric", "score", "signature")
    for name, s in scores.items():
        table.add_row(name, "n/a" if s.score is None else f"{s.score:.2f}", s.signature or s.unavailable or "")
    console.print(table)


@stage_command(eval_app, "tasks", TasksSettings, path="eval tasks")
def eval_tasks(
    settings: TasksSettings,
    model: str = typer.Option(..., help=MODEL_HELP),
    out: str = typer.Option(..., help="Output folder: parts/, results.json/csv, report.md/html."),
    data: str = typer.Option(DEFAULT_TASKS_DATA, envvar="LINGUALIFT_TASKS_DATA",
                             help="Folder in the ../shared/data/tasks layout, or `hub` for the public "
                                  "copies on the Hugging Face hub (through the HF cache)."),
    compare: Optional[str] = typer.Option(None, help="Earlier output folder: per-language deltas with a paired "
                                                       "bootstrap on per-item scores, 95% CI and p-value."),
) -> None:
    """Multilingual understanding and reasoning: accuracy per task and language.

    Multiple choice is scored by log-likelihood (lm-eval's acc and acc_norm), MGSM by greedy
    chain-of-thought and the last number. Finished (task, language) parts are kept, so a
    killed run resumes.

    Example: lingualift eval tasks --model smollm2-135m --tasks xcopa,xnli --langs sw,en --limit 100 --out runs/tasks
    """
    from lingualift import tasks as registry
    from lingualift.core.pages import fmt as show
    from lingualift.tasks import task_report
    from lingualift.tasks.evaluate import evaluate

    check_output(out, "folder")
    for name in settings.tasks:
        registry.get(name)  # an unknown task fails before anything loads
    previous = _previous(compare)
    results = evaluate(settings, model=model, data=data, out=out, progress=progress_bar)
    task_report.write_all(Path(out), results, previous, Path(compare) if compare else None)
    table = Table("task", "languages", "mean", "English", "non-English", "gap", title=model)
    for task, s in results["summary"].items():
        table.add_row(task, str(s["languages"]), *(show(s[k]) for k in
                                                   ("mean", "english", "non_english_mean", "english_gap")))
    console.print(table)
    console.print(f"report: {out}/report.html  {out}/report.md  {out}/results.json")


@stage_command(eval_app, "ppl", PplSettings, path="eval ppl")
def eval_ppl(
    settings: PplSettings,
    model: str = typer.Option(..., help=MODEL_HELP),
    data: str = typer.Option(..., help="flores:DIR (FLORES-200 layout) or hf:NAME."),
    out: str = typer.Option(..., help="Output folder: results.json/csv, report.md."),
) -> None:
    """Bits per byte and per character per language: comparable across tokenizers.

    Example: lingualift eval ppl --model smollm2-135m --data flores:../shared/data/flores200 --langs sw,th,de --out runs/ppl
    """
    from lingualift.eval.ppl_langs import run

    check_output(out, "folder")
    per_lang = run(settings, model=model, data=data, out=out, progress=progress_bar)
    table = Table("language", "lines", "bits/byte", "bits/char", "ppl/char", title=model)
    for code, r in per_lang.items():
        table.add_row(code, str(r["lines"]), f"{r['bits_per_byte']:.3f}", f"{r['bits_per_char']:.3f}",
                      f"{r['ppl_char']:.2f}")
    console.print(table)
    console.print(f"report: {out}/report.md  {out}/results.json")


def probe_cmd(
    settings: ProbeSettings,
    model: str = typer.Option(..., help=MODEL_HELP),
    out: str = typer.Option(..., help="Output folder: probe.html, probe.png, probe.json, probe.csv."),
    data: str = typer.Option("flores:../shared/data/flores200", help="flores:DIR (aligned with English)."),
) -> None:
    """Where a base model serves languages badly: ranked by need, with a suggestion each.

    Per language: tokenizer fertility and parity, bits per character, a quick chrF++ both
    ways and the off-target rate.

    Example: lingualift probe --model smollm2-135m --langs sw,th,de,hi,yo --out runs/probe
    """
    from lingualift.probe import probe, write

    check_output(out, "folder")
    result = probe(settings, model=model, data=data, progress=progress_bar)
    write(Path(out), result)
    table = Table("language", "need", "parity", "bits/char", "chrF++ en->X", "X->en", "off-target", "suggestion",
                  title=f"{model}: ranked by need")
    for code, r in result["languages"].items():
        table.add_row(code, f"{r['need']:.1f}", f"{r['parity']:.2f}", f"{r['bits_per_char']:.2f}",
                      f"{r['chrf_en_x']:.1f}", f"{r['chrf_x_en']:.1f}", f"{r['off_target_en_x']:.0f}%",
                      "; ".join(x.split(" (")[0] for x in r["suggestions"]))
    console.print(table)
    console.print(f"report: {out}/probe.html  {out}/probe.json")

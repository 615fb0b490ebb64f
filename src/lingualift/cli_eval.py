"""The `eval` commands (translate, score, tasks, ppl) and `probe` (cli.py holds the app)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from lingualift.cli import _csv_list, app, console, eval_app, progress_bar
from lingualift.io import InputError

DEFAULT_TASKS_DATA = "../shared/data/tasks"


def _previous(compare: Optional[str]) -> dict | None:
    if not compare:
        return None
    path = Path(compare) / "results.json"
    if not path.is_file():
        raise InputError("no results.json (expected an earlier output folder)", path)
    return json.loads(path.read_text(encoding="utf-8"))


@eval_app.command("translate")
def eval_translate(
    model: str = typer.Option(..., help="Preset (tiny, smollm2-135m, gemma3-270m), local dir, .gguf file or hub id."),
    data: str = typer.Option(..., help="flores:DIR | tsv:SRC_FILE,TGT_FILE | tsv:FILE.tsv | hf:NAME"),
    out: str = typer.Option(..., help="Output folder (per-direction outputs, results.json/csv, report.md/html)."),
    directions: str = typer.Option("en-x", help="eng_Latn-swh_Latn,... | en-x | x-en | all | hub:CODE"),
    langs_: str = typer.Option("", "--langs", help="Languages for en-x / x-en / all / hub: (any code or name)."),
    split: str = typer.Option("dev", help="dev or devtest (FLORES file suffix)."),
    limit: Optional[int] = typer.Option(None, help="Only the first N segments of each direction."),
    offset: int = typer.Option(0, help="Start at this segment (e.g. 800: past lines a model trained on)."),
    template: str = typer.Option("llamax-alpaca", help="llamax-alpaca | tower-chatml | chat | fewshot | FILE.jinja"),
    shots: int = typer.Option(0, help="Few-shot examples per prompt (taken from the dev split)."),
    shot_selection: str = typer.Option("random", help="random | similar (character-trigram retrieval)."),
    batch_size: int = typer.Option(16, help="Prompts per generation batch (length-sorted)."),
    num_beams: int = typer.Option(1, help="Beam size; LLaMAX evaluates with 4."),
    max_new_tokens: int = typer.Option(256, help="Generation limit per segment."),
    metrics: str = typer.Option("", help="Comma list (default: all but comet): bleu, spbleu_flores101, "
                                         "spbleu_flores200, chrf++, ter, off_target, repetition, over_generation, comet."),
    spm_model: Optional[str] = typer.Option(None, help="SentencePiece file for spBLEU instead of $SACREBLEU/models."),
    engine: str = typer.Option("auto", help="auto | hf | vllm (auto: vllm when installed and a GPU is present)."),
    dtype: str = typer.Option("auto", help="auto | bf16 | fp16 | fp32"),
    compare: Optional[str] = typer.Option(None, help="Earlier output folder: report per-direction deltas against it."),
    seed: int = typer.Option(0, help="Seed for sampling and few-shot selection."),
) -> None:
    """Translate a test set in many directions and score it with sacrebleu's metrics.

    Example: lingualift eval translate --model tiny --data flores:../shared/data/flores200
    --directions eng_Latn-swh_Latn,swh_Latn-eng_Latn --limit 20 --out runs/eval-tiny
    """
    from lingualift.eval import report, sources
    from lingualift.eval.metrics import DEFAULT_METRICS
    from lingualift.eval.translate import TranslateConfig, run
    from lingualift.generate import GenerationParams

    cfg = TranslateConfig(
        model=model, data=data, out=out, split=split, limit=limit, offset=offset, template=template, shots=shots,
        directions=sources.parse_directions(directions, _csv_list(langs_)),
        shot_selection=shot_selection, metrics=tuple(_csv_list(metrics)) or DEFAULT_METRICS,
        spm_model=spm_model, engine=engine, dtype=dtype, compare=compare,
        generation=GenerationParams(max_new_tokens=max_new_tokens, num_beams=num_beams,
                                    batch_size=batch_size, seed=seed),
    )
    results = run(cfg, console=console, command="lingualift " + " ".join(sys.argv[1:]))
    table = Table("direction", "n", *report.SUMMARY, title="per direction")
    for r in results["directions"]:
        table.add_row(r["direction"], str(r["n"]), *[report.fmt(report.value(r, m)) for m in report.SUMMARY])
    console.print(table)
    for name, row in results["averages"].items():
        console.print(f"{name:>12}: " + "  ".join(f"{m} {report.fmt(row[m])}" for m in report.SUMMARY))
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
    from lingualift.eval.metrics import DEFAULT_METRICS, METRICS, Options, score_all
    from lingualift.io import read_lines
    from lingualift.languages import resolve_code

    tgt = resolve_code(tgt_lang)
    names = tuple(_csv_list(metrics)) or DEFAULT_METRICS
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    hyps, refs = read_lines(hyp), read_lines(ref)
    srcs = read_lines(src) if src else None
    for path, lines in ((ref, refs), (src, srcs)):
        if lines is not None and len(lines) != len(hyps):
            raise InputError(f"has {len(lines)} lines but --hyp has {len(hyps)} (expected aligned files)",
                             path, min(len(lines), len(hyps)) + 1)
    scores = score_all(hyps, refs, tgt, srcs, names, Options(spm_model=spm_model))
    if as_json:
        print(json.dumps({name: s.as_dict() for name, s in scores.items()}, ensure_ascii=False))
        return
    table = Table("metric", "score", "signature")
    for name, s in scores.items():
        table.add_row(name, "n/a" if s.score is None else f"{s.score:.2f}", s.signature or s.unavailable or "")
    console.print(table)


@eval_app.command("tasks")
def eval_tasks(
    model: str = typer.Option(..., help="Preset, local dir, .gguf file or hub id."),
    tasks_: str = typer.Option("xnli,xcopa,pawsx,xwinograd,sib200,belebele,mgsm", "--tasks",
                               help="Comma list: xnli, xcopa, pawsx, xwinograd, sib200, belebele, mgsm."),
    out: str = typer.Option(..., help="Output folder: parts/, results.json/csv, report.md/html."),
    data: str = typer.Option(DEFAULT_TASKS_DATA, envvar="LINGUALIFT_TASKS_DATA",
                             help="Folder in the ../shared/data/tasks layout, or `hub` for the public "
                                  "copies on the Hugging Face hub (through the HF cache)."),
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

    from lingualift.tasks.base import HUB

    root = Path(data)
    if root != HUB and not root.is_dir():
        raise InputError("task data folder not found (set --data or LINGUALIFT_TASKS_DATA)", root)
    wanted = {languages.resolve_code(x) for x in _csv_list(langs_)} or None
    previous = _previous(compare)
    results = evaluate(model, _csv_list(tasks_), root, Path(out), langs=wanted, shots=shots, limit=limit, fmt=fmt,
                       batch_size=batch_size, progress_factory=progress_bar)
    report.write_all(Path(out), results, previous)
    table = Table("task", "languages", "mean", "English", "non-English", "gap", title=model)
    for task, s in results["summary"].items():
        table.add_row(task, str(s["languages"]), *(show(s[k]) for k in
                                                   ("mean", "english", "non_english_mean", "english_gap")))
    console.print(table)
    console.print(f"report: {out}/report.html  {out}/report.md  {out}/results.json")


@eval_app.command("ppl")
def eval_ppl(
    model: str = typer.Option(..., help="Preset, local dir, .gguf file or hub id."),
    data: str = typer.Option(..., help="flores:DIR (FLORES-200 layout) or hf:NAME."),
    out: str = typer.Option(..., help="Output folder: results.json/csv, report.md."),
    langs_: str = typer.Option("", "--langs", help="Languages (any code or name); default: all 204."),
    lines: str = typer.Option(":", help="START:END of each file (e.g. 800: for lines no stage trained on)."),
    split: str = typer.Option("dev", help="FLORES split (file suffix)."),
    window: Optional[int] = typer.Option(None, help="Tokens per window for long texts (default: the model's context)."),
    stride: Optional[int] = typer.Option(None, help="Tokens between windows (default: half a window)."),
    batch_size: int = typer.Option(16, help="Sequences per forward pass."),
) -> None:
    """Bits per byte and per character per language: comparable across tokenizers.

    Example: lingualift eval ppl --model smollm2-135m --data flores:../shared/data/flores200 --langs sw,th,de --out runs/ppl
    """
    from lingualift import languages, models
    from lingualift.eval.ppl_langs import measure, write

    codes = [languages.resolve_code(x) for x in _csv_list(langs_)] or [lang.code for lang in languages.all_languages()]
    loaded, tokenizer = models.load(model)
    per_lang = measure(loaded, tokenizer, data, codes, lines=lines, split=split, batch_size=batch_size,
                       window=window, stride=stride, progress_factory=progress_bar)
    context = getattr(loaded.config, "max_position_embeddings", None)
    write(Path(out), per_lang, {"model": model, "data": data, "split": split, "lines": lines,
                                "window": window or context, "stride": stride or "half a window"})
    table = Table("language", "lines", "bits/byte", "bits/char", "ppl/char", title=model)
    for code, r in per_lang.items():
        table.add_row(code, str(r["lines"]), f"{r['bits_per_byte']:.3f}", f"{r['bits_per_char']:.3f}", f"{r['ppl_char']:.2f}")
    console.print(table)
    console.print(f"report: {out}/report.md  {out}/results.json")


@app.command("probe")
def probe_cmd(
    model: str = typer.Option(..., help="Preset, local dir, .gguf file or hub id."),
    langs_: str = typer.Option(..., "--langs", help="Languages (codes or names), or `llamax` / `all`."),
    out: str = typer.Option(..., help="Output folder: probe.html, probe.png, probe.json, probe.csv."),
    data: str = typer.Option("flores:../shared/data/flores200", help="flores:DIR (aligned with English)."),
    lines: str = typer.Option("0:50", help="FLORES lines for fertility (cheap: no model call)."),
    ppl_lines: int = typer.Option(20, help="The first N of those scored for bits per character."),
    sentences: int = typer.Option(6, help="The first N of those translated each way for chrF++ and off-target."),
    template: Optional[str] = typer.Option(None, help="chat (default when the model has one), llamax-alpaca, ..."),
    max_new_tokens: int = typer.Option(64, help="Longest translation, in tokens."),
    batch_size: int = typer.Option(16, help="Prompts / sequences per batch."),
) -> None:
    """Where a base model serves languages badly: ranked by need, with a suggestion each.

    Per language: tokenizer fertility and parity, bits per character, a quick chrF++ both
    ways and the off-target rate.

    Example: lingualift probe --model smollm2-135m --langs sw,th,de,hi,yo --out runs/probe
    """
    from lingualift import languages
    from lingualift.probe import probe, write

    wanted = _csv_list(langs_)
    if wanted in (["all"], ["llamax"]):
        codes = [lang.code for lang in languages.all_languages() if wanted == ["all"] or lang.llamax]
    else:
        codes = [languages.resolve_code(x) for x in wanted]
    result = probe(model, data, codes, lines=lines, ppl_lines=ppl_lines, sentences=sentences, template=template,
                   max_new_tokens=max_new_tokens, batch_size=batch_size, progress_factory=progress_bar)
    write(Path(out), result)
    table = Table("language", "need", "parity", "bits/char", "chrF++ en->X", "X->en", "off-target", "suggestion",
                  title=f"{model}: ranked by need")
    for code, r in result["languages"].items():
        table.add_row(code, f"{r['need']:.1f}", f"{r['parity']:.2f}", f"{r['bits_per_char']:.2f}",
                      f"{r['chrf_en_x']:.1f}", f"{r['chrf_x_en']:.1f}", f"{r['off_target_en_x']:.0f}%",
                      "; ".join(x.split(" (")[0] for x in r["suggestions"]))
    console.print(table)
    console.print(f"report: {out}/probe.html  {out}/probe.json")

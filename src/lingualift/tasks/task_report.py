"""Result files of `eval tasks`: results.json / .csv, report.md, report.html (with --compare).

Per task: accuracy per language, the mean over languages, and the English vs non-English
gap (English minus the mean of the others) where the task has English. The primary metric
is `acc` for multiple choice (acc_norm alongside) and `exact_match` for MGSM.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from statistics import mean

from lingualift.core.io import write_json, write_text
from lingualift.core.pages import fmt, render
from lingualift.corpora.sources import ENGLISH
from lingualift.tasks.base import language_name


def primary(row: dict) -> float | None:
    return row.get("acc", row.get("exact_match"))


def summary(results: dict) -> dict:
    out = {}
    for task, per_lang in results["tasks"].items():
        values = {code: primary(row) for code, row in per_lang.items()}
        others = [v for code, v in values.items() if code != ENGLISH]
        out[task] = {"mean": round(mean(values.values()), 2), "languages": len(values),
                     "english": values.get(ENGLISH),
                     "non_english_mean": round(mean(others), 2) if others else None,
                     "english_gap": round(values[ENGLISH] - mean(others), 2) if ENGLISH in values and others else None}
        norms = [row["acc_norm"] for row in per_lang.values() if "acc_norm" in row]
        if norms:
            out[task]["mean_acc_norm"] = round(mean(norms), 2)
    return out


def deltas(results: dict, previous: dict) -> dict:
    """This run minus the previous one, per task and language both have."""
    out = {}
    for task, per_lang in results["tasks"].items():
        before = previous.get("tasks", {}).get(task, {})
        rows = {code: round(primary(row) - primary(before[code]), 2) for code, row in per_lang.items() if code in before}
        if rows:
            out[task] = rows
    return out


def _csv(results: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "language", "n", "shots", "acc", "acc_norm", "exact_match"])
    for task, per_lang in results["tasks"].items():
        for code, row in per_lang.items():
            writer.writerow([task, code, row["n"], row.get("shots"), row.get("acc"), row.get("acc_norm"),
                             row.get("exact_match")])
    return buffer.getvalue()


def _markdown(results: dict, previous: dict | None) -> str:
    meta, change = results["meta"], results.get("comparison", {}).get("deltas", {})
    lines = [f"# Task evaluation: {meta['model']}", "",
             f"Data `{meta['data']}`, format `{meta['format']}`, shots {meta['shots'] or 'task default'}, "
             f"limit {meta['limit'] or 'none'}.", "", "## Summary", "",
             "| task | languages | mean | mean acc_norm | English | non-English | gap |", "|---|---|---|---|---|---|---|"]
    for task, s in results["summary"].items():
        lines.append(f"| {task} | {s['languages']} | {fmt(s['mean'])} | {fmt(s.get('mean_acc_norm'))} | "
                     f"{fmt(s['english'])} | {fmt(s['non_english_mean'])} | {fmt(s['english_gap'])} |")
    for task, per_lang in results["tasks"].items():
        lines += ["", f"## {task}", "", "| language | n | acc / exact match | acc_norm |"
                  + (f" Δ vs {previous['meta']['model']} |" if previous else ""),
                  "|---|---|---|---|" + ("---|" if previous else "")]
        for code, row in per_lang.items():
            lines.append(f"| {code} | {row['n']} | {fmt(primary(row))} | {fmt(row.get('acc_norm'))} |"
                         + (f" {fmt(change.get(task, {}).get(code))} |" if previous else ""))
    lines += ["", "## Prompts", ""] + [f"- **{t}**: {p}" for t, p in meta["prompts"].items()]
    lines += ["", f"Versions: {meta['versions']}", "", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def _html(results: dict, previous: dict | None) -> str:
    change = results.get("comparison", {}).get("deltas", {})
    tasks = {task: [{"label": f"{language_name(code)} ({code})", "n": row["n"], "score": primary(row),
                     "acc_norm": row.get("acc_norm"), "change": change.get(task, {}).get(code)}
                    for code, row in per_lang.items()]
             for task, per_lang in results["tasks"].items()}
    return render("tasks_report.html.j2", meta=results["meta"], summary=results["summary"], tasks=tasks,
                  compare=bool(previous))


def write_all(out: Path, results: dict, previous: dict | None = None) -> None:
    results["summary"] = summary(results)
    if previous:
        results["comparison"] = {"against": previous["meta"]["model"], "deltas": deltas(results, previous)}
    write_text(out / "results.csv", _csv(results))
    write_text(out / "report.md", _markdown(results, previous))
    write_text(out / "report.html", _html(results, previous))
    write_json(out / "results.json", results)  # last: marks the whole run complete

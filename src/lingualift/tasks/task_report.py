"""Result files of `eval tasks`: results.json / .csv, report.md, report.html (with --compare).

Per task: accuracy per language, the mean over languages, and the English vs non-English
gap (English minus the mean of the others) where the task has English. The primary metric
is `acc` for multiple choice (acc_norm alongside) and `exact_match` for MGSM.

With --compare, each (task, language) both runs have gets a paired bootstrap on its per-item
scores (0/1, paired by item id from the parts files), so a delta of a few points on a few
hundred items shows its 95% CI and p-value instead of passing for progress.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from statistics import mean

from lingualift.core.io import InputError, write_json, write_text
from lingualift.core.pages import fmt, render
from lingualift.corpora.sources import ENGLISH
from lingualift.metrics.significance import RESAMPLES, describe, seed, segment_test
from lingualift.tasks.base import flores_code, language_name


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


def _parts(folder: Path) -> dict[tuple[str, str], Path]:
    """(task, FLORES code) -> its part file (named <task>-<file language>.json)."""
    found = {}
    for path in sorted((folder / "parts").glob("*.json")):
        task, _, lang = path.stem.partition("-")
        try:
            found[(task, flores_code(lang))] = path
        except InputError:
            continue
    return found


def _items(path: Path, key: str) -> list[tuple[str, float]]:
    part = json.loads(path.read_text(encoding="utf-8"))
    return [(str(e.get("id")), float(e[key])) for e in part.get("examples", []) if key in e]


def significance(results: dict, out: Path, baseline: Path) -> dict:
    """Paired bootstrap of this run's per-item scores against the baseline folder's, per task
    and language both have; items are paired by id (by position where ids repeat)."""
    mine, theirs = _parts(out), _parts(baseline)
    found: dict = {}
    for task, per_lang in results["tasks"].items():
        for code, row in per_lang.items():
            if (task, code) not in mine or (task, code) not in theirs:
                continue
            key = "acc" if "acc" in row else "exact_match"
            a, b = _items(theirs[(task, code)], key), _items(mine[(task, code)], key)
            if len({i for i, _ in a}) == len(a) and len({i for i, _ in b}) == len(b):
                before = dict(a)
                pairs = [(before[i], v) for i, v in b if i in before]
            else:
                pairs = [(x, y) for (_, x), (_, y) in zip(a, b)] if len(a) == len(b) else []
            if pairs:
                test = segment_test(key, [x for x, _ in pairs], [y for _, y in pairs], scale=100.0)
                found.setdefault(task, {})[code] = test.as_dict()
    return found


def legend(against: str) -> str:
    return (f"Δ = this run − {against} in points, [its 95% confidence interval], p from a paired bootstrap on "
            f"per-item scores ({RESAMPLES['bs']} resamples, seed {seed()}, as sacrebleu --paired-bs); "
            "n.s.: p ≥ 0.05, a difference chance alone could make.")


def _change(results: dict, task: str, code: str) -> dict:
    comparison = results.get("comparison", {})
    t = comparison.get("significance", {}).get(task, {}).get(code)
    delta = comparison.get("deltas", {}).get(task, {}).get(code)
    if not t:
        return {"text": fmt(delta), "delta": fmt(delta), "ci": "", "p": "", "ns": False}
    lo, hi = t["ci"]
    return {"text": describe(t), "delta": f"{t['delta']:+.2f}", "ci": f"[{lo:+.2f}, {hi:+.2f}]",
            "p": f"p={t['p_value']:.3f}", "ns": not t["significant"]}


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
    meta = results["meta"]
    lines = [f"# Task evaluation: {meta['model']}", "",
             f"Data `{meta['data']}`, format `{meta['format']}`, shots {meta['shots'] or 'task default'}, "
             f"limit {meta['limit'] or 'none'}.", "", "## Summary", "",
             "| task | languages | mean | mean acc_norm | English | non-English | gap |", "|---|---|---|---|---|---|---|"]
    for task, s in results["summary"].items():
        lines.append(f"| {task} | {s['languages']} | {fmt(s['mean'])} | {fmt(s.get('mean_acc_norm'))} | "
                     f"{fmt(s['english'])} | {fmt(s['non_english_mean'])} | {fmt(s['english_gap'])} |")
    for task, per_lang in results["tasks"].items():
        lines += ["", f"## {task}", ""] + ([legend(previous["meta"]["model"]), ""] if previous else []) + [
                  "| language | n | acc / exact match | acc_norm |"
                  + (f" Δ vs {previous['meta']['model']} |" if previous else ""),
                  "|---|---|---|---|" + ("---|" if previous else "")]
        for code, row in per_lang.items():
            lines.append(f"| {code} | {row['n']} | {fmt(primary(row))} | {fmt(row.get('acc_norm'))} |"
                         + (f" {_change(results, task, code)['text']} |" if previous else ""))
    lines += ["", "## Prompts", ""] + [f"- **{t}**: {p}" for t, p in meta["prompts"].items()]
    lines += ["", f"Versions: {meta['versions']}", "", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def _html(results: dict, previous: dict | None) -> str:
    tasks = {task: [{"label": f"{language_name(code)} ({code})", "n": row["n"], "score": primary(row),
                     "acc_norm": row.get("acc_norm"), "change": _change(results, task, code)}
                    for code, row in per_lang.items()]
             for task, per_lang in results["tasks"].items()}
    return render("tasks_report.html.j2", meta=results["meta"], summary=results["summary"], tasks=tasks,
                  compare=bool(previous), legend=legend(previous["meta"]["model"]) if previous else "")


def write_all(out: Path, results: dict, previous: dict | None = None, baseline: Path | None = None) -> None:
    """`baseline`: the folder `previous` came from, whose parts/ the paired tests read."""
    results["summary"] = summary(results)
    if previous:
        results["comparison"] = {"against": previous["meta"]["model"], "deltas": deltas(results, previous),
                                 "significance": significance(results, out, baseline) if baseline else {}}
    write_text(out / "results.csv", _csv(results))
    write_text(out / "report.md", _markdown(results, previous))
    write_text(out / "report.html", _html(results, previous))
    write_json(out / "results.json", results)  # last: marks the whole run complete

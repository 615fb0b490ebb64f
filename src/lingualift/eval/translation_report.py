"""Result files of a translation evaluation: results.json / .csv, report.md, report.html.

The HTML (template `core/templates/translation_report.html.j2`) is one self-contained file, no
script or CDN: a direction heatmap and per-language bars, so it opens anywhere, air-gapped clusters included.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from statistics import mean

from lingualift.core.io import write_json, write_text
from lingualift.core.pages import fmt, render
from lingualift.corpora.sources import ENGLISH
from lingualift.lang import languages

# Metrics shown in summaries, in this order; others stay in results.json / .csv.
SUMMARY = ("chrf++", "spbleu_flores200", "spbleu_flores101", "bleu", "off_target")
HEAT_METRIC = "chrf++"


def value(record: dict, metric: str) -> float | None:
    return record["scores"].get(metric, {}).get("score")


def _groups(records: list[dict]) -> dict[str, list[dict]]:
    """Named subsets averaged in the report; tiers go by the non-English side."""
    groups: dict[str, list[dict]] = {"all": records, "en->X": [], "X->en": [], "X->Y": [], "FLORES-101": []}
    for r in records:
        kind = "en->X" if r["src"] == ENGLISH else "X->en" if r["tgt"] == ENGLISH else "X->Y"
        groups[kind].append(r)
        other = r["tgt"] if r["src"] == ENGLISH else r["src"]
        groups.setdefault(f"tier:{languages.get(other).tier}", []).append(r)
        if languages.get(r["src"]).flores101 and languages.get(r["tgt"]).flores101:
            groups["FLORES-101"].append(r)
    return {name: rs for name, rs in groups.items() if rs}


def averages(records: list[dict]) -> dict[str, dict[str, float | None]]:
    out = {}
    for name, rs in _groups(records).items():
        row = {}
        for metric in SUMMARY:
            vals = [v for v in (value(r, metric) for r in rs) if v is not None]
            row[metric] = round(mean(vals), 2) if vals else None
        row["directions"] = len(rs)
        out[name] = row
    return out


def deltas(records: list[dict], previous: dict) -> list[dict]:
    before = {r["direction"]: r for r in previous["directions"]}
    rows = []
    for r in records:
        old = before.get(r["direction"])
        if old is None:
            continue
        row = {"direction": r["direction"]}
        for metric in SUMMARY:
            a, b = value(old, metric), value(r, metric)
            row[metric] = None if a is None or b is None else round(b - a, 2)
        rows.append(row)
    return rows


def _csv(records: list[dict]) -> str:
    metrics = sorted({m for r in records for m in r["scores"]})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["direction", "src", "tgt", "n", *metrics, "lines_per_s", "tokens_per_s"])
    for r in records:
        writer.writerow([r["direction"], r["src"], r["tgt"], r["n"],
                         *[value(r, m) for m in metrics],
                         r["generation"]["lines_per_s"], r["generation"]["tokens_per_s"]])
    return buf.getvalue()


def _markdown(results: dict, previous: dict | None) -> str:
    meta, records = results["meta"], results["directions"]
    lines = [f"# Translation evaluation: {meta['model']}", "",
             f"Data `{meta['data']}` split `{meta['split']}`, template `{meta['template']['name']}`, "
             f"{meta['shots']} shots, decoding `{meta['decoding']}`.", "",
             "## Averages", "", "| subset | directions | " + " | ".join(SUMMARY) + " |",
             "|---|---|" + "---|" * len(SUMMARY)]
    for name, row in averages(records).items():
        lines.append(f"| {name} | {row['directions']} | " + " | ".join(fmt(row[m]) for m in SUMMARY) + " |")
    lines += ["", "## Directions", "", "| direction | n | " + " | ".join(SUMMARY) + " |",
              "|---|---|" + "---|" * len(SUMMARY)]
    for r in records:
        lines.append(f"| {r['direction']} | {r['n']} | " + " | ".join(fmt(value(r, m)) for m in SUMMARY) + " |")
    if previous:
        lines += ["", f"## Change against {previous['meta']['model']}", "",
                  "| direction | " + " | ".join(f"Δ {m}" for m in SUMMARY) + " |", "|---|" + "---|" * len(SUMMARY)]
        for row in deltas(records, previous):
            lines.append(f"| {row['direction']} | " + " | ".join(fmt(row[m]) for m in SUMMARY) + " |")
    unavailable = {name: s["unavailable"] for r in records for name, s in r["scores"].items() if s.get("unavailable")}
    if unavailable:
        lines += ["", "## Unavailable metrics", ""] + [f"- **{k}**: {v}" for k, v in unavailable.items()]
    lines += ["", "## Signatures", ""]
    lines += [f"- {name}: `{sig}`" for name, sigs in meta["signatures"].items() for sig in sigs]
    lines += ["", f"Versions: {meta['versions']}", "", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def _html(results: dict, previous: dict | None) -> str:
    meta, records = results["meta"], results["directions"]
    langs = sorted({r["src"] for r in records} | {r["tgt"] for r in records})
    cell = {(r["src"], r["tgt"]): value(r, HEAT_METRIC) for r in records}
    delta = {row["direction"]: row[HEAT_METRIC] for row in deltas(records, previous)} if previous else {}
    heat = [{"code": s, "cells": [{"value": cell.get((s, t)), "delta": delta.get(f"{s}-{t}")} for t in langs]}
            for s in langs]
    per_language = []
    for code in langs:
        pair = (("bar", cell.get((ENGLISH, code))), ("bar b", cell.get((code, ENGLISH))))
        bars = [{"cls": cls, "value": v} for cls, v in pair if v is not None]
        if code != ENGLISH and bars:
            per_language.append({"label": f"{languages.get(code).name} ({code})", "bars": bars})
    unavailable = {n: sc["unavailable"] for r in records for n, sc in r["scores"].items() if sc.get("unavailable")}
    signatures = [(name, sig) for name, sigs in meta["signatures"].items() for sig in sigs]
    return render("translation_report.html.j2", meta=meta, metric=HEAT_METRIC, summary=SUMMARY, langs=langs,
                  heat=heat, per_language=per_language, averages=averages(records), unavailable=unavailable,
                  signatures=signatures)


def write_all(out: Path, results: dict, previous: dict | None = None) -> None:
    if previous:
        results["comparison"] = {"against": previous["meta"]["model"], "deltas": deltas(results["directions"], previous)}
    results["averages"] = averages(results["directions"])
    write_text(out / "results.csv", _csv(results["directions"]))
    write_text(out / "report.md", _markdown(results, previous))
    write_text(out / "report.html", _html(results, previous))
    write_json(out / "results.json", results)  # last: marks the whole run complete

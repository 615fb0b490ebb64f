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
from lingualift.metrics.significance import RESAMPLES, TESTS, describe, seed

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


def comparison_columns(tests: dict | None) -> list[str]:
    """The summary metrics, then the tested ones the summary leaves out (TER)."""
    tested = {m for per_metric in (tests or {}).values() for m in per_metric}
    return [*SUMMARY, *sorted(tested - set(SUMMARY))]


def legend(against: str, test: str) -> str:
    return (f"Δ = this run − {against}, [its 95% confidence interval], p from sacrebleu's {TESTS[test]} "
            f"({RESAMPLES[test]} {'resamples' if test == 'bs' else 'trials'}, seed {seed()}; signatures below); "
            "n.s.: p ≥ 0.05, a difference chance alone could make.")


def _cells(results: dict) -> list[dict]:
    """Per direction and column: the tested delta with CI and p, or the plain delta."""
    comparison = results["comparison"]
    tests, columns = comparison.get("significance") or {}, comparison_columns(comparison.get("significance"))
    rows = []
    for row in comparison["deltas"]:
        cells = []
        for m in columns:
            t = tests.get(row["direction"], {}).get(m)
            if t and t.get("delta") is not None:
                lo, hi = t["ci"]
                cells.append({"delta": f"{t['delta']:+.2f}", "ci": f"[{lo:+.2f}, {hi:+.2f}]",
                              "p": f"p={t['p_value']:.3f}", "ns": not t["significant"], "text": describe(t)})
            else:
                cells.append({"delta": fmt(row.get(m)), "ci": "", "p": "", "ns": False, "text": fmt(row.get(m))})
        rows.append({"direction": row["direction"], "cells": cells})
    return rows


def test_signatures(tests: dict | None) -> list[tuple[str, str]]:
    found = {(m, t["signature"]) for per_metric in (tests or {}).values() for m, t in per_metric.items()
             if t.get("signature")}
    return sorted(found)


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
        comparison = results["comparison"]
        columns = comparison_columns(comparison.get("significance"))
        lines += ["", f"## Change against {previous['meta']['model']}", "", legend(comparison["against"],
                                                                               comparison["test"]), "",
                  "| direction | " + " | ".join(f"Δ {m}" for m in columns) + " |", "|---|" + "---|" * len(columns)]
        for row in _cells(results):
            lines.append(f"| {row['direction']} | " + " | ".join(c["text"] for c in row["cells"]) + " |")
    unavailable = {name: s["unavailable"] for r in records for name, s in r["scores"].items() if s.get("unavailable")}
    if unavailable:
        lines += ["", "## Unavailable metrics", ""] + [f"- **{k}**: {v}" for k, v in unavailable.items()]
    lines += ["", "## Signatures", ""]
    lines += [f"- {name}: `{sig}`" for name, sigs in meta["signatures"].items() for sig in sigs]
    lines += [f"- {name} (paired test): `{sig}`" for name, sig in test_signatures(
        results.get("comparison", {}).get("significance"))]
    lines += ["", f"Versions: {meta['versions']}", "", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def _html(results: dict, previous: dict | None) -> str:
    meta, records = results["meta"], results["directions"]
    langs = sorted({r["src"] for r in records} | {r["tgt"] for r in records})
    cell = {(r["src"], r["tgt"]): value(r, HEAT_METRIC) for r in records}
    delta = {row["direction"]: row[HEAT_METRIC] for row in deltas(records, previous)} if previous else {}
    tests = results.get("comparison", {}).get("significance") or {}
    ns = {d: not t[HEAT_METRIC]["significant"] for d, t in tests.items() if t.get(HEAT_METRIC, {}).get("delta")
          is not None}
    heat = [{"code": s, "cells": [{"value": cell.get((s, t)), "delta": delta.get(f"{s}-{t}"),
                                   "ns": ns.get(f"{s}-{t}", False)} for t in langs]}
            for s in langs]
    comparison = None
    if previous:
        c = results["comparison"]
        comparison = {"against": c["against"], "legend": legend(c["against"], c["test"]), "rows": _cells(results),
                      "columns": comparison_columns(c.get("significance"))}
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
                  signatures=signatures + test_signatures(tests), comparison=comparison)


def write_all(out: Path, results: dict, previous: dict | None = None, tests: dict | None = None) -> None:
    """`tests`: per direction and metric, the paired tests against `previous` (significance.as_dict)."""
    if previous:
        test = results["meta"]["settings"].get("paired_test", "bs")
        results["comparison"] = {"against": previous["meta"]["model"], "deltas": deltas(results["directions"], previous),
                                 "test": test, "significance": tests or {}}
    results["averages"] = averages(results["directions"])
    write_text(out / "results.csv", _csv(results["directions"]))
    write_text(out / "report.md", _markdown(results, previous))
    write_text(out / "report.html", _html(results, previous))
    write_json(out / "results.json", results)  # last: marks the whole run complete

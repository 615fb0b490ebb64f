"""Result files of a translation evaluation: results.json / .csv, report.md, report.html.

The HTML is one self-contained file (inline CSS, no script, no CDN): a direction heatmap
and per-language bars, so it opens anywhere, including air-gapped clusters.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from statistics import mean

from lingualift import languages
from lingualift.eval.sources import ENGLISH
from lingualift.io import write_json, write_text

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


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


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


def colour(value: float | None, lo: float = 0.0, hi: float = 100.0) -> str:
    if value is None:
        return "#eee"
    t = max(0.0, min(1.0, (value - lo) / (hi - lo or 1)))
    return f"hsl({int(120 * t)}, 65%, {int(85 - 25 * t)}%)"  # red (0) to green (100)


def _html(results: dict, previous: dict | None) -> str:
    meta, records = results["meta"], results["directions"]
    esc = html.escape
    langs = sorted({r["src"] for r in records} | {r["tgt"] for r in records})
    cell = {(r["src"], r["tgt"]): value(r, HEAT_METRIC) for r in records}
    delta = {row["direction"]: row[HEAT_METRIC] for row in deltas(records, previous)} if previous else {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(meta['model'])} translation</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;font-size:13px}"
             ".bar{background:#4a90d9;height:12px;display:inline-block}.bar.b{background:#e8a33d}"
             "code{font-size:12px}</style></head><body>",
             f"<h1>Translation evaluation: {esc(meta['model'])}</h1>",
             f"<p>Data <code>{esc(meta['data'])}</code>, split {esc(meta['split'])}, template "
             f"{esc(meta['template']['name'])}, {meta['shots']} shots.</p>",
             f"<h2>{HEAT_METRIC} by direction (rows: source, columns: target)</h2><table><tr><th></th>"]
    parts += [f"<th>{esc(code)}</th>" for code in langs] + ["</tr>"]
    for s in langs:
        parts.append(f"<tr><th>{esc(s)}</th>")
        for t in langs:
            v = cell.get((s, t))
            d = delta.get(f"{s}-{t}")
            label = "" if v is None else f"{v:.1f}" + ("" if d is None else f"<br><small>{d:+.1f}</small>")
            parts.append(f"<td style='background:{colour(v)}'>{label}</td>")
        parts.append("</tr>")
    parts += ["</table>", f"<h2>{HEAT_METRIC} per language</h2>",
              "<p><span class='bar' style='width:20px'></span> en→X &nbsp; "
              "<span class='bar b' style='width:20px'></span> X→en</p><table>"]
    for code in langs:
        if code == ENGLISH:
            continue
        out_v, in_v = cell.get((ENGLISH, code)), cell.get((code, ENGLISH))
        if out_v is None and in_v is None:
            continue
        bars = "".join(f"<span class='bar{c}' style='width:{2 * (v or 0):.0f}px'></span> {fmt(v)}<br>"
                       for c, v in (("", out_v), (" b", in_v)) if v is not None)
        parts.append(f"<tr><th>{esc(languages.get(code).name)} ({code})</th><td style='text-align:left'>{bars}</td></tr>")
    parts += ["</table><h2>Averages</h2><table><tr><th>subset</th><th>n</th>"]
    parts += [f"<th>{m}</th>" for m in SUMMARY] + ["</tr>"]
    for name, row in averages(records).items():
        parts.append(f"<tr><th>{esc(name)}</th><td>{row['directions']}</td>"
                     + "".join(f"<td>{fmt(row[m])}</td>" for m in SUMMARY) + "</tr>")
    unavailable = {n: sc["unavailable"] for r in records for n, sc in r["scores"].items() if sc.get("unavailable")}
    parts += ["</table><h2>How this was made</h2><ul>"]
    parts += [f"<li>{esc(name)}: unavailable — {esc(why)}</li>" for name, why in unavailable.items()]
    parts += [f"<li>{esc(name)}: <code>{esc(sig)}</code></li>" for name, sigs in meta["signatures"].items() for sig in sigs]
    parts += [f"<li>versions: <code>{esc(str(meta['versions']))}</code></li>",
              f"<li>command: <code>{esc(meta['command'])}</code></li></ul></body></html>"]
    return "".join(parts)


def write_all(out: Path, results: dict, previous: dict | None = None) -> None:
    if previous:
        results["comparison"] = {"against": previous["meta"]["model"], "deltas": deltas(results["directions"], previous)}
    results["averages"] = averages(results["directions"])
    write_text(out / "results.csv", _csv(results["directions"]))
    write_text(out / "report.md", _markdown(results, previous))
    write_text(out / "report.html", _html(results, previous))
    write_json(out / "results.json", results)  # last: marks the whole run complete

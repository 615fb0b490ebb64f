"""The run's final page: what improved, from the stage folders, in one self-contained HTML.

Before/after translation scores per direction (base model against adapted, same settings),
held-out per-character perplexity, fertility change from vocabulary expansion, the loss
curves of every training stage (embedded PNGs), and links to every artefact.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse;"
          "margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px;text-align:right}"
          "th:first-child,td:first-child{text-align:left}.up{background:#d7f0d2}.down{background:#f6d5d5}"
          "img{max-width:460px;margin-right:1em}")


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def summary(run: Path) -> dict:
    """The numbers the page shows, also saved as summary.json."""
    out: dict = {"translation": {}, "perplexity": {}, "fertility": {}}
    base, adapted = _json(run / "eval" / "base" / "results.json"), _json(run / "eval" / "adapted" / "results.json")
    if base and adapted:
        before = {d["direction"]: d["scores"] for d in base["directions"]}
        for d in adapted["directions"]:
            out["translation"][d["direction"]] = {
                metric: {"base": before[d["direction"]][metric]["score"], "adapted": s["score"]}
                for metric, s in d["scores"].items() if s.get("score") is not None and metric in before[d["direction"]]}
    ppl = _json(run / "eval" / "perplexity.json")
    for code, roles in (ppl or {}).get("languages", {}).items():
        out["perplexity"][code] = {role: round(v["ppl_char"], 3) for role, v in roles.items()}
    vocab = _json(run / "vocab" / "model" / "manifest.json")
    for code, f in ((vocab or {}).get("effect", {}).get("fertility") or {}).items():
        out["fertility"][code] = {"before": f["before"]["tokens_per_word"], "after": f["after"]["tokens_per_word"],
                                  "change": round(f["change"], 4)}
    if vocab:
        out["vocab"] = {"added": vocab["added"], **vocab["vocab"]}
    return out


def _cell(before, after, higher_is_better: bool = True) -> str:
    if before is None or after is None:
        return "<td>-</td><td>-</td><td></td>"
    better = (after > before) == higher_is_better and after != before
    cls = "up" if better else "down" if after != before else ""
    return f"<td>{before:.2f}</td><td class='{cls}'>{after:.2f}</td><td class='{cls}'>{after - before:+.2f}</td>"


def render(ctx) -> str:
    run = ctx.recipe.folder()
    data = summary(run)
    (run / "report").mkdir(parents=True, exist_ok=True)
    (run / "report" / "summary.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(ctx.recipe.name)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{esc(ctx.recipe.name)}</h1>",
             f"<p>Base model <code>{esc(ctx.recipe.model)}</code>, adapted model <code>{esc(str(ctx.model))}</code>, "
             f"languages {esc(', '.join(ctx.recipe.langs))}.</p>"]
    if data["translation"]:
        metrics = sorted({m for d in data["translation"].values() for m in d})
        parts.append("<h2>Translation, base -> adapted</h2><table><tr><th>direction</th>"
                     + "".join(f"<th colspan=3>{esc(m)}</th>" for m in metrics) + "</tr><tr><th></th>"
                     + "<th>base</th><th>adapted</th><th>change</th>" * len(metrics) + "</tr>")
        for direction, scores in data["translation"].items():
            parts.append(f"<tr><td>{esc(direction)}</td>" + "".join(
                _cell(scores.get(m, {}).get("base"), scores.get(m, {}).get("adapted"), m not in ("ter", "off_target"))
                for m in metrics) + "</tr>")
        parts.append("</table><p><a href='../eval/adapted/report.html'>full evaluation report with heatmap</a></p>")
    if data["perplexity"]:
        parts.append("<h2>Held-out per-character perplexity (lower is better)</h2><table>"
                     "<tr><th>language</th><th>base</th><th>adapted</th><th>change</th></tr>")
        for code, v in data["perplexity"].items():
            parts.append(f"<tr><td>{esc(code)}</td>{_cell(v.get('base'), v.get('adapted'), False)}</tr>")
        parts.append("</table>")
    if data["fertility"]:
        parts.append(f"<h2>Tokenizer: {data['vocab']['added']} tokens added</h2><table><tr><th>language</th>"
                     "<th>tokens/word before</th><th>after</th><th>change</th></tr>")
        for code, v in data["fertility"].items():
            parts.append(f"<tr><td>{esc(code)}</td>{_cell(v['before'], v['after'], False)}</tr>")
        parts.append("</table>")
    curves = [(stage, run / stage / "train" / "loss.png") for stage in ("cpt", "sft", "dpo")]
    curves = [(s, p) for s, p in curves if p.is_file()]
    if curves:
        parts.append("<h2>Training loss</h2><p>")
        for stage, png in curves:
            encoded = base64.b64encode(png.read_bytes()).decode()
            parts.append(f"<img alt='{stage} loss' src='data:image/png;base64,{encoded}'>")
        parts.append("</p>")
    parts.append("<h2>Artefacts</h2><ul>")
    for stage in ("vocab", "data", "cpt", "sft", "dpo", "eval"):
        folder = run / stage
        if folder.is_dir():
            links = [p for p in sorted(folder.rglob("*")) if p.name in (
                "manifest.json", "effect.md", "report.html", "results.json", "perplexity.json", "config.yaml",
                "data.jsonl", "loss.png") and "checkpoint" not in str(p)]
            parts.append(f"<li>{stage}: " + ", ".join(
                f"<a href='../{esc(str(p.relative_to(run)))}'>{esc(str(p.relative_to(run)))}</a>" for p in links) + "</li>")
    parts.append("</ul></body></html>")
    return "".join(parts)

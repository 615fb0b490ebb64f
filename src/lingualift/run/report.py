"""The run's final page: what improved, read from the stages' declared outputs.

Before/after translation scores per direction (base model against adapted, same settings),
each change with its 95% CI and p-value from the paired test the adapted evaluation ran
against the base one (`comparison.significance` of adapted/results.json); what was learned
(target suite) beside what was forgotten (retention suite: English perplexity and tasks),
each delta with its paired test; the recipe's gates, a failed one in red; each back-translation
round's pairs, removals and held-out chrF++; fertility change
from vocabulary expansion, the loss curves of every training stage (embedded PNGs), and
links to every artefact. `summary` gives the numbers (also saved as summary.json); `render`
returns the page; neither writes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lingualift.core.pages import render as render_page
from lingualift.run.gates import LOWER_IS_BETTER, check


def _json(path: str | None) -> dict | None:
    return json.loads(Path(path).read_text(encoding="utf-8")) if path and Path(path).is_file() else None


def summary(outputs: dict[str, dict], gates: list | None = None) -> dict:
    """The numbers the page shows, from the outputs each stage declared, and the gates checked
    on them."""
    out: dict = {"translation": {}, "perplexity": {}, "tasks": {}, "fertility": {}}
    evaluation = outputs.get("eval", {})
    base, adapted = _json(evaluation.get("base")), _json(evaluation.get("adapted"))
    if base and adapted:
        before = {d["direction"]: d["scores"] for d in base["directions"]}
        tests = (adapted.get("comparison") or {}).get("significance") or {}
        for d in adapted["directions"]:
            out["translation"][d["direction"]] = {
                metric: {"base": before[d["direction"]][metric]["score"], "adapted": s["score"],
                         **_test(tests.get(d["direction"], {}).get(metric))}
                for metric, s in d["scores"].items() if s.get("score") is not None and metric in before[d["direction"]]}
    ppl = _json(evaluation.get("perplexity"))
    for code, roles in (ppl or {}).get("languages", {}).items():
        out["perplexity"][code] = {"suite": roles["suite"], **_test(roles["test"]),
                                   **{role: round(roles[role]["ppl_char"], 3) for role in ("base", "adapted")}}
    for suite in ("target", "retention"):
        found = _tasks((evaluation.get(f"tasks_{suite}_base"), evaluation.get(f"tasks_{suite}")))
        if found:
            out["tasks"][suite] = found
    vocab = _json(outputs.get("vocab", {}).get("manifest"))
    for code, f in ((vocab or {}).get("effect", {}).get("fertility") or {}).items():
        out["fertility"][code] = {"before": f["before"]["tokens_per_word"], "after": f["after"]["tokens_per_word"],
                                  "change": round(f["change"], 4)}
    if vocab:
        out["vocab"] = {"added": vocab["added"], **vocab["vocab"]}
    rounds = outputs.get("synth", {}).get("rounds")
    if rounds and Path(rounds).is_file():  # iterative back-translation: each round's pairs and held-out chrF++
        out["synth"] = json.loads(Path(rounds).read_text(encoding="utf-8"))
        if out["synth"] and out["translation"]:  # the last round's SFT is the eval stage's adapted model
            out["synth"][-1]["heldout"] = {d: {"chrf++": s["chrf++"]["adapted"]} for d, s in out["translation"].items()
                                           if "chrf++" in s}
    out["gates"] = check(gates or [], out)
    return out


def _tasks(paths: tuple[str | None, str | None]) -> dict:
    """Task accuracy of base and adapted per (task, language), with the adapted run's paired test."""
    from lingualift.tasks.task_report import primary

    base, adapted = (_json(path) for path in paths)
    if not base or not adapted:
        return {}
    tests = (adapted.get("comparison") or {}).get("significance") or {}
    return {task: {code: {"base": primary(base["tasks"].get(task, {}).get(code, {})), "adapted": primary(row),
                          **_test(tests.get(task, {}).get(code))}
                   for code, row in per_lang.items()}
            for task, per_lang in adapted["tasks"].items()}


def _test(test: dict | None) -> dict:
    """What the page shows of a paired test: the delta's 95% CI, the p-value, the signature."""
    if not test or test.get("delta") is None:
        return {}
    return {key: test[key] for key in ("delta", "ci", "p_value", "significant", "signature")}


def _row(before, after, higher_is_better: bool = True, test: dict | None = None) -> dict:
    changed = before is not None and after is not None and after != before
    better = changed and (after > before) == higher_is_better
    row = {"before": before, "after": after, "change": after - before if changed else 0.0 if after is not None else None,
           "cls": "up" if better else "down" if changed else "", "ci": None}
    if test and test.get("ci"):
        # a difference within chance is not colored as a gain or a loss
        row.update(ci=test["ci"], p=test["p_value"], ns=not test["significant"])
        row["cls"] = "ns" if row["ns"] else row["cls"]
    return row


def _suites(numbers: dict) -> dict[str, list[dict]]:
    """Learned beside forgotten: the target suite's rows (translation chrF++, perplexity and
    tasks in the recipe's languages) and the retention suite's (English perplexity and tasks)."""
    rows: dict[str, list[dict]] = {"target": [], "retention": []}
    for direction, scores in numbers["translation"].items():
        for metric in ("chrf++", "comet"):
            if metric in scores:
                rows["target"].append({"what": f"translation {direction}", "metric": metric,
                                       **_row(scores[metric]["base"], scores[metric]["adapted"], True, scores[metric])})
    for code, v in numbers["perplexity"].items():
        rows[v["suite"]].append({"what": f"held-out text {code}", "metric": "ppl_char (lower is better)",
                                 **_row(v["base"], v["adapted"], False, v)})
    for suite, tasks in numbers["tasks"].items():
        for task, per_lang in tasks.items():
            for code, v in per_lang.items():
                rows[suite].append({"what": f"{task} {code}", "metric": "accuracy",
                                    **_row(v["base"], v["adapted"], True, v)})
    return rows


def render(recipe, model: str, numbers: dict, outputs: dict[str, dict], folder: Path) -> str:
    metrics = sorted({m for d in numbers["translation"].values() for m in d})
    translation = {direction: [_row(scores.get(m, {}).get("base"), scores.get(m, {}).get("adapted"),
                                    m not in LOWER_IS_BETTER, scores.get(m)) for m in metrics]
                   for direction, scores in numbers["translation"].items()}
    signatures = sorted({(m, s["signature"]) for scores in numbers["translation"].values()
                         for m, s in scores.items() if s.get("signature")})
    suites = _suites(numbers)
    fertility = {code: _row(v["before"], v["after"], False) for code, v in numbers["fertility"].items()}
    curves = [(stage, Path(outputs[stage]["loss_png"]).read_bytes()) for stage in ("cpt", "sft", "dpo", "grpo")
              if stage in outputs and Path(outputs[stage].get("loss_png", "")).is_file()]
    links = {stage: [os.path.relpath(p, folder) for name, p in sorted(found.items())
                     if name not in ("model", "shards") and Path(p).exists()]
             for stage, found in outputs.items()}
    return render_page("run_report.html.j2", recipe=recipe, model=model, metrics=metrics, translation=translation,
                       signatures=signatures, suites=suites, gates=numbers.get("gates", []), fertility=fertility,
                       vocab=numbers.get("vocab"), synth=numbers.get("synth", []),
                       curves=curves,
                       links=links, eval_report=os.path.relpath(outputs["eval"]["adapted_report"], folder)
                       if "eval" in outputs else None)

"""Recipe variants: one recipe, several named overrides, one comparison table.

    variants:
      mean-init: {}                       # the recipe as written: the reference row
      random-init: {vocab.init: random}
      no-english: {data.mix.english_share: 0}

or `lingualift run RECIPE --variant random-init=vocab.init:random,cpt.lr:1e-4` (repeatable;
added after the recipe's own). Each variant runs in RUNS/NAME/VARIANT; a stage whose
fingerprint (settings, inputs, the stages before) equals one another variant has finished is
not run again but read from that variant's folder, so variants that differ only in SFT share
vocab, data and CPT. The run ends with RUNS/NAME/variants.html and variants.csv: one row per
variant, one column per target and retention number of its adapted model, each with its
paired test against the first variant (same lines, same items).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from lingualift.core.config import set_dotted, validate
from lingualift.core.io import InputError, read_lines, write_text
from lingualift.core.pages import render
from lingualift.metrics import significance as sig
from lingualift.run.recipe import Recipe
from lingualift.run.runner import Step, plan, run

# `a.b:v,c:[1,2]`: split before each `key:`, so values may hold commas inside brackets
_PAIR = re.compile(r",(?=[A-Za-z_][\w.+-]*:)")


def parse(flags: list[str]) -> dict[str, dict]:
    """`--variant NAME=key:value,...` flags as {name: {dotted key: YAML-typed value}}."""
    out: dict[str, dict] = {}
    for flag in flags:
        name, sep, body = flag.partition("=")
        if not sep or not name:
            raise InputError(f"--variant {flag!r}: expected NAME=KEY:VALUE,..., e.g. lr4=sft.lr:1e-4")
        out[name] = {}
        for pair in filter(None, _PAIR.split(body)):
            key, colon, value = pair.partition(":")
            if not colon:
                raise InputError(f"--variant {flag!r}: {pair!r} is not KEY:VALUE")
            out[name][key.strip()] = yaml.safe_load(value)
    return out


def expand(recipe: Recipe, extra: dict[str, dict] | None = None) -> list[Recipe]:
    """The recipe once per variant (itself when it has none), each with its overrides applied
    and validated like the recipe; an unknown key fails naming the variant."""
    variants = {**recipe.variants, **(extra or {})}
    if not variants:
        return [recipe]
    base = recipe.model_dump(mode="json", exclude={"variants", "variant", "fallback"})
    out = []
    for name, overrides in variants.items():
        raw = json.loads(json.dumps(base))
        for key, value in overrides.items():
            set_dotted(raw, key, value)
        try:
            # each variant keeps only its own overrides, for the table to show
            out.append(validate(Recipe, {**raw, "variant": name, "variants": {name: overrides}}))
        except InputError as err:
            raise InputError(f"variant {name}: {err.message}") from None
    return out


def run_all(recipes: list[Recipe], log: Callable[[str], None] = print, **options) -> list[list[Step]]:
    """Each variant in turn (a recipe without variants is its own single one); stages two
    variants have in common run once. With several, ends with the comparison table."""
    fresh: set[str] = set()
    done = []
    for recipe in recipes:
        if recipe.variant:
            log(f"variant {recipe.variant}")
        done.append(run(recipe, log=log, fresh=fresh, **options))
    if len(recipes) > 1 and not options.get("dry_run"):
        table(recipes)
        folder = Path(recipes[0].runs) / recipes[0].name
        log(f"variants: {folder / 'variants.html'}  {folder / 'variants.csv'}")
    return done



def _outputs(recipe: Recipe) -> dict[str, dict]:
    """A variant's stage outputs, wherever they were made (its own folder or a sharing one's)."""
    return {step.stage: json.loads((step.folder / "outputs.json").read_text(encoding="utf-8"))
            for step in plan(recipe) if (step.folder / "outputs.json").is_file()}


def _columns(recipe: Recipe) -> dict[str, dict]:
    """column -> {value, and what a paired test needs} for the variant's adapted model."""
    from lingualift.tasks.task_report import primary

    out: dict[str, dict] = {}
    evaluation = _outputs(recipe).get("eval", {})
    if "adapted" in evaluation and Path(evaluation["adapted"]).is_file():
        folder = Path(evaluation["adapted"]).parent
        results = json.loads(Path(evaluation["adapted"]).read_text(encoding="utf-8"))
        for d in results["directions"]:
            for metric in ("chrf++", "bleu"):
                if d["scores"].get(metric, {}).get("score") is not None:
                    out[f"{metric} {d['direction']}"] = {"value": d["scores"][metric]["score"], "kind": "translation",
                                                         "metric": metric, "direction": d, "folder": folder,
                                                         "meta": results["meta"]}
    if evaluation.get("perplexity"):
        ppl = json.loads(Path(evaluation["perplexity"]).read_text(encoding="utf-8"))
        for code, roles in ppl["languages"].items():
            out[f"ppl_char {code}" + (" (retention)" if roles["suite"] == "retention" else "")] = {
                "value": roles["adapted"]["ppl_char"], "kind": "ppl", "nll": roles["adapted"]["line_nll"],
                "chars": roles["adapted"]["line_chars"]}
    for suite in ("target", "retention"):
        if evaluation.get(f"tasks_{suite}"):
            path = Path(evaluation[f"tasks_{suite}"])
            results = json.loads(path.read_text(encoding="utf-8"))
            for task, per_lang in results["tasks"].items():
                for code, row in per_lang.items():
                    out[f"{task} {code}" + (" (retention)" if suite == "retention" else "")] = {
                        "value": primary(row), "kind": "task", "task": task,
                        "code": code, "results": results, "folder": path.parent}
    out.update(_costs(recipe))
    return out


def _costs(recipe: Recipe) -> dict[str, dict]:
    """What a variant costs, beside what it scores (SambaLingo's tokenizer ablation reports
    both): tokens per word of its model's tokenizer on the held-out perplexity lines, and the
    seconds a CPT step took (the trainer's train_runtime over its steps, so on one machine a
    longer sequence of the same text shows here). Measured once each, without a paired test."""
    from lingualift.corpora.sources import heldout
    from lingualift.vocab.fertility import analyze_language, load_segmenter

    out: dict[str, dict] = {}
    outputs, e = _outputs(recipe), recipe.eval
    models = [o["model"] for stage, o in outputs.items() if stage != "eval" and "model" in o]
    if e is not None and e.ppl_lines and models and "eval" in outputs:
        segmenter = load_segmenter(models[-1])
        for code in recipe.langs:
            row = analyze_language(segmenter, heldout(e.data, code, e.ppl_lines))
            out[f"tokens/word {code}"] = {"value": row["tokens_per_word"], "kind": "cost"}
    log = Path(outputs.get("cpt", {}).get("manifest", "")).with_name("log.jsonl")
    if log.is_file():
        done = [h for h in map(json.loads, log.read_text(encoding="utf-8").splitlines()) if "train_runtime" in h]
        steps = json.loads(log.with_name("manifest.json").read_text(encoding="utf-8"))["steps"]
        if done and steps:
            out["cpt s/step"] = {"value": done[-1]["train_runtime"] / steps, "kind": "cost"}
    return out


def _test(first: dict, other: dict) -> dict | None:
    """The paired test of a variant's number against the first variant's, when both were
    measured on the same lines or items; None when they cannot be paired."""
    from lingualift.corpora.sources import load_pair
    from lingualift.tasks.task_report import significance as task_significance

    if first["kind"] == "cost":
        return None
    if first["kind"] == "ppl":
        if first["chars"] != other["chars"]:
            return None
        return sig.ppl_test(first["nll"], other["nll"], first["chars"]).as_dict()
    if first["kind"] == "translation":
        a, b = first["direction"], other["direction"]
        if a.get("source_digest") != b.get("source_digest") or a["n"] != b["n"]:
            return None
        hyps = [read_lines(f["folder"] / "directions" / a["direction"] / "hyp.txt", allow_empty=True)
                for f in (first, other)]
        meta = other["meta"]
        _, refs = load_pair(meta["data"], b["src"], b["tgt"], meta["split"], meta["limit"], meta["offset"])
        return sig.corpus_test(first["metric"], hyps[0], hyps[1], list(refs.lines), b["tgt"]).as_dict()
    found = task_significance(other["results"], other["folder"], first["folder"])
    return found.get(other["task"], {}).get(other["code"])


def table(recipes: list[Recipe]) -> dict:
    """Rows (variants) x columns (numbers), each non-reference cell with its test against the
    first variant; written as RUNS/NAME/variants.csv and variants.html."""
    columns = {recipe.variant: _columns(recipe) for recipe in recipes}
    reference = recipes[0].variant
    names = [name for name in columns[reference] if all(name in c for c in columns.values())]
    rows = []
    for recipe in recipes:
        cells = {}
        for name in names:
            value = columns[recipe.variant][name]["value"]
            test = None if recipe.variant == reference else _test(columns[reference][name],
                                                                   columns[recipe.variant][name])
            cells[name] = {"value": value, "test": test, "kind": columns[recipe.variant][name]["kind"]}
        rows.append({"variant": recipe.variant, "overrides": recipe.variants.get(recipe.variant, {}), "cells": cells})
    folder = Path(recipes[0].runs) / recipes[0].name
    result = {"reference": reference, "columns": names, "rows": rows}
    write_text(folder / "variants.csv", _csv(result))
    write_text(folder / "variants.html", render("variants.html.j2", recipe_name=recipes[0].name, table=result,
                                                describe=sig.describe))
    return result


def _csv(result: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", *[f"{c}{suffix}" for c in result["columns"]
                                  for suffix in ("", " delta", " ci_low", " ci_high", " p")]])
    for row in result["rows"]:
        values = []
        for name in result["columns"]:
            cell = row["cells"][name]
            test = cell["test"] or {}
            ci = test.get("ci") or [None, None]
            values += [cell["value"], test.get("delta"), ci[0], ci[1], test.get("p_value")]
        writer.writerow([row["variant"], *values])
    return buffer.getvalue()

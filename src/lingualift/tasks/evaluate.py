"""`lingualift eval tasks`: every (task, language) scored, each part saved as it finishes.

A part is written to OUT/parts/<task>-<lang>.json with the settings it was made with; a
re-run with the same settings skips finished parts, so a killed evaluation resumes.
Multiple choice: acc = argmax of summed log-likelihood, acc_norm = argmax of log-likelihood
divided by the choice string's length in characters (lm-eval's definitions). MGSM: exact
match of the last number of a greedy answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lingualift import tasks
from lingualift.core.io import InputError, write_json
from lingualift.core.progress import ProgressFactory, bar
from lingualift.core.provenance import provenance
from lingualift.lang.languages import resolve_many
from lingualift.tasks.base import HUB, Item, flores_code
from lingualift.tasks.config import TasksSettings


def task_langs(name: str, root: Path) -> tuple[str, ...]:
    module = tasks.get(name)
    return module.langs(root) if hasattr(module, "langs") else module.LANGS


def plan(names: list[str], root: Path, wanted: set[str] | None) -> list[tuple[str, str]]:
    """(task, file language) pairs to run; `wanted` holds FLORES codes, None for all."""
    out = []
    for name in names:
        # hub copies of SIB-200 and Belebele cover more languages than any list here: --langs names them
        available = task_langs(name, root) or tuple(sorted(wanted or ()))
        out += [(name, lang) for lang in available if wanted is None or flores_code(lang) in wanted]
    if not out:
        raise InputError(f"no language of {', '.join(names)} matches --langs")
    return out


def score_choices(item: Item, lls: list[float]) -> dict:
    pred = max(range(len(lls)), key=lambda i: lls[i])
    pred_norm = max(range(len(lls)), key=lambda i: lls[i] / item.norm_lengths[i])
    return {"id": item.id, "gold": item.gold, "loglik": lls, "pred": pred, "pred_norm": pred_norm,
            "acc": float(pred == item.gold), "acc_norm": float(pred_norm == item.gold)}


def run_part(model, tokenizer, items: list[Item], batch_size: int, progress: Callable[[int], None]) -> dict:
    from lingualift.tasks.loglik import loglikelihoods

    if items and items[0].generative:
        return _generate_part(model, tokenizer, items, batch_size, progress)
    pairs = [(c.context, c.continuation) for item in items for c in item.choices]
    counted = {"pairs": 0, "items": 0}

    def advance(n: int) -> None:  # pairs scored -> whole items, so the bar ends exactly at its total
        counted["pairs"] += n
        done = counted["pairs"] * len(items) // len(pairs)
        progress(done - counted["items"])
        counted["items"] = done

    scores = loglikelihoods(model, tokenizer, pairs, batch_size, progress=advance)
    examples, cursor = [], 0
    for item in items:
        lls = [s[0] for s in scores[cursor:cursor + len(item.choices)]]
        cursor += len(item.choices)
        examples.append(score_choices(item, lls))
    return {"n": len(items), "acc": _mean(e["acc"] for e in examples),
            "acc_norm": _mean(e["acc_norm"] for e in examples), "examples": examples}


def _generate_part(model, tokenizer, items, batch_size, progress) -> dict:
    from lingualift.inference.generate import GenerationParams, Generator
    from lingualift.tasks.mgsm import MAX_NEW_TOKENS, correct, extract_number

    generator = Generator(model, tokenizer)
    tokenizer.padding_side = "left"
    params = GenerationParams(max_new_tokens=MAX_NEW_TOKENS, batch_size=batch_size, stop=items[0].stop)
    outputs = generator.generate([item.prompt for item in items], params, progress)
    examples = [{"id": item.id, "answer": item.answer, "output": out, "extracted": extract_number(out),
                 "exact_match": float(correct(out, item.answer))} for item, out in zip(items, outputs)]
    return {"n": len(items), "exact_match": _mean(e["exact_match"] for e in examples), "examples": examples}


def _prompt(name: str) -> str:
    """How a task asks, for the result files: the first paragraph of its module's docstring."""
    return (tasks.get(name).__doc__ or "").strip().split("\n\n")[0]


def _mean(values) -> float:
    values = list(values)
    return round(100 * sum(values) / len(values), 2) if values else 0.0


def evaluate(settings: TasksSettings, *, model: str, data: str | Path, out: str | Path,
             progress: ProgressFactory | None = None) -> dict:
    """Run and save every part; returns results.json's content (without the report's extras)."""
    from lingualift.core.fingerprint import digest
    from lingualift.inference import models

    s, model_spec, root, out = settings, model, Path(data), Path(out)
    if root != HUB and not root.is_dir():
        raise InputError("task data folder not found (set --data or LINGUALIFT_TASKS_DATA)", root)
    names, shots, limit, fmt, batch_size = s.tasks, s.shots, s.limit, s.format, s.batch_size
    langs = set(resolve_many(s.langs)) or None
    meta = {"model": model_spec, "data": str(root), "shots": shots, "limit": limit, "format": fmt, "dtype": s.dtype}
    fingerprint = digest(meta)
    # Every item is read before the model loads: a bad file or missing hub copy fails in a second.
    work = []
    for name, lang in plan(names, root, langs):
        module = tasks.get(name)
        k = module.DEFAULT_SHOTS if shots is None else shots
        path = out / "parts" / f"{name}-{lang}.json"
        done = path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("fingerprint") == fingerprint
        work.append((name, lang, k, path, None if done else module.load(root, lang, k, fmt)[:limit]))
    model = tokenizer = None
    if any(items is not None for *_, items in work):
        model, tokenizer = models.load(model_spec, s.dtype)
        model.eval()
    results: dict = {"tasks": {}}
    for name, lang, k, path, items in work:
        if items is None:
            part = json.loads(path.read_text(encoding="utf-8"))
        else:
            with bar(progress, f"{name} {lang}", len(items)) as advance:
                part = run_part(model, tokenizer, items, batch_size, advance)
            part.update(fingerprint=fingerprint, shots=k, prompt=_prompt(name))
            write_json(path, part)
        results["tasks"].setdefault(name, {})[flores_code(lang)] = {
            key: part[key] for key in ("n", "acc", "acc_norm", "exact_match", "shots") if key in part}
    results["meta"] = {**meta, "batch_size": batch_size, "settings": s.model_dump(),
                       "prompts": {name: _prompt(name) for name in names}, **provenance()}
    return results

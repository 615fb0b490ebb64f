"""`lingualift run RECIPE`: every stage of a recipe, each cached by a fingerprint.

A stage's fingerprint hashes its own settings, the input files it names (path, size and
modification time) and the fingerprint of the stage before it, so changing an SFT setting
re-runs SFT and what follows but not the data. A stage folder holds `stage.json`
({fingerprint, done}); a finished stage with the same fingerprint is skipped, an unfinished
one with the same fingerprint resumes (training from its last complete checkpoint, data
build from its markers, evaluation from its per-direction cache), and one whose
fingerprint changed starts over.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Callable

from lingualift.io import InputError, write_json
from lingualift.recipe import STAGES, Recipe

_PATHS = re.compile(r"^(?:flores:|wechsel:|muse:|tsv:|dictd:|panlex:)?(\.{0,2}/[^\s]+|[\w.-]+/[^\s]+)$")


def _files(value, exist: bool = True) -> list[str]:
    """Paths mentioned anywhere in a stage's settings that exist on disk (or, with
    exist=False, that do not: what a dry run warns about)."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _files(v, exist)]
    if isinstance(value, list):
        return [p for v in value for p in _files(v, exist)]
    if isinstance(value, str):
        match = _PATHS.match(value)
        if match and Path(match.group(1)).exists() == exist:
            return [match.group(1)]
    return []


def _stamp(path: str) -> list:
    p = Path(path)
    if p.is_file():
        return [path, p.stat().st_size, p.stat().st_mtime_ns]
    # a folder (FLORES): its file count and newest change, cheap and enough to notice edits
    entries = list(p.iterdir())
    return [path, len(entries), max((e.stat().st_mtime_ns for e in entries), default=0)]


def _settings(recipe: Recipe, stage: str):
    if stage == "report":
        return {}
    value = getattr(recipe, stage)
    return value.model_dump() if hasattr(value, "model_dump") else value


def plan(recipe: Recipe) -> list[dict]:
    """Each stage with its folder, fingerprint and status (done / resume / run)."""
    out, upstream = [], hashlib.sha256(json.dumps({"model": recipe.model, "langs": recipe.langs}).encode()).hexdigest()
    for stage in recipe.stages():
        settings = _settings(recipe, stage)
        payload = {"stage": stage, "settings": settings, "upstream": upstream,
                   "files": [_stamp(p) for p in sorted(set(_files(settings)))]}
        fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
        folder = recipe.folder() / stage
        state = _state(folder)
        status = "run"
        if state.get("fingerprint") == fingerprint:
            status = "done" if state.get("done") else "resume"
        out.append({"stage": stage, "folder": folder, "fingerprint": fingerprint, "status": status})
        upstream = fingerprint
    return out


def _state(folder: Path) -> dict:
    path = folder / "stage.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run(recipe: Recipe, *, start: str | None = None, only: str | None = None, dry_run: bool = False,
        log: Callable[[str], None] = print) -> list[dict]:
    """Run the stages that are not done, plus all from `start`, or only `only`."""
    from lingualift import stages

    steps = plan(recipe)
    names = [s["stage"] for s in steps]
    for flag, value in (("--from", start), ("--only", only)):
        if value and value not in names:
            raise InputError(f"{flag} {value!r}: this recipe's stages are {', '.join(names)} (all: {', '.join(STAGES)})")
    # --from re-runs a stage and what follows; --only re-runs one stage, done or not
    forced = set(names[names.index(start):]) if start else {only} if only else set()
    context = stages.Context(recipe)
    for step in steps:
        name, folder = step["stage"], step["folder"]
        if only and name != only:
            stages.restore(context, name, folder, step["status"] == "done")
            continue
        if name in forced:
            step["status"] = "run"
        log(f"{name:<7} {step['status']:<7} {folder}")
        if dry_run:
            for path in sorted(set(_files(_settings(recipe, name), exist=False))):
                log(f"        input not found (yet): {path}")
            continue
        if step["status"] == "done":
            stages.restore(context, name, folder, True)
            continue
        if step["status"] == "run" and folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "stage.json", {"fingerprint": step["fingerprint"], "done": False})
        stages.STAGE_FUNCTIONS[name](context, folder, resume=step["status"] == "resume")
        write_json(folder / "stage.json", {"fingerprint": step["fingerprint"], "done": True})
    return steps

"""`lingualift run RECIPE`: every stage of a recipe, each cached by a fingerprint.

A stage's fingerprint hashes its own settings, the stamps of the input files it declares
(`inputs()` of its recipe model; see core/fingerprint.py) and the fingerprint of the stage
before it, so changing an SFT setting re-runs SFT and what follows but not the data. A stage
folder holds `stage.json` ({fingerprint, done}) and, once done, `outputs.json` (its declared
outputs). A finished stage with the same fingerprint is skipped, an unfinished one resumes
(training from its last complete checkpoint, data build from its markers, evaluation from
its per-direction cache), and one whose fingerprint changed starts over. A stage whose
needed artifact comes from a stage that has not run is refused in one line.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lingualift.core.fingerprint import digest
from lingualift.core.io import InputError, write_json
from lingualift.core.progress import ProgressFactory
from lingualift.run.context import Context
from lingualift.run.recipe import STAGES, Recipe
from lingualift.run.stages import STAGES as DEFINITIONS


@dataclass
class Step:
    stage: str
    folder: Path
    fingerprint: str
    status: str  # done | resume | run
    inputs: list[str]


def _settings(recipe: Recipe, stage: str) -> dict:
    if stage == "report":  # the report checks the gates: changing one re-renders it
        return {"gates": [gate.model_dump(mode="json") for gate in recipe.gates]}
    value = getattr(recipe, stage)
    return value.model_dump(mode="json") if value is not None else {}


def _inputs(recipe: Recipe, stage: str) -> list[str]:
    value = getattr(recipe, stage) if stage != "report" else None
    return value.inputs() if hasattr(value, "inputs") else []


def _hub_datasets(recipe: Recipe, stage: str) -> list[tuple[str, str | None]]:
    value = getattr(recipe, stage) if stage != "report" else None
    return value.hub_datasets() if hasattr(value, "hub_datasets") else []


def _unreachable(recipe: Recipe, stage: str, reachable: dict[str, bool]) -> list[str]:
    """"NAME (config)" of each hub dataset the stage streams that the hub does not answer for;
    one metadata call per dataset (`reachable` keeps the answers across stages)."""
    from lingualift.core.assets import hub_dataset_reachable

    shown = []
    for name, config in dict.fromkeys(_hub_datasets(recipe, stage)):
        if name not in reachable:
            reachable[name] = hub_dataset_reachable(name)
        if not reachable[name]:
            shown.append(f"{name} ({config})" if config else name)
    return shown


def _state(folder: Path, name: str = "stage.json") -> dict:
    path = folder / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _finished(folder: Path, fingerprint: str) -> bool:
    state = _state(folder)
    return state.get("fingerprint") == fingerprint and bool(state.get("done")) and (folder / "outputs.json").is_file()


def _shared(recipe: Recipe, stage: str, fingerprint: str) -> Path | None:
    """Another variant's finished folder for this very stage (same fingerprint), if any."""
    if recipe.variant is None:
        return None
    siblings = sorted(p / stage for p in (Path(recipe.runs) / recipe.name).iterdir() if p.name != recipe.variant) \
        if (Path(recipe.runs) / recipe.name).is_dir() else []
    return next((folder for folder in siblings if _finished(folder, fingerprint)), None)


def plan(recipe: Recipe) -> list[Step]:
    """Each stage with its folder, fingerprint and status; a variant's stage that another
    variant finished with the same fingerprint is done, in that variant's folder."""
    steps, upstream = [], digest({"model": recipe.model, "langs": recipe.langs}, recipe.model_files())
    for stage in recipe.stages():
        inputs = sorted(set(_inputs(recipe, stage)))
        fingerprint = digest({"stage": stage, "settings": _settings(recipe, stage), "upstream": upstream}, inputs)
        folder = recipe.folder() / stage
        status = "done" if _finished(folder, fingerprint) else \
            "resume" if _state(folder).get("fingerprint") == fingerprint else "run"
        shared = _shared(recipe, stage, fingerprint) if status == "run" else None
        steps.append(Step(stage, shared or folder, fingerprint, "done" if shared else status, inputs))
        upstream = fingerprint
    return steps


def run(recipe: Recipe, *, start: str | None = None, only: str | None = None, dry_run: bool = False,
        log: Callable[[str], None] = print, progress: ProgressFactory | None = None,
        fresh: set[str] | None = None) -> list[Step]:
    """Run the stages that are not done, plus all from `start`, or only `only`. `fresh`: the
    fingerprints of stages run during this invocation (by an earlier variant), not forced twice."""
    fresh = set() if fresh is None else fresh
    steps = plan(recipe)
    names = [s.stage for s in steps]
    for flag, value in (("--from", start), ("--only", only)):
        if value and value not in names:
            raise InputError(f"{flag} {value!r}: this recipe's stages are {', '.join(names)} (all: {', '.join(STAGES)})")
    # --from re-runs a stage and what follows; --only re-runs one stage, done or not
    forced = set(names[names.index(start):]) if start else {only} if only else set()
    ctx = Context(recipe, {"model": recipe.model}, {}, log, progress)
    reachable: dict[str, bool] = {}  # hub dataset -> whether the hub answered (dry run)
    missing: dict[str, Step] = {}  # artifact -> the stage that should have made it and has not
    for step in steps:
        definition = DEFINITIONS[step.stage]
        if only and step.stage != only:
            if step.status == "done":
                _restore(ctx, step)
            else:
                missing.update({artifact: step for artifact in definition.makes})
            continue
        if step.stage in forced and step.fingerprint not in fresh:
            step.status, step.folder = "run", recipe.folder() / step.stage
        if dry_run:
            if step.status == "run" and step.fingerprint in fresh:
                step.status = "shared"  # an earlier variant of this dry run makes it
            fresh.add(step.fingerprint)
        log(f"{step.stage:<7} {step.status:<7} {step.folder}")
        if dry_run:
            for path in step.inputs:
                if not Path(path).exists():
                    log(f"        input not found (yet): {path}")
            for dataset in _unreachable(recipe, step.stage, reachable):
                log(f"        hub dataset not reachable (offline?): {dataset}")
            continue
        if step.status == "done":
            _restore(ctx, step)
            continue
        for artifact in definition.needs:
            if artifact in missing:
                maker = missing[artifact]
                raise InputError(f"{step.stage} needs the {artifact} that {maker.stage} makes, and {maker.stage} has "
                                 f"not run (no {maker.folder / 'outputs.json'}): run the recipe without --only, or "
                                 f"with --from {maker.stage}")
        _execute(ctx, step, definition)
        fresh.add(step.fingerprint)
    return steps


def _restore(ctx: Context, step: Step) -> None:
    outputs = _state(step.folder, "outputs.json")
    ctx.outputs[step.stage] = outputs
    ctx.artifacts.update({k: outputs[k] for k in DEFINITIONS[step.stage].makes if k in outputs})


def _execute(ctx: Context, step: Step, definition) -> None:
    if step.status == "run" and step.folder.exists():
        shutil.rmtree(step.folder)
    step.folder.mkdir(parents=True, exist_ok=True)
    write_json(step.folder / "stage.json", {"fingerprint": step.fingerprint, "done": False})
    try:
        outputs = definition.run(ctx, step.folder, step.status == "resume")
    except InputError:
        if step.status == "run":  # bad input leaves no half-made stage behind
            shutil.rmtree(step.folder, ignore_errors=True)
        raise
    write_json(step.folder / "outputs.json", outputs)
    write_json(step.folder / "stage.json", {"fingerprint": step.fingerprint, "done": True})
    ctx.outputs[step.stage] = outputs
    ctx.artifacts.update({k: outputs[k] for k in definition.makes})


def failed_gates(steps: list[Step]) -> list[dict]:
    """The gates the run's report found unmet (none when the report has not run)."""
    report = next((step for step in steps if step.stage == "report"), None)
    summary = _state(report.folder, "summary.json") if report else {}
    return [gate for gate in summary.get("gates", []) if not gate["passed"]]

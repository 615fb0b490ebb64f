"""Run one stage of `data build` on the executor its config names: datatrove's
`LocalPipelineExecutor` (tasks in processes here), `SlurmPipelineExecutor` (a job array per
stage, each depending on the one before) or `RayPipelineExecutor` (an existing cluster, or
a local one started for the build).

Every stage keeps datatrove's logging folder under `OUT/.work/logs/STAGE/`: a completion
marker per task (a rerun skips what is done), each task's log and its step stats
(`stats/RANK.json`, which the manifest is made from). Nothing of datatrove's logging reaches
the terminal: a bad input ends in its one line, and the progress bars are the CLI's.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

# datatrove's dedup steps draw tqdm bars of their own on stderr
os.environ.setdefault("TQDM_DISABLE", "1")

import datatrove.executor.base as _base  # noqa: E402
import datatrove.utils.logging as _logging  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from loguru import logger  # noqa: E402

from lingualift.core.progress import ProgressFactory, bar  # noqa: E402
from lingualift.data.config import Execution  # noqa: E402


def _task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
    """datatrove's task logger, to the task's log file only."""
    logger.remove()
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    logger.add(logfile, colorize=False, level="DEBUG",
               format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}")
    logger.info(f"Launching pipeline for {rank=}")
    return logfile


def quiet() -> None:
    """Keep datatrove's logs in its log files (run in every process that runs a task)."""
    _base.add_task_logger = _task_logger
    _logging.setup_default_logger = logger.remove
    logger.remove()


quiet()


@dataclass
class Stage:
    name: str
    pipeline: list
    tasks: int
    label: str = ""  # the progress bar's
    after: list[str] = field(default_factory=list)  # stages it waits for (all earlier ones, in order)


def logs(work: Path, stage: str) -> Path:
    return work / "logs" / stage


def done(work: Path, stage: Stage) -> int:
    folder = logs(work, stage.name) / "completions"
    return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0


def complete(work: Path, stage: Stage) -> bool:
    return done(work, stage) >= stage.tasks


def task_stats(work: Path, stage: str, rank: int) -> dict[str, int]:
    """The counters (`label: total`) of every step of one task, from datatrove's stats file."""
    path = logs(work, stage) / "stats" / f"{rank:05d}.json"
    found: dict[str, int] = {}
    if not path.is_file():
        return found
    for step in json.loads(path.read_text("utf-8")):
        for label, value in step.get("stats", {}).items():
            total = value.get("total", value.get("sum")) if isinstance(value, dict) else value
            if isinstance(total, (int, float)):
                found[label] = found.get(label, 0) + int(total)
    return found


class _KeepsInputErrors:
    """A task stopped by bad input leaves the error in `errors/RANK.json` of the stage's
    logs: Ray reports a failed task only as failed, and the build still ends with the
    error's one line (`run`)."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        from lingualift.core.io import InputError

        try:
            return super()._run_for_rank(rank, local_rank, node_rank)
        except InputError as err:
            with self.logging_dir.open(f"errors/{rank:05d}.json", "w") as f:
                json.dump({"message": err.message, "path": err.path, "line": err.line}, f)
            raise


def _input_error(folder: Path) -> None:
    """Raise the first bad input a task of the stage met, if one did."""
    from lingualift.core.io import InputError

    for path in sorted((folder / "errors").glob("*.json")):
        found = json.loads(path.read_text("utf-8"))
        raise InputError(found["message"], found["path"], found["line"])


class LocalExecutor(_KeepsInputErrors, LocalPipelineExecutor):
    """datatrove's local executor; with one worker, the tasks run in this process as
    datatrove runs them, but without the manager process it starts for its worker queue,
    which would outlive a kill -9 of this one."""

    def run(self):
        if self.workers > 1:
            return super().run()
        pipeline = self.pipeline
        for rank in self.get_incomplete_ranks(range(self.tasks)):
            self.pipeline = deepcopy(pipeline)
            self._run_for_rank(rank)
        return None


def _local(cfg: Execution, stage: Stage, folder: Path, depends=None):
    # forkserver: workers start clean (no copied torch or tokenizer threads), and start fast
    return LocalExecutor(stage.pipeline, tasks=stage.tasks, workers=max(1, min(cfg.workers, stage.tasks)),
                         logging_dir=str(folder), start_method="forkserver")


def _ray(cfg: Execution, stage: Stage, folder: Path, depends=None):
    from datatrove.executor.ray import RayPipelineExecutor

    class RayExecutor(_KeepsInputErrors, RayPipelineExecutor):  # here: ray is imported only for ray builds
        pass

    # memory: what each task asks Ray for; a stage task holds one source or one shard
    return RayExecutor(stage.pipeline, tasks=stage.tasks, workers=max(1, cfg.workers), logging_dir=str(folder),
                       cpus_per_task=1, mem_per_cpu_gb=0.5, gpus_per_task=cfg.gpus_per_task)


def _slurm(cfg: Execution, stage: Stage, folder: Path, depends=None):
    from datatrove.executor.slurm import SlurmPipelineExecutor

    s = cfg.slurm
    return SlurmPipelineExecutor(
        stage.pipeline, tasks=stage.tasks, time=s.time, partition=s.partition, cpus_per_task=s.cpus_per_task,
        mem_per_cpu_gb=s.mem_per_cpu_gb, job_name=f"{s.job_name}-{stage.name}", logging_dir=str(folder),
        depends=depends, env_command=s.env_command, sbatch_args=dict(s.sbatch_args), qos=None,
        # workers 1 (the default) would run an array one task at a time: no limit unless asked
        workers=cfg.workers if cfg.workers > 1 else -1, slurm_logs_folder=str(folder / "slurm_logs"),
        mail_type="NONE", gpus_per_task=cfg.gpus_per_task)


EXECUTORS = {"local": _local, "ray": _ray, "slurm": _slurm}


def run(cfg: Execution, work: Path, stage: Stage, progress: ProgressFactory | None = None,
        units: tuple[int, Callable[[], int]] | None = None) -> None:
    """Run a stage to the end on the local or Ray executor (tasks already done are skipped).

    The bar advances as completion markers appear: they are the one progress report every
    executor makes the same way (each task writes its own). `units` (total, done so far)
    counts finer, from files the tasks write (synth: lines of finished chunks)."""
    folder = logs(work, stage.name)
    shutil.rmtree(folder / "errors", ignore_errors=True)  # an earlier run's, which this one may not meet
    total, count = units or (stage.tasks, lambda: done(work, stage))
    seen = [count()]
    with bar(progress, stage.label or stage.name, total, seen[0]) as advance:
        def catch_up() -> None:
            now = count()
            if now > seen[0]:
                advance(now - seen[0])
                seen[0] = now

        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.25):
                catch_up()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            EXECUTORS[cfg.executor](cfg, stage, folder).run()
        finally:
            stop.set()
            watcher.join()
        catch_up()
    if not complete(work, stage):
        _input_error(folder)
        raise RuntimeError(f"stage {stage.name}: {stage.tasks - done(work, stage)} task(s) did not complete; "
                           f"their logs: {folder / 'logs'}")


class ray_cluster:  # noqa: N801 (used as a context manager, like open)
    """The Ray cluster of a build: the one this process is connected to, the address in the
    config, or a local one started here and stopped when the build ends."""

    def __init__(self, cfg: Execution):
        self.cfg, self.started = cfg, False

    def __enter__(self):
        if self.cfg.executor != "ray":
            return self
        try:
            import ray
        except ImportError:
            from lingualift.core.io import InputError

            raise InputError("executor ray needs the ray package (`pip install 'lingualift[ray]'`)") from None
        if not ray.is_initialized():
            ray.init(address=self.cfg.ray_address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
            self.started = True
        return self

    def __exit__(self, *exc):
        if self.started:
            import ray

            ray.shutdown()
        return False


def leave_slurm_task() -> None:
    """In a one-task Slurm job that submits more work (a build's continuation, synth's
    finish): forget this job's array ids, else datatrove takes the next executor for a task
    of this job."""
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_JOB_ID", "RUN_OFFSET"):
        os.environ.pop(name, None)


def submit(cfg: Execution, work: Path, stages: list[Stage]) -> Iterator[tuple[Stage, object]]:
    """Chain the stages' Slurm job arrays (each `afterok` the one before) and submit them;
    yields each stage with its executor (whose `job_id` Slurm gave)."""
    made, last = [], None
    for stage in stages:
        last = _slurm(cfg, stage, logs(work, stage.name), depends=last)
        made.append((stage, last))
    if last is not None:
        last.run()  # launches what it depends on first
    yield from made

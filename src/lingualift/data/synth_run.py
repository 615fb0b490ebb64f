"""`data synth`'s run: the chunks translated here or dealt to the data engine's executors
(one model per task), then merged and deduplicated into the output and its manifest.

Chunk k goes to task k mod `tasks`; a task loads its model once and translates its chunks not
done yet, each written whole as in one process (`synth.translate_chunk`), so the output is
the same bytes whatever the executor, task count or kills. Local and Ray tasks run while the
command waits, with a bar over the lines of finished chunks; on Slurm the tasks are one job
array and a one-task job after it runs `data synth` again, which finds every chunk done and
writes the output and manifest.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from lingualift.core.io import check_output, write_json, write_text
from lingualift.core.progress import ProgressFactory, bar
from lingualift.data import engine
from lingualift.data.config import EXECUTION
from lingualift.data.synth import SynthConfig, chunks_of, read_texts, translate_chunks


class TranslateChunks(PipelineStep):
    """A datatrove step with no input documents: task `rank` translates its share of the chunks."""

    name = "synth"
    type = "translate"

    def __init__(self, cfg_json: str, model: str, parts: str):
        super().__init__()
        self.cfg_json, self.model, self.parts = cfg_json, model, parts

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        cfg = SynthConfig.model_validate_json(self.cfg_json)
        done = translate_chunks(cfg, chunks_of(cfg, read_texts(cfg)), self.model, Path(self.parts), rank, world_size)
        self.stat_update("lines", value=done)
        yield from ()


def _finish(cfg_json: str, model: str, out: str, data=None, rank: int = 0, world_size: int = 1) -> None:
    """The Slurm job after the array: `data synth` again, which now only merges."""
    engine.leave_slurm_task()
    run(SynthConfig.model_validate_json(cfg_json), model=model, out=out)


def on_executor(cfg: SynthConfig, model: str, out: Path, parts: Path, texts: int,
                progress: ProgressFactory | None) -> bool:
    """Run the chunks' tasks on cfg.executor; False when they were submitted to Slurm."""
    cfg_json = cfg.model_dump_json()
    # logs per task count: a task's completion marker means its share of the chunks under that count
    stage = engine.Stage(f"synth-{cfg.tasks}", [TranslateChunks(cfg_json, model, str(parts))], cfg.tasks, "synthesising")
    if cfg.executor == "slurm":
        finish = engine.Stage(f"finish-{len(list((parts / 'logs').glob('finish-*')))}",
                              [functools.partial(_finish, cfg_json, model, str(out))], 1, "finish")
        for _ in engine.submit(cfg, parts, [stage, finish]):
            pass
        return False

    def lines_done() -> int:  # a chunk's marker is written last; every chunk but the last is full
        found = sum(1 for e in os.scandir(parts) if e.name.startswith("part-") and e.name.endswith(".json"))
        return min(found * cfg.chunk, texts)

    with engine.ray_cluster(cfg):
        engine.run(cfg, parts, stage, progress, units=(texts, lines_done))
    return True


def run(cfg: SynthConfig, *, model: str, out: str | Path, progress: ProgressFactory | None = None,
        log=print) -> dict | None:
    """Make, filter and write the synthetic pairs; returns the manifest (also OUT.manifest.json),
    or None when the tasks were submitted to Slurm (its last job writes them)."""
    import shutil
    import time

    from lingualift import __version__
    from lingualift.core.fingerprint import digest
    from lingualift.core.provenance import provenance
    from lingualift.data.dedup import key_text, text_hash
    from lingualift.inference import mt

    out = Path(out)
    for target, kind in ((out, "file"), (Path(f"{out}.parts"), "folder")):
        check_output(target, kind)
    texts = read_texts(cfg)
    mt.check(model, [(cfg.lang, cfg.into)] + ([(cfg.into, cfg.lang)] if cfg.filters.roundtrip_chrf is not None else []))
    parts = Path(f"{out}.parts")
    inputs = [p for s in cfg.sources for p in s.inputs()] + ([model] if Path(model).exists() else [])
    what = cfg.model_dump(mode="json", exclude={*EXECUTION, "tasks"})  # how it runs does not change the output
    fingerprint = digest({"config": what, "model": model, "version": __version__}, inputs)
    marker = parts / "fingerprint.json"
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") != fingerprint:
        log(f"{parts} was made by another config, model or input: starting over")
        shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    write_json(marker, {"fingerprint": fingerprint})
    chunks = chunks_of(cfg, texts)
    left = sum(len(c) for k, c in enumerate(chunks) if not (parts / f"part-{k:05d}.json").is_file())
    started = time.perf_counter()
    if left and (cfg.tasks > 1 or cfg.executor != "local"):
        if not on_executor(cfg, model, out, parts, len(texts), progress):
            return None
    elif left:
        with bar(progress, "synthesising", len(texts), len(texts) - left) as advance:
            translate_chunks(cfg, chunks, model, parts, advance=advance)
    seconds = time.perf_counter() - started
    removed, seen, kept, qe_ran = Counter(), set(), [], True
    for k in range(len(chunks)):
        stats = json.loads((parts / f"part-{k:05d}.json").read_text(encoding="utf-8"))
        removed.update(stats["removed"])
        qe_ran = qe_ran and stats["qe_ran"]
        for line in (parts / f"part-{k:05d}.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            key = text_hash(key_text(record["src"]) + "\t" + key_text(record["tgt"]))
            if cfg.filters.dedup and key in seen:
                removed["duplicate"] += 1
                continue
            seen.add(key)
            kept.append(line + "\n")
    write_text(out, "".join(kept))
    manifest = {"output": str(out), "texts": len(texts), "pairs": len(kept),
                "removed": {r: n for r, n in sorted(removed.items()) if n}, "config": cfg.model_dump(mode="json"),
                "model": model, "qe": "not requested" if not cfg.filters.qe_model else
                ("applied" if qe_ran else "unavailable (no COMET process or model; see README)"),
                "lines_per_s": round(left / seconds, 3) if left and seconds else None,
                "executor": cfg.executor, "tasks": cfg.tasks, "fingerprint": fingerprint, **provenance()}
    write_json(Path(f"{out}.manifest.json"), manifest)
    return manifest

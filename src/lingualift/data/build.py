"""`lingualift data build`: sources -> clean -> dedup -> augment -> mix -> render -> pack,
as datatrove pipelines (the steps: `data/steps.py`; the executors: `data/engine.py`).

The stages, each a datatrove executor run with its own completion markers in
`OUT/.work/logs/STAGE/` (a killed build resumes at the first task not marked done):

1. clean (a task per piece: a source's `tasks` contiguous pieces, 1 by default): read,
   normalise, filter (rejects through datatrove's exclusion writer), exact-dedup
   signatures of every record key;
2. exact-find (one task): datatrove's merge of the sorted signature files;
3. dedup (a task per piece): drop exact duplicates, then either MinHash signatures (near
   dedup on) or augment + count;
4. near-buckets (a task per MinHash band), near-cluster (one task), near-filter (a task per
   piece: drop near duplicates, augment, count) when near dedup is on;
5. mix (one task): targets per group from the counts the tasks wrote, into `plan.json`;
6. render (a task per piece): draw its records (`steps.Draw`), render documents, send each to a bucket
   chosen by a hash of its id;
7. pack (a task per bucket): shuffle (seeded by the bucket), tokenise, pack one shard.

No task holds more than its own source or bucket, and none holds a corpus-wide table:
duplicates are found by merging sorted files, and the mix by counts. Randomness is seeded
by group, task, document id and bucket, never by worker or executor, so the same inputs and
config give byte-identical shards with any number of workers, on any executor.

Shards are written into `OUT/.work/staged/` and moved into OUT only once all of them are
there; `manifest.json` is written last. So a build into the folder of an earlier complete
one that fails (bad input, a full disk, a kill) leaves the earlier shards and manifest in
place. The resume fingerprint covers the config and the stamps of every input file: a
source that changed between runs starts the work over.

On Slurm, `build` submits the stages as job arrays, each depending on the one before, and
returns None; the number of shards is known only once the mix is planned, so a one-task
job then runs `build` again, which submits packing and, after it, the job that writes the
manifest.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

from lingualift import __version__
from lingualift.core.io import InputError, check_output, write_json, writing
from lingualift.core.progress import ProgressFactory
from lingualift.core.provenance import provenance
from lingualift.data import engine, mix
from lingualift.data.config import EXECUTION, DataConfig


def _read_json(path: Path):
    return json.loads(path.read_text("utf-8"))


def _stages(cfg: DataConfig, work: Path, shard_dir: Path) -> list[engine.Stage]:
    """The stages of this config, in order; pack's task count is the plan's (None before)."""
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig, ExactFindDedups
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupCluster
    from datatrove.pipeline.writers import JsonlWriter

    from lingualift.data import steps

    cj, n, d = cfg.model_dump_json(), len(cfg.pieces()), cfg.dedup
    w = str(work)

    def writer(folder: str, name: str = "${rank}.jsonl", compression: str | None = "zstd"):
        return JsonlWriter(f"{w}/{folder}", output_filename=name, compression=compression)

    rejects = JsonlWriter(f"{w}/rejects", output_filename="${part}.jsonl", compression=None,
                          adapter=steps._reject) if cfg.rejects else None
    clean = [steps.ReadSource(cj), steps.CleanFilter(cj, exclusion_writer=rejects)]
    if d.exact:
        clean.append(steps.ExactSignatures(f"{w}/exact/sigs", cj))
    stages = [engine.Stage("clean", [*clean, writer("clean")], n, "clean")]
    if d.exact:
        config = ExactDedupConfig(content_getter=steps._text)
        stages.append(engine.Stage("exact-find", [ExactFindDedups(f"{w}/exact/sigs", f"{w}/exact/dups", config)], 1,
                                   "exact dedup: find"))
    dedup = [steps.StageFile(f"{w}/clean")] + ([steps.DropDuplicates(f"{w}/exact/dups", "exact", cj)] if d.exact else [])
    finish = [steps.Augment(cj), steps.Count(), writer("final")]
    if d.near:
        minhash = steps.minhash_config(d)
        stages += [
            engine.Stage("dedup", [*dedup, steps.NearSignatures(f"{w}/near/sigs", cj), writer("unique")], n,
                         "exact dedup + near signatures"),
            engine.Stage("near-buckets", [MinhashDedupBuckets(f"{w}/near/sigs", f"{w}/near/buckets", config=minhash)],
                         minhash.num_buckets, "near dedup: buckets"),
            engine.Stage("near-cluster", [MinhashDedupCluster(f"{w}/near/buckets", f"{w}/near/remove", config=minhash)],
                         1, "near dedup: clusters"),
            engine.Stage("near-filter", [steps.StageFile(f"{w}/unique"),
                                         steps.DropDuplicates(f"{w}/near/remove", "near", cj), *finish], n,
                         "near dedup + augment"),
        ]
    else:
        stages.append(engine.Stage("dedup", [*dedup, *finish], n, "dedup + augment"))
    stages.append(engine.Stage("mix", [functools.partial(_plan_task, cj, w, stages[-1].name)], 1, "mix"))
    # A render task has a file open for every bucket: uncompressed, each costs a buffer, not a
    # zstd context of megabytes (which made render's memory grow with the number of buckets).
    to_buckets = writer("buckets", "${bucket}/${rank}.jsonl", compression=None)
    stages.append(engine.Stage("render", [steps.StageFile(f"{w}/final"), steps.Draw(cj, f"{w}/plan.json"), to_buckets],
                               n, "draw + render"))
    plan = work / "plan.json"
    buckets = _read_json(plan)["buckets"] if plan.is_file() else None
    stages.append(engine.Stage("pack", [steps.StageFile(f"{w}/buckets", "{rank:05d}/*.jsonl"),
                                        steps.Pack(cj, str(shard_dir), f"{w}/shards")], buckets, "tokenise + pack"))
    return stages


def _plan_task(cfg_json: str, work: str, counted: str, data=None, rank: int = 0, world_size: int = 1) -> None:
    """The mix stage: targets per group from the counts every task wrote, and each task's
    share of a group's sampled remainder. Needs the counts only, never the records."""
    cfg = DataConfig.model_validate_json(cfg_json)
    parts: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for r in range(len(cfg.pieces())):
        for label, n in engine.task_stats(Path(work), counted, r).items():
            if label.startswith("available/") and n:
                parts[label.removeprefix("available/")][r] = n
    available = {g: sum(p.values()) for g, p in sorted(parts.items())}
    wanted = mix.targets(available, cfg.mix)
    groups, documents = {}, 0
    for g, target in wanted.items():
        repeats, rest = divmod(target, available[g]) if available.get(g) else (0, 0)
        groups[g] = {"repeats": repeats, "rest": rest, "parts": {str(r): n for r, n in parts[g].items()}}
        documents += target * (2 if mix.is_parallel(g) and cfg.render.both_directions else 1)
    write_json(Path(work) / "plan.json", {"available": available, "targets": wanted, "documents": documents,
                                          "buckets": max(1, math.ceil(documents / cfg.pack.docs_per_shard)),
                                          "groups": groups})


def _fingerprint(cfg: DataConfig) -> str:
    """The config (less how it runs) and the stamps of every input file: a source that
    changed between runs starts the build over instead of resuming stale work."""
    from lingualift.core.fingerprint import digest

    return digest({"config": cfg.model_dump(mode="json", exclude=set(EXECUTION)), "version": __version__},
                  cfg.inputs())


def build(cfg: DataConfig, out: str | Path, *, progress: ProgressFactory | None = None) -> dict | None:
    """Build packed shards and manifest.json in `out`; resumes an interrupted build.

    Returns the manifest, or None when the stages were submitted to Slurm (the last job
    writes the manifest)."""
    out = check_output(out, "folder")
    fresh = not out.exists()
    work = out / ".work"
    staged = work / "staged"
    fingerprint = _fingerprint(cfg)
    if (work / "config.json").is_file() and _read_json(work / "config.json").get("fingerprint") != fingerprint:
        # Another config or changed inputs: nothing cached is valid. The shards and manifest of
        # the last complete build stay until this build has all of its own (`_publish`).
        shutil.rmtree(work)
    for tmp in (*out.glob(".*.tmp"), *staged.glob(".*.tmp")):
        tmp.unlink()
    for folder in ("shards", "staged"):
        with writing(work):
            (work / folder).mkdir(parents=True, exist_ok=True)
    write_json(work / "config.json", {"fingerprint": fingerprint})
    shard_dir = out if (work / "published.json").is_file() else staged
    try:
        if cfg.executor == "slurm":
            return _submit(cfg, out, work, shard_dir)
        timings = {}
        with engine.ray_cluster(cfg):
            for stage in _stages(cfg, work, shard_dir):
                started = time.perf_counter()
                if stage.tasks is None:  # pack: its task count is the plan's
                    stage = _stages(cfg, work, shard_dir)[-1]
                with writing(work):
                    engine.run(cfg, work, stage, progress)
                timings[f"{stage.name}_s"] = time.perf_counter() - started
        return _finish(cfg, out, work, fingerprint, timings)
    except InputError:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)  # bad input leaves nothing behind
        raise


def _finish(cfg: DataConfig, out: Path, work: Path, fingerprint: str, timings: dict) -> dict:
    plan = _read_json(work / "plan.json")
    shards = [_read_json(work / "shards" / f"{b:05d}.json") for b in range(plan["buckets"])]
    manifest = _manifest(cfg, fingerprint, work, plan, shards, timings)
    _publish(out, work, shards, cfg.rejects)
    write_json(out / "manifest.json", manifest)
    return manifest


def _continue(cfg_json: str, out: str, data=None, rank: int = 0, world_size: int = 1) -> None:
    """A one-task Slurm job that runs `build` again: it submits what could not be sized
    before (packing), or writes the manifest once everything is done."""
    engine.leave_slurm_task()
    build(DataConfig.model_validate_json(cfg_json), out)


def _submit(cfg: DataConfig, out: Path, work: Path, shard_dir: Path) -> dict | None:
    """Submit the stages not yet done as chained Slurm job arrays, then a job that continues."""
    stages = [s for s in _stages(cfg, work, shard_dir) if s.tasks is None or not engine.complete(work, s)]
    if not stages:
        return _finish(cfg, out, work, _fingerprint(cfg), {})
    known = [s for s in stages if s.tasks is not None]
    name = "finish" if len(known) == len(stages) and stages[-1].name == "pack" else "continue"
    then = engine.Stage(f"{name}-{len(list((work / 'logs').glob(name + '-*')))}",
                        [functools.partial(_continue, cfg.model_dump_json(), str(out))], 1, name)
    for _ in engine.submit(cfg, work, [*known, then]):
        pass
    return None


def _publish(out: Path, work: Path, shards: list[dict], rejects: bool) -> None:
    """Swap the complete new build in: the old manifest goes first (no manifest claims a
    mixed folder), then shards the new build does not have, then the staged shards move in.
    A kill in between is resumed: a bucket whose shard is neither staged nor published
    (`published.json`) is packed again, to the same bytes."""
    with writing(out):
        (out / "manifest.json").unlink(missing_ok=True)
        names = {s["file"] for s in shards}
        for old in out.glob("shard-*.parquet"):
            if old.name not in names:
                old.unlink()
        for name in sorted(names):
            if (work / "staged" / name).is_file():
                os.replace(work / "staged" / name, out / name)
        if rejects and (work / "rejects").is_dir():
            shutil.rmtree(out / "rejects", ignore_errors=True)
            os.replace(work / "rejects", out / "rejects")
        write_json(work / "published.json", {"shards": sorted(names)})


def _counters(work: Path, cfg: DataConfig) -> tuple[list[dict], dict, dict]:
    """Per source (read, bad, kept per group), removed per group and reason, augmentation:
    datatrove's step stats of the tasks, summed."""
    sources, removed = [], defaultdict(Counter)
    augmented = {"lines": Counter(), "replaced_words": Counter(), "covered_words": Counter()}
    later = [s for s in ("dedup", "near-filter") if (engine.logs(work, s) / "stats").is_dir()]
    ranks = defaultdict(list)
    for rank, (index, _) in enumerate(cfg.pieces()):
        ranks[index].append(rank)
    for index, source in enumerate(cfg.sources):
        stats = Counter()
        for stage in ("clean", *later):
            for rank in ranks[index]:
                stats.update(engine.task_stats(work, stage, rank))
        kept = Counter()
        for label, n in stats.items():
            kind, _, rest = label.partition("/")
            if kind == "kept":
                kept[rest] += n
            elif kind == "removed":
                group, _, reason = rest.rpartition("/")
                removed[group][reason] += n
            elif kind == "augmented":
                what, _, lang = rest.partition("/")
                augmented[what][lang] += n
        sources.append({"source": source.label(index), "tasks": source.tasks, "read": stats.get("read", 0),
                        "bad": stats.get("bad", 0), "kept": dict(sorted(kept.items()))})
    return sources, removed, {k: dict(sorted(v.items())) for k, v in augmented.items()}


def _manifest(cfg, fingerprint, work, plan, shards, timings) -> dict:
    sources, removed, augmented = _counters(work, cfg)
    documents, tokens = Counter(), Counter()
    for shard in shards:
        documents.update(shard["documents"])
        tokens.update(shard["tokens"])
    blocks = sum(s["blocks"] for s in shards)
    kept = blocks * cfg.pack.block_size
    dropped = sum(s["dropped_tokens"] for s in shards)
    return {
        "lingualift": __version__, "fingerprint": fingerprint, **provenance(),
        "config": json.loads(cfg.model_dump_json()),
        "executor": cfg.executor,
        "sources": sources,
        "removed": {k: dict(sorted(v.items())) for k, v in sorted(removed.items())},
        "duplicates": {lang: sum(n for r, n in reasons.items() if r.startswith("duplicate"))
                       for lang, reasons in sorted(removed.items())},
        "augmented": augmented,
        "groups": {g: {"available": n, "drawn": plan["targets"].get(g, 0)} for g, n in plan["available"].items()},
        "languages": {g: {"documents": documents[g], "tokens": tokens[g]} for g in sorted(documents)},
        "packing": {"block_size": cfg.pack.block_size, "blocks": blocks, "tokens": kept, "dropped_tokens": dropped,
                    "efficiency": round(kept / (kept + dropped), 6) if kept + dropped else None,
                    "boundaries": "position_ids restart per document; seq_lens per block",
                    "tokenizer": cfg.pack.tokenizer},
        "shards": [{"file": s["file"], "rows": s["rows"], "sha256": s["sha256"]} for s in shards],
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "notes": cfg.notes(),
        "warnings": _warnings(sources),
    }


def _warnings(sources: list[dict]) -> list[str]:
    """What a build should not do silently: a source that gave nothing."""
    found = []
    for s in sources:
        kept = sum(s["kept"].values())
        if s["read"] == 0:
            found.append(f"source {s['source']} is empty: nothing was read from it")
        elif kept == 0:
            found.append(f"source {s['source']}: nothing kept after cleaning ({s['read']} read)")
    return found

"""`lingualift data build`: sources -> clean -> dedup -> augment -> mix -> render -> pack.

Four stages, each leaving a completion marker in `OUT/.work/` so a killed build resumes
where it stopped:

1. clean, one task per source, in parallel (`--workers`);
2. dedup + augment, one streaming pass over the cleaned sources in config order (dedup is
   global, so it is sequential; it keeps one hash per text);
3. mix + render + shuffle into buckets of at most `docs_per_shard` documents;
4. tokenise + pack, one task per bucket, in parallel, each writing one Parquet shard.

Randomness is seeded per group, per sentence or per bucket, never by worker, so the same
inputs and config give byte-identical shards with any number of workers. Shards are written
under a temporary name into `OUT/.work/staged/` and moved into OUT only once all of them are
there; `manifest.json` is written last. So a build into the folder of an earlier complete one
that fails (bad input, a full disk, a kill) leaves the earlier shards and manifest in place.
The resume fingerprint covers the config and the stamps of every input file: a source that
changed between runs starts the work over.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import random
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

from lingualift import __version__
from lingualift.core.io import InputError, atomic_path, check_output, write_json, writing
from lingualift.core.progress import ProgressFactory, bar
from lingualift.core.provenance import provenance
from lingualift.core.records import dumps
from lingualift.data import augment as aug
from lingualift.data import clean as cln
from lingualift.data import dedup as ddp
from lingualift.data import mix, pack, readers
from lingualift.data.config import EXECUTION, DataConfig, Source


def _read_json(path: Path):
    return json.loads(path.read_text("utf-8"))


def _jsonl(path: Path):
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)



def clean_source(index: int, source_json: str, cfg_json: str, work: str, skip_bad: bool, rejects: str | None) -> dict:
    """Stage 1 for one source (runs in a worker process)."""
    source = Source.model_validate_json(source_json)
    cfg = DataConfig.model_validate_json(cfg_json)
    out = Path(work) / "clean" / f"{index:04d}.jsonl"
    removed: defaultdict[str, Counter] = defaultdict(Counter)
    counts = {"source": source.label(index), "read": 0, "bad": 0, "kept": Counter()}

    def good_records():
        for item in readers.read(source):
            counts["read"] += 1
            if isinstance(item, readers.Bad):
                if not skip_bad:
                    raise item.error()
                counts["bad"] += 1
                continue
            yield item

    reject_file = None
    try:
        if rejects:
            Path(rejects).mkdir(parents=True, exist_ok=True)
            reject_file = (Path(rejects) / f"{source.label(index)}.jsonl").open("w", encoding="utf-8")
        with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8") as handle:
            for record in cln.clean(good_records(), cfg.clean, removed, reject_file):
                counts["kept"][cln.record_lang(record)] += 1
                handle.write(dumps({**record, "source": source.label(index)}))
    finally:
        if reject_file:
            reject_file.close()
    counts["removed"] = {k: dict(v) for k, v in removed.items()}
    write_json(out.with_suffix(".json"), counts)
    return counts


def _stage_dedup_augment(cfg: DataConfig, work: Path, n_sources: int) -> dict:
    marker = work / "groups.json"
    if marker.is_file():
        return _read_json(marker)
    removed: defaultdict[str, Counter] = defaultdict(Counter)
    stats = aug.AugmentStats()
    tables = [aug.load_table(a) for a in cfg.augment]
    group_dir = work / "groups"
    shutil.rmtree(group_dir, ignore_errors=True)
    group_dir.mkdir(parents=True)
    deduplicator = ddp.Deduplicator(cfg.dedup)
    counts: Counter = Counter()
    handles = {}

    def stream():
        for i in range(n_sources):
            yield from _jsonl(work / "clean" / f"{i:04d}.jsonl")

    records = ddp.dedup(stream(), removed, deduplicator)
    for a, table in zip(cfg.augment, tables):
        records = aug.augment(records, a, table, stats)
    try:
        for record in records:
            group = cln.record_lang(record)
            if group not in handles:
                handles[group] = (group_dir / f"{group}.jsonl").open("w", encoding="utf-8")
            handles[group].write(dumps(record))
            counts[group] += 1
    finally:
        for handle in handles.values():
            handle.close()
    result = {"counts": dict(sorted(counts.items())), "removed": {k: dict(v) for k, v in removed.items()},
              "augmented": {"lines": dict(stats.lines), "replaced_words": dict(stats.replaced),
                            "covered_words": dict(stats.covered)}}
    write_json(marker, result)
    return result


def _stage_mix(cfg: DataConfig, work: Path, counts: dict[str, int]) -> dict:
    marker = work / "buckets.json"
    if marker.is_file():
        return _read_json(marker)
    wanted = mix.targets(counts, cfg.mix)
    per_record = {g: (1 if not mix.is_parallel(g) or not cfg.render.both_directions else 2) for g in wanted}
    total_docs = sum(wanted[g] * per_record[g] for g in wanted)
    n_buckets = max(1, math.ceil(total_docs / cfg.pack.docs_per_shard))
    bucket_dir = work / "buckets"
    shutil.rmtree(bucket_dir, ignore_errors=True)
    bucket_dir.mkdir(parents=True)
    handles = [(bucket_dir / f"{b:05d}.jsonl").open("w", encoding="utf-8") for b in range(n_buckets)]
    rng = random.Random(f"{cfg.seed}:buckets")
    try:
        for group in sorted(wanted):
            path = work / "groups" / f"{group}.jsonl"
            for record in mix.draw(lambda p=path: _jsonl(p), counts[group], wanted[group], f"{cfg.mix.seed}:{group}"):
                for text, lang in pack.render(record, cfg.render):
                    handles[rng.randrange(n_buckets)].write(dumps({"text": text, "group": lang}))
    finally:
        for handle in handles:
            handle.close()
    result = {"targets": wanted, "buckets": n_buckets, "documents": total_docs}
    write_json(marker, result)
    return result


def pack_bucket(bucket: int, cfg_json: str, work: str, out: str) -> dict:
    """Stage 4 for one bucket (runs in a worker process)."""
    import pyarrow.parquet as pq

    cfg = DataConfig.model_validate_json(cfg_json)
    marker = Path(work) / "shards" / f"{bucket:05d}.json"
    shard = Path(out) / f"shard-{bucket:05d}.parquet"  # out: the staging folder until published
    if marker.is_file() and shard.is_file():
        return _read_json(marker)
    docs = [(r["text"], r["group"]) for r in _jsonl(Path(work) / "buckets" / f"{bucket:05d}.jsonl")]
    random.Random(f"{cfg.seed}:shard:{bucket}").shuffle(docs)
    stats = pack.PackStats()
    table = pack.pack(docs, pack.load_tokenizer(cfg.pack.tokenizer), cfg.pack.block_size, stats)
    with atomic_path(shard) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    digest = hashlib.sha256(shard.read_bytes()).hexdigest()
    result = {"file": shard.name, "rows": stats.blocks, "sha256": digest, **stats.as_dict()}
    write_json(marker, result)
    return result


def _fingerprint(cfg: DataConfig) -> str:
    """The config (less how it runs) and the stamps of every input file: a source that
    changed between runs starts the build over instead of resuming stale work."""
    from lingualift.core.fingerprint import digest

    return digest({"config": cfg.model_dump(mode="json", exclude=set(EXECUTION)), "version": __version__},
                  cfg.inputs())


def _run_tasks(function, args: list[tuple], workers: int, progress=None) -> list:
    """Map in worker processes (spawned: safe with torch and tokenizers), in order."""
    if workers <= 1 or len(args) <= 1:
        results = []
        for a in args:
            results.append(function(*a))
            if progress:
                progress(1)
        return results
    # A fresh worker every few tasks: the allocator does not give back what packing a
    # shard fragments, so a long-lived worker's RSS creeps up shard after shard.
    with multiprocessing.get_context("spawn").Pool(min(workers, len(args)), maxtasksperchild=8) as pool:
        pending = [pool.apply_async(function, a) for a in args]
        results = []
        for p in pending:
            results.append(p.get())
            if progress:
                progress(1)
        return results


def build(cfg: DataConfig, out: str | Path, *, only: str | None = None,
          progress: ProgressFactory | None = None) -> dict | None:
    """Build packed shards and manifest.json in `out`; resumes an interrupted build.

    `only` runs one piece, for a Slurm array over machines sharing `out`: `clean:I` (source
    I), `merge` (dedup + augment + mix, one job), `pack:B` (bucket B); a last run without
    `only` finds everything done and writes the manifest."""
    workers, skip_bad = cfg.workers, cfg.skip_bad
    out = check_output(out, "folder")
    fresh = not out.exists()
    work = out / ".work"
    staged = work / "staged"
    fingerprint = _fingerprint(cfg)
    if (work / "config.json").is_file() and _read_json(work / "config.json").get("fingerprint") != fingerprint:
        # Another config or changed inputs: nothing cached is valid. The shards and manifest of
        # the last complete build stay until this build has all of its own (`_publish`).
        shutil.rmtree(work)
    if only is None:  # array jobs run side by side: a temp file may be another job's
        for tmp in (*out.glob(".*.tmp"), *staged.glob(".*.tmp")):
            tmp.unlink()
    for folder in ("clean", "shards", "staged"):
        with writing(work):
            (work / folder).mkdir(parents=True, exist_ok=True)
    write_json(work / "config.json", {"fingerprint": fingerprint})
    shard_dir = out if (work / "published.json").is_file() else staged
    timings = {}
    cfg_json = cfg.model_dump_json()
    try:
        started = time.perf_counter()
        step, _, index = (only or "").partition(":")
        if step not in ("", "clean", "merge", "pack") or (step in ("clean", "pack") and not index.isdigit()):
            raise InputError(f"--only takes clean:I, merge or pack:B, not {only!r}")
        todo = [i for i in range(len(cfg.sources)) if not (work / "clean" / f"{i:04d}.json").is_file()]
        if step == "clean":
            todo = [i for i in todo if i == int(index)]
        rejects = str(work / "rejects") if cfg.rejects else None
        with bar(progress, "clean", len(cfg.sources), len(cfg.sources) - len(todo)) as advance:
            _run_tasks(clean_source, [(i, cfg.sources[i].model_dump_json(), cfg_json, str(work), skip_bad, rejects)
                                      for i in todo], workers, advance)
        if step == "clean":
            return None
        sources = [_read_json(work / "clean" / f"{i:04d}.json") for i in range(len(cfg.sources))]
        timings["clean_s"] = time.perf_counter() - started

        with bar(progress, "dedup + augment + mix", 1) as advance:
            started = time.perf_counter()
            with writing(work):
                groups = _stage_dedup_augment(cfg, work, len(cfg.sources))
            timings["dedup_augment_s"] = time.perf_counter() - started
            started = time.perf_counter()
            with writing(work):
                mixed = _stage_mix(cfg, work, groups["counts"])
            timings["mix_s"] = time.perf_counter() - started
            advance(1)
        if step == "merge":
            return None

        started = time.perf_counter()
        buckets = [int(index)] if step == "pack" else range(mixed["buckets"])
        with bar(progress, "tokenise + pack", mixed["buckets"]) as advance:
            shards = _run_tasks(pack_bucket, [(b, cfg_json, str(work), str(shard_dir)) for b in buckets], workers,
                                advance)
        if step == "pack":
            return None
        timings["pack_s"] = time.perf_counter() - started
        manifest = _manifest(cfg, fingerprint, sources, groups, mixed, shards, timings)
        _publish(out, work, shards, cfg.rejects)
        write_json(out / "manifest.json", manifest)
    except InputError:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)  # bad input leaves nothing behind
        raise
    return manifest


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


def _manifest(cfg, fingerprint, sources, groups, mixed, shards, timings) -> dict:
    removed: defaultdict[str, Counter] = defaultdict(Counter)
    for source in sources:
        for lang, reasons in source["removed"].items():
            removed[lang].update(reasons)
    for lang, reasons in groups["removed"].items():
        removed[lang].update(reasons)
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
        "sources": [{k: v for k, v in s.items() if k != "removed"} for s in sources],
        "removed": {k: dict(v) for k, v in sorted(removed.items())},
        "duplicates": {lang: sum(n for r, n in reasons.items() if r.startswith("duplicate"))
                       for lang, reasons in groups["removed"].items()},
        "augmented": groups["augmented"],
        "groups": {g: {"available": n, "drawn": mixed["targets"].get(g, 0)} for g, n in groups["counts"].items()},
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

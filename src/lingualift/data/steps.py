"""The steps of `data build` as datatrove pipeline steps.

A record travels as a datatrove `Document`: its text (a pair's source side), the record
itself in `metadata["r"]` (a pair's other side is there) and its group (a language, or
SRC-TGT) in `metadata["g"]`. Document ids are `SOURCE/NUMBER`, fixed by the input and not
by which task read it, so everything seeded by them is the same on any executor.

What is datatrove's own is used as it is: the writers and readers of the stage files, the
exclusion writer of the cleaning filter, exact dedup's signatures and duplicate finder,
MinHash's signatures, buckets and clusters. What is lingualift's own is written here:
reading the user's sources (file:line errors, `--skip-bad`), the cleaning checks, the keys a
record is deduplicated on (a pair on the pair and on each side: several keys per record, so
the last dedup step, which drops a record when any of its keys is a duplicate, is ours),
dictionary augmentation, drawing the mix and packing.
"""

from __future__ import annotations

import array
import functools
import json
import random
import struct
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig, ExactDedupSignature, get_sig_dtype
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.utils.word_tokenizers import WordTokenizer

from lingualift.data import augment as aug
from lingualift.data import clean as cln
from lingualift.data import mix, pack, readers
from lingualift.data.config import DataConfig, DedupConfig
from lingualift.data.dedup import key_text

SCOPE = "\x01"  # between a key's scope (language, or language and side) and its text


@functools.cache
def config(cfg_json: str) -> DataConfig:
    """The config, parsed once per process (steps carry JSON: it pickles to any executor)."""
    return DataConfig.model_validate_json(cfg_json)


def record_doc(record: dict, ident: str, **meta) -> Document:
    text = record["text"] if "text" in record else record["src"]
    return Document(text=text, id=ident, metadata={"r": record, "g": cln.record_lang(record), **meta})


def keys(doc: Document, dedup: DedupConfig) -> list[str]:
    """SCOPE-prefixed texts a record is deduplicated on: its text, or the pair and/or its sides."""
    record = doc.metadata["r"]
    if "text" in record:
        return [f"{record['lang']}{SCOPE}{key_text(record['text'])}"]
    found = []
    for part in dedup.pair_keys:
        if part == "pair":
            found.append(f"{doc.metadata['g']}{SCOPE}{key_text(record['src'])}\t{key_text(record['tgt'])}")
        else:
            found.append(f"{record[f'{part}_lang']}:{part}{SCOPE}{key_text(record[part])}")
    return found


class ReadSource(PipelineStep):
    """A task reads its piece of a source (`DataConfig.pieces`: source I split over its
    `tasks`) with lingualift's readers: a bad line stops the build with file:line, or is
    counted (`bad`) with skip_bad. A record's id is its source and place in the source, not
    the task's rank, so the buckets it is packed into do not depend on the split."""

    type = "📖 - READER"
    name = "lingualift source"

    def __init__(self, cfg_json: str):
        super().__init__()
        self.cfg_json = cfg_json

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        cfg = config(self.cfg_json)
        index, piece = cfg.pieces()[rank]
        source = cfg.sources[index]
        label = source.label(index)
        part = label if source.tasks == 1 else f"{label}.{piece:05d}"  # the rejects file of this task
        window = readers.piece(source, piece, source.tasks)
        self.stat_update("read", value=0)
        self.stat_update("bad", value=0)
        for number, item in enumerate(readers.read(source, window), start=window[0] + 1):
            self.stat_update("read")
            if isinstance(item, readers.Bad):
                if not cfg.skip_bad:
                    raise item.error()
                self.stat_update("bad")
                continue
            yield record_doc(item, f"{index:05d}/{number}", source=label, part=part)


def _reject(self, doc: Document) -> dict:
    """Exclusion-writer adapter: the record as read, with why it went."""
    return {**doc.metadata["r"], "reason": doc.metadata["filter_reason"]}


class CleanFilter(BaseFilter):
    """Normalise, then drop for a named reason counted per group (`removed/GROUP/REASON`)."""

    name = "lingualift clean"

    def __init__(self, cfg_json: str, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.cfg_json = cfg_json
        self._checks = None

    def filter(self, doc: Document):
        cfg = config(self.cfg_json).clean
        if self._checks is None:
            self._checks = cln.filters(cfg)
        record = doc.metadata["r"]
        reason = cln.reject_reason(record, cfg, self._checks)
        group = doc.metadata["g"]
        if reason:
            self.stat_update(f"removed/{group}/{reason}")
            return False, reason
        self.stat_update(f"kept/{group}")
        doc.text = record["text"] if "text" in record else record["src"]
        return True


def _text(doc: Document) -> str:
    return doc.text


class ExactSignatures(ExactDedupSignature):
    """datatrove's exact-dedup stage 1 over every key of a record, passing the records on
    (so the pass that cleans also writes the signatures). A key of an earlier source has the
    higher priority: the copy kept is the first in config order, whatever the tasks."""

    def __init__(self, output_folder, cfg_json: str):
        super().__init__(output_folder, ExactDedupConfig(content_getter=_text))
        self.cfg_json = cfg_json

    def run(self, data, rank: int = 0, world_size: int = 1):
        dedup = config(self.cfg_json).dedup
        hashes, index = array.array("Q"), 0
        priority = 65535 - min(rank, 65534)  # datatrove keeps the highest priority, 1..65535
        for doc in data:
            for key in keys(doc, dedup):
                hashes.append(self.hash_fc(key))
                index += 1
            yield doc
        sigs = get_sig_dtype(self.config.hash_config)
        import numpy as np

        table = np.zeros(len(hashes), dtype=sigs)
        table["hash"], table["priority"], table["doc"] = hashes, priority, np.arange(len(hashes))
        self.save_hashes(rank, table)


def minhash_config(dedup: DedupConfig) -> MinhashConfig:
    """Bands and rows for `near_threshold` out of `num_perm` hashes, chosen as datasketch's
    MinHashLSH chooses them (equal weight on false positives and negatives)."""
    from datasketch.lsh import _optimal_param

    bands, rows = _optimal_param(dedup.near_threshold, dedup.num_perm, 0.5, 0.5)
    return MinhashConfig(n_grams=5, num_buckets=bands, hashes_per_bucket=rows, seed=1)


class _Unused(WordTokenizer):
    """The word tokenizer datatrove's MinHash step insists on holding; our shingles never call it."""

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


class NearSignatures(MinhashDedupSignature):
    """datatrove's MinHash stage 1 over every key of a record, passing the records on.

    Shingles are character 5-grams of the key (any script, with or without spaces between
    words), salted by the key's scope so that texts of two languages never collide."""

    def __init__(self, output_folder, cfg_json: str):
        # datatrove loads a word tokenizer for its own shingles, which are not used here (the
        # shingles are ours): an explicit one, so no language's tokenizer package is needed
        super().__init__(output_folder, minhash_config(config(cfg_json).dedup), language=_Unused(),
                         skip_existing_sigs=True)
        self.cfg_json = cfg_json

    def get_shingles(self, text: str):
        import numpy as np

        scope, _, body = text.partition(SCOPE)
        grams = {body[i:i + 5] for i in range(max(len(body) - 4, 1))}
        return np.fromiter((self._hash_func(f"{scope}{SCOPE}{g}") for g in grams), dtype=np.uint64,
                           count=len(grams)).reshape((-1, 1))

    def run(self, data, rank: int = 0, world_size: int = 1):
        dedup = config(self.cfg_json).dedup
        line = struct.Struct(f"<{self.config.hashes_per_bucket}{self.config.hash_config.struct_format}I")
        buckets = [self.output_folder.open(f"bucket_{b:03d}/{rank:05d}.minhash.sig", mode="wb")
                   for b in range(self.config.num_buckets)]
        index = 0
        for doc in data:
            for key in keys(doc, dedup):
                for bucket, sig in zip(buckets, self.get_signature(self.get_shingles(key))):
                    bucket.write(line.pack(*sig, index))
                index += 1
            yield doc
        for bucket in buckets:
            bucket.close()
        # datatrove sorts and checks the files it finds written (an empty one it rewrites)
        super().run(iter(()), rank, world_size)


class DropDuplicates(PipelineStep):
    """Drop a record when any of its keys was found a duplicate by datatrove's exact finder
    (`*/RANK.c4_dup`) or MinHash clustering (`RANK.remove`); counted as duplicate_KIND."""

    type = "🫂 - DEDUP"
    name = "lingualift drop duplicates"

    def __init__(self, folder: str, kind: str, cfg_json: str):
        super().__init__()
        self.folder, self.kind, self.cfg_json = folder, kind, cfg_json

    def _removed(self, rank: int):
        import numpy as np

        if self.kind == "exact":
            parts = [np.fromfile(p, dtype="<u4") for p in sorted(Path(self.folder).glob(f"*/{rank:05d}.c4_dup"))]
            found = np.concatenate(parts) if parts else np.zeros(0, dtype="<u4")
        else:
            path = Path(self.folder) / f"{rank:06d}.remove"
            found = np.fromfile(path, dtype="<u4") if path.is_file() else np.zeros(0, dtype="<u4")
        return np.unique(found)

    def run(self, data, rank: int = 0, world_size: int = 1):
        dedup = config(self.cfg_json).dedup
        removed, at, index = self._removed(rank), 0, 0
        for doc in data:
            end = index + len(keys(doc, dedup))
            duplicate = False
            while at < len(removed) and removed[at] < end:
                duplicate = True
                at += 1
            index = end
            if duplicate:
                self.stat_update(f"removed/{doc.metadata['g']}/duplicate_{self.kind}")
                continue
            yield doc


class Augment(PipelineStep):
    """LLaMAX's dictionary augmentation; augmented records follow their originals."""

    type = "✍️ - AUGMENT"
    name = "lingualift dictionary augmentation"

    def __init__(self, cfg_json: str):
        super().__init__()
        self.cfg_json = cfg_json

    def run(self, data, rank: int = 0, world_size: int = 1):
        cfg = config(self.cfg_json)
        stats = aug.AugmentStats()
        tables = [aug.load_table(a) for a in cfg.augment]
        for doc in data:
            yield doc
            records = iter([doc.metadata["r"]])
            for a, table in zip(cfg.augment, tables):
                records = aug.augment(records, a, table, stats)
            for i, record in enumerate(list(records)[1:]):
                yield record_doc(record, f"{doc.id}/a{i}")
        for name, counter in (("lines", stats.lines), ("replaced_words", stats.replaced), ("covered_words", stats.covered)):
            for lang, n in counter.items():
                self.stat_update(f"augmented/{name}/{lang}", value=n)


class Count(PipelineStep):
    """Records per group this task holds (`available/GROUP`): what the mix is computed from."""

    type = "📊 - STATS"
    name = "lingualift count"

    def run(self, data, rank: int = 0, world_size: int = 1):
        for doc in data:
            self.stat_update(f"available/{doc.metadata['g']}")
            yield doc


class StageFile(JsonlReader):
    """Task I reads file I of an earlier stage (absent when that task kept nothing)."""

    name = "lingualift stage file"

    def __init__(self, folder: str, pattern: str = "{rank:05d}.jsonl.zst"):
        super().__init__(folder, add_file_path=False)
        self.pattern = pattern

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        root = Path(self.data_folder.path)
        for name in sorted(root.glob(self.pattern.format(rank=rank))):
            yield from self.read_file(str(name.relative_to(root)))


def _open_files(needed: int) -> None:
    """Raise this process's soft limit on open files towards the hard one: the writer after
    Draw keeps a file open per bucket, and a soft limit of 1024 is common."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    most = 1 << 20 if hard == resource.RLIM_INFINITY else hard  # Linux's default nr_open when unlimited
    if soft != resource.RLIM_INFINITY and soft < min(needed + 64, most):  # 64: the task's other files
        resource.setrlimit(resource.RLIMIT_NOFILE, (most, hard))


class Draw(PipelineStep):
    """The mix drawn by each task from its own records: every record of a group
    `target // available` times, and of the remainder the records whose place in the group
    (the records of earlier tasks, then this one's, in order) a seeded permutation puts
    first (`mix.chosen`); each document rendered and sent to a bucket chosen by a hash of
    its id. Neither depends on the number of workers or on how sources are split."""

    type = "🎲 - MIX"
    name = "lingualift draw + render"

    def __init__(self, cfg_json: str, plan_path: str):
        super().__init__()
        self.cfg_json, self.plan_path = cfg_json, plan_path

    def run(self, data, rank: int = 0, world_size: int = 1):
        import xxhash

        cfg = config(self.cfg_json)
        plan = json.loads(Path(self.plan_path).read_text("utf-8"))
        buckets = plan["buckets"]
        _open_files(buckets)
        place = {g: sum(n for r, n in row["parts"].items() if int(r) < rank) for g, row in plan["groups"].items()}
        for doc in data:
            group = doc.metadata["g"]
            row = plan["groups"][group]
            index, place[group] = place[group], place[group] + 1
            copies = row["repeats"] + mix.chosen(index, plan["available"][group], row["rest"], f"{cfg.mix.seed}:{group}")
            for copy in range(copies):
                for side, (text, lang) in enumerate(pack.render(doc.metadata["r"], cfg.render)):
                    where = xxhash.xxh64_intdigest(f"{cfg.seed}:{doc.id}:{copy}:{side}".encode()) % buckets
                    self.stat_update(f"drawn/{group}")
                    yield Document(text=text, id=f"{doc.id}/{copy}/{side}",
                                   metadata={"group": lang, "bucket": f"{where:05d}"})


def pack_shard(rank: int, docs: list[tuple[str, str]], cfg: DataConfig, shard_dir: str, marker_dir: str) -> dict:
    """Shuffle one bucket's documents (seeded by the bucket), tokenise, pack, write the shard."""
    import hashlib

    import pyarrow.parquet as pq

    from lingualift.core.io import atomic_path, write_json

    random.Random(f"{cfg.seed}:shard:{rank}").shuffle(docs)
    stats = pack.PackStats()
    table = pack.pack(docs, pack.load_tokenizer(cfg.pack.tokenizer), cfg.pack.block_size, stats)
    shard = Path(shard_dir) / f"shard-{rank:05d}.parquet"
    with atomic_path(shard) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    result = {"file": shard.name, "rows": stats.blocks, "sha256": hashlib.sha256(shard.read_bytes()).hexdigest(),
              **stats.as_dict()}
    write_json(Path(marker_dir) / f"{rank:05d}.json", result)
    return result


class Pack(PipelineStep):
    """Task B packs bucket B into shard-B.parquet (documents sorted by id first: the files of
    a bucket arrive in task order, which must not matter)."""

    type = "📦 - PACK"
    name = "lingualift pack"

    def __init__(self, cfg_json: str, shard_dir: str, marker_dir: str):
        super().__init__()
        self.cfg_json, self.shard_dir, self.marker_dir = cfg_json, shard_dir, marker_dir

    def run(self, data, rank: int = 0, world_size: int = 1):
        docs = sorted((d.id, d.text, d.metadata["group"]) for d in data)
        result = pack_shard(rank, [(t, g) for _, t, g in docs], config(self.cfg_json), self.shard_dir, self.marker_dir)
        self.stat_update("blocks", value=result["blocks"])
        self.stat_update("dropped_tokens", value=result["dropped_tokens"])
        return iter(())

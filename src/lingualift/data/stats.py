"""`lingualift data stats`: what is in a corpus file or a built dataset, at a glance."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from lingualift.data import readers
from lingualift.data.clean import record_lang
from lingualift.data.config import Source
from lingualift.data.dedup import key_text, text_hash

# Character-length buckets, upper bounds: short fragments, sentences, paragraphs, documents.
BUCKETS = (10, 50, 100, 200, 500, 1000, 5000)


def _bucket(n: int) -> str:
    for upper in BUCKETS:
        if n <= upper:
            return f"<={upper}"
    return f">{BUCKETS[-1]}"


def corpus_stats(path: str, lang: str | None = None) -> dict:
    """Per language (or direction): records, duplicate share, character-length histogram."""
    kind = "jsonl" if ".jsonl" in Path(path).name else "text"
    source = Source(type=kind, path=path, lang=lang)
    counts, dups, hist = Counter(), Counter(), defaultdict(Counter)
    seen: dict[str, set] = defaultdict(set)
    for item in readers.read(source):
        if isinstance(item, readers.Bad):
            raise item.error()
        group = record_lang(item)
        text = item["text"] if "text" in item else item["src"] + "\t" + item["tgt"]
        counts[group] += 1
        h = text_hash(key_text(text))
        dups[group] += h in seen[group]
        seen[group].add(h)
        hist[group][_bucket(len(text))] += 1
    return {g: {"records": n, "duplicate_share": round(dups[g] / n, 4),
                "length_chars": {b: hist[g][b] for b in sorted(hist[g], key=lambda b: (b[0] == ">", int(b.lstrip("<=>"))))}}
            for g, n in sorted(counts.items())}


def dataset_stats(folder: str) -> dict:
    """A built dataset: per-language documents and tokens, packing, document-piece lengths."""
    import pyarrow.parquet as pq

    manifest = json.loads((Path(folder) / "manifest.json").read_text("utf-8"))
    pieces = Counter()
    for shard in manifest["shards"]:
        for lens in pq.read_table(Path(folder) / shard["file"], columns=["seq_lens"]).column("seq_lens").to_pylist():
            pieces.update(_bucket(n) for n in lens)
    return {"languages": manifest["languages"], "packing": manifest["packing"],
            "removed": manifest["removed"], "augmented": manifest["augmented"],
            "piece_length_tokens": dict(pieces), "shards": len(manifest["shards"])}

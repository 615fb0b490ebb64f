"""Deduplication across all sources: exact (hash of normalised text) and near-duplicate
(MinHash LSH from datasketch), kept per language or direction.

Memory: one 64-bit hash per kept text for exact dedup (about 70 bytes each in a Python
set, ~70 MB per million); MinHash LSH keeps `num_perm` band hashes per text and is meant
for corpora of up to a few million documents per language on one machine (datatrove's
MinHash pipeline is the tool past that).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

import regex
import xxhash

from lingualift.data.clean import record_lang
from lingualift.data.config import DedupConfig

_NON_WORD = regex.compile(r"[\W_]+")


def key_text(text: str) -> str:
    """What counts as the same text: case, punctuation and spacing do not."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def text_hash(text: str) -> int:
    return xxhash.xxh64_intdigest(text.encode("utf-8"))


class Deduplicator:
    """Remembers what it has kept; `seen` says whether a record repeats an earlier one."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.exact: defaultdict[str, set[int]] = defaultdict(set)
        self.lsh: dict = {}
        self.template = None
        self.count = 0

    def _keys(self, record: dict) -> list[tuple[str, str]]:
        """(scope, text) pairs to check: the text itself, or the pair and/or its sides."""
        if "text" in record:
            return [(record["lang"], key_text(record["text"]))]
        keys = []
        for part in self.cfg.pair_keys:
            if part == "pair":
                keys.append((record_lang(record), key_text(record["src"]) + "\t" + key_text(record["tgt"])))
            else:
                keys.append((f"{record[f'{part}_lang']}:{part}", key_text(record[part])))
        return keys

    def _minhash(self, text: str):
        from datasketch import MinHash

        grams = {text[i:i + 5] for i in range(max(len(text) - 4, 1))}  # char 5-grams: any script
        if self.template is None:  # drawing permutations is most of a MinHash's cost: once
            self.template = MinHash(num_perm=self.cfg.num_perm, seed=1)
        mh = MinHash(num_perm=self.cfg.num_perm, seed=1, permutations=self.template.permutations,
                     scheme=self.template.scheme)
        mh.update_batch([g.encode("utf-8") for g in grams])
        return mh

    def seen(self, record: dict) -> str | None:
        """'exact' or 'near' if the record repeats a kept one, else None (and remember it)."""
        keys = self._keys(record)
        hashes = [(scope, text_hash(text)) for scope, text in keys]
        if self.cfg.exact and any(h in self.exact[scope] for scope, h in hashes):
            return "exact"
        sketches = []
        if self.cfg.near:
            from datasketch import MinHashLSH

            for scope, text in keys:
                if scope not in self.lsh:  # (building one solves for its band layout: slow)
                    self.lsh[scope] = MinHashLSH(threshold=self.cfg.near_threshold, num_perm=self.cfg.num_perm)
                lsh = self.lsh[scope]
                mh = self._minhash(text)
                if lsh.query(mh):
                    return "near"
                sketches.append((lsh, mh))
        for scope, h in hashes:
            self.exact[scope].add(h)
        for lsh, mh in sketches:
            self.count += 1
            lsh.insert(self.count, mh, check_duplication=False)
        return None


def dedup(records: Iterable[dict], removed: defaultdict[str, Counter],
          deduplicator: Deduplicator) -> Iterator[dict]:
    for record in records:
        kind = deduplicator.seen(record)
        if kind is None:
            yield record
        else:
            removed[record_lang(record)][f"duplicate_{kind}"] += 1

"""Render records as training documents, tokenise them and pack them into fixed blocks.

Documents are joined with EOS into blocks of `block_size` tokens; `position_ids` restart
at every document start and `seq_lens` lists the document pieces of each block, so training
can keep attention inside documents (flash-attention varlen, or sdpa with a block mask).
The tail of a shard that does not fill a block is dropped and counted.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from lingualift.data.config import RenderConfig
from lingualift.lang.languages import english_name


def render(record: dict, cfg: RenderConfig) -> list[tuple[str, str]]:
    """(document text, group) pairs: a pair becomes one document per direction."""
    if "text" in record:
        return [(record["text"], record["lang"])]
    out = []
    sides = [("src", "tgt")] + ([("tgt", "src")] if cfg.both_directions else [])
    for a, b in sides:
        sl, tl = record[f"{a}_lang"], record[f"{b}_lang"]
        text = cfg.pair_template.format(src=record[a], tgt=record[b], src_lang=english_name(sl), tgt_lang=english_name(tl))
        out.append((text, f"{sl}-{tl}"))
    return out


@dataclass
class PackStats:
    documents: Counter = field(default_factory=Counter)
    tokens: Counter = field(default_factory=Counter)
    blocks: int = 0
    dropped_tokens: int = 0

    def as_dict(self) -> dict:
        return {"documents": dict(self.documents), "tokens": dict(self.tokens),
                "blocks": self.blocks, "dropped_tokens": self.dropped_tokens}


@dataclass
class PackTokenizer:
    """What packing needs from a tokenizer: batch encoding without special tokens, EOS."""

    encode: Callable[[list[str]], list[list[int]]]
    eos_token_id: int


@functools.cache  # one per worker process: reloading it per shard grows the heap
def load_tokenizer(spec: str) -> PackTokenizer:
    """The model's `tokenizer.json` through `tokenizers` when it has one: loading it through
    transformers imports torch, ~350 MB in every worker. Otherwise (e.g. a bare
    SentencePiece `tokenizer.model`) the transformers tokenizer; both give the same ids."""
    import json

    from lingualift.inference.models import resolve_spec

    directory, gguf = resolve_spec(spec)
    config = directory / "tokenizer_config.json"
    if not gguf and (directory / "tokenizer.json").is_file() and config.is_file():
        from tokenizers import Tokenizer

        core = Tokenizer.from_file(str(directory / "tokenizer.json"))
        eos = json.loads(config.read_text("utf-8")).get("eos_token")
        eos = eos.get("content") if isinstance(eos, dict) else eos
        if eos is not None and core.token_to_id(eos) is not None:
            return PackTokenizer(lambda texts: [e.ids for e in core.encode_batch(texts, add_special_tokens=False)],
                                 core.token_to_id(eos))
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(directory, gguf_file=gguf) if gguf else AutoTokenizer.from_pretrained(directory)
    return PackTokenizer(lambda texts: hf(texts, add_special_tokens=False)["input_ids"], hf.eos_token_id)


# Documents tokenised per call: large enough for the Rust tokenizer's batching, small
# enough that the Python lists it returns stay a few MB.
TOKENIZE_BATCH = 256


def pack(docs: list[tuple[str, str]], tokenizer, block_size: int, stats: PackStats):
    """A pyarrow table of packed blocks: input_ids, position_ids, seq_lens (int32 lists).

    Works on flat numpy arrays (a list of Python ints costs ~8x the memory)."""
    import numpy as np
    import pyarrow as pa

    eos = tokenizer.eos_token_id
    chunks, lengths = [], []  # one small array per document, joined once
    for start in range(0, len(docs), TOKENIZE_BATCH):
        batch = docs[start:start + TOKENIZE_BATCH]
        for (_, group), ids in zip(batch, tokenizer.encode([t for t, _ in batch])):
            chunks.append(np.asarray(ids + [eos], dtype=np.int32))
            lengths.append(len(ids) + 1)
            stats.documents[group] += 1
            stats.tokens[group] += len(ids) + 1
    flat = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    blocks = len(flat) // block_size
    used = blocks * block_size
    stats.blocks += blocks
    stats.dropped_tokens += len(flat) - used
    # int32 throughout: a shard holds far fewer than 2^31 tokens, and int64 doubles the peak.
    doc_starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int32)[:-1]]).astype(np.int32)
    # A piece starts at every document start and every block start (a document continued
    # from the previous block starts again at position 0 there).
    cuts = np.union1d(doc_starts[doc_starts < used], np.arange(0, used, block_size, dtype=np.int32))
    piece_lens = np.diff(np.append(cuts, used)).astype(np.int32)
    positions = np.arange(used, dtype=np.int32)
    positions -= np.repeat(cuts, piece_lens)
    pieces_per_block = np.bincount(cuts // block_size, minlength=blocks)
    block_offsets = np.arange(0, used + 1, block_size, dtype=np.int32)
    piece_offsets = np.concatenate([[0], np.cumsum(pieces_per_block)]).astype(np.int32)
    return pa.table({
        "input_ids": pa.ListArray.from_arrays(block_offsets, flat[:used]),
        "position_ids": pa.ListArray.from_arrays(block_offsets, positions),
        "seq_lens": pa.ListArray.from_arrays(piece_offsets, piece_lens),
    })

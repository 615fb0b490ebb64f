"""Render records as training documents, tokenise them and pack them into fixed blocks.

Documents are joined with EOS into blocks of `block_size` tokens; `position_ids` restart
at every document start and `seq_lens` lists the document pieces of each block, so training
can keep attention inside documents (flash-attention varlen, or sdpa with a block mask).
The tail of a shard that does not fill a block is dropped and counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lingualift.config import RenderConfig
from lingualift.languages import english_name


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


def load_tokenizer(spec: str):
    from transformers import AutoTokenizer

    from lingualift.models import resolve_spec

    directory, gguf = resolve_spec(spec)
    return AutoTokenizer.from_pretrained(directory, gguf_file=gguf) if gguf else AutoTokenizer.from_pretrained(directory)


# Documents tokenised per call: large enough for the Rust tokenizer's batching, small
# enough that the Python lists it returns stay a few MB.
TOKENIZE_BATCH = 1000


def pack(docs: list[tuple[str, str]], tokenizer, block_size: int, stats: PackStats):
    """A pyarrow table of packed blocks: input_ids, position_ids, seq_lens (int32 lists).

    Works on flat numpy arrays (a list of Python ints costs ~8x the memory)."""
    import numpy as np
    import pyarrow as pa

    eos = tokenizer.eos_token_id
    chunks, lengths = [], []
    for start in range(0, len(docs), TOKENIZE_BATCH):
        batch = docs[start:start + TOKENIZE_BATCH]
        for (_, group), ids in zip(batch, tokenizer([t for t, _ in batch], add_special_tokens=False)["input_ids"]):
            chunks.append(np.asarray(ids + [eos], dtype=np.int32))
            lengths.append(len(ids) + 1)
            stats.documents[group] += 1
            stats.tokens[group] += len(ids) + 1
    flat = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    blocks = len(flat) // block_size
    used = blocks * block_size
    stats.blocks += blocks
    stats.dropped_tokens += len(flat) - used
    doc_starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]]).astype(np.int64)
    # A piece starts at every document start and every block start (a document continued
    # from the previous block starts again at position 0 there).
    cuts = np.union1d(doc_starts[doc_starts < used], np.arange(0, used, block_size))
    piece_lens = np.diff(np.append(cuts, used)).astype(np.int32)
    index = np.arange(used, dtype=np.int64)
    positions = (index - np.repeat(cuts, piece_lens)).astype(np.int32)
    pieces_per_block = np.bincount(cuts // block_size, minlength=blocks)
    block_offsets = np.arange(0, used + 1, block_size, dtype=np.int32)
    piece_offsets = np.concatenate([[0], np.cumsum(pieces_per_block)]).astype(np.int32)
    return pa.table({
        "input_ids": pa.ListArray.from_arrays(block_offsets, flat[:used]),
        "position_ids": pa.ListArray.from_arrays(block_offsets, positions),
        "seq_lens": pa.ListArray.from_arrays(piece_offsets, piece_lens),
    })

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


def pack(docs: list[tuple[str, str]], tokenizer, block_size: int, stats: PackStats) -> dict[str, list]:
    """Columns of packed blocks: input_ids, position_ids, seq_lens."""
    eos = tokenizer.eos_token_id
    encoded = tokenizer([text for text, _ in docs], add_special_tokens=False)["input_ids"]
    columns: dict[str, list] = {"input_ids": [], "position_ids": [], "seq_lens": []}
    ids: list[int] = []
    pos: list[int] = []
    lens: list[int] = []
    for (_, group), tokens in zip(docs, encoded):
        tokens = tokens + [eos]
        stats.documents[group] += 1
        stats.tokens[group] += len(tokens)
        offset = 0
        while offset < len(tokens):
            take = min(block_size - len(ids), len(tokens) - offset)
            ids += tokens[offset:offset + take]
            pos += range(take)  # a piece continued from the last block starts again at 0
            lens.append(take)
            offset += take
            if len(ids) == block_size:
                columns["input_ids"].append(ids)
                columns["position_ids"].append(pos)
                columns["seq_lens"].append(lens)
                ids, pos, lens = [], [], []
                stats.blocks += 1
    stats.dropped_tokens += len(ids)
    return columns

"""Grow a model's embeddings for new tokens and give the new rows a useful start.

SambaLingo initialises a new token's input and output embeddings as the mean of the base
embeddings of the sub-tokens its text splits into under the base tokenizer, so the model
reads and predicts the new token roughly as it did the pieces; `random` draws from a normal
with the base embeddings' per-dimension mean and std (what an untrained row looks like).
FOCUS/WECHSEL-style similarity-weighted init is not offered. `wechsel` needs aligned
fastText word vectors from the hub (gigabytes, no offline path). `deepfocus` 1.0.1 (last
release 2023-11, on the archived `fasttext`) does install and run here, but its auxiliary
fastText embeddings keep only tokens seen 10+ times: on the Tatoeba Swahili corpus it
initialised 4 of 393 new SmolLM2 tokens by similarity and drew the other 389 at random
(the `random` init measured in the effect report). Worth revisiting with corpora of millions of lines.
"""

from __future__ import annotations

import math

INITS = ("mean", "random")
# GPU matmuls are fastest when the vocabulary dimension is a multiple of 64 (NVIDIA's
# tensor-core guidance; Megatron pads to 128 per tensor-parallel rank for the same reason).
PAD_MULTIPLE = 64


def padded_rows(needed: int, current: int) -> int:
    return max(current, math.ceil(needed / PAD_MULTIPLE) * PAD_MULTIPLE)


def _tied(model) -> bool:
    out = model.get_output_embeddings()
    return out is None or out.weight is model.get_input_embeddings().weight


def init_rows(method: str, base_rows, piece_ids: list[list[int] | None], seed: int):
    """New rows for one embedding matrix: the mean of each token's base pieces (of all base
    rows where the pieces are None: a padding row), or random."""
    import torch

    if method == "mean":
        overall = base_rows.mean(dim=0) if any(ids is None for ids in piece_ids) else None
        return torch.stack([overall if ids is None else base_rows[ids].mean(dim=0) for ids in piece_ids])
    if method == "random":
        generator = torch.Generator().manual_seed(seed)
        mean, std = base_rows.float().mean(dim=0), base_rows.float().std(dim=0)
        noise = torch.randn(len(piece_ids), base_rows.shape[1], generator=generator)
        return (mean + noise * std).to(base_rows.dtype)
    raise ValueError(f"unknown init {method!r}; choose from {', '.join(INITS)}")


def resize(model, needed: int, base_tokens: int) -> dict:
    """Resize input embeddings and LM head to `needed` tokens padded to a multiple of 64, with
    `config.vocab_size` following the row count.

    Padding rows are no token: `apply_init` gives them what it gives a new token (the mean of
    the base's token rows, or a random draw) so no row stands out in norm, and generation
    never produces them: their ids go to `generation_config.suppress_tokens`, which
    transformers' generate masks to -inf at every step.
    """
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = None if _tied(model) else model.get_output_embeddings().weight.detach().clone()
    rows = padded_rows(needed, old_in.shape[0])
    model.resize_token_embeddings(rows, mean_resizing=False)
    model.config.vocab_size = rows
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().vocab_size = rows
    padding = list(range(needed, rows))
    if model.generation_config is not None:
        kept = [i for i in (model.generation_config.suppress_tokens or []) if i < needed]
        model.generation_config.suppress_tokens = (kept + padding) or None
    # Statistics from the base's real token rows: a base padded beyond its tokenizer (tiny)
    # carries untrained rows that would skew them.
    real = min(base_tokens, old_in.shape[0])
    return {"base_rows": old_in.shape[0], "rows": rows, "tied": old_out is None, "padding": padding,
            "base_in": old_in[:real], "base_out": None if old_out is None else old_out[:real]}


def apply_init(model, resized: dict, new_ids: list[int], piece_ids: list[list[int]], method: str, seed: int) -> None:
    """Write the `method` rows for `new_ids` (and the padding rows: the mean of all base rows
    for `mean`, random draws for `random`) into the input embeddings and, if untied, the LM head."""
    import torch

    ids = torch.tensor(new_ids + resized["padding"], dtype=torch.long)
    pieces = piece_ids + [None] * len(resized["padding"])
    with torch.no_grad():
        model.get_input_embeddings().weight[ids] = init_rows(method, resized["base_in"], pieces, seed)
        if resized["base_out"] is not None:
            model.get_output_embeddings().weight[ids] = init_rows(method, resized["base_out"], pieces, seed + 1)

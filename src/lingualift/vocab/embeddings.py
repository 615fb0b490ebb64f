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


def init_rows(method: str, base_rows, piece_ids: list[list[int]], seed: int):
    """New rows for one embedding matrix: the mean of each token's base pieces, or random."""
    import torch

    if method == "mean":
        return torch.stack([base_rows[ids].mean(dim=0) for ids in piece_ids])
    if method == "random":
        generator = torch.Generator().manual_seed(seed)
        mean, std = base_rows.float().mean(dim=0), base_rows.float().std(dim=0)
        noise = torch.randn(len(piece_ids), base_rows.shape[1], generator=generator)
        return (mean + noise * std).to(base_rows.dtype)
    raise ValueError(f"unknown init {method!r}; choose from {', '.join(INITS)}")


def resize(model, needed: int) -> dict:
    """Resize input embeddings and LM head to `needed` tokens padded to a multiple of 64; the
    padding rows get the base mean (a token never seen in training, predicted at an average
    logit: ~1/V probability each) and `config.vocab_size` follows the row count."""
    import torch

    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = None if _tied(model) else model.get_output_embeddings().weight.detach().clone()
    rows = padded_rows(needed, old_in.shape[0])
    model.resize_token_embeddings(rows, mean_resizing=False)
    with torch.no_grad():
        model.get_input_embeddings().weight[old_in.shape[0]:] = old_in.mean(dim=0)
        if old_out is not None:
            model.get_output_embeddings().weight[old_out.shape[0]:] = old_out.mean(dim=0)
    model.config.vocab_size = rows
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().vocab_size = rows
    return {"base_rows": old_in.shape[0], "rows": rows, "tied": old_out is None,
            "base_in": old_in, "base_out": old_out}


def apply_init(model, resized: dict, new_ids: list[int], piece_ids: list[list[int]], method: str, seed: int) -> None:
    """Write the `method` rows for `new_ids` into the input embeddings and, if untied, the LM head."""
    import torch

    ids = torch.tensor(new_ids)
    with torch.no_grad():
        model.get_input_embeddings().weight[ids] = init_rows(method, resized["base_in"], piece_ids, seed)
        if resized["base_out"] is not None:
            model.get_output_embeddings().weight[ids] = init_rows(method, resized["base_out"], piece_ids, seed + 1)

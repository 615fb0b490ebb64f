"""Perplexity per character and bits per byte: numbers that survive a change of tokenizer.

Per-token perplexity rewards a tokenizer that cuts text into more, easier pieces, so after
vocabulary expansion (or across models) only the total negative log-likelihood of the same
text divided by its characters or bytes compares. Each line is scored whole after a start
token (the tokenizer's BOS, else its EOS as a document separator), every token of the line
predicted, none of the start.
"""

from __future__ import annotations

import math
from typing import Callable


def _start_id(tokenizer) -> int:
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    raise ValueError("the tokenizer has neither a BOS nor an EOS token to start a line with")


def line_ids(tokenizer, lines: list[str]) -> list[list[int]]:
    """Token ids of each line behind one start token, whatever the tokenizer adds itself."""
    start = _start_id(tokenizer)
    return [[start, *ids] for ids in tokenizer(lines, add_special_tokens=False)["input_ids"]]


def nll(model, tokenizer, lines: list[str], batch_size: int = 16,
        progress: Callable[[int], None] | None = None) -> dict:
    """Summed negative log-likelihood (nats) of `lines`, with their characters and bytes.

    Lines are batched by length (less padding) and right-padded; padding carries no loss.
    """
    import torch

    sequences = line_ids(tokenizer, lines)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    device = next(model.parameters()).device
    total = 0.0
    tokens = 0
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = [sequences[i] for i in order[start:start + batch_size]]
            width = max(map(len, batch))
            ids = torch.zeros(len(batch), width, dtype=torch.long)
            mask = torch.zeros(len(batch), width, dtype=torch.long)
            for row, seq in enumerate(batch):
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
            ids, mask = ids.to(device), mask.to(device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            target, keep = ids[:, 1:], mask[:, 1:].bool()
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
            total += losses[keep].sum().item()
            tokens += int(keep.sum())
            if progress:
                progress(len(batch))
    chars = sum(len(line) for line in lines)
    bytes_ = sum(len(line.encode("utf-8")) for line in lines)
    return {"nll": total, "tokens": tokens, "chars": chars, "bytes": bytes_,
            "ppl_char": math.exp(total / chars), "bits_per_byte": total / math.log(2) / bytes_,
            "ppl_token": math.exp(total / tokens)}

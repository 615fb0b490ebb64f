"""Perplexity per character and bits per byte: numbers that survive a change of tokenizer.

Per-token perplexity rewards a tokenizer that cuts text into more, easier pieces, so after
vocabulary expansion (or across models) only the total negative log-likelihood of the same
text divided by its characters or bytes compares. Each line is scored whole after a start
token (the tokenizer's BOS, else its EOS as a document separator), every token of the line
predicted, none of the start.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lingualift.inference.onednn import onednn_linear


def _start_id(tokenizer) -> int:
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    raise ValueError("the tokenizer has neither a BOS nor an EOS token to start a line with")


def line_ids(tokenizer, lines: list[str]) -> list[list[int]]:
    """Token ids of each line behind one start token, whatever the tokenizer adds itself."""
    start = _start_id(tokenizer)
    return [[start, *ids] for ids in tokenizer(lines, add_special_tokens=False)["input_ids"]]


def windows(sequence: list[int], window: int | None, stride: int | None) -> list[tuple[list[int], int]]:
    """(ids, first scored target) pieces of a sequence longer than the model's window.

    Each window after the first starts `stride` tokens later and scores only the targets
    the previous one did not reach, so every token is predicted exactly once and, past the
    first window, with at least window - stride tokens of context (the sliding-window
    perplexity of Hugging Face's guide and lm-eval's rolling log-likelihood).
    """
    if window is None or len(sequence) <= window:
        return [(sequence, 0)]
    # a window must overlap the previous one by a token, or the token at its start is never predicted
    stride = min(stride or window // 2, window - 1)
    pieces, reached = [], 1  # token 0 is the start token, never predicted
    for begin in range(0, len(sequence) - 1, stride):
        end = min(begin + window, len(sequence))
        pieces.append((sequence[begin:end], max(reached - begin - 1, 0)))
        reached = end
        if end == len(sequence):
            break
    return pieces


def nll(model, tokenizer, lines: list[str], batch_size: int = 16,
        progress: Callable[[int], None] | None = None, window: int | None = None,
        stride: int | None = None, per_line: bool = False) -> dict:
    """Summed negative log-likelihood (nats) of `lines`, with their characters and bytes.

    Lines are batched by length (less padding) and right-padded; padding carries no loss.
    A line longer than `window` tokens (default: the model's context) is scored in sliding
    windows `stride` tokens apart (default: half a window). `per_line` adds each line's nats
    and characters: what a paired bootstrap over lines resamples.
    """
    import torch

    window = window or getattr(model.config, "max_position_embeddings", None)
    pieces = [(i, piece) for i, seq in enumerate(line_ids(tokenizer, lines)) for piece in windows(seq, window, stride)]
    order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][1][0]))
    device = next(model.parameters()).device
    total = 0.0
    tokens = 0
    line_nll = [0.0] * len(lines)
    with torch.inference_mode(), onednn_linear(model):
        for start in range(0, len(order), batch_size):
            batch = [pieces[k][1] for k in order[start:start + batch_size]]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.zeros(len(batch), width, dtype=torch.long)
            mask = torch.zeros(len(batch), width, dtype=torch.long)
            scored = torch.zeros(len(batch), width - 1, dtype=torch.bool)
            for row, (seq, first) in enumerate(batch):
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
                scored[row, first:len(seq) - 1] = True
            ids, mask = ids.to(device), mask.to(device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
            keep = scored.to(device)
            for row, nats in enumerate((losses * keep).sum(dim=1).tolist()):
                line_nll[pieces[order[start + row]][0]] += nats
            total += losses[keep].sum().item()
            tokens += int(keep.sum())
            if progress:
                progress(sum(1 for k in order[start:start + batch_size] if pieces[k][1][1] == 0))
    chars = sum(len(line) for line in lines)
    bytes_ = sum(len(line.encode("utf-8")) for line in lines)
    result = {"nll": total, "tokens": tokens, "chars": chars, "bytes": bytes_,
              "ppl_char": math.exp(total / chars), "bits_per_byte": total / math.log(2) / bytes_,
              "bits_per_char": total / math.log(2) / chars, "ppl_token": math.exp(total / tokens)}
    if per_line:
        result.update(line_nll=line_nll, line_chars=[len(line) for line in lines])
    return result

"""Log-likelihood of continuations, tokenised and scored as lm-evaluation-harness's HFLM does.

Matching lm-eval token for token is what makes our accuracies comparable to published
ones: the context's trailing spaces move to the continuation; the continuation's tokens
are those of encode(context + continuation) past encode(context) (the tokenizer's default
special tokens on both); an empty context becomes the BOS token (else EOS), unless the
continuation already starts with it. Inputs are cut on the left to the model's length,
right-padded in batches sorted by length, without an attention mask (causal attention
never looks at the padding to its right).
"""

from __future__ import annotations

from collections.abc import Callable


def _prefix_id(tokenizer) -> int:
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def _encode(tokenizer, text: str) -> list[int]:
    prefix = tokenizer.decode(_prefix_id(tokenizer))
    return tokenizer.encode(text, add_special_tokens=not (prefix and text.startswith(prefix)))


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    if context == "":
        cont = tokenizer.encode(continuation, add_special_tokens=False)
        prefix = _prefix_id(tokenizer)
        return ([prefix], cont) if not cont or cont[0] != prefix else (cont[:1], cont[1:])
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole, ctx = _encode(tokenizer, context + continuation), _encode(tokenizer, context)
    return ctx, whole[len(ctx):]


def loglikelihoods(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int = 8,
                   progress: Callable[[int], None] | None = None) -> list[tuple[float, bool]]:
    """(sum of log P(continuation tokens), whether greedy decoding would produce them) per pair."""
    import torch

    max_length = getattr(model.config, "max_position_embeddings", None) or 2048
    encoded = [encode_pair(tokenizer, c, x) for c, x in pairs]
    inputs = [(ctx + cont)[-(max_length + 1):][:-1] for ctx, cont in encoded]
    order = sorted(range(len(pairs)), key=lambda i: -len(inputs[i]))  # longest first: memory errors show at once
    device = next(model.parameters()).device
    results: list[tuple[float, bool]] = [(0.0, False)] * len(pairs)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(inputs[i]) for i in idx)
            ids = torch.zeros(len(idx), width, dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, :len(inputs[i])] = torch.tensor(inputs[i])
            logprobs = torch.log_softmax(model(ids.to(device)).logits.float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                cont = encoded[i][1]
                n, end = len(cont), len(inputs[i])
                scores = logprobs[row, end - n:end]
                target = torch.tensor(cont)
                results[i] = (float(scores.gather(1, target[:, None]).sum()), bool((scores.argmax(-1) == target).all()))
            if progress:
                progress(len(idx))
    return results

"""Log-likelihood of continuations, tokenised and scored as lm-evaluation-harness's HFLM does.

Matching lm-eval token for token is what makes our accuracies comparable to published
ones: the context's trailing spaces move to the continuation; the continuation's tokens
are those of encode(context + continuation) past encode(context) (the tokenizer's default
special tokens on both); an empty context becomes the BOS token (else EOS), unless the
continuation already starts with it. The choices of one item share their context's forward
pass (its KV cache), so an item costs one context plus its short continuations instead of a
context per choice; the numbers equal a forward pass over each pair (tests/test_tasks.py) and
so lm-eval's. A pair longer than the model is cut on the left, as lm-eval does, and scored
whole, right-padded in batches sorted by length.
"""

from __future__ import annotations

import copy
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
    """(sum of log P(continuation tokens), whether greedy decoding would produce them) per pair.

    Pairs that share a context (the choices of one item) share its forward pass: the context
    is run once, its KV cache is repeated for every choice, and only the continuations are
    run on top (`_shared`). A pair too long for the model is cut on the left as lm-eval does
    and scored whole (`_direct`), since its cut context is no longer the shared one."""
    max_length = getattr(model.config, "max_position_embeddings", None) or 2048
    encoded = [encode_pair(tokenizer, c, x) for c, x in pairs]
    results: list[tuple[float, bool]] = [(0.0, True)] * len(pairs)
    groups: dict[tuple[int, ...], list[int]] = {}
    direct = []
    for i, (ctx, cont) in enumerate(encoded):
        if len(ctx) + len(cont) - 1 > max_length or not cont:
            direct.append(i)
        else:
            groups.setdefault(tuple(ctx), []).append(i)
    _direct(model, encoded, direct, max_length, batch_size, results, progress)
    _shared(model, encoded, groups, batch_size, results, progress)
    return results


def _score(logprobs, cont: list[int]) -> tuple[float, bool]:
    import torch

    target = torch.tensor(cont)
    return float(logprobs.gather(1, target[:, None]).sum()), bool((logprobs.argmax(-1) == target).all())


def _direct(model, encoded, idx_all, max_length, batch_size, results, progress) -> None:
    import torch

    inputs = {i: (encoded[i][0] + encoded[i][1])[-(max_length + 1):][:-1] for i in idx_all}
    order = sorted(idx_all, key=lambda i: -len(inputs[i]))  # longest first: memory errors show at once
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(inputs[i]) for i in idx)
            ids = torch.zeros(len(idx), width, dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, :len(inputs[i])] = torch.tensor(inputs[i])
            logprobs = torch.log_softmax(model(ids.to(device)).logits.float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                cont, end = encoded[i][1], len(inputs[i])
                results[i] = _score(logprobs[row, end - len(cont):end], cont)
            if progress:
                progress(len(idx))


def _shared(model, encoded, groups: dict, batch_size: int, results, progress) -> None:
    """Contexts left-padded in batches of `batch_size`, one forward pass with a KV cache; the
    cache rows repeated for each of a context's continuations, which run right-padded after
    it with positions continuing from the context's length."""
    import torch

    device = next(model.parameters()).device
    contexts = sorted(groups, key=len, reverse=True)
    with torch.inference_mode():
        for start in range(0, len(contexts), batch_size):
            chunk = contexts[start:start + batch_size]
            width = max(map(len, chunk))
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.long)
            for row, ctx in enumerate(chunk):
                ids[row, width - len(ctx):], mask[row, width - len(ctx):] = torch.tensor(ctx), 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            # only the last position's logits are scored: the LM head over a whole passage
            # (Belebele's) is a fifth of the forward pass of a 135M model with a 49k vocabulary
            out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                        use_cache=True, logits_to_keep=1)
            first = torch.log_softmax(out.logits[:, -1].float(), dim=-1).cpu()
            rows = [(g, i) for g, ctx in enumerate(chunk) for i in groups[ctx]]
            # Continuations run `batch_size` at a time: an item set whose contexts are all empty
            # (XNLI's lm-eval prompt) is one context with thousands of continuations.
            for sub in range(0, len(rows), batch_size):
                part = rows[sub:sub + batch_size]
                cache = out.past_key_values if len(rows) <= batch_size else copy.deepcopy(out.past_key_values)
                _continue(model, encoded, chunk, mask, first, cache, part, results, device)
                if progress:
                    progress(len(part))


def _continue(model, encoded, chunk, mask, first, cache, rows, results, device) -> None:
    """Score the continuations `rows` ((context row, pair index)) on top of the contexts' cache."""
    import torch

    longest = max(len(encoded[i][1]) for _, i in rows) - 1
    rest = None
    if longest > 0:
        cache.batch_select_indices(torch.tensor([g for g, _ in rows], device=device))
        cont_ids = torch.zeros(len(rows), longest, dtype=torch.long)
        cont_mask = torch.zeros(len(rows), longest, dtype=torch.long)
        for r, (_, i) in enumerate(rows):
            tail = encoded[i][1][:-1]
            cont_ids[r, :len(tail)], cont_mask[r, :len(tail)] = torch.tensor(tail, dtype=torch.long), 1
        lengths = torch.tensor([len(chunk[g]) for g, _ in rows])
        second = model(input_ids=cont_ids.to(device),
                       attention_mask=torch.cat([mask[[g for g, _ in rows]], cont_mask], dim=1).to(device),
                       position_ids=(lengths[:, None] + torch.arange(longest)).to(device),
                       cache=cache, use_cache=True)
        rest = torch.log_softmax(second.logits.float(), dim=-1).cpu()
    for r, (g, i) in enumerate(rows):
        cont = encoded[i][1]
        scores = first[g][None] if rest is None else torch.cat([first[g][None], rest[r, :len(cont) - 1]])
        results[i] = _score(scores[:len(cont)], cont)

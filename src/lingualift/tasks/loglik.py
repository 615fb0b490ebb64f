"""Log-likelihood of continuations, tokenised and scored as lm-evaluation-harness's HFLM does.

Matching lm-eval token for token is what makes our accuracies comparable to published
ones: the context's trailing spaces move to the continuation; the continuation's tokens
are those of encode(context + continuation) past encode(context) (the tokenizer's default
special tokens on both); an empty context becomes the BOS token (else EOS), unless the
continuation already starts with it; a pair longer than the model is cut on the left.

What is computed once: every pair's input ((context + continuation)[:-1]) is a path in a
prefix tree, and each tree node is run once. The choices of an item share their context,
the questions of a Belebele passage share the passage, and one-token choices share the
whole input. A forward-pass row holds whole subtrees in depth-first order (a forest), each
token attending to its ancestors only (a 4D mask) at its depth as position, so a row
computes exactly the sums a forward pass over each pair computes (tests/test_tasks.py: to
1e-4 relative, and so lm-eval's), on fewer tokens. The LM head runs only where a
continuation token is predicted, once per position however many choices it predicts for:
with a 49k vocabulary it is a fifth of a 135M model's forward pass per position. Rows go to
forward passes in batches cut where they pad least (`batches`), and fp32 linear layers run on
oneDNN with packed weights (inference/onednn.py: on AMD CPUs 2.3-2.5x MKL's speed at 2048
rows, the same numbers to about 1e-6). A first causal pass over the chain that begins every
row of a batch, its KV cache continued under the tree mask, halves that chain's attention
arithmetic, but was no faster in ad hoc timings on SIB-200 or Belebele, and is not done
(`bench/tasks.py --profile` shows where the time goes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lingualift.inference.onednn import onednn_linear


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

    `batch_size` is the most packed rows a forward pass takes (`batches`); a row holds the
    longest input's tokens or `MIN_ROW`, whichever is more (`pack`)."""
    max_length = getattr(model.config, "max_position_embeddings", None) or 2048
    encoded = [encode_pair(tokenizer, c, x) for c, x in pairs]
    inputs = [(ctx + cont)[-(max_length + 1):][:-1] for ctx, cont in encoded]
    results: list[tuple[float, bool]] = [(0.0, True)] * len(pairs)  # an empty continuation: log 1, greedy
    todo = [i for i, (_, cont) in enumerate(encoded) if cont]
    rows = pack(inputs, todo, budget=max(MIN_ROW, *(len(inputs[i]) for i in todo)) if todo else MIN_ROW)
    rows.sort(key=lambda row: -len(row.tokens))  # longest first: a memory error shows at once
    with onednn_linear(model):
        for chunk in batches(rows, batch_size):
            # a continuation longer than the model: its last max_length tokens, all the window predicts
            _run(model, chunk, [[encoded[i][1][-len(inputs[i]):] for i, _ in row.members] for row in chunk], results)
            if progress:
                progress(sum(len(row.members) for row in chunk))
    return results


# A forward pass's fixed cost in token positions, for `batches`: 16 was the fastest of 0, 4, 16,
# 32, 64 and 256 in a one-off sweep on Belebele with SmolLM2-135M (0 runs every row alone, 256
# as few batches as rows of 8 do); bench/tasks.py prints the positions it leaves.
BATCH_COST = 16


def batches(rows: list[Row], size: int) -> list[list[Row]]:
    """Rows cut into consecutive batches of at most `size` so that the padded positions (a
    batch is as wide as its longest row) plus BATCH_COST a batch are fewest (rows come longest
    first, so that similar widths are neighbours):
    Belebele's rows run from 118 to 253 tokens, and batches of 8 in a row padded 8% of its
    positions. Exact, by dynamic programming over the cut points."""
    n = len(rows)
    best, cut = [0] * (n + 1), [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        widths = [len(row.tokens) for row in rows[i:i + size]]
        best[i], cut[i] = min((max(widths[:j - i]) * (j - i) + BATCH_COST + best[j], j)
                              for j in range(i + 1, min(i + size, n) + 1))
    out, i = [], 0
    while i < n:
        out.append(rows[i:cut[i]])
        i = cut[i]
    return out


# Rows hold at least this many tokens: short inputs (XNLI's, a BOS and a sentence) then share a
# row instead of each padding one, and a passage's questions fit beside it. Longer rows cost
# more: attention over a row grows with its length squared. 256 was the fastest of 128-400 on
# SIB-200 and Belebele with SmolLM2-135M (bench/tasks.py).
MIN_ROW = 256


@dataclass
class Row:
    """A forest in depth-first order: its tokens, their depths (positions), each node's path
    (its ancestors and itself, root first: what it attends to), and the pairs it scores."""

    tokens: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    paths: list[list[int]] = field(default_factory=list)
    members: list[tuple[int, list[int]]] = field(default_factory=list)  # (pair index, node of each input token)
    last: list[int] = field(default_factory=list)  # the previous member's input, to find the shared prefix


def pack(inputs: list[list[int]], todo: list[int], budget: int) -> list[Row]:
    """Inputs in lexicographic order, so each shares its longest prefix with the one before;
    a row takes the next input while its new nodes fit in `budget` tokens."""
    rows: list[Row] = []
    row: Row | None = None
    for i in sorted(todo, key=lambda i: inputs[i]):
        seq = inputs[i]
        shared = 0
        if row is not None:
            limit = min(len(seq), len(row.last))
            while shared < limit and seq[shared] == row.last[shared]:
                shared += 1
        if row is None or len(row.tokens) + len(seq) - shared > budget:
            row, shared = Row(), 0
            rows.append(row)
        path = row.members[-1][1][:shared] if shared else []
        for depth in range(shared, len(seq)):
            path = path + [len(row.tokens)]
            row.tokens.append(seq[depth])
            row.depths.append(depth)
            row.paths.append(path)
        row.members.append((i, path))
        row.last = seq
    return rows


def _run(model, rows: list[Row], conts: list[list[list[int]]], results) -> None:
    """One forward pass over packed rows; the LM head on the positions that predict a
    continuation token only."""
    import torch

    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    width = max(len(row.tokens) for row in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    positions = torch.zeros(len(rows), width, dtype=torch.long)
    allowed = torch.eye(width, dtype=torch.bool).repeat(len(rows), 1, 1)  # padding attends to itself: no NaN rows
    wanted, targets, spans = [], [], []
    for r, row in enumerate(rows):
        n = len(row.tokens)
        ids[r, :n], positions[r, :n] = torch.tensor(row.tokens), torch.tensor(row.depths)
        for node, path in enumerate(row.paths):
            allowed[r, node, path] = True
        for (i, path), cont in zip(row.members, conts[r]):
            nodes = path[len(path) - len(cont):]
            spans.append((i, len(targets), len(cont)))
            wanted += [r * width + node for node in nodes]
            targets += cont
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)[:, None]
    with torch.inference_mode():
        hidden = model.base_model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                  position_ids=positions.to(device)).last_hidden_state
        # one-token choices of an input share its last position (Belebele's four letters): its head runs once
        unique, inverse = torch.unique(torch.tensor(wanted), return_inverse=True)
        logits = model.get_output_embeddings()(hidden.flatten(0, 1)[unique.to(device)])
        cap = getattr(model.config, "final_logit_softcapping", None)
        if cap:  # Gemma 2's head, as its own forward applies it
            logits = torch.tanh(logits / cap) * cap
        logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
    target = torch.tensor(targets)
    picked = logprobs[inverse, target]
    greedy = logprobs.argmax(-1)[inverse] == target
    for i, start, n in spans:
        results[i] = (float(picked[start:start + n].sum()), bool(greedy[start:start + n].all()))

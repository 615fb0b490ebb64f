"""Multiple-choice scoring speed: lingualift's shared-prefix scoring against lm-evaluation-harness.

    python bench/tasks.py [--model smollm2-135m] [--items 50] [--batch-size 8] [--repeats 1]

Both score the same (context, choice) pairs of the same items with the same model object:
lm-eval through its own HFLM.loglikelihood (one forward pass over context + choice for every
choice, batched, one-token choices of a context grouped), lingualift through
`tasks.loglik.loglikelihoods` (each prefix-tree node once: choices share their context,
Belebele's questions their passage; the LM head only where a continuation token is
predicted). Both first score a few untimed pairs, so neither pays the process's first-call
costs. Prints items/s of each, the ratio, lingualift again with its fp32 linear layers on
torch's default GEMM (MKL, as lm-eval runs; LINGUALIFT_ONEDNN=0) instead of oneDNN (inference/onednn.py) to show
what the prefix tree alone buys, both accuracies (they must be equal), the largest relative
difference between lm-eval's log-likelihoods and ours (they must agree to 1e-4), and the
token positions each ran through the model's body (padding included): on the same GEMM the
ratio of positions (and lm-eval's LM head at every position) approximates the speed-up. --repeats N
times each side N times and keeps its fastest run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
TASKS = (("sib200", "swh_Latn"), ("belebele", "eng_Latn"))


def accuracy(items, scores) -> float:
    from lingualift.tasks.evaluate import score_choices

    cursor, hits = 0, 0.0
    for item in items:
        lls = [s[0] for s in scores[cursor:cursor + len(item.choices)]]
        cursor += len(item.choices)
        hits += score_choices(item, lls)["acc"]
    return 100 * hits / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="time each side N times, keep the fastest")
    args = parser.parse_args()
    args.repeats = max(1, args.repeats)
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from gemm import on_mkl  # bench/gemm.py and bench/generation.py, beside this script
    from generation import fastest
    from lingualift import tasks
    from lingualift.inference import models
    from lingualift.tasks.loglik import loglikelihoods

    model, tokenizer = models.load(args.model)
    harness = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.batch_size)
    print(f"{args.model}, {args.items} items per task, batch {args.batch_size}, fastest of {args.repeats}, 2-core CPU")
    positions = [0]
    model.base_model.register_forward_pre_hook(  # every forward of both goes through the body
        lambda module, args, kwargs: positions.__setitem__(0, positions[0] + kwargs["input_ids"].numel()),
        with_kwargs=True)
    print("| task | lm-eval items/s | lingualift items/s | ratio | lingualift on MKL items/s | ratio "
          "| lm-eval acc | lingualift acc | max relative difference | lm-eval positions | lingualift positions |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    warm = [("Text: a warm-up line\nTopic:", " travel")] * 8
    harness.loglikelihood([Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(warm)], disable_tqdm=True)
    loglikelihoods(model, tokenizer, warm, args.batch_size)
    with on_mkl():
        loglikelihoods(model, tokenizer, warm, args.batch_size)
    for name, lang in TASKS:
        items = tasks.get(name).load(DATA / "tasks", lang)[:args.items]
        pairs = [(c.context, c.continuation) for item in items for c in item.choices]
        requests = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
        positions[0] = 0
        their_s, theirs = fastest(args.repeats, lambda r=requests: harness.loglikelihood(r, disable_tqdm=True))
        their_positions = positions[0] // args.repeats
        with on_mkl():
            mkl_s, _ = fastest(args.repeats, lambda p=pairs: loglikelihoods(model, tokenizer, p, args.batch_size))
        positions[0] = 0
        our_s, ours = fastest(args.repeats, lambda p=pairs: loglikelihoods(model, tokenizer, p, args.batch_size))
        our_positions = positions[0] // args.repeats
        # what the 1e-4 promise is about: each log-likelihood against lm-eval's
        diff = max(abs(a[0] - b[0]) / max(abs(a[0]), 1e-9) for a, b in zip(theirs, ours))
        print(f"| {name} {lang} | {len(items) / their_s:.2f} | {len(items) / our_s:.2f} | {their_s / our_s:.2f}x "
              f"| {len(items) / mkl_s:.2f} | {their_s / mkl_s:.2f}x | {accuracy(items, theirs):.1f} "
              f"| {accuracy(items, ours):.1f} | {diff:.1e} | {their_positions} | {our_positions} |")


if __name__ == "__main__":
    main()

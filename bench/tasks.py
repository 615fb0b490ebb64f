"""Multiple-choice scoring speed: lingualift's shared-prefix scoring against lm-evaluation-harness.

    python bench/tasks.py [--model smollm2-135m] [--items 50] [--batch-size 8] [--repeats 1]
    python bench/tasks.py --profile [--model smollm2-135m] [--items 50] [--batch-size 8]

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

--profile: where lingualift's scoring of each task spends its time (torch profiler, self CPU
time of one warmed-up run): the linear layers, attention, the elementwise ops and the rest,
as shares of the whole.
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


# torch profiler op names, by what they do in a decoder forward pass
KINDS = {"linear layers": ("mkldnn::_linear_pointwise", "aten::addmm", "aten::mm"),
         "attention": ("aten::_scaled_dot_product_flash_attention_for_cpu",),
         "elementwise (norms, rotary, SiLU, residuals)": ("aten::mul", "aten::add", "aten::silu", "aten::cat",
                                                          "aten::pow", "aten::neg", "aten::mean", "aten::rsqrt")}


def profile(args) -> None:
    from torch.profiler import profile as torch_profile

    from lingualift import tasks
    from lingualift.inference import models
    from lingualift.tasks.loglik import loglikelihoods

    model, tokenizer = models.load(args.model)
    print(f"{args.model}, {args.items} items per task, batch {args.batch_size}: share of self CPU time")
    print("| task | seconds | " + " | ".join(KINDS) + " | other |")
    print("|---|---:|" + "---:|" * (len(KINDS) + 1))
    for name, lang in TASKS:
        items = tasks.get(name).load(DATA / "tasks", lang)[:args.items]
        pairs = [(c.context, c.continuation) for item in items for c in item.choices]
        loglikelihoods(model, tokenizer, pairs, args.batch_size)  # warm-up
        with torch_profile() as prof:
            loglikelihoods(model, tokenizer, pairs, args.batch_size)
        spent = {event.key: event.self_cpu_time_total for event in prof.key_averages()}
        total = sum(spent.values())
        shares = [sum(spent.get(op, 0) for op in ops) / total for ops in KINDS.values()]
        print(f"| {name} {lang} | {total / 1e6:.2f} | " + " | ".join(f"{x:.0%}" for x in shares)
              + f" | {1 - sum(shares):.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="time each side N times, keep the fastest")
    parser.add_argument("--profile", action="store_true", help="where lingualift's scoring spends its time")
    args = parser.parse_args()
    if args.profile:
        return profile(args)
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

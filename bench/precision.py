"""bf16 against fp32 on the CPU: what the demo's `precision: bf16` / `dtype: bf16` buy and cost.

    python bench/precision.py [--model smollm2-135m] [--steps 4] [--lines 100] [--ppl-lines 100]

On one model, side by side in one run:
- a training step (2 x 256 tokens, forward, backward, AdamW) in fp32 and under bf16 autocast
  with fp32 master weights, as `train cpt --set precision=bf16` runs it (Trainer's bf16 on CPU);
- greedy translation of FLORES dev English lines 800- into Swahili, weights loaded in fp32 and
  in bf16 (`dtype: bf16`), with the demo's template and batch size; chrF++ of both with
  sacrebleu's paired bootstrap (bf16 against fp32);
- per-character perplexity of FLORES dev Swahili and English lines 800-, both ways, with the
  paired bootstrap over lines.
Prints seconds and the speed-up of each, and the quality deltas with their 95% CIs. bf16 pays
only on CPUs with native bf16 (AVX512-BF16 or AMX); elsewhere it is emulated and slower.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from lingualift.core.io import read_lines
from lingualift.inference import models
from lingualift.inference.generate import GenerationParams, load_generator
from lingualift.inference.perplexity import nll
from lingualift.inference.prompts import get_template
from lingualift.metrics.significance import corpus_test, describe, ppl_test

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
FLORES = DATA / "flores200"


def train_step_seconds(model_spec: str, steps: int, autocast: bool) -> float:
    """Mean seconds of a full-fine-tuning step after one warm-up step."""
    model, _ = models.load(model_spec, "fp32")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(0, model.config.vocab_size, (2, 256), generator=torch.Generator().manual_seed(0))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--ppl-lines", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args()
    if not (FLORES / "eng_Latn.dev").is_file():
        sys.exit(f"needs FLORES-200 dev at {FLORES} (set LINGUALIFT_SHARED_DATA)")
    english, swahili = (read_lines(FLORES / f"{code}.dev")[800:] for code in ("eng_Latn", "swh_Latn"))
    print(f"model={args.model} threads={torch.get_num_threads()} cpu={torch.backends.cpu.get_cpu_capability()}")

    rows = []
    fp32, bf16 = (train_step_seconds(args.model, args.steps, autocast) for autocast in (False, True))
    rows.append(("training step, 2 x 256 tokens", fp32, bf16))

    hyps, seconds = {}, {}
    params = GenerationParams(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    for dtype in ("fp32", "bf16"):
        gen = load_generator(args.model, engine="hf", dtype=dtype)
        template = get_template("chat", gen.tokenizer)
        prompts = [template.render(line, "eng_Latn", "swh_Latn", []) for line in english[:args.lines]]
        gen.generate(prompts[:2], params)  # warm-up
        start = time.perf_counter()
        hyps[dtype] = gen.generate(prompts, params)
        seconds[dtype] = time.perf_counter() - start
    rows.append((f"translate {args.lines} lines eng->swh", seconds["fp32"], seconds["bf16"]))
    chrf = corpus_test("chrf++", hyps["fp32"], hyps["bf16"], swahili[:args.lines], "swh_Latn")

    ppl = {}
    for code, lines in (("swh_Latn", swahili[:args.ppl_lines]), ("eng_Latn", english[:args.ppl_lines])):
        scored, took = {}, {}
        for dtype in ("fp32", "bf16"):
            model, tokenizer = models.load(args.model, dtype)
            start = time.perf_counter()
            scored[dtype] = nll(model, tokenizer, lines, per_line=True)
            took[dtype] = time.perf_counter() - start
        rows.append((f"perplexity {len(lines)} lines {code}", took["fp32"], took["bf16"]))
        ppl[code] = ppl_test(scored["fp32"]["line_nll"], scored["bf16"]["line_nll"], scored["fp32"]["line_chars"])

    print(f"| {'work':<32} | {'fp32 s':>8} | {'bf16 s':>8} | {'speed-up':>8} |")
    print(f"|{'-' * 34}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, a, b in rows:
        print(f"| {name:<32} | {a:8.2f} | {b:8.2f} | {a / b:7.2f}x |")
    print("quality, bf16 against fp32 (delta [95% CI] p):")
    print(f"  chrF++ eng->swh: {chrf.baseline:.2f} -> {chrf.system:.2f}  {describe(chrf.as_dict())}  {chrf.signature}")
    for code, test in ppl.items():
        print(f"  per-char perplexity {code}: {test.baseline:.3f} -> {test.system:.3f}  {describe(test.as_dict())}  "
              f"{test.signature}")


if __name__ == "__main__":
    main()

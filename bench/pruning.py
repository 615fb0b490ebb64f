"""Greedy generation with finished rows leaving the batch against transformers' `generate`
keeping them until the batch's longest row ends; same model, same lines, same batches.

    python bench/pruning.py [--model smollm2-135m] [--lines 48] [--batch-size 16] [--max-new-tokens 96]

FLORES dev English lines 800- into Swahili with the model's chat template and the newline
stop, as the demo evaluates. Prints seconds and new tokens/s of both and the speed-up, and
checks the outputs are identical (greedy decoding is per row).
"""

import argparse
import os
import sys
import time
from pathlib import Path

from lingualift.core.io import read_lines
from lingualift.inference import generate
from lingualift.inference.generate import GenerationParams, load_generator
from lingualift.inference.prompts import get_template

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--lines", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args()
    source = DATA / "flores200" / "eng_Latn.dev"
    if not source.is_file():
        sys.exit(f"needs FLORES-200 dev at {source} (set LINGUALIFT_SHARED_DATA)")
    gen = load_generator(args.model, engine="hf")
    template = get_template("chat", gen.tokenizer)
    prompts = [template.render(line, "eng_Latn", "swh_Latn", []) for line in read_lines(source)[800:800 + args.lines]]
    params = GenerationParams(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    gen.generate(prompts[:2], params)  # warm-up

    rows, outputs = [], {}
    keep_every = generate.PRUNE_EVERY
    for name, every in (("finished rows leave", keep_every), ("transformers generate", args.max_new_tokens)):
        generate.PRUNE_EVERY = every  # one round of max_new_tokens: a plain `generate` per batch
        before = gen.stats.new_tokens
        start = time.perf_counter()
        outputs[name] = gen.generate(prompts, params)
        seconds = time.perf_counter() - start
        rows.append((name, seconds, (gen.stats.new_tokens - before) / seconds))
    generate.PRUNE_EVERY = keep_every
    same = outputs["finished rows leave"] == outputs["transformers generate"]
    print(f"model={args.model} lines={len(prompts)} batch_size={args.batch_size} "
          f"max_new_tokens={args.max_new_tokens} prune_every={keep_every} identical_outputs={same}")
    print(f"| {'mode':<22} | {'seconds':>8} | {'new tokens/s':>12} |")
    print(f"|{'-' * 24}|{'-' * 10}|{'-' * 14}|")
    for name, seconds, tps in rows:
        print(f"| {name:<22} | {seconds:8.1f} | {tps:12.1f} |")
    print(f"speed-up (finished rows leave / transformers generate): {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()

"""Batched, length-sorted generation against one sentence at a time, same model, same lines.

    python bench/generation.py [--model tiny] [--lines 64] [--max-new-tokens 128] [--batch-size 16]

128 new tokens is about one FLORES sentence for the byte-level tiny model.
Prints lines/s and tokens/s for both engines' settings and the speed-up. Outputs are
checked to be identical (greedy decoding), so the speed-up costs nothing in quality.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from lingualift.core.io import read_lines
from lingualift.inference.generate import GenerationParams, load_generator
from lingualift.inference.prompts import get_template

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--lines", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    source = DATA / "flores200" / "eng_Latn.dev"
    if not source.is_file():
        sys.exit(f"needs FLORES-200 dev at {source} (set LINGUALIFT_SHARED_DATA)")
    template = get_template("llamax-alpaca")
    prompts = [template.render(line, "eng_Latn", "swh_Latn", []) for line in read_lines(source)[: args.lines]]
    gen = load_generator(args.model, engine="hf")
    # No stop string: every row generates max_new_tokens, so both runs do the same work.
    params = dict(max_new_tokens=args.max_new_tokens, stop=())
    gen.generate(prompts[:2], GenerationParams(batch_size=2, **params))  # warm-up

    rows = []
    outputs = {}
    for name, batch in (("batched, length-sorted", args.batch_size), ("one at a time", 1)):
        before = gen.stats.new_tokens
        start = time.perf_counter()
        outputs[name] = gen.generate(prompts, GenerationParams(batch_size=batch, **params))
        seconds = time.perf_counter() - start
        rows.append((name, len(prompts) / seconds, (gen.stats.new_tokens - before) / seconds, seconds))
    print(f"model={args.model} lines={len(prompts)} max_new_tokens={args.max_new_tokens} "
          f"batch_size={args.batch_size} identical_outputs={outputs['batched, length-sorted'] == outputs['one at a time']}")
    print(f"| {'mode':<24} | {'lines/s':>8} | {'tokens/s':>9} | {'seconds':>8} |")
    print(f"|{'-' * 26}|{'-' * 10}|{'-' * 11}|{'-' * 10}|")
    for name, lps, tps, secs in rows:
        print(f"| {name:<24} | {lps:8.2f} | {tps:9.1f} | {secs:8.2f} |")
    print(f"speed-up (batched / one at a time): {rows[0][1] / rows[1][1]:.1f}x")


if __name__ == "__main__":
    main()

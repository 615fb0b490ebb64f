"""Synthetic pairs per second: `data synth`'s batched, length-sorted generation against one sentence at a time.

    python bench/synth.py [--model smollm2-135m] [--lines 48] [--max-new-tokens 64]

Back-translation of FLORES dev Swahili lines 900+ into English with the same model, template
and greedy decoding; both paths go through the same generator, so the outputs are the same
and only the batching differs. Prints pairs/s of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--lines", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    from lingualift.core.io import read_lines
    from lingualift.data.synth import SynthConfig
    from lingualift.data.synth_run import run

    lines = read_lines(DATA / "flores200" / "swh_Latn.dev")[900:900 + args.lines]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "sw.txt"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        rows = []
        for name, batch in (("batched, length-sorted", args.batch_size), ("one at a time", 1)):
            cfg = SynthConfig(sources=[{"type": "text", "path": str(corpus), "lang": "swh_Latn"}], lang="swh_Latn",
                              into="eng_Latn", template="chat", max_new_tokens=args.max_new_tokens, batch_size=batch,
                              chunk=args.lines, engine="hf")
            started = time.perf_counter()
            manifest = run(cfg, model=args.model, out=Path(tmp) / f"{batch}.jsonl", log=lambda m: None)
            seconds = time.perf_counter() - started
            rows.append((name, manifest["texts"] / seconds, seconds, manifest["pairs"]))
    print(f"{args.model}, {args.lines} FLORES Swahili lines -> English, {args.max_new_tokens} new tokens at most, "
          "2-core CPU")
    print("| generation | texts/s | seconds | pairs kept |")
    print("|---|---|---|---|")
    for name, rate, seconds, kept in rows:
        print(f"| {name} | {rate:.2f} | {seconds:.1f} | {kept} |")
    print(f"texts/s, batched / one at a time: {rows[0][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()

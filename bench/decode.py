"""What each decoding strategy costs: lines/s of greedy, beam 4, N samples and MBR-N, same model and lines.

    python bench/decode.py [--model smollm2-135m] [--lines 32] [--n 8] [--max-new-tokens 64]

English -> Swahili FLORES dev lines 900+ (held out from every demo stage), chat template when the
model has one. MBR-N includes generating its N samples (epsilon 0.02) and choosing among them
by sentence chrF++; the chrF++ column shows what each strategy's outputs score.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--lines", type=int, default=32)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    import sacrebleu

    from lingualift.core.io import read_lines
    from lingualift.inference.generate import GenerationParams, load_generator
    from lingualift.inference.prompts import get_template
    from lingualift.quality import decoding

    src = read_lines(DATA / "flores200" / "eng_Latn.dev")[900:900 + args.lines]
    ref = read_lines(DATA / "flores200" / "swh_Latn.dev")[900:900 + args.lines]
    gen = load_generator(args.model, engine="hf")
    template = get_template("chat" if gen.tokenizer.chat_template else "llamax-alpaca", gen.tokenizer)
    prompts = [template.render(t, "eng_Latn", "swh_Latn", []) for t in src]
    base = GenerationParams(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, stop=template.stop)
    modes = {
        "greedy": base,
        "beam 4": replace(base, num_beams=4, batch_size=max(args.batch_size // 4, 1)),
        f"sample x{args.n} (all kept)": replace(base, do_sample=True, epsilon=0.02),
        f"mbr {args.n} (chrF++)": replace(base, do_sample=True, epsilon=0.02, decoding="mbr", candidates=args.n),
    }
    print(f"{args.model}, {args.lines} FLORES lines eng->swh, {args.max_new_tokens} new tokens at most, 2-core CPU")
    print("| strategy | lines/s | seconds | chrF++ |")
    print("|---|---|---|---|")
    for name, params in modes.items():
        started = time.perf_counter()
        if name.startswith("sample"):
            outs = [row[0] for row in gen.candidates(prompts, params, args.n)]
            hyps = [template.extract(o, "swh_Latn") for o in outs]
        else:
            hyps, _ = decoding.translate(gen, prompts, src, "eng_Latn", "swh_Latn", params,
                                         lambda o: template.extract(o, "swh_Latn"))
        seconds = time.perf_counter() - started
        chrf = sacrebleu.corpus_chrf(hyps, [ref], word_order=2).score
        print(f"| {name} | {len(src) / seconds:.2f} | {seconds:.1f} | {chrf:.2f} |")


if __name__ == "__main__":
    main()

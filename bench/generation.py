"""Generation speed: `eval translate`'s engine against the loops users start from, same model, same lines.

    python bench/generation.py [--model tiny] [--lines 64] [--max-new-tokens 128] [--batch-size 16]
    python bench/generation.py --llamax [--model smollm2-135m] [--lines 64] [--max-new-tokens 96] [--engines hf,ct2,ct2:int8]
    python bench/generation.py --profile [--model smollm2-135m] [--lines 32] [--max-new-tokens 96]

Default: batched, length-sorted generation against one sentence at a time (128 new tokens is
about one FLORES sentence for the byte-level tiny model; no stop string, so both do the same
work; outputs checked identical).

--llamax: against LLaMAX's own evaluation style (HF `generate` over the file in order, batches
of 8, left padding, the Alpaca prompt, the text after "### Response:" kept whole), at greedy
and at beam 4, on FLORES dev eng->deu lines 900+ (held out from every demo stage). Ours is the
same model object through `eval translate`'s generator (length-sorted batches of
--batch-size, finished rows leaving the batch, generation stopping at the first newline), on
each of --engines (engine[:dtype]; ct2: CTranslate2, `pip install 'lingualift[ct2]'`, whose
ct2:int8 runs 8-bit weights). Prints lines/s of each, the ratio to the LLaMAX-style loop,
chrF++ (sacrebleu) of the text as each returns it and of its first line only (what ours
returns), so that a chrF++ difference that is only the lines past the first shows as such,
and the paired-bootstrap 95% interval of each row's chrF++ minus the LLaMAX-style loop's.

--profile: where `eval translate`'s hf engine spends its time on the --llamax work, at beam 4
and greedy: the prompts' forward pass (prefill, and the share of its positions that are
padding), the decoding steps' forward passes (and of those the LM head), the stop-string
checks, and the rest of `generate` (beam bookkeeping, cache reordering, logits processing).
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
LLAMAX_BATCH = 8  # LLaMAX's evaluation scripts' batch size


def llamax_loop(gen, prompts: list[str], beams: int, max_new_tokens: int) -> list[str]:
    """LLaMAX's evaluation as users copy it: file order, fixed batches, generate, split on the response marker."""
    import torch

    tok, model = gen.tokenizer, gen.model
    tok.padding_side = "left"
    outputs = []
    for start in range(0, len(prompts), LLAMAX_BATCH):
        batch = tok(prompts[start:start + LLAMAX_BATCH], return_tensors="pt", padding=True)
        with torch.inference_mode():
            ids = model.generate(**batch, num_beams=beams, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
        for text in tok.batch_decode(ids, skip_special_tokens=True):
            outputs.append(text.split("### Response:")[-1].strip())
    return outputs


def deu_prompts(args):
    """(template, prompts, references): FLORES dev eng->deu lines 900+ in LLaMAX's Alpaca prompt."""
    src, ref = (DATA / "flores200" / f"{c}.dev" for c in ("eng_Latn", "deu_Latn"))
    if not src.is_file():
        sys.exit(f"needs FLORES-200 dev at {src} (set LINGUALIFT_SHARED_DATA)")
    lines, refs = (read_lines(p)[900:900 + args.lines] for p in (src, ref))
    template = get_template("llamax-alpaca")
    return template, [template.render(line, "eng_Latn", "deu_Latn", []) for line in lines], refs


def compare_llamax(args) -> None:
    import sacrebleu

    from lingualift.metrics.significance import corpus_test, describe

    template, prompts, refs = deu_prompts(args)
    engines = {name: load_generator(args.model, *name.split(":")) for name in args.engines.split(",")}
    hf = engines["hf"] if "hf" in engines else load_generator(args.model, engine="hf")  # the LLaMAX loop's model
    for gen in [*engines.values()] + ([] if "hf" in engines else [hf]):
        gen.generate(prompts[:2], GenerationParams(batch_size=2, max_new_tokens=4))  # warm-up
    print(f"model={args.model} lines={len(prompts)} eng_Latn->deu_Latn (FLORES dev 900+) "
          f"max_new_tokens={args.max_new_tokens} llamax batch={LLAMAX_BATCH} ours batch={args.batch_size}")
    print("| decoding | loop | lines/s | seconds | chrF++ | chrF++ first line | ratio | chrF++ against LLaMAX-style |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for beams in (4, 1):
        decoding = "greedy" if beams == 1 else f"beam {beams}"
        start = time.perf_counter()
        theirs = llamax_loop(hf, prompts, beams, args.max_new_tokens)
        timed = {"LLaMAX-style (hf)": (time.perf_counter() - start, theirs)}
        params = GenerationParams(batch_size=args.batch_size, num_beams=beams, max_new_tokens=args.max_new_tokens,
                                  stop=template.stop)
        for name, gen in engines.items():
            start = time.perf_counter()
            ours = [template.extract(o, "deu_Latn") for o in gen.generate(prompts, params)]
            timed[f"lingualift ({name})"] = (time.perf_counter() - start, ours)
        baseline = timed["LLaMAX-style (hf)"][0]
        for name, (seconds, hyps) in timed.items():
            chrf = sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score
            first = sacrebleu.corpus_chrf([h.split("\n")[0].strip() for h in hyps], [refs], word_order=2).score
            # paired bootstrap (sacrebleu's, 1000 resamples) of this row's text against the LLaMAX-style text
            paired = "" if hyps is theirs else describe(corpus_test("chrf++", theirs, hyps, refs, "deu_Latn").as_dict())
            print(f"| {decoding} | {name} | {len(prompts) / seconds:.2f} | {seconds:.1f} | {chrf:.2f} | {first:.2f} "
                  f"| {baseline / seconds:.2f}x | {paired} |")


def profile(args) -> None:
    from collections import Counter

    from lingualift.inference import stopping

    template, prompts, _ = deu_prompts(args)
    gen = load_generator(args.model, engine="hf")
    spent, began = Counter(), {}

    def timed(part: str, module) -> None:
        def before(mod, a, kw):
            if part == "model":
                ids = kw.get("input_ids", a[0] if a else None)
                began["kind"] = "prefill" if ids.shape[1] > 1 else "decoding steps"
            began[part] = time.perf_counter()

        def after(mod, a, kw, out):
            kind = began["kind"] + (" lm head" if part == "lm head" else "")
            spent[kind] += time.perf_counter() - began[part]
            if kind == "prefill" and kw.get("attention_mask") is not None:
                spent["prefill positions"] += kw["attention_mask"].numel()
                spent["prefill pads"] += int((kw["attention_mask"] == 0).sum())
        module.register_forward_pre_hook(before, with_kwargs=True)
        module.register_forward_hook(after, with_kwargs=True)

    timed("model", gen.model)
    timed("lm head", gen.model.lm_head)
    ends = stopping.StopCheck.ends

    def checked(self, new):
        start = time.perf_counter()
        try:
            return ends(self, new)
        finally:
            spent["stop checks"] += time.perf_counter() - start
    stopping.StopCheck.ends = checked
    gen.generate(prompts[:2], GenerationParams(batch_size=2, max_new_tokens=4))  # warm-up
    print(f"model={args.model} lines={len(prompts)} eng_Latn->deu_Latn (FLORES dev 900+) "
          f"max_new_tokens={args.max_new_tokens} batch={args.batch_size}, hf engine")
    print("| decoding | part | seconds | share |")
    print("| --- | --- | ---: | ---: |")
    for beams in (4, 1):
        spent.clear()
        start = time.perf_counter()
        gen.generate(prompts, GenerationParams(batch_size=args.batch_size, num_beams=beams,
                                               max_new_tokens=args.max_new_tokens, stop=template.stop))
        total = time.perf_counter() - start
        parts = {"prefill": spent["prefill"], "decoding steps (LM head)": spent["decoding steps lm head"],
                 "decoding steps (the rest of the model)": spent["decoding steps"] - spent["decoding steps lm head"],
                 "stop-string checks": spent["stop checks"]}
        parts["rest of generate"] = total - sum(parts.values())
        decoding = "greedy" if beams == 1 else f"beam {beams}"
        for name, seconds in parts.items():
            print(f"| {decoding} | {name} | {seconds:.1f} | {100 * seconds / total:.0f}% |")
        print(f"| {decoding} | total ({100 * spent['prefill pads'] / max(spent['prefill positions'], 1):.0f}% of "
              f"prefill positions padding) | {total:.1f} | |")


def compare_batching(args) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llamax", action="store_true", help="against LLaMAX's evaluation loop (see above)")
    parser.add_argument("--profile", action="store_true", help="where our hf engine's time goes (see above)")
    parser.add_argument("--model", default=None, help="default: tiny; smollm2-135m with --llamax")
    parser.add_argument("--lines", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: 128; 96 with --llamax")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--engines", default="hf",
                        help="with --llamax: our engines to run, comma-separated engine[:dtype] (hf,ct2,ct2:int8)")
    args = parser.parse_args()
    real = args.llamax or args.profile
    args.model = args.model or ("smollm2-135m" if real else "tiny")
    args.max_new_tokens = args.max_new_tokens or (96 if real else 128)
    (profile if args.profile else compare_llamax if args.llamax else compare_batching)(args)


if __name__ == "__main__":
    main()

"""Generation speed: `eval translate`'s engine against the loops users start from, same model, same lines.

    python bench/generation.py [--model tiny] [--lines 64] [--max-new-tokens 128] [--batch-size 16]
    python bench/generation.py --llamax [--model smollm2-135m] [--lines 64] [--max-new-tokens 96]
        [--engines hf,ct2,ct2:int8] [--repeats 1]
    python bench/generation.py --profile [--model smollm2-135m] [--lines 32] [--max-new-tokens 96]

Default: batched, length-sorted generation against one sentence at a time (128 new tokens is
about one FLORES sentence for the byte-level tiny model; no stop string, so both do the same
work; outputs checked identical).

--llamax: against LLaMAX's own evaluation (HF `generate` over the file in order, batches of
8, left padding, the Alpaca prompt), at greedy and at beam 4, on FLORES dev eng->deu lines
900+ (held out from every demo stage). Its text is scored as LLaMAX's scripts score it (their
`get_translation_from_hyp`: the answer after "### Response:" up to the next "###" header or
colon, lines joined; `llamax_scored`), and also whole (their `post_process`: everything after
"### Response:", which small models fill with repeats under Output/Explanation headers that
chrF++'s recall rewards). Ours is the same model object through `eval translate`'s generator
(length-sorted batches of --batch-size, finished rows leaving the batch, generation stopping
at the first newline), on each of --engines (engine[:dtype]; ct2: CTranslate2, `pip install
'lingualift[ct2]'`, whose ct2:int8 runs 8-bit weights). Prints lines/s of each, the ratio to
the LLaMAX-style loop, chrF++ (sacrebleu) and the paired-bootstrap 95% interval of each row's
chrF++ minus the LLaMAX-style loop's, against its scored and its whole text. --repeats N times
each loop N times and keeps its fastest run.

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
    """LLaMAX's evaluation loop as users copy it: file order, fixed batches, `generate`; the
    decoded prompt + output of each line, as LLaMAX writes it to its output file."""
    import torch

    tok, model = gen.tokenizer, gen.model
    tok.padding_side = "left"
    outputs = []
    for start in range(0, len(prompts), LLAMAX_BATCH):
        batch = tok(prompts[start:start + LLAMAX_BATCH], return_tensors="pt", padding=True)
        with torch.inference_mode():
            ids = model.generate(**batch, num_beams=beams, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
        outputs += tok.batch_decode(ids, skip_special_tokens=True)
    return outputs


def llamax_scored(decoded: str, source: str) -> str:
    """The hypothesis LLaMAX scores (spBLEU and COMET) for one decoded output:
    `get_translation_from_hyp` in LLaMAX's scripts/inference/src/datasets/common.py. It reads
    the output file's lines stripped and joined with nothing between them, splits on "###",
    finds the "Input" section that holds the source, and keeps the next section's text between
    its first and second colon: the answer after "### Response:" up to the next "###" header
    (the Output/Explanation sections small models repeat) or the answer's first colon.
    Applied per output here; LLaMAX parses the whole file at once, split on the Alpaca
    preamble, which shifts every later line when a model repeats that preamble."""
    lines = decoded.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    parts = "".join(line.strip() for line in lines).split("###")
    hyp = ""
    for i, part in enumerate(parts):
        # LLaMAX also takes an Input whose sentence BLEU (spm) against the source passes 0.9 BLEU
        # points, which nearly any text does; the prompt's own Input always passes the prefix test
        # (a FLORES line starts with its own text), so this differs only where the answer is empty
        # and the model wrote an Input section of its own: compare_llamax counts those lines
        if part.startswith(" Input") and part != " Input" and source.startswith(part.split(":")[1].strip()):
            if i + 1 >= len(parts):
                break
            pieces = parts[i + 1].split(":")
            hyp = pieces[1].strip() if len(pieces) > 1 else ""
            if hyp:
                break
    return hyp


def llamax_whole(decoded: str) -> str:
    """LLaMAX's other output file (`post_process`): all the text after "### Response:", newlines
    as spaces (and, for their contrastive prompts, only what stands between <p> and </p>)."""
    text = decoded.split("### Response:")[1].strip().replace("\n", " ")
    return text.split("</p>")[0].split("<p>")[-1] if "</p>" in text else text


def fastest(repeats: int, run):
    """(seconds, output) of the fastest of `repeats` (at least 1) runs: the outputs are deterministic, and
    the fastest run is the one least slowed by whatever else the machine did meanwhile (on this
    shared 2-core VM one loop's time varied by 10% between runs)."""
    best = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        out = run()
        took = time.perf_counter() - start
        best = (took, out) if best is None or took < best[0] else best
    return best


def deu_prompts(args):
    """(template, prompts, sources, references): FLORES dev eng->deu lines 900+ in LLaMAX's Alpaca prompt."""
    src, ref = (DATA / "flores200" / f"{c}.dev" for c in ("eng_Latn", "deu_Latn"))
    if not src.is_file():
        sys.exit(f"needs FLORES-200 dev at {src} (set LINGUALIFT_SHARED_DATA)")
    lines, refs = (read_lines(p)[900:900 + args.lines] for p in (src, ref))
    template = get_template("llamax-alpaca")
    return template, [template.render(line, "eng_Latn", "deu_Latn", []) for line in lines], lines, refs


def compare_llamax(args) -> None:
    import sacrebleu

    from lingualift.metrics.significance import corpus_test, describe

    template, prompts, sources, refs = deu_prompts(args)
    engines = {name: load_generator(args.model, *name.split(":")) for name in args.engines.split(",")}
    hf = engines["hf"] if "hf" in engines else load_generator(args.model, engine="hf")  # the LLaMAX loop's model
    for gen in [*engines.values()] + ([] if "hf" in engines else [hf]):
        gen.generate(prompts[:2], GenerationParams(batch_size=2, max_new_tokens=4))  # warm-up
    print(f"model={args.model} lines={len(prompts)} eng_Latn->deu_Latn (FLORES dev 900+) "
          f"max_new_tokens={args.max_new_tokens} llamax batch={LLAMAX_BATCH} ours batch={args.batch_size} "
          f"fastest of {args.repeats}")
    print("| decoding | loop | lines/s | seconds | ratio | chrF++ | against LLaMAX-style | whole text | "
          "against LLaMAX-style whole text |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    notes = []
    for beams in (4, 1):
        decoding = "greedy" if beams == 1 else f"beam {beams}"
        seconds, decoded = fastest(args.repeats, lambda b=beams: llamax_loop(hf, prompts, b, args.max_new_tokens))
        scored = [llamax_scored(d, s) for d, s in zip(decoded, sources)]
        whole = [llamax_whole(d) for d in decoded]
        # where llamax_scored and LLaMAX's scorer can differ: an empty answer sends theirs on to
        # any "### Input" section the model wrote itself, taken when its sentence BLEU passes 0.9
        notes.append(f"{decoding}: {sum(not h for h in scored)} of {len(scored)} LLaMAX-style answers empty as scored, "
                     f"{sum(d.count('### Input') > 1 for d in decoded)} with an Input section the model wrote")
        rows = [("LLaMAX-style (hf)", seconds, scored, whole)]
        params = GenerationParams(batch_size=args.batch_size, num_beams=beams, max_new_tokens=args.max_new_tokens,
                                  stop=template.stop)
        for name, gen in engines.items():
            took, made = fastest(args.repeats, lambda g=gen, p=params: g.generate(prompts, p))
            ours = [template.extract(o, "deu_Latn") for o in made]
            rows.append((f"lingualift ({name})", took, ours, ours))
        for name, took, hyps, text in rows:
            chrf, chrf_whole = (sacrebleu.corpus_chrf(h, [refs], word_order=2).score for h in (hyps, text))
            # paired bootstrap (sacrebleu's, 1000 resamples) of this row's text against the LLaMAX-style texts
            paired = ["" if hyps is scored else describe(corpus_test("chrf++", base, hyps, refs, "deu_Latn").as_dict())
                      for base in (scored, whole)]
            print(f"| {decoding} | {name} | {len(prompts) / took:.2f} | {took:.1f} | {seconds / took:.2f}x "
                  f"| {chrf:.2f} | {paired[0]} | {chrf_whole:.2f} | {paired[1]} |")
    print("\n".join(notes))


def profile(args) -> None:
    from collections import Counter

    from lingualift.inference import stopping

    template, prompts, _, _ = deu_prompts(args)
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
    parser.add_argument("--repeats", type=int, default=1, help="with --llamax: time each loop N times, keep the fastest")
    parser.add_argument("--engines", default="hf",
                        help="with --llamax: our engines to run, comma-separated engine[:dtype] (hf,ct2,ct2:int8)")
    args = parser.parse_args()
    real = args.llamax or args.profile
    args.model = args.model or ("smollm2-135m" if real else "tiny")
    args.max_new_tokens = args.max_new_tokens or (96 if real else 128)
    (profile if args.profile else compare_llamax if args.llamax else compare_batching)(args)


if __name__ == "__main__":
    main()

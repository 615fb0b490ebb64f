"""fp32 linear layers on oneDNN against MKL: the GEMM lingualift's CPU inference runs on.

    python bench/gemm.py [--model smollm2-135m]
    python bench/gemm.py --generate [--model smollm2-135m] [--lines 64]

Default: each linear shape of the model, an `nn.Linear` timed through torch's own forward
(MKL's sgemm) and through oneDNN with its weight packed (`inference/onednn.py`), side by
side: GFLOP/s of each, the ratio and the largest relative difference of the outputs. Its
projections at 2048 rows (a batch of task scoring or prefill) and at 64 (one beam-4 decoding
step of 16 lines), its LM head at 64.

--generate: the hf engine on --lines FLORES dev eng->deu lines 900+ (LLaMAX's Alpaca prompt,
96 new tokens, batch 16) at beam 4 and greedy, with oneDNN and with LINGUALIFT_ONEDNN=0
(MKL): seconds, the ratio, and whether the outputs are identical line for line.
"""

import argparse
import os
import time
from contextlib import contextmanager, nullcontext


@contextmanager
def on_mkl():
    """lingualift's inference on torch's default GEMM within it (LINGUALIFT_ONEDNN=0)."""
    os.environ["LINGUALIFT_ONEDNN"] = "0"
    try:
        yield
    finally:
        del os.environ["LINGUALIFT_ONEDNN"]


def shapes(args) -> None:
    import torch

    from lingualift.inference import models
    from lingualift.inference.onednn import onednn_linear

    model, _ = models.load(args.model)
    c = model.config
    kv = c.num_key_value_heads * (c.hidden_size // c.num_attention_heads)
    layers = [("q/o projection", c.hidden_size, c.hidden_size), ("k/v projection", c.hidden_size, kv),
              ("MLP up/gate", c.hidden_size, c.intermediate_size), ("MLP down", c.intermediate_size, c.hidden_size),
              ("LM head", c.hidden_size, c.vocab_size)]
    print(f"{args.model}, fp32, {torch.get_num_threads()} threads")
    print("| layer | rows | MKL GFLOP/s | oneDNN GFLOP/s | ratio | max relative difference |")
    print("|---|---:|---:|---:|---:|---:|")
    torch.manual_seed(0)
    for name, k, n in layers:
        for rows in ((64,) if name == "LM head" else (2048, 64)):
            x, layer = torch.randn(rows, k), torch.nn.Linear(k, n, bias=False)
            timed = {}
            with torch.inference_mode():
                for backend in ("MKL", "oneDNN"):
                    with on_mkl() if backend == "MKL" else nullcontext(), onednn_linear(layer):
                        layer(x)  # warm-up (oneDNN packs the weight here, once, as inference does)
                        repeats = max(3, int(2e10 / (2 * rows * k * n)))  # about 20 GFLOP of work
                        start = time.perf_counter()
                        for _ in range(repeats):
                            out = layer(x)
                        timed[backend] = (2 * rows * k * n * repeats / (time.perf_counter() - start) / 1e9, out)
            (mkl, a), (dnn, b) = timed["MKL"], timed["oneDNN"]
            print(f"| {name} ({k} x {n}) | {rows} | {mkl:.0f} | {dnn:.0f} | {dnn / mkl:.2f}x "
                  f"| {float((a - b).abs().max() / a.abs().max()):.1e} |")


def generation(args) -> None:
    from generation import deu_prompts  # bench/generation.py, beside this script
    from lingualift.inference.generate import GenerationParams, load_generator

    template, prompts, _, _ = deu_prompts(args)
    gen = load_generator(args.model, engine="hf")
    gen.generate(prompts[:2], GenerationParams(batch_size=2, max_new_tokens=4))  # warm-up
    print(f"{args.model}, hf engine, {len(prompts)} FLORES dev eng->deu lines, 96 new tokens, batch 16")
    print("| decoding | MKL s | oneDNN s | ratio | outputs identical |")
    print("|---|---:|---:|---:|---|")
    for beams in (4, 1):
        params = GenerationParams(batch_size=16, num_beams=beams, max_new_tokens=96, stop=template.stop)
        with on_mkl():
            start = time.perf_counter()
            theirs = gen.generate(prompts, params)
            mkl = time.perf_counter() - start
        start = time.perf_counter()
        ours = gen.generate(prompts, params)
        dnn = time.perf_counter() - start
        same = sum(a == b for a, b in zip(theirs, ours))
        print(f"| {'greedy' if beams == 1 else f'beam {beams}'} | {mkl:.1f} | {dnn:.1f} | {mkl / dnn:.2f}x "
              f"| {same} of {len(ours)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--generate", action="store_true", help="the hf engine on FLORES lines, both GEMMs")
    parser.add_argument("--lines", type=int, default=64)
    args = parser.parse_args()
    (generation if args.generate else shapes)(args)


if __name__ == "__main__":
    main()

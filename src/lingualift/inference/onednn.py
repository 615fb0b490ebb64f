"""fp32 linear layers on oneDNN instead of MKL, for inference on CPUs.

torch runs an fp32 `nn.Linear` on CPUs through MKL's sgemm. MKL picks its code path by the
CPU's vendor, and on AMD CPUs it does not run its AVX-512 kernels; oneDNN (in torch's x86
builds) picks by instruction set. Within `onednn_linear(model)` the model's linear layers
call oneDNN's linear with their weights packed into its blocked layout. On this
project's 2-core AMD EPYC (AVX-512) a 2048 x 576 x 1536 fp32 linear runs at 196 GFLOP/s
through MKL and 470 through oneDNN, and SmolLM2-135M's 49k-vocabulary LM head at 64 rows at
129 against 389 (`python bench/gemm.py`, 2026-12-07). The arithmetic is the same fp32
multiply-adds in another order: outputs differ from MKL's by about 1e-6 relative, well inside
the 1e-4 that task log-likelihoods promise. Task scoring, perplexity and the hf engine's
generation run inside it. A summation order could in principle flip a near-tie between two
tokens; on 64 FLORES lines (SmolLM2-135M, eng->deu, beam 4 and greedy) the hf engine's
outputs on oneDNN equal its outputs on MKL line for line, at 1.81x and 2.27x the speed
(`python bench/gemm.py --generate`). On Intel CPUs, where MKL runs its own AVX-512 code, the
gain has not been measured; `LINGUALIFT_ONEDNN=0` turns the routing off. Training keeps
torch's own GEMM: oneDNN's linear has no backward.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# Packed copies are made for models whose linear weights take at most this much: a packed copy
# doubles their memory while it is kept, which a 1B-parameter fp32 model (4 GiB) can afford on
# the machines that run one on CPUs; past it the plain weights serve, a little slower
# (bench/gemm.py: packing added 1-6% GFLOP/s at 2048 rows, 6-20% at 64).
PACK_LIMIT_BYTES = 4 << 30


def enabled_for(model) -> bool:
    """Whether `onednn_linear(model)` routes anything: an fp32 model on the CPU, a torch built
    with oneDNN, and LINGUALIFT_ONEDNN not set to 0 (the comparison bench/gemm.py and
    bench/tasks.py run; a way back to MKL on CPUs where it is the faster)."""
    import torch

    param = next(model.parameters(), None)
    return (param is not None and param.device.type == "cpu" and param.dtype == torch.float32
            and torch.backends.mkldnn.is_available() and os.environ.get("LINGUALIFT_ONEDNN", "1") != "0")


def _forward(layer, packed: dict | None):
    """`layer`'s forward on oneDNN: fp32 on the CPU with no gradient to track (oneDNN's linear
    has no backward), else the layer's own. With `packed`, the weight is reordered once into
    oneDNN's blocked layout, kept there under the layer, and reused (bench/gemm.py) until the
    weight is replaced, moved to other storage or changed in place (its version moves; an
    in-place write through `.data` does not move it, nor one under inference mode)."""
    import torch
    from torch.multiprocessing.reductions import StorageWeakRef

    linear, own = torch.ops.mkldnn._linear_pointwise, layer.forward

    def forward(input):
        weight, bias = layer.weight, layer.bias
        tensors = [t for t in (input, weight, bias) if t is not None]
        if not (all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)
                and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))):
            return own(input)
        if packed is not None:
            # inference tensors keep no version; the storage too, since `module.to()` swaps `.data`
            # under the same Parameter without moving its version. A weak reference, not an
            # address: it keeps a freed storage's address from being reused by a new one.
            version = (None if weight.is_inference() else weight._version, StorageWeakRef(weight.untyped_storage()))
            hit = packed.get(layer)
            if hit is None or hit[0] is not weight or hit[1] != version:
                with torch.no_grad():
                    hit = packed[layer] = (weight, version, torch.ops.mkldnn._reorder_linear_weight(weight.detach()))
            weight = hit[2]
        # a strided bias gives wrong sums in oneDNN's kernel: made contiguous first
        return linear(input, weight, None if bias is None else bias.contiguous(), "none", [], "")

    return forward


@contextmanager
def onednn_linear(model, packed: dict | None = None) -> Iterator[None]:
    """Within it, the `nn.Linear` layers of an fp32 CPU `model` run on oneDNN; for a model on a
    GPU or in bf16 nothing changes. Only layers of exactly `nn.Linear` with a plain weight are
    routed (a subclass or a tensor-subclass weight, such as a quantised one, computes
    something else), and not those whose forward is already replaced (accelerate's hooks, or
    an enclosing `onednn_linear`). Each routed layer's forward is replaced on the instance, so
    every thread using the model sees it while the context lasts, and put back on exit:
    torch's other ops pay nothing, unlike a function mode, which every op of the model goes
    through. Packed weights go into `packed` (layer -> packed copy): a caller that keeps the
    dict, as a long-lived `Generator` does, packs once for all its calls; by default they last
    the context."""
    if not enabled_for(model):
        yield
        return
    import torch

    layers = [m for m in model.modules() if type(m) is torch.nn.Linear and "forward" not in vars(m)
              and type(m.weight) in (torch.Tensor, torch.nn.Parameter)]
    fits = sum(m.weight.numel() * m.weight.element_size() for m in layers) <= PACK_LIMIT_BYTES
    store = (packed if packed is not None else {}) if fits else None
    routed = {layer: _forward(layer, store) for layer in layers}
    for layer, forward in routed.items():
        layer.forward = forward
    try:
        yield
    finally:
        for layer, forward in routed.items():
            if vars(layer).get("forward") is forward:  # not another's, installed meanwhile
                del layer.forward

"""fp32 linear layers on oneDNN instead of MKL, for inference on CPUs.

torch runs an fp32 `F.linear` on CPUs through MKL's sgemm. MKL picks its code path by the
CPU's vendor, and on AMD CPUs it does not run its AVX-512 kernels; oneDNN (in torch's x86
builds) picks by instruction set. On this project's 2-core AMD EPYC (AVX-512) a 2048 x 576 x
1536 fp32 linear runs at 217 GFLOP/s through MKL and 462 through oneDNN, and SmolLM2-135M's
49k-vocabulary LM head at 126 against 326 (`python bench/gemm.py`, 2026-12-07). The
arithmetic is the same fp32 multiply-adds in another order: outputs differ from MKL's by
about 1e-6 relative, well inside the 1e-4 that task log-likelihoods promise. Task scoring,
perplexity and the hf engine's generation run inside `onednn_linear(model)`. A summation
order could in principle flip a near-tie between two tokens; on 64 FLORES lines
(SmolLM2-135M, eng->deu, beam 4 and greedy) the hf engine's outputs on oneDNN equal its
outputs on MKL line for line, at 1.47x and 1.59x the speed (`python bench/gemm.py
--generate`). On Intel CPUs, where MKL runs its own AVX-512 code, the gain has not been
measured; `LINGUALIFT_ONEDNN=0` turns the routing off. Training keeps torch's own GEMM:
oneDNN's linear has no backward.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache


@cache
def _mode():
    """The TorchFunctionMode class, made on first use: importing this module does not import torch."""
    import torch
    from torch.overrides import TorchFunctionMode

    def routable(x, weight, bias) -> bool:
        """fp32 on the CPU, a 2-D weight, and no gradient to track: oneDNN's linear has no backward."""
        tensors = [t for t in (x, weight, bias) if t is not None]
        return (all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors) and weight.dim() == 2
                and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)))

    class OneDnnLinear(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.nn.functional.linear:
                x = args[0] if args else kwargs["input"]
                weight = args[1] if len(args) > 1 else kwargs["weight"]
                bias = args[2] if len(args) > 2 else kwargs.get("bias")
                if routable(x, weight, bias):
                    # a strided bias gives wrong sums in oneDNN's kernel: made contiguous first
                    return torch.ops.mkldnn._linear_pointwise(
                        x, weight, None if bias is None else bias.contiguous(), "none", [], "")
            return func(*args, **kwargs)

    return OneDnnLinear


def enabled_for(model) -> bool:
    """Whether `onednn_linear(model)` routes anything: an fp32 model on the CPU, a torch built
    with oneDNN, and LINGUALIFT_ONEDNN not set to 0 (the comparison bench/gemm.py and
    bench/tasks.py run; a way back to MKL on CPUs where it is the faster)."""
    import torch

    param = next(model.parameters(), None)
    return (param is not None and param.device.type == "cpu" and param.dtype == torch.float32
            and torch.backends.mkldnn.is_available() and os.environ.get("LINGUALIFT_ONEDNN", "1") != "0")


@contextmanager
def onednn_linear(model) -> Iterator[None]:
    """Within it, the fp32 CPU `F.linear` calls (every `nn.Linear`) of an fp32 CPU `model` run
    on oneDNN; for a model on a GPU or in bf16 nothing changes, and torch's ops pay no mode."""
    if not enabled_for(model):
        yield
        return
    with _mode()():
        yield

"""fp32 linear layers on oneDNN instead of MKL, for inference on CPUs.

torch runs an fp32 `F.linear` on CPUs through MKL's sgemm. MKL picks its code path by the
CPU's vendor, and on AMD CPUs it does not run its AVX-512 kernels; oneDNN (also inside every
torch CPU build) picks by instruction set. On this project's 2-core AMD EPYC (AVX-512) a
2048 x 576 x 1536 fp32 linear runs at 198 GFLOP/s through MKL and 463 through oneDNN, and
SmolLM2-135M's 49k-vocabulary LM head at 96 against 304 (`python bench/tasks.py` times task
scoring on both). The arithmetic is the same fp32 multiply-adds in
another order: outputs differ from MKL's by about 1e-6 relative, well inside the 1e-4 that
task log-likelihoods promise. Task scoring, perplexity and the hf engine's generation run
inside `onednn_linear()`. A summation order could in principle flip a near-tie between two
tokens; on 64 FLORES lines (SmolLM2-135M, eng->deu, beam 4 and greedy) the hf engine's
outputs on oneDNN equal its outputs on MKL line for line, in 58.1 s against 84.8 s at beam 4
and 21.9 s against 35.4 s greedy. Training keeps torch's own GEMM: oneDNN's linear has no
backward.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cache


def _routable(x, weight) -> bool:
    """fp32 on the CPU with no gradient to track: oneDNN's linear has no backward."""
    import torch

    return (x.dtype == torch.float32 and weight.dtype == torch.float32 and x.device.type == "cpu"
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)))


@cache
def _mode():
    """The TorchFunctionMode class, made on first use: importing this module does not import torch."""
    import torch
    from torch.overrides import TorchFunctionMode

    class OneDnnLinear(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.nn.functional.linear:
                x, weight = args[0], args[1] if len(args) > 1 else kwargs["weight"]
                bias = args[2] if len(args) > 2 else kwargs.get("bias")
                if _routable(x, weight):
                    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
            return func(*args, **kwargs)

    return OneDnnLinear


@contextmanager
def onednn_linear(enabled: bool = True):
    """Within it, fp32 CPU `F.linear` calls (every `nn.Linear`) run on oneDNN; anything else,
    and everything where torch was built without oneDNN, runs as before."""
    import torch

    if not (enabled and torch.backends.mkldnn.is_available()):
        yield
        return
    with _mode()():
        yield

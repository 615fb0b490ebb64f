"""fp32 linear layers on oneDNN (inference/onednn.py): the same numbers as torch's default
GEMM to float rounding, only where no gradient is tracked, only for fp32 CPU models, and
LINGUALIFT_ONEDNN=0 turns it off."""

import pytest
import torch

from lingualift.inference.onednn import enabled_for, onednn_linear

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")
ONEDNN = "mkldnn::_linear_pointwise"


def _ops(run) -> set[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    return {event.key for event in prof.key_averages()}


def test_fp32_linear_runs_on_onednn_with_the_same_numbers():
    torch.manual_seed(0)
    layer = torch.nn.Linear(576, 1536)
    x = torch.randn(3, 40, 576)
    with torch.inference_mode():
        plain = layer(x)
        with onednn_linear(layer):
            fast = layer(x)
            assert ONEDNN in _ops(lambda: layer(x))
            # keyword arguments and a strided bias (which oneDNN's kernel sums wrongly unless made contiguous)
            strided = torch.randn(1536, 2)[:, 0]
            torch.testing.assert_close(torch.nn.functional.linear(input=x, weight=layer.weight, bias=strided),
                                       x @ layer.weight.T + strided, rtol=1e-5, atol=1e-4)
        assert ONEDNN not in _ops(lambda: layer(x))  # only inside the context
    assert fast.shape == plain.shape and fast.dtype == torch.float32
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


def test_what_it_leaves_to_torch(monkeypatch):
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    x = torch.randn(5, 64)
    with onednn_linear(layer):
        # a gradient to track, the bias's alone too: oneDNN's linear has none, so torch's runs
        layer.weight.requires_grad_(False)
        assert ONEDNN not in _ops(lambda: layer(x).sum().backward())
        assert layer.bias.grad is not None
    half = torch.nn.Linear(64, 32).to(torch.bfloat16)
    assert not enabled_for(half)  # a bf16 (or GPU) model: no mode at all
    with torch.no_grad(), onednn_linear(half):
        assert ONEDNN not in _ops(lambda: half(x.to(torch.bfloat16)))
    monkeypatch.setenv("LINGUALIFT_ONEDNN", "0")
    assert not enabled_for(layer)
    with torch.no_grad(), onednn_linear(layer):
        assert ONEDNN not in _ops(lambda: layer(x))

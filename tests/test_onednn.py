"""fp32 linear layers on oneDNN (inference/onednn.py): the same numbers as torch's default
GEMM to float rounding, only where no gradient is tracked, and only for fp32 on the CPU."""

import pytest
import torch

from lingualift.inference.onednn import onednn_linear

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")


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
        with onednn_linear():
            fast = layer(x)
            assert "mkldnn::_linear_pointwise" in _ops(lambda: layer(x))
        assert "mkldnn::_linear_pointwise" not in _ops(lambda: layer(x))  # only inside the context
    assert fast.shape == plain.shape and fast.dtype == torch.float32
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


def test_what_it_leaves_to_torch():
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    x = torch.randn(5, 64)
    with onednn_linear():
        # a gradient to track: oneDNN's linear has none, so torch's own runs and backward works
        assert "mkldnn::_linear_pointwise" not in _ops(lambda: layer(x).sum().backward())
        assert layer.weight.grad is not None
        with torch.no_grad():
            half = layer.to(torch.bfloat16)
            assert "mkldnn::_linear_pointwise" not in _ops(lambda: half(x.to(torch.bfloat16)))
    with torch.no_grad(), onednn_linear(enabled=False):
        assert "mkldnn::_linear_pointwise" not in _ops(lambda: layer.float()(x))

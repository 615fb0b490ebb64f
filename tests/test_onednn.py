"""fp32 linear layers on oneDNN (inference/onednn.py): the same numbers as torch's default
GEMM to float rounding, weights packed once (kept across calls when the caller keeps them)
and packed again when they change, only where no gradient is tracked, only for fp32 CPU
models and plain nn.Linear layers, the layers' own forward back on exit, and
LINGUALIFT_ONEDNN=0 turns it off."""

import pytest
import torch

from lingualift.inference import onednn
from lingualift.inference.onednn import enabled_for, onednn_linear

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")
ONEDNN, PACK = "mkldnn::_linear_pointwise", "mkldnn::_reorder_linear_weight"


def _ops(run) -> set[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    return {event.key for event in prof.key_averages()}


def test_fp32_linear_runs_on_onednn_with_the_same_numbers():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(576, 1536), torch.nn.Linear(1536, 576, bias=False))
    x = torch.randn(3, 40, 576)
    with torch.inference_mode():
        plain = model(x)
        with onednn_linear(model):
            first = _ops(lambda: model(x))
            assert ONEDNN in first and PACK in first
            again = _ops(lambda: model(x))
            assert ONEDNN in again and PACK not in again  # packed once per context
            fast = model(x)
        assert ONEDNN not in _ops(lambda: model(x))  # only inside the context
    assert all("forward" not in vars(layer) for layer in model)  # their own forward is back
    assert fast.shape == plain.shape and fast.dtype == torch.float32
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


def test_a_changed_or_replaced_weight_is_packed_again():
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    x = torch.randn(5, 64)
    with torch.no_grad(), onednn_linear(layer):
        layer(x)
        layer.weight.mul_(2)  # in place: the version moves
        torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias)
        layer.weight = torch.nn.Parameter(torch.randn(32, 64))  # a new tensor
        torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias)
        # a strided bias, which oneDNN's kernel sums wrongly unless made contiguous
        layer.bias = torch.nn.Parameter(torch.randn(32, 2)[:, 0])
        torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias, rtol=1e-5, atol=1e-4)


def test_packed_weights_kept_across_contexts_and_nesting():
    """A caller's dict keeps packed copies for later contexts (a long-lived Generator); an
    enclosing context's routing stays in place, and a forward installed meanwhile is not
    removed; weights made under inference_mode (no version counter) are packed too, and a
    weight moved to new storage by `module.to()` is packed again."""
    with torch.inference_mode():
        layer = torch.nn.Linear(64, 32)
        x = torch.randn(5, 64)
        kept: dict = {}
        with onednn_linear(layer, kept):
            assert PACK in _ops(lambda: layer(input=x))  # nn.Linear's own keyword
        assert list(kept) == [layer]
        with onednn_linear(layer, kept):
            with onednn_linear(layer):  # nested: the outer routing serves
                ops = _ops(lambda: layer(x))
            assert ONEDNN in ops and PACK not in ops and "forward" in vars(layer)
            torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias)
    moved = torch.nn.Linear(64, 32)
    with torch.no_grad():
        with onednn_linear(moved, kept):
            moved(x)
        moved.to(torch.bfloat16).to(torch.float32)  # new storage under the same Parameter, version unmoved
        with onednn_linear(moved, kept):
            torch.testing.assert_close(moved(x), x @ moved.weight.T + moved.bias)
    other = torch.nn.Linear(8, 4)
    with onednn_linear(other):
        other.forward = mine = lambda x: x  # someone else's, installed inside the context
    assert vars(other)["forward"] is mine


def test_without_packing_past_the_limit(monkeypatch):
    monkeypatch.setattr(onednn, "PACK_LIMIT_BYTES", 0)
    layer = torch.nn.Linear(64, 32)
    with torch.no_grad(), onednn_linear(layer):
        ops = _ops(lambda: layer(torch.randn(5, 64)))
    assert ONEDNN in ops and PACK not in ops


def test_what_it_leaves_to_torch(monkeypatch):
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    x = torch.randn(5, 64)
    with onednn_linear(layer):
        # a gradient to track, the bias's alone too: oneDNN's linear has none, so torch's runs
        layer.weight.requires_grad_(False)
        assert ONEDNN not in _ops(lambda: layer(x).sum().backward())
        assert layer.bias.grad is not None

    class Scaled(torch.nn.Linear):  # a subclass computes something else: left alone
        def forward(self, x):
            return 2 * super().forward(x)

    hooked = torch.nn.Linear(64, 32)
    hooked.forward = lambda x: torch.zeros(5, 32)  # a forward already replaced (accelerate's hooks)
    model = torch.nn.ModuleList([Scaled(64, 32), hooked])
    with torch.no_grad(), onednn_linear(model):
        assert ONEDNN not in _ops(lambda: [layer(x) for layer in model])
        assert torch.equal(hooked(x), torch.zeros(5, 32))
    half = torch.nn.Linear(64, 32).to(torch.bfloat16)
    assert not enabled_for(half)  # a bf16 (or GPU) model: nothing routed
    with torch.no_grad(), onednn_linear(half):
        assert ONEDNN not in _ops(lambda: half(x.to(torch.bfloat16)))
    monkeypatch.setenv("LINGUALIFT_ONEDNN", "0")
    assert not enabled_for(layer)
    with torch.no_grad(), onednn_linear(layer):
        assert ONEDNN not in _ops(lambda: layer(x))

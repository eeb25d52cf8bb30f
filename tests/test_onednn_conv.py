"""float32 convolutions through oneDNN (ndgrad/backend/onednn.py) against torch: forward, input, weight
and bias gradients, second order, non-contiguous inputs, inference; and the im2col path when disabled.

oneDNN comes from the optional ``onednn-cpu-gomp`` wheel (the test extra installs it); without it, or
where its library cannot load, these tests skip and ndgrad's own im2col path runs everywhere.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as NF
from ndgrad.backend import onednn
from oracle import check_higher_order, check_op

pytestmark = pytest.mark.skipif(not ndgrad.backends.mkldnn.is_available(),
                                reason="oneDNN is not installed (pip install onednn-cpu-gomp) or cannot load here")


@pytest.fixture
def calls(monkeypatch):
    """How many convolutions each oneDNN entry point actually ran (returned an array, not None)."""
    counts = {"conv_forward": 0, "conv_backward_data": 0, "conv_backward_weights": 0}
    for name in counts:
        real = getattr(onednn, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            out = _real(*args, **kwargs)
            counts[_name] += out is not None
            return out
        monkeypatch.setattr(onednn, name, spy)
    return counts


CASES = [
    ("conv2d", [(2, 3, 9, 8), (5, 3, 3, 3), (5,)], dict(padding=1)),
    ("conv2d", [(2, 4, 9, 9), (6, 4, 4, 4)], dict(stride=2, padding=1)),                  # no bias, floor
    ("conv2d", [(1, 3, 11, 10), (4, 3, 3, 2), (4,)], dict(stride=(2, 1), padding=(1, 0), dilation=(2, 3))),
    ("conv2d", [(2, 4, 7, 7), (6, 2, 3, 3), (6,)], dict(groups=2, padding="same")),
    ("conv2d", [(2, 4, 6, 6), (4, 1, 3, 3)], dict(groups=4, padding=1)),                   # depthwise
    ("conv2d", [(2, 3, 8, 6), (2, 3, 2, 2), (2,)], dict(padding="same", dilation=2)),      # uneven 'same'
    ("conv2d", [(2, 3, 5, 5), (4, 3, 1, 1), (4,)], {}),
    ("conv1d", [(3, 4, 12), (5, 4, 3), (5,)], dict(stride=2, padding=2)),
    ("conv3d", [(1, 2, 5, 4, 6), (3, 2, 2, 3, 2), (3,)], dict(stride=(1, 2, 1), padding=1)),
    ("conv_transpose2d", [(2, 3, 4, 5), (3, 2, 4, 4), (2,)], dict(stride=2, padding=1)),   # DCGAN's shape
    ("conv_transpose2d", [(2, 4, 3, 3), (4, 2, 3, 3), (4,)], dict(stride=2, groups=2, output_padding=1)),
    ("conv_transpose1d", [(2, 3, 6), (3, 2, 3), (2,)], dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("name,shapes,kw", CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
def test_matches_torch_in_float32(calls, name, shapes, kw, contiguous):
    check_op(shapes, lambda *a: getattr(TF, name)(*a, **kw), lambda *a: getattr(NF, name)(*a, **kw),
             dtype="float32", contiguous=contiguous)
    transposed = name.startswith("conv_transpose")
    assert calls["conv_backward_data" if transposed else "conv_forward"] >= 1
    assert calls["conv_backward_weights"] >= 1


def test_batch_last_input_and_inference(calls):
    """An input whose memory is (C, H, W, N) - what ndgrad's im2col path produces - and a no_grad
    forward (oneDNN's inference kind) give torch's values."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 9, 9), dtype=np.float32)
    w = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    batch_last = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    expected = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    with ndgrad.no_grad():
        got = NF.conv2d(ndgrad.from_numpy(batch_last), ndgrad.from_numpy(w), padding=1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert calls["conv_forward"] == 1


def test_second_order_through_onednn(calls):
    """grad of grad in float32: the backward nodes are convolutions again, and run on oneDNN too."""
    check_higher_order([(2, 3, 7, 7), (4, 3, 3, 3)], lambda *a: TF.conv2d(*a, stride=2, padding=1),
                       lambda *a: NF.conv2d(*a, stride=2, padding=1), dtype="float32")
    assert sum(calls.values()) > 3   # more than the first order's forward, input and weight gradients


def test_disabled_uses_im2col_with_the_same_results(calls, monkeypatch):
    rng = np.random.default_rng(1)
    x = ndgrad.from_numpy(rng.standard_normal((2, 3, 8, 8), dtype=np.float32)).requires_grad_(True)
    w = ndgrad.from_numpy(rng.standard_normal((4, 3, 3, 3), dtype=np.float32)).requires_grad_(True)
    NF.conv2d(x, w, padding=1).square().sum().backward()
    fast = [t.grad.numpy().copy() for t in (x, w)]
    assert calls["conv_forward"] == 1
    x.grad = w.grad = None
    monkeypatch.setattr(ndgrad.backends.mkldnn, "enabled", False)
    NF.conv2d(x, w, padding=1).square().sum().backward()
    assert calls == {"conv_forward": 1, "conv_backward_data": 1, "conv_backward_weights": 1}
    for a, b in zip(fast, (x.grad.numpy(), w.grad.numpy())):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_float64_and_empty_inputs_stay_on_im2col(calls):
    x64 = ndgrad.randn(2, 3, 5, 5, dtype=ndgrad.float64)
    NF.conv2d(x64, ndgrad.randn(4, 3, 3, 3, dtype=ndgrad.float64))
    empty = NF.conv2d(ndgrad.randn(0, 3, 5, 5), ndgrad.randn(4, 3, 3, 3))
    assert tuple(empty.shape) == (0, 4, 3, 3)
    assert calls["conv_forward"] == 0


def test_version_and_backend_switch_report_onednn():
    import re
    assert re.fullmatch(r"3\.\d+\.\d+", onednn.version())
    assert ndgrad.backends.mkldnn.is_available() and ndgrad.backends.mkldnn.enabled


def test_conv_layers_train_the_same_as_torch():
    """A small CNN's loss over a few SGD steps, both libraries from the same weights: oneDNN's float32
    rounding differs from torch's by little, and the losses agree to float32 tolerance."""
    def build(lib):
        lib.manual_seed(0)
        return lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3, padding=1), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
                                 lib.nn.Conv2d(4, 8, 3, stride=2), lib.nn.Flatten(), lib.nn.Linear(8 * 3 * 3, 3))
    theirs, ours = build(torch), build(ndgrad)
    ours.load_state_dict({k: ndgrad.from_numpy(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 1, 14, 14), dtype=np.float32)
    y = rng.integers(0, 3, 8)
    losses = []
    for lib, model in ((torch, theirs), (ndgrad, ours)):
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        run = []
        for _ in range(5):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    assert losses[1][-1] < losses[1][0]

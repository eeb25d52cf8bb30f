"""Devices and mixed precision on the CPU side: what a machine without a GPU tells the user."""
import numpy as np
import pytest

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
from ndgrad.backend import Device, get_device


def _has_cupy():
    try:
        import cupy  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.skipif(_has_cupy(), reason="checks the message shown where CuPy is missing")
@pytest.mark.parametrize("make", [lambda: ndgrad.zeros(2, device="cuda"), lambda: ndgrad.ones(2).to("cuda:1"),
                                  lambda: ndgrad.ones(2).cuda(), lambda: nn.Linear(2, 2).to("cuda")])
def test_cuda_without_cupy_says_how_to_install_it(make):
    with pytest.raises(RuntimeError, match=r"needs CuPy.*pip install ndgrad\[cuda\]"):
        make()
    assert ndgrad.cuda.is_available() is False and ndgrad.cuda.device_count() == 0


def test_device_parsing_and_errors():
    assert get_device(None) == "cpu" and get_device("cpu") == Device("cpu")
    assert str(Device("cpu")) == "cpu" and repr(Device("cpu")) == "device(type='cpu')"
    assert ndgrad.ones(2).device == "cpu"
    with pytest.raises(ValueError, match=r"unknown device type 'tpu'.*'cpu' and 'cuda'"):
        get_device("tpu")
    with pytest.raises(ValueError, match=r"invalid device string"):
        get_device("cuda:x")


def test_grad_scaler_scales_unscales_and_skips_non_finite_steps():
    w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    opt = ndgrad.optim.SGD([w], lr=0.1)
    scaler = ndgrad.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    loss = (w * w).sum()
    scaled = scaler.scale(loss)
    assert scaled.item() == pytest.approx(8.0 * loss.item())
    scaled.backward()
    scaler.step(opt)                       # unscaled gradient 2w: w -> w - 0.1 * 2w
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    scaler.update()
    opt.zero_grad()
    (w * float("inf")).sum().backward()    # an overflow: the step is skipped and the scale backs off
    scaler.step(opt)
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    scaler.update()
    assert scaler.get_scale() == 4.0
    for _ in range(2):                     # growth_interval clean steps double the scale again
        opt.zero_grad()
        scaler.scale((w * w).sum()).backward()
        scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 8.0


def test_autocast_runs_matmul_linear_and_conv_in_the_low_precision_dtype():
    layer = nn.Linear(4, 3)
    conv = nn.Conv2d(1, 2, 3)
    x = ndgrad.randn(2, 4)
    with ndgrad.autocast("cpu", dtype=ndgrad.float16):
        assert layer(x).dtype is ndgrad.float16
        assert (x @ layer.weight.T).dtype is ndgrad.float16
        assert conv(ndgrad.randn(1, 1, 5, 5)).dtype is ndgrad.float16
        assert (x + 1).dtype is ndgrad.float32        # other ops keep their inputs' dtype
    assert layer(x).dtype is ndgrad.float32             # and everything is back to normal outside
    with ndgrad.autocast("cpu", dtype=ndgrad.float16):
        loss = F.cross_entropy(layer(x).float(), ndgrad.tensor([0, 2]))
    loss.backward()
    assert layer.weight.grad.dtype is ndgrad.float32   # gradients arrive in the parameters' dtype

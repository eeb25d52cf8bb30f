"""ndgrad's optional cuDNN backend (ndgrad/backend/cudnn_frontend.py, cudnn_nodes.py).

Three layers: on the CPU, the loader fails cleanly, the flags and ``ndgrad info`` say what runs, and
CPU work is refused (today's paths keep their results); against a stand-in frontend and CuPy
(tests/cudnn_fake.py, which executes the graphs through the dims and strides they declare), the
wiring - layouts, 1-d/2-d/3-d geometry, groups, caching, refusal, counters, nodes and their
gradients - matches PyTorch; and on a GPU with cuDNN (``cuda`` tests), the real library matches PyTorch.
"""
import contextlib
import importlib.util
import io
import sys
import types
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cudnn_fake
import ndgrad
import ndgrad.backend.cuda as nd_cuda
import ndgrad.nn.functional as F
from ndgrad import cli
from ndgrad.backend import cudnn_frontend as fe
from ndgrad.backends import cudnn as cudnn_flags

rng = np.random.default_rng(0)


def _random(shape, dtype=np.float32):
    return rng.uniform(-1, 1, size=shape).astype(dtype)


# =============================================================================================
# the loader, on any machine
# =============================================================================================
@pytest.fixture
def fresh_loader(monkeypatch):
    """The loader as if nothing had been tried yet (restored afterwards)."""
    monkeypatch.setattr(fe, "_state", {"module": None, "reason": None, "tried": False})
    monkeypatch.setattr(fe, "_preload_libcudnn", lambda: None)
    return monkeypatch


def _spec_for_cudnn(monkeypatch, spec):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec if name == "cudnn" else real(name, *a))


def test_loader_without_the_frontend(fresh_loader):
    _spec_for_cudnn(fresh_loader, None)
    assert fe.available() is False and fe.version() is None and fe.version_string() is None
    assert "nvidia-cudnn-frontend is not installed" in fe.unavailable_reason()
    assert "ndgrad[cudnn]" in fe.unavailable_reason()
    assert cudnn_flags.is_available() is False and cudnn_flags.version() is None


def test_loader_when_the_frontend_fails_to_import(fresh_loader):
    _spec_for_cudnn(fresh_loader, object())
    fresh_loader.setitem(sys.modules, "cudnn", None)   # `import cudnn` raises ImportError
    assert fe.available() is False
    assert "failed to import" in fe._state["reason"]


def test_loader_without_libcudnn(fresh_loader):
    def backend_version():
        raise RuntimeError("Unable to find symbol cudnnGetVersion")
    _spec_for_cudnn(fresh_loader, object())
    fresh_loader.setitem(sys.modules, "cudnn", types.SimpleNamespace(backend_version=backend_version))
    assert fe.available() is False and fe.version() is None
    assert "libcudnn.so.9 could not be loaded" in fe._state["reason"]


def test_loader_with_a_working_library(fresh_loader):
    _spec_for_cudnn(fresh_loader, object())
    fresh_loader.setitem(sys.modules, "cudnn", types.SimpleNamespace(backend_version=lambda: 90100,
                                                                     __version__="1.8.0"))
    assert fe.available() is True and fe.version() == 90100
    assert fe.version_string() == "9.1.0 (frontend 1.8.0)"
    assert cudnn_flags.is_available() is True and cudnn_flags.version() == 90100


def test_this_machine_reports_consistently():
    """Whatever is installed here: the flags module, the loader and the reason agree, and nothing raises."""
    assert cudnn_flags.is_available() == fe.available()
    assert (fe.version() is None) == (not fe.available())
    reason = fe.unavailable_reason()
    if not nd_cuda.is_available():
        assert reason is not None
    assert reason is None or isinstance(reason, str) and reason


def test_libcudnn_preload_never_raises(monkeypatch):
    monkeypatch.setattr(fe, "_nvidia_cudnn_dirs", lambda: ["/nonexistent/lib"])
    fe._preload_libcudnn()


# =============================================================================================
# flags and eligibility on the CPU
# =============================================================================================
def test_flags_context_restores_the_switches():
    assert cudnn_flags.enabled is True and cudnn_flags.allow_tf32 is True and cudnn_flags.deterministic is False
    with cudnn_flags.flags(enabled=False, deterministic=True):
        assert cudnn_flags.enabled is False and cudnn_flags.deterministic is True
    assert cudnn_flags.enabled is True and cudnn_flags.deterministic is False


def test_cpu_work_is_refused():
    x, w = _random((2, 3, 5, 5)), _random((4, 3, 3, 3))
    geometry = ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert fe.takes(x, w) is False and fe.takes() is False
    assert fe.conv_forward(x, w, None, *geometry, (5, 5)) is None
    assert fe.conv_backward_data(_random((2, 4, 5, 5)), w, x.shape, *geometry) is None
    assert fe.conv_backward_weights(x, _random((2, 4, 5, 5)), w.shape, *geometry) is None
    t = ndgrad.from_numpy(x)
    stats = ndgrad.zeros(3), ndgrad.ones(3)
    assert fe.takes_batch_norm(t, None, None, *stats) is False
    assert fe.batch_norm(t, *stats, training=True) is None
    q = ndgrad.from_numpy(_random((1, 2, 4, 8), np.float16))
    assert fe.takes_attention(q, q, q) is False and fe.attention(q, q, q) is None
    assert cudnn_flags.is_acceptable(t) is False


@pytest.mark.parametrize("enabled", [True, False])
def test_conv_on_the_cpu_matches_torch_either_way(enabled):
    x, w, b = _random((2, 3, 7, 6), np.float64), _random((4, 3, 3, 2), np.float64), _random((4,), np.float64)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    nx, nw, nb = (ndgrad.tensor(a, requires_grad=True) for a in (x, w, b))
    with cudnn_flags.flags(enabled=enabled):
        ny = F.conv2d(nx, nw, nb, stride=(2, 1), padding=1)
        ny.sum().backward()
    ty = TF.conv2d(tx, tw, tb, stride=(2, 1), padding=1)
    ty.sum().backward()
    np.testing.assert_allclose(ny.detach().numpy(), ty.detach().numpy(), atol=1e-10, rtol=1e-10)
    for n, t in ((nx, tx), (nw, tw), (nb, tb)):
        np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), atol=1e-10, rtol=1e-10)


# =============================================================================================
# `ndgrad info`
# =============================================================================================
def test_info_names_the_cpu_and_gpu_paths():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.run_info(None) == 0
    text = out.getvalue()
    assert text.count("convolutions") == 2
    assert ("oneDNN" in text) or ("im2col + BLAS" in text)
    assert ("cuDNN not used: " in text) or ("convolutions, batch norm: cuDNN" in text)


def test_info_without_the_frontend(fresh_loader):
    _spec_for_cudnn(fresh_loader, None)
    (line,) = cli._gpu_kernels()
    assert "im2col + cuBLAS" in line and "cuDNN not used: nvidia-cudnn-frontend is not installed" in line


def test_cpu_info_follows_the_mkldnn_flag():
    from ndgrad.backend import onednn
    with ndgrad.backends.mkldnn.flags(enabled=False):
        lines = cli._cpu_kernels()
    expected = "oneDNN disabled" if onednn.available() else "oneDNN not installed"
    assert "im2col + BLAS" in lines[0] and expected in lines[0]


# =============================================================================================
# the wiring, against a stand-in frontend and CuPy
# =============================================================================================
@pytest.fixture
def fake(monkeypatch):
    cp, cudnn = cudnn_fake.FakeCuPy(), cudnn_fake.FakeCudnn()
    monkeypatch.setattr(nd_cuda, "_cupy", cp)
    monkeypatch.setattr(fe, "_state", {"module": cudnn, "reason": None, "tried": True})
    monkeypatch.setattr(fe, "_handles", {})
    fe.reset()
    yield types.SimpleNamespace(cp=cp, cudnn=cudnn)
    fe.reset()


def _dev(a):
    return np.ascontiguousarray(a).view(cudnn_fake.DeviceArray) if a.flags.c_contiguous else a.view(
        cudnn_fake.DeviceArray)


def _channels_last(a):
    """a (N, C, *sp) with channels-last memory, as a device array."""
    perm = (0,) + tuple(range(2, a.ndim)) + (1,)
    back = (0, a.ndim - 1) + tuple(range(1, a.ndim - 1))
    return np.ascontiguousarray(a.transpose(perm)).transpose(back).view(cudnn_fake.DeviceArray)


def _torch_conv(x, w, stride, pads, dilation, groups):
    conv = {3: TF.conv1d, 4: TF.conv2d, 5: TF.conv3d}[x.ndim]
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    return conv(TF.pad(x, flat), w, stride=stride, dilation=dilation, groups=groups)


def _out_size(n, k, s, lo, hi, d):
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


# x shape, w shape, stride, pads, dilation, groups, layout
CONV_CASES = {
    "2d": ((2, 4, 9, 8), (6, 4, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1, "nchw"),
    "2d_strided_asymmetric": ((2, 4, 9, 8), (6, 4, 3, 2), (2, 1), ((1, 2), (0, 1)), (1, 2), 1, "nchw"),
    "2d_grouped": ((2, 6, 7, 7), (9, 2, 3, 3), (1, 2), ((1, 1), (2, 2)), (1, 1), 3, "nchw"),
    "2d_depthwise": ((2, 4, 6, 6), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4, "nchw"),
    "2d_channels_last": ((2, 5, 6, 7), (3, 5, 3, 3), (1, 1), ((1, 1), (0, 0)), (1, 1), 1, "nhwc"),
    "2d_noncontiguous": ((2, 4, 8, 10), (3, 4, 3, 3), (1, 1), ((0, 0), (1, 1)), (1, 1), 1, "sliced"),
    "1d": ((3, 4, 11), (5, 4, 3), (2,), ((1, 1),), (2,), 1, "nchw"),
    "1d_grouped_channels_last": ((2, 4, 9), (6, 2, 2), (1,), ((1, 0),), (1,), 2, "nhwc"),
    "3d": ((2, 3, 5, 6, 4), (4, 3, 2, 3, 2), (1, 1, 1), ((0, 0), (1, 1), (0, 1)), (1, 1, 1), 1, "nchw"),
    "3d_channels_last": ((1, 4, 4, 5, 3), (2, 4, 3, 1, 2), (2, 1, 1), ((1, 1), (0, 0), (1, 1)), (1, 1, 2), 1,
                         "nhwc"),
}


def _conv_inputs(case, dtype):
    x_shape, w_shape, stride, pads, dilation, groups, layout = CONV_CASES[case]
    x = _random(x_shape[:-1] + (x_shape[-1] * 2,) if layout == "sliced" else x_shape, dtype)
    if layout == "sliced":
        x = x[..., ::2]
    xd = _channels_last(x) if layout == "nhwc" else (x.view(cudnn_fake.DeviceArray) if layout == "sliced"
                                                      else _dev(x))
    w = _random(w_shape, dtype)
    kernel = w_shape[2:]
    y_spatial = tuple(_out_size(n, k, s, lo, hi, d)
                      for n, k, s, (lo, hi), d in zip(x.shape[2:], kernel, stride, pads, dilation))
    return x, xd, w, kernel, stride, pads, dilation, groups, y_spatial, layout


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_wiring_matches_torch(fake, case, dtype):
    x, xd, w, kernel, stride, pads, dilation, groups, y_spatial, layout = _conv_inputs(case, dtype)
    b = _random((w.shape[0],), dtype)
    geometry = (kernel, stride, pads, dilation, groups)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == np.float32 else dict(atol=1e-2, rtol=1e-2)
    tx, tw, tb = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b))
    ty = _torch_conv(tx, tw, stride, pads, dilation, groups) + tb.reshape((1, -1) + (1,) * (x.ndim - 2))
    gy = _random(tuple(ty.shape), dtype)
    ty.backward(torch.tensor(gy.astype(np.float64)))

    y = fe.conv_forward(xd, _dev(w), _dev(b), *geometry, y_spatial)
    assert y is not None and y.dtype == dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(np.asarray(y, np.float64), ty.detach().numpy(), **tol)
    if layout == "nhwc" and x.ndim > 3:
        assert fe._is_channels_last(y)   # the output keeps the input's layout family
    gx = fe.conv_backward_data(_dev(gy), _dev(w), x.shape, *geometry)
    np.testing.assert_allclose(np.asarray(gx, np.float64), tx.grad.numpy(), **tol)
    gw = fe.conv_backward_weights(xd, _dev(gy), w.shape, *geometry)
    assert gw.shape == w.shape
    np.testing.assert_allclose(np.asarray(gw, np.float64), tw.grad.numpy(), **tol)
    assert fe.calls == {"conv_forward": 1, "conv_backward_data": 1, "conv_backward_weights": 1}


def test_graphs_are_cached_and_run_on_the_current_stream(fake):
    x, xd, w, *geometry = _conv_inputs("2d", np.float32)
    for _ in range(3):
        assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is not None
    assert fake.cudnn.graphs_built == 1 and fake.cudnn.executions == 3 and fe.calls["conv_forward"] == 3
    assert fake.cudnn.streams == [1234] * 3
    fe.conv_forward(_dev(_random((1, 4, 9, 8))), _dev(w), None, *geometry[:5], geometry[5])
    assert fake.cudnn.graphs_built == 2   # another batch size: another graph


def test_a_refused_graph_falls_back_warns_once_and_is_remembered(fake):
    fake.cudnn.refuse.add("conv_fprop")
    x, xd, w, *geometry = _conv_inputs("2d", np.float32)
    with pytest.warns(RuntimeWarning, match=r"cuDNN does not take conv_forward for \(\(2, 4, 9, 8\)"):
        assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is None
    assert fake.cudnn.graphs_built == 0 and not fe.calls


def test_an_execution_failure_falls_back(fake, monkeypatch):
    x, xd, w, *geometry = _conv_inputs("2d", np.float32)

    def broken(self, pack, workspace, handle=None):
        raise RuntimeError("CUDNN_STATUS_EXECUTION_FAILED")
    monkeypatch.setattr(cudnn_fake.FakeGraph, "execute", broken)
    with pytest.warns(RuntimeWarning, match="CUDNN_STATUS_EXECUTION_FAILED"):
        assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is None
    assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is None
    assert not fe.calls


def test_eligibility_on_device_arrays(fake):
    x, w = _dev(_random((2, 3, 5, 5))), _dev(_random((4, 3, 3, 3)))
    geometry = ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert fe.takes(x, w) is True
    assert fe.takes(x.astype(np.float64), w.astype(np.float64)) is False          # float64: not a cuDNN dtype
    assert fe.takes(x, w.astype(np.float16)) is False                             # mixed dtypes
    assert fe.takes(_dev(np.zeros((0, 3, 5, 5), np.float32)), w) is False          # empty
    assert fe.takes(np.asarray(x), w) is False                                    # a CPU array
    with cudnn_flags.flags(enabled=False):
        assert fe.takes(x, w) is False
        assert fe.conv_forward(x, w, None, *geometry, (5, 5)) is None
    assert fe.conv_forward(x, w, None, (3, 3), (1, 1), ((-1, 1), (1, 1)), (1, 1), 1, (5, 5)) is None
    assert not fe.calls


def test_precision_flags_reach_the_graph(fake):
    x, xd, w, *geometry = _conv_inputs("2d", np.float32)
    with cudnn_flags.flags(enabled=True, allow_tf32=False, deterministic=True):
        fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5])
    fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5])   # default flags: another graph
    notes = [plan.graph.notes for plan in fe._graphs.values()]
    assert sorted(notes, key=len) == [[], ["NONDETERMINISTIC", "TENSOR_CORE"]]


# -- batch norm ------------------------------------------------------------------------------------
def _dev_tensor(a, requires_grad=False):
    t = ndgrad.from_numpy(np.array(a, copy=True))
    t._data = _channels_last(a) if isinstance(a, _ChannelsLast) else _dev(t._data)
    return t.requires_grad_(requires_grad) if requires_grad else t


class _ChannelsLast(np.ndarray):
    """Marks a test input to be laid out channels-last on the (fake) device."""


BN_CASES = {   # input shape, channels-last, affine
    "2d_input": ((6, 3), False, True),
    "3d_input": ((4, 3, 5), False, True),
    "4d_nchw": ((2, 3, 4, 5), False, True),
    "4d_channels_last": ((2, 3, 4, 5), True, True),
    "4d_no_affine": ((3, 2, 3, 3), False, False),
    "5d": ((2, 3, 2, 3, 2), False, True),
}


@pytest.mark.parametrize("case", sorted(BN_CASES))
def test_batch_norm_training_wiring_matches_torch(fake, case):
    shape, channels_last, affine = BN_CASES[case]
    c = shape[1]
    x = _random(shape)
    if channels_last:
        x = x.view(_ChannelsLast)
    w, b, rm, rv = _random((c,)), _random((c,)), _random((c,)), np.abs(_random((c,))) + 0.5
    nx = _dev_tensor(x, True)
    nw, nb = (_dev_tensor(a, True) if affine else None for a in (w, b))
    nrm, nrv = _dev_tensor(rm), _dev_tensor(rv)
    tx = torch.tensor(np.asarray(x), requires_grad=True)
    tw, tb = (torch.tensor(a, requires_grad=True) if affine else None for a in (w, b))
    trm, trv = torch.tensor(rm), torch.tensor(rv)

    y = fe.batch_norm(nx, nrm, nrv, nw, nb, training=True, momentum=0.3, eps=1e-3)
    ty = TF.batch_norm(tx, trm, trv, tw, tb, training=True, momentum=0.3, eps=1e-3)
    assert y is not None and tuple(y.shape) == shape and y.dtype == ndgrad.float32
    np.testing.assert_allclose(np.asarray(y._data), ty.detach().numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(nrm._data), trm.numpy(), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(nrv._data), trv.numpy(), atol=1e-6, rtol=1e-5)
    g = _random(shape)
    y.backward(_dev_tensor(g))
    ty.backward(torch.tensor(g))
    pairs = [(nx, tx)] + ([(nw, tw), (nb, tb)] if affine else [])
    for n, t in pairs:
        np.testing.assert_allclose(np.asarray(n.grad._data), t.grad.numpy(), atol=1e-4, rtol=1e-4)
    assert fe.calls == {"batch_norm_forward": 1, "batch_norm_backward": 1}


def test_batch_norm_double_backward_matches_torch(fake):
    x, w, b = _random((4, 3, 2, 2)), _random((3,)), _random((3,))
    nx, nw, nb = (_dev_tensor(a, True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = fe.batch_norm(nx, None, None, nw, nb, training=True)
    ty = TF.batch_norm(tx, None, None, tw, tb, training=True)
    g = _random(x.shape)
    grads = ndgrad.autograd.grad(y, (nx, nw), _dev_tensor(g), create_graph=True)
    tgrads = torch.autograd.grad(ty, (tx, tw), torch.tensor(g), create_graph=True)
    (grads[0] ** 2).sum().add((grads[1] ** 2).sum()).backward()
    ((tgrads[0] ** 2).sum() + (tgrads[1] ** 2).sum()).backward()
    for n, t in ((grads[0], tgrads[0]), (nx.grad, tx.grad), (nw.grad, tw.grad), (nb.grad, tb.grad)):
        if t is None:
            assert n is None or not np.any(np.asarray(n._data))
            continue
        np.testing.assert_allclose(np.asarray((n.detach() if n.requires_grad else n)._data), t.detach().numpy(),
                                   atol=1e-4, rtol=1e-4)
    assert fe.calls["batch_norm_backward"] == 0   # create_graph: the Tensor-op rule, differentiable again


def test_batch_norm_half_input_with_float_parameters(fake):
    x = _random((4, 3, 3, 3), np.float16)
    w, b = _random((3,)), _random((3,))
    nx, nw, nb = _dev_tensor(x, True), _dev_tensor(w, True), _dev_tensor(b, True)
    y = fe.batch_norm(nx, None, None, nw, nb, training=True)
    assert y.dtype == ndgrad.float16
    ty = TF.batch_norm(torch.tensor(x.astype(np.float32)), None, None, torch.tensor(w), torch.tensor(b),
                       training=True)
    np.testing.assert_allclose(np.asarray(y._data, np.float32), ty.numpy(), atol=1e-2, rtol=1e-2)
    y.sum().backward()
    assert nx.grad.dtype == ndgrad.float16 and nw.grad.dtype == ndgrad.float32


def test_batch_norm_inference_wiring(fake):
    x = _random((2, 3, 4, 5)).view(_ChannelsLast)
    w, b, rm, rv = _random((3,)), _random((3,)), _random((3,)), np.abs(_random((3,))) + 0.5
    args = [_dev_tensor(a) for a in (rm, rv, w, b)]
    y = fe.batch_norm(_dev_tensor(x), *args, training=False, eps=1e-4)
    ty = TF.batch_norm(torch.tensor(np.asarray(x)), *(torch.tensor(a) for a in (rm, rv, w, b)), training=False,
                       eps=1e-4)
    np.testing.assert_allclose(np.asarray(y._data), ty.numpy(), atol=1e-5, rtol=1e-5)
    assert fe.calls == {"batch_norm_inference": 1}
    # NCHW input, or a graph to record: today's fused pass runs instead
    assert fe.batch_norm(_dev_tensor(np.asarray(x)), *args, training=False) is None
    assert fe.batch_norm(_dev_tensor(x, True), *args, training=False) is None


def test_batch_norm_refusals(fake):
    x = _dev_tensor(_random((2, 3, 4)))
    assert fe.takes_batch_norm(x, _dev_tensor(_random((4,))), training=True) is False   # wrong parameter size
    assert fe.takes_batch_norm(_dev_tensor(_random((1, 3))), training=True) is False     # one value per channel
    assert fe.takes_batch_norm(x, training=False) is False                               # eval without stats
    assert fe.takes_batch_norm(_dev_tensor(_random((2, 3), np.float64)), training=True) is False
    fake.cudnn.refuse.add("batchnorm")
    with pytest.warns(RuntimeWarning, match="batch_norm_forward"):
        assert fe.batch_norm(x, None, None, training=True) is None


# -- attention -------------------------------------------------------------------------------------
def _torch_sdpa(q, k, v, mask, causal, scale):
    return TF.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=scale)


ATTENTION_CASES = {   # q shape, kv length, mask kind, causal
    "plain": ((2, 3, 5, 8), 7, None, False),
    "causal": ((2, 2, 6, 16), 6, None, True),
    "causal_longer_keys": ((1, 2, 4, 8), 6, None, True),
    "bool_mask": ((2, 3, 5, 8), 7, "bool", False),
    "float_mask": ((2, 1, 4, 8), 4, "float", False),
    "three_dims": ((3, 5, 8), 6, None, False),
    "fully_masked_rows": ((2, 2, 4, 8), 5, "dead", False),   # PyTorch: zeros there, and no gradient through them
    "fully_masked_rows_three_dims": ((2, 4, 8), 5, "dead", False),
}


def _mask(kind, q_len, kv_len):
    if kind == "bool":
        keep = rng.uniform(size=(2, 1, q_len, kv_len)) > 0.4
        keep[..., 0] = True   # every query row keeps a key
        return keep
    if kind == "dead":
        keep = rng.uniform(size=(q_len, kv_len)) > 0.4
        keep[:, 0] = True
        keep[1] = False
        return keep
    if kind == "float":
        m = _random((q_len, kv_len))
        m[0, 1] = -np.inf
        return m
    return None


@pytest.mark.parametrize("case", sorted(ATTENTION_CASES))
def test_attention_wiring_matches_torch(fake, case):
    q_shape, kv_len, mask_kind, causal = ATTENTION_CASES[case]
    kv_shape = q_shape[:-2] + (kv_len, q_shape[-1])
    q, k, v = _random(q_shape, np.float16), _random(kv_shape, np.float16), _random(kv_shape, np.float16)
    mask = _mask(mask_kind, q_shape[-2], kv_len)
    scale = 0.3
    nq, nk, nv = (_dev_tensor(a, True) for a in (q, k, v))
    n_mask = None if mask is None else _dev_tensor(mask)
    out = fe.attention(nq, nk, nv, n_mask, 0.0, causal, scale)
    assert out is not None and out.dtype == ndgrad.float16 and tuple(out.shape) == q_shape
    tq, tk, tv = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v))
    t_mask = None if mask is None else torch.tensor(mask if mask.dtype == bool else mask.astype(np.float64))
    t_out = _torch_sdpa(tq, tk, tv, t_mask, causal, scale)
    np.testing.assert_allclose(np.asarray(out._data, np.float64), t_out.detach().numpy(), atol=1e-2, rtol=1e-2)
    g = _random(q_shape, np.float16)
    out.backward(_dev_tensor(g))
    t_out.backward(torch.tensor(g.astype(np.float64)))
    for n, t in ((nq, tq), (nk, tk), (nv, tv)):
        assert n.grad.dtype == ndgrad.float16
        np.testing.assert_allclose(np.asarray(n.grad._data, np.float64), t.grad.numpy(), atol=2e-2, rtol=2e-2)
    assert fe.calls == {"sdpa_forward": 1, "sdpa_backward": 1}


def test_attention_double_backward_matches_torch(fake):
    q, k, v = (_random((1, 2, 3, 8), np.float16) for _ in range(3))
    nq, nk, nv = (_dev_tensor(a, True) for a in (q, k, v))
    tq, tk, tv = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v))
    out = fe.attention(nq, nk, nv, None, 0.0, True, 0.5)
    causal = torch.ones(3, 3, dtype=torch.bool).tril()   # torch's fused CPU kernel has no double backward
    t_out = ((tq @ tk.transpose(-2, -1) * 0.5).masked_fill(~causal, float("-inf")).softmax(-1)) @ tv
    (gq,) = ndgrad.autograd.grad(out.float().sum(), (nq,), create_graph=True)
    (tgq,) = torch.autograd.grad(t_out.sum(), (tq,), create_graph=True)
    (gq ** 2).sum().backward()
    (tgq ** 2).sum().backward()
    np.testing.assert_allclose(np.asarray(gq.detach()._data, np.float64), tgq.detach().numpy(), atol=2e-2,
                               rtol=2e-2)
    np.testing.assert_allclose(np.asarray(nk.grad._data, np.float64), tk.grad.numpy(), atol=5e-2, rtol=5e-2)
    assert fe.calls["sdpa_backward"] == 0


def test_attention_graph_backward_with_fully_masked_rows(fake):
    """create_graph=True runs the Tensor-op rule: it too gives no gradient through rows that see nothing."""
    q, k, v = (_random((1, 2, 4, 8), np.float16) for _ in range(3))
    keep = _mask("dead", 4, 4)
    nq, nk, nv = (_dev_tensor(a, True) for a in (q, k, v))
    out = fe.attention(nq, nk, nv, _dev_tensor(keep), 0.0, False, 0.4)
    grads = ndgrad.autograd.grad(out.float().sum(), (nq, nk, nv), create_graph=True)
    tq, tk, tv = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v))
    t_grads = torch.autograd.grad(_torch_sdpa(tq, tk, tv, torch.tensor(keep), False, 0.4).sum(), (tq, tk, tv))
    for n, t in zip(grads, t_grads):
        np.testing.assert_allclose(np.asarray(n.detach()._data, np.float64), t.numpy(), atol=2e-2, rtol=2e-2)
    assert fe.calls == {"sdpa_forward": 1}


def test_no_graph_is_built_during_cuda_graph_capture(fake):
    from ndgrad.backend import host_sync
    x, xd, w, *geometry = _conv_inputs("2d", np.float32)
    with host_sync.capturing("a test capture"):
        assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is None
    assert fake.cudnn.graphs_built == 0 and not fe._graphs
    assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is not None
    with host_sync.capturing("a test capture"):   # built before the capture: replayed inside it
        assert fe.conv_forward(xd, _dev(w), None, *geometry[:5], geometry[5]) is not None
    assert fake.cudnn.graphs_built == 1 and fe.calls["conv_forward"] == 2


def test_attention_default_scale(fake):
    q = _random((1, 2, 3, 16), np.float16)
    out = fe.attention(*(_dev_tensor(q) for _ in range(3)))
    tq = torch.tensor(q.astype(np.float64))
    np.testing.assert_allclose(np.asarray(out._data, np.float64), TF.scaled_dot_product_attention(tq, tq, tq).numpy(),
                               atol=1e-2, rtol=1e-2)


def test_attention_refusals(fake):
    def t(shape, dtype=np.float16):
        return _dev_tensor(_random(shape, dtype))
    q = t((1, 2, 4, 8))
    assert fe.takes_attention(q, q, q) is True
    assert fe.takes_attention(t((1, 2, 4, 8), np.float32), t((1, 2, 4, 8), np.float32),
                              t((1, 2, 4, 8), np.float32)) is False                   # float32: ndgrad's own node
    assert fe.takes_attention(q, q, q, dropout_p=0.1) is False                        # dropout
    odd = t((1, 2, 4, 12))
    assert fe.takes_attention(odd, odd, odd) is False                                 # head size not a multiple of 8
    assert fe.takes_attention(q, t((1, 1, 4, 8)), t((1, 1, 4, 8))) is False           # broadcast heads
    needs_grad = _dev_tensor(_random((4, 4)), True)
    assert fe.takes_attention(q, q, q, needs_grad) is False                           # a mask that needs a gradient
    ndgrad.backends.cuda.enable_cudnn_sdp(False)
    try:
        assert fe.takes_attention(q, q, q) is False
    finally:
        ndgrad.backends.cuda.enable_cudnn_sdp(True)
    assert fe.attention(q, q, q, _dev_tensor(np.ones((3, 4), bool)), 0.0, False, 0.5) is None   # no broadcast
    assert not fe.calls


# -- the graphs against the real frontend's own checks (no GPU needed up to its C++ lowering) ----------
@pytest.fixture
def real_ir(monkeypatch):
    """The installed frontend builds ndgrad's graphs and runs its Python-level validation (shape inference,
    tensor and node checks); its C++ lowering needs libcudnn, so each graph stops there, recorded."""
    cudnn = pytest.importorskip("cudnn", reason="nvidia-cudnn-frontend is not installed (pip install 'ndgrad[cudnn]')")
    if fe.available():
        pytest.skip("libcudnn loads here: the cuda tests below build and run these graphs for real")
    monkeypatch.setattr(nd_cuda, "_cupy", cudnn_fake.FakeCuPy())
    monkeypatch.setattr(fe, "_state", {"module": cudnn, "reason": None, "tried": True})
    monkeypatch.setattr(fe, "_handle", lambda module, device_id: cudnn.Handle(None, 0, 0))
    validated = []

    class Lowering(Exception):
        pass

    def finalize(module, graph, key):
        try:
            graph.validate()
        except RuntimeError as exc:
            if "Unable to find symbol" not in str(exc):   # the lowering, looking for libcudnn
                raise
        validated.append(key[0])
        raise Lowering("stopped before the C++ lowering")

    monkeypatch.setattr(fe, "_finalize", finalize)
    fe.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield validated
    fe.reset()


def test_real_frontend_accepts_the_conv_graphs(real_ir):
    for case in ("2d", "2d_strided_asymmetric", "2d_grouped", "1d", "3d_channels_last"):
        for dtype in (np.float32, np.float16):
            x, xd, w, kernel, stride, pads, dilation, groups, y_spatial, layout = _conv_inputs(case, dtype)
            geometry = (kernel, stride, pads, dilation, groups)
            gy = _dev(_random((x.shape[0], w.shape[0]) + y_spatial, dtype))
            assert fe.conv_forward(xd, _dev(w), None, *geometry, y_spatial) is None
            assert fe.conv_backward_data(gy, _dev(w), x.shape, *geometry) is None
            assert fe.conv_backward_weights(xd, gy, w.shape, *geometry) is None
    assert real_ir == ["conv_forward", "conv_backward_data", "conv_backward_weights"] * 10


def test_real_frontend_accepts_the_batch_norm_graphs(real_ir):
    from ndgrad.backend import cudnn_nodes
    for shape in ((6, 3), (2, 3, 4, 5), (2, 3, 2, 3, 4)):
        for dtype in (np.float32, np.float16):
            x4, strides = cudnn_nodes._bn_input(_dev(_random(shape, dtype)))
            assert cudnn_nodes._bn_forward_plan(x4, strides, 0) is None
            assert cudnn_nodes._bn_backward_plan(x4, strides, 0) is None
            x = _dev_tensor(_random(shape, dtype).view(_ChannelsLast) if len(shape) > 2 else _random(shape, dtype))
            stats = [_dev_tensor(a) for a in (_random((3,)), np.ones(3, np.float32))]
            fe.batch_norm(x, *stats, training=False)
    assert real_ir.count("batch_norm_forward") == 6 and real_ir.count("batch_norm_backward") == 6
    assert real_ir.count("batch_norm_inference") == 4   # 4-d/5-d channels-last only


def test_real_frontend_accepts_the_attention_graphs(real_ir):
    from ndgrad.backend import cudnn_nodes
    cp = nd_cuda._cupy
    for mask_kind, causal in ((None, False), (None, True), ("bool", False), ("float", False)):
        q4, k4, v4 = (_dev(_random(shape, np.float16)) for shape in ((2, 3, 5, 16), (2, 3, 7, 16), (2, 3, 7, 16)))
        bias = None
        if mask_kind is not None:
            bias, _ = cudnn_nodes._attention_bias(cp, _dev_tensor(_mask(mask_kind, 5, 7)), q4, k4)
        assert cudnn_nodes._sdpa_forward_plan(q4, k4, v4, bias, causal, 0.25, 0) is None
        assert cudnn_nodes._sdpa_backward_plan(q4, k4, v4, bias, causal, 0.25, 0) is None
    assert real_ir == ["sdpa_forward", "sdpa_backward"] * 4


# =============================================================================================
# the real library on a GPU (run by the lead on a GPU machine; skipped here)
# =============================================================================================
def _real_cudnn():
    """Skip unless cuDNN's frontend really runs here; start from empty graphs and counters."""
    if not fe.available():
        pytest.skip(f"cuDNN is not usable here: {fe.unavailable_reason()}")
    fe.reset()


def _gpu(a, requires_grad=False):
    t = ndgrad.from_numpy(np.array(a, copy=True)).to("cuda")
    return t.requires_grad_(True) if requires_grad else t


def _host(t):
    return t.detach().cpu().numpy() if hasattr(t, "cpu") else np.asarray(t)


def _tolerance(dtype):
    return dict(atol=1e-4, rtol=1e-4) if dtype == np.float32 else dict(atol=2e-2, rtol=2e-2)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_cuda_conv_entry_points_match_torch(case, dtype):
    _real_cudnn()
    import cupy
    x, _, w, kernel, stride, pads, dilation, groups, y_spatial, layout = _conv_inputs(case, dtype)
    xd = cupy.asarray(np.ascontiguousarray(x))
    if layout == "sliced":   # the same values, as a strided view on the device
        xd = cupy.asarray(np.repeat(x, 2, axis=-1))[..., ::2]
    if layout == "nhwc":
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)
        back = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
        xd = cupy.ascontiguousarray(xd.transpose(perm)).transpose(back)
    geometry = (kernel, stride, pads, dilation, groups)
    tx, tw = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w))
    ty = _torch_conv(tx, tw, stride, pads, dilation, groups)
    gy = _random(tuple(ty.shape), dtype)
    ty.backward(torch.tensor(gy.astype(np.float64)))
    with cudnn_flags.flags(enabled=True, allow_tf32=False):
        y = fe.conv_forward(xd, cupy.asarray(w), None, *geometry, y_spatial)
        gx = fe.conv_backward_data(cupy.asarray(gy), cupy.asarray(w), x.shape, *geometry)
        gw = fe.conv_backward_weights(xd, cupy.asarray(gy), w.shape, *geometry)
    for got, want in ((y, ty.detach()), (gx, tx.grad), (gw, tw.grad)):
        assert got is not None, f"cuDNN refused {case} {np.dtype(dtype).name}"
        np.testing.assert_allclose(cupy.asnumpy(got).astype(np.float64), want.numpy(), **_tolerance(dtype))
    assert fe.calls == {"conv_forward": 1, "conv_backward_data": 1, "conv_backward_weights": 1}


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_conv2d_through_functional(dtype):
    """Needs the dispatch hooks in ndgrad/ops/nn.py (see docs/readme/cudnn.md)."""
    _real_cudnn()
    x, w, b = _random((4, 6, 12, 10), dtype), _random((8, 3, 3, 3), dtype), _random((8,), dtype)
    nx, nw, nb = (_gpu(a, True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b))
    with cudnn_flags.flags(enabled=True, allow_tf32=False):
        y = F.conv2d(nx, nw, nb, stride=(2, 1), padding=1, groups=2)
        g = _random(tuple(y.shape), dtype)
        y.backward(_gpu(g))
    ty = TF.conv2d(tx, tw, tb, stride=(2, 1), padding=1, groups=2)
    ty.backward(torch.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(_host(y).astype(np.float64), ty.detach().numpy(), **_tolerance(dtype))
    for n, t in ((nx, tx), (nw, tw), (nb, tb)):
        np.testing.assert_allclose(_host(n.grad).astype(np.float64), t.grad.numpy(), **_tolerance(dtype))
    assert fe.calls["conv_forward"] == 1 and fe.calls["conv_backward_data"] == 1
    assert fe.calls["conv_backward_weights"] == 1


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", [(8, 4), (4, 3, 10), (4, 6, 5, 7), (2, 3, 4, 5, 3)])
def test_cuda_batch_norm_training_matches_torch(shape, dtype):
    _real_cudnn()
    c = shape[1]
    x, w, b = _random(shape, dtype), _random((c,)), _random((c,))
    rm, rv = _random((c,)), np.abs(_random((c,))) + 0.5
    nx, nw, nb = _gpu(x, True), _gpu(w, True), _gpu(b, True)
    nrm, nrv = _gpu(rm), _gpu(rv)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    tw, tb = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (w, b))
    trm, trv = torch.tensor(rm.astype(np.float64)), torch.tensor(rv.astype(np.float64))
    y = fe.batch_norm(nx, nrm, nrv, nw, nb, training=True, momentum=0.2, eps=1e-4)
    assert y is not None, f"cuDNN refused batch norm {shape} {np.dtype(dtype).name}"
    ty = TF.batch_norm(tx, trm, trv, tw, tb, training=True, momentum=0.2, eps=1e-4)
    g = _random(shape, dtype)
    y.backward(_gpu(g))
    ty.backward(torch.tensor(g.astype(np.float64)))
    tol = _tolerance(dtype)
    np.testing.assert_allclose(_host(y).astype(np.float64), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(_host(nrm), trm.numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(_host(nrv), trv.numpy(), atol=1e-5, rtol=1e-4)
    for n, t in ((nx, tx), (nw, tw), (nb, tb)):
        np.testing.assert_allclose(_host(n.grad).astype(np.float64), t.grad.numpy(), **tol)
    assert fe.calls == {"batch_norm_forward": 1, "batch_norm_backward": 1}


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_batch_norm_eval_and_module_match_torch(dtype):
    """BatchNorm2d train/eval through F.batch_norm: needs the hook in ndgrad/ops/nn.py batch_norm."""
    _real_cudnn()
    x = _random((4, 5, 6, 6), dtype)
    m, tm = ndgrad.nn.BatchNorm2d(5).to("cuda"), torch.nn.BatchNorm2d(5).double()
    if dtype == np.float16:
        m = m.half()
    y = m(_gpu(x))
    ty = tm(torch.tensor(x.astype(np.float64)))
    np.testing.assert_allclose(_host(y).astype(np.float64), ty.detach().numpy(), **_tolerance(dtype))
    m.eval()
    tm.eval()
    cupy = pytest.importorskip("cupy")
    xl = _gpu(x)
    xl._data = cupy.ascontiguousarray(xl._data.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)   # channels-last
    with ndgrad.no_grad():
        y = m(xl)
    np.testing.assert_allclose(_host(y).astype(np.float64), tm(torch.tensor(x.astype(np.float64))).detach().numpy(),
                               **_tolerance(dtype))
    assert fe.calls["batch_norm_forward"] == 1 and fe.calls["batch_norm_inference"] == 1


@pytest.mark.cuda
@pytest.mark.parametrize("case", sorted(ATTENTION_CASES))
def test_cuda_attention_matches_torch(case):
    _real_cudnn()
    q_shape, kv_len, mask_kind, causal = ATTENTION_CASES[case]
    kv_shape = q_shape[:-2] + (kv_len, q_shape[-1])
    q, k, v = _random(q_shape, np.float16), _random(kv_shape, np.float16), _random(kv_shape, np.float16)
    mask = _mask(mask_kind, q_shape[-2], kv_len)
    nq, nk, nv = (_gpu(a, True) for a in (q, k, v))
    out = fe.attention(nq, nk, nv, None if mask is None else _gpu(mask), 0.0, causal, 0.3)
    assert out is not None, f"cuDNN refused attention {case}"
    tq, tk, tv = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v))
    t_mask = None if mask is None else torch.tensor(mask if mask.dtype == bool else mask.astype(np.float64))
    t_out = _torch_sdpa(tq, tk, tv, t_mask, causal, 0.3)
    g = _random(q_shape, np.float16)
    out.backward(_gpu(g))
    t_out.backward(torch.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(_host(out).astype(np.float64), t_out.detach().numpy(), atol=1e-2, rtol=1e-2)
    for n, t in ((nq, tq), (nk, tk), (nv, tv)):
        np.testing.assert_allclose(_host(n.grad).astype(np.float64), t.grad.numpy(), atol=2e-2, rtol=2e-2)
    assert fe.calls == {"sdpa_forward": 1, "sdpa_backward": 1}


@pytest.mark.cuda
def test_cuda_attention_through_functional():
    """Needs the hook in ndgrad/nn/functional_attention.py."""
    _real_cudnn()
    q, k, v = (_random((2, 4, 16, 32), np.float16) for _ in range(3))
    nq, nk, nv = (_gpu(a, True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(nq, nk, nv, is_causal=True)
    out.sum().backward()
    tq, tk, tv = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v))
    t_out = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    t_out.sum().backward()
    np.testing.assert_allclose(_host(out).astype(np.float64), t_out.detach().numpy(), atol=1e-2, rtol=1e-2)
    np.testing.assert_allclose(_host(nq.grad).astype(np.float64), tq.grad.numpy(), atol=2e-2, rtol=2e-2)
    assert fe.calls == {"sdpa_forward": 1, "sdpa_backward": 1}


@pytest.mark.cuda
def test_cuda_info_names_cudnn():
    _real_cudnn()
    lines = cli._gpu_kernels()
    assert lines[0].startswith("convolutions, batch norm: cuDNN 9.") or lines[0].startswith(
        "convolutions, batch norm: cuDNN 8.")
    with cudnn_flags.flags(enabled=False):
        assert "disabled" in cli._gpu_kernels()[0]

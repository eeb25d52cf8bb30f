"""DLPack: zero-copy exchange with NumPy and PyTorch, both directions (memory shared, writes visible)."""
import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.utils.dlpack
from oracle import check_error, noncontiguous, random_array, torch_dtype

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SHAPES = [(), (0,), (1,), (3, 4), (2, 1, 3), (0, 3)]


def _layouts(shape, dtype):
    """The same values, contiguous and as a non-contiguous view."""
    base = np.asarray(random_array(shape, dtype, low=0, high=5))
    yield base
    if base.ndim and base.size > 1:
        yield noncontiguous(base)


def _poke(array):
    """Write a new value into the first element through ``array``; return that value."""
    idx = (0,) * array.ndim
    value = ~array[idx] if array.dtype == np.bool_ else np.asarray(7, array.dtype)
    array[idx] = value
    return value


def _shares(a, b):
    return a.size == 0 or np.shares_memory(a, b)  # empty arrays own no bytes to share


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_ndgrad_to_numpy_and_back(dtype, shape):
    for base in _layouts(shape, dtype):
        t = ndgrad.from_dlpack(base)
        assert t.dtype is getattr(ndgrad, dtype) and tuple(t.shape) == shape
        assert _shares(t._data, base) and t.stride() == tuple(s // base.itemsize for s in base.strides)
        out = np.from_dlpack(t)
        assert _shares(out, base) and out.dtype == base.dtype and np.array_equal(out, base)
        if base.size:
            value = _poke(out)
            assert t._data[(0,) * base.ndim] == value  # the write through NumPy shows in the tensor


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_torch_to_ndgrad(dtype, shape):
    for base in _layouts(shape, dtype):
        src = torch.from_numpy(base.copy()) if base.flags.c_contiguous else \
            torch.from_numpy(np.ascontiguousarray(np.swapaxes(base, -1, -2))).transpose(-1, -2) \
            if base.ndim >= 2 else torch.from_numpy(np.repeat(base, 2))[::2]
        t = ndgrad.from_dlpack(src)
        assert t.dtype is getattr(ndgrad, dtype) and tuple(t.shape) == tuple(src.shape)
        assert t.stride() == src.stride()
        np.testing.assert_array_equal(t.numpy(), src.numpy())
        if src.numel():
            idx = (0,) * src.dim()
            src[idx] = not bool(src[idx]) if dtype == "bool" else 3
            assert t._data[idx] == src[idx].item()  # written by torch, seen by ndgrad
            t._data[idx] = bool(t._data[idx]) is False if dtype == "bool" else 5
            assert src[idx].item() == t._data[idx]  # and the other way


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_ndgrad_to_torch(dtype, shape):
    for base in _layouts(shape, dtype):
        t = ndgrad.from_dlpack(base)
        out = torch.from_dlpack(t)
        assert out.dtype == torch_dtype(dtype) and tuple(out.shape) == shape
        assert out.stride() == t.stride() or out.numel() <= 1
        np.testing.assert_array_equal(out.numpy(), base)
        if out.numel():
            idx = (0,) * out.dim()
            out[idx] = not bool(out[idx]) if dtype == "bool" else 6
            assert base[idx] == out[idx].item()


def test_utils_dlpack_capsules_both_ways():
    t = ndgrad.arange(6.0).reshape(2, 3)
    back = torch.utils.dlpack.from_dlpack(ndgrad.utils.dlpack.to_dlpack(t))
    back[1, 2] = -1.0
    assert t[1, 2].item() == -1.0
    src = torch.arange(4, dtype=torch.int32)
    mine = ndgrad.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(src))
    src[0] = 9
    assert mine.dtype is ndgrad.int32 and mine[0].item() == 9
    assert ndgrad.utils.dlpack.DLDeviceType.kDLCPU == 1


def test_protocol_methods_match_torch():
    t, ref = ndgrad.ones(3), torch.ones(3)
    assert tuple(t.__dlpack_device__()) == tuple(ref.__dlpack_device__())
    assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 0)))
    assert "dltensor_versioned" not in repr(t.__dlpack__())  # no max_version: a legacy capsule
    out = np.from_dlpack(t, copy=True)
    out[0] = 5
    assert t[0].item() == 1.0  # copy=True shares nothing


def test_from_dlpack_copy_and_device():
    a = np.arange(4.0)
    copied = ndgrad.from_dlpack(a, copy=True)
    assert not _shares(copied._data, a)
    same = ndgrad.from_dlpack(a, device="cpu", copy=False)
    assert _shares(same._data, a) and same.device == "cpu"
    t = ndgrad.from_dlpack(torch.ones(2))
    assert t.requires_grad is False and ndgrad.from_dlpack(t)._data is t._data


def test_requires_grad_error_matches_torch():
    ref = torch.ones(3, requires_grad=True)
    with pytest.raises(BufferError) as torch_info:
        ref.__dlpack__()
    for export in (lambda t: t.__dlpack__(), ndgrad.utils.dlpack.to_dlpack, ndgrad.from_dlpack, np.from_dlpack,
                   torch.from_dlpack):
        with pytest.raises(BufferError) as info:
            export(ndgrad.ones(3, requires_grad=True))
        assert str(info.value) == str(torch_info.value)
    assert np.from_dlpack(ndgrad.ones(3, requires_grad=True).detach()).shape == (3,)


def test_expanded_tensors_export():
    e = ndgrad.ones(3).expand(2, 3)
    ref = torch.ones(3).expand(2, 3)
    assert torch.from_dlpack(e).stride() == ref.stride()  # a versioned capsule shares the expanded view
    legacy = torch.utils.dlpack.from_dlpack(ndgrad.utils.dlpack.to_dlpack(e))  # a legacy one gets a copy
    np.testing.assert_array_equal(legacy.numpy(), ref.numpy())
    assert tuple(ndgrad.from_dlpack(ref).stride()) == ref.stride()


def test_negative_strides_are_copied_for_safety():
    # PyTorch aborts the process on negative DLPack strides, so ndgrad hands such views over as copies.
    t = ndgrad.Tensor._wrap(np.arange(5.0)[::-1])
    np.testing.assert_array_equal(torch.from_dlpack(t).numpy(), np.arange(5.0)[::-1])
    check_error(lambda: t.__dlpack__(copy=False), "negative strides", BufferError)


@pytest.mark.parametrize("case, match, exc", [
    (lambda: ndgrad.from_dlpack(torch.ones(2, dtype=torch.complex32)), "no dtype for complex32", TypeError),
    (lambda: ndgrad.from_dlpack(torch.ones(2, dtype=torch.float8_e5m2)), "no dtype for DLPack type code 12 with 8",
     TypeError),
    (lambda: ndgrad.from_dlpack([1, 2]), r"expected an object with __dlpack__.*list", TypeError),
    (lambda: ndgrad.ones(2).__dlpack__(dl_device=(2, 0), copy=False), "copy=False", BufferError),
    (lambda: ndgrad.ones(2).__dlpack__(dl_device=(9, 0)), "device type 9", BufferError),
])
@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")  # torch's, on making complex32
def test_errors(case, match, exc):
    check_error(case, match, exc)


def test_bfloat16_between_ndgrad_tensors():
    t = ndgrad.ones(3, dtype=ndgrad.bfloat16)
    assert ndgrad.from_dlpack(t)._data is t._data  # an ndgrad tensor is passed on directly, no capsule
    # bfloat16 across libraries: tests/test_dlpack_bfloat16.py


def test_array_api_hooks_exist():
    assert ndgrad.__array_api_version__ == "2024.12"
    assert ndgrad.ones(1).__array_namespace__() is ndgrad.array_api
    check_error(lambda: ndgrad.ones(1).__array_namespace__(api_version="2099.01"), "not supported", ValueError)


@pytest.mark.cuda
def test_cupy_round_trip_on_the_gpu():
    import cupy
    t = ndgrad.arange(6.0, device="cuda").reshape(2, 3)
    assert tuple(t.__dlpack_device__()) == (2, t.device.index or 0)
    a = cupy.from_dlpack(t)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0  # CuPy's write shows in ndgrad
    src = cupy.arange(4, dtype=cupy.int32)[::2]
    mine = ndgrad.from_dlpack(src)
    src[0] = 9
    assert mine.device.type == "cuda" and mine.dtype is ndgrad.int32 and mine[0].item() == 9
    ref = torch.from_dlpack(t) if torch.cuda.is_available() else None
    if ref is not None:
        ref[1, 1] = -1.0
        assert t[1, 1].item() == -1.0
    host = np.from_dlpack(ndgrad.from_dlpack(t, device="cpu"))
    np.testing.assert_array_equal(host, t.cpu().numpy())


@pytest.mark.cuda
def test_array_api_namespace_on_the_gpu():
    x = ndgrad.tensor(random_array((3, 4)), device="cuda")
    xp = x.__array_namespace__()
    cpu = x.cpu()
    for fn in (lambda a: xp.std(a, axis=0), lambda a: xp.sort(a, axis=1, descending=True),
               lambda a: xp.unique_counts(xp.round(a)).counts, lambda a: xp.cumulative_sum(a, axis=1),
               lambda a: xp.argmax(a, axis=0), lambda a: xp.floor_divide(a, 0.5)):
        out = fn(x)
        assert out.device == x.device
        np.testing.assert_allclose(out.cpu().numpy(), fn(cpu).numpy(), rtol=1e-12)
    assert xp.asarray([1, 2], device=x.device).device == x.device
    assert xp.eye(2, device="cuda", k=1).device.type == "cuda"

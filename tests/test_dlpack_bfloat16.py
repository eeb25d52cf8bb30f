"""DLPack for bfloat16 on the CPU: zero-copy both ways with PyTorch, through versioned and legacy capsules.

NumPy has no bfloat16 DLPack code, so ndgrad relabels capsules (ndgrad/_dlpack_bfloat16.py); these tests check
that the memory really is shared (a write on one side shows on the other) and that nothing else is relabelled.
"""
import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.utils.dlpack
from ndgrad import _dlpack_bfloat16
from oracle import check_error, noncontiguous, random_array

BF16 = ndgrad.bfloat16.np  # ml_dtypes.bfloat16
SHAPES = [(), (0,), (1,), (3, 4), (2, 1, 3), (0, 3)]


def _bf16_arrays(shape):
    """Random bfloat16 NumPy arrays of ``shape``: contiguous, then a non-contiguous view where one exists."""
    base = random_array(shape, "float32").astype(BF16)
    yield base
    if base.ndim and base.size > 1:
        yield noncontiguous(base)


def _torch_bf16(shape):
    """The same layouts as PyTorch bfloat16 tensors (torch.from_numpy has no bfloat16: go through int16)."""
    for array in _bf16_arrays(shape):
        bits = torch.from_numpy(np.ascontiguousarray(array).view(np.int16)).view(torch.bfloat16)
        if array.flags.c_contiguous:
            yield bits
        elif array.ndim >= 2:  # stored with the last two axes swapped, viewed back
            yield bits.transpose(-1, -2).contiguous().transpose(-1, -2)
        else:  # every other element of a buffer twice as long
            spread = torch.zeros(2 * array.shape[0], dtype=torch.bfloat16)
            spread[::2] = bits
            yield spread[::2]


def _as_float(x):
    return x.float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32)


def _check_shared(mine, theirs):
    """``mine`` (a bfloat16 NumPy array inside an ndgrad tensor) and ``theirs`` (a torch tensor) are one memory."""
    assert mine.dtype == BF16 and theirs.dtype == torch.bfloat16 and mine.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(_as_float(mine), _as_float(theirs))
    assert tuple(s // 2 for s in mine.strides) == theirs.stride() or theirs.numel() <= 1
    if theirs.numel():
        idx = (0,) * theirs.dim()
        theirs[idx] = -2.5
        assert float(mine[idx]) == -2.5  # written by torch, seen by ndgrad
        if mine.flags.writeable:
            mine[idx] = 0.75
            assert theirs[idx].item() == 0.75  # and the other way


@pytest.mark.parametrize("shape", SHAPES)
def test_torch_to_ndgrad_versioned(shape):
    for src in _torch_bf16(shape):
        t = ndgrad.from_dlpack(src)
        assert t.dtype is ndgrad.bfloat16 and t.requires_grad is False and t._data.flags.writeable
        _check_shared(t._data, src)


@pytest.mark.parametrize("shape", SHAPES)
def test_torch_to_ndgrad_legacy_capsule(shape):
    for src in _torch_bf16(shape):
        t = ndgrad.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(src))
        assert t.dtype is ndgrad.bfloat16
        _check_shared(t._data, src)  # read-only: a legacy capsule cannot say the memory may be written


@pytest.mark.parametrize("shape", SHAPES)
def test_ndgrad_to_torch_versioned(shape):
    for array in _bf16_arrays(shape):
        t = ndgrad.from_dlpack(array)  # NumPy's own bfloat16 arrays come in without a copy too
        assert t.dtype is ndgrad.bfloat16 and (array.size == 0 or np.shares_memory(t._data, array))
        capsule = t.__dlpack__(max_version=(1, 0))
        assert "dltensor_versioned" in repr(capsule)
        _check_shared(t._data, torch.utils.dlpack.from_dlpack(capsule))
        _check_shared(t._data, torch.from_dlpack(t))


@pytest.mark.parametrize("shape", SHAPES)
def test_ndgrad_to_torch_legacy_capsule(shape):
    for array in _bf16_arrays(shape):
        t = ndgrad.from_dlpack(array)
        capsule = ndgrad.utils.dlpack.to_dlpack(t)
        assert "dltensor_versioned" not in repr(capsule)
        _check_shared(t._data, torch.utils.dlpack.from_dlpack(capsule))


def test_exported_capsule_says_bfloat16():
    for capsule in (ndgrad.ones(2, dtype=ndgrad.bfloat16).__dlpack__(),
                    ndgrad.ones(2, dtype=ndgrad.bfloat16).__dlpack__(max_version=(1, 0))):
        dtype = _dlpack_bfloat16.capsule_dtype(capsule)
        assert (dtype.code, dtype.bits, dtype.lanes) == (_dlpack_bfloat16.KDL_BFLOAT, 16, 1)
    torch_capsule = torch.ones(2, dtype=torch.bfloat16).__dlpack__()
    dtype = _dlpack_bfloat16.capsule_dtype(torch_capsule)  # the layout matches what PyTorch writes
    assert (dtype.code, dtype.bits, dtype.lanes) == (_dlpack_bfloat16.KDL_BFLOAT, 16, 1)


@pytest.mark.parametrize("dtype", [torch.int16, torch.uint16, torch.float16, torch.float32, torch.uint8])
def test_other_dtypes_are_not_relabelled(dtype):
    importer = _dlpack_bfloat16.BFloat16Importer(torch.arange(3).to(dtype))
    out = np.from_dlpack(importer)
    assert importer.relabelled is False and str(out.dtype) == str(dtype).removeprefix("torch.")
    capsule = torch.ones(2, dtype=dtype).__dlpack__()
    before = _dlpack_bfloat16.capsule_dtype(capsule)
    code = before.code
    assert _dlpack_bfloat16.relabel(capsule, _dlpack_bfloat16.KDL_BFLOAT, _dlpack_bfloat16.KDL_UINT) is False
    assert _dlpack_bfloat16.capsule_dtype(capsule).code == code


def test_consumed_and_foreign_capsules_are_left_alone():
    capsule = torch.ones(2, dtype=torch.bfloat16).__dlpack__()
    ndgrad.utils.dlpack.from_dlpack(capsule)  # consumes it: renamed "used_dltensor"
    assert _dlpack_bfloat16.capsule_dtype(capsule) is None
    assert _dlpack_bfloat16.relabel(capsule, _dlpack_bfloat16.KDL_BFLOAT, _dlpack_bfloat16.KDL_UINT) is False
    assert _dlpack_bfloat16.capsule_dtype(object()) is None


def test_copies_share_nothing():
    src = torch.ones(3, dtype=torch.bfloat16)
    t = ndgrad.from_dlpack(src, copy=True)
    src[0] = 4
    assert t.dtype is ndgrad.bfloat16 and t[0].item() == 1.0
    out = torch.from_dlpack(t, copy=True)
    out[1] = 5
    assert t[1].item() == 1.0


def test_read_only_and_negative_stride_views():
    e = ndgrad.ones(3, dtype=ndgrad.bfloat16).expand(2, 3)
    ref = torch.ones(3, dtype=torch.bfloat16).expand(2, 3)
    assert torch.from_dlpack(e).stride() == ref.stride()  # versioned: the read-only view itself
    np.testing.assert_array_equal(torch.utils.dlpack.from_dlpack(ndgrad.utils.dlpack.to_dlpack(e)).float().numpy(),
                                  ref.float().numpy())  # legacy: a copy
    r = ndgrad.Tensor._wrap(np.arange(5.0, dtype=np.float32).astype(BF16)[::-1])
    np.testing.assert_array_equal(torch.from_dlpack(r).float().numpy(), np.arange(5.0)[::-1])
    check_error(lambda: r.__dlpack__(copy=False), "negative strides", BufferError)


def test_requires_grad_error_matches_torch():
    with pytest.raises(BufferError) as torch_info:
        torch.ones(3, dtype=torch.bfloat16, requires_grad=True).__dlpack__()
    for export in (lambda t: t.__dlpack__(), lambda t: t.__dlpack__(max_version=(1, 0)),
                   ndgrad.utils.dlpack.to_dlpack, ndgrad.from_dlpack, torch.from_dlpack):
        with pytest.raises(BufferError) as info:
            export(ndgrad.ones(3, dtype=ndgrad.bfloat16, requires_grad=True))
        assert str(info.value) == str(torch_info.value)


def test_bfloat16_through_autograd_after_import():
    src = torch.tensor([1.0, -2.0, 3.0], dtype=torch.bfloat16)
    x = ndgrad.from_dlpack(src).requires_grad_()
    (x * x).sum().backward()
    ref = src.clone().requires_grad_()
    (ref * ref).sum().backward()
    assert x.grad.dtype is ndgrad.bfloat16
    np.testing.assert_array_equal(_as_float(x.grad._data), _as_float(ref.grad))


def test_without_ml_dtypes_the_error_names_it(monkeypatch):
    monkeypatch.setattr(ndgrad.dtypes, "bfloat16", None)  # as if ml_dtypes were not installed
    check_error(lambda: ndgrad.from_dlpack(torch.ones(2, dtype=torch.bfloat16)), "pip install ml_dtypes", TypeError)

"""DLPack round trips with JAX (CPU): values, dtypes, and zero-copy where JAX allows it.

JAX arrays are immutable, so what ndgrad imports from JAX is a read-only view of JAX's buffer; JAX imports
ndgrad memory without a copy only when it is 64-byte aligned (otherwise it copies, or refuses with copy=False).
"""
import numpy as np
import pytest

import ndgrad
import ndgrad.utils.dlpack
from oracle import noncontiguous, random_array

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

DTYPES = ["float32", "float64", "int32", "bool", "bfloat16", "complex64", "float16", "int64", "uint8", "complex128"]
SHAPES = [(), (0,), (1,), (3, 4), (2, 1, 3)]


@pytest.fixture(autouse=True)
def _jax_x64():
    with jax.enable_x64(True):  # without it JAX turns 64-bit data into 32-bit on import
        yield


def _np_dtype(dtype):
    return ndgrad.bfloat16.np if dtype == "bfloat16" else np.dtype(dtype)


def _random(shape, dtype):
    if dtype == "bfloat16":
        return random_array(shape, "float32").astype(_np_dtype(dtype))
    if dtype.startswith("complex"):
        return (random_array(shape, "float64") + 1j * random_array(shape, "float64")).astype(dtype)
    return random_array(shape, dtype, low=0, high=5)


def _aligned(array, alignment=64):
    """A C-contiguous copy of ``array`` starting on an ``alignment``-byte boundary (what JAX shares)."""
    room = np.empty(array.nbytes + alignment, np.uint8)
    start = -room.ctypes.data % alignment
    out = room[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def _address(x):
    return x._data.ctypes.data if isinstance(x, ndgrad.Tensor) else x.unsafe_buffer_pointer()


def _same(t, j):
    assert t.dtype is getattr(ndgrad, dtype_key(j.dtype)) and tuple(t.shape) == j.shape
    np.testing.assert_array_equal(np.asarray(t._data), np.asarray(j))


def dtype_key(np_dtype):
    return "bool" if np_dtype == np.bool_ else str(np_dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_jax_to_ndgrad_shares_the_buffer(dtype, shape):
    j = jnp.asarray(_random(shape, dtype))
    assert str(j.dtype) == dtype
    for t in (ndgrad.from_dlpack(j), ndgrad.utils.dlpack.from_dlpack(j.__dlpack__())):  # versioned, legacy
        _same(t, j)
        assert t.requires_grad is False and not t._data.flags.writeable  # JAX buffers are immutable
        if j.size:
            assert _address(t) == _address(j)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_ndgrad_to_jax_zero_copy_when_aligned(dtype, shape):
    t = ndgrad.from_dlpack(_aligned(_random(shape, dtype)))
    j = jnp.from_dlpack(t, copy=False if t.numel() else None)  # an empty array has no buffer to align
    _same(t, j)
    if j.size:
        assert _address(j) == _address(t)
        idx = (0,) * len(shape)
        t._data[idx] = not t._data[idx] if dtype == "bool" else 3
        assert np.asarray(j)[idx] == t._data[idx]  # JAX reads the memory ndgrad wrote
    back = ndgrad.from_dlpack(j)  # and the round trip comes back to the same memory
    _same(back, j)
    if j.size:
        assert _address(back) == _address(t)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ndgrad_to_jax_copies_unaligned_memory(dtype):
    array = _aligned(_random((9,), dtype))[1:]  # one element past a 64-byte boundary: JAX must copy
    t = ndgrad.from_dlpack(array)
    j = jnp.from_dlpack(t)
    _same(t, j)
    assert _address(j) != _address(t)
    with pytest.raises(ValueError, match="aligned"):
        jnp.from_dlpack(t, copy=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (2, 1, 3), (4, 1)])
def test_non_contiguous_ndgrad_to_jax(dtype, shape):
    view = noncontiguous(_random(shape, dtype))  # the last two axes stored swapped
    t = ndgrad.from_dlpack(view)
    assert not t.is_contiguous() or 1 in shape
    j = jnp.from_dlpack(t)
    _same(t, j)
    _same(ndgrad.from_dlpack(j), j)


def test_strided_slices_need_contiguous_for_jax():
    t = ndgrad.arange(12.0)[::2]
    with pytest.raises(Exception, match="striding"):  # JAX's own limit: only transpositions of a dense buffer
        jnp.from_dlpack(t)
    _same(t, jnp.from_dlpack(t.contiguous()))


def test_ndgrad_results_of_jax_inputs_go_back():
    x = ndgrad.from_dlpack(jnp.linspace(-1.0, 1.0, 5, dtype=jnp.bfloat16)).float().requires_grad_()
    y = (x * x).sum()
    y.backward()
    grad = jnp.from_dlpack(x.grad)
    np.testing.assert_array_equal(np.asarray(grad), np.asarray(jax.grad(lambda v: (v * v).sum())(
        jnp.linspace(-1.0, 1.0, 5, dtype=jnp.bfloat16).astype(jnp.float32))))

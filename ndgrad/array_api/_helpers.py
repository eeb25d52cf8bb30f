"""Shared plumbing: argument checks, Python-scalar operands, axis normalisation."""
from ..backend import namespace
from ..tensor import Tensor
from ._dtypes import _scalar_dtype, promote


def check_array(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected an array (ndgrad Tensor), got {type(x).__name__}; "
                        f"make one with asarray()")
    return x


def scalar_array(value, dtype, device):
    """A 0-d array holding a Python scalar, on ``device``."""
    return Tensor._wrap(namespace(device).asarray(value, dtype=dtype.np), device)


def operands(op, x1, x2):
    """Two arrays of one dtype from two arrays, or an array and a Python scalar (the standard's promotion)."""
    a1, a2 = isinstance(x1, Tensor), isinstance(x2, Tensor)
    if a1 and a2:
        d = promote(x1.dtype, x2.dtype)
        return (x1 if x1.dtype is d else x1.to(d)), (x2 if x2.dtype is d else x2.to(d))
    if a1 or a2:
        arr, value = (x1, x2) if a1 else (x2, x1)
        d = _scalar_dtype(value, arr.dtype)
        arr = arr if arr.dtype is d else arr.to(d)
        s = scalar_array(value, d, arr.device)
        return (arr, s) if a1 else (s, arr)
    raise TypeError(f"{op}: at least one argument must be an array, got {type(x1).__name__} and "
                    f"{type(x2).__name__}")


def normalize_axis(axis, ndim, op):
    """A non-negative axis, or a ValueError/IndexError naming the op."""
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"{op}: axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % max(ndim, 1)


def normalize_axes(axis, ndim, op):
    """A tuple of distinct non-negative axes from None (all), an int or a tuple."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = tuple(a % ndim if ndim else 0 for a in axes)
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"{op}: axis {a} is out of range for an array of {ndim} dimensions")
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return out


def wrap_like(array, like):
    """A non-differentiable result array on the device of ``like``."""
    return Tensor._wrap(array, like.device)

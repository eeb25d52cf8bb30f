"""Statistical, utility and searching functions of the standard: ``axis``/``keepdims``, ``std``/``var``
with ``correction=0`` by default, ``cumulative_sum(include_initial=)``, ``nonzero`` as a tuple,
``where`` with Python scalars, ``searchsorted(side=)``."""
import ndgrad as _nd

from .. import dtypes as _dt
from ._dtypes import _scalar_dtype
from ._helpers import check_array, normalize_axes, normalize_axis, operands, scalar_array, wrap_like

__all__ = ["max", "min", "mean", "prod", "std", "sum", "var", "cumulative_sum", "cumulative_prod", "all", "any",
           "diff", "argmax", "argmin", "count_nonzero", "nonzero", "searchsorted", "where"]


def _reduce(fn, x, axis, keepdims, op, **kwargs):
    x = check_array(x, op)
    axes = normalize_axes(axis, x.ndim, op)
    if not axes:  # a reduction over no axes (a 0-d array, or axis=()) keeps every element as it is
        return fn(x.unsqueeze(0), 0, keepdim=False, **kwargs)
    return fn(x, axes, keepdim=keepdims, **kwargs)


def max(x, /, *, axis=None, keepdims=False):
    return _reduce(_nd.amax, x, axis, keepdims, "max")


def min(x, /, *, axis=None, keepdims=False):
    return _reduce(_nd.amin, x, axis, keepdims, "min")


def mean(x, /, *, axis=None, keepdims=False):
    return _reduce(_nd.mean, x, axis, keepdims, "mean")


def _sum_dtype(x, dtype):
    """The standard's accumulator: int64 (the default integer) for signed integers and bool, uint64 (the
    unsigned integer of the default's width) for unsigned ones, else x's dtype."""
    if dtype is not None:
        return dtype
    if x.dtype.category == 1 and not x.dtype.is_signed:
        return _dt.uint64
    if x.dtype.category <= 1:
        return _dt.int64
    return x.dtype


def _integer_reduce(name, x, axes, keepdims, d):
    """An integer sum/prod straight on the backend, wrapping modulo 2**bits of ``d`` (ndgrad's own reductions
    accumulate every integer in int64, which is wrong for uint64 beyond 2**63); integers have no gradient."""
    out = getattr(x.xp, name)(x._data, axis=axes, dtype=d.np, keepdims=keepdims)
    return wrap_like(x.xp.asarray(out, dtype=d.np), x)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    x = check_array(x, "sum")
    d = _sum_dtype(x, dtype)
    if d.category <= 1:
        return _integer_reduce("sum", x, normalize_axes(axis, x.ndim, "sum"), keepdims, d)
    return _reduce(_nd.sum, x, axis, keepdims, "sum", dtype=d)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    x = check_array(x, "prod")
    d = _sum_dtype(x, dtype)
    axes = normalize_axes(axis, x.ndim, "prod")
    if d.category <= 1:
        return _integer_reduce("prod", x, axes, keepdims, d)
    out = x if x.dtype is d else x.to(d)
    out = out.clone() if out is x else out
    for a in sorted(axes, reverse=True):  # one axis at a time: ndgrad's prod takes a single dim
        out = _nd.prod(out, a, keepdim=keepdims)
    return out


def _moments(fn, x, axis, correction, keepdims, op):
    x = check_array(x, op)
    axes = normalize_axes(axis, x.ndim, op)
    if not axes:
        return fn(x.unsqueeze(0), 0, correction=correction, keepdim=False)
    return fn(x, axes, correction=correction, keepdim=keepdims)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return _moments(_nd.std, x, axis, correction, keepdims, "std")


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    return _moments(_nd.var, x, axis, correction, keepdims, "var")


def _cumulative(fn, backend_fn, x, axis, dtype, include_initial, op, initial):
    x = check_array(x, op)
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{op}: axis is required for a {x.ndim}-d array")
        axis = 0
    if x.ndim == 0:
        raise ValueError(f"{op}: expected an array of at least 1 dimension, got a 0-d array")
    axis = normalize_axis(axis, x.ndim, op)
    d = _sum_dtype(x, dtype)
    if d.category <= 1:  # integers straight on the backend, wrapping in d (see _integer_reduce)
        out = wrap_like(getattr(x.xp, backend_fn)(x._data, axis=axis, dtype=d.np), x)
    else:
        x = x if x.dtype is d else x.to(d)
        out = fn(x, axis) if x.shape[axis] else x.clone()
    if include_initial:
        shape = list(x.shape)
        shape[axis] = 1
        out = _nd.cat([_nd.full(tuple(shape), initial, dtype=d, device=x.device), out], axis)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(_nd.cumsum, "cumsum", x, axis, dtype, include_initial, "cumulative_sum", 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(_nd.cumprod, "cumprod", x, axis, dtype, include_initial, "cumulative_prod", 1)


def all(x, /, *, axis=None, keepdims=False):
    x = check_array(x, "all")
    axes = normalize_axes(axis, x.ndim, "all")
    return wrap_like(x.xp.all(x._data != 0, axis=axes, keepdims=keepdims), x)


def any(x, /, *, axis=None, keepdims=False):
    x = check_array(x, "any")
    axes = normalize_axes(axis, x.ndim, "any")
    return wrap_like(x.xp.any(x._data != 0, axis=axes, keepdims=keepdims), x)


def count_nonzero(x, /, *, axis=None, keepdims=False):
    x = check_array(x, "count_nonzero")
    axes = normalize_axes(axis, x.ndim, "count_nonzero")
    count = x.xp.sum(x._data != 0, axis=axes, keepdims=keepdims, dtype="int64")
    return wrap_like(x.xp.asarray(count), x)


def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    x = check_array(x, "diff")
    if x.ndim == 0:
        raise ValueError("diff: expected an array of at least 1 dimension")
    if n < 0:
        raise ValueError(f"diff: n must be non-negative, got {n}")
    axis = normalize_axis(axis, x.ndim, "diff")
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = _nd.cat([p if p.dtype is x.dtype else p.to(x.dtype) for p in parts], axis)
    for _ in range(n):
        if x.shape[axis] == 0:
            break
        later, earlier = x.narrow(axis, 1, x.shape[axis] - 1), x.narrow(axis, 0, x.shape[axis] - 1)
        x = later != earlier if x.dtype is _dt.bool_ else later - earlier  # bool: "changed", as NumPy
    return x


def _arg(name, x, axis, keepdims):
    x = check_array(x, name)
    if x.numel() == 0:
        raise ValueError(f"{name}: the array is empty (shape {tuple(x.shape)}), so it has no {name[3:]}imum")
    fn = getattr(x.xp, name)
    if axis is None:
        out = fn(x._data.reshape(-1))
        if keepdims:
            out = x.xp.asarray(out).reshape((1,) * x.ndim)
    else:
        out = fn(x._data, axis=normalize_axis(axis, x.ndim, name), keepdims=keepdims)
    return wrap_like(x.xp.asarray(out, dtype="int64"), x)


def argmax(x, /, *, axis=None, keepdims=False):
    return _arg("argmax", x, axis, keepdims)


def argmin(x, /, *, axis=None, keepdims=False):
    return _arg("argmin", x, axis, keepdims)


def nonzero(x, /):
    x = check_array(x, "nonzero")
    if x.ndim == 0:
        raise ValueError("nonzero: a 0-d array is not allowed; reshape it to 1-d first")
    return tuple(wrap_like(i.astype("int64"), x) for i in x.xp.nonzero(x._data))


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    x1, x2 = check_array(x1, "searchsorted"), x2
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if not isinstance(x2, _nd.Tensor):
        x2 = scalar_array(x2, _scalar_dtype(x2, x1.dtype), x1.device)
    a, v = operands("searchsorted", x1, x2)
    data = a._data if sorter is None else a._data[sorter._data]
    return wrap_like(a.xp.asarray(a.xp.searchsorted(data, v._data, side=side), dtype="int64"), a)


def where(condition, x1, x2, /):
    condition = check_array(condition, "where")
    a, b = operands("where", x1, x2)
    return _nd.where(condition if condition.dtype is _dt.bool_ else condition != 0, a, b)


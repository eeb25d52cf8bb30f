"""Set and sorting functions of the standard: named-tuple ``unique_*`` results with NaNs kept distinct,
and ``sort``/``argsort`` that are stable by default and stay stable when descending."""
from collections import namedtuple

import ndgrad as _nd

from ._helpers import check_array, normalize_axis, wrap_like

__all__ = ["unique_all", "unique_counts", "unique_inverse", "unique_values", "argsort", "sort"]

UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _unique(x, op):
    x = check_array(x, op)
    flat = x._data.reshape(-1)
    values, index, inverse, counts = x.xp.unique(flat, return_index=True, return_inverse=True,
                                                 return_counts=True, equal_nan=False)
    as_index = lambda a: wrap_like(x.xp.asarray(a, dtype="int64"), x)  # noqa: E731
    return (wrap_like(values, x), as_index(index), as_index(inverse.reshape(x._data.shape)), as_index(counts))


def unique_all(x, /):
    return UniqueAllResult(*_unique(x, "unique_all"))


def unique_counts(x, /):
    values, _, _, counts = _unique(x, "unique_counts")
    return UniqueCountsResult(values, counts)


def unique_inverse(x, /):
    values, _, inverse, _ = _unique(x, "unique_inverse")
    return UniqueInverseResult(values, inverse)


def unique_values(x, /):
    return _unique(x, "unique_values")[0]


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    """Indices that sort ``x`` along ``axis``; equal elements keep their order, also when descending."""
    x = check_array(x, "argsort")
    if x.ndim == 0:
        return wrap_like(x.xp.zeros((), dtype="int64"), x)
    axis = normalize_axis(axis, x.ndim, "argsort")
    xp, data = x.xp, x._data
    if not descending:
        return wrap_like(xp.argsort(data, axis=axis, kind="stable").astype("int64"), x)
    # Descending and stable: sort the reversed array ascending, reverse that order, map positions back.
    n = data.shape[axis]
    rev = xp.flip(data, axis=axis)
    order = xp.flip(xp.argsort(rev, axis=axis, kind="stable"), axis=axis)
    return wrap_like((n - 1 - order).astype("int64"), x)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    """``x`` sorted along ``axis`` (differentiable: it gathers ``x`` by ``argsort``)."""
    x = check_array(x, "sort")
    if x.ndim == 0:
        return x.clone()
    axis = normalize_axis(axis, x.ndim, "sort")
    return _nd.take_along_dim(x, argsort(x, axis=axis, descending=descending, stable=stable), axis)

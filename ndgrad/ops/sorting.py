"""Sorting and searching: sort, topk, kthvalue, median, quantile, mode, unique, searchsorted, cummax, ...
(the histograms and bincount live in ops/histograms.py and are exported from here).

Every op that returns values picked from its input (sort, topk, kthvalue,
median with a dim, mode, cummax, cummin) computes the positions first on raw
arrays, then gathers the values through ``TakeFlat`` from ops/index.py: the
gradient flows back to the source positions by scatter-add, and twice
differentiable for free. Orderings follow PyTorch: NaN sorts above every
number, and sorting is stable (ties keep their input order).
"""
from collections import namedtuple

from ..autograd import node as _node
from ..autograd.node import Node
from ..backend import np, to_device
from .histograms import bincount, histc, histogram, histogramdd
from .index import TakeFlat, _dim_positions
from .shape import normalize_dim

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "quantile",
           "nanquantile", "unique", "unique_consecutive", "searchsorted", "bucketize", "histc", "histogram",
           "histogramdd", "bincount", "isin", "cummax", "cummin", "logcumsumexp"]


def _result_type(name, fields=("values", "indices")):
    """A named tuple like torch.return_types.<name>: fields by name, and tuple unpacking."""
    cls = namedtuple(name, fields)
    cls.__module__ = "ndgrad.return_types"
    return cls


_SORT, _TOPK, _KTH = _result_type("sort"), _result_type("topk"), _result_type("kthvalue")
_MEDIAN, _NANMEDIAN, _MODE = _result_type("median"), _result_type("nanmedian"), _result_type("mode")
_CUMMAX, _CUMMIN = _result_type("cummax"), _result_type("cummin")


def _wrap(array, like):
    return _node.Tensor._wrap(array, like._device)


def _long(xp, array):
    return array.astype(xp.int64, copy=False)


def _dim_of(input, dim, op):
    """dim normalised; a 0-d tensor behaves as one element along dim 0 (-1 allowed too)."""
    return normalize_dim(dim, max(input.ndim, 1), op)


def _as_1d(input):
    """(raw array with at least one dim, whether it was 0-d)."""
    data = input._data
    return (data.reshape(1), True) if data.ndim == 0 else (data, False)


def _gather(input, idx, d, was_0d):
    """input's values at ``idx`` (an int array) along ``d``, differentiably (scatter-add backward)."""
    shape = (1,) if was_0d else tuple(input.shape)
    return TakeFlat(_dim_positions(input.xp, idx, d, shape)).apply(input)


def _pick(input, data, idx, d, was_0d, keepdim):
    """(values, indices) at ``idx`` (one per row, keepdims form) along d, squeezed unless keepdim."""
    xp = input.xp
    if was_0d:
        idx = idx.reshape(())
    elif not keepdim:   # gather at the kept-dim positions, squeezed: one node, no reshape
        positions = xp.squeeze(_dim_positions(xp, idx, d, tuple(input.shape)), d)
        return TakeFlat(positions).apply(input), _wrap(_long(xp, xp.squeeze(idx, d)), input)
    return _gather(input, idx, d, was_0d), _wrap(_long(xp, idx), input)


# -- sort and friends --------------------------------------------------------------------------------

def stable_argsort(xp, a, axis=-1):
    """A stable argsort on either backend (CuPy's argsort is always stable and takes no kind)."""
    return xp.argsort(a, axis=axis, kind="stable") if xp is np else xp.argsort(a, axis=axis)


def _argsort(xp, a, axis, descending):
    """Stable argsort; descending keeps ties in input order (sort the reversed array, reverse back)."""
    if not descending:
        return stable_argsort(xp, a, axis)
    n = a.shape[axis]
    rev = xp.flip(stable_argsort(xp, xp.flip(a, axis), axis), axis)
    return (n - 1) - rev


def _check_sortable(input, op):
    if input.dtype.np.kind == "c":
        raise RuntimeError(f"{op}: complex tensors have no order (dtype {input.dtype}); sort .real or .abs()")


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim``; ties keep their input order (always stable)."""
    _check_sortable(input, "sort")
    d = _dim_of(input, dim, "sort")
    data, was_0d = _as_1d(input)
    idx = _argsort(input.xp, data, d, descending)
    if was_0d:
        idx = idx.reshape(())
    return _SORT(_gather(input, idx, d, was_0d), _wrap(_long(input.xp, idx), input))


def argsort(input, dim=-1, descending=False, stable=False):
    """The int64 indices that sort ``input`` along ``dim`` (stable)."""
    _check_sortable(input, "argsort")
    d = _dim_of(input, dim, "argsort")
    data, was_0d = _as_1d(input)
    idx = _argsort(input.xp, data, d, descending)
    return _wrap(_long(input.xp, idx.reshape(input.shape)), input)


def msort(input):
    """``sort(input, dim=0).values``."""
    return sort(input, dim=0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the ``k`` largest (or smallest) entries along ``dim``, in sorted order."""
    _check_sortable(input, "topk")
    d = _dim_of(input, dim, "topk")
    data, was_0d = _as_1d(input)
    n = data.shape[d]
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k out of range: k={k} but dim {d} has size {n} "
                           f"(shape {tuple(input.shape)}); k must be in 0..{n}")
    idx = _topk_positions(input.xp, data, k, d, largest)
    if was_0d:
        idx = idx.reshape(())
    return _TOPK(_gather(input, idx, d, was_0d), _wrap(_long(input.xp, idx), input))


def _topk_positions(xp, data, k, d, largest):
    """The positions of the k largest (smallest) entries along d, in sorted order.

    For small k (top-k sampling over a vocabulary) a partition first keeps the sort to k entries."""
    n = data.shape[d]
    if n < 64 or 4 * k > n or data.dtype.kind not in "fiu":
        return xp.take(_argsort(xp, data, d, largest), xp.arange(k), axis=d)
    part = xp.argpartition(data, n - k if largest else k - 1, axis=d)   # NaN counts as the largest
    keep = xp.take(part, xp.arange(n - k, n) if largest else xp.arange(k), axis=d)
    order = _argsort(xp, xp.take_along_axis(data, keep, axis=d), d, largest)
    return xp.take_along_axis(keep, order, axis=d)


def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices) of the ``k``-th smallest entry (1-based) along ``dim``."""
    _check_sortable(input, "kthvalue")
    d = _dim_of(input, dim, "kthvalue")
    data, was_0d = _as_1d(input)
    n = data.shape[d]
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}: k={k} but the "
                           f"dim has size {n} (shape {tuple(input.shape)}); k counts from 1 to {n}")
    order = _argsort(input.xp, data, d, False)
    idx = input.xp.take(order, input.xp.asarray([k - 1]), axis=d)
    return _KTH(*_pick(input, data, idx, d, was_0d, keepdim))


class _EvenlySelected(Node):
    """A value picked from x (0-d); its gradient is shared evenly by all entries equal to it (PyTorch's
    rule for median()/nanmedian() without a dim)."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def forward(self, x):
        return self.value

    def backward(self, grad):
        xp = self.xp
        x = self.input(0)._data
        hit = (x == self.value) | (xp.isnan(x) & xp.isnan(self.value))
        count = max(int(hit.sum()), 1)
        return grad * _node.Tensor._wrap(hit.astype(x.dtype), self.device) / count


def _median_positions(xp, sorted_data, d, ignore_nan):
    """Per row (keepdims): the sorted position of the lower median; NaN rows point at their first NaN."""
    n = sorted_data.shape[d]
    valid = xp.sum(~xp.isnan(sorted_data), axis=d, keepdims=True) if sorted_data.dtype.kind in "fc" \
        else xp.full(tuple(1 if i == d else s for i, s in enumerate(sorted_data.shape)), n)
    if ignore_nan:
        return xp.where(valid > 0, (valid - 1) // 2, (n - 1) // 2)
    return xp.where(valid < n, valid, (n - 1) // 2)


def _median(input, dim, keepdim, ignore_nan, op, result):
    _check_sortable(input, op)
    xp = input.xp
    if dim is None:
        flat = input._data.reshape(-1)
        if flat.size == 0:
            return _wrap(xp.asarray(float("nan"), dtype=input._data.dtype), input)
        order = stable_argsort(xp, flat)
        pos = _median_positions(xp, flat[order], 0, ignore_nan)
        value = flat[order[pos]].reshape(())
        return _EvenlySelected(value).apply(input)
    d = _dim_of(input, dim, op)
    data, was_0d = _as_1d(input)
    if data.shape[d] == 0:
        raise IndexError(f"{op}(): cannot compute the median along dim {d} of size 0 (shape "
                         f"{tuple(input.shape)}); the dim has no entries")
    order = stable_argsort(xp, data, d)
    pos = _median_positions(xp, xp.take_along_axis(data, order, axis=d), d, ignore_nan)
    idx = xp.take_along_axis(order, pos, axis=d)
    return result(*_pick(input, data, idx, d, was_0d, keepdim))


def median(input, dim=None, keepdim=False):
    """The lower median: of all entries (a 0-d tensor), or (values, indices) along ``dim``; NaN propagates."""
    return _median(input, dim, keepdim, False, "median", _MEDIAN)


def nanmedian(input, dim=None, keepdim=False):
    """``median`` that ignores NaN (NaN only where a row is all NaN)."""
    return _median(input, dim, keepdim, True, "nanmedian", _NANMEDIAN)


def mode(input, dim=-1, keepdim=False):
    """(values, indices) of the most frequent value along ``dim``: the smallest such value on a tie,
    and its last position in the input."""
    _check_sortable(input, "mode")
    xp = input.xp
    d = _dim_of(input, dim, "mode")
    data, was_0d = _as_1d(input)
    if data.shape[d] == 0:
        raise IndexError(f"mode(): cannot compute the mode along dim {d} of size 0 (shape "
                         f"{tuple(input.shape)})")
    moved = xp.moveaxis(data, d, -1)
    rows, n = moved.reshape(-1, moved.shape[-1]).shape
    order = stable_argsort(xp, moved.reshape(rows, n), -1)
    sorted_rows = xp.take_along_axis(moved.reshape(rows, n), order, axis=-1)
    starts = xp.ones((rows, n), dtype=bool)
    starts[:, 1:] = sorted_rows[:, 1:] != sorted_rows[:, :-1]
    run = xp.cumsum(starts, axis=1) - 1                     # run number of each sorted entry
    flat_run = (run + xp.arange(rows)[:, None] * n).reshape(-1)
    lengths = xp.bincount(flat_run, minlength=rows * n).reshape(rows, n)
    length_at = xp.take_along_axis(lengths, run, axis=1)
    first = xp.argmax(length_at, axis=1)                    # first entry of the longest (smallest) run
    last = first + xp.take_along_axis(length_at, first[:, None], axis=1)[:, 0] - 1
    idx = xp.take_along_axis(order, last[:, None], axis=1)  # stable sort: the run's last input position
    idx = xp.moveaxis(idx.reshape(moved.shape[:-1] + (1,)), -1, d)
    return _MODE(*_pick(input, data, idx, d, was_0d, keepdim))


# -- quantiles --------------------------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_array(input, q, op):
    """(q as a 1-d raw array, whether q was a scalar), checked against PyTorch's rules."""
    Tensor = _node.Tensor
    xp = input.xp
    if isinstance(q, Tensor):
        if q.dtype != input.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor: q is {q.dtype}, input "
                               f"is {input.dtype}; convert q with .to({input.dtype})")
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got shape {tuple(q.shape)}")
        arr, scalar = q._data.reshape(-1), q.ndim == 0
    else:
        arr, scalar = xp.asarray([float(q)], dtype=input._data.dtype), True
    if arr.size and (bool(xp.any(arr < 0)) or bool(xp.any(arr > 1)) or bool(xp.any(xp.isnan(arr)))):
        bad = [v for v in arr.tolist() if not 0 <= v <= 1][0]
        raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {bad}")
    return arr, scalar


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, op):
    from . import elementwise as ew
    if not input.dtype.is_floating_point or input.dtype.itemsize < 4:
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype, got {input.dtype}")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    xp = input.xp
    qs, scalar_q = _q_array(input, q, op)
    if input.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty (shape {tuple(input.shape)})")
    if dim is None:
        x = input.reshape(-1)
        rest = (1,) * input.ndim if keepdim else ()
    else:
        d = _dim_of(input, dim, op)
        x = input.reshape(1) if input.ndim == 0 else input.movedim(d, -1)
        rest = tuple(1 if i == d else n for i, n in enumerate(input.shape) if keepdim or i != d)
    ordered = sort(x, dim=-1).values                      # NaN last
    n = ordered.shape[-1]
    data = ordered._data
    nan_count = xp.sum(xp.isnan(data), axis=-1, keepdims=True)
    if ignore_nan:   # rank among the numbers; a row of NaN reads its first (NaN) entry
        span = xp.maximum(n - nan_count - 1, 0)
    else:            # a row with NaN reads its last entry, a NaN, so NaN comes out (and takes the gradient)
        span = xp.full(nan_count.shape, n - 1)
    ranks = qs * span.astype(data.dtype)                    # (..., nq)
    if not ignore_nan:
        ranks = xp.where(nan_count > 0, data.dtype.type(n - 1), ranks)
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)                             # half to even, as PyTorch
    lo = xp.floor(ranks).astype(xp.int64)
    lo_vals = TakeFlat(_dim_positions(xp, lo, lo.ndim - 1, tuple(ordered.shape))).apply(ordered)
    out = lo_vals
    if interpolation in ("linear", "midpoint"):
        hi = xp.ceil(ranks).astype(xp.int64)
        hi_vals = TakeFlat(_dim_positions(xp, hi, hi.ndim - 1, tuple(ordered.shape))).apply(ordered)
        if interpolation == "midpoint":
            weight = _wrap(xp.where(hi > lo, 0.5, 0.0).astype(data.dtype), input)
        elif isinstance(q, _node.Tensor) and q.requires_grad:
            # the weight is q * span - lo: keep q in the graph so q gets its gradient, as in PyTorch
            has_nan = _wrap(xp.broadcast_to(nan_count > 0, ranks.shape), input) if not ignore_nan else None
            weight = q.reshape(-1) * _wrap(span.astype(data.dtype), input) - _wrap(lo.astype(data.dtype), input)
            if has_nan is not None:
                weight = ew.where(has_nan, 0.0, weight)
        else:
            weight = _wrap((ranks - lo).astype(data.dtype), input)
        out = lo_vals + (hi_vals - lo_vals) * weight
    out = out.movedim(-1, 0)                                # q's dim first: (nq, ...)
    return out.reshape((() if scalar_q else (qs.size,)) + rest)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-th quantiles (q a number or a 1-d tensor in [0, 1]) of all entries or along ``dim``;
    NaN anywhere in a row gives NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` that ignores NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


# -- unique -----------------------------------------------------------------------------------------

def _unique_rows(xp, rows, consecutive):
    """For a 2-d array of rows: (order, starts): a stable lexicographic row order and where new rows begin."""
    n = rows.shape[0]
    order = xp.arange(n)
    if not consecutive:
        for col in range(rows.shape[1] - 1, -1, -1):        # least significant column first (LSD sort)
            order = order[stable_argsort(xp, rows[order, col])]
    ordered = rows[order]
    starts = xp.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = xp.any(ordered[1:] != ordered[:-1], axis=1) if rows.shape[1] else False
    return order, starts


def _unique(input, sorted_, return_inverse, return_counts, dim, consecutive, op):
    xp = input.xp
    data = input._data
    if dim is None:
        rows = data.reshape(-1, 1)
    else:
        d = normalize_dim(dim, input.ndim, op)
        moved = xp.moveaxis(data, d, 0)
        rows = moved.reshape(moved.shape[0], -1)
    order, starts = _unique_rows(xp, rows, consecutive)
    n = rows.shape[0]
    firsts = order[starts]
    if dim is None:
        values = data.reshape(-1)[firsts]
    else:
        values = xp.moveaxis(xp.take(moved, firsts, axis=0), 0, d)
    results = [_wrap(xp.ascontiguousarray(values), input)]
    if return_inverse:
        inverse = xp.empty(n, dtype=xp.int64)
        inverse[order] = xp.cumsum(starts) - 1
        results.append(_wrap(inverse.reshape(data.shape) if dim is None else inverse, input))
    if return_counts:
        bounds = xp.concatenate([xp.flatnonzero(starts), xp.asarray([n])])
        results.append(_wrap(_long(xp, xp.diff(bounds)), input))
    return results[0] if len(results) == 1 else tuple(results)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (or slices along ``dim``) in ascending order; optionally where each input
    entry went (inverse) and how often each value occurs (counts)."""
    return _unique(input, sorted, return_inverse, return_counts, dim, False, "unique")


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive values (or slices along ``dim``) to one."""
    return _unique(input, True, return_inverse, return_counts, dim, True, "unique_consecutive")


# -- searching and counting -------------------------------------------------------------------------

def _values_array(values, like, op):
    """(raw array, was a python scalar) for the values searched for."""
    Tensor = _node.Tensor
    if isinstance(values, Tensor):
        return (values._data if values._device == like._device else to_device(values._data, like._device)), False
    if isinstance(values, (bool, int, float)):
        return like.xp.asarray(values), True
    raise TypeError(f"{op}: the values to search for must be a tensor or a number, got {type(values).__name__}")


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value of ``input`` would go in ``sorted_sequence`` (its last dim) to keep it sorted."""
    xp = sorted_sequence.xp
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of "
                               "left while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    values, _ = _values_array(input, sorted_sequence, "searchsorted")
    if sorter is not None:
        order = sorter._data if isinstance(sorter, _node.Tensor) else xp.asarray(sorter)
        if tuple(order.shape) != tuple(seq.shape):
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same size, but got "
                               f"boundary tensor {list(seq.shape)} and sorter tensor {list(order.shape)}")
        seq = xp.take_along_axis(seq, _long(xp, order), axis=-1)
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but got a 0-d "
                           "boundaries tensor")
    side_name = "right" if right else "left"
    if seq.ndim == 1:
        idx = xp.searchsorted(seq, values, side=side_name)
    else:
        if values.ndim != seq.ndim or tuple(values.shape[:-1]) != tuple(seq.shape[:-1]):
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                               f"dimensions of boundaries tensor and input value tensor must match, but we got "
                               f"boundaries tensor {list(seq.shape)} and input value tensor {list(values.shape)}")
        lead = seq.shape[:-1]
        flat_seq = seq.reshape(-1, seq.shape[-1])
        flat_val = values.reshape(-1, values.shape[-1])
        idx = xp.empty(flat_val.shape, dtype=xp.int64)
        for r in range(flat_seq.shape[0]):      # one binary search per row of boundaries
            idx[r] = xp.searchsorted(flat_seq[r], flat_val[r], side=side_name)
        idx = idx.reshape(lead + (values.shape[-1],))
    idx = xp.asarray(idx).astype(xp.int32 if out_int32 else xp.int64, copy=False)
    return _wrap(idx, sorted_sequence)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value of ``input`` given sorted 1-d ``boundaries`` (searchsorted, other way round)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim}) (shape {tuple(boundaries.shape)})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """A bool tensor: whether each entry of ``elements`` occurs in ``test_elements`` (either may be a number)."""
    Tensor = _node.Tensor
    like = elements if isinstance(elements, Tensor) else test_elements
    if not isinstance(like, Tensor):
        raise TypeError("isin: expected elements or test_elements to be a tensor, got two numbers")
    xp = like.xp
    a, _ = _values_array(elements, like, "isin")
    b, _ = _values_array(test_elements, like, "isin")
    out = xp.isin(a, b.reshape(-1), invert=invert)
    return _wrap(xp.asarray(out), like)


# -- cumulative extremes and logcumsumexp ---------------------------------------------------------

def _scan(xp, ufunc, a, axis):
    """Inclusive prefix ``ufunc`` along axis: ufunc.accumulate where the namespace has it, otherwise a
    log-step (Hillis-Steele) scan."""
    try:
        return ufunc.accumulate(a, axis=axis)
    except (AttributeError, NotImplementedError, TypeError):
        pass
    out = a.copy()
    n = a.shape[axis]
    step = 1
    while step < n:
        head = [slice(None)] * a.ndim
        tail = [slice(None)] * a.ndim
        head[axis], tail[axis] = slice(step, None), slice(None, n - step)
        out[tuple(head)] = ufunc(out[tuple(head)], out[tuple(tail)])
        step *= 2
    return out


def _cum_extreme(input, dim, is_min, result, op):
    _check_sortable(input, op)
    xp = input.xp
    d = _dim_of(input, dim, op)
    data, was_0d = _as_1d(input)
    floating = data.dtype.kind == "f"
    if data.dtype.kind == "b":
        values = _scan(xp, xp.logical_and if is_min else xp.logical_or, data, d)
    else:   # fmin/fmax would skip NaN; minimum/maximum propagate it as PyTorch does
        values = _scan(xp, xp.minimum if is_min else xp.maximum, data, d)
    # the index is the last position where the running extreme was reached (or the last NaN so far)
    shape = [1] * data.ndim
    shape[d] = data.shape[d]
    positions = xp.arange(data.shape[d]).reshape(shape)
    reached = data == values
    if floating:
        reached = reached | xp.isnan(data)
    idx = _scan(xp, xp.maximum, xp.where(reached, positions, 0), d)
    if was_0d:
        idx = idx.reshape(())
    return result(_gather(input, idx, d, was_0d), _wrap(_long(xp, idx), input))


def cummax(input, dim):
    """(values, indices): the running maximum along ``dim`` and where it was reached (latest on ties)."""
    return _cum_extreme(input, dim, False, _CUMMAX, "cummax")


def cummin(input, dim):
    """(values, indices): the running minimum along ``dim`` and where it was reached (latest on ties)."""
    return _cum_extreme(input, dim, True, _CUMMIN, "cummin")


class LogCumSumExp(Node):
    """log(cumsum(exp(x))) along dim, computed by a running logaddexp (never overflows)."""
    __slots__ = ("dim",)
    needs_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return _scan(self.xp, self.xp.logaddexp, x, self.dim)

    def backward(self, grad):
        # d out_i / d x_j = exp(x_j - out_i) for j <= i; the sum over i >= j is a reversed
        # logcumsumexp, done separately for the positive and negative parts of grad to stay in log space.
        from . import elementwise as ew
        x, out = self.input(0), self.output()
        d = self.dim
        # "log 0": very negative but finite, with room left so that subtracting out cannot overflow
        lowest = float(self.xp.finfo(grad._data.dtype).min) / 4

        def reverse_lcse(v):
            return LogCumSumExp(d).apply(v.flip(d)).flip(d)

        log_abs = ew.log(ew.where(grad == 0, 1.0, ew.abs(grad)))
        log_pos = ew.where(grad > 0, log_abs, lowest)
        log_neg = ew.where(grad < 0, log_abs, lowest)
        return ew.exp(reverse_lcse(log_pos - out) + x) - ew.exp(reverse_lcse(log_neg - out) + x)


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input), dim))``, numerically stable."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"logcumsumexp: not implemented for dtype {input.dtype}; convert the input "
                                  f"with .float()")
    d = _dim_of(input, dim, "logcumsumexp")
    if input.ndim == 0:
        return input * 1
    return LogCumSumExp(d).apply(input)


METHODS = {
    "sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "kthvalue": kthvalue, "median": median,
    "nanmedian": nanmedian, "mode": mode, "quantile": quantile, "nanquantile": nanquantile, "unique": unique,
    "unique_consecutive": unique_consecutive, "histc": histc, "histogram": histogram, "bincount": bincount,
    "cummax": cummax, "cummin": cummin, "logcumsumexp": logcumsumexp,
}

"""Scatters with reductions and writes into regions: scatter_reduce, index_reduce, masked_scatter, put,
select/slice/diagonal_scatter.

Everything here turns its index into flat positions of the (C-ordered) input
and reuses the gather / scatter Nodes of ops/index.py (``TakeFlat``,
``PutAddFlat``, ``ScatterFlat``), so gradients scatter back and gather back
exactly, twice differentiably. The one new Node, ``ScatterReduceFlat``, folds
source values into a target with prod / amax / amin.
"""
import math

from ..autograd import node as _node
from ..autograd.node import Node
from ..backend import kernels
from . import elementwise as ew
from .index import (PutAddFlat, ScatterFlat, TakeFlat, _check_bounds, _check_gather_index, _composite_inplace,
                    _dim_positions, _index_along, _index_array, _mask_array, _scatter_src, _write_inplace)
from .shape import broadcast_shapes, expand, normalize_dim
from .sorting import stable_argsort

__all__ = ["scatter_reduce", "index_reduce", "masked_scatter", "put", "select_scatter", "slice_scatter",
           "diagonal_scatter", "as_strided_scatter"]

_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _ufunc(xp, reduce):
    return {"sum": xp.add, "prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}[reduce]


def _reduce_at(xp, reduce, target, positions, values):
    """``target.flat[p] = f(target.flat[p], v)`` for every (p, v), repeats folding in one after another."""
    flat = target.reshape(-1)
    ufunc = _ufunc(xp, reduce)
    try:
        ufunc.at(flat, positions, values)
        return
    except (AttributeError, NotImplementedError, TypeError, ValueError):   # CuPy: not for every ufunc
        pass
    if reduce == "sum":
        kernels.scatter_add(xp, flat, positions, values)
        return
    # Without ufunc.at: rounds in which every position appears at most once (as many rounds as the
    # largest number of repeats of one position).
    while positions.size:
        order = stable_argsort(xp, positions)
        positions, values = positions[order], values[order]
        first = xp.ones(positions.shape, dtype=bool)
        first[1:] = positions[1:] != positions[:-1]
        p = positions[first]
        flat[p] = ufunc(flat[p], values[first])
        positions, values = positions[~first], values[~first]


class ScatterReduceFlat(Node):
    """``target`` with each src value folded in (prod / amax / amin / sum) at its flat position.

    The backward follows PyTorch: amax/amin share the gradient evenly among all values (target's
    and src's) equal to the result; prod passes each factor the product of the others (zeros handled).
    """
    __slots__ = ("positions", "reduce")
    needs_output = True

    def __init__(self, positions, reduce):
        self.positions, self.reduce = positions, reduce

    def forward(self, target, src):
        out = target.copy()
        _reduce_at(self.xp, self.reduce, out, self.positions.reshape(-1), src.reshape(-1))
        return out

    def _take(self, t):
        return TakeFlat(self.positions).apply(t)

    def _put_add(self, t, shape):
        return PutAddFlat(self.positions, shape).apply(t)

    def backward(self, grad):
        target, src, out = self.input(0), self.input(1), self.output()
        if self.reduce == "sum":
            return grad, self._take(grad)
        if self.reduce == "prod":
            return self._prod_backward(grad, target, src, out)
        out = out.detach()
        hit_target = (target == out).to(grad.dtype)
        hit_src = (src == self._take(out)).to(grad.dtype)
        count = hit_target + self._put_add(hit_src, tuple(target.shape))
        share = grad / count
        return share * hit_target, self._take(share) * hit_src

    def _prod_backward(self, grad, target, src, out):
        # d(prod)/d(factor) = product of the other factors: out / factor without zeros; with exactly one
        # zero factor at a position, that factor gets the product of the nonzero ones; with more, zero.
        shape = tuple(target.shape)
        zero_t, zero_s = target == 0, src == 0
        zeros = zero_t.to(grad.dtype) + self._put_add(zero_s.to(grad.dtype), shape)
        nonzero_prod = ScatterReduceFlat(self.positions, "prod").apply(
            ew.where(zero_t, 1.0, target), ew.where(zero_s, 1.0, src))

        def others(factor, is_zero, zeros_here, prod_here, out_here):
            safe = ew.where(is_zero, 1.0, factor)
            return ew.where(zeros_here == 0, out_here / safe,
                            ew.where(is_zero & (zeros_here == 1), prod_here, 0.0))

        g_target = grad * others(target, zero_t, zeros, nonzero_prod, out)
        g_src = self._take(grad) * others(src, zero_s, self._take(zeros), self._take(nonzero_prod), self._take(out))
        return g_target, g_src


def _identity(xp, reduce, dtype):
    """The value a target position starts from when include_self=False."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return float("-inf") if reduce == "amax" else float("inf")
    if dtype.kind == "b":
        return reduce == "amin"
    info = xp.iinfo(dtype)
    return int(info.min) if reduce == "amax" else int(info.max)


def _reduce_into(input, positions, src, reduce, include_self, op):
    """The shared core of scatter_reduce and index_reduce: ``positions`` has src's shape."""
    xp = input.xp
    if reduce not in _REDUCES:
        raise RuntimeError(f"{op}: reduce argument must be either sum, prod, mean, amax or amin, got {reduce!r}")
    if src.dtype.np != input._data.dtype:
        raise RuntimeError(f"{op}: expected self.dtype to be equal to src.dtype, got {input.dtype} and "
                           f"{src.dtype}; convert src with .to({input.dtype})")
    shape = tuple(input.shape)
    hits = xp.bincount(positions.reshape(-1), minlength=math.prod(shape)).reshape(shape)
    base = input
    if not include_self:
        base = input.masked_fill(_node.Tensor._wrap(hits > 0, input._device),
                                 _identity(xp, reduce, input._data.dtype))
    out = ScatterReduceFlat(positions, "sum" if reduce == "mean" else reduce).apply(base, src)
    if reduce != "mean":
        return out
    count = hits + (1 if include_self else 0)
    count = _node.Tensor._wrap(xp.maximum(count, 1).astype(input._data.dtype), input._device)
    if input.dtype.is_floating_point:
        return out / count
    return ew.floor_divide(out, count)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with each ``src`` value reduced (sum/prod/mean/amax/amin) into ``index`` along ``dim``."""
    d, idx = _check_gather_index(input, dim, index, "scatter_reduce", other=src)
    positions = _dim_positions(input.xp, idx, d, tuple(input.shape))
    return _reduce_into(input, positions, _scatter_src(src, idx), reduce, include_self, "scatter_reduce")


scatter_reduce_ = _composite_inplace("scatter_reduce_", scatter_reduce)


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with the slices of ``source`` reduced (prod/mean/amax/amin) into ``index`` along ``dim``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
                           f"{reduce}.")
    d, idx = _index_along(input, dim, index, "index_reduce")
    want = list(input.shape)
    if want:
        want[d] = idx.size
    if list(source.shape) != want:
        raise RuntimeError(f"index_reduce(): source of shape {tuple(source.shape)} should have shape "
                           f"{tuple(want)}: the input's shape {tuple(input.shape)} with dim {d} of the index's "
                           f"length {idx.size}")
    xp = input.xp
    along = [1] * input.ndim
    if along:
        along[d] = idx.size
    full_idx = xp.broadcast_to(idx.reshape(along), tuple(want)) if want else idx.reshape(())
    positions = _dim_positions(xp, full_idx, d, tuple(input.shape))
    return _reduce_into(input, positions, source, reduce, include_self, "index_reduce")


index_reduce_ = _composite_inplace("index_reduce_", index_reduce)


# -- masked_scatter and put -----------------------------------------------------------------------------

def _masked_scatter_parts(input, mask, source, op):
    xp = input.xp
    m = _mask_array(mask, input, op)
    shape = broadcast_shapes(tuple(input.shape), tuple(m.shape), op=op)
    positions = xp.flatnonzero(xp.broadcast_to(m, shape))
    n = positions.size
    if source.numel() < n:
        raise RuntimeError(f"{op}: Number of elements of source < number of ones in mask: source has "
                           f"{source.numel()} elements (shape {tuple(source.shape)}) but the mask selects {n}; "
                           f"give a source with at least {n} elements")
    if source.dtype.np != input._data.dtype:
        raise RuntimeError(f"{op}: expected self and source to have the same dtype, got {input.dtype} and "
                           f"{source.dtype}; convert source with .to({input.dtype})")
    firsts = TakeFlat(xp.arange(n)).apply(source)   # the first n source values, in C order
    return shape, positions, firsts


def masked_scatter(input, mask, source):
    """``input`` with the positions where ``mask`` is True filled, in order, from ``source``'s values."""
    shape, positions, firsts = _masked_scatter_parts(input, mask, source, "masked_scatter")
    x = expand(input, shape) if shape != tuple(input.shape) else input
    return ScatterFlat(positions).apply(x, firsts)


def masked_scatter_(input, mask, source):
    shape, positions, firsts = _masked_scatter_parts(input, mask, source, "masked_scatter_")
    if shape != tuple(input.shape):
        raise RuntimeError(f"masked_scatter_: the mask of shape {tuple(mask.shape)} must broadcast to the "
                           f"tensor's shape {tuple(input.shape)} for an in-place write")
    return _write_inplace(input, ScatterFlat(positions), firsts, "masked_scatter_")


def _put_parts(input, index, source, op):
    idx = _index_array(index, input, op)
    if idx.dtype.kind == "b":
        raise RuntimeError(f"{op}: expected an integer (int64) index, got a bool tensor")
    if idx.size != source.numel():
        raise IndexError(f"{op}: Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {idx.size}")
    if source.dtype.np != input._data.dtype:
        raise RuntimeError(f"{op}: expected self and source to have the same dtype, got {input.dtype} and "
                           f"{source.dtype}; convert source with .to({input.dtype})")
    positions = _check_bounds(idx.reshape(-1), input.numel(), 0, op)
    return positions, source.reshape(-1)


def put(input, index, source, accumulate=False):
    """``input`` with ``source`` written (or added, with accumulate) at the flat positions ``index``."""
    positions, values = _put_parts(input, index, source, "put")
    return ScatterFlat(positions, accumulate=accumulate).apply(input, values)


def put_(input, index, source, accumulate=False):
    positions, values = _put_parts(input, index, source, "put_")
    return _write_inplace(input, ScatterFlat(positions, accumulate=accumulate), values, "put_")


# -- writing one region: select / slice / diagonal ----------------------------------------------------

def _region_scatter(input, src, positions, op):
    """A copy of ``input`` with the region at ``positions`` (an int array of the region's shape) set to src."""
    if tuple(src.shape) != tuple(positions.shape):
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(positions.shape)}")
    if src.dtype != input.dtype:
        src = src.to(input.dtype)
    return ScatterFlat(input.xp.ascontiguousarray(positions)).apply(input, src)


def _flat_grid(input):
    xp = input.xp
    return xp.arange(math.prod(input.shape), dtype=xp.int64).reshape(tuple(input.shape))


def select_scatter(input, src, dim, index):
    """A copy of ``input`` with ``input.select(dim, index)`` replaced by ``src``."""
    d = normalize_dim(dim, input.ndim, "select_scatter")
    size = input.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select_scatter: index {index} out of range for tensor of size {tuple(input.shape)} "
                         f"at dimension {d}")
    grid = input.xp.take(_flat_grid(input), index % size, axis=d)
    return _region_scatter(input, src, grid, "select_scatter")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of ``input`` with the slice ``start:end:step`` along ``dim`` replaced by ``src``."""
    d = normalize_dim(dim, input.ndim, "slice_scatter")
    if step is None:
        step = 1
    if step <= 0:
        raise RuntimeError(f"slice_scatter: slice step must be positive, got {step}")
    where = [slice(None)] * input.ndim
    where[d] = slice(start, end, step)
    return _region_scatter(input, src, _flat_grid(input)[tuple(where)], "slice_scatter")


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of ``input`` with its diagonal (as ``input.diagonal(offset, dim1, dim2)``) replaced by ``src``."""
    d1 = normalize_dim(dim1, input.ndim, "diagonal_scatter")
    d2 = normalize_dim(dim2, input.ndim, "diagonal_scatter")
    if d1 == d2:
        raise RuntimeError(f"diagonal_scatter: diagonal dimensions cannot be identical {dim1}, {dim2}")
    grid = input.xp.diagonal(_flat_grid(input), offset, d1, d2)
    return _region_scatter(input, src, grid, "diagonal_scatter")


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """A copy of ``input`` with the elements that ``as_strided(size, stride, storage_offset)`` reads
    replaced by ``src`` (strides count in the input's own C-order elements)."""
    from .shape_extra import check_strided, strided_positions
    size, stride, offset = check_strided(input, size, stride, storage_offset, "as_strided_scatter")
    positions = strided_positions(input.xp, tuple(input.shape), size, stride, offset)
    return _region_scatter(input, src, positions, "as_strided_scatter")


def fill_diagonal_(input, fill_value, wrap=False):
    """Write ``fill_value`` on the main diagonal, in place (a tall matrix restarts it every cols+1 rows
    with ``wrap=True``); an n-d input must have all dims equal."""
    shape = tuple(input.shape)
    if input.ndim < 2:
        raise RuntimeError(f"fill_diagonal_: dimensions must larger than 1, got shape {shape}")
    if input.ndim > 2 and len(set(shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal length, got shape {shape}")
    xp = input.xp
    strides = [math.prod(shape[d + 1:]) for d in range(input.ndim)]
    step = sum(strides)                 # one step along every dim at once
    count = min(shape)
    if wrap and input.ndim == 2 and shape[0] > shape[1]:
        count = -(-input.numel() // step)   # keep going down the rows, one column block after another
    positions = xp.arange(count, dtype=xp.int64) * step
    positions = positions[positions < input.numel()]
    return _write_inplace(input, ScatterFlat(positions, scalar=fill_value), None, "fill_diagonal_")


METHODS = {
    "scatter_reduce": scatter_reduce, "scatter_reduce_": scatter_reduce_, "index_reduce": index_reduce,
    "index_reduce_": index_reduce_, "masked_scatter": masked_scatter, "masked_scatter_": masked_scatter_,
    "put": put, "put_": put_, "select_scatter": select_scatter, "slice_scatter": slice_scatter,
    "diagonal_scatter": diagonal_scatter, "as_strided_scatter": as_strided_scatter, "fill_diagonal_": fill_diagonal_,
}

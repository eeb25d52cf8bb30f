"""Histograms and counting: histc, histogram, histogramdd, bincount (exported through ops/sorting.py).

Binning is done against the explicit bin edges (``searchsorted``), so a value on an
edge lands in the bin PyTorch puts it in; the last bin includes its right edge.
None of these results is differentiable.
"""
import math
from collections import namedtuple

from ..autograd import node as _node

_HISTOGRAM = namedtuple("histogram", ("hist", "bin_edges"))
_HISTOGRAMDD = namedtuple("histogramdd", ("hist", "bin_edges"))
_HISTOGRAM.__module__ = _HISTOGRAMDD.__module__ = "ndgrad.return_types"


def _wrap(array, like):
    return _node.Tensor._wrap(array, like._device)


def _long(xp, array):
    return array.astype(xp.int64, copy=False)


def _check_float(input, op):
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"{op}: not implemented for dtype {input.dtype}; histograms need a "
                                  f"floating-point input, convert it with .float()")


def _bin_counts(xp, data, edges, weight, out_dtype):
    """Counts (or summed weights) of ``data`` in the bins between sorted ``edges``; the last bin is closed."""
    bins = edges.shape[0] - 1
    flat = data.reshape(-1)
    pos, inside = _bin_of(xp, flat, edges)
    w = xp.ones(flat.shape, dtype=out_dtype) if weight is None else weight.reshape(-1).astype(out_dtype)
    counts = xp.bincount(pos[inside], weights=w[inside], minlength=bins)
    return counts.astype(out_dtype)


def histc(input, bins=100, min=0, max=0):
    """Counts of ``input`` in ``bins`` equal bins over [min, max] (the data's range when min == max);
    values outside are ignored."""
    _check_float(input, "histc")
    xp = input.xp
    data = input._data
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError(f"histc: max must be larger than min, got min={lo} and max={hi}")
    if lo == hi and data.size:
        lo, hi = float(xp.min(data)), float(xp.max(data))
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (abs(lo) != float("inf") and abs(hi) != float("inf") and lo == lo and hi == hi):
        raise RuntimeError(f"histc: range of [{lo}, {hi}] is not finite")
    edges = xp.linspace(lo, hi, bins + 1).astype(data.dtype)
    return _wrap(_bin_counts(xp, data, edges, None, data.dtype), input)


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges) like numpy.histogram: ``bins`` is a count or a 1-d tensor of edges."""
    _check_float(input, "histogram")
    xp = input.xp
    data = input._data
    if isinstance(bins, _node.Tensor):
        edges = bins._data.astype(data.dtype)
    else:
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif data.size:
            lo, hi = float(xp.min(data)), float(xp.max(data))
        else:
            lo, hi = 0.0, 0.0
        if lo > hi:
            raise ValueError(f"histogram: max must be larger than min, got range ({lo}, {hi})")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = xp.linspace(lo, hi, int(bins) + 1).astype(data.dtype)
    w = None if weight is None else weight._data
    hist = _bin_counts(xp, data, edges, w, data.dtype)
    if density:
        total = hist.sum()
        hist = (hist / (total * xp.diff(edges))).astype(data.dtype)
    return _HISTOGRAM(_wrap(hist, input), _wrap(edges, input))


def _bin_of(xp, column, edges):
    """(bin of each value, inside mask) for sorted ``edges``; the last bin includes its right edge."""
    bins = edges.shape[0] - 1
    inside = (column >= edges[0]) & (column <= edges[-1])
    return xp.clip(xp.searchsorted(edges, column, side="right") - 1, 0, bins - 1), inside


def histogramdd(input, bins=10, *, range=None, weight=None, density=False):
    """(hist, bin_edges) of the points in the last dim of ``input``: ``bins`` is a count, a count per
    dim, or a sequence of 1-d edge tensors; ``range`` is [min0, max0, min1, max1, ...]."""
    _check_float(input, "histogramdd")
    Tensor = _node.Tensor
    xp = input.xp
    points = input._data.reshape(-1, input.shape[-1]) if input.ndim else input._data.reshape(1, 1)
    dims = points.shape[1]
    if isinstance(bins, int):
        bins = [bins] * dims
    if len(bins) != dims:
        raise RuntimeError(f"histogramdd: expected {dims} sequences of bin edges (or bin counts), one for each "
                           f"of the {dims} dims of the points (input shape {tuple(input.shape)}), got {len(bins)}")
    if range is not None and len(range) != 2 * dims:
        raise RuntimeError(f"histogramdd: range should have {2 * dims} elements (min, max for each of the {dims} "
                           f"dims), got {len(range)}")
    edges = []
    for d, b in enumerate(bins):
        if isinstance(b, Tensor):
            edges.append(b._data.astype(points.dtype))
            continue
        if range is not None:
            lo, hi = float(range[2 * d]), float(range[2 * d + 1])
        elif points.shape[0]:
            lo, hi = float(xp.min(points[:, d])), float(xp.max(points[:, d]))
        else:
            lo, hi = 0.0, 0.0
        if lo > hi:
            raise RuntimeError(f"histogramdd: min should not exceed max, got min {lo} max {hi} for dim {d}")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(xp.linspace(lo, hi, int(b) + 1).astype(points.dtype))
    sizes = tuple(e.shape[0] - 1 for e in edges)
    flat = xp.zeros(points.shape[0], dtype=xp.int64)
    inside = xp.ones(points.shape[0], dtype=bool)
    for d, e in enumerate(edges):
        b, ok = _bin_of(xp, points[:, d], e)
        flat = flat * sizes[d] + b
        inside &= ok
    w = xp.ones(points.shape[0], dtype=points.dtype) if weight is None else weight._data.reshape(-1)
    hist = xp.bincount(flat[inside], weights=w[inside].astype(xp.float64), minlength=math.prod(sizes))
    hist = hist.reshape(sizes).astype(points.dtype)
    if density:
        volume = xp.ones(sizes, dtype=points.dtype)
        for d, e in enumerate(edges):
            volume = volume * xp.diff(e).reshape((-1,) + (1,) * (dims - d - 1))
        hist = (hist / (hist.sum() * volume)).astype(points.dtype)
    return _HISTOGRAMDD(_wrap(hist, input), tuple(_wrap(e, input) for e in edges))


def bincount(input, weights=None, minlength=0):
    """How often each non-negative int occurs in the 1-d ``input`` (or the sum of ``weights`` there)."""
    xp = input.xp
    data = input._data
    if data.ndim != 1 or data.dtype.kind not in "iub" or (data.size and int(data.min()) < 0):
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got shape "
                           f"{tuple(input.shape)} of dtype {input.dtype}")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if weights is None:
        return _wrap(_long(xp, xp.bincount(data, minlength=minlength)), input)
    w = weights._data
    if tuple(w.shape) != tuple(data.shape):
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input, got input "
                           f"shape {tuple(input.shape)} and weights shape {tuple(w.shape)}")
    # PyTorch keeps float16/float32 weights' dtype and sums everything else in float64
    out_dtype = w.dtype if w.dtype.kind == "f" and w.dtype.itemsize <= 4 else xp.float64
    counts = xp.bincount(data, weights=w.astype(xp.float64), minlength=minlength)
    return _wrap(counts.astype(out_dtype), input)

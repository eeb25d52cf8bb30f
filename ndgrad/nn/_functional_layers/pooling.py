"""Adaptive, power-average, fractional max pooling and max unpooling as window tables plus
differentiable gathers."""
import math
import numbers

from ...backend import host_sync
from ...ops import nn as _nn
from ...ops import nn_extra as _k
from ._common import _T, _const, _shape, _tuple


def adaptive_avg_pool3d(input, output_size):
    """Average pooling to a fixed (D, H, W) output size (``None`` keeps that dim)."""
    return _nn._adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def _check_pool_rank(op, nd, input):
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, got input of "
                         f"shape {_shape(input)}")


def _window_max(input, nd, flat, out):
    """Max of x over windows given as flat plane positions (..., P, K); (values, flat argmax positions)."""
    xp = input.xp
    lead = _shape(input)[:-nd]
    x = input.reshape(*lead, math.prod(_shape(input)[-nd:]))
    p, k = flat.shape[-2:]
    if flat.ndim == 2:
        vals = x.index_select(x.ndim - 1, _const(xp.ascontiguousarray(flat.reshape(-1)), input))
    else:
        index = xp.ascontiguousarray(xp.broadcast_to(flat, lead + (p, k)).reshape(lead + (p * k,)))
        vals = x.gather(x.ndim - 1, _const(index, input))
    vals = vals.reshape(*lead, p, k)
    best = vals.max(-1)
    arg = best.indices._data[..., None]
    where = xp.take_along_axis(xp.broadcast_to(flat, lead + (p, k)), arg, -1)[..., 0]
    return best.values.reshape(*lead, *out), _T()._wrap(where.reshape(lead + tuple(out)).astype(xp.int64),
                                                        input._device)


def _adaptive_max_pool(op, nd, input, output_size):
    _check_pool_rank(op, nd, input)
    spatial = _shape(input)[-nd:]
    sizes = (output_size,) * nd if output_size is None or isinstance(output_size, numbers.Integral) \
        else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size}")
    sizes = tuple(n if o is None else int(o) for n, o in zip(spatial, sizes))
    if any(n <= 0 for n in spatial) or any(o < 0 for o in sizes):
        raise RuntimeError(f"{op}: input {_shape(input)} must have non-empty spatial dims and output_size "
                           f"{sizes} must be non-negative")
    xp = input.xp
    tables = [_k.adaptive_windows(xp, n, o) for n, o in zip(spatial, sizes)]
    flat, out = _k.flat_window_index(xp, tables, spatial)
    return _window_max(input, nd, flat, out)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a fixed output length; ``return_indices`` also gives each maximum's position."""
    out = _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed (H, W) output size (``None`` keeps that dim)."""
    out = _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling to a fixed (D, H, W) output size."""
    out = _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size)
    return out if return_indices else out[0]


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return _nn.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return _nn.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return _nn.max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    kernel = _tuple(kernel_size, nd, "kernel_size", f"lp_pool{nd}d")
    pool = (_nn.avg_pool1d, _nn.avg_pool2d, _nn.avg_pool3d)[nd - 1]
    out = pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p)."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p) over (H, W) windows."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p) over (D, H, W) windows."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    op = f"max_unpool{nd}d"
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else _tuple(stride, nd, "stride", op)
    padding = _tuple(padding, nd, "padding", op)
    _check_pool_rank(op, nd, input)
    if _shape(indices) != _shape(input):
        raise RuntimeError(f"{op}: expected indices of the same shape as input {_shape(input)}, got "
                           f"{_shape(indices)}")
    spatial = _shape(input)[-nd:]
    default = [(n - 1) * s - 2 * p + k for n, s, p, k in zip(spatial, stride, padding, kernel)]
    if output_size is None:
        out = default
    else:
        out = [int(o) for o in output_size]
        if len(out) == nd + 2:
            out = out[-nd:]
        if len(out) != nd:
            raise ValueError(f"{op}: output_size should be a sequence containing {nd} or {nd + 2} elements, "
                             f"but it has a length of {len(output_size)}")
        for o, d, s in zip(out, default, stride):
            if not d - s < o < d + s:
                raise ValueError(f"{op}: invalid output_size {list(output_size)} (dim size must be between "
                                 f"{[d - s + 1 for d, s in zip(default, stride)]} and "
                                 f"{[d + s - 1 for d, s in zip(default, stride)]})")
    xp = input.xp
    plane = math.prod(out)
    idx = indices._data
    idx = host_sync.checked_indices(op, idx, plane, f"{op}: found an invalid max index {{value}} (output volumes "
                                                    f"are of size {'x'.join(map(str, out))})", RuntimeError)
    lead = _shape(input)[:-nd]
    zeros = _const(xp.zeros(lead + (plane,), dtype=input._data.dtype), input)
    per_plane = math.prod(spatial)
    flat_idx = _const(xp.ascontiguousarray(idx.reshape(lead + (per_plane,))).astype(xp.int64), input)
    y = zeros.scatter(len(lead), flat_idx, input.reshape(*lead, per_plane))
    return y.reshape(*lead, *out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool1d: each value goes back to its index, zeros elsewhere."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool2d: each value goes back to its index, zeros elsewhere."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool3d: each value goes back to its index, zeros elsewhere."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# PyTorch's random sample k of a plane picks the windows of this spatial dim (2-d: width first).
_FRACTIONAL_SAMPLE_DIM = {2: (1, 0), 3: (0, 1, 2)}


def _fractional_max_pool(nd, input, kernel_size, output_size, output_ratio, samples):
    op = f"fractional_max_pool{nd}d"
    _check_pool_rank(op, nd, input)
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    spatial = _shape(input)[-nd:]
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
        ratio = (output_ratio,) * nd if isinstance(output_ratio, numbers.Real) else tuple(output_ratio)
        output_size = [int(n * r) for n, r in zip(spatial, ratio)]
    out = _tuple(output_size, nd, "output_size", op)
    for n, k, o in zip(spatial, kernel, out):
        # PyTorch lets a 2-d window end on the last element, but keeps 3-d windows one short of it
        if o + k - 1 > n - (nd == 3):
            raise RuntimeError(f"{op}: kernel_size {kernel} is too large relative to input {spatial} and "
                               f"output_size {out} (need output + kernel - 1 <= input in every dim)")
    xp = input.xp
    batched = input.ndim == nd + 2
    c = input.shape[-nd - 1]
    n = input.shape[0] if batched else 1
    if samples is None:
        from ... import random as _random
        u = _random.generator(input._device).random((n, c, nd)).astype(input._data.dtype)
    else:
        if _shape(samples) != (n, c, nd):
            raise RuntimeError(f"{op}: expected _random_samples of shape ({n}, {c}, {nd}), got "
                               f"{_shape(samples)}")
        u = samples._data
    if not batched:
        u = u[0]
    tables = []
    for d in range(nd):
        starts = _k.fractional_starts(xp, u[..., _FRACTIONAL_SAMPLE_DIM[nd][d]], spatial[d], out[d], kernel[d])
        tables.append(starts[..., None] + xp.arange(kernel[d]))
    flat, shape = _k.flat_window_index(xp, tables, spatial)
    return _window_max(input, nd, flat, shape)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max pooling over pseudo-random, overlapping windows (Graham, 2014)."""
    out = _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max pooling over pseudo-random, overlapping (D, H, W) windows."""
    out = _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, _random_samples)
    return out if return_indices else out[0]

"""Padding, interpolation and grid sampling: separable index-select passes over the taps
of ``ndgrad.ops.nn_extra``, and bilinear / nearest gathers for grid_sample."""
import math
import numbers
import warnings

from ...ops import elementwise as _ew
from ...ops import nn as _nn
from ...ops import nn_extra as _k
from ...ops import shape as _shape_ops
from .pooling import adaptive_avg_pool3d
from ._common import _const, _shape, _work_dtype

# =============================================================================================
# padding
# =============================================================================================
_PAD_RANKS = {1: (2, 3), 2: (3, 4), 3: (4, 5)}   # (left, right) pairs -> input ranks PyTorch accepts


def pad(input, pad, mode="constant", value=None):
    """Pad trailing dims by (left, right) pairs listed from the last dim; negative amounts crop.

    Modes: constant (any rank), and reflect / replicate / circular for 1 to 3 trailing dims of a
    batched or unbatched input (2-3, 3-4 or 4-5 dims for 1, 2 or 3 pairs).
    """
    if mode == "constant":
        return _shape_ops.pad(input, pad, value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got "
                                  f"{mode!r}")
    if value:
        raise RuntimeError(f"pad: padding mode {mode!r} doesn't take in value argument")
    amounts = [int(p) for p in pad]
    pairs = len(amounts) // 2
    if len(amounts) % 2 or input.ndim not in _PAD_RANKS.get(pairs, ()):
        raise NotImplementedError(f"pad: padding size {len(amounts)} is not supported for {input.ndim}D input "
                                  f"{_shape(input)} with mode={mode!r}; supported: 2 for 2D or 3D input, 4 for 3D "
                                  f"or 4D, 6 for 4D or 5D")
    from .. import functional as _core
    y = input
    for k in range(pairs):
        dim = input.ndim - 1 - k
        lo, hi = amounts[2 * k], amounts[2 * k + 1]
        n = input.shape[dim]
        if n + lo + hi <= 0 or (lo < 0 and hi < 0 and -(lo + hi) >= n):
            raise RuntimeError(f"pad: padding ({lo}, {hi}) of dim {dim} of input {_shape(input)} leaves no elements")
        y = y.narrow(dim, max(-lo, 0), n - max(-lo, 0) - max(-hi, 0))   # negative amounts crop first
        lo, hi, size = max(lo, 0), max(hi, 0), y.shape[dim]
        if mode == "reflect" and max(lo, hi) >= size:
            raise RuntimeError(f"pad: reflect padding ({lo}, {hi}) should be less than the size {size} of dim {dim} "
                               f"of input {_shape(input)}")
        if mode == "circular" and max(lo, hi) > size:
            raise RuntimeError(f"pad: circular padding ({lo}, {hi}) wraps around more than once the size {size} of "
                               f"dim {dim} of input {_shape(input)}")
        if mode == "replicate" and size == 0 and (lo or hi):
            raise RuntimeError(f"pad: cannot replicate-pad the empty dim {dim} of input {_shape(input)}")
        y = _core._pad_dim(y, dim, lo, hi, mode)
    return y


# =============================================================================================
# interpolation
# =============================================================================================
_LINEAR_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _output_size(op, input, size, scale_factor, recompute_scale_factor, mode):
    """(output sizes, scales to use or None per dim), following torch.nn.functional.interpolate."""
    nd = input.ndim - 2
    spatial = _shape(input)[2:]
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(f"{op}: input with spatial dimensions of {list(spatial)} and output size of {size} "
                             f"must have the same number of spatial dimensions; give (o1, ..., o{nd})")
        if not all(isinstance(s, numbers.Integral) for s in sizes):
            raise TypeError(f"{op}: expected size to be an int or a tuple of ints, but got size with types "
                            f"{[type(s) for s in sizes]}")
        return [int(s) for s in sizes], [None] * nd
    if scale_factor is None:
        raise ValueError(f"{op}: either size or scale_factor should be defined")
    scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * nd
    if len(scales) != nd:
        raise ValueError(f"{op}: input with spatial dimensions of {list(spatial)} and scale_factor of shape "
                         f"{scale_factor} must have the same number of spatial dimensions; give (s1, ..., s{nd})")
    scales = [float(s) for s in scales]
    out = [int(math.floor(n * s)) for n, s in zip(spatial, scales)]
    if recompute_scale_factor or mode == "area":
        return out, [None] * nd
    return out, scales


def _taps(xp, mode, n, o, scale, align_corners, dtype, antialias=False):
    if antialias:
        return _k.antialias_taps(xp, n, o, scale, align_corners, mode == "bicubic", dtype)
    if mode in ("nearest", "nearest-exact"):
        return _k.nearest_taps(xp, n, o, scale, mode == "nearest-exact")
    if mode == "bicubic":
        return _k.cubic_taps(xp, n, o, scale, align_corners, dtype)
    return _k.linear_taps(xp, n, o, scale, align_corners, dtype)


def _resample_dim(y, dim, index, weight):
    """sum_t y[..., index[:, t], ...] * weight[:, t] along ``dim`` (one separable pass)."""
    return _k.Resample(dim, index, weight, y.shape[dim]).apply(y)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *) with nearest, nearest-exact, (bi/tri)linear, bicubic or area
    (``antialias=True``: PIL-style filtering for bilinear and bicubic)."""
    op = "interpolate"
    if mode not in _MODES:
        raise NotImplementedError(f"{op}: mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear | bicubic | trilinear (got mode={mode!r})")
    elif align_corners is None:
        align_corners = False
    nd = input.ndim - 2
    if nd not in (1, 2, 3):
        raise NotImplementedError(f"{op}: only 3D, 4D and 5D input tensors (N, C, ...) are supported, got input "
                                  f"of shape {_shape(input)} for mode {mode!r}")
    if mode in _LINEAR_RANK and _LINEAR_RANK[mode] != input.ndim:
        raise NotImplementedError(f"{op}: got {input.ndim}D input, but {mode} mode needs "
                                  f"{_LINEAR_RANK[mode]}D input (input shape {_shape(input)})")
    out, scales = _output_size(op, input, size, scale_factor, recompute_scale_factor, mode)
    if antialias:
        if not (mode in ("bilinear", "bicubic") and input.ndim == 4):
            raise ValueError(f"{op}: anti-alias option is restricted to bilinear and bicubic modes and requires "
                             f"a 4-D tensor as input")
    spatial = _shape(input)[2:]
    if any(o <= 0 for o in out) or any(n <= 0 for n in spatial):
        raise RuntimeError(f"{op}: input and output sizes should be greater than 0, but got input {list(spatial)} "
                           f"and output {out}")
    if mode == "area":
        return (_nn.adaptive_avg_pool1d, _nn.adaptive_avg_pool2d, adaptive_avg_pool3d)[nd - 1](input, out)
    xp = input.xp
    as_bytes = input._data.dtype.kind != "f" and mode not in ("nearest", "nearest-exact")
    if as_bytes and input._data.dtype != xp.uint8:
        raise RuntimeError(f"{op}: mode={mode!r} needs a floating point or uint8 input, got {input.dtype}")
    dtype = _work_dtype(xp, input)
    y = input.float() if as_bytes else input
    # uint8 images: one pass per dim, last dim first, each rounded back to bytes (PyTorch's separable
    # uint8 kernels, which use fixed-point weights: results agree to within 1)
    dims = reversed(range(nd)) if as_bytes else range(nd)
    for i in dims:
        n, o, s = spatial[i], out[i], scales[i]
        if n == o and (mode == "nearest" or align_corners is True or s in (None, 1.0)) and not antialias:
            continue   # the identity map (PyTorch's nearest takes this shortcut whatever the scale)
        index, weight = _taps(xp, mode, n, o, s, align_corners, dtype, antialias)
        y = _resample_dim(y, 2 + i, index, weight)
        if as_bytes:
            y = _const(xp.clip(xp.floor(y._data + 0.5), 0, 255), y)
    return _const(y._data.astype(xp.uint8), input) if as_bytes else y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated alias of interpolate(mode='nearest')."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated alias of interpolate(mode='bilinear', align_corners=True)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# =============================================================================================
# grid sampling
# =============================================================================================
def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low, twice_high):
    """Fold coordinates back into [low, high] by reflection (PyTorch's reflect_coordinates)."""
    if twice_low == twice_high:
        return coord * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = (coord - low).abs()
    flips = c.xp.floor(c._data / span)
    extra = c - _const(flips * span, c)          # fmod(c, span), with gradient 1
    even = _const(flips % 2 == 0, c)
    return _ew.where(even, extra + low, (span + low) - extra)


def _reflect_array(xp, c, twice_low, twice_high):
    """_reflect on raw arrays (bicubic taps)."""
    if twice_low == twice_high:
        return xp.zeros_like(c)
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = xp.abs(c - low)
    flips = xp.floor(c / span)
    extra = c - flips * span
    return xp.where(flips % 2 == 0, extra + low, span - extra + low)


def _pad_index(xp, idx, size, padding_mode, align_corners):
    """Where a bicubic tap at integer position ``idx`` reads from under ``padding_mode``."""
    if padding_mode == "border":
        return xp.clip(idx, 0, size - 1)
    if padding_mode == "reflection":
        idx = _reflect_array(xp, idx, 0, 2 * (size - 1)) if align_corners else \
            _reflect_array(xp, idx, -1, 2 * size - 1)
        return xp.clip(idx, 0, size - 1)
    return idx


def _cubic_weights(t):
    """Keys' cubic convolution weights (A = -0.75) of the four taps around a point at fraction t."""
    a = -0.75

    def near(x):   # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):    # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _source_coordinate(coord, size, padding_mode, align_corners):
    c = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        return c.clamp(0, size - 1)
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        return c.clamp(0, size - 1)
    return c


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample (N, C, H, W) at grid (N, Ho, Wo, 2) points in [-1, 1] (or 5-d with 3-d points);
    bilinear, nearest or (4-d) bicubic, with zeros, border or reflection padding."""
    op = "grid_sample"
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"{op}: mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    nd = input.ndim - 2
    if nd not in (2, 3) or grid.ndim != input.ndim or grid.shape[-1] != nd or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"{op}: expected input (N, C, H, W) with grid (N, H_out, W_out, 2), or input "
                           f"(N, C, D, H, W) with grid (N, D_out, H_out, W_out, 3); got input {_shape(input)} "
                           f"and grid {_shape(grid)}")
    if mode == "bicubic" and nd != 2:
        raise RuntimeError(f"{op}: bicubic interpolation only supports 4D input, got input {_shape(input)}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"{op}: expected input and grid to have the same dtype, but input has {input.dtype} "
                           f"and grid has {grid.dtype}")
    align_corners = bool(align_corners)
    xp = input.xp
    n, c = _shape(input)[:2]
    spatial = _shape(input)[2:]
    out_spatial = _shape(grid)[1:-1]
    # grid[..., 0] indexes the last (width) dim, grid[..., 1] the one before, ...
    if mode == "bicubic":   # the padding mode applies to each tap, not to the sampling point
        coords = [_unnormalize(grid[..., nd - 1 - d], spatial[d], align_corners) for d in range(nd)]
    else:
        coords = [_source_coordinate(grid[..., nd - 1 - d], spatial[d], padding_mode, align_corners)
                  for d in range(nd)]
    flat_input = input.reshape(n, c, math.prod(spatial))
    points = math.prod(out_spatial)

    def sample(indices, weight):
        """weight * input at integer positions ``indices`` (raw arrays), zero outside the input."""
        inside = None
        flat = None
        for d, idx in enumerate(indices):
            ok = (idx >= 0) & (idx < spatial[d])
            inside = ok if inside is None else inside & ok
            clipped = xp.clip(idx, 0, spatial[d] - 1).astype(xp.int64)
            flat = clipped if flat is None else flat * spatial[d] + clipped
        index = xp.broadcast_to(flat.reshape(n, 1, points), (n, c, points))
        values = flat_input.gather(2, _const(xp.ascontiguousarray(index), input)).reshape((n, c) + out_spatial)
        mask = _const(inside.astype(input._data.dtype), input)
        w = mask if weight is None else weight * mask
        return values * w.unsqueeze(1)

    if mode == "nearest":
        indices = [xp.rint(cd._data) for cd in coords]
        # zero, not missing, gradient for the grid (as PyTorch gives)
        keep_graph = (coords[0] - coords[0].detach()) * 0
        return sample(indices, keep_graph + 1)
    lows = [xp.floor(cd._data) for cd in coords]
    fracs = [cd - _const(lo, cd) for cd, lo in zip(coords, lows)]
    out = None
    if mode == "bicubic":
        weights = [_cubic_weights(f) for f in fracs]
        for i in range(4):
            for j in range(4):
                taps = [_pad_index(xp, lows[0] + (i - 1), spatial[0], padding_mode, align_corners),
                        _pad_index(xp, lows[1] + (j - 1), spatial[1], padding_mode, align_corners)]
                term = sample(taps, weights[0][i] * weights[1][j])
                out = term if out is None else out + term
        return out
    for corner in range(2 ** nd):
        bits = [(corner >> (nd - 1 - d)) & 1 for d in range(nd)]
        weight = None
        for f, bit in zip(fracs, bits):
            w = f if bit else 1 - f
            weight = w if weight is None else weight * w
        term = sample([lo + bit for lo, bit in zip(lows, bits)], weight)
        out = term if out is None else out + term
    return out


def _base_coords(xp, steps, align_corners, dtype):
    if steps <= 1:
        return xp.zeros((max(steps, 0),), dtype=dtype)
    r = xp.linspace(-1.0, 1.0, steps).astype(dtype)
    return r if align_corners else r * ((steps - 1) / steps)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps theta (N, 2, 3) (or (N, 3, 4))."""
    op = "affine_grid"
    if not theta.dtype.is_floating_point:
        raise ValueError(f"{op}: expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    if len(size) not in (4, 5):
        raise NotImplementedError(f"{op}: only 4D and 5D sizes are supported, for 2D and 3D affine transforms; "
                                  f"got size {size}")
    nd = len(size) - 2
    if theta.ndim != 3 or _shape(theta)[1:] != (nd, nd + 1):
        raise ValueError(f"{op}: expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} for size "
                         f"{size}, got theta of shape {_shape(theta)}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"{op}: theta has a batch of {theta.shape[0]} matrices but size asks for N={size[0]}")
    if min(size) <= 0:
        raise ValueError(f"{op}: expected non-zero, positive output size, got {size}")
    if align_corners and min(size[2:]) == 1:
        warnings.warn("affine_grid: with align_corners=True a unit-size grid dim samples at 0 (as PyTorch does "
                      "since 1.3.0); this is not an intended use of affine_grid", UserWarning, stacklevel=2)
    xp = theta.xp
    dtype = theta._data.dtype
    spatial = size[2:]
    axes = [_base_coords(xp, s, bool(align_corners), dtype) for s in spatial]   # (D,) H, W
    mesh = xp.meshgrid(*axes, indexing="ij")
    # the last coordinate is x (width), then y (height), then z (depth); a trailing 1 for the shift
    base = xp.stack([mesh[d] for d in reversed(range(nd))] + [xp.ones(tuple(spatial), dtype=dtype)], -1)
    base = _const(base.reshape(1, -1, nd + 1), theta)
    grid = base.matmul(theta.transpose(1, 2))
    return grid.reshape([size[0]] + spatial + [nd])

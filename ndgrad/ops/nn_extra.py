"""Kernels behind the extra layers of ``ndgrad.nn.functional_layers``.

Two kinds of code live here:

* index tables, computed once per call on the input's device with ``xp``:
  the source taps and weights of each interpolation mode, anti-aliased ones
  included (PyTorch's pixel geometry, computed in the precision PyTorch uses
  so that nearest indices agree exactly), the windows of adaptive and
  fractional pooling;
* ``Unfold`` / ``Fold`` (im2col / col2im): two linear nodes, each the
  other's backward, so every order of derivative reuses the same kernels;
  ``ScaleGrad`` (identity with a scaled gradient, for scale_grad_by_freq).

Everything differentiable that is not a linear kernel is composed in
``functional_layers`` from Tensor ops over these tables.
"""
import math

from ..autograd import node as _node
from ..autograd.node import Node
from .nn import _PoolGeometry

__all__ = []


# ---------------------------------------------------------------------------------------------
# interpolation taps: (index (out, taps) int64, weight (out, taps) or None) along one axis
# ---------------------------------------------------------------------------------------------
def _scale(xp, size, out, scale, dtype):
    """PyTorch's compute_scales_value: 1 / scale_factor when one was given, else size / out."""
    if scale is not None and scale > 0:
        return xp.asarray(1.0 / scale, dtype=dtype)
    return xp.asarray(size, dtype=dtype) / xp.asarray(out, dtype=dtype)


def nearest_taps(xp, size, out, scale, exact):
    """Source index of each output position ('nearest' or 'nearest-exact'), in float32 like PyTorch."""
    f32 = xp.float32
    dst = xp.arange(out, dtype=f32)
    s = _scale(xp, size, out, scale, f32)
    src = xp.floor((dst + f32(0.5)) * s) if exact else xp.floor(dst * s)
    if out == size:
        src = dst
    return xp.minimum(src.astype(xp.int64), size - 1)[:, None], None


def _source_coords(xp, size, out, scale, align_corners, cubic, dtype):
    dst = xp.arange(out, dtype=dtype)
    if align_corners:
        ratio = xp.asarray((size - 1) / (out - 1) if out > 1 else 0.0, dtype=dtype)
        return dst * ratio
    s = _scale(xp, size, out, scale, dtype)
    src = s * (dst + dtype(0.5)) - dtype(0.5)
    return src if cubic else xp.maximum(src, dtype(0.0))


def linear_taps(xp, size, out, scale, align_corners, dtype):
    """Two taps (i0, i0 + 1 clamped) and weights (1 - l, l) per output position."""
    src = _source_coords(xp, size, out, scale, align_corners, False, dtype)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), size - 1)
    lam = xp.clip(src - i0.astype(dtype), 0.0, 1.0).astype(dtype)
    i1 = xp.minimum(i0 + 1, size - 1)
    return xp.stack([i0, i1], 1), xp.stack([1 - lam, lam], 1)


def cubic_taps(xp, size, out, scale, align_corners, dtype):
    """Four taps (i - 1 .. i + 2, clamped to the edge) with Keys' cubic weights (A = -0.75)."""
    src = _source_coords(xp, size, out, scale, align_corners, True, dtype)
    i = xp.floor(src)
    t = (src - i).astype(dtype)
    i = i.astype(xp.int64)
    a = -0.75

    def near(x):   # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):    # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = xp.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], 1).astype(dtype)
    index = xp.clip(i[:, None] + xp.arange(-1, 3)[None, :], 0, size - 1)
    return index, weights


def antialias_taps(xp, size, out, scale, align_corners, cubic, dtype):
    """Taps of PyTorch's anti-aliased bilinear / bicubic resize: when shrinking, the filter widens by the
    scale so that every input pixel contributes (PIL's rule); weights are normalised per output pixel."""
    if align_corners:
        s = (size - 1) / (out - 1) if out > 1 else 0.0
    else:
        s = 1.0 / scale if scale is not None and scale > 0 else size / out
    s = float(dtype(s))
    half = 2.0 if cubic else 1.0
    support = half * s if s >= 1.0 else half
    invscale = 1.0 / s if s >= 1.0 else 1.0
    width = int(math.ceil(support)) * 2 + 1
    center = s * (xp.arange(out, dtype=xp.float64) + 0.5)
    start = xp.maximum((center - support + 0.5).astype(xp.int64), 0)
    stop = xp.minimum((center + support + 0.5).astype(xp.int64), size)
    j = xp.arange(width)[None, :]
    x = xp.abs((j + start[:, None] - center[:, None] + 0.5) * invscale)
    if cubic:
        a = -0.5
        near = ((a + 2) * x - (a + 3)) * x * x + 1
        far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        w = xp.where(x < 1, near, xp.where(x < 2, far, 0.0))
    else:
        w = xp.maximum(1 - x, 0.0)
    w = xp.where(j < (stop - start)[:, None], w, 0.0)
    total = w.sum(1, keepdims=True)
    w = xp.where(total != 0, w / xp.where(total != 0, total, 1), 0.0)
    index = xp.minimum(start[:, None] + j, size - 1)
    return index, w.astype(dtype)


# ---------------------------------------------------------------------------------------------
# pooling windows as index tables
# ---------------------------------------------------------------------------------------------
def adaptive_windows(xp, size, out):
    """(out, k) input positions of adaptive pooling windows [floor(i n / o), ceil((i + 1) n / o)).

    Windows shorter than the longest repeat their last position (harmless for max).
    """
    i = xp.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    k = int((end - start).max()) if out else 1
    pos = start[:, None] + xp.arange(k)[None, :]
    return xp.minimum(pos, (end - 1)[:, None])


def fractional_starts(xp, u, size, out, kernel):
    """Window starts of fractional max pooling for samples ``u`` (..., ) in [0, 1): PyTorch's intervals."""
    dtype = u.dtype.type
    if out == 1:
        return xp.full(u.shape + (1,), size - kernel, dtype=xp.int64)
    alpha = dtype(size - kernel) / dtype(out - 1)
    i = xp.arange(out - 1, dtype=u.dtype)
    starts = (xp.floor((i + u[..., None]) * alpha) - xp.floor(u[..., None] * alpha)).astype(xp.int64)
    last = xp.full(u.shape + (1,), size - kernel, dtype=xp.int64)
    return xp.concatenate([starts, last], -1)


def flat_window_index(xp, tables, spatial):
    """Combine per-dim window tables (..., out_d, k_d) into flat plane positions (..., prod(out), prod(k)).

    Tables may carry leading dims (per-plane windows); they broadcast against each other.
    """
    nd = len(tables)
    flat = None
    for d, table in enumerate(tables):
        lead = table.shape[:-2]
        o, k = table.shape[-2:]
        shape = [1] * (2 * nd)
        shape[d], shape[nd + d] = o, k
        part = table.reshape(lead + tuple(shape))
        flat = part if flat is None else flat * spatial[d] + part
    lead = flat.shape[:-2 * nd]
    out = flat.shape[-2 * nd:-nd]
    return flat.reshape(lead + (math.prod(out), math.prod(flat.shape[-nd:]))), out


# ---------------------------------------------------------------------------------------------
# unfold / fold: im2col and its adjoint
# ---------------------------------------------------------------------------------------------
def fold_geometry(in_shape, kernel, stride, padding, dilation):
    return _PoolGeometry(tuple(in_shape), tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), False)


def _window_axes(nd):
    """(N, C, *out, *kernel) -> (N, C, *kernel, *out)."""
    return (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))


class Unfold(Node):
    """(N, C, *spatial) -> (N, C * prod(kernel), L): every sliding block as a column."""
    __slots__ = ("geo",)

    def __init__(self, geo):
        self.geo = geo

    def forward(self, x):
        geo = self.geo
        nd = len(geo.kernel)
        win = geo.windows(self.xp, x, 0).transpose(_window_axes(nd))
        return win.reshape(x.shape[0], x.shape[1] * math.prod(geo.kernel), math.prod(geo.out))

    def backward(self, grad):
        return Fold(self.geo).apply(grad)


class Fold(Node):
    """(N, C * prod(kernel), L) -> (N, C, *output_size): sum the columns back into their blocks."""
    __slots__ = ("geo",)

    def __init__(self, geo):
        self.geo = geo

    def forward(self, cols):
        geo = self.geo
        nd = len(geo.kernel)
        n, c = geo.in_shape[:2]
        blocks = cols.reshape((n, c) + geo.kernel + geo.out)
        inverse = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
        return geo.scatter(self.xp, blocks.transpose(inverse))

    def backward(self, grad):
        return Unfold(self.geo).apply(grad)


class ScaleGrad(Node):
    """Identity forward; the gradient is multiplied by a constant array (embedding's scale_grad_by_freq)."""
    __slots__ = ("scale",)

    def __init__(self, scale):
        self.scale = scale

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad * _node.Tensor._wrap(self.scale, grad._device)



# ---------------------------------------------------------------------------------------------
# one separable resampling pass: out[..., o, ...] = sum_t x[..., index[o, t], ...] * weight[o, t]
# ---------------------------------------------------------------------------------------------
def transpose_taps(xp, index, weight, in_size):
    """The adjoint's tap table: for each input position, the outputs that read it and with what weight."""
    out, taps = index.shape
    src = index.reshape(-1)
    dst = xp.repeat(xp.arange(out), taps)
    w = xp.ones(src.shape, dtype=xp.float64) if weight is None else weight.reshape(-1)
    order = xp.argsort(src, kind="stable")
    src, dst, w = src[order], dst[order], w[order]
    counts = xp.bincount(src, minlength=in_size)
    width = max(int(counts.max()) if counts.size else 0, 1)
    starts = xp.cumsum(counts) - counts
    slot = xp.arange(src.size) - starts[src]
    t_index = xp.zeros((in_size, width), dtype=xp.int64)
    t_weight = xp.zeros((in_size, width), dtype=w.dtype)
    t_index[src, slot] = dst
    t_weight[src, slot] = w
    return t_index, t_weight


class Resample(Node):
    """A weighted gather along one axis (an interpolation pass); its backward is the same node with the
    transposed taps, whose backward is this one again (exact derivatives of every order)."""
    __slots__ = ("axis", "index", "weight", "in_size", "_adjoint")

    def __init__(self, axis, index, weight, in_size, adjoint=None):
        # adjoint: the (index, weight) taps of this pass's transpose, when already known
        self.axis, self.index, self.weight, self.in_size = axis, index, weight, in_size
        self._adjoint = adjoint

    def forward(self, x):
        xp = self.xp
        shape = [1] * x.ndim
        shape[self.axis] = self.index.shape[0]
        out = None
        for t in range(self.index.shape[1]):
            part = xp.take(x, self.index[:, t], axis=self.axis)
            if self.weight is not None:
                part *= self.weight[:, t].reshape(shape).astype(x.dtype, copy=False)
            out = part if out is None else out.__iadd__(part)
        return out

    def backward(self, grad):
        if self._adjoint is None:   # built once, shared by every later order of derivative
            index, weight = transpose_taps(self.xp, self.index, self.weight, self.in_size)
            self._adjoint = (index, weight)
        index, weight = self._adjoint
        return Resample(self.axis, index, weight, self.index.shape[0], adjoint=(self.index, self.weight)).apply(grad)

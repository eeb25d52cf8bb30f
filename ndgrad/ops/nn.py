"""Coarse neural-network nodes: linear, convolution, pooling, normalisation, softmax, cross-entropy.

Each op is one graph node whose backward is written by hand on raw arrays
(fast, numerically stable). They stay differentiable to any order:

* linear ops (convolution, pooling) have a backward that is itself a
  Node whose own backward is the forward op again (conv -> conv-transpose
  -> conv ...), so grad-of-grad reuses the same fast kernels;
* the others (softmax, norms, cross-entropy) check ``is_grad_enabled()`` in
  backward, which is True only under ``create_graph=True``, and then write the
  same rule with Tensor ops.

Convolution is im2col (a strided view, one copy) and one batched matmul
``W (O, C*k) @ cols (N, C*k, L)`` whose result is already (N, O, L): no
transposing copies. The input gradient is the transpose matmul plus col2im.
"""
import math
import numbers

from .. import amp as _amp
from ..backend import xp_of as _xp_of
from ..autograd import node as _node
from ..autograd.node import Node
from ..autograd.grad_mode import state as _grad_state
from ..backend import cudnn_frontend, fused, host_sync, kernels, onednn
from ..backend import np as _np_host
from .reduce import is_half

__all__ = [
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "batch_norm", "layer_norm", "group_norm", "softmax", "log_softmax", "cross_entropy", "nll_loss",
]


def _wrap(array):
    return _node.Tensor._wrap(array)


def _tensor_cls():
    return _node.Tensor


def _ntuple(value, n, what, op):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{op}: {what} must be an int or a tuple of {n} ints, got {value}")
    return value


def _shape(t):
    return tuple(t.shape)


def _check_same_dtype(op, **tensors):
    """PyTorch refuses to mix float dtypes in matmul-like ops (a float64 input with float32 weights)."""
    given = [(name, t) for name, t in tensors.items() if t is not None]
    first_name, first = given[0]
    for name, t in given[1:]:
        if t._data.dtype != first._data.dtype:
            raise RuntimeError(f"{op}: expected {first_name} and {name} to have the same dtype, but got "
                               f"{first.dtype} != {t.dtype}; convert one of them first (e.g. input.to("
                               f"{t.dtype}) or model.to({first.dtype}))")


def _half(t):
    """float16 / bfloat16: coarse ops compute these in float32 (like PyTorch) and round the result."""
    return t is not None and is_half(t._data)


def _float32(t):
    return t if t is None or not _half(t) else t.to("float32")


# =============================================================================================
# linear
# =============================================================================================
class Linear(Node):
    """y = x @ W.T + b, with x of shape (..., in_features)."""
    __slots__ = ()

    def forward(self, x, weight, bias=None):
        if x.ndim > 2:
            # One GEMM over the flattened leading dims: NumPy runs (A, B, in) @ (in, out) as A*B small
            # products, up to 6x slower for a language model's decoder.
            y = self.xp.matmul(x.reshape(-1, x.shape[-1]), weight.T).reshape(x.shape[:-1] + (weight.shape[0],))
        else:
            y = self.xp.matmul(x, weight.T)
        if bias is not None:
            y += bias
        return y

    def backward(self, grad):
        need = self.needs_input_grad
        x, weight = self.input(0), self.input(1)
        out_f, in_f = weight.shape
        grads = [None] * len(need)
        if _grad_state.enabled:  # create_graph: the same rule in Tensor ops
            if need[0]:
                grads[0] = grad.matmul(weight)
            g2 = grad.reshape(-1, out_f)
            if need[1]:
                grads[1] = g2.transpose(0, 1).matmul(x.reshape(-1, in_f))
            if len(need) > 2 and need[2]:
                grads[2] = g2.sum(0)
            return tuple(grads)
        g = grad._data
        g2 = g.reshape(-1, out_f)
        if need[0]:  # through the 2-d view for the same reason as in forward
            grads[0] = _wrap(self.xp.matmul(g2, weight._data).reshape(g.shape[:-1] + (in_f,)))
        if need[1]:
            grads[1] = _wrap(self.xp.matmul(g2.T, x._data.reshape(-1, in_f)))
        if len(need) > 2 and need[2]:
            grads[2] = _wrap(g2.sum(0))
        return tuple(grads)


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias (weight: (out_features, in_features))."""
    if _amp.state.enabled:
        input, weight, bias = _amp.cast_inputs(input, weight, bias)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d (out_features, in_features), got shape {_shape(weight)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {_shape(input)} has {input.shape[-1] if input.ndim else 'no'} features "
            f"in its last dim, but weight of shape {_shape(weight)} expects {weight.shape[1]} "
            f"(in_features); reshape the input to (..., {weight.shape[1]})")
    _check_same_dtype("linear", input=input, weight=weight, bias=bias)
    node = Linear
    if input._data.dtype.kind == "c":  # complex: the conjugate-Wirtinger rule (ops/complex_ops.py)
        from .complex_ops import holomorphic
        node = holomorphic(Linear)
    if bias is None:
        return node().apply(input, weight)
    return node().apply(input, weight, bias)


# =============================================================================================
# convolution
# =============================================================================================
class _ConvGeometry:
    """Everything about a convolution except its arrays: kernel, stride, padding, dilation, groups."""
    __slots__ = ("kernel", "stride", "pads", "dilation", "groups")

    def __init__(self, kernel, stride, pads, dilation, groups):
        self.kernel, self.stride, self.pads, self.dilation, self.groups = kernel, stride, pads, dilation, groups

    def out_shape(self, spatial):
        return tuple(kernels.output_size(n, k, s, lo, hi, d)
                     for n, k, s, (lo, hi), d in zip(spatial, self.kernel, self.stride, self.pads, self.dilation))

    def padded_batch_last(self, shape):
        """(C, *padded spatial, N) for an input of shape (N, C, *spatial)."""
        return (shape[1],) + tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], self.pads)) + (shape[0],)

    def columns(self, xp, x, scratch=False):
        """im2col of x: (C*K, L*N) and the output's spatial shape (in a reused buffer when ``scratch``)."""
        out = self.out_shape(x.shape[2:])
        a = kernels.batch_last(xp, x, self.pads)
        return kernels.im2col(xp, a, self.kernel, self.stride, self.dilation, out, scratch=scratch), out


def _from_batch_last(a):
    """(C, *spatial, N) memory -> the (N, C, *spatial) view of it."""
    return a.transpose((a.ndim - 1,) + tuple(range(a.ndim - 1)))


def _by_channel(a):
    """(N, C, *sp) -> (C, prod(sp) * N): a free view when a is in batch-last memory order, as conv outputs are."""
    return a.transpose(tuple(range(1, a.ndim)) + (0,)).reshape(a.shape[1], -1)


def _sum_by_channel(a):
    """a (N, C, *sp) summed to (C,): over the free (C, sp * N) view when a is batch-last, else directly."""
    if a.transpose(tuple(range(1, a.ndim)) + (0,)).flags.c_contiguous:
        return _by_channel(a).sum(1)
    return a.sum((0,) + tuple(range(2, a.ndim)))


def _conv_library(xp):
    """oneDNN on the CPU, cuDNN on a GPU (backend/onednn.py, backend/cudnn_frontend.py): the same
    signatures, each returning None for a convolution it does not take (then im2col runs)."""
    return onednn if xp is _np_host else cudnn_frontend


def _onednn_takes(xp, *arrays):
    """Whether oneDNN / cuDNN will run a convolution of these arrays, so the batch-last
    relayouts that only the im2col path wants are skipped."""
    return _conv_library(xp).takes(*arrays)


def _batch_last_tensor(xp, t):
    """t (N, C, *sp) with its memory in batch-last order (one copy unless it already is): a gradient
    that several convolution products read as (C, sp * N) is then re-laid out once, not once per read."""
    a = t._data
    if a.transpose(tuple(range(1, a.ndim)) + (0,)).flags.c_contiguous:
        return t
    return _wrap(_from_batch_last(xp.ascontiguousarray(a.transpose(tuple(range(1, a.ndim)) + (0,)))))


class ConvNd(Node):
    """N-d convolution (cross-correlation) of x (N, C, *sp) with weight (O, C/groups, *k), plus bias.

    The output is an (N, O, *out) view of an (O, *out, N) array: the batch-last
    layout the single GEMM ``W @ cols`` produces. Elementwise ops and pooling
    keep it, and the next convolution's im2col and backward read it without
    copies.
    """
    __slots__ = ("geo", "cols", "scratch")

    def __init__(self, geo, scratch=False):
        # scratch: no graph will be recorded (inference), so the columns die with this call and can
        # live in a reused buffer instead of hundreds of MB of fresh, page-faulting memory per conv
        self.geo, self.scratch, self.cols = geo, scratch, None

    def forward(self, x, weight, bias=None):
        xp, geo = self.xp, self.geo
        n, o, g = x.shape[0], weight.shape[0], geo.groups
        y = _conv_library(xp).conv_forward(x, weight, bias, geo.kernel, geo.stride, geo.pads, geo.dilation, g,
                                           geo.out_shape(x.shape[2:]), training=not self.scratch)
        if y is not None:   # oneDNN (CPU) / cuDNN (GPU) when installed; None: not taken here
            return y
        if self.scratch and g == 1 and self.device.type == "cpu":   # a GPU has no cache to keep slabs in
            y, out = self._slab_by_slab(xp, x, weight.reshape(o, -1))
            if bias is not None:
                y += bias.reshape(o, 1)
            return _from_batch_last(y.reshape((o,) + out + (n,)))
        cols, out = geo.columns(xp, x, scratch=self.scratch)
        self.cols = None if self.scratch else cols
        if g == 1:
            y = xp.matmul(weight.reshape(o, -1), cols)
        else:
            y = xp.matmul(weight.reshape(g, o // g, -1), cols.reshape(g, -1, cols.shape[1])).reshape(o, -1)
        if bias is not None:
            y += bias.reshape(o, 1)
        return _from_batch_last(y.reshape((o,) + out + (n,)))

    def _slab_by_slab(self, xp, x, w):
        """Inference: W @ im2col(x), a slab of output rows at a time into one (O, out * N) array. Nothing
        keeps the columns, so a slab's (at most _SLAB_ELEMENTS) live in cache and a small reused buffer
        instead of prod(kernel) copies of the whole input."""
        geo = self.geo
        a = kernels.batch_last(xp, x, geo.pads)
        out = geo.out_shape(x.shape[2:])
        rows, per_row = out[0], math.prod(out[1:]) * x.shape[0]
        slab = max(1, _SLAB_ELEMENTS // max(w.shape[1] * per_row, 1))
        y = xp.empty((w.shape[0], rows * per_row), dtype=xp.result_type(w, a))
        reach = geo.dilation[0] * (geo.kernel[0] - 1) + 1   # input rows one output row reads
        for first in range(0, rows, slab):
            last = min(rows, first + slab)
            window = a[:, first * geo.stride[0]:(last - 1) * geo.stride[0] + reach]
            cols = kernels.im2col(xp, window, geo.kernel, geo.stride, geo.dilation, (last - first,) + out[1:],
                                  scratch=True)
            xp.matmul(w, cols, out=y[:, first * per_row:last * per_row])
        return y, out

    def backward(self, grad):
        need, geo = self.needs_input_grad, self.geo
        x, weight = self.input(0), self.input(1)
        grads = [None] * len(need)
        if not _grad_state.enabled and need[0] and need[1] and not _onednn_takes(self.xp, x._data, grad._data):
            grad = _batch_last_tensor(self.xp, grad)   # both im2col products below read it as (O, out * N)
        if need[0]:
            grads[0] = ConvTransposeNd(geo, _shape(x)).apply(grad, weight)
        if need[1]:
            grads[1] = ConvWeightGrad(geo, _shape(weight), self.cols).apply(x, grad)
        self.cols = None
        if len(need) > 2 and need[2]:
            axes = (0,) + tuple(range(2, grad.ndim))
            grads[2] = grad.sum(axes) if _grad_state.enabled else _wrap(_sum_by_channel(grad._data))
        return tuple(grads)


_SLAB_ELEMENTS = 2 ** 21   # columns per input-gradient slab: 8 MB of float32


class ConvTransposeNd(Node):
    """The input gradient of ConvNd: gy (N, O, *out), weight -> (N, C, *x_spatial). Also conv_transpose."""
    __slots__ = ("geo", "x_shape")

    def __init__(self, geo, x_shape):
        self.geo, self.x_shape = geo, x_shape

    def forward(self, gy, weight):
        xp, geo = self.xp, self.geo
        n, o, g = gy.shape[0], weight.shape[0], geo.groups
        out = gy.shape[2:]
        x_shape = (n,) + self.x_shape[1:]
        gx = _conv_library(xp).conv_backward_data(gy, weight, x_shape, geo.kernel, geo.stride, geo.pads,
                                                  geo.dilation, g)
        if gx is not None:
            return gx
        gy = _by_channel(gy)
        padded = geo.padded_batch_last(x_shape)
        if g == 1:
            gx = self._slab_by_slab(xp, weight.reshape(o, -1), gy, padded, out)
        else:
            w = weight.reshape(g, o // g, -1)
            cols = xp.matmul(w.transpose(0, 2, 1), gy.reshape(g, o // g, -1)).reshape(-1, gy.shape[1])
            gx = kernels.col2im(xp, cols, padded, geo.kernel, geo.stride, geo.dilation, out)
        if any(lo or hi for lo, hi in geo.pads):
            gx = gx[(slice(None),) + tuple(slice(lo, lo + s) for (lo, _), s in zip(geo.pads, x_shape[2:]))]
        return _from_batch_last(gx)

    def _slab_by_slab(self, xp, w, gy, padded, out):
        """col2im(W.T @ gy), a slab of output rows at a time: the columns of a whole batch are prod(kernel)
        times the input's size (42 MB for examples/mnist's second conv), a slab's stay in cache and a
        small reused buffer, and the sum is the same."""
        geo = self.geo
        rows = out[0]
        per_row = gy.shape[1] // max(rows, 1)
        slab = max(1, _SLAB_ELEMENTS // max(w.shape[1] * per_row, 1))
        dtype = xp.result_type(w, gy)
        gx = xp.zeros(padded, dtype=dtype)
        for first in range(0, rows, slab):
            last = min(rows, first + slab)
            cols = xp.matmul(w.T, gy[:, first * per_row:last * per_row],
                             out=kernels.scratch_array(xp, (w.shape[1], (last - first) * per_row), dtype))
            kernels.col2im(xp, cols, padded, geo.kernel, geo.stride, geo.dilation, (last - first,) + out[1:],
                           out=gx, first=first)
        return gx

    def backward(self, grad):
        need, geo = self.needs_input_grad, self.geo
        gy, weight = self.input(0), self.input(1)
        conv = ConvNd(geo)
        g_gy = conv.apply(grad, weight) if need[0] else None
        # First order: the weight gradient reuses the im2col columns of grad that the conv just built
        cols = conv.cols if need[0] and not _grad_state.enabled else None
        g_w = ConvWeightGrad(geo, _shape(weight), cols).apply(grad, gy) if need[1] else None
        return g_gy, g_w


class ConvWeightGrad(Node):
    """The weight gradient of ConvNd: x (N, C, *sp), gy (N, O, *out) -> (O, C/groups, *k)."""
    __slots__ = ("geo", "w_shape", "cols")

    def __init__(self, geo, w_shape, cols=None):
        self.geo, self.w_shape, self.cols = geo, w_shape, cols

    def forward(self, x, gy):
        xp, geo = self.xp, self.geo
        g = geo.groups
        if self.cols is None:
            gw = _conv_library(xp).conv_backward_weights(x, gy, self.w_shape, geo.kernel, geo.stride, geo.pads,
                                                         geo.dilation, g)
            if gw is not None:
                return gw
        cols = self.cols if self.cols is not None else geo.columns(xp, x)[0]
        self.cols = None
        gy = _by_channel(gy)
        if g == 1:   # one GEMM over the whole batch, in the operand order OpenBLAS runs faster
            gw = xp.matmul(gy, cols.T) if cols.shape[0] < gy.shape[0] else xp.matmul(cols, gy.T).T
        else:
            gw = xp.matmul(gy.reshape(g, -1, gy.shape[1]), cols.reshape(g, -1, cols.shape[1]).transpose(0, 2, 1))
        return gw.reshape(self.w_shape)

    def backward(self, grad):
        need, geo = self.needs_input_grad, self.geo
        x, gy = self.input(0), self.input(1)
        g_x = ConvTransposeNd(geo, _shape(x)).apply(gy, grad) if need[0] else None
        g_gy = ConvNd(geo).apply(x, grad) if need[1] else None
        return g_x, g_gy


def _conv_pads(padding, kernel, dilation, stride, nd, op):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride}); use an explicit padding")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
    return tuple((p, p) for p in _ntuple(padding, nd, "padding", op))


def _check_conv_input(op, nd, input, weight, groups, transposed=False):
    """Returns (input, unbatched) after checking rank and channels with a message naming both shapes."""
    if weight.ndim != nd + 2:
        raise ValueError(f"{op}: weight must be {nd + 2}-d, got weight of shape {_shape(weight)}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input of shape "
            f"(N, C, {', '.join(('D', 'H', 'W')[3 - nd:])}), got input of shape {_shape(input)}; reshape the "
            f"input (e.g. flatten extra leading dims into the batch) before the convolution")
    unbatched = input.ndim == nd + 1
    if unbatched:
        input = input.reshape((1,) + _shape(input))
    channels = input.shape[1]
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if channels != expected:
        raise ValueError(
            f"{op}: weight of shape {_shape(weight)} (groups={groups}) expects input with {expected} channels, "
            f"got input of shape {_shape(input)} with {channels} channels; channels are dim 1 (N, C, ...): "
            f"check the layout, or make the layer's in_channels {channels}")
    out_ch = weight.shape[1] * groups if transposed else weight.shape[0]
    if (weight.shape[0]) % groups or (not transposed and out_ch % groups):
        raise ValueError(f"{op}: {weight.shape[0]} channels are not divisible by groups={groups}")
    return input, unbatched


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    if _amp.state.enabled:
        input, weight, bias = _amp.cast_inputs(input, weight, bias)
    input, unbatched = _check_conv_input(op, nd, input, weight, groups)
    _check_same_dtype(op, input=input, weight=weight, bias=bias)
    kernel = _shape(weight)[2:]
    stride = _ntuple(stride, nd, "stride", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    geo = _ConvGeometry(kernel, stride, _conv_pads(padding, kernel, dilation, stride, nd, op), dilation, groups)
    out = geo.out_shape(_shape(input)[2:])
    if any(s <= 0 for s in out):
        raise ValueError(f"{op}: input of shape {_shape(input)} is too small for kernel {kernel} with "
                         f"padding {padding}, dilation {dilation}: the output would be {out}")
    if bias is not None and _shape(bias) != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},), got {_shape(bias)}")
    scratch = not (_grad_state.enabled and (input.requires_grad or weight.requires_grad
                                            or (bias is not None and bias.requires_grad)))
    node = ConvNd(geo, scratch)
    y = node.apply(input, weight) if bias is None else node.apply(input, weight, bias)
    return y.reshape(_shape(y)[1:]) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution over (N, C, L) input with weight (out_channels, C/groups, k)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution over (N, C, H, W) input with weight (out_channels, C/groups, kH, kW)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution over (N, C, D, H, W) input with weight (out_channels, C/groups, kD, kH, kW)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    input, unbatched = _check_conv_input(op, nd, input, weight, groups, transposed=True)
    kernel = _shape(weight)[2:]
    stride = _ntuple(stride, nd, "stride", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    padding = _ntuple(padding, nd, "padding", op)
    output_padding = _ntuple(output_padding, nd, "output_padding", op)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than stride {stride} "
                             f"or dilation {dilation}")
    geo = _ConvGeometry(kernel, stride, tuple((p, p) for p in padding), dilation, groups)
    n, c_out = input.shape[0], weight.shape[1] * groups
    spatial = tuple((h - 1) * s - 2 * p + d * (k - 1) + q + 1 for h, s, p, d, k, q in
                    zip(_shape(input)[2:], stride, padding, dilation, kernel, output_padding))
    if any(s <= 0 for s in spatial):
        raise ValueError(f"{op}: input of shape {_shape(input)} gives a non-positive output size {spatial}")
    y = ConvTransposeNd(geo, (n, c_out) + spatial).apply(input, weight)
    if bias is not None:
        y = y + bias.reshape((c_out,) + (1,) * nd)
    return y.reshape(_shape(y)[1:]) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-d convolution; weight (in_channels, out_channels/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-d convolution; weight (in_channels, out_channels/groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-d convolution; weight (in_channels, out_channels/groups, kD, kH, kW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


# =============================================================================================
# pooling
# =============================================================================================
class _PoolGeometry:
    """Window geometry of a pooling op over the trailing nd dims of (N, C, *spatial)."""
    __slots__ = ("kernel", "stride", "padding", "dilation", "ceil_mode", "in_shape", "out", "pads")

    def __init__(self, in_shape, kernel, stride, padding, dilation, ceil_mode):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.ceil_mode, self.in_shape = ceil_mode, in_shape
        spatial = in_shape[-len(kernel):]
        self.out = tuple(kernels.output_size(n, k, s, p, p, d, ceil_mode)
                         for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation))
        # right padding so that every (ceil-mode) window lies inside the padded array
        self.pads = tuple((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p))
                          for n, k, s, p, d, o in zip(spatial, kernel, stride, padding, dilation, self.out))

    @property
    def tiles(self):
        """Windows tile (a crop of) the input: kernel == stride, no padding or dilation, nothing past the edge."""
        nd = len(self.kernel)
        return (self.kernel == self.stride and not any(self.padding) and all(d == 1 for d in self.dilation)
                and all(o * k <= n for o, k, n in zip(self.out, self.kernel, self.in_shape[-nd:])))

    def tile_slices(self):
        """For each kernel offset (row-major), the index picking that element of every window (a strided view)."""
        return [(Ellipsis,) + tuple(slice(o, o + m * k, k) for o, m, k in zip(offset, self.out, self.kernel))
                for offset in _ndindex(self.kernel)]

    @property
    def overlapping(self):
        return any(d * (k - 1) + 1 > s for k, s, d in zip(self.kernel, self.stride, self.dilation))

    def windows(self, xp, x, fill):
        """(N, C, *out, *kernel) view of the windows of x, padded with ``fill``."""
        xpad = kernels.pad_constant(xp, x, self.pads, fill)
        return kernels.windows(xp, xpad, self.kernel, self.stride, self.dilation, self.out)

    def scatter(self, xp, cols):
        """Adjoint of ``windows``: sum window values (N, C, *out, *kernel) back into an input-shaped array."""
        nd = len(self.kernel)
        lead = self.in_shape[:-nd]
        padded = lead + tuple(n + lo + hi for n, (lo, hi) in zip(self.in_shape[-nd:], self.pads))
        out = xp.zeros(padded, dtype=cols.dtype)
        if not self.overlapping:
            view = kernels.windows(xp, out, self.kernel, self.stride, self.dilation, self.out)
            view[...] = cols   # windows are disjoint: plain assignment through the strided view
        else:
            pre = (slice(None),) * len(lead)
            for offset in _ndindex(self.kernel):
                dst = pre + tuple(slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in
                                  zip(offset, self.dilation, self.stride, self.out))
                out[dst] += cols[pre + (Ellipsis,) + offset]
        crop = tuple(slice(lo, lo + n) for (lo, _), n in zip(self.pads, self.in_shape[-nd:]))
        return out[(Ellipsis,) + crop]


def _ndindex(shape):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _ndindex(shape[1:]):
            yield (i,) + rest


def _has_nan(xp, a):
    """Whether ``a`` holds a NaN; on a GPU always assumed (the NaN-aware path is exact either way), so that
    pooling never waits for the device."""
    if a.dtype.kind not in "fV":
        return False
    if host_sync.on_device(a):
        return True
    return bool(xp.isnan(a).any())


class MaxPoolNd(Node):
    """Max over windows; the gradient goes to the first maximum of each window (PyTorch's rule)."""
    __slots__ = ("geo", "arg")
    needs_output = True

    def __init__(self, geo):
        self.geo = geo

    def forward(self, x):
        xp, geo = self.xp, self.geo
        if geo.tiles:   # elementwise maximum of the kernel's strided slices: no copies, no argmax
            self.arg = None
            slices = geo.tile_slices()
            y = x[slices[0]].copy(order="K")   # keep x's memory order (batch-last after a convolution)
            for sl in slices[1:]:
                xp.maximum(y, x[sl], out=y)
            return y
        nd = len(geo.kernel)
        win = geo.windows(xp, x, -xp.inf)
        flat = win.reshape(win.shape[:-nd] + (-1,))   # one copy of the windows
        arg = flat.argmax(-1)
        if _has_nan(xp, flat):  # argmax picks the first NaN; PyTorch's max pooling keeps the last one
            nan = xp.isnan(flat)
            last = flat.shape[-1] - 1 - xp.flip(nan, -1).argmax(-1)
            arg = xp.where(nan.any(-1), last, arg)
        arg = arg[..., None]
        self.arg = arg
        return xp.take_along_axis(flat, arg, -1)[..., 0]

    def _tile_argmax(self, x, y):
        """Offset of the first maximum of each window (tiling case), shaped like the output plus a unit dim."""
        xp = self.xp
        slices = self.geo.tile_slices()
        arg = xp.full(y.shape, len(slices) - 1, dtype=xp.intp)
        for o in range(len(slices) - 2, -1, -1):
            arg = xp.where(x[slices[o]] == y, o, arg)
        if _has_nan(xp, y):  # a window holding NaN returns NaN, and its last NaN gets the gradient
            for o, sl in enumerate(slices):
                arg = xp.where(xp.isnan(x[sl]), o, arg)
        return arg[..., None]

    def backward(self, grad):
        if self.arg is None:
            x, y = self.input(0)._data, self.output()._data
            if not _grad_state.enabled:
                return _wrap(self._tile_backward(x, y, grad._data))
            self.arg = self._tile_argmax(x, y)
        return WindowScatter(self.geo, self.arg).apply(grad)

    def _tile_backward(self, x, y, g):
        """Each window's gradient to its first maximum, written through the kernel's strided slices."""
        xp, geo = self.xp, self.geo
        nd = len(geo.kernel)
        covered = all(o * k == n for o, k, n in zip(geo.out, geo.kernel, geo.in_shape[-nd:]))
        gx = xp.empty_like(x, dtype=g.dtype) if covered else xp.zeros_like(x, dtype=g.dtype)  # x's memory order
        if g.strides != y.strides:   # one re-layout into y's memory order (batch-last after a conv) instead
            g_like_y = xp.empty_like(y, dtype=g.dtype)   # of a transposing read per kernel offset below
            g_like_y[...] = g
            g = g_like_y
        # On the CPU a finite gradient is multiplied by the masks straight into gx (no temporaries); a NaN
        # or inf one needs a select (NaN * 0 is NaN), which keeps it at its window's maximum.
        finite = xp is _np_host and bool(_np_host.isfinite(g.sum()))
        free = None   # windows whose maximum has not been found yet
        for sl in geo.tile_slices():
            hit = x[sl] == y
            if free is None:
                free = ~hit
            else:
                hit &= free
                free ^= hit   # hit is inside free here: this clears it
            if finite:
                xp.multiply(g, hit, out=gx[sl])
            else:
                gx[sl] = fused.masked_grad(g, hit)
        if _has_nan(xp, y):  # NaN == NaN is False above; as PyTorch, the window's last NaN takes the gradient
            free = xp.isnan(y)
            for sl in reversed(geo.tile_slices()):
                hit = xp.isnan(x[sl]) & free
                free &= ~hit
                gx[sl] = xp.where(hit, g, gx[sl])
        return gx

    def indices(self):
        """Flat index into each (N, C) plane of the input of every chosen maximum (return_indices)."""
        xp, geo = self.xp, self.geo
        nd = len(geo.kernel)
        if self.arg is None:
            raise RuntimeError("MaxPoolNd.indices: internal error, argmax not computed")
        arg = self.arg[..., 0]
        offsets = xp.unravel_index(arg, geo.kernel)
        spatial = geo.in_shape[-nd:]
        flat = xp.zeros(arg.shape, dtype=xp.int64)
        for i in range(nd):
            shape = [1] * arg.ndim
            shape[arg.ndim - nd + i] = geo.out[i]
            start = (xp.arange(geo.out[i]) * geo.stride[i] - geo.padding[i]).reshape(shape)
            pos = start + offsets[i] * geo.dilation[i]
            flat = flat * spatial[i] + pos
        return flat


class WindowScatter(Node):
    """Backward of max pooling: put each output gradient at its window's argmax (sum where windows overlap)."""
    __slots__ = ("geo", "arg")

    def __init__(self, geo, arg):
        self.geo, self.arg = geo, arg

    def forward(self, grad):
        xp, geo = self.xp, self.geo
        nd = len(geo.kernel)
        cols = xp.zeros(grad.shape + (math.prod(geo.kernel),), dtype=grad.dtype)
        kernels.put_along_axis(xp, cols, self.arg, grad[..., None], -1)
        return geo.scatter(xp, cols.reshape(grad.shape + geo.kernel))

    def backward(self, grad):
        return WindowGather(self.geo, self.arg).apply(grad)


class WindowGather(Node):
    """Pick each window's argmax element of x (max pooling with fixed indices): WindowScatter's adjoint."""
    __slots__ = ("geo", "arg")

    def __init__(self, geo, arg):
        self.geo, self.arg = geo, arg

    def forward(self, x):
        xp, geo = self.xp, self.geo
        nd = len(geo.kernel)
        win = geo.windows(xp, x, 0)
        flat = win.reshape(win.shape[:-nd] + (-1,))
        return xp.take_along_axis(flat, self.arg, -1)[..., 0]

    def backward(self, grad):
        return WindowScatter(self.geo, self.arg).apply(grad)


def _pool_args(op, nd, input, kernel_size, stride, padding, dilation):
    kernel = _ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _ntuple(stride, nd, "stride", op)
    padding = _ntuple(padding, nd, "padding", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, "
                         f"got input of shape {_shape(input)}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > ((k - 1) * d + 1) // 2:
            raise ValueError(f"{op}: padding {padding} should be at most half of the effective kernel size "
                             f"(kernel_size {kernel}, dilation {dilation})")
    return kernel, stride, padding, dilation


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    kernel, stride, padding, dilation = _pool_args(op, nd, input, kernel_size, stride, padding, dilation)
    geo = _PoolGeometry(_shape(input), kernel, stride, padding, dilation, ceil_mode)
    if any(o <= 0 for o in geo.out):
        raise ValueError(f"{op}: input of shape {_shape(input)} is too small for kernel {kernel}: "
                         f"the output would be {geo.out}")
    fn = MaxPoolNd(geo)
    y = fn.apply(input)
    if return_indices:
        if fn.arg is None:
            fn.arg = fn._tile_argmax(input._data, y._data)
        return y, _wrap(fn.indices())
    return y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of the last dim of (N, C, L)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of the last two dims of (N, C, H, W)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of the last three dims of (N, C, D, H, W)."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


class AvgPoolNd(Node):
    """Mean over windows (a linear map); its backward is AvgPoolNdAdjoint, whose backward is this again."""
    __slots__ = ("geo", "divisor")

    def __init__(self, geo, divisor):
        self.geo, self.divisor = geo, divisor

    def forward(self, x):
        geo = self.geo
        nd = len(geo.kernel)
        s = geo.windows(self.xp, x, 0).sum(tuple(range(-nd, 0)))
        return s / self.divisor if isinstance(self.divisor, (int, float)) else s / self.divisor.astype(s.dtype)

    def backward(self, grad):
        return AvgPoolNdAdjoint(self.geo, self.divisor).apply(grad)


class AvgPoolNdAdjoint(Node):
    __slots__ = ("geo", "divisor")

    def __init__(self, geo, divisor):
        self.geo, self.divisor = geo, divisor

    def forward(self, grad):
        xp, geo = self.xp, self.geo
        d = self.divisor if isinstance(self.divisor, (int, float)) else self.divisor.astype(grad.dtype)
        g = (grad / d)[(Ellipsis,) + (None,) * len(geo.kernel)]
        cols = xp.broadcast_to(g, grad.shape + geo.kernel)
        return geo.scatter(xp, cols)

    def backward(self, grad):
        return AvgPoolNd(self.geo, self.divisor).apply(grad)


def _avg_divisor(xp, geo, count_include_pad, divisor_override):
    """The per-window divisor: a number, or an array broadcasting over (..., *out) (PyTorch's rules)."""
    if divisor_override:
        return float(divisor_override)
    nd = len(geo.kernel)
    spatial = geo.in_shape[-nd:]
    per_dim = []
    constant = True
    for i in range(nd):
        start = xp.arange(geo.out[i]) * geo.stride[i] - geo.padding[i]
        end = xp.minimum(start + geo.kernel[i], spatial[i] + geo.padding[i])
        size = end - start
        if not count_include_pad:
            size = xp.minimum(end, spatial[i]) - xp.maximum(start, 0)
        per_dim.append(size)
        constant = constant and bool((size == geo.kernel[i]).all())
    if constant:
        return float(math.prod(geo.kernel))
    div = per_dim[0]
    for size in per_dim[1:]:
        div = div[..., None] * size
    return div.astype(xp.float64)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    kernel, stride, padding, dilation = _pool_args(op, nd, input, kernel_size, stride, padding, 1)
    geo = _PoolGeometry(_shape(input), kernel, stride, padding, dilation, ceil_mode)
    if any(o <= 0 for o in geo.out):
        raise ValueError(f"{op}: input of shape {_shape(input)} is too small for kernel {kernel}: "
                         f"the output would be {geo.out}")
    divisor = _avg_divisor(input.xp, geo, count_include_pad, divisor_override)
    return AvgPoolNd(geo, divisor).apply(input)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of the last dim of (N, C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of the last two dims of (N, C, H, W)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of the last three dims of (N, C, D, H, W)."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_matrix(xp, size, out, dtype):
    """(out, size) averaging matrix of adaptive pooling: row i averages [floor(i*size/out), ceil((i+1)*size/out))."""
    m = xp.zeros((out, size), dtype=dtype)
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _adaptive_avg_pool(op, nd, input, output_size):
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected a {nd + 1}-d or {nd + 2}-d input, got input of shape {_shape(input)}")
    spatial = _shape(input)[-nd:]
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(s if o is None else int(o) for s, o in zip(spatial, output_size))
    if all(s % o == 0 for s, o in zip(spatial, output_size)):
        k = tuple(s // o for s, o in zip(spatial, output_size))
        geo = _PoolGeometry(_shape(input), k, k, (0,) * nd, (1,) * nd, False)
        return AvgPoolNd(geo, float(math.prod(k))).apply(input)
    # uneven windows: pooling is separable, one averaging matrix per dim (exact, differentiable by matmul)
    y = input
    T = _tensor_cls()
    for i, (s, o) in enumerate(zip(spatial, output_size)):
        m = T._wrap(_adaptive_matrix(input.xp, s, o, input._data.dtype), input._device)
        dim = input.ndim - nd + i
        y = y.transpose(dim, -1).matmul(m.transpose(0, 1)).transpose(dim, -1)
    return y


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a fixed output length."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (H, W) output size (``None`` keeps that dim)."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


# =============================================================================================
# normalisation: one Function standardises over some axes, then applies a per-feature affine map
# =============================================================================================
def _blas_reducible(a):
    """A C-contiguous float32/float64 array: its reductions over leading or trailing axes can be one
    matrix-vector product, which BLAS runs several times faster than NumPy's reduction over short rows
    (LayerNorm's rows of 128 to 1024 features)."""
    return a.flags.c_contiguous and a.dtype.kind == "f" and a.dtype.itemsize >= 4 and a.size > 0


def _mean_keepdims(xp, a, axes):
    """a.mean(axes, keepdims=True), by BLAS when ``axes`` are a's trailing axes."""
    n = a.ndim
    if axes == tuple(range(n - len(axes), n)) and _blas_reducible(a):
        rows = a.reshape(-1, math.prod(a.shape[n - len(axes):]))
        mean = xp.matmul(rows, xp.ones(rows.shape[1], dtype=a.dtype))
        mean /= rows.shape[1]   # sum, then divide: a product with a rounded 1/n would miss exact means
        return mean.reshape(a.shape[:n - len(axes)] + (1,) * len(axes))
    return a.mean(axes, keepdims=True)


def _sum_leading(xp, a, axes):
    """a.sum(axes), by BLAS when ``axes`` are a's leading axes (a LayerNorm's weight and bias gradients)."""
    if axes == tuple(range(len(axes))) and axes and _blas_reducible(a):
        rows = a.reshape(math.prod(a.shape[:len(axes)]), -1)
        return xp.matmul(xp.ones(rows.shape[0], dtype=a.dtype), rows).reshape(a.shape[len(axes):])
    return a.sum(axes)


class Normalize(Node):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over ``axes`` of x viewed as ``group_shape``.

    batch_norm: axes (0, 2, ...) of x; layer_norm: the trailing axes; group_norm:
    axis 2 of x viewed as (N, G, rest). weight/bias broadcast as ``param_shape``.
    """
    __slots__ = ("axes", "group_shape", "eps", "param_shape", "has_weight", "has_bias", "xhat", "rstd",
                 "mean", "var")

    def __init__(self, axes, group_shape, eps, param_shape, has_weight, has_bias):
        self.axes, self.group_shape, self.eps, self.param_shape = axes, group_shape, eps, param_shape
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *params):
        xp = self.xp
        xr = x.reshape(self.group_shape) if self.group_shape else x
        mean = _mean_keepdims(xp, xr, self.axes)
        xc = xr - mean
        var = _mean_keepdims(xp, xc * xc, self.axes)
        rstd = 1.0 / xp.sqrt(var + self.eps)
        xc *= rstd   # in place from here on: xc is our own temporary (one large allocation per pass saved)
        xhat = xc.reshape(x.shape)
        self.xhat, self.rstd, self.mean, self.var = xhat, rstd, mean, var
        if self.has_weight:
            y = xhat * params[0].reshape(self.param_shape)
            if self.has_bias:
                y += params[-1].reshape(self.param_shape)
            return y
        if self.has_bias:
            return xhat + params[-1].reshape(self.param_shape)
        return xhat.copy()

    def _param_axes(self, ndim):
        shape = (1,) * (ndim - len(self.param_shape)) + tuple(self.param_shape)
        return tuple(i for i, s in enumerate(shape) if s == 1)

    def backward(self, grad):
        if _grad_state.enabled:
            return self._backward_graph(grad)
        need = self.needs_input_grad
        g, xp = grad._data, self.xp
        xhat, rstd, axes = self.xhat, self.rstd, self.axes
        grads = [None] * len(need)
        p_axes = self._param_axes(g.ndim)
        if self.has_weight and need[1]:
            grads[1] = _wrap(_sum_leading(xp, g * xhat, p_axes).reshape(self.inputs[1].shape))
        if self.has_bias and need[-1]:
            grads[-1] = _wrap(_sum_leading(xp, g, p_axes).reshape(self.inputs[-1].shape))
        if need[0]:
            gxhat = g * self.input(1)._data.reshape(self.param_shape) if self.has_weight else g
            if self.group_shape:
                gxhat, xhat = gxhat.reshape(self.group_shape), xhat.reshape(self.group_shape)
            # gx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)), in two temporaries
            proj = gxhat * xhat
            proj_mean = _mean_keepdims(xp, proj, axes)
            gx = gxhat - _mean_keepdims(xp, gxhat, axes)
            gx -= xp.multiply(xhat, proj_mean, out=proj)
            gx *= rstd
            grads[0] = _wrap(gx.reshape(g.shape))
        return tuple(grads)

    def _backward_graph(self, grad):
        """The same rule in Tensor ops (create_graph=True), recomputing the statistics from the input."""
        need, axes = self.needs_input_grad, self.axes
        x = self.input(0)
        shape = _shape(x)
        xr = x.reshape(self.group_shape) if self.group_shape else x
        mean = xr.mean(axes, keepdim=True)
        xc = xr - mean
        rstd = ((xc * xc).mean(axes, keepdim=True) + self.eps) ** -0.5
        xhat = xc * rstd
        grads = [None] * len(need)
        p_axes = self._param_axes(len(shape))
        xhat_full = xhat.reshape(shape)
        if self.has_weight and need[1]:
            grads[1] = (grad * xhat_full).sum(p_axes).reshape(_shape(self.inputs[1]))
        if self.has_bias and need[-1]:
            grads[-1] = grad.sum(p_axes).reshape(_shape(self.inputs[-1]))
        if need[0]:
            gxhat = grad * self.input(1).reshape(self.param_shape) if self.has_weight else grad
            if self.group_shape:
                gxhat = gxhat.reshape(self.group_shape)
            gx = rstd * (gxhat - gxhat.mean(axes, keepdim=True) - xhat * (gxhat * xhat).mean(axes, keepdim=True))
            grads[0] = gx.reshape(shape)
        return tuple(grads)


def _normalize(x, weight, bias, axes, group_shape, eps, param_shape):
    fn = Normalize(axes, group_shape, eps, param_shape, weight is not None, bias is not None)
    params = [p for p in (weight, bias) if p is not None]
    return fn, fn.apply(x, *params)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation over (N, C, *): batch statistics (and a running-stat update) when training."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got {_shape(input)}")
    y = cudnn_frontend.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if y is not None:   # cuDNN on a GPU when installed
        return y
    if _half(input):
        return batch_norm(_float32(input), running_mean, running_var, _float32(weight), _float32(bias), training,
                          momentum, eps).to(input.dtype)
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and _shape(t) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for input of shape {_shape(input)} "
                             f"with {c} channels, got {_shape(t)}")
    param_shape = (c,) + (1,) * (input.ndim - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
        T = _tensor_cls()
        xp = input.xp
        if _node._recorder is None and not (_grad_state.enabled and (input.requires_grad or any(
                t is not None and t.requires_grad for t in (weight, bias)))):
            y = _eval_batch_norm_array(xp, input._data, running_mean._data, running_var._data,
                                       None if weight is None else weight._data,
                                       None if bias is None else bias._data, eps, param_shape)
            if y is not None:
                return T._wrap(y, input._device)
        rstd = 1.0 / xp.sqrt(running_var._data + eps)
        scale = T._wrap(rstd.reshape(param_shape).astype(input._data.dtype, copy=False), input._device)
        shift = T._wrap((-running_mean._data * rstd).reshape(param_shape).astype(input._data.dtype, copy=False),
                        input._device)
        if weight is not None:
            scale = scale * weight.reshape(param_shape)
            shift = shift * weight.reshape(param_shape)
        if bias is not None:
            shift = shift + bias.reshape(param_shape)
        return input * scale + shift
    count = input.numel() // c
    if count <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {_shape(input)}")
    axes = (0,) + tuple(range(2, input.ndim))
    fn, y = _normalize(input, weight, bias, axes, None, eps, param_shape)
    if running_mean is not None or running_var is not None:
        m = 0.0 if momentum is None else momentum
        if running_mean is not None:
            rm = running_mean._data
            rm *= 1 - m
            rm += m * fn.mean.reshape(c).astype(rm.dtype, copy=False)
            running_mean._bump_version()
        if running_var is not None:
            rv = running_var._data
            rv *= 1 - m
            rv += (m * count / (count - 1)) * fn.var.reshape(c).astype(rv.dtype, copy=False)
            running_var._bump_version()
    fn.mean = fn.var = None
    return y


def _eval_batch_norm_array(xp, x, mean, var, weight, bias, eps, param_shape):
    """Inference batch norm without a graph: x * scale + shift as one product and one in-place add
    (the Tensor-op path makes two full-size temporaries); the same roundings as that path.
    None when the dtypes differ, where the Tensor path's promotion rules apply."""
    dt = x.dtype
    if dt.kind != "f" or any(a is not None and a.dtype != dt for a in (weight, bias)):
        return None
    rstd = 1.0 / xp.sqrt(var + eps)
    scale = rstd.astype(dt, copy=False)
    shift = (-mean * rstd).astype(dt, copy=False)
    if weight is not None:
        scale = scale * weight
        shift = shift * weight
    if bias is not None:
        shift = shift + bias
    y = xp.multiply(x, scale.reshape(param_shape))  # keeps x's memory order (a conv's batch-last output)
    y += shift.reshape(param_shape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift elementwise."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if _shape(input)[input.ndim - k:] != normalized_shape or k > input.ndim:
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} must match the trailing dims of the "
                         f"input, got input of shape {_shape(input)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and _shape(t) != normalized_shape:
            raise ValueError(f"layer_norm: {name} must have shape {normalized_shape}, got {_shape(t)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    if _half(input):
        return _normalize(_float32(input), _float32(weight), _float32(bias), axes, None, eps,
                          normalized_shape)[1].to(input.dtype)
    return _normalize(input, weight, bias, axes, None, eps, normalized_shape)[1]


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise over groups of channels (and all spatial positions) of (N, C, *)."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, ...), got {_shape(input)}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels of input {_shape(input)} are not divisible by "
                         f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and _shape(t) != (c,):
            raise ValueError(f"group_norm: {name} must have shape ({c},), got {_shape(t)}")
    param_shape = (c,) + (1,) * (input.ndim - 2)
    if _half(input):
        return _normalize(_float32(input), _float32(weight), _float32(bias), (2,), (n, num_groups, -1), eps,
                          param_shape)[1].to(input.dtype)
    return _normalize(input, weight, bias, (2,), (n, num_groups, -1), eps, param_shape)[1]


# =============================================================================================
# softmax, log_softmax
# =============================================================================================
def _softmax_dim(ndim, dim, op):
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1   # PyTorch's legacy implicit choice
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dims")
    return dim % max(ndim, 1)


def _log_softmax_array(xp, x, axis):
    z = x - x.max(axis, keepdims=True)
    z -= xp.log(xp.exp(z).sum(axis, keepdims=True))   # in place: one large temporary fewer (vocab-sized rows)
    return z


class Softmax(Node):
    __slots__ = ("dim",)
    needs_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = self.xp
        if x.ndim == 0:  # exp(x - x): 1, or NaN for NaN / inf, as in PyTorch
            return xp.exp(x - x)
        if x.size == 0:  # nothing to normalise (max over an empty axis has no identity)
            return xp.empty_like(x)
        e = xp.exp(x - x.max(self.dim, keepdims=True))
        e /= e.sum(self.dim, keepdims=True)
        return e

    def backward(self, grad):
        if _grad_state.enabled:
            y = self.output()
            return y * (grad - (grad * y).sum(self.dim, keepdim=True))
        y, g = self.output_array(), grad._data
        if y.ndim == 0:
            return _wrap(self.xp.asarray(y * (g - g * y)))
        return _wrap(y * (g - (g * y).sum(self.dim, keepdims=True)))


class LogSoftmax(Node):
    __slots__ = ("dim",)
    needs_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        if x.ndim == 0:  # x - x: 0, or NaN for NaN / inf, as in PyTorch
            return x - x
        if x.size == 0:
            return self.xp.empty_like(x)
        return _log_softmax_array(self.xp, x, self.dim)

    def backward(self, grad):
        if _grad_state.enabled:
            return grad - self.output().exp() * grad.sum(self.dim, keepdim=True)
        y, g = self.output_array(), grad._data
        if y.ndim == 0:
            return _wrap(self.xp.asarray(g - self.xp.exp(y) * g))
        return _wrap(g - self.xp.exp(y) * g.sum(self.dim, keepdims=True))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (computed stably)."""
    if dtype is not None:
        input = input.to(dtype)
    dim = _softmax_dim(input.ndim, dim, "softmax")
    if _half(input):
        return Softmax(dim).apply(_float32(input)).to(input.dtype)
    return Softmax(dim).apply(input)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along ``dim``, without forming softmax (stable for large logits)."""
    if dtype is not None:
        input = input.to(dtype)
    dim = _softmax_dim(input.ndim, dim, "log_softmax")
    if _half(input):
        return LogSoftmax(dim).apply(_float32(input)).to(input.dtype)
    return LogSoftmax(dim).apply(input)


# =============================================================================================
# cross_entropy (fused log-softmax + NLL) and nll_loss
# =============================================================================================
class _ClassTargets:
    """Class-index targets of a (N, C, *) input, with weights and ignore_index resolved once.

    loss_i = -sum_c q_ic * logp_ic with q_ic = (1 - eps) * w[t_i] * [c == t_i] + (eps / C) * w_c
    (zero on ignored positions); ``reduce`` maps per-position values to the result.
    """
    __slots__ = ("index", "valid", "w_t", "w_c", "eps", "reduction", "denom", "num_classes")

    def __init__(self, xp, target, weight, ignore_index, eps, reduction, num_classes, dtype, op):
        valid = target != ignore_index
        index = xp.where(valid, target, 0)
        # On a GPU the range check stays on the device and fails at the next sync (no stall per step)
        index = host_sync.checked_indices(
            op, index, num_classes,
            f"{op}: target class index {{value}} is out of range for input with {num_classes} classes "
            f"(expected 0 <= target < {num_classes}, or ignore_index={ignore_index})", values=target)
        self.index = xp.expand_dims(index, 1)
        self.valid = valid
        self.num_classes, self.eps, self.reduction = num_classes, eps, reduction
        if weight is None:
            self.w_c = None
            self.w_t = valid.astype(dtype)
        else:
            self.w_c = weight.astype(dtype, copy=False)
            self.w_t = self.w_c[index] * valid
        # kept on the device (a 0-d array): reading it as a float would stall a GPU every step
        self.denom = self.w_t.sum() if reduction == "mean" else None

    def per_position(self, xp, logp):
        """-sum_c q_ic * logp_ic for every position (N, *)."""
        loss = -xp.take_along_axis(logp, self.index, 1)[:, 0] * self.w_t
        if self.eps:
            if self.w_c is not None:
                w = self.w_c.reshape((1, -1) + (1,) * (logp.ndim - 2))
                smooth = -(logp * w).sum(1)
            else:
                smooth = -logp.sum(1)
            loss = (1 - self.eps) * loss + (self.eps / self.num_classes) * (smooth * self.valid)
        return loss

    def reduce(self, loss):
        if self.reduction == "none":
            return loss
        total = loss.sum()
        if self.reduction == "mean":   # all targets ignored: 0/0 = nan, like PyTorch
            xp = _xp_of(total)
            empty = self.denom == 0
            out = xp.where(empty, float("nan"), total / (self.denom + empty))
            return xp.asarray(out).astype(total.dtype, copy=False)
        return total

    def grad_scale(self, g):
        """d(result)/d(per-position loss) times the incoming gradient, shaped (N, 1, *) (array or Tensor)."""
        if self.reduction == "none":
            return g.reshape((g.shape[0], 1) + tuple(g.shape[1:]))
        if self.reduction == "mean":   # PyTorch's gradient is 0, not nan, when every target is ignored
            scale = (self.denom != 0) / (self.denom + (self.denom == 0))
            if hasattr(g, "_data"):
                scale = _tensor_cls()._wrap(scale.astype(g._data.dtype), g._device)
            else:
                scale = scale.astype(g.dtype)
            s = g * scale
        else:
            s = g
        return s.reshape((1,) * (self.index.ndim))

    def q(self, xp, shape, dtype):
        """The dense q (N, C, *) of the docstring."""
        q = xp.zeros(shape, dtype=dtype)
        kernels.put_along_axis(xp, q, self.index, xp.expand_dims((1 - self.eps) * self.w_t, 1), 1)
        if self.eps:
            w = self.w_c.reshape((1, -1) + (1,) * (len(shape) - 2)) if self.w_c is not None else 1.0
            q += (self.eps / self.num_classes) * w * xp.expand_dims(self.valid, 1)
        return q

    def q_total(self, xp):
        """sum_c q_ic, shaped (N, 1, *)."""
        total = (1 - self.eps) * self.w_t
        if self.eps:
            wsum = self.w_c.sum() if self.w_c is not None else float(self.num_classes)
            total = total + (self.eps / self.num_classes) * wsum * self.valid
        return xp.expand_dims(total, 1)


class CrossEntropy(Node):
    """Fused log-softmax over dim 1 + weighted NLL with label smoothing; gx = s * (softmax * sum(q) - q)."""
    __slots__ = ("targets", "logp")

    def __init__(self, targets):
        self.targets = targets

    def forward(self, x):
        xp = self.xp
        logp = _log_softmax_array(xp, x, 1)
        self.logp = logp
        return self.targets.reduce(self.targets.per_position(xp, logp))

    def backward(self, grad):
        t = self.targets
        xp = self.xp
        if _grad_state.enabled:
            x = self.input(0)
            T = _tensor_cls()
            dtype = x._data.dtype
            s = t.grad_scale(grad)
            p = softmax(x, 1)
            q_total = T._wrap(t.q_total(xp).astype(dtype, copy=False), x._device)
            q = T._wrap(t.q(xp, _shape(x), dtype), x._device)
            return p * (s * q_total) - q * s
        s = t.grad_scale(grad._data)
        gx = xp.exp(self.logp)
        gx *= s * t.q_total(xp)
        picked = xp.take_along_axis(gx, t.index, 1)
        picked -= s * xp.expand_dims((1 - t.eps) * t.w_t, 1)
        kernels.put_along_axis(xp, gx, t.index, picked, 1)
        if t.eps:
            w = t.w_c.reshape((1, -1) + (1,) * (gx.ndim - 2)) if t.w_c is not None else 1.0
            gx -= s * (t.eps / t.num_classes) * w * xp.expand_dims(t.valid, 1)
        self.logp = None
        return _wrap(gx)


class NLLLoss(Node):
    """-w[t] * input[t] per position (input holds log-probabilities); linear in the input."""
    __slots__ = ("targets",)

    def __init__(self, targets):
        self.targets = targets

    def forward(self, logp):
        return self.targets.reduce(self.targets.per_position(self.xp, logp))

    def backward(self, grad):
        t, xp = self.targets, self.xp
        x = self.inputs[0]
        q = t.q(xp, _shape(x), x._data.dtype)
        if _grad_state.enabled:
            return -(_tensor_cls()._wrap(q, x._device) * t.grad_scale(grad))
        return _wrap(-(q * t.grad_scale(grad._data)))


def _check_reduction(op, reduction):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _class_targets(op, input, target, weight, ignore_index, eps, reduction):
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index target must be an integer tensor, got {target.dtype}; "
                        f"for class probabilities pass a float target of the input's shape {_shape(input)}")
    expected = (input.shape[0],) + _shape(input)[2:]
    if _shape(target) != expected:
        raise ValueError(f"{op}: target of shape {_shape(target)} does not match input of shape {_shape(input)}; "
                         f"expected target shape {expected}")
    c = input.shape[1]
    if weight is not None and _shape(weight) != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) (one per class), got {_shape(weight)}")
    return _ClassTargets(input.xp, target._data, None if weight is None else weight._data, ignore_index, eps,
                         reduction, c, input._data.dtype, op)


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits (N, C, *) or (C,) against class indices or class probabilities."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("cross_entropy", reduction)
    if _half(input):
        return cross_entropy(_float32(input), _float32(target),
                             _float32(weight), None, ignore_index, None, reduction,
                             label_smoothing).to(input.dtype)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dim, got a 0-d tensor")
    unbatched = input.ndim == 1
    if unbatched:
        input = input.reshape(1, -1)
        target = target.reshape((1,) + _shape(target))
    if target._data.dtype.kind == "f":   # class probabilities
        if _shape(target) != _shape(input):
            raise ValueError(f"cross_entropy: probability target of shape {_shape(target)} must match input "
                             f"of shape {_shape(input)}")
        c = input.shape[1]
        logp = log_softmax(input, 1)
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / c
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape((c,) + (1,) * (input.ndim - 2))
        loss = -prod.sum(1)
        if reduction == "none":
            return loss.reshape(()) if unbatched else loss
        return loss.sum() / (input.numel() // c) if reduction == "mean" else loss.sum()
    targets = _class_targets("cross_entropy", input, target, weight, ignore_index, label_smoothing, reduction)
    loss = CrossEntropy(targets).apply(input)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C, *) or (C,) at class-index targets."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    if _half(input):
        return nll_loss(_float32(input), target, _float32(weight), None, ignore_index, None,
                        reduction).to(input.dtype)
    unbatched = input.ndim == 1
    if unbatched:
        input = input.reshape(1, -1)
        target = target.reshape((1,) + _shape(target))
    targets = _class_targets("nll_loss", input, target, weight, ignore_index, 0.0, reduction)
    loss = NLLLoss(targets).apply(input)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


def _softmax_method(self, dim=None, dtype=None):
    return softmax(self, dim, dtype=dtype)


def _log_softmax_method(self, dim=None, dtype=None):
    return log_softmax(self, dim, dtype=dtype)


METHODS = {"softmax": _softmax_method, "log_softmax": _log_softmax_method}

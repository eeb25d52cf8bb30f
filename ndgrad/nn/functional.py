"""torch.nn.functional for ndgrad: the same names, arguments and defaults.

Coarse ops (convolution, pooling, norms, softmax, cross-entropy) are single
graph nodes from ``ndgrad.ops.nn``; activations come from
``ndgrad.ops.activation``; the rest (losses, padding modes, attention,
interpolation, ...) is composed of Tensor ops, so their gradients (of any
order) come from the ops they are made of.
"""
import math

from ..autograd import node as _node
from ..backend import host_sync, kernels
from ..ops import elementwise as _ew
from ..ops import nn as _nn
from ..ops import shape as _shape_ops
from ..ops.activation import (elu, gelu, hardtanh, leaky_relu, logsigmoid, mish, relu6, silu, softplus,
                              softsign)
from ..ops.nn import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, avg_pool3d, batch_norm,
                      conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, cross_entropy,
                      group_norm, layer_norm, linear, log_softmax, max_pool1d, max_pool2d, max_pool3d, nll_loss,
                      softmax)
from ._functional_layers._common import _T, _const, _shape
from ._functional_layers.embeddings import _check_indices

__all__ = [
    "linear", "bilinear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "batch_norm", "layer_norm", "group_norm", "softmax",
    "log_softmax", "softmin", "relu", "sigmoid", "tanh", "leaky_relu", "gelu", "silu", "softplus", "elu",
    "hardtanh", "relu6", "softsign", "logsigmoid", "mish", "pad", "one_hot", "dropout",
    "scaled_dot_product_attention", "interpolate", "embedding", "normalize", "cosine_similarity",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "kl_div",
]


# -- activations that the core defines -----------------------------------------------------------
def relu(input, inplace=False):
    """max(x, 0); ``inplace=True`` writes the result into ``input``."""
    return input.relu_() if inplace else _ew.relu(input)


def sigmoid(input):
    """1 / (1 + exp(-x))."""
    return _ew.sigmoid(input)


def tanh(input):
    """Hyperbolic tangent."""
    return _ew.tanh(input)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``."""
    return softmax(-input, dim, dtype=dtype)


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1 @ W_k @ x2 + b_k with weight (out, in1, in2)."""
    y = (input1.unsqueeze(-2).unsqueeze(-2).matmul(weight).squeeze(-2) * input2.unsqueeze(-2)).sum(-1)
    return y if bias is None else y + bias


# -- padding -------------------------------------------------------------------------------------
def pad(input, pad, mode="constant", value=None):
    """Pad trailing dims by (left, right) pairs listed from the last dim; modes constant/reflect/replicate/circular."""
    if mode == "constant":
        return _shape_ops.pad(input, pad, value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim - 1:
        raise ValueError(f"pad: mode={mode!r} pads at most {input.ndim - 1} trailing dims of input of shape "
                         f"{_shape(input)} with (left, right) pairs, got pad={pad}")
    y = input
    for k in range(len(pad) // 2):
        dim = input.ndim - 1 - k
        lo, hi = pad[2 * k], pad[2 * k + 1]
        n = input.shape[dim]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the size {n} of dim {dim} "
                             f"of input {_shape(input)}")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular padding ({lo}, {hi}) must be at most the size {n} of dim {dim} "
                             f"of input {_shape(input)}")
        y = _pad_dim(y, dim, lo, hi, mode)
    return y


def _narrow(x, dim, start, stop):
    index = [slice(None)] * x.ndim
    index[dim] = slice(start, stop)
    return x[tuple(index)]


def _pad_dim(x, dim, lo, hi, mode):
    n = x.shape[dim]
    parts = []
    if mode == "reflect":
        if lo:
            parts.append(_narrow(x, dim, 1, lo + 1).flip(dim))
        parts.append(x)
        if hi:
            parts.append(_narrow(x, dim, n - hi - 1, n - 1).flip(dim))
    elif mode == "replicate":
        if lo:
            shape = list(_shape(x))
            shape[dim] = lo
            parts.append(_narrow(x, dim, 0, 1).expand(*shape))
        parts.append(x)
        if hi:
            shape = list(_shape(x))
            shape[dim] = hi
            parts.append(_narrow(x, dim, n - 1, n).expand(*shape))
    else:  # circular
        if lo:
            parts.append(_narrow(x, dim, n - lo, n))
        parts.append(x)
        if hi:
            parts.append(_narrow(x, dim, 0, hi))
    return _shape_ops.cat(parts, dim) if len(parts) > 1 else x


# -- misc ----------------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a trailing class dim (num_classes=-1: max + 1)."""
    xp = tensor.xp
    idx = tensor._data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (class index) tensor, got {tensor.dtype}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise ValueError(f"one_hot: class index {bad} is out of range for num_classes={num_classes}")
    out = (idx[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return _const(out, tensor)


def _dropout_mask(input, p):
    from .. import random as _random
    gen = _random.generator(input._device)
    dtype = input._data.dtype if input._data.dtype.kind == "f" else None
    keep = gen.random(_shape(input), dtype=dtype) >= p if dtype is not None else gen.random(_shape(input)) >= p
    return keep.astype(input._data.dtype) * (1.0 / (1.0 - p))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability p and scale the rest by 1/(1-p) (identity when not training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    mask = _const(_dropout_mask(input, p), input)
    return input.mul_(mask) if inplace else input * mask


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` at the integer indices ``input``; the row at padding_idx gets no gradient."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported by ndgrad; "
                                  "leave them at their defaults")
    idx = _check_indices("embedding", input, weight)
    n = weight.shape[0]
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    rows = _Embedding(idx, padding_idx).apply(weight)
    return rows


class _Embedding(_node.Node):
    """weight[idx]; backward adds each output row's gradient into its row of the table."""
    __slots__ = ("idx", "padding_idx", "rows")

    def __init__(self, idx, padding_idx):
        self.idx, self.padding_idx = idx, padding_idx

    def forward(self, weight):
        self.rows = weight.shape[0]
        return weight[self.idx]

    def backward(self, grad):
        return _EmbeddingBackward(self.idx, self.padding_idx, self.rows).apply(grad)


class _EmbeddingBackward(_node.Node):
    __slots__ = ("idx", "padding_idx", "rows")

    def __init__(self, idx, padding_idx, rows):
        self.idx, self.padding_idx, self.rows = idx, padding_idx, rows

    def forward(self, grad):
        xp = self.xp
        dim = grad.shape[-1]
        out = xp.zeros((self.rows, dim), dtype=grad.dtype)
        kernels.add_at(xp, out, self.idx.reshape(-1), grad.reshape(-1, dim))
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out

    def backward(self, grad):
        return _Embedding(self.idx, self.padding_idx).apply(grad)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along ``dim``."""
    # the norm op (not sqrt of a sum): its gradient at an all-zero row is 0, where sqrt's is inf * 0 = nan
    norm = input.norm(p, dim, keepdim=True)
    return input / norm.clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along ``dim`` (each norm clamped below at eps)."""
    n1 = (x1 * x1).sum(dim, keepdim=True).clamp(min=eps * eps).sqrt()
    n2 = (x2 * x2).sum(dim, keepdim=True).clamp(min=eps * eps).sqrt()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


# -- attention -----------------------------------------------------------------------------------
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q @ k^T * scale + mask) @ v over the last two dims; bool masks keep where True."""
    xp = query.xp
    L, S = query.shape[-2], key.shape[-2]
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query {_shape(query)} and key {_shape(key)} must have "
                         f"the same embedding size (last dim)")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query.matmul(key.transpose(-2, -1)) * scale
    dtype = scores._data.dtype
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
        keep = xp.tril(xp.ones((L, S), dtype=bool))
        bias = xp.where(keep, 0.0, -xp.inf).astype(dtype)
    elif attn_mask is not None:
        if attn_mask._data.dtype.kind == "b":
            bias = xp.where(attn_mask._data, 0.0, -xp.inf).astype(dtype)
        else:
            scores = scores + attn_mask
    if bias is not None:
        scores = scores + _const(bias, query)
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights.matmul(value)


# -- interpolation -------------------------------------------------------------------------------
def _interp_matrix(xp, size, out, mode, align_corners, scale, dtype):
    """(out, size) matrix mapping one input axis to the output axis (nearest or linear weights)."""
    dst = xp.arange(out, dtype=xp.float64)
    m = xp.zeros((out, size), dtype=dtype)
    rows = xp.arange(out)
    if mode == "nearest":
        ratio = (1.0 / scale) if scale is not None else size / out
        src = xp.minimum(xp.floor(dst * ratio).astype(xp.int64), size - 1)
        m[rows, src] = 1.0
        return m
    if align_corners:
        src = dst * ((size - 1) / (out - 1)) if out > 1 else dst * 0.0
    else:
        ratio = (1.0 / scale) if scale is not None else size / out
        src = xp.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), size - 1)
    i1 = xp.minimum(i0 + 1, size - 1)
    lam = src - i0
    kernels.add_at(xp, m, (rows, i0), (1.0 - lam).astype(dtype))
    kernels.add_at(xp, m, (rows, i1), lam.astype(dtype))
    return m


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *) by nearest or (bi/tri)linear interpolation."""
    nd = input.ndim - 2
    if nd < 1:
        raise ValueError(f"interpolate: expected input of shape (N, C, ...), got {_shape(input)}")
    linear_modes = {"linear": 1, "bilinear": 2, "trilinear": 3}
    if mode not in ("nearest",) + tuple(linear_modes):
        raise ValueError(f"interpolate: mode must be 'nearest', 'linear', 'bilinear' or 'trilinear', got {mode!r}")
    if mode in linear_modes and linear_modes[mode] != nd:
        raise ValueError(f"interpolate: mode={mode!r} expects a {linear_modes[mode] + 2}-d input, "
                         f"got {_shape(input)}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to the linear modes")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    spatial = _shape(input)[2:]
    if size is not None:
        out = (size,) * nd if isinstance(size, int) else tuple(int(s) for s in size)
        scales = (None,) * nd
    else:
        scales = (float(scale_factor),) * nd if isinstance(scale_factor, (int, float)) \
            else tuple(float(s) for s in scale_factor)
        out = tuple(int(math.floor(n * s)) for n, s in zip(spatial, scales))
        if recompute_scale_factor:
            scales = (None,) * nd
    if len(out) != nd:
        raise ValueError(f"interpolate: size {out} must have {nd} entries for input {_shape(input)}")
    y = input
    dtype = input._data.dtype
    for i, (n, o, s) in enumerate(zip(spatial, out, scales)):
        if n == o and s in (None, 1.0):
            continue
        m = _const(_interp_matrix(input.xp, n, o, mode, bool(align_corners), s, dtype), input)
        dim = 2 + i
        y = y.transpose(dim, -1).matmul(m.transpose(0, 1)).transpose(dim, -1)
    return y


# -- losses --------------------------------------------------------------------------------------
def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _legacy(size_average, reduce, reduction):
    return _nn._legacy_reduction(size_average, reduce, reduction)


def _check_same_shape(op, input, target):
    if _shape(input) != _shape(target):
        raise ValueError(f"{op}: input of shape {_shape(input)} and target of shape {_shape(target)} must have "
                         f"the same shape")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error (x - y)^2."""
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _legacy(size_average, reduce, reduction), "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error |x - y|."""
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _legacy(size_average, reduce, reduction), "l1_loss")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(y log x + (1 - y) log(1 - x)) for probabilities x (each log clamped at -100, like PyTorch)."""
    _check_same_shape("binary_cross_entropy", input, target)
    for name, t in (("input", input), ("target", target)):
        a = t._data
        hint = "; for logits use binary_cross_entropy_with_logits" if name == "input" else ""
        # ~(0 <= a <= 1) so that NaN fails too; on a GPU the check waits for the next sync
        host_sync.check("binary_cross_entropy", ~((a >= 0) & (a <= 1)), a,
                        f"binary_cross_entropy: all elements of {name} should be between 0 and 1 (got "
                        f"{{value}}, outside [0, 1], in {name} of shape {_shape(t)}){hint}", ValueError)
    half = input._data.dtype.itemsize == 2 and input._data.dtype.kind in "fV"  # float16 / bfloat16: computed in float32, like PyTorch
    x = input.float() if half else input
    loss = _BinaryCrossEntropy().apply(x, target.to(x.dtype))
    if half:
        loss = loss.to(input.dtype)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _legacy(size_average, reduce, reduction), "binary_cross_entropy")


def _clamped_log(xp, a):
    """log(a) floored at -100 (PyTorch's BCE clamp), without log(0) warnings."""
    positive = a > 0
    return xp.maximum(xp.where(positive, xp.log(xp.where(positive, a, 1)), -100.0), -100.0).astype(a.dtype)


def _clamped_log_t(t):
    positive = t > 0
    return _ew.where(positive, _ew.log(_ew.where(positive, t, 1.0)).clamp(min=-100.0), -100.0)


class _BinaryCrossEntropy(_node.Node):
    """Elementwise BCE with PyTorch's gradient (x - y) / max(x (1 - x), 1e-12).

    Composing it from log() would divide 0 by 0 at saturated probabilities (sigmoid of +-1e4 is
    exactly 1 or 0) and give NaN gradients; the clamp keeps them finite (0 where the prediction is right).
    """
    __slots__ = ()

    def forward(self, x, y):
        xp = self.xp
        return -(y * _clamped_log(xp, x) + (1 - y) * _clamped_log(xp, 1 - x))

    def backward(self, grad):
        x, y = self.input(0), self.input(1)
        gx = grad * (x - y) / ((1.0 - x) * x).clamp(min=1e-12) if self.needs_input_grad[0] else None
        gy = grad * (_clamped_log_t(1.0 - x) - _clamped_log_t(x)) if self.needs_input_grad[1] else None
        return gx, gy


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE of sigmoid(x), computed stably: (1 - y) x - (1 + (pw - 1) y) logsigmoid(x)."""
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        loss = (1.0 - target) * input - (1.0 + (pos_weight - 1.0) * target) * log_sig
    else:
        loss = (1.0 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _legacy(size_average, reduce, reduction), "binary_cross_entropy_with_logits")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    d = input - target
    ad = d.abs()
    if beta == 0.0:
        loss = ad
    else:
        small = _const((ad._data < beta).astype(ad._data.dtype), ad)
        loss = small * (0.5 * d * d / beta) + (1.0 - small) * (ad - 0.5 * beta)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta)."""
    d = input - target
    ad = d.abs()
    small = _const((ad._data <= delta).astype(ad._data.dtype), ad)
    loss = small * (0.5 * d * d) + (1.0 - small) * (delta * (ad - 0.5 * delta))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target * (log target - input); 'batchmean' divides by the batch."""
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = _const((target._data > 0).astype(target._data.dtype), target)
        safe = target * positive + (1.0 - positive)     # log(1) = 0 where target == 0 (xlogy)
        loss = target * safe.log() - target * input
    reduction = _legacy(size_average, reduce, reduction)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, "kl_div")



# Families of functions kept in files of their own join this namespace (as ops/__init__ does for ops).
def _join_families():
    import importlib
    for family in ("functional_layers", "functional_activations", "functional_losses", "functional_attention",
                   "functional_dropout", "functional_matmul"):
        try:
            module = importlib.import_module(f"ndgrad.nn.{family}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ndgrad.nn.{family}":
                raise
            continue
        for name in module.__all__:
            globals()[name] = getattr(module, name)
            if name not in __all__:
                __all__.append(name)


_join_families()

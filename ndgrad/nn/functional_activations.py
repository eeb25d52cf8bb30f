"""The activations of torch.nn.functional that the core lacks, and the in-place ``_`` variants.

selu / celu / hardswish / hardsigmoid / shrinks / threshold are single nodes from
``ndgrad.ops.activation_extra`` (which also holds the functions PyTorch has at its top level: selu,
celu, rrelu, threshold, hardshrink, prelu); glu, prelu, rrelu, tanhshrink and gumbel_softmax are
composed of Tensor ops (their gradients, of any order, come from those ops).
"""
from .. import random as _random
from ..backend import kernels
from ..ops import activation as _act
from ..ops import activation_extra as _extra
from ..ops import elementwise as _ew
from ..ops import inplace_activations as _fast
from ..ops import nn as _nn
from ..ops.activation_extra import (celu, celu_, hardshrink, prelu, rrelu, rrelu_, selu, selu_, threshold,
                                    threshold_)
from ..ops.activation_extra import check_float as _check_float
from ..ops.activation_extra import maybe_inplace as _maybe_inplace
from ..ops.inplace import _inplace
from ._functional_layers._common import _const, _shape

__all__ = ["selu", "selu_", "celu", "celu_", "elu_", "relu_", "leaky_relu_", "hardtanh_", "hardswish",
           "hardsigmoid", "hardshrink", "softshrink", "tanhshrink", "threshold", "threshold_", "glu", "prelu",
           "rrelu", "rrelu_", "gumbel_softmax"]


def elu_(input, alpha=1.0):
    """In-place elu."""
    _check_float("elu_", input)
    return _inplace(input, "elu_", lambda t: _act.elu(t, alpha))


def relu_(input):
    """In-place relu."""
    return _fast.relu_(input)


def leaky_relu_(input, negative_slope=0.01):
    """In-place leaky_relu."""
    return _fast.leaky_relu_(input, negative_slope)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place hardtanh."""
    return _fast.hardtanh_(input, min_val, max_val)


# -- hard (piecewise-linear) activations ----------------------------------------------------------
def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    _check_float("hardsigmoid", input)
    return _maybe_inplace(input, "hardsigmoid_", _extra.Hardsigmoid().apply, inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    _check_float("hardswish", input)
    return _maybe_inplace(input, "hardswish_", _extra.Hardswish().apply, inplace)


def _check_lambd(op, lambd):
    if lambd < 0:
        raise RuntimeError(f"{op}: lambda must be >= 0, but found {lambd}")


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0 (lambd must be >= 0)."""
    _check_float("softshrink", input)
    _check_lambd("softshrink", lambd)
    return _extra.Softshrink(lambd).apply(input)


def tanhshrink(input):
    """x - tanh(x) (integer input is promoted to the default float dtype, like PyTorch)."""
    return input - _ew.tanh(input)


# -- gated and parametric -------------------------------------------------------------------------
def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the first and second halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even; "
                           "give a tensor with an even-sized dim")
    if not -input.ndim <= dim < input.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for a tensor of shape {_shape(input)} "
                         f"(expected -{input.ndim} <= dim < {input.ndim})")
    dim %= input.ndim
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim} is size {n} "
                           f"(input shape {_shape(input)})")
    a = input.narrow(dim, 0, n // 2)
    b = input.narrow(dim, n // 2, n // 2)
    return a * _ew.sigmoid(b)


# -- sampling -------------------------------------------------------------------------------------
def gumbel_noise(like):
    """Standard Gumbel samples -log(E), E ~ Exponential(1), of ``like``'s shape, dtype and device."""
    data = like._data
    draw_dtype = data.dtype if data.dtype.itemsize >= 4 else "float32"
    e = _random.generator(like._device).standard_exponential(size=data.shape, dtype=draw_dtype)
    return _const((-like.xp.log(e)).astype(data.dtype, copy=False), like)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); ``hard=True`` returns one-hot samples with the soft gradient."""
    if logits._data.dtype.kind != "f":
        raise TypeError(f"gumbel_softmax: logits must be floating point, got {logits.dtype}")
    if eps != 1e-10:
        import warnings
        warnings.warn("gumbel_softmax: `eps` parameter is deprecated and has no effect.", stacklevel=2)
    y_soft = _nn.softmax((logits + gumbel_noise(logits)) / tau, dim)
    if not hard:
        return y_soft
    xp = logits.xp
    axis = dim % max(logits.ndim, 1)
    index = xp.expand_dims(xp.argmax(y_soft._data, axis=axis), axis) if logits.ndim else None
    one_hot = xp.zeros_like(y_soft._data)
    if index is None:
        one_hot[...] = 1
    else:
        kernels.put_along_axis(xp, one_hot, index, 1, axis)
    # straight-through: the value of the one-hot sample, the gradient of the soft one
    return _const(one_hot, logits) - y_soft.detach() + y_soft

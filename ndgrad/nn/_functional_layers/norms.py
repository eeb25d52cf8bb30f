"""Instance, RMS and local response normalisation."""
import math
import numbers

from ...autograd.grad_mode import no_grad
from ...ops import nn as _nn
from ...ops import shape as _shape_ops
from ._common import _shape


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) plane of (N, C, *) over its spatial dims."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, *spatial), got {_shape(input)}")
    if not use_input_stats:
        return _nn.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = math.prod(_shape(input)[2:])
    if input.numel() == 0:
        return input.clone()
    if spatial <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input size "
                         f"{list(_shape(input))}")
    y = _nn.group_norm(input, input.shape[1], weight, bias, eps)
    if running_mean is not None or running_var is not None:
        xp = input.xp
        with no_grad():
            x = input._data.astype(xp.float64)
            axes = tuple(range(2, input.ndim))
            for stat, value in ((running_mean, x.mean(axes)), (running_var, x.var(axes, ddof=1))):
                if stat is not None:
                    stat._data[...] = ((1 - momentum) * stat._data + momentum * value.mean(0)).astype(
                        stat._data.dtype)
                    stat._bump_version()
    return y


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta."""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher dimensionality input (N, C, *), got "
                         f"{input.ndim} dimensions (shape {_shape(input)})")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    pad = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]
    sq = _shape_ops.pad(input * input, pad)
    total = None
    for j in range(size):
        part = sq.narrow(1, j, c)
        total = part if total is None else total + part
    div = (total * (alpha / size) + k).pow(beta)
    return input / div


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times ``weight``."""
    shape = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(int(s) for s in normalized_shape)
    n = len(shape)
    if input.ndim < n or _shape(input)[input.ndim - n:] != shape:
        raise RuntimeError(f"rms_norm: given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size {list(_shape(input))}")
    if weight is not None and _shape(weight) != shape:
        raise RuntimeError(f"rms_norm: weight of shape {_shape(weight)} must have normalized_shape {shape}")
    xp = input.xp
    if eps is None:
        eps = float(xp.finfo(input._data.dtype).eps)
    low = input._data.dtype.itemsize < 4
    x = input.float() if low else input
    dims = tuple(range(input.ndim - n, input.ndim))
    y = x * ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
    if low:
        y = y.to(input.dtype)
    return y if weight is None else y * weight

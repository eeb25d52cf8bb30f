"""Dropout as functions: ``dropout1d/2d/3d``, ``alpha_dropout``, ``feature_alpha_dropout`` (torch.nn.functional).

Channel ("feature") dropout draws one keep/drop per (N, C) pair; alpha dropout keeps the mean and variance
of SELU activations by setting dropped elements to SELU's negative saturation value. Inputs of other ranks
follow PyTorch: dropout1d refuses them, dropout2d/3d warn and fall back as PyTorch does. (Plain ``dropout``
is in ``nn/functional.py``.)
"""
import math
import warnings

__all__ = ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_SELU_ALPHA = 1.7580993408473766  # -SELU's negative saturation value (scale * alpha)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise(input, p, feature):
    """Raw 0/1 keep mask (input's dtype): per element, or per (N, C) for feature dropout."""
    from ndgrad import random as _random
    if feature:
        if input.dim() < 2:
            raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input, got shape "
                               f"{tuple(input.shape)}")
        shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    else:
        shape = tuple(input.shape)
    gen = _random.generator(input.device)
    return (gen.random(shape) >= p).astype(input._data.dtype)


def _dropout_impl(input, p, training, inplace, feature, alpha):
    """PyTorch's dropout kernel: identity when off, zeros at p == 1, else scaled noise (+ shift for alpha)."""
    from ndgrad.tensor import Tensor
    _check_p(p)
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        return input.mul_(0.0) if inplace else input * 0.0
    keep = _noise(input, p, feature)
    if not alpha:
        scale = Tensor._wrap(keep * (1.0 / (1.0 - p)), input.device)
        return input.mul_(scale) if inplace else input * scale
    a = 1.0 / math.sqrt((_SELU_ALPHA ** 2 * p + 1) * (1 - p))
    scale = Tensor._wrap(keep * a, input.device)
    shift = Tensor._wrap((keep - 1 + p) * (_SELU_ALPHA * a), input.device)
    return input.mul_(scale).add_(shift) if inplace else input * scale + shift


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) inputs."""
    _check_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. Note that "
                           f"dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
                           f"dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
                           f"inputs).")
    return _batched(input, p, training, inplace, batched=input.dim() == 3)


def _warn_unexpected_rank(input, spatial):
    """PyTorch's deprecation warning for a dropout{spatial}d input that is not (N,) C + ``spatial`` dims."""
    if input.dim() not in (spatial + 1, spatial + 2):
        op = f"dropout{spatial}d"
        warnings.warn(f"{op}: Received a {input.dim()}-D input to {op}, which is deprecated and will "
                      f"result in an error in a future release. To retain the behavior and silence this "
                      f"warning, please use dropout instead. Note that {op} exists to provide "
                      f"channel-wise dropout on inputs with {spatial} spatial dimensions, a channel dimension, "
                      f"and an optional batch dimension (i.e. {spatial + 1}D or {spatial + 2}D inputs).",
                      UserWarning, stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) inputs (a 3-D input is read as (N, C, L), as in PyTorch)."""
    _check_p(p)
    _warn_unexpected_rank(input, 2)
    if input.dim() == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
                      "dim. To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", UserWarning, stacklevel=2)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _check_p(p)
    _warn_unexpected_rank(input, 3)
    return _batched(input, p, training, inplace, batched=input.dim() == 5)


def _batched(input, p, training, inplace, batched):
    if batched:
        return _dropout_impl(input, p, training, inplace, feature=True, alpha=False)
    if inplace:
        out = _dropout_impl(input.unsqueeze_(0), p, training, True, feature=True, alpha=False)
        return out.squeeze_(0)
    return _dropout_impl(input.unsqueeze(0), p, training, False, feature=True, alpha=False).squeeze(0)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: keeps zero mean and unit variance."""
    return _dropout_impl(input, p, training, inplace, feature=False, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (one draw per (N, C))."""
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)

"""Gradient clipping (``torch.nn.utils.clip_grad``)."""
import math

import ndgrad
from ndgrad.backend import host_sync
from ndgrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _sum_of_powers(xp, a, norm_type):
    """sum(|a| ** norm_type) in one pass where possible (a language model's grads are millions of elements)."""
    if a.dtype.itemsize < 4:
        a = a.astype(xp.float64)
    if a.dtype.kind == "f" and norm_type in (1.0, 2.0):
        flat = a.reshape(-1)
        # the dot product of the grad with itself: one BLAS pass, no |a| ** 2 temporaries
        return xp.dot(flat, flat) if norm_type == 2.0 else xp.abs(flat).sum()
    return xp.sum(xp.abs(a) ** norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all ``tensors`` taken together, as a 0-d Tensor."""
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return ndgrad.tensor(0.0)
    xp = tensors[0].xp
    if norm_type == math.inf:
        # one max over the per-tensor maxima, on the device (Python's max() would read each on the host)
        total = xp.stack([xp.abs(t._data).max() if t._data.size else xp.zeros((), t._data.dtype)
                          for t in tensors]).max()
    else:
        total = sum(_sum_of_powers(xp, t._data, norm_type) for t in tensors) ** (1.0 / norm_type)
    total = xp.asarray(total, dtype=tensors[0]._data.dtype)
    if error_if_nonfinite:
        host_sync.read("clip_grad_norm_(error_if_nonfinite=True)", total)   # this check reads the norm
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    params = [p for p in _as_list(parameters) if p.grad is not None]
    if not params:
        return
    xp = params[0].xp
    total = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    if host_sync.on_device(total):
        # the clamped coefficient stays on the device: clipping never waits for the GPU
        coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
        for p in params:
            g = p.grad._data
            p.grad = Tensor._wrap(xp.multiply(g, coef.astype(g.dtype)))
        return
    clip_coef = float(max_norm) / (float(total) + 1e-6)
    if clip_coef >= 1.0:   # PyTorch multiplies by the clamped coefficient 1.0, which changes no value
        return
    for p in params:
        # A new grad array, never an in-place write: several leaves may share one grad tensor.
        p.grad = Tensor._wrap(xp.multiply(p.grad._data, p.grad._data.dtype.type(clip_coef)))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients so that their joint norm is at most ``max_norm``; returns the
    norm before clipping (a 0-d Tensor)."""
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad = Tensor._wrap(p.xp.clip(p.grad._data, -clip_value, clip_value))


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated spelling of :func:`clip_grad_norm_` (PyTorch keeps it with a warning)."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)

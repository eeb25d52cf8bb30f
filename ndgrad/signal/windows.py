"""torch.signal.windows: window functions with ``sym=`` (scipy.signal's convention), keyword-only options.

``sym=False`` gives the periodic window (the symmetric one of length M + 1 without its last sample),
the same as the top-level ``ndgrad.hann_window(M, periodic=True)`` family.
"""
import math

from .. import dtypes
from ..tensor import strided
from ..ops.spectral import _cosine_sum, _window

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _make(op, M, sym, values, dtype, layout, device, requires_grad, one_is_one=True):
    if M < 0:
        raise ValueError(f"{op} requires non-negative window length, got M={M}")
    if layout is not strided:
        raise ValueError(f"{op} is implemented for strided tensors only, got: {layout}")
    checked = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if checked not in (dtypes.float32, dtypes.float64):
        raise ValueError(f"{op} expects float32 or float64 dtypes, got: {checked}")
    return _window(op, M, not sym, values, checked, layout, device, requires_grad, one_is_one)


def general_cosine(M, *, a, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """sum_j (-1)^j a_j cos(2 pi j k / (M - 1))."""
    if not isinstance(a, (list, tuple)):
        raise TypeError("general_cosine: Coefficients must be a list/tuple")
    if not a:
        raise ValueError("general_cosine: Coefficients cannot be empty")
    return _make("general_cosine", M, sym, _cosine_sum(tuple(a)), dtype, layout, device, requires_grad)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """alpha - (1 - alpha) cos(2 pi k / (M - 1))."""
    return _make("general_hamming", M, sym, _cosine_sum((alpha, 1.0 - alpha)), dtype, layout, device,
                 requires_grad)


def hann(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    return _make("hann", M, sym, _cosine_sum((0.5, 0.5)), dtype, layout, device, requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    return _make("hamming", M, sym, _cosine_sum((0.54, 0.46)), dtype, layout, device, requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    return _make("blackman", M, sym, _cosine_sum((0.42, 0.5, 0.08)), dtype, layout, device, requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """The minimum 4-term Blackman-Harris window of Nuttall."""
    return _make("nuttall", M, sym, _cosine_sum((0.3635819, 0.4891775, 0.1365995, 0.0106411)), dtype, layout,
                 device, requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    return _make("bartlett", M, sym, lambda xp, k, m: 1 - xp.abs(2 * k / (m - 1) - 1), dtype, layout, device,
                 requires_grad)


def cosine(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """sin(pi (k + 0.5) / M)."""
    return _make("cosine", M, sym, lambda xp, k, m: xp.sin(math.pi * (k + 0.5) / m), dtype, layout, device,
                 requires_grad)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    if beta < 0:
        raise ValueError(f"kaiser: beta must be non-negative, got: {beta} instead.")

    def values(xp, k, m):
        ratio = 2 * k / (m - 1) - 1
        return xp.i0(beta * xp.sqrt(xp.maximum(1 - ratio * ratio, 0))) / xp.i0(xp.asarray(float(beta)))
    return _make("kaiser", M, sym, values, dtype, layout, device, requires_grad)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """exp(-(k - (M - 1)/2)^2 / (2 std^2))."""
    if std <= 0:
        raise ValueError(f"gaussian: Standard deviation must be positive, got: {std} instead.")
    return _make("gaussian", M, sym, lambda xp, k, m: xp.exp(-((k - (m - 1) / 2) ** 2) / (2 * std * std)), dtype,
                 layout, device, requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=strided, device=None,
                requires_grad=False):
    """exp(-|k - center| / tau), centre (M - 1)/2 by default."""
    if tau <= 0:
        raise ValueError(f"exponential: Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("exponential: Center must be None for symmetric windows")

    def values(xp, k, m):
        c = (m - 1) / 2 if center is None else center
        return xp.exp(-xp.abs(k - c) / tau)
    return _make("exponential", M, sym, values, dtype, layout, device, requires_grad, one_is_one=False)

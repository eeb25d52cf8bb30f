"""The standard's ``fft`` extension on ``ndgrad.fft``: standard argument names (``axis``, ``axes``) and
keyword-only options; the transforms, dtypes and gradients are ndgrad.fft's."""
from .. import fft as _fft

from ._helpers import check_array

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]


def _one(name):
    transform = getattr(_fft, name)

    def one_d(x, /, *, n=None, axis=-1, norm="backward"):
        return transform(check_array(x, name), n=n, dim=axis, norm=norm)
    one_d.__name__ = one_d.__qualname__ = name
    one_d.__doc__ = f"``ndgrad.fft.{name}`` with the standard's argument names."
    return one_d


def _n_d(name):
    transform = getattr(_fft, name)

    def n_d(x, /, *, s=None, axes=None, norm="backward"):
        return transform(check_array(x, name), s=s, dim=axes, norm=norm)
    n_d.__name__ = n_d.__qualname__ = name
    n_d.__doc__ = f"``ndgrad.fft.{name}`` with the standard's argument names."
    return n_d


fft, ifft, rfft, irfft, hfft, ihfft = (_one(n) for n in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"))
fftn, ifftn, rfftn, irfftn = (_n_d(n) for n in ("fftn", "ifftn", "rfftn", "irfftn"))


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _fft.fftfreq(n, d, dtype=dtype, device=device)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _fft.rfftfreq(n, d, dtype=dtype, device=device)


def fftshift(x, /, *, axes=None):
    return _fft.fftshift(check_array(x, "fftshift"), dim=axes)


def ifftshift(x, /, *, axes=None):
    return _fft.ifftshift(check_array(x, "ifftshift"), dim=axes)

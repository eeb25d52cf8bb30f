"""ndgrad.fft: discrete Fourier transforms with PyTorch's ``torch.fft`` names, arguments and gradients.

Kernels come from ``xp.fft`` (NumPy on the CPU, CuPy on a GPU). Real input becomes complex64/complex128
output (float32 -> complex64), integers are promoted to the default float first, as in torch. Every
transform is differentiable (see ``_nodes`` for the adjoint rules).
"""
from ._args import check_norm, check_points, one_dim, prepare_input, shape_and_dims
from ._freq import fftfreq, fftshift, ifftshift, rfftfreq
from ..autograd.grad_mode import no_grad as _no_grad
from ._nodes import DUAL_NORM, FFTC2C, FFTC2R, FFTR2C, conj

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "hfft2",
           "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift",
           "ifftshift"]


def _finish(result, out):
    if out is None:
        return result
    if tuple(out.shape) != tuple(result.shape):
        raise RuntimeError(f"fft: out= has shape {tuple(out.shape)} but the result has shape "
                           f"{tuple(result.shape)}; pass an out tensor of the result's shape")
    with _no_grad():
        out.copy_(result)
    return out


# -- complex to complex -----------------------------------------------------------------------------

def _c2c(input, n, dim, norm, inverse, op):
    x = prepare_input(input, op)
    d = one_dim(x, dim, op)
    size = x.shape[d] if n is None else check_points(n, op)
    check_points(size, op)
    return FFTC2C((d,), (size,), check_norm(norm, op), inverse).apply(x)


def _c2cn(input, s, dim, norm, inverse, op):
    x = prepare_input(input, op)
    sizes, dims = shape_and_dims(x, s, dim, op)
    return FFTC2C(dims, sizes, check_norm(norm, op), inverse).apply(x)


def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d discrete Fourier transform along ``dim`` (input cut or zero-padded to ``n``)."""
    return _finish(_c2c(input, n, dim, norm, False, "fft.fft"), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d inverse discrete Fourier transform along ``dim``."""
    return _finish(_c2c(input, n, dim, norm, True, "fft.ifft"), out)


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d discrete Fourier transform over ``dim`` (all dims, or the last len(s))."""
    return _finish(_c2cn(input, s, dim, norm, False, "fft.fftn"), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d inverse discrete Fourier transform."""
    return _finish(_c2cn(input, s, dim, norm, True, "fft.ifftn"), out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d discrete Fourier transform (``fftn`` over the last two dims by default)."""
    return _finish(_c2cn(input, s, dim, norm, False, "fft.fft2"), out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d inverse discrete Fourier transform."""
    return _finish(_c2cn(input, s, dim, norm, True, "fft.ifft2"), out)


# -- real to onesided complex, and back -------------------------------------------------------------

def _r2cn(input, s, dim, norm, op):
    """rfft along the last of ``dims``, then the complex transform over the others."""
    x = prepare_input(input, op, real_only=True)
    sizes, dims = shape_and_dims(x, s, dim, op)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis; give a tensor with dimensions or dim=")
    norm = check_norm(norm, op)
    y = FFTR2C(dims[-1], sizes[-1], norm).apply(x)
    if len(dims) > 1:
        y = FFTC2C(dims[:-1], sizes[:-1], norm, False).apply(y)
    return y


def _c2rn(input, s, dim, norm, op):
    """The complex inverse over all but the last of ``dims``, then irfft along the last."""
    x = prepare_input(input, op)
    sizes, dims = shape_and_dims(x, s, dim, op, c2r=True)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis; give a tensor with dimensions or dim=")
    norm = check_norm(norm, op)
    if len(dims) > 1:
        x = FFTC2C(dims[:-1], sizes[:-1], norm, True).apply(x)
    return FFTC2R(dims[-1], sizes[-1], norm).apply(x)


def _one(dim):
    return (dim,)


def _n_to_s(n):
    return None if n is None else (n,)


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d FFT of a real signal: the n//2 + 1 non-negative frequency bins."""
    x = prepare_input(input, "fft.rfft", real_only=True)
    return _finish(_r2cn(x, _n_to_s(n), _one(one_dim(x, dim, "fft.rfft")), norm, "fft.rfft"), out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of ``rfft``: a onesided spectrum to ``n`` (default 2*(size-1)) real samples."""
    x = prepare_input(input, "fft.irfft")
    return _finish(_c2rn(x, _n_to_s(n), _one(one_dim(x, dim, "fft.irfft")), norm, "fft.irfft"), out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d FFT of a real signal, onesided along the last transformed dim."""
    return _finish(_r2cn(input, s, dim, norm, "fft.rfftn"), out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of ``rfftn``."""
    return _finish(_c2rn(input, s, dim, norm, "fft.irfftn"), out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """``rfftn`` over the last two dims by default."""
    return _finish(_r2cn(input, s, dim, norm, "fft.rfft2"), out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """``irfftn`` over the last two dims by default."""
    return _finish(_c2rn(input, s, dim, norm, "fft.irfft2"), out)


# -- Hermitian signals: hfft(x) is irfft(conj(x)) with the dual scale, ihfft its inverse ------------

def _hfftn(input, s, dim, norm, op):
    x = prepare_input(input, op)
    return _c2rn(conj(x), s, dim, DUAL_NORM[check_norm(norm, op)], op)


def _ihfftn(input, s, dim, norm, op):
    x = prepare_input(input, op, real_only=True)
    return conj(_r2cn(x, s, dim, DUAL_NORM[check_norm(norm, op)], op))


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The FFT of a Hermitian-symmetric signal given by its onesided half: a real spectrum of ``n`` bins."""
    x = prepare_input(input, "fft.hfft")
    return _finish(_hfftn(x, _n_to_s(n), _one(one_dim(x, dim, "fft.hfft")), norm, "fft.hfft"), out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of ``hfft``: a real signal to the onesided half of its Hermitian inverse FFT."""
    x = prepare_input(input, "fft.ihfft", real_only=True)
    return _finish(_ihfftn(x, _n_to_s(n), _one(one_dim(x, dim, "fft.ihfft")), norm, "fft.ihfft"), out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d FFT of a Hermitian-symmetric signal (onesided along the last dim)."""
    return _finish(_hfftn(input, s, dim, norm, "fft.hfftn"), out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of ``hfftn``."""
    return _finish(_ihfftn(input, s, dim, norm, "fft.ihfftn"), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """``hfftn`` over the last two dims by default."""
    return _finish(_hfftn(input, s, dim, norm, "fft.hfft2"), out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """``ihfftn`` over the last two dims by default."""
    return _finish(_ihfftn(input, s, dim, norm, "fft.ihfft2"), out)

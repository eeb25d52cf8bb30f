"""Sample frequencies of the transforms (fftfreq, rfftfreq) and the zero-frequency shifts."""
import operator

from .. import dtypes
from ..tensor import strided


def _frequencies(op, n, d, values, dtype, layout, device, requires_grad, out):
    from ..creation import _check_layout, _write_out, get_device
    from ..backend import namespace
    from ..tensor import Tensor
    _check_layout(layout, op)
    n = operator.index(n)
    if n < 0:
        raise RuntimeError(f"{op}: n must be non-negative, got {n}")
    dtype = dtypes.to_dtype(dtype) if dtype is not None else (
        out.dtype if out is not None else dtypes.get_default_dtype())
    if not (dtype.is_floating_point or getattr(dtype, "is_complex", False)):
        raise RuntimeError(f"{op} requires a floating point or complex dtype, got {dtype}; pass e.g. "
                           f"dtype=ndgrad.float32")
    device = get_device(device if device is not None or out is None else out.device)
    xp = namespace(device)
    bins = values(xp, n)
    # n = 0: fftfreq is empty, rfftfreq has one bin 0 / 0 = nan (as in torch)
    arr = (bins / (n * d) if n else xp.full(bins.shape, float("nan"))).astype(dtype.np)
    result = Tensor._wrap(arr, device)
    if requires_grad:
        result.requires_grad_(True)
    return _write_out(result, out, op)


def _full_bins(xp, n):
    # 0, 1, ..., (n-1)//2, then -(n//2), ..., -1
    k = xp.arange(n, dtype="float64")
    return xp.where(k < (n + 1) // 2, k, k - n)


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False):
    """The sample frequencies of ``fft`` of a signal of ``n`` samples ``d`` apart (cycles per unit)."""
    return _frequencies("fftfreq", n, d, _full_bins, dtype, layout, device, requires_grad, out)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False):
    """The sample frequencies of ``rfft``: 0, 1, ..., n//2, over n*d."""
    return _frequencies("rfftfreq", n, d, lambda xp, m: xp.arange(m // 2 + 1, dtype="float64"), dtype, layout,
                        device, requires_grad, out)


def _shift(input, dim, sign, op):
    from ..ops.shape import normalize_dim, roll
    if dim is None:
        dims = tuple(range(input.ndim))
    else:
        dims = tuple(normalize_dim(d, input.ndim, op) for d in ((dim,) if isinstance(dim, int) else dim))
    if not dims:
        raise RuntimeError(f"{op}: no dimension to shift (a 0-d tensor or dim=()): torch says `shifts` "
                           f"required; give a tensor with at least one dimension and a non-empty dim")
    # fftshift moves bin n//2 to the front; ifftshift undoes it (a shift of -(n//2), the same mod n
    # as (n+1)//2).
    shifts = tuple(sign * (input.shape[d] // 2) for d in dims)
    return roll(input, shifts, dims)


def fftshift(input, dim=None):
    """Reorder ``fft`` output so the zero frequency is in the middle (all dims by default)."""
    return _shift(input, dim, 1, "fft.fftshift")


def ifftshift(input, dim=None):
    """The inverse of ``fftshift``."""
    return _shift(input, dim, -1, "fft.ifftshift")

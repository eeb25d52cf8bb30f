"""Rank-aware linear algebra: pinv, matrix_rank, lstsq (all from the SVD, or eigh for hermitian=True).

pinv's gradient is the Golub-Pereyra formula (PyTorch's too, also for hermitian=True), and lstsq's
solution is pinv(A) @ B, so its gradient follows.
"""
from ..autograd.node import Node
from ..ops import elementwise as _ew
from ..ops import reduce as _reduce
from ..ops import shape as _shape
from ..ops.linalg import matmul
from ._common import check_float, check_matrix, check_square, result_type, wrap
from .decompositions import eigh, svdvals

__all__ = ["pinv", "matrix_rank", "lstsq"]

_LSTSQ = result_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def _eps(t):
    return t.xp.finfo(t._data.dtype).eps


def _as_tensor_like(value, like):
    if value is None or hasattr(value, "_data"):
        return value
    # tolerances compare with singular values: real, also for a complex matrix
    return wrap(like.xp.asarray(value, dtype=like._data.real.dtype), like._device)


def _tolerance(op, A, values, atol, rtol, rcond=None):
    """max(atol, rtol * largest |value|) per matrix, with PyTorch's defaults (rtol = eps * max(m, n))."""
    if rcond is not None:
        if rtol is not None:
            raise RuntimeError(f"{op}: rcond and rtol cannot both be given; rcond is the old name of rtol")
        rtol = rcond
    atol, rtol = _as_tensor_like(atol, A), _as_tensor_like(rtol, A)
    largest = _reduce.amax(values.abs().detach(), -1, True) if values.shape[-1] else values.detach().sum(-1, True)
    if rtol is None:
        rtol = 0.0 if atol is not None else _eps(A) * max(A.shape[-2:])
    tol = largest * (rtol[..., None] if hasattr(rtol, "_data") else rtol)
    if atol is not None:
        tol = _ew.maximum(tol, atol[..., None] if hasattr(atol, "_data") else tol * 0 + atol)
    return tol


class PseudoInverse(Node):
    """X = pinv(A) from the SVD (eigh when hermitian); backward is the Golub-Pereyra formula, as PyTorch's."""
    __slots__ = ("hermitian", "atol", "rtol")
    needs_output = True

    def __init__(self, hermitian, atol, rtol):
        self.hermitian, self.atol, self.rtol = hermitian, atol, rtol

    def forward(self, a):
        xp = self.xp
        m, n = a.shape[-2:]
        if a.size == 0:
            return xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
        if self.hermitian:
            values, vectors = xp.linalg.eigh(a)
            left, right = vectors, vectors
        else:
            left, values, right_h = xp.linalg.svd(a, full_matrices=False)
            right = xp.conj(xp.swapaxes(right_h, -1, -2))   # V = Vh^H (a plain transpose for real A)
        magnitude = xp.abs(values)
        tol = self.rtol * magnitude.max(axis=-1)
        if self.atol is not None:
            tol = xp.maximum(tol, self.atol)
        keep = magnitude > tol[..., None]
        inverse = xp.where(keep, 1 / xp.where(keep, values, 1), 0)
        left_h = xp.conj(xp.swapaxes(left, -1, -2)) if a.dtype.kind == "c" else xp.swapaxes(left, -1, -2)
        return xp.matmul(right * inverse[..., None, :], left_h).astype(a.dtype, copy=False)

    def backward(self, grad):
        # dX = -X dA X + X X^H dA^H (I - A X) + (I - X A) dA^H X^H X, read as an adjoint (^H is ^T if real)
        A, X = self.input(0), self.output()
        Xt, gt = X.mH, grad.mH
        away_from_range = gt - matmul(matmul(A, X), gt)        # (I - A X) g^T
        away_from_rows = gt - matmul(gt, matmul(X, A))         # g^T (I - X A)
        return (-matmul(matmul(Xt, grad), Xt) + matmul(away_from_range, matmul(X, Xt))
                + matmul(matmul(Xt, X), away_from_rows))


def _raw_tolerances(A, atol, rtol, rcond):
    """(atol, rtol) as raw arrays or floats with PyTorch's defaults (rtol = eps * max(m, n) without atol)."""
    if rcond is not None:
        if rtol is not None:
            raise RuntimeError("linalg.pinv: rcond and rtol cannot both be given; rcond is the old name of rtol")
        rtol = rcond
    raw = [t._data if hasattr(t, "_data") else t for t in (atol, rtol)]
    atol, rtol = raw
    if rtol is None:
        rtol = 0.0 if atol is not None else _eps(A) * max(A.shape[-2:])
    return atol, rtol


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """Moore-Penrose pseudo-inverse; singular values <= max(atol, rtol * s_max) count as zero."""
    op = "linalg.pinv"
    check_matrix(op, A)
    check_float(op, A, complex_ok=True)
    if hermitian:
        check_square(op, A)
    atol, rtol = _raw_tolerances(A, atol, rtol, rcond)
    return PseudoInverse(bool(hermitian), atol, rtol).apply(A)


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The number of singular values above max(atol, rtol * s_max) (int64)."""
    op = "linalg.matrix_rank"
    check_matrix(op, A)
    check_float(op, A, complex_ok=True)
    if tol is not None:   # the old spelling: an absolute tolerance
        atol, rtol = tol, 0.0 if rtol is None else rtol
    values = eigh(A.detach()).eigenvalues.abs() if hermitian else svdvals(A.detach())
    above = values > _tolerance(op, A, values, atol, rtol)
    return _reduce.sum(_ew.cast(above, _int64()), -1)


def _int64():
    from .. import dtypes
    return dtypes.int64


def lstsq(A, B, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values) of min ||A X - B||, through the pseudo-inverse."""
    op = "torch.linalg.lstsq"
    check_matrix(op, A)
    check_float(op, A, B, complex_ok=True)
    drivers = ("gels", "gelsy", "gelsd", "gelss")
    if driver is not None and driver not in drivers:
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), got {driver!r}")
    driver = driver or "gelsy"
    if not (A.ndim >= B.ndim and A.ndim - B.ndim <= 1):
        raise RuntimeError(f"{op}: input.dim() must be greater or equal to other.dim() and (input.dim() - "
                           f"other.dim()) <= 1 (got shapes {tuple(A.shape)} and {tuple(B.shape)})")
    vector = A.ndim - B.ndim == 1
    B2 = _shape.unsqueeze(B, -1) if vector else B
    m, n = A.shape[-2:]
    if B2.shape[-2] != m:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2) (got {m} and {B2.shape[-2]})")
    S = svdvals(A.detach())
    rank_tol = _tolerance(op, A, S, None, rcond)
    rank = _reduce.sum(_ew.cast(S > rank_tol, _int64()), -1)
    solution = matmul(pinv(A, rtol=rcond), B2)
    xp = A.xp
    empty = A.reshape(-1)[:0]   # PyTorch's empty results are still part of the graph
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank._data == n).all()):
        misfit = matmul(A, solution) - B2
        residuals = _reduce.sum(_ew.pow(misfit.abs() if misfit.dtype.is_complex else misfit, 2), -2)
    if vector:
        solution = _shape.squeeze(solution, -1)
    if driver == "gels":
        rank = wrap(xp.zeros((0,), dtype=xp.int64), A._device)
    real_dtype = A._data.real.dtype   # singular values are real, also for complex A
    singular_values = S if driver in ("gelsd", "gelss") else wrap(xp.zeros((0,), dtype=real_dtype), A._device)
    return _LSTSQ(solution, residuals, rank, singular_values)

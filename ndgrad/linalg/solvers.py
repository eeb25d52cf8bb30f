"""Inverses, determinants and linear solves: inv, det, slogdet, solve, solve_triangular (+ the _ex forms).

Kernels are LAPACK through ``xp.linalg`` (SciPy's ``solve_triangular`` where NumPy has none). Every
backward rule is written with these same functions, so second derivatives come for free:
d(A^-1) = -A^-1 dA A^-1, d det(A) = det(A) tr(A^-1 dA), and a solve's gradient is another solve.
"""
from ..autograd.node import Node
from ..backend import np
from ..ops import shape as _shape
from ..ops.linalg import matmul
from . import _errors
from ._common import (PackedNode, check_float, check_matrix, check_square, result_type, scipy_batches, scipy_linalg,
                      wrap)

__all__ = ["inv", "inv_ex", "det", "slogdet", "solve", "solve_ex", "solve_triangular"]

_INV_EX = result_type("linalg_inv_ex", ["inverse", "info"])
_SLOGDET = result_type("linalg_slogdet", ["sign", "logabsdet"])
_SOLVE_EX = result_type("linalg_solve_ex", ["result", "info"])


def _linalg_error(xp):
    # NumPy's error, and CuPy's where it has one of its own
    return (np.linalg.LinAlgError, getattr(getattr(xp, "linalg", None), "LinAlgError", np.linalg.LinAlgError))


def _raise_if_not_finite(xp, a, out):
    """On the GPU a singular matrix shows up as non-finite values: route it to the CPU's error path."""
    if xp is not np and out.size and not bool(xp.isfinite(out).all()) and bool(xp.isfinite(a).all()):
        raise np.linalg.LinAlgError("singular matrix")


# -- inverse ---------------------------------------------------------------------------------------

class Inverse(Node):
    __slots__ = ("check_errors",)
    needs_output = True

    def __init__(self, check_errors=True):
        self.check_errors = check_errors

    def forward(self, a):
        xp = self.xp
        try:
            out = xp.linalg.inv(a)
            _raise_if_not_finite(xp, a, out)   # CuPy does not raise on singular matrices: it returns inf/NaN
            return out
        except _linalg_error(xp):
            if self.check_errors:
                _errors.raise_singular("linalg.inv", a)
            # inv_ex: invert what can be inverted, NaN for the singular matrices
            infos = xp.asarray(_errors.singular_infos(a))
            safe = xp.where((infos != 0)[..., None, None], xp.eye(a.shape[-1], dtype=a.dtype), a)
            return xp.where((infos != 0)[..., None, None], xp.nan, xp.linalg.inv(safe)).astype(a.dtype)

    def backward(self, grad):
        # the adjoint (not the transpose) makes the same rule right for complex matrices
        inverse_h = self.output().mH
        return -matmul(matmul(inverse_h, grad), inverse_h)


def inv(A, *, out=None):
    """Inverse of a square matrix (or of each in a batch); raises LinAlgError on a singular one."""
    check_square("linalg.inv", A)
    check_float("linalg.inv", A, complex_ok=True)
    return Inverse().apply(A)


def inv_ex(A, *, check_errors=False, out=None):
    """(inverse, info): info is 0 where the matrix was invertible, else the index of the zero pivot."""
    check_square("linalg.inv_ex", A)
    check_float("linalg.inv_ex", A, complex_ok=True)
    inverse = Inverse(check_errors).apply(A)
    xp = A.xp
    bad = ~xp.isfinite(inverse._data).all(axis=(-1, -2)) if A.numel() else xp.zeros(A.shape[:-2], bool)
    infos = xp.asarray(_errors.singular_infos(A._data)) if bool(bad.any()) else \
        xp.zeros(A.shape[:-2], dtype=xp.int32)
    return _INV_EX(inverse, wrap(infos.astype(xp.int32), A._device))


# -- determinants ----------------------------------------------------------------------------------

class Det(Node):
    __slots__ = ()
    needs_output = True

    def forward(self, a):
        return self.xp.linalg.det(a)

    def backward(self, grad):
        # d det = tr(adj(A) dA): the gradient is adj(A)^T, which is det * A^-T when A is invertible
        A, det_A = self.input(0), self.output()
        if not bool((self.output_array() == 0).any()):
            # conj(det * A^-T) for complex A (torch's convention); the same as det * A^-T for real A
            return (grad * det_A.conj())[..., None, None] * inv(A).mH
        # A singular matrix still has an adjugate: with A = U diag(s) V^H it is
        # adj(A)^H = conj(det(U) det(V^H)) U diag(prod of the other s_j) V^H (for real A, det(U) det(V) = +-1)
        from .decompositions import svd
        U, S, Vh = svd(A)
        n = S.shape[-1]
        others = [_prod_except(S, i) for i in range(n)]
        cofactor_values = _shape.stack(others, -1) if n else S
        xp = self.xp
        if A.dtype.is_complex:
            phase = xp.linalg.det(U._data) * xp.linalg.det(Vh._data)
            orientation = xp.conj(phase) / xp.abs(phase)
        else:
            orientation = xp.sign(xp.linalg.det(U._data)) * xp.sign(xp.linalg.det(Vh._data))
        scale = wrap(xp.asarray(orientation, dtype=A._data.dtype), A._device) * grad
        return scale[..., None, None] * matmul(U * cofactor_values[..., None, :], Vh)


def _prod_except(values, i):
    """The product of values[..., j] over j != i (no division: some values are 0)."""
    result = values[..., 0] * 0 + 1
    for j in range(values.shape[-1]):
        if j != i:
            result = result * values[..., j]
    return result


def det(A, *, out=None):
    """Determinant of a square matrix (batched)."""
    check_square("linalg.det", A)
    check_float("linalg.det", A, complex_ok=True)
    return Det().apply(A)


class SlogDet(PackedNode):
    __slots__ = ()
    core_ndims = (0, 0)

    def compute(self, a):
        # for complex A both parts are packed as complex; slogdet() takes the real part of logabsdet
        sign, logabsdet = self.xp.linalg.slogdet(a)
        return [self.xp.asarray(sign, dtype=a.dtype), self.xp.asarray(logabsdet, dtype=a.dtype)]

    def rule(self, grads, outputs):
        grad_sign, grad_logabsdet = grads
        A = self.input(0)
        if not A.dtype.is_complex:   # a real sign is piecewise constant: no gradient
            return grad_logabsdet[..., None, None] * inv(A).mT
        # a complex sign is the phase of det: d log det = d logabsdet + i d(phase) = tr(A^-1 dA)
        sign = outputs[0]
        g = grad_logabsdet.real + 1j * (grad_sign * sign.conj()).imag
        return g[..., None, None] * inv(A).mH


def slogdet(A, *, out=None):
    """(sign, logabsdet) with det(A) = sign * exp(logabsdet), stable where det over/underflows."""
    check_square("linalg.slogdet", A)
    check_float("linalg.slogdet", A, complex_ok=True)
    node = SlogDet()
    packed = node.apply(A)
    sign, logabsdet = node.unpack(packed)
    if A.dtype.is_complex:   # logabsdet is real
        logabsdet = logabsdet.real
    return _SLOGDET(sign, logabsdet)


# -- solve -----------------------------------------------------------------------------------------

class Solve(Node):
    __slots__ = ("check_errors",)
    needs_output = True

    def __init__(self, check_errors=True):
        self.check_errors = check_errors

    def forward(self, a, b):
        xp = self.xp
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])   # not every backend broadcasts batches
        a = xp.broadcast_to(a, batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        try:
            out = xp.linalg.solve(a, b)
            _raise_if_not_finite(xp, a, out)
            return out
        except _linalg_error(xp):
            infos = _errors.singular_infos(a)
            if self.check_errors:
                from ._common import LinAlgError, batch_prefix
                k, _ = _errors._first_failure(infos)
                raise LinAlgError(f"linalg.solve: {batch_prefix(infos.shape, k)}The solver failed because the "
                                  f"input matrix is singular.") from None
            bad = xp.asarray(infos != 0)[..., None, None]
            safe = xp.where(bad, xp.eye(a.shape[-1], dtype=a.dtype), a)
            return xp.where(bad, xp.nan, xp.linalg.solve(safe, b)).astype(a.dtype)

    def backward(self, grad):
        A = self.input(0)
        need_a, need_b = self.needs_input_grad
        grad_b = _solve_left(A.mH, grad)   # A^H gB = gX (A^T gB = gX for real A)
        grad_a = -matmul(grad_b, self.output().mH) if need_a else None
        return grad_a, (grad_b if need_b else None)


def _solve_left(A, B, check_errors=True):
    return Solve(check_errors).apply(A, B)


def _is_vector_rhs(A, B):
    # torch: B is a batch of vectors when B.ndim == 1, or when its shape is exactly A's batch plus (n,)
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def _solve(op, A, B, left, check_errors):
    check_square(op, A)
    check_float(op, A, B, complex_ok=True)
    vector = _is_vector_rhs(A, B)
    B2 = _shape.unsqueeze(B, -1) if vector else B
    n = A.shape[-1]
    rows = B2.shape[-2] if left else B2.shape[-1]
    if rows != n:
        shown = f"{B2.shape[-2]}x{B2.shape[-1]}"
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and {shown}); "
                           f"B needs {n} {'rows' if left else 'columns'}")
    try:
        _shape.broadcast_shapes(tuple(A.shape[:-2]), tuple(B2.shape[:-2]))
    except RuntimeError:
        raise RuntimeError(f"{op}: the batch dims of A {tuple(A.shape)} and B {tuple(B.shape)} cannot be "
                           f"broadcast together") from None
    if left:
        X = _solve_left(A, B2, check_errors)
    else:   # XA = B  <=>  A^T X^T = B^T
        X = _solve_left(A.mT, B2.mT, check_errors).mT
    return _shape.squeeze(X, -1) if vector else X


def solve(A, B, *, left=True, out=None):
    """X with AX = B (or XA = B for left=False); B may be a vector or a batch of them."""
    return _solve("linalg.solve", A, B, left, True)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(result, info) like solve; info is nonzero for singular matrices instead of raising."""
    result = _solve("linalg.solve_ex", A, B, left, check_errors)
    xp = A.xp
    finite = xp.isfinite(result._data)
    infos = xp.zeros(A.shape[:-2], dtype=xp.int32)
    if result.numel() and not bool(finite.all()):
        infos = xp.asarray(_errors.singular_infos(A._data)).astype(xp.int32)
    return _SOLVE_EX(result, wrap(infos, A._device))


# -- triangular solve ------------------------------------------------------------------------------

def _triangle(x, upper, unitriangular):
    """The part of x that a triangular solve reads (strictly, for unit diagonals)."""
    if upper:
        return _shape.triu(x, 1 if unitriangular else 0)
    return _shape.tril(x, -1 if unitriangular else 0)


class SolveTriangular(Node):
    __slots__ = ("upper", "unitriangular")
    needs_output = True

    def __init__(self, upper, unitriangular):
        self.upper, self.unitriangular = upper, unitriangular

    def forward(self, a, b):
        xp = self.xp
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(a, batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        if a.size == 0 or b.size == 0:
            return xp.zeros(batch + b.shape[-2:], dtype=a.dtype)
        solve_tri = scipy_linalg(xp).solve_triangular
        if xp is np and (a.ndim == 2 or scipy_batches()):
            out = solve_tri(a, b, lower=not self.upper, unit_diagonal=self.unitriangular, check_finite=False)
        else:   # cupyx (and older SciPy) solve one matrix at a time
            count = int(np.prod(batch, dtype=np.int64))
            mats_a = a.reshape((count,) + a.shape[-2:])
            mats_b = b.reshape((count,) + b.shape[-2:])
            out = xp.stack([solve_tri(x, y, lower=not self.upper, unit_diagonal=self.unitriangular)
                            for x, y in zip(mats_a, mats_b)]).reshape(batch + b.shape[-2:])
        return xp.asarray(out, dtype=a.dtype)

    def backward(self, grad):
        A = self.input(0)
        need_a, need_b = self.needs_input_grad
        # adjoints (transposes for real matrices): the rule holds for complex A and B too
        grad_b = SolveTriangular(not self.upper, self.unitriangular).apply(A.mH, grad)
        grad_a = None
        if need_a:
            grad_a = _triangle(-matmul(grad_b, self.output().mH), self.upper, self.unitriangular)
        return grad_a, (grad_b if need_b else None)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with AX = B (XA = B for left=False) for triangular A; the other triangle of A is not read."""
    op = "linalg.solve_triangular"
    check_matrix(op, A)
    check_matrix(op, B, "B")
    check_square(op, A)
    check_float(op, A, B, complex_ok=True)
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'}"
                           f" ({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if left:
        return SolveTriangular(bool(upper), bool(unitriangular)).apply(A, B)
    return SolveTriangular(not upper, bool(unitriangular)).apply(A.mT, B.mT).mT

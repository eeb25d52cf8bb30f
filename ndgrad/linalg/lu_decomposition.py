"""LU factorization with partial pivoting: lu_factor(_ex), lu, lu_unpack.

LAPACK's getrf through SciPy (cupyx on the GPU), one matrix at a time. The gradient (square, tall
and wide matrices) is written with triangular solves, so it is differentiable again. Complex input works
too: the factorization is holomorphic in A, so the real rule with conjugate transposes (mH) gives
PyTorch's conjugate-Wirtinger gradient.
"""
import warnings

from ..autograd.node import Node
from ..backend import np
from ..ops import shape as _shape
from ..ops.linalg import matmul
from ._common import (LinAlgError, batch_prefix, check_float, check_matrix, eye_like, result_type, scipy_batches,
                      scipy_linalg, wrap)
from .solvers import solve_triangular

__all__ = ["lu_factor", "lu_factor_ex", "lu", "lu_unpack"]

_LU_FACTOR = result_type("linalg_lu_factor", ["LU", "pivots"])
_LU_FACTOR_EX = result_type("linalg_lu_factor_ex", ["LU", "pivots", "info"])
_LU = result_type("linalg_lu", ["P", "L", "U"])
_LU_UNPACK = result_type("lu_unpack", ["P", "L", "U"])


class LUFactor(Node):
    __slots__ = ("pivots", "infos")
    needs_output = True

    def forward(self, a):
        xp = self.xp
        m, n = a.shape[-2:]
        k = min(m, n)
        batch = a.shape[:-2]
        if a.size == 0:
            self.pivots = xp.broadcast_to(xp.arange(1, k + 1, dtype=xp.int32), batch + (k,)).copy()
            self.infos = xp.zeros(batch, dtype=xp.int32)
            return a.copy()
        lu_factor = scipy_linalg(xp).lu_factor
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # singular matrices are reported through info
            lu = None
            if xp is np and (a.ndim == 2 or scipy_batches()):   # SciPy >= 1.15 factors a batch in one call
                lu, piv = lu_factor(a, check_finite=False)
                piv = piv[..., :k]
            if lu is None:   # cupyx (and older SciPy): one matrix at a time
                pairs = [lu_factor(mat, check_finite=False) for mat in a.reshape((-1, m, n))]
                lu = xp.stack([p[0] for p in pairs]).reshape(a.shape)
                piv = xp.stack([p[1][:k] for p in pairs]).reshape(batch + (k,))
        lu = lu.astype(a.dtype, copy=False)
        self.pivots = (piv + 1).astype(xp.int32)
        diag = xp.diagonal(lu, 0, -2, -1)
        zero = diag == 0
        first = xp.argmax(zero, axis=-1) + 1
        self.infos = xp.where(zero.any(axis=-1), first, 0).astype(xp.int32)
        return lu

    def backward(self, grad):
        m, n = self.inputs[0].shape[-2:]
        k = min(m, n)
        LU = self.output()
        P, L, U = lu_unpack(LU, wrap(self.pivots, LU._device))
        gL, gU = _shape.tril(grad[..., :, :k], -1), _shape.triu(grad[..., :k, :])
        if m == n:
            g = _lu_square_backward(L, U, gL, gU)
        elif m > n:
            # Tall: P^T A = [L1; L2] U with L2 = A2 U^-1, so A2's gradient is gL2 U^-H, and U also
            # feels L2 through U^-1
            L1, L2 = L[..., :n, :], L[..., n:, :]
            g2 = solve_triangular(U.mH, gL[..., n:, :], upper=False, left=False)
            g1 = _lu_square_backward(L1, U, gL[..., :n, :], gU - matmul(L2.mH, g2))
            g = _shape.cat([g1, g2], -2)
        else:
            # Wide: P^T A = L [U1 U2] with U2 = L^-1 A2, so A2's gradient is L^-H gU2, and L also
            # feels U2 through L^-1
            U1, U2 = U[..., :, :m], U[..., :, m:]
            g2 = solve_triangular(L.mH, gU[..., :, m:], upper=True, unitriangular=True)
            g1 = _lu_square_backward(L, U1, gL - matmul(g2, U2.mH), gU[..., :, :m])
            g = _shape.cat([g1, g2], -1)
        return matmul(P, g)


def _lu_square_backward(L, U, gL, gU):
    """For square P^T A = L U: the gradient of P^T A is L^-H (tril(L^H gL, -1) + triu(gU U^H)) U^-H."""
    phi = _shape.tril(matmul(L.mH, gL), -1) + _shape.triu(matmul(gU, U.mH))
    left = solve_triangular(L.mH, phi, upper=True, unitriangular=True)
    return solve_triangular(U.mH, left, upper=False, left=False)


def _lu_factor(op, A, pivot):
    check_matrix(op, A)
    check_float(op, A, complex_ok=True)
    if not pivot:
        raise NotImplementedError(f"{op}: LU without pivoting is only available on CUDA in PyTorch; use "
                                  f"pivot=True")
    node = LUFactor()
    LU = node.apply(A)
    return LU, wrap(node.pivots, A._device), wrap(node.infos, A._device)


def lu_factor(A, *, pivot=True, out=None):
    """(LU, pivots): L (unit lower) and U packed in one matrix, LAPACK's 1-based int32 row swaps."""
    LU, pivots, infos = _lu_factor("linalg.lu_factor", A, pivot)
    _raise_if_singular("torch.linalg.lu_factor", infos)
    return _LU_FACTOR(LU, pivots)


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """(LU, pivots, info): like lu_factor, info > 0 names the first zero pivot (raising only with check_errors)."""
    LU, pivots, infos = _lu_factor("linalg.lu_factor_ex", A, pivot)
    if check_errors:
        _raise_if_singular("torch.linalg.lu_factor_ex", infos)
    return _LU_FACTOR_EX(LU, pivots, infos)


def _raise_if_singular(op, infos):
    flat = infos._host().reshape(-1)
    if flat.size and flat.any():
        k = int(np.flatnonzero(flat)[0])
        raise LinAlgError(f"{op}: {batch_prefix(tuple(infos.shape), k)}U[{flat[k]},{flat[k]}] "
                          f"is zero and using it on lu_solve would result in a division by zero. If you still "
                          f"want to perform the factorization, consider calling linalg.lu(A, pivot) or "
                          f"linalg.lu_factor_ex(A, pivot)")


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """(P, L, U) from lu_factor's packed result, with A = P L U."""
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    xp = LU_data.xp
    empty = wrap(xp.zeros((0,), dtype=LU_data._data.dtype), LU_data._device)
    L = U = P = empty
    if unpack_data:
        L = _shape.tril(LU_data[..., :, :k], -1) + eye_like(m, LU_data, k)
        U = _shape.triu(LU_data[..., :k, :])
    if unpack_pivots:
        P = wrap(_permutation_matrices(LU_pivots._data, m, LU_data._data.dtype, xp), LU_data._device)
    return _LU_UNPACK(P, L, U)


def _permutation_matrices(pivots, m, dtype, xp):
    """P with A = P L U from LAPACK's sequence of row swaps (row i swapped with row pivots[i] - 1)."""
    pivots = np.asarray(pivots.get() if hasattr(pivots, "get") else pivots)
    batch = pivots.shape[:-1]
    flat = pivots.reshape(int(np.prod(batch, dtype=np.int64)), pivots.shape[-1]).astype(np.int64) - 1
    perm = np.broadcast_to(np.arange(m), (flat.shape[0], m)).copy()
    rows = np.arange(flat.shape[0])
    for i in range(flat.shape[1]):
        j = flat[:, i]
        perm[rows, i], perm[rows, j] = perm[rows, j], perm[rows, i].copy()
    # (P^T A)[i] = A[perm[i]], so P^T = I[perm] and P = I[perm]^T
    eye = np.eye(m, dtype=dtype)
    P = np.swapaxes(eye[perm], -1, -2).reshape(batch + (m, m))
    return xp.asarray(P)


def lu(A, *, pivot=True, out=None):
    """(P, L, U) with A = P L U: P a permutation, L unit lower, U upper triangular."""
    LU, pivots, _ = _lu_factor("linalg.lu", A, pivot)
    return _LU(*lu_unpack(LU, pivots))

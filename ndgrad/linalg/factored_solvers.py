"""Solves that reuse a factorization (lu_solve, cholesky_solve, cholesky_inverse) and the tensor forms
(tensorinv, tensorsolve). All are compositions of differentiable ops, so they need no rules of their own;
complex factors work through the same compositions, with conjugate transposes where A^H appears.
"""
import math

from ..ops import shape as _shape
from ..ops.linalg import matmul
from ._common import check_float_pair, check_matrix, check_square, eye_like
from .lu_decomposition import lu_unpack
from .solvers import inv, solve, solve_triangular

__all__ = ["lu_solve", "tensorinv", "tensorsolve"]


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with AX = B (A^H X = B for adjoint, XA = B for left=False), given lu_factor(A) = (LU, pivots)."""
    op = "linalg.lu_solve"
    check_square(op, LU, "LU")
    check_matrix(op, B, "B")
    check_float_pair(op, LU, B, "LU", "B")
    n = LU.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'} "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if not left:   # XA = B  <=>  A^H X^H = B^H (and X A^H = B  <=>  A X^H = B^H)
        return lu_solve(LU, pivots, B.mH, left=True, adjoint=not adjoint).mH
    P, L, U = lu_unpack(LU, pivots)
    if adjoint:   # A^H = U^H L^H P^T (P is a real permutation)
        y = solve_triangular(U.mH, B, upper=False)
        y = solve_triangular(L.mH, y, upper=True, unitriangular=True)
        return matmul(P, y)
    y = matmul(P.mT, B)
    y = solve_triangular(L, y, upper=False, unitriangular=True)
    return solve_triangular(U, y, upper=True)


def cholesky_solve(B, L, upper=False, *, out=None):
    """X with A X = B where A = L L^H (or U^H U with upper=True), given the Cholesky factor."""
    op = "cholesky_solve"
    check_square(op, L, "L")
    check_matrix(op, B, "B")
    check_float_pair(op, B, L, "b", "A")
    if B.shape[-2] != L.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{L.shape[-1]} by {L.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    lower = L.mH if upper else L
    y = solve_triangular(lower, B, upper=False)
    return solve_triangular(lower.mH, y, upper=True)


def cholesky_inverse(L, upper=False, *, out=None):
    """inv(A) from A's Cholesky factor."""
    check_square("cholesky_inverse", L, "input")
    eye = eye_like(L.shape[-1], L)
    return cholesky_solve(eye.expand(*L.shape), L, upper)


def tensorinv(A, ind=2, *, out=None):
    """The tensor X with tensordot(X, A, ind) = identity: inv of A reshaped to a square matrix."""
    op = "linalg.tensorinv"
    if ind <= 0:
        raise RuntimeError(f"{op}: Expected a strictly positive integer for 'ind', but got {ind}")
    left, right = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    rows, cols = math.prod(left), math.prod(right)
    if rows != cols:
        raise RuntimeError(f"{op}: Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows} (shape {tuple(A.shape)}, ind={ind})")
    return inv(A.reshape(rows, cols)).reshape(*(right + left))


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B; ``dims`` moves those dims of A to the end first."""
    op = "linalg.tensorsolve"
    if dims is not None:
        dims = [_shape.normalize_dim(d, A.ndim, op) for d in dims]
        A = _shape.movedim(A, dims, list(range(A.ndim - len(dims), A.ndim)))
    result_shape = tuple(A.shape[B.ndim:])
    rows, cols = B.numel(), math.prod(result_shape)
    if tuple(A.shape[:B.ndim]) != tuple(B.shape) or rows != cols:
        raise RuntimeError(f"{op}: Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {cols} != {rows} (A {tuple(A.shape)}, "
                           f"B {tuple(B.shape)})")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(*result_shape)

"""Randomized low-rank SVD and PCA (``torch.svd_lowrank``, ``torch.pca_lowrank``), after Halko,
Martinsson & Tropp (2009): project onto a random subspace, refine it by power iterations, and take the
exact SVD of the small projected matrix. Made of differentiable ops (qr, svd, matmul) throughout.
Complex A gets a complex random subspace and conjugate transposes, so A ~ U diag(S) V^H with real S.
"""
from ..ops import reduce as _reduce
from ..ops.linalg import matmul
from ._common import check_float, check_matrix
from .decompositions import qr, svd

__all__ = ["svd_lowrank", "pca_lowrank"]


def _orthonormal_range(A, q, niter):
    """Q (m, q) with orthonormal columns spanning (approximately) the top-q range of A."""
    from ..creation import randn
    omega = randn(*A.shape[:-2], A.shape[-1], q, dtype=A.dtype, device=A.device)
    Q = qr(matmul(A, omega)).Q
    for _ in range(niter):
        Q = qr(matmul(A.mH, Q)).Q
        Q = qr(matmul(A, Q)).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) of rank q with U diag(S) V^H approximating A - M (V, not Vh, as in torch.svd)."""
    op = "svd_lowrank"
    check_matrix(op, A)
    check_float(op, A, complex_ok=True)
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if not 0 <= q <= min(m, n):
        raise ValueError(f"{op}: q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)} "
                         f"(A has shape {tuple(A.shape)})")
    if M is not None:
        A = A - M
    if m < n:   # work with the tall adjoint: the random subspace is then the smaller one
        U, S, V = svd_lowrank(A.mH, q, niter)
        return V, S, U
    Q = _orthonormal_range(A, q, 2 if niter is None else niter)
    U_small, S, Vh = svd(matmul(Q.mH, A), full_matrices=False)
    return matmul(Q, U_small), S, Vh.mH


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V) of the (column-centred) data matrix A: V's columns are the principal directions."""
    check_matrix("pca_lowrank", A)
    m, n = A.shape[-2:]
    q = min(6, m, n) if q is None else q
    if center:
        A = A - _reduce.mean(A, -2, True)
    return svd_lowrank(A, q, niter)

"""Matrix factorizations: cholesky, qr, eigh, svd (+ their _ex / values-only forms).

Multi-output factorizations are one ``PackedNode`` each (see _common.py). The gradient rules are the
standard ones (Murray 2016 for Cholesky, Walter & Lehmann / Liao et al. for QR, Giles 2008 and
Townsend 2016 for eigh and the SVD), written with differentiable tensor ops.
"""
from ..autograd.node import Node
from ..backend import np
from ..ops import shape as _shape
from ..ops.linalg import matmul
from . import _errors
from ._common import PackedNode, check_float, check_matrix, check_square, eye_like, result_type, wrap
from .solvers import solve_triangular

__all__ = ["cholesky", "cholesky_ex", "qr", "eigh", "eigvalsh", "svd", "svdvals"]

_CHOLESKY_EX = result_type("linalg_cholesky_ex", ["L", "info"])
_QR = result_type("linalg_qr", ["Q", "R"])
_EIGH = result_type("linalg_eigh", ["eigenvalues", "eigenvectors"])
_SVD = result_type("linalg_svd", ["U", "S", "Vh"])


def _diag_embed(v):
    return _shape.diag_embed(v, 0, -2, -1)


# -- Cholesky --------------------------------------------------------------------------------------

class Cholesky(Node):
    __slots__ = ("infos",)
    needs_output = True

    def forward(self, a):
        xp = self.xp
        self.infos = None
        try:
            out = xp.linalg.cholesky(a) if a.size else xp.zeros_like(a)
        except np.linalg.LinAlgError:
            out = None
        if out is None or (xp is not np and not bool(xp.isfinite(out).all())):
            self.infos = _errors.cholesky_infos(a)
            # cholesky_ex still returns a factor: of the well-posed matrices, NaN for the others
            bad = xp.asarray(self.infos != 0)[..., None, None]
            out = xp.where(bad, xp.nan, xp.linalg.cholesky(xp.where(bad, xp.eye(a.shape[-1], dtype=a.dtype), a)))
        return out.astype(a.dtype, copy=False)

    def backward(self, grad):
        # With A = L L^H: gA = L^-H Phi(L^H gL) L^-1, Phi = the Hermitian matrix whose lower half is
        # tril(L^H gL) with its diagonal halved (^H is ^T for real matrices).
        L = self.output()
        lower = _shape.tril(matmul(L.mH, grad))
        phi = 0.5 * (lower + _shape.tril(lower, -1).mH)
        left = solve_triangular(L.mH, phi, upper=True)
        return solve_triangular(L, left, upper=False, left=False)


def _cholesky(op, A, upper, check_errors):
    check_square(op, A)
    check_float(op, A, complex_ok=True)
    node = Cholesky()
    L = node.apply(A)
    infos = node.infos
    if infos is not None and check_errors:
        _errors.raise_not_pd(op, infos)
    xp = A.xp
    infos = xp.zeros(A.shape[:-2], dtype=xp.int32) if infos is None else xp.asarray(infos, dtype=xp.int32)
    return (L.mH if upper else L), wrap(infos, A._device)


def cholesky(A, *, upper=False, out=None):
    """Lower (or upper) triangular L with A = L L^T; raises LinAlgError naming the failing minor."""
    return _cholesky("linalg.cholesky", A, upper, True)[0]


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info): info is 0, or the order of the leading minor that is not positive-definite."""
    return _CHOLESKY_EX(*_cholesky("linalg.cholesky_ex", A, upper, check_errors))


# -- QR --------------------------------------------------------------------------------------------

def _copyltu(m):
    """The symmetric (Hermitian, real diagonal, for complex m) matrix with m's lower triangle."""
    if m.dtype.is_complex:
        return _shape.tril(m, -1) + _shape.tril(m, -1).mH + _diag_embed(_shape.diagonal(m, 0, -2, -1).real)
    return _shape.tril(m) + _shape.tril(m, -1).mT


def _qr_backward_tall(Q, R, gQ, gR):
    """A = QR with A (m, n), m >= n, Q (m, n), R (n, n): gA = (gQ + Q copyltu(M)) R^-H (^H is ^T if real)."""
    M = matmul(R, gR.mH) - matmul(gQ.mH, Q)
    b = gQ + matmul(Q, _copyltu(M))
    return solve_triangular(R.mH, b, upper=False, left=False)   # b R^-H


class QR(PackedNode):
    __slots__ = ("mode",)
    core_ndims = (2, 2)

    def __init__(self, mode):
        self.mode = mode

    def compute(self, a):
        q, r = self.xp.linalg.qr(a, mode="complete" if self.mode == "complete" else "reduced")
        return [q.astype(a.dtype, copy=False), r.astype(a.dtype, copy=False)]

    def rule(self, grads, outputs):
        (gQ, gR), (Q, R) = grads, outputs
        m, n = self.inputs[0].shape[-2:]
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                               "through linalg.qr.")
        if self.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and "
                               "nrows > ncols.")
        if m >= n:
            return _qr_backward_tall(Q, R, gQ, gR)
        # Wide: A = [X | Y] with X = Q R1 square and Y = Q R2.
        A = self.input(0)
        Y, R1 = A[..., :, m:], R[..., :, :m]
        gR1, gR2 = gR[..., :, :m], gR[..., :, m:]
        gX = _qr_backward_tall(Q, R1, gQ + matmul(Y, gR2.mH), gR1)
        gY = matmul(Q, gR2)
        return _shape.cat([gX, gY], -1)


def qr(A, mode="reduced", *, out=None):
    """(Q, R) with A = QR; mode 'reduced' (k = min(m, n) columns), 'complete' (Q square), or 'r' (Q empty)."""
    op = "linalg.qr"
    check_matrix(op, A)
    check_float(op, A, complex_ok=True)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           f"'r', or 'complete'")
    node = QR(mode)
    Q, R = node.unpack(node.apply(A))
    if mode == "r":
        Q = wrap(A.xp.zeros((0,), dtype=A._data.dtype), A._device)
    return _QR(Q, R)


# -- symmetric eigendecomposition ------------------------------------------------------------------

def _off_diagonal_reciprocal(d):
    """1 / d off the diagonal, 0 on it (d's diagonal is ignored)."""
    n = d.shape[-1]
    eye = eye_like(n, d)
    return (1 - eye) / (d + eye)


class Eigh(PackedNode):
    __slots__ = ("uplo",)
    core_ndims = (1, 2)

    def __init__(self, uplo):
        self.uplo = uplo

    def compute(self, a):
        w, v = self.xp.linalg.eigh(a, UPLO=self.uplo)
        return [w.astype(a.dtype, copy=False), v.astype(a.dtype, copy=False)]

    def rule(self, grads, outputs):
        # gA = V (diag(gL) + F * (V^H gV)) V^H, F_ij = 1 / (L_j - L_i) off the diagonal, made Hermitian
        # as PyTorch does (A is Hermitian, so only that part of the gradient is meaningful); ^H is ^T for
        # real matrices. Complex eigenvalues come packed as complex numbers with a zero imaginary part.
        (gL, gV), (L, V) = grads, outputs
        projected = matmul(V.mH, gV)
        if V.dtype.is_complex:
            from .eig import check_phase_invariant
            check_phase_invariant(self.xp, _shape.diagonal(projected, 0, -2, -1)._data, "linalg_eigh_backward")
            L, gL = L.real, gL.real
        F = _off_diagonal_reciprocal(L[..., None, :] - L[..., :, None])
        inner = _diag_embed(gL) + F * projected
        gA = matmul(matmul(V, inner), V.mH)
        return 0.5 * (gA + gA.mH)


def _check_uplo(op, UPLO):
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO.upper()


def eigh(A, UPLO="L", *, out=None):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix; reads only the UPLO triangle."""
    check_square("linalg.eigh", A)
    check_float("linalg.eigh", A, complex_ok=True)
    node = Eigh(_check_uplo("linalg.eigh", UPLO))
    values, vectors = node.unpack(node.apply(A))
    if A.dtype.is_complex:   # packed with the complex eigenvectors; the eigenvalues of a Hermitian A are real
        values = values.real
    return _EIGH(values, vectors)


def eigvalsh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) of a symmetric matrix."""
    check_square("linalg.eigvalsh", A)
    check_float("linalg.eigvalsh", A, complex_ok=True)
    uplo = _check_uplo("linalg.eigvalsh", UPLO)
    if _needs_graph(A):
        return eigh(A, uplo).eigenvalues
    real_dtype = A._data.real.dtype   # real eigenvalues, also for a complex Hermitian A
    return wrap(A.xp.linalg.eigvalsh(A._data, UPLO=uplo).astype(real_dtype, copy=False), A._device)


def _needs_graph(t):
    from ..autograd.grad_mode import state
    return state.enabled and t.requires_grad


# -- SVD -------------------------------------------------------------------------------------------

class SVD(PackedNode):
    __slots__ = ("full_matrices",)
    core_ndims = (2, 1, 2)

    def __init__(self, full_matrices):
        self.full_matrices = full_matrices

    def compute(self, a):
        xp = self.xp
        m, n = a.shape[-2:]
        if a.size == 0:   # LAPACK refuses empty matrices: U and Vh are identities, no singular values
            k = min(m, n)
            batch = a.shape[:-2]
            um, vn = (m, n) if self.full_matrices else (k, k)
            u = xp.broadcast_to(xp.eye(m, um, dtype=a.dtype), batch + (m, um)).copy()
            vh = xp.broadcast_to(xp.eye(vn, n, dtype=a.dtype), batch + (vn, n)).copy()
            return [u, xp.zeros(batch + (k,), dtype=a.dtype), vh]
        u, s, vh = xp.linalg.svd(a, full_matrices=self.full_matrices)
        return [u.astype(a.dtype, copy=False), s.astype(a.dtype, copy=False), vh.astype(a.dtype, copy=False)]

    def rule(self, grads, outputs):
        (gU, gS, gVh), (U, S, Vh) = grads, outputs
        m, n = self.inputs[0].shape[-2:]
        k = min(m, n)
        if self.full_matrices:   # the extra columns of U / rows of Vh are arbitrary: only the first k count
            U, gU = U[..., :, :k], gU[..., :, :k]
            Vh, gVh = Vh[..., :k, :], gVh[..., :k, :]
        # ^H is ^T for real matrices; complex singular values come packed with a zero imaginary part
        is_complex = U.dtype.is_complex
        if is_complex:
            S, gS = S.real, gS.real
        V, gV = Vh.mH, gVh.mH
        s_row, s_col = S[..., None, :], S[..., :, None]
        F = _off_diagonal_reciprocal(s_row * s_row - s_col * s_col)   # 1 / (s_j^2 - s_i^2)
        UtgU = matmul(U.mH, gU)
        VtgV = matmul(V.mH, gV)
        J = F * (UtgU - UtgU.mH)
        K = F * (VtgV - VtgV.mH)
        inner = J * s_row + _diag_embed(gS) + s_col * K
        if is_complex:
            # singular vectors are defined up to a common phase per pair (u_k, v_k): the loss must not see it
            diag_u = _shape.diagonal(UtgU, 0, -2, -1)
            _check_svd_phase(self.xp, diag_u._data, _shape.diagonal(VtgV, 0, -2, -1)._data)
            inner = inner + _diag_embed(diag_u.imag / S) * 1j
        gA = matmul(matmul(U, inner), Vh)
        if m > k:   # the part of gU outside U's column space
            proj = gU - matmul(U, UtgU)
            gA = gA + matmul(proj / s_row, Vh)
        if n > k:
            proj = gV - matmul(V, VtgV)
            gA = gA + matmul(U / s_row, proj.mH)
        return gA


def _check_svd_phase(xp, diag_u, diag_v):
    """torch's test that Im diag(U^H gU) = -Im diag(V^H gV) (the loss ignores the pairs' phases)."""
    a, b = diag_u.imag, -diag_v.imag
    if diag_u.size and not bool((xp.abs(a - b) <= 1e-2 + 1e-2 * xp.abs(b)).all()):
        raise RuntimeError(
            "svd_backward: The singular vectors in the complex case are specified up to multiplication by "
            "e^{i phi}. The specified loss function depends on this phase term, making it ill-defined. Use a "
            "phase-invariant quantity (e.g. U.abs(), or U @ diag(S) @ Vh)")


def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending; full_matrices=False gives the reduced form."""
    check_matrix("linalg.svd", A)
    check_float("linalg.svd", A, complex_ok=True)
    node = SVD(bool(full_matrices))
    U, S, Vh = node.unpack(node.apply(A))
    if A.dtype.is_complex:   # packed with the complex singular vectors; singular values are real
        S = S.real
    return _SVD(U, S, Vh)


def svdvals(A, *, driver=None, out=None):
    """Singular values, descending."""
    check_matrix("linalg.svdvals", A)
    check_float("linalg.svdvals", A, complex_ok=True)
    if _needs_graph(A) or A.numel() == 0:
        return svd(A, full_matrices=False).S
    s = A.xp.linalg.svd(A._data, compute_uv=False)
    return wrap(s.astype(A._data.real.dtype, copy=False), A._device)

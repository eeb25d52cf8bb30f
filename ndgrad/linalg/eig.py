"""General (non-symmetric) eigendecomposition: ``linalg.eig`` and ``linalg.eigvals``.

The results are always complex (a real matrix can have complex eigenvalues), eigenvectors are the
columns of V with unit 2-norm as LAPACK's geev returns them. Eigenvectors are only defined up to a
phase e^{i phi} per column, so a loss that depends on that phase has no gradient; the backward rule
refuses it with torch's check (the imaginary part of diag(V^H gV) must vanish).
"""
from ..backend import np
from ..ops import shape as _shape
from ..ops.linalg import matmul
from ._common import PackedNode, check_float, check_square, result_type, wrap
from .solvers import solve

__all__ = ["eig", "eigvals"]

_EIG = result_type("linalg_eig", ["eigenvalues", "eigenvectors"])


def _complex_dtype(dtype):
    return np.complex128 if dtype in (np.float64, np.complex128) else np.complex64


def _geev(xp, a):
    """(eigenvalues, eigenvectors) as complex arrays; on the host where the backend has no eig."""
    target = _complex_dtype(a.dtype)
    eig_fn = getattr(getattr(xp, "linalg", None), "eig", None) if xp is not np else np.linalg.eig
    if eig_fn is None:   # older CuPy: LAPACK geev on the host, results back on the device
        values, vectors = np.linalg.eig(a.get())
        return xp.asarray(values.astype(target)), xp.asarray(vectors.astype(target))
    values, vectors = eig_fn(a)
    return values.astype(target, copy=False), vectors.astype(target, copy=False)


class Eig(PackedNode):
    __slots__ = ()
    core_ndims = (1, 2)

    def compute(self, a):
        xp = self.xp
        if a.size == 0:
            target = _complex_dtype(a.dtype)
            return [xp.zeros(a.shape[:-1], dtype=target), xp.zeros(a.shape, dtype=target)]
        return list(_geev(xp, a))

    def rule(self, grads, outputs):
        grad_values, grad_vectors = grads
        values, vectors = outputs
        vectors_h = vectors.mH
        projected = matmul(vectors_h, grad_vectors)
        diag = _shape.diagonal(projected, 0, -2, -1)
        check_phase_invariant(self.xp, diag._data, "linalg_eig_backward")
        # remove the component along each eigenvector's own direction (its norm is fixed at 1)
        projected = projected - matmul(vectors_h, vectors * diag.real[..., None, :])
        # E_ij = conj(L_j - L_i) off the diagonal, 1 on it (where the difference is exactly 0)
        lconj = values.conj()
        eye = wrap(self.xp.eye(values.shape[-1], dtype=values._data.dtype), values._device)
        gaps = lconj[..., None, :] - lconj[..., :, None] + eye
        inner = projected / gaps + _shape.diag_embed(grad_values, 0, -2, -1)
        # gA = V^-H inner V^H
        grad_a = solve(vectors_h, matmul(inner, vectors_h))
        return grad_a if self.input(0).dtype.is_complex else grad_a.real


def check_phase_invariant(xp, diag, op):
    """torch's test that the loss does not depend on the eigenvectors' phases: Im diag(V^H gV) ~ 0 (1e-2)."""
    if diag.size and not bool((xp.abs(diag.imag) <= 1e-2).all()):
        raise RuntimeError(
            f"{op}: The eigenvectors in the complex case are specified up to multiplication by "
            "e^{i phi}. The specified loss function depends on this phase term, making it ill-defined. Use a "
            "phase-invariant quantity of the eigenvectors (e.g. V.abs(), or V[..., k] / V[0, k])")


def eig(A, *, out=None):
    """(eigenvalues, eigenvectors) of a square (batch of) matrix, both complex: A V = V diag(eigenvalues)."""
    check_square("linalg.eig", A)
    check_float("linalg.eig", A, complex_ok=True)
    _check_finite("linalg.eig", A)
    node = Eig()
    packed = node.apply(A)
    values, vectors = node.unpack(packed)
    return _EIG(values, vectors)


def eigvals(A, *, out=None):
    """The complex eigenvalues of a square (batch of) matrix; differentiable like ``eig``'s."""
    check_square("linalg.eigvals", A)
    check_float("linalg.eigvals", A, complex_ok=True)
    _check_finite("linalg.eigvals", A)
    node = Eig()
    values, _ = node.unpack(node.apply(A))
    return values


def _check_finite(op, A):
    if A.numel() and not bool(A.xp.isfinite(A._data).all()):
        raise RuntimeError(f"{op}: input tensor should not contain infs or NaNs (got one in a tensor of shape "
                           f"{tuple(A.shape)}); replace them, e.g. with nan_to_num")

"""Householder reflectors: householder_product (orgqr), and geqrf's packed QR that produces them.

Complex reflectors are H_i = I - tau_i v_i v_i^H (LAPACK's ungqr), so one code path serves both.
"""
from ..autograd import grad_mode
from ..ops.linalg import matmul
from ._common import PackedNode, _torch_name, check_float, check_matrix, eye_like, wrap

__all__ = ["householder_product", "householder_q", "geqrf"]


class GeQRF(PackedNode):
    __slots__ = ()
    core_ndims = (2, 1)

    def compute(self, a):
        xp = self.xp
        m, n = a.shape[-2:]
        if a.size == 0:
            return [a.copy(), xp.zeros(a.shape[:-2] + (min(m, n),), dtype=a.dtype)]
        h, tau = xp.linalg.qr(a, mode="raw")   # h comes transposed (LAPACK's column-major layout)
        return [xp.ascontiguousarray(xp.swapaxes(h, -1, -2)).astype(a.dtype, copy=False), tau.astype(a.dtype)]

    def rule(self, grads, outputs):
        raise RuntimeError("the derivative for 'geqrf' is not implemented.")


def geqrf(A):
    """(a, tau) as LAPACK's geqrf packs them; in the graph like PyTorch's, but not differentiable."""
    check_matrix("geqrf", A, "input")
    check_float("geqrf", A, complex_ok=True)
    if A.dtype.is_complex and A.requires_grad and grad_mode.state.enabled:
        raise RuntimeError("geqrf does not support automatic differentiation for outputs with complex dtype.")
    node = GeQRF()
    return node.unpack(node.apply(A))


def householder_product(A, tau, *, out=None):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^H, v_i read below A's diagonal (orgqr)."""
    op = "torch.linalg.householder_product"
    check_matrix(op, A)
    check_float(op, A, complex_ok=True)
    if tau.dtype is not A.dtype:
        raise RuntimeError(f"{op}: tau dtype {_torch_name(tau.dtype)} does not match input dtype "
                           f"{_torch_name(A.dtype)}; convert tau with .to(input.dtype)")
    m, n = A.shape[-2:]
    k = tau.shape[-1] if tau.ndim else 0
    if n > m:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1] (got shape "
                           f"{tuple(A.shape)})")
    if k > n:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1] (got "
                           f"{n} and {k})")
    if tau.ndim != A.ndim - 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], got "
                           f"tau {tuple(tau.shape)} and input {tuple(A.shape)}")
    return householder_q(A, tau)[..., :, :n]


def householder_q(A, tau):
    """The full (m, m) product H_1 ... H_k of the reflectors stored below A's diagonal, as tensor ops."""
    m = A.shape[-2]
    rows = A.xp.arange(m)
    Q = eye_like(m, A).expand(*A.shape[:-2], m, m)
    for i in range(tau.shape[-1] if tau.ndim else 0):
        below = wrap((rows > i).astype(A._data.dtype), A._device)
        unit = wrap((rows == i).astype(A._data.dtype), A._device)
        v = A[..., :, i] * below + unit                       # (..., m): the i-th reflector
        Qv = matmul(Q, v[..., :, None])                       # (..., m, 1)
        Q = Q - (tau[..., i, None, None] * Qv) * v.conj()[..., None, :]
    return Q

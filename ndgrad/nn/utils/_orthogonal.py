"""``parametrizations.orthogonal``: keep a matrix (or a batch of them) orthogonal / with orthonormal columns.

The unconstrained tensor X maps to an orthogonal Q by one of three maps, composed of differentiable
Tensor ops: ``matrix_exp`` (exp of the skew-symmetric X - X^T, by scaling and squaring of a Taylor
series), ``cayley`` ((I - A/2)^-1 (I + A/2), a small differentiable solve) or ``householder`` (a
product of reflections). With ``use_trivialization=True`` (the default) Q is further multiplied by a
fixed orthogonal ``base`` buffer, and the registered weight keeps its value.
"""
import math

import ndgrad
from ndgrad.autograd.node import Node
from ndgrad.nn.module import Module
from ndgrad.nn.utils import parametrize
from ndgrad.tensor import Tensor

_MAPS = ("matrix_exp", "cayley", "householder")


def _eye_like(x, n, k=None):
    """An (n, k) identity with the dtype and device of ``x``."""
    return ndgrad.eye(n, n if k is None else k, dtype=x.dtype, device=x.device)


def _matrix_exp(A):
    """exp(A) for a batch of square matrices: Taylor series on A / 2^s, then s squarings."""
    norm = float(A.detach().abs().sum(-1).max()) if A.numel() else 0.0
    s = max(0, int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
    X = A * (1.0 / 2 ** s)
    n = A.shape[-1]
    term = _eye_like(A, n).expand(*A.shape)
    result = term
    for i in range(1, 19):  # |X| <= 0.5: the terms fall below 1e-19 of the first by i = 18
        term = term.matmul(X) * (1.0 / i)
        result = result + term
    for _ in range(s):
        result = result.matmul(result)
    return result


class _Solve(Node):
    """X = M^-1 B for square M (batched). dB = M^-T G, dM = -dB X^T: both again solves and products,
    so the rule is differentiable to any order."""
    __slots__ = ()
    needs_output = True

    def forward(self, m, b):
        return self.xp.linalg.solve(m, b)

    def backward(self, grad):
        m = self.input(0)
        grad_b = _solve(m.transpose(-2, -1), grad)
        grad_m = -grad_b.matmul(self.output().transpose(-2, -1)) if self.needs_input_grad[0] else None
        return grad_m, grad_b


def _solve(m, b):
    return _Solve().apply(m, b)


def _householder_product(A, tau):
    """The first k columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i = e_i + A[:, i] below row i."""
    n, k = A.shape[-2], A.shape[-1]
    Q = _eye_like(A, n).expand(*A.shape[:-2], n, n)
    for i in range(k):
        v = A[..., :, i:i + 1] + _eye_like(A, n)[:, i:i + 1]  # (.., n, 1); A's column is zero on and above row i
        Q = Q - (Q.matmul(v) * tau[..., i:i + 1].unsqueeze(-1)).matmul(v.transpose(-2, -1))
    return Q[..., :, :k]


def _qr_orthogonal(xp, a):
    """The Q of a = QR with diag(R) >= 0 (the unique one for full rank), on raw arrays."""
    q, r = xp.linalg.qr(a)
    d = xp.diagonal(r, axis1=-2, axis2=-1)
    return q * xp.where(d < 0, -1.0, 1.0).astype(a.dtype)[..., None, :]


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.transpose(-2, -1)
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:  # embed the tall matrix in a square one
                X = ndgrad.cat([X, ndgrad.zeros(*X.shape[:-1], n - k, dtype=X.dtype, device=X.device)], -1)
            A = X - X.transpose(-2, -1)
            if self.orthogonal_map == "matrix_exp":
                Q = _matrix_exp(A)
            else:
                eye = _eye_like(A, n)
                Q = _solve(eye - A * 0.5, (eye + A * 0.5).expand(*A.shape))
            Q = Q[..., :, :k]
        else:
            A = X.tril(-1)
            tau = 2.0 / (1.0 + (A * A).sum(-2))
            Q = _householder_product(A, tau)
            # The diagonal of X holds the signs +-1 (kept, not learned: no gradient through it)
            signs = Tensor._wrap(X.detach()._data.diagonal(axis1=-2, axis2=-1).astype(int).astype(X._data.dtype),
                                 X._device)
            Q = Q * signs.unsqueeze(-2)
        base = self._buffers.get("base")
        if base is not None:
            Q = base.matmul(Q)
        return Q.transpose(-2, -1) if transposed else Q

    def right_inverse(self, Q):
        if tuple(Q.shape) != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape "
                             f"{tuple(Q.shape)}.")
        with ndgrad.no_grad():
            Q_init = Q
            n, k = Q.shape[-2], Q.shape[-1]
            transpose = n < k
            q = Q.detach()._data
            if transpose:
                q = q.swapaxes(-2, -1)
                n, k = k, n
            xp = Q.xp
            if "base" not in self._buffers:
                if self.orthogonal_map != "householder":
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                              "parametrizations when use_trivialization=False.")
                return self._householder_inverse(xp, q, transpose, Q_init)
            if n == k:
                eye = xp.eye(k, dtype=q.dtype)
                eps = 10.0 * n * float(xp.finfo(q.dtype).eps)
                base = q.copy() if bool(xp.allclose(q.swapaxes(-2, -1) @ q, eye, atol=eps)) else \
                    _qr_orthogonal(xp, q)
            else:  # complete the columns into a full orthogonal n x n matrix
                extra = ndgrad.randn(*(tuple(q.shape[:-2]) + (n, n - k)), dtype=Q.dtype, device=Q.device)._data
                base = _qr_orthogonal(xp, xp.concatenate([q, extra], -1))
            self.base = Tensor._wrap(base, Q._device)
            # -Id: with it, every map gives the identity, so the parametrized weight equals base (times I)
            neg_id = xp.zeros(tuple(Q_init.shape), dtype=q.dtype)
            idx = xp.arange(min(Q_init.shape[-2:]))
            neg_id[..., idx, idx] = -1.0
            return Tensor._wrap(neg_id, Q._device)

    def _householder_inverse(self, xp, q, transpose, like):
        """Householder vectors of q (below the diagonal) with the signs of diag(R) on the diagonal."""
        from ndgrad.backend import np
        host = q.get() if hasattr(q, "get") else q
        flat = host.reshape((-1,) + host.shape[-2:])
        out = np.empty_like(flat)
        for b, mat in enumerate(flat):
            h, tau = np.linalg.qr(mat, mode="raw")
            a = h.T.copy()
            diag = np.sign(np.diagonal(a)).copy()
            diag[tau == 0.0] *= -1
            np.fill_diagonal(a, diag)
            out[b] = a
        out = out.reshape(host.shape)
        if transpose:
            out = out.swapaxes(-2, -1)
        result = Tensor._wrap(np.ascontiguousarray(out))
        return result if like.device.type == "cpu" else result.to(like.device)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Constrain ``module.<name>`` (a matrix or batch of matrices) to be orthogonal (orthonormal columns or
    rows when it is not square). orthogonal_map: 'matrix_exp' (square default), 'cayley' or 'householder'
    (default otherwise)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.dim() < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.dim()} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module

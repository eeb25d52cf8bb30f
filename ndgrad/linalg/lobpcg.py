"""``torch.lobpcg``: k extreme eigenpairs of a symmetric (generalized) eigenproblem A x = e B x by LOBPCG.

The front end: PyTorch's arguments and checks, dense (batched) or sparse COO operands, and the graph
node. The iteration itself, on raw arrays, is in lobpcg_iteration.py. As in PyTorch, a dense A that
requires grad is symmetrized first ((A + A^T) / 2), and the gradient is that of a partial symmetric
eigendecomposition: the eigh rule inside span(X) plus, outside it, the solution of a Sylvester equation
(solved here one eigenvalue at a time with dense linear solves, so it is differentiable again).

Where PyTorch 2.13 is loose, ndgrad is strict or does what its documentation says: the preconditioner iK
is used by both methods (torch's "ortho" ignores it), n < k and an unknown ``method`` are errors (torch
returns n pairs after niter steps, or runs "basic"), and niter=1 returns the Ritz values of span(X)
(torch's "ortho" returns zeros there).
"""
from ..backend import np
from ._common import PackedNode, check_float, wrap
from .lobpcg_iteration import LobpcgState

__all__ = ["lobpcg"]

# the float epsilons torch.lobpcg uses for its default tolerance feps ** 0.5
_FEPS = {"float32": 1.2e-07, "float64": 2.23e-16}


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    """(E, X): the k largest (``largest=False``: smallest) eigenvalues of A x = e B x and their B-orthonormal
    eigenvectors, for a symmetric A (dense, batched, or sparse COO) and a symmetric positive definite B."""
    A_sparse, B_sparse = _is_sparse(A), _is_sparse(B)
    m, batch = _check_operands(A, B, X, iK, A_sparse)
    k = (1 if X is None else X.shape[-1]) if k is None else int(k)
    n = (k if n is None else int(n)) if X is None else X.shape[-1]
    _check_sizes(m, k, n, X, batch)
    method = "ortho" if method is None else method
    if method not in ("ortho", "basic"):
        raise ValueError(f"lobpcg: method must be 'ortho' (the default, robust) or 'basic', got {method!r}")
    dtype = A.dtype
    tol = _FEPS[dtype.name] ** 0.5 if tol is None else float(tol)
    iparams = {"m": m, "n": n, "k": k, "niter": 1000 if niter is None else int(niter)}
    fparams = {"tol": tol}
    bparams = {"largest": True if largest is None else bool(largest)}
    if method == "ortho":
        iparams.update(ortho_iparams or {})
        fparams.update(ortho_fparams or {})
        bparams.update(ortho_bparams or {})
    # orthonormalization settings (torch's names); the basic method uses them for its fallback steps
    iparams.setdefault("ortho_i_max", 3)
    iparams.setdefault("ortho_j_max", 3)
    for name in ("ortho_tol", "ortho_tol_drop", "ortho_tol_replace"):
        fparams.setdefault(name, tol)
    bparams.setdefault("ortho_use_drop", False)

    solver = _Solver(A if A_sparse else None, B if B_sparse else None, X, iK, batch, m, k, n, iparams, fparams,
                     bparams, method, tracker, A, B, A._device)
    if A.requires_grad or (B is not None and B.requires_grad):
        # PyTorch symmetrizes a dense A (and B) that requires grad, so that A.grad is symmetric too
        inputs = [A._values() if A_sparse else (A + A.mT) / 2]
        if B is not None:
            inputs.append(B._values() if B_sparse else (B + B.mT) / 2)
        node = _LobpcgNode(solver, A_sparse or (B_sparse and B.requires_grad), B is not None)
        E, vectors = node.unpack(node.apply(*inputs))
        return E, vectors
    E, vectors = solver(None if A_sparse else A._data, None if (B is None or B_sparse) else B._data)
    return wrap(E, A._device), wrap(vectors, A._device)


def _is_sparse(t):
    return t is not None and bool(getattr(t, "is_sparse", False))


def _check_operands(A, B, X, iK, A_sparse):
    """m and the batch shape; shapes, layouts and dtypes checked with PyTorch's error types."""
    if A.ndim < 2:
        raise IndexError(f"lobpcg: A must be a square matrix or a batch of them, got shape {tuple(A.shape)}")
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"lobpcg: A must be square, got shape {tuple(A.shape)}")
    if A_sparse and A.ndim != 2:
        raise RuntimeError(f"lobpcg: a sparse A must be a single matrix, got shape {tuple(A.shape)}; "
                           f"batches need dense tensors (A.to_dense())")
    if B is not None and tuple(B.shape) != tuple(A.shape):
        raise AssertionError(f"lobpcg: A and B must have same shape, got {tuple(A.shape)} vs {tuple(B.shape)}")
    check_float("lobpcg", A)
    m = A.shape[-1]
    batch = tuple(A.shape[:-2])
    for name, t in (("B", B), ("X", X), ("iK", iK)):
        if t is None:
            continue
        if t.dtype is not A.dtype:
            raise RuntimeError(f"lobpcg: expected {name} to have the dtype of A ({A.dtype}), got {t.dtype}; "
                               f"convert it with .to(A.dtype)")
        if t._device != A._device:
            raise RuntimeError(f"lobpcg: A is on {A.device} but {name} is on {t.device}; move {name} with "
                               f".to(A.device)")
    if X is not None and _is_sparse(X):
        raise RuntimeError("lobpcg: X must be a dense tensor (X.to_dense())")
    if iK is not None and tuple(iK.shape) not in ((m, m), batch + (m, m)):
        raise RuntimeError(f"lobpcg: the preconditioner iK must have shape {(m, m)} or {batch + (m, m)} "
                           f"like A, got {tuple(iK.shape)}")
    if iK is not None and _is_sparse(iK) and iK.ndim != 2:
        raise RuntimeError(f"lobpcg: a sparse iK must be a single matrix, got shape {tuple(iK.shape)}")
    return m, batch


def _check_sizes(m, k, n, X, batch):
    if k < 1:
        raise ValueError(f"lobpcg: the number of requested eigenpairs k must be at least 1, got k={k}")
    if n < k:
        raise ValueError(f"lobpcg: n (={n}, the number of columns of X when X is given) must be at least "
                         f"k (={k}): LOBPCG iterates n vectors and returns k of them")
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than "
                         f"3 x the number of requested eigenpairs (={n})")
    if X is not None and tuple(X.shape) not in ((m, n), batch + (m, n)):
        raise AssertionError(f"lobpcg: X shape mismatch: got {tuple(X.shape)}, expected {batch + (m, n)}")


def _operator(t, array, index, m):
    """V -> M V for the matrix of batch element ``index`` (a raw array, a sparse tensor, or None for I)."""
    if t is not None and _is_sparse(t):
        from ..sparse.ops import _sparse_module
        values = t._values()._data
        xp = t._values().xp
        rows, cols = t._indices()._data
        if xp is not np:   # cuSPARSE takes 32-bit indices
            rows, cols = rows.astype(xp.int32), cols.astype(xp.int32)
        matrix = _sparse_module(xp).coo_matrix((values, (rows, cols)), shape=(m, m)).tocsr()
        return lambda V: xp.asarray(matrix @ V).astype(V.dtype, copy=False)
    if array is None:
        return None
    M = array if array.ndim == 2 else array.reshape(-1, m, m)[index]
    return lambda V: M @ V


class _Solver:
    """Runs the iteration for every batch element; called with the raw dense A and B (None where sparse/absent)."""

    def __init__(self, A_sparse, B_sparse, X, iK, batch, m, k, n, iparams, fparams, bparams, method, tracker,
                 A, B, device):
        self.A_sparse, self.B_sparse, self.X, self.iK = A_sparse, B_sparse, X, iK
        self.batch, self.m, self.k, self.n = batch, m, k, n
        self.iparams, self.fparams, self.bparams, self.method = iparams, fparams, bparams, method
        self.tracker, self.A, self.B, self.device = tracker, A, B, device

    def __call__(self, A_array, B_array):
        from ..random import generator
        m, k, n = self.m, self.k, self.n
        count = int(np.prod(self.batch, dtype=np.int64))
        dtype = self.A.dtype.np
        xp = self.A._values().xp if self.A_sparse is not None else self.A.xp
        rng = generator(self.device)

        def random(rows, cols):
            return xp.asarray(rng.standard_normal((rows, cols))).astype(dtype)

        iK_array = None if self.iK is None or _is_sparse(self.iK) else self.iK._data
        X_array = None if self.X is None else self.X._data
        E_out = xp.empty((count, k), dtype=dtype)
        X_out = xp.empty((count, m, k), dtype=dtype)
        for index in range(count):
            X0 = random(m, n) if X_array is None else (
                X_array if X_array.ndim == 2 else X_array.reshape(-1, m, n)[index])
            iparams = dict(self.iparams, batch_index=index) if self.batch else self.iparams
            state = LobpcgState(
                xp, _operator(self.A_sparse, A_array, index, m), _operator(self.B_sparse, B_array, index, m),
                _operator(self.iK, iK_array, index, m), X0, iparams, self.fparams, self.bparams, self.method,
                random, self.tracker, self._tracker_view)
            values, vectors = state.run()
            E_out[index] = values[:k]
            X_out[index] = vectors[:, :k]
        return E_out.reshape(self.batch + (k,)), X_out.reshape(self.batch + (m, k))

    def _tracker_view(self, state):
        return _TrackerView(state, self)


class _TrackerView:
    """What a PyTorch ``tracker`` reads: the parameter and variable dicts (bvars is shared, so setting
    ``bvars["force_stop"] = True`` stops the run) and the current E, X, R, S as tensors."""

    def __init__(self, state, solver):
        device = solver.device
        self.iparams, self.fparams, self.bparams = state.iparams, state.fparams, state.bparams
        self.ivars, self.fvars, self.bvars = state.ivars, state.fvars, state.bvars
        self.tvars = {name: wrap(value, device) for name, value in state.tvars.items()}
        self.method = state.method
        self.A, self.B, self.iK = solver.A, solver.B, solver.iK
        self.E, self.X = wrap(state.E, device), wrap(state.X, device)
        self.R, self.S = wrap(state.R, device), wrap(state.S, device)


class _LobpcgNode(PackedNode):
    """E (*, k) and X (*, m, k) from the (symmetrized) A, and B when given; the rule is for B = I only."""
    __slots__ = ("solver", "sparse", "has_B")
    core_ndims = (1, 2)

    def __init__(self, solver, sparse, has_B):
        self.solver, self.sparse, self.has_B = solver, sparse, has_B

    def compute(self, A_array, B_array=None):
        A_array = None if self.solver.A_sparse is not None else A_array
        B_array = None if self.solver.B_sparse is not None else B_array
        return list(self.solver(A_array, B_array))

    def rule(self, grads, outputs):
        if self.sparse:
            raise ValueError("lobpcg.backward does not support sparse input yet. Note that lobpcg.forward "
                             "does though. Pass A.to_dense() to differentiate")
        if self.has_B:
            raise ValueError("lobpcg.backward does not support backward with B != I yet. Detach B and A, or "
                             "reduce to a standard problem (with B = L L^T: L^-1 A L^-T)")
        (gE, gX), (E, U) = grads, outputs
        return partial_eigh_backward(self.input(0), E, U, gE, gX)


def partial_eigh_backward(A, E, U, gE, gX):
    """The gradient of a symmetric A from those of k of its eigenpairs (E, U), U orthonormal.

    Inside span(U) it is the eigh rule U (diag(gE) + F * U^T gX) U^T, F_ij = 1 / (E_j - E_i). A change of A
    also turns U towards the complement: there dU_j = -(P A P - E_j)^+ P dA u_j with P = I - U U^T, so
    the adjoint adds -sum_j z_j u_j^T, z_j solving (P (A - E_j) P + U U^T) z_j = P gX_j (the U U^T term
    makes the system regular on span(U), where the right side has no component).
    """
    from .. import diag_embed, eye, where
    from .solvers import solve
    m, k = U.shape[-2], U.shape[-1]
    Ut = U.mT
    same = eye(k, dtype=bool, device=A.device)
    gaps = E.unsqueeze(-2) - E.unsqueeze(-1)                      # [i, j] = E_j - E_i
    F = where(same, 0.0, 1 / where(same, 1.0, gaps))
    grad = U @ (diag_embed(gE) + (Ut @ gX) * F) @ Ut
    identity = eye(m, dtype=A.dtype, device=A.device)
    inside = U @ Ut
    P = identity - inside
    shifted = A.unsqueeze(-3) - E.unsqueeze(-1).unsqueeze(-1) * identity     # (*, k, m, m): A - E_j I
    systems = P.unsqueeze(-3) @ shifted @ P.unsqueeze(-3) + inside.unsqueeze(-3)
    Z = solve(systems, (P @ gX).mT.unsqueeze(-1)).squeeze(-1).mT          # (*, m, k)
    return grad - Z @ Ut

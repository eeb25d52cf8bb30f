"""The LOBPCG iteration for one matrix, on raw arrays (NumPy or CuPy through ``xp``).

Knyazev's locally optimal block preconditioned conjugate gradient: each step takes the Ritz vectors X,
the preconditioned residuals W = iK (A X - B X E) and the previous step directions P, and replaces X
by the best n Ritz vectors of A x = e B x in span[X, W, P] (Rayleigh-Ritz). ``method="ortho"`` makes
the basis B-orthonormal first (projections plus an SVQB orthonormalization that drops dependent
columns), which keeps the small Gram matrices well conditioned; ``method="basic"`` only scales the
columns, as in the original method, and falls back to the orthonormal basis for a step whose Gram
matrix is not positive definite. Only the residuals of the pairs not yet converged are added (soft
locking). The images A V and B V of every block are carried along through the same linear
combinations, so a step costs one product with A (and with B) for the new residual directions.

The state is kept under the attribute names a PyTorch ``tracker`` callback expects
(``iparams``, ``fparams``, ``bparams``, ``ivars``, ``fvars``, ``bvars``, ``tvars``, ``E``, ``X``, ``R``, ``S``).
"""
from ..backend import np


class Block:
    """Columns V with their images A V and B V; BV is None when B is the identity (then B V is V)."""
    __slots__ = ("V", "AV", "BV")

    def __init__(self, V, AV=None, BV=None):
        self.V, self.AV, self.BV = V, AV, BV

    def bv(self):
        return self.V if self.BV is None else self.BV

    def combine(self, T):
        """The block V T (images follow: A V T, B V T)."""
        return Block(*(None if part is None else part @ T for part in (self.V, self.AV, self.BV)))

    def minus(self, other, M):
        """The block V - Q M for Q = other (images follow)."""
        return Block(*(None if part is None else part - q @ M
                       for part, q in zip((self.V, self.AV, self.BV), (other.V, other.AV, other.BV))))

    def columns(self, index):
        return Block(*(None if part is None else part[:, index] for part in (self.V, self.AV, self.BV)))

    @property
    def width(self):
        return self.V.shape[1]


def concat(xp, blocks):
    blocks = [b for b in blocks if b is not None and b.width]
    parts = []
    for name in ("V", "AV", "BV"):
        pieces = [getattr(b, name) for b in blocks]
        parts.append(None if any(p is None for p in pieces) else xp.concatenate(pieces, axis=1))
    return Block(*parts)


def _symmetric(G):
    return (G + G.T) / 2


def _max_abs(a):
    return float(abs(a).max()) if a.size else 0.0


class LobpcgState:
    """One LOBPCG run: ``run()`` iterates until k pairs converge, ``niter`` steps pass, or a tracker stops it."""

    def __init__(self, xp, apply_A, apply_B, apply_iK, X0, iparams, fparams, bparams, method, random,
                 tracker=None, tracker_view=None):
        self.xp, self.random = xp, random
        self.apply_A, self.apply_B, self.apply_iK = apply_A, apply_B, apply_iK
        self.iparams, self.fparams, self.bparams = iparams, fparams, bparams
        self.method = method
        self.tracker, self.tracker_view = tracker, tracker_view
        self.X0 = X0
        self.ivars = {"istep": 0, "converged_count": 0, "converged_end": 0}
        self.fvars = {}
        self.bvars = {"force_stop": False}
        self.tvars = {}
        self.block = self.P = None
        self.E = self.R = self.S = None
        self.rerr_host = None

    # -- what a tracker sees (raw arrays; the front end wraps them into tensors) ----------------------
    @property
    def X(self):
        return self.block.V if self.block is not None else self.X0

    # -- the iteration ---------------------------------------------------------------------------
    def run(self):
        self.initial_step()
        self.after_step()
        while not self.should_stop():
            self.step()
            self.after_step()
        return self.E, self.block.V

    def should_stop(self):
        left = self.ivars["iterations_left"]
        return (bool(self.bvars.get("force_stop", False)) or left == 0
                or self.ivars["converged_count"] >= self.iparams["k"])

    def after_step(self):
        self.ivars["istep"] += 1
        self.ivars["iterations_left"] -= 1   # niter <= 0 goes negative and never reaches 0: run to convergence
        if self.tracker is not None:
            self.tracker(self.tracker_view(self))

    def initial_step(self):
        xp = self.xp
        X0 = self.X0
        # the scale of A and B seen by the starting block: the convergence test is relative to it
        x_norm = float(xp.linalg.norm(X0))
        if x_norm == 0:
            raise ValueError("lobpcg: the initial guess X is all zeros; pass a full-rank X or none (random)")
        self.fvars["X_norm"] = x_norm
        self.fvars["A_norm"] = float(xp.linalg.norm(self.apply_A(X0))) / x_norm
        self.fvars["B_norm"] = (float(xp.linalg.norm(self.apply_B(X0))) / x_norm if self.apply_B is not None
                                else 1.0)
        self.ivars["iterations_left"] = self.iparams["niter"]
        start = self.orthonormal_start(X0)
        start.AV = self.apply_A(start.V)
        self.rayleigh_ritz(start, self.iparams["n"])
        self.update_residual()

    def orthonormal_start(self, X0):
        """A B-orthonormal basis of span(X0); dependent columns are replaced by random ones."""
        xp = self.xp
        n = X0.shape[1]
        block = self.svqb(self.with_b(Block(X0)), drop=True)
        for _ in range(3):
            if block.width == n:
                return block
            extra = self.with_b(Block(self.random(X0.shape[0], n - block.width)))
            extra = self.orthonormalize_against(extra, block)
            block = concat(xp, [block, extra])
        raise ValueError(f"lobpcg: could not build {n} independent starting vectors (X has shape {tuple(X0.shape)})")

    def step(self):
        xp = self.xp
        n = self.iparams["n"]
        active = xp.asarray(np.flatnonzero(~self.converged_mask()))
        W = self.R[:, active]
        if self.apply_iK is not None:
            W = self.apply_iK(W)
        P = self.P.columns(active) if self.P is not None else None
        basis = None
        if self.method == "basic":
            basis = self.basic_basis(W, P)
        if basis is None:
            basis = self.orthonormal_basis(W, P)
        self.rayleigh_ritz(basis, n)
        self.update_residual()

    def basic_basis(self, W, P):
        """[X, W, P] with unit columns (Knyazev 2001); None if its Gram matrix is not positive definite."""
        xp = self.xp
        norms = xp.linalg.norm(W, axis=0)
        keep = norms > 0
        if not bool(xp.all(keep)):
            W, norms = W[:, keep], norms[keep]
        Wb = self.with_b(Block(W / norms))
        Wb.AV = self.apply_A(Wb.V)
        parts = [self.block, Wb]
        if P is not None and P.width:
            scale = xp.sqrt(xp.abs(xp.einsum("ij,ij->j", P.V, P.bv())))
            parts.append(P.combine(xp.diag(1 / xp.where(scale > 0, scale, 1))))
        basis = concat(xp, parts)
        gram = _symmetric(basis.V.T @ basis.bv())
        try:
            factor = xp.linalg.cholesky(gram)
        except Exception:   # NumPy raises LinAlgError; either way, use the robust basis for this step
            return None
        if not bool(xp.all(xp.isfinite(factor))):
            return None
        return basis

    def orthonormal_basis(self, W, P):
        """[X, P, W] B-orthonormal: P and W projected off what precedes them, then orthonormalized."""
        xp = self.xp
        parts = [self.block]
        if P is not None and P.width:
            P = self.orthonormalize_against(P, self.block)
            if P.width:
                parts.append(P)
        before = concat(xp, parts)
        Wb = self.orthonormalize_against(self.with_b(Block(W)), before)
        if Wb.width:
            Wb.AV = self.apply_A(Wb.V)
            parts.append(Wb)
        return concat(xp, parts)

    # -- B-orthonormalization --------------------------------------------------------------------
    def with_b(self, block):
        if self.apply_B is not None:
            block.BV = self.apply_B(block.V)
        return block

    def orthonormalize_against(self, block, Q):
        """block projected off span(Q) (Q B-orthonormal) and B-orthonormalized; dependent columns dropped."""
        xp = self.xp
        tol = self.fparams["ortho_tol"]
        for _ in range(self.iparams["ortho_j_max"]):
            for _ in range(self.iparams["ortho_i_max"]):
                overlap = Q.bv().T @ block.V
                block = block.minus(Q, overlap)
                if _max_abs(overlap) < tol:
                    break
            block = self.svqb(block, drop=True)
            if not block.width:
                return block
            overlap = _max_abs(Q.bv().T @ block.V)
            gram = block.V.T @ block.bv()
            drift = _max_abs(gram - xp.eye(block.width, dtype=gram.dtype))
            if overlap < tol and drift < tol:
                break
        return block

    def svqb(self, block, drop):
        """B-orthonormalize a block through the eigendecomposition of its scaled Gram matrix (SVQB)."""
        xp = self.xp
        if not block.width:
            return block
        gram = _symmetric(block.V.T @ block.bv())
        diag = xp.diagonal(gram).copy()
        tiny = xp.finfo(gram.dtype).tiny
        nonzero = diag > tiny
        if not bool(xp.all(nonzero)):
            index = xp.flatnonzero(nonzero)
            block, gram, diag = block.columns(index), gram[index][:, index], diag[index]
            if not block.width:
                return block
        scale = 1 / xp.sqrt(diag)
        values, vectors = xp.linalg.eigh(gram * scale[:, None] * scale[None, :])
        floor = self.fparams["ortho_tol_drop"] * float(xp.max(values)) if drop else xp.finfo(gram.dtype).eps
        keep = xp.flatnonzero(values > floor)
        T = (scale[:, None] * vectors[:, keep]) / xp.sqrt(values[keep])[None, :]
        return block.combine(T)

    # -- Rayleigh-Ritz, residuals, convergence -----------------------------------------------------
    def rayleigh_ritz(self, basis, n):
        """X <- the n wanted Ritz vectors of (A, B) in span(basis); P <- their part outside the old X."""
        xp = self.xp
        self.S = basis.V
        gram_A = _symmetric(basis.V.T @ basis.AV)
        gram_B = _symmetric(basis.V.T @ basis.bv())
        inv_factor = xp.linalg.inv(xp.linalg.cholesky(gram_B))
        values, vectors = xp.linalg.eigh(_symmetric(inv_factor @ gram_A @ inv_factor.T))
        coefficients = inv_factor.T @ vectors
        order = xp.arange(values.shape[0] - 1, values.shape[0] - 1 - n, -1) if self.bparams["largest"] \
            else xp.arange(n)
        C = coefficients[:, order]
        old_width = self.block.width if self.block is not None else basis.width
        self.E = values[order]
        self.block = basis.combine(C)
        if basis.width > old_width and self.block is not None:
            self.P = basis.columns(slice(old_width, None)).combine(C[old_width:])
        else:
            self.P = None

    def update_residual(self):
        xp = self.xp
        X = self.block
        self.R = X.AV - X.bv() * self.E[None, :]
        # backward-stable relative residual (Duersch et al. 2018, section 4.3), as torch.lobpcg measures it
        rerr = xp.linalg.norm(self.R, axis=0) / (
            xp.linalg.norm(X.V, axis=0) * (self.fvars["A_norm"] + xp.abs(self.E) * self.fvars["B_norm"]))
        self.tvars["rerr"] = rerr
        self.rerr_host = np.asarray(rerr.get() if hasattr(rerr, "get") else rerr)
        converged = self.converged_mask()
        count = int(np.argmin(converged)) if not converged.all() else converged.size   # leading run only
        self.ivars["converged_count"] = count
        self.ivars["converged_end"] = count

    def converged_mask(self):
        return self.rerr_host < self.fparams["tol"]

"""The differentiable linear-algebra pieces the multivariate distributions need (batched).

Inverses come from ndgrad.linalg. Cholesky and the triangular solve stay here: ndgrad.linalg's versions
need SciPy (an optional dependency) for their triangular solves, and the distributions report a
non-positive-definite matrix as a ValueError. Backward rules use Tensor ops, so second derivatives work too.
"""
from ndgrad.autograd.node import Node
from ndgrad.backend import np
from ndgrad.linalg import inv as inverse


def _phi(a):
    """Lower triangle with the diagonal halved (the Cholesky backward's projection)."""
    return a.tril(-1) + 0.5 * a.diagonal(dim1=-2, dim2=-1).diag_embed()


class _Cholesky(Node):
    needs_output = True

    def forward(self, a):
        try:
            return self.xp.linalg.cholesky(a)
        except Exception as error:  # numpy's LinAlgError names neither the op nor the batch element
            raise ValueError(f"cholesky: the input (shape {tuple(a.shape)}) is not positive-definite; pass a "
                             f"symmetric positive-definite matrix ({error})") from None

    def backward(self, grad):
        # A = L L^T: grad_A = L^-T Phi(L^T grad_L) L^-1, symmetrised.
        low = self.output()
        middle = _phi(low.mT @ grad)
        inner = solve_triangular(low.mT, solve_triangular(low.mT, middle, upper=True).mT, upper=True)
        return 0.5 * (inner + inner.mT)


def cholesky(a):
    """Lower Cholesky factor of a (batch of) symmetric positive-definite matrices."""
    return _Cholesky().apply(a)


class _SolveTriangular(Node):
    """X = A^-1 B for triangular A (only its lower or upper triangle is read)."""

    def __init__(self, upper):
        self.upper = upper

    def forward(self, a, b):
        xp = self.xp
        a = xp.triu(a) if self.upper else xp.tril(a)
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])  # host-side shape arithmetic
        a = xp.broadcast_to(a, shape + a.shape[-2:])
        b = xp.broadcast_to(b, shape + b.shape[-2:])
        return xp.linalg.solve(a, b)

    def backward(self, grad):
        a, b = self.input(0), self.input(1)
        tri = a.triu() if self.upper else a.tril()
        grad_b = solve_triangular(tri.mT, grad, upper=not self.upper)
        grad_a = None
        if self.needs_input_grad[0]:
            x = solve_triangular(tri, b, upper=self.upper)
            full = -(grad_b @ x.mT)
            grad_a = full.triu() if self.upper else full.tril()
        return grad_a, grad_b


def solve_triangular(a, b, upper=False):
    """Solve A X = B with A triangular; batched and broadcast like torch.linalg.solve_triangular."""
    return _SolveTriangular(upper).apply(a, b)


def batch_mahalanobis(bL, bx):
    """x^T (L L^T)^-1 x for lower-triangular L, batched over the leading dims of both."""
    solved = solve_triangular(bL, bx.unsqueeze(-1), upper=False).squeeze(-1)
    return (solved ** 2).sum(-1)


def cholesky_inverse(low):
    """(L L^T)^-1 from the Cholesky factor L; like torch, the gradient reaches every entry of L."""
    return inverse(low @ low.mT)

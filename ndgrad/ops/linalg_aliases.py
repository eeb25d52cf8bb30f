"""PyTorch's top-level linear-algebra names (``torch.det``, ``torch.svd``, ``torch.qr``, ...) and Tensor methods.

They keep their legacy conventions (``torch.svd`` returns V, not Vh; ``some=`` instead of ``mode=``;
``triangular_solve(b, A)`` with reversed arguments) and forward to ``ndgrad.linalg``, which is
imported on first use so that ``import ndgrad`` stays light.
"""
import importlib
from collections import namedtuple

__all__ = ["det", "logdet", "slogdet", "inverse", "pinverse", "svd", "qr", "cholesky", "cholesky_solve",
           "cholesky_inverse", "lu", "lu_solve", "lu_unpack", "matrix_power", "matrix_exp", "triangular_solve",
           "chain_matmul", "vander", "orgqr", "ormqr", "geqrf", "svd_lowrank", "pca_lowrank", "lobpcg"]


def _result_type(name, fields):
    cls = namedtuple(name, fields)
    cls.__module__ = "ndgrad.return_types"
    return cls


_SLOGDET = _result_type("slogdet", ["sign", "logabsdet"])
_SVD = _result_type("svd", ["U", "S", "V"])
_QR = _result_type("qr", ["Q", "R"])
_TRIANGULAR_SOLVE = _result_type("triangular_solve", ["solution", "cloned_coefficient"])
_GEQRF = _result_type("geqrf", ["a", "tau"])


def _linalg():
    return importlib.import_module("ndgrad.linalg")


def det(input):
    return _linalg().det(input)


def slogdet(input):
    return _SLOGDET(*_linalg().slogdet(input))


def logdet(input):
    """log(det): NaN for a negative determinant, -inf for a zero one."""
    from . import elementwise as ew
    sign, logabsdet = _linalg().slogdet(input)
    if input.dtype.is_complex:   # the complex log of det: log(sign) is i * its phase
        return ew.log(sign) + logabsdet
    return ew.where(sign < 0, float("nan"), ew.where(sign == 0, float("-inf"), logabsdet))


def inverse(input, *, out=None):
    return _linalg().inv(input)


def pinverse(input, rcond=1e-15):
    return _linalg().pinv(input, rtol=rcond)


def svd(input, some=True, compute_uv=True, *, out=None):
    """(U, S, V) with input = U diag(S) V^T (V, not Vh); compute_uv=False gives zero-filled U and V."""
    linalg = _linalg()
    if not compute_uv:
        S = linalg.svdvals(input)
        xp = input.xp
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        zeros = [linalg._common.wrap(xp.zeros(batch + (k, k), dtype=input._data.dtype), input._device)
                 for k in (m, n)]
        return _SVD(zeros[0], S, zeros[1])
    U, S, Vh = linalg.svd(input, full_matrices=not some)
    return _SVD(U, S, Vh.mH)   # V = Vh^H (Vh^T for real input)


def qr(input, some=True, *, out=None):
    return _QR(*_linalg().qr(input, "reduced" if some else "complete"))


def cholesky(input, upper=False, *, out=None):
    return _linalg().cholesky(input, upper=upper)


def cholesky_solve(input, input2, upper=False, *, out=None):
    from ..linalg.factored_solvers import cholesky_solve as solve
    return solve(input, input2, upper)


def cholesky_inverse(input, upper=False, *, out=None):
    from ..linalg.factored_solvers import cholesky_inverse as inverse_of
    return inverse_of(input, upper)


def lu(A, pivot=True, get_infos=False, out=None):
    """(LU, pivots) or (LU, pivots, infos): the packed factorization (torch.lu, now linalg.lu_factor_ex).

    Like torch.lu, a singular matrix is not an error here (its infos say so); only lu_factor raises."""
    LU, pivots, infos = _linalg().lu_factor_ex(A, pivot=pivot)
    return (LU, pivots, infos) if get_infos else (LU, pivots)


def lu_solve(b, LU_data, LU_pivots, *, out=None):
    return _linalg().lu_solve(LU_data, LU_pivots, b)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    from ..linalg.lu_decomposition import lu_unpack as unpack
    return unpack(LU_data, LU_pivots, unpack_data, unpack_pivots)


def matrix_power(input, n):
    return _linalg().matrix_power(input, n)


def matrix_exp(input):
    return _linalg().matrix_exp(input)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """(solution, cloned_coefficient) with A X = b (A^T X = b for transpose=True)."""
    coefficient = A.mT if transpose else A
    solution = _linalg().solve_triangular(coefficient, b, upper=upper != transpose, unitriangular=unitriangular)
    return _TRIANGULAR_SOLVE(solution, A.clone())


def chain_matmul(*matrices, out=None):
    if len(matrices) == 1:
        return matrices[0].clone() if not isinstance(matrices[0], (list, tuple)) else chain_matmul(*matrices[0])
    return _linalg().multi_dot(matrices)


def vander(x, N=None, increasing=False):
    """Vandermonde matrix of a 1-d x: powers N-1 .. 0 (0 .. N-1 with increasing=True)."""
    if x.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor, got shape {tuple(x.shape)}")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"N must be non-negative, got {n}")
    from . import shape
    if n <= 1:   # linalg.vander needs N > 1; the old function also allows 0 and 1 columns (constant ones)
        return x.detach().new_ones((x.shape[0], n))
    out = _linalg().vander(x, N=n)
    return out if increasing else shape.flip(out, [-1])


def orgqr(input, tau):
    return _linalg().householder_product(input, tau)


def geqrf(input, *, out=None):
    """(a, tau): LAPACK's packed QR (R on and above the diagonal, reflectors below). Not differentiable."""
    from ..linalg.householder import geqrf as packed_qr
    return _GEQRF(*packed_qr(input))


def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    """op(Q) @ other (other @ op(Q) for left=False), Q from geqrf's reflectors, op = conjugate transpose or not."""
    from ..linalg.householder import householder_q
    from .linalg import matmul
    Q = householder_q(input, tau)
    Q = Q.mH if transpose else Q
    if (other.shape[-2] if left else other.shape[-1]) != Q.shape[-1]:
        raise RuntimeError(f"ormqr: other has shape {tuple(other.shape)} but Q is {Q.shape[-1]} by {Q.shape[-1]} "
                           f"(input {tuple(input.shape)}); other needs {Q.shape[-1]} {'rows' if left else 'columns'}")
    return matmul(Q, other) if left else matmul(other, Q)


def svd_lowrank(A, q=6, niter=2, M=None):
    from ..linalg.lowrank import svd_lowrank as lowrank
    return lowrank(A, q, niter, M)


def pca_lowrank(A, q=None, center=True, niter=2):
    from ..linalg.lowrank import pca_lowrank as lowrank
    return lowrank(A, q, center, niter)


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    """(E, X): k extreme eigenpairs of a symmetric A x = e B x by LOBPCG (see ndgrad/linalg/lobpcg.py)."""
    from ..linalg.lobpcg import lobpcg as solve
    return solve(A, k, B, X, n, iK, niter, tol, largest, method, tracker, ortho_iparams, ortho_fparams,
                 ortho_bparams)


def _support_out():
    """PyTorch's out= on the names that take it (ndgrad.linalg's helper, loaded only when out= is used)."""
    import functools
    import inspect

    def with_out(fn):
        @functools.wraps(fn)
        def wrapper(*args, out=None, **kwargs):
            if out is None:
                return fn(*args, **kwargs)
            return _linalg()._common.with_out(fn)(*args, out=out, **kwargs)
        return wrapper

    for name in __all__:
        if "out" in inspect.signature(globals()[name]).parameters:
            globals()[name] = with_out(globals()[name])


_support_out()


def _lu_method(self, pivot=True, get_infos=False):
    return lu(self, pivot, get_infos)


METHODS = {
    "det": det, "logdet": logdet, "slogdet": slogdet, "inverse": inverse, "pinverse": pinverse, "svd": svd,
    "qr": qr, "cholesky": cholesky, "cholesky_solve": cholesky_solve, "cholesky_inverse": cholesky_inverse,
    "lu": _lu_method, "lu_solve": lu_solve, "matrix_power": matrix_power, "matrix_exp": matrix_exp,
    "triangular_solve": triangular_solve, "orgqr": orgqr, "ormqr": ormqr, "geqrf": geqrf,
}

"""Norms and condition numbers: vector_norm, matrix_norm, norm, cond."""
import math

from ..autograd.node import Node
from ..dtypes import to_dtype
from ..ops import elementwise as _ew
from ..ops import reduce as _reduce
from ..ops import shape as _shape
from ._common import check_float, check_matrix, check_square
from .decompositions import svdvals
from .solvers import inv

__all__ = ["vector_norm", "matrix_norm", "norm", "cond"]

_INF = math.inf


def _dims_tuple(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(_shape.normalize_dim(d, ndim, "linalg.vector_norm") for d in dims)


def _cast_input(op, x, dtype):
    if dtype is not None:
        x = _ew.cast(x, to_dtype(dtype))
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {x.dtype.name} "
                           f"(shape {tuple(x.shape)}); convert with .float() or pass dtype=")
    return x


class _CountNonzero(Node):
    """The 0-"norm": in the graph like PyTorch's (requires_grad), with no gradient reaching the input."""
    __slots__ = ("dims", "keepdim")

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        counted = (x != 0).sum(axis=self.dims, keepdims=self.keepdim)
        return self.xp.asarray(counted, dtype=x.dtype)

    def backward(self, grad):
        return None


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The ord-norm of x seen as a vector (all of it, or along ``dim``): sum(|x|^ord)^(1/ord), max, min, count."""
    if x.dtype.is_complex and dtype is None:  # the norm of complex numbers is the norm of their magnitudes
        x = _ew.abs(x)
    x = _cast_input("linalg.vector_norm", x, dtype)
    if isinstance(ord, str) or ord is None:
        raise RuntimeError(f"linalg.vector_norm: ord must be a number (int, float, inf or -inf), got {ord!r}; "
                           f"for 'fro' or 'nuc' use linalg.matrix_norm")
    dims = _dims_tuple(dim, x.ndim)
    if ord in (_INF, -_INF) and x.numel() == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                           f"operation does not have an identity")
    if ord == 0:
        return _CountNonzero(dims, keepdim).apply(x)
    if ord in (1, 2, _INF, -_INF):
        # reduce.norm has the rules PyTorch uses (a zero gradient where the norm is 0, ties of max shared)
        return _reduce.norm(x, float(ord), dims, keepdim)
    return _p_norm(x, float(ord), dims, keepdim)


def _p_norm(x, p, dims, keepdim):
    """(sum |x|^p)^(1/p) with PyTorch's zero gradients where |x|^p or the root have infinite slopes (at 0)."""
    a = x.abs()
    zero = a == 0
    # |0|^p is 0 (p > 0) or inf (p < 0); either way its gradient counts as 0
    powered = _ew.where(zero, 0.0 if p > 0 else _INF, _ew.pow(_ew.where(zero, 1.0, a), p))
    total = _reduce.sum(powered, dims, keepdim)
    if p < 0:
        return _ew.pow(total, 1.0 / p)   # an inf total gives 0, with a zero gradient
    empty = total == 0
    return _ew.where(empty, 0.0, _ew.pow(_ew.where(empty, 1.0, total), 1.0 / p))


def _two_dims(dim, ndim, op):
    if len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {tuple(dim)}")
    d0, d1 = (_shape.normalize_dim(d, ndim, op) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norms: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2 over the two dims ``dim``."""
    op = "linalg.matrix_norm"
    check_matrix(op, A)
    if A.dtype.is_complex and dtype is None and ord in ("fro", 1, -1, _INF, -_INF):
        A = _ew.abs(A)   # these norms only see the magnitudes (2 and 'nuc' take the complex svd)
    A = _cast_input(op, A, dtype)
    d0, d1 = _two_dims(tuple(dim), A.ndim, op)
    if ord == "fro":
        return _reduce.norm(A, 2.0, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        # move the matrix dims last, take the singular values, put size-1 dims back for keepdim
        moved = _shape.movedim(A, (d0, d1), (-2, -1))
        s = svdvals(moved)
        if ord == "nuc":
            result = _reduce.sum(s, -1)
        elif ord == 2:   # the largest singular value; 0 (a constant) for an empty matrix, as in PyTorch
            result = _reduce.amax(s, -1) if s.shape[-1] else _reduce.sum(s.detach(), -1)
        else:
            result = _reduce.amin(s, -1)
        if keepdim:
            for d in sorted((d0, d1)):
                result = _shape.unsqueeze(result, d)
        return result
    if ord in (1, -1, _INF, -_INF):
        # 1: the largest column sum (sum over rows, then the max over columns); inf: rows and columns swapped
        summed_dim, reduced_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = _reduce.sum(A.abs(), summed_dim, True)
        pick = _reduce.amax if ord > 0 else _reduce.amin
        if sums.shape[reduced_dim] == 0 and ord > 0:   # the largest of no sums: 0, a constant in PyTorch
            pick = lambda t, d, k: _reduce.sum(t.detach(), d, k)  # noqa: E731
        result = pick(sums, reduced_dim, True)
        if not keepdim:
            result = _shape.squeeze(_shape.squeeze(result, max(d0, d1)), min(d0, d1))
        return result
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported; use 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """A vector norm (dim an int, or a 1-d input) or a matrix norm (dim a pair, or a 2-d input)."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                       f"{A.ndim}D.")


def cond(A, p=None, *, out=None):
    """Condition number: s_max / s_min for p None/2 (s_min / s_max for -2), else norm(A, p) * norm(inv(A), p)."""
    op = "linalg.cond"
    check_matrix(op, A)
    check_float(op, A, complex_ok=True)
    if p in (None, 2, -2):
        s = svdvals(A)
        if s.shape[-1] == 0:   # an empty matrix: PyTorch says 0 (a constant)
            return _reduce.sum(s.detach(), -1)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    check_square(op, A)
    if A.numel() == 0:
        return _reduce.sum(_reduce.sum(A.detach(), -1), -1)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)

"""Products and functions of matrices: matrix_power, matrix_exp, multi_dot, cross, vecdot, diagonal, vander."""
from ..autograd.node import Node
from ..backend import np
from ..ops import shape as _shape
from ..ops import linalg as _products
from ..ops.linalg import matmul
from ..ops.math_extra import cross as _cross_same_ndim
from ..ops.reduce import cumprod
from ._common import check_float, check_square, eye_like, scipy_linalg
from .solvers import inv

__all__ = ["matrix_power", "matrix_exp", "multi_dot", "cross", "vecdot", "diagonal", "vander", "matmul"]


def matrix_power(A, n, *, out=None):
    """A @ A @ ... (n times) by repeated squaring; n = 0 gives the identity, n < 0 powers of inv(A)."""
    check_square("linalg.matrix_power", A)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if n == 0:
        eye = eye_like(A.shape[-1], A)
        return (A * 0 + eye) if A.requires_grad else eye.expand(*A.shape).clone()
    if n < 0:
        A, n = inv(A), -n
    result, square = None, A
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    return result


class MatrixExp(Node):
    __slots__ = ()

    def forward(self, a):
        xp = self.xp
        if a.size == 0:
            return a.copy()
        expm = getattr(scipy_linalg(xp), "expm", None)
        if xp is np:
            return xp.asarray(expm(a), dtype=a.dtype)
        if expm is None:   # an older cupyx without expm
            return _expm_taylor(xp, a)
        mats = a.reshape((-1,) + a.shape[-2:])   # cupyx: one matrix at a time
        return xp.stack([expm(m) for m in mats]).reshape(a.shape).astype(a.dtype, copy=False)

    def backward(self, grad):
        # The adjoint of the Frechet derivative L(A, .) is L(A^H, .) (A^T for real A), read off the
        # top-right block of exp([[A^H, G], [0, A^H]]); the block exponential is itself differentiable.
        At = self.input(0).mH
        n = At.shape[-1]
        zeros = At * 0
        block = _shape.cat([_shape.cat([At, grad], -1), _shape.cat([zeros, At], -1)], -2)
        return matrix_exp(block)[..., :n, n:]


def _expm_taylor(xp, a, terms=18):
    """exp(a) by scaling and squaring around a Taylor polynomial (batched, any backend)."""
    norms = xp.abs(a).sum(axis=-2).max(axis=-1)          # the 1-norm of each matrix
    top = float(norms.max()) if norms.size else 0.0
    squarings = max(0, int(np.ceil(np.log2(top / 0.5)))) if top > 0.5 else 0
    scaled = a / (2.0 ** squarings)
    eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    result = eye
    for k in range(terms, 0, -1):   # Horner: I + x/1 (I + x/2 (I + ...))
        result = eye + xp.matmul(scaled, result) / k
    for _ in range(squarings):
        result = xp.matmul(result, result)
    return result.astype(a.dtype, copy=False)


def matrix_exp(A):
    """The matrix exponential exp(A) = sum A^k / k! (SciPy's expm on the CPU, cupyx on the GPU)."""
    check_square("linalg.matrix_exp", A)
    check_float("linalg.matrix_exp", A, complex_ok=True)
    return MatrixExp().apply(A)


def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices; the first may be a row vector and the last a column vector."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0], tensors[-1]
    if first.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first.ndim}D")
    if last.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.ndim}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    mats = [_shape.unsqueeze(first, 0) if first.ndim == 1 else first] + tensors[1:-1] + \
        [_shape.unsqueeze(last, 1) if last.ndim == 1 else last]
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {tuple(tensors[i].shape)} and "
                               f"{tuple(tensors[i + 1].shape)} cannot be multiplied")
    result = _chain(mats, _best_order([m.shape[0] for m in mats] + [mats[-1].shape[1]]), 0, len(mats) - 1)
    if last.ndim == 1:
        result = _shape.squeeze(result, 1)
    if first.ndim == 1:
        result = _shape.squeeze(result, 0)
    return result


def _best_order(dims):
    """split[i][j]: where to split the product of matrices i..j (the classic matrix-chain recursion)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return matmul(_chain(mats, split, i, k), _chain(mats, split, k + 1, j))


def cross(input, other, *, dim=-1, out=None):
    """Cross product of 3-vectors along ``dim`` (default the last), broadcasting the other dims."""
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions (got shapes "
                           f"{tuple(input.shape)} and {tuple(other.shape)}); unsqueeze the smaller one first")
    a, b = _shape.broadcast_tensors(input, other)
    if a.ndim == 0 or not -a.ndim <= dim < a.ndim:
        raise IndexError(f"linalg.cross: dim {dim} out of range for tensors of shape {tuple(a.shape)}")
    if a.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and "
                           f"{other.shape[dim]}")
    return _cross_same_ndim(a, b, dim)


def vecdot(x, y, *, dim=-1, out=None):
    """Dot products of x and y along ``dim``, broadcasting the rest."""
    return _products.vecdot(x, y, dim=dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of each matrix of the batch (a view), by default over the last two dims."""
    return _shape.diagonal(A, offset, dim1, dim2)


def vander(x, *, N=None):
    """Vandermonde matrix with increasing powers: out[..., i, j] = x[..., i] ** j for j < N."""
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension, got a 0-d tensor")
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError(f"N must be greater than 1. Got N = {n}")
    ones = _shape.unsqueeze(x * 0 + 1, -1)
    repeated = _shape.unsqueeze(x, -1).expand(*x.shape, n - 1)
    return _shape.cat([ones, cumprod(repeated, -1)], -1)

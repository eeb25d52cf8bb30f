"""The standard's ``linalg`` extension on ``ndgrad.linalg``: standard argument names (``axis``, ``keepdims``,
``offset``, ``rtol``), named-tuple results, ``solve`` that treats only a 1-d ``x2`` as a vector."""
from collections import namedtuple

import ndgrad as _nd
from ndgrad import linalg as _la

from ._helpers import check_array
from ._manipulation import _common, matmul, matrix_transpose, tensordot, vecdot
from ._reductions import sum as _sum

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
           "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve", "svd",
           "svdvals", "tensordot", "trace", "vecdot", "vector_norm"]

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def cholesky(x, /, *, upper=False):
    return _la.cholesky(check_array(x, "cholesky"), upper=upper)


def cross(x1, x2, /, *, axis=-1):
    a, b = _nd.broadcast_tensors(*_common([x1, x2], "cross"))  # the standard broadcasts the other axes
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ValueError(f"cross: axis {axis} must have size 3 in both arrays, got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return _la.cross(a, b, dim=axis)


def det(x, /):
    return _la.det(check_array(x, "det"))


def diagonal(x, /, *, offset=0):
    return _la.diagonal(check_array(x, "diagonal"), offset=offset)


def eigh(x, /):
    w, v = _la.eigh(check_array(x, "eigh"))
    return EighResult(w, v)


def eigvalsh(x, /):
    return _la.eigvalsh(check_array(x, "eigvalsh"))


def inv(x, /):
    return _la.inv(check_array(x, "inv"))


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return _la.matrix_norm(check_array(x, "matrix_norm"), ord=ord, keepdim=keepdims)


def matrix_power(x, n, /):
    return _la.matrix_power(check_array(x, "matrix_power"), n)


def matrix_rank(x, /, *, rtol=None):
    return _la.matrix_rank(check_array(x, "matrix_rank"), rtol=rtol)


def outer(x1, x2, /):
    a, b = _common([x1, x2], "outer")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two 1-d arrays, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return _nd.outer(a, b)


def pinv(x, /, *, rtol=None):
    return _la.pinv(check_array(x, "pinv"), rtol=rtol)


def qr(x, /, *, mode="reduced"):
    q, r = _la.qr(check_array(x, "qr"), mode=mode)
    return QRResult(q, r)


def slogdet(x, /):
    sign, logabsdet = _la.slogdet(check_array(x, "slogdet"))
    return SlogdetResult(sign, logabsdet)


def solve(x1, x2, /):
    a, b = _common([x1, x2], "solve")
    if b.ndim == 1:  # only a 1-d right-hand side is a vector in the standard (PyTorch also batches vectors)
        return _la.solve(a, b.unsqueeze(-1)).squeeze(-1)
    return _la.solve(a, b)


def svd(x, /, *, full_matrices=True):
    u, s, vh = _la.svd(check_array(x, "svd"), full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x, /):
    return _la.svdvals(check_array(x, "svdvals"))


def trace(x, /, *, offset=0, dtype=None):
    x = check_array(x, "trace")
    return _sum(_nd.diagonal(x, offset, -2, -1), axis=-1, dtype=dtype)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    x = check_array(x, "vector_norm")
    return _la.vector_norm(x, ord=ord, dim=axis, keepdim=keepdims)

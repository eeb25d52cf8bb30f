"""The standard's ``linalg`` extension on ``ndgrad.linalg``: standard argument names (``axis``, ``keepdims``,
``offset``, ``rtol``), named-tuple results, ``solve`` that treats only a 1-d ``x2`` as a vector."""
from collections import namedtuple

import ndgrad as _nd
from ndgrad import linalg as _la

from . import _complex_linalg as _cl
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
    x = check_array(x, "cholesky")
    return _cl.cholesky(x, upper) if _cl.is_complex(x) else _la.cholesky(x, upper=upper)


def cross(x1, x2, /, *, axis=-1):
    a, b = _nd.broadcast_tensors(*_common([x1, x2], "cross"))  # the standard broadcasts the other axes
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ValueError(f"cross: axis {axis} must have size 3 in both arrays, got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return _la.cross(a, b, dim=axis)


def det(x, /):
    x = check_array(x, "det")
    return _cl.det(x) if _cl.is_complex(x) else _la.det(x)


def diagonal(x, /, *, offset=0):
    return _la.diagonal(check_array(x, "diagonal"), offset=offset)


def eigh(x, /):
    x = check_array(x, "eigh")
    w, v = _cl.eigh(x) if _cl.is_complex(x) else _la.eigh(x)
    return EighResult(w, v)


def eigvalsh(x, /):
    x = check_array(x, "eigvalsh")
    return _cl.eigvalsh(x) if _cl.is_complex(x) else _la.eigvalsh(x)


def inv(x, /):
    x = check_array(x, "inv")
    return _cl.inv(x) if _cl.is_complex(x) else _la.inv(x)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    x = check_array(x, "matrix_norm")
    if _cl.is_complex(x):
        return _cl.matrix_norm(x, keepdims, ord)
    return _la.matrix_norm(x, ord=ord, keepdim=keepdims)


def matrix_power(x, n, /):
    x = check_array(x, "matrix_power")
    return _cl.matrix_power(x, n) if _cl.is_complex(x) else _la.matrix_power(x, n)


def matrix_rank(x, /, *, rtol=None):
    x = check_array(x, "matrix_rank")
    return _cl.matrix_rank(x, rtol) if _cl.is_complex(x) else _la.matrix_rank(x, rtol=rtol)


def outer(x1, x2, /):
    a, b = _common([x1, x2], "outer")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two 1-d arrays, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return _nd.outer(a, b)


def pinv(x, /, *, rtol=None):
    x = check_array(x, "pinv")
    return _cl.pinv(x, rtol) if _cl.is_complex(x) else _la.pinv(x, rtol=rtol)


def qr(x, /, *, mode="reduced"):
    x = check_array(x, "qr")
    q, r = _cl.qr(x, mode) if _cl.is_complex(x) else _la.qr(x, mode=mode)
    return QRResult(q, r)


def slogdet(x, /):
    x = check_array(x, "slogdet")
    sign, logabsdet = _cl.slogdet(x) if _cl.is_complex(x) else _la.slogdet(x)
    return SlogdetResult(sign, logabsdet)


def solve(x1, x2, /):
    a, b = _common([x1, x2], "solve")
    solver = _cl.solve if _cl.is_complex(a) else _la.solve
    if b.ndim == 1:  # only a 1-d right-hand side is a vector in the standard (PyTorch also batches vectors)
        return solver(a, b.unsqueeze(-1)).squeeze(-1)
    return solver(a, b)


def svd(x, /, *, full_matrices=True):
    x = check_array(x, "svd")
    u, s, vh = _cl.svd(x, full_matrices) if _cl.is_complex(x) else _la.svd(x, full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x, /):
    x = check_array(x, "svdvals")
    return _cl.svdvals(x) if _cl.is_complex(x) else _la.svdvals(x)


def trace(x, /, *, offset=0, dtype=None):
    x = check_array(x, "trace")
    return _sum(_nd.diagonal(x, offset, -2, -1), axis=-1, dtype=dtype)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    x = check_array(x, "vector_norm")
    if isinstance(axis, tuple) and not axis:  # no axis to reduce: each element is its own vector
        size = _nd.abs(x)
        return (size != 0).to(size.dtype) if ord == 0 else size
    return _la.vector_norm(x, ord=ord, dim=axis, keepdim=keepdims)

"""``linalg`` on complex arrays, computed by the backend (NumPy/CuPy) on raw arrays.

``ndgrad.linalg`` works on real floating-point tensors only, while the standard asks its linalg functions to
take complex ones too. For complex input these versions answer instead: same results, no gradient.
"""
from .. import dtypes as _dt
from ..tensor import Tensor


def is_complex(*arrays):
    return any(isinstance(a, Tensor) and a.dtype.is_complex for a in arrays)


def _wrap(array, like):
    return Tensor._wrap(array, like.device)


def _swap(a):
    return a.swapaxes(-1, -2)


def _conj_t(a):
    return _swap(a).conj()


def _svdvals(x):
    return x.xp.linalg.svd(x._data, compute_uv=False) if x._data.size else \
        x.xp.zeros(x.shape[:-2] + (min(x.shape[-2:]),), dtype=x.dtype.to_real().np)


def _cutoff(x, s, rtol):
    """Singular values above this count (the standard's default rtol: max(M, N) * eps)."""
    xp = x.xp
    if rtol is None:
        rtol = max(x.shape[-2:]) * float(xp.finfo(x.dtype.to_real().np).eps)
    rtol = rtol._data[..., None] if isinstance(rtol, Tensor) else rtol
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
    return rtol * smax


def cholesky(x, upper):
    xp = x.xp
    low = xp.linalg.cholesky(x._data) if x._data.size else x._data.copy()
    return _wrap(_conj_t(low).copy() if upper else low, x)


def det(x):
    xp = x.xp
    if not x._data.size:  # the determinant of a 0 x 0 matrix is 1
        return _wrap(xp.ones(x.shape[:-2], dtype=x.dtype.np), x)
    return _wrap(xp.linalg.det(x._data).astype(x.dtype.np, copy=False), x)


def slogdet(x):
    xp = x.xp
    sign, logabs = xp.linalg.slogdet(x._data)
    return (_wrap(xp.asarray(sign, dtype=x.dtype.np), x),
            _wrap(xp.asarray(logabs, dtype=x.dtype.to_real().np), x))


def eigh(x):
    w, v = x.xp.linalg.eigh(x._data)
    return _wrap(w, x), _wrap(v, x)


def eigvalsh(x):
    return _wrap(x.xp.linalg.eigvalsh(x._data), x)


def inv(x):
    return _wrap(x.xp.linalg.inv(x._data) if x._data.size else x._data.copy(), x)


def matrix_power(x, n):
    return _wrap(x.xp.linalg.matrix_power(x._data, n), x)


def matrix_norm(x, keepdims, ord):
    xp = x.xp
    real = x.dtype.to_real().np
    if not x._data.size:
        shape = x.shape[:-2] + ((1, 1) if keepdims else ())
        return _wrap(xp.zeros(shape, dtype=real), x)
    out = xp.linalg.norm(x._data, ord=ord, axis=(-2, -1), keepdims=keepdims)
    return _wrap(xp.asarray(out, dtype=real), x)


def matrix_rank(x, rtol):
    s = _svdvals(x)
    return _wrap((s > _cutoff(x, s, rtol)).sum(axis=-1).astype(_dt.int64.np), x)


def pinv(x, rtol):
    xp = x.xp
    m, n = x.shape[-2:]
    if not x._data.size:
        return _wrap(xp.zeros(x.shape[:-2] + (n, m), dtype=x.dtype.np), x)
    u, s, vh = xp.linalg.svd(x._data, full_matrices=False)
    keep = s > _cutoff(x, s, rtol)
    s_inv = xp.where(keep, 1 / xp.where(keep, s, 1), 0).astype(s.dtype)
    return _wrap((_conj_t(vh) * s_inv[..., None, :]) @ _conj_t(u), x)


def qr(x, mode):
    q, r = x.xp.linalg.qr(x._data, mode=mode)
    return _wrap(q, x), _wrap(r, x)


def solve(a, b):
    """``a x = b`` for a matrix ``b`` (the caller makes a 1-d right-hand side a column)."""
    xp = a.xp
    if not a._data.size or not b._data.size:
        shape = tuple(xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])) + (a.shape[-1], b.shape[-1])
        return _wrap(xp.zeros(shape, dtype=a.dtype.np), a)
    return _wrap(xp.linalg.solve(a._data, b._data), a)


def svd(x, full_matrices):
    xp = x.xp
    if not x._data.size:
        m, n = x.shape[-2:]
        k = min(m, n)
        batch = x.shape[:-2]
        um, vn = (m, n) if full_matrices else (k, k)
        eye_u = xp.broadcast_to(xp.eye(m, um, dtype=x.dtype.np), batch + (m, um)).copy()
        eye_v = xp.broadcast_to(xp.eye(vn, n, dtype=x.dtype.np), batch + (vn, n)).copy()
        return _wrap(eye_u, x), _wrap(_svdvals(x), x), _wrap(eye_v, x)
    u, s, vh = xp.linalg.svd(x._data, full_matrices=full_matrices)
    return _wrap(u, x), _wrap(s, x), _wrap(vh, x)


def svdvals(x):
    return _wrap(_svdvals(x), x)

"""Array kernels that NumPy and CuPy lack, written once against either namespace.

Convolution is im2col + one matrix product. ``im2col`` lays the receptive
fields of an N-d input out as a (channels * kernel, positions * batch) matrix
through a strided view (no Python loop over positions); ``col2im`` is its
adjoint, a sum over the kernel offsets (one vectorised add per offset).
Pooling uses the same strided windows.
"""
import math
import threading

import numpy as np

__all__ = ["as_strided", "pad_constant", "windows", "batch_last", "im2col", "col2im", "erf", "output_size",
           "put_along_axis", "add_at", "normal_cdf"]


def as_strided(xp, a, shape, strides):
    """A strided view of ``a`` (numpy or cupy)."""
    return xp.lib.stride_tricks.as_strided(a, shape=tuple(shape), strides=tuple(strides))


def pad_constant(xp, a, pads, value=0.0):
    """Pad the trailing ``len(pads)`` dims of ``a`` by ``(before, after)`` pairs with ``value``.

    A pair may be negative (crop). Faster than ``xp.pad``: one allocation and
    one copy.
    """
    lead = a.ndim - len(pads)
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return a
    shape = a.shape[:lead] + tuple(n + lo + hi for n, (lo, hi) in zip(a.shape[lead:], pads))
    out = xp.full(shape, value, dtype=a.dtype) if value != 0 else xp.zeros(shape, dtype=a.dtype)
    dst = [slice(None)] * lead
    src = [slice(None)] * lead
    for n, (lo, hi) in zip(a.shape[lead:], pads):
        dst.append(slice(max(lo, 0), max(lo, 0) + n + min(lo, 0) + min(hi, 0)))
        src.append(slice(max(-lo, 0), n - max(-hi, 0)))
    out[tuple(dst)] = a[tuple(src)]
    return out


def output_size(size, kernel, stride, pad_before, pad_after, dilation, ceil_mode=False):
    """Output length of a sliding window: PyTorch's formula, including ceil_mode's last-window rule."""
    room = size + pad_before + pad_after - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = room // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad_before:
        out -= 1   # the last window must start inside the input or its left padding
    return out


def windows(xp, a, kernel, stride, dilation, out_shape):
    """Strided view ``(*lead, *out_shape, *kernel)`` of the windows over the trailing dims of ``a``."""
    nd = len(kernel)
    lead = a.ndim - nd
    st = a.strides
    shape = a.shape[:lead] + tuple(out_shape) + tuple(kernel)
    strides = (st[:lead] + tuple(st[lead + i] * stride[i] for i in range(nd))
               + tuple(st[lead + i] * dilation[i] for i in range(nd)))
    return as_strided(xp, a, shape, strides)


def batch_last(xp, x, pads):
    """(N, C, *spatial) -> a C-contiguous (C, *padded_spatial, N) array, zero-padded by ``(before, after)`` pairs.

    This "batch-last" memory order is the layout convolution works in: an
    (N, C, ...) array whose memory already has it (a convolution's output) is
    used as it is when no padding is needed; anything else costs one copy of
    the input (about 1/prod(kernel) of the im2col copy).
    """
    nd = x.ndim - 2
    a = x.transpose((1,) + tuple(range(2, 2 + nd)) + (0,))
    if not any(lo or hi for lo, hi in pads):
        return a if a.flags.c_contiguous else xp.ascontiguousarray(a)
    shape = (a.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(a.shape[1:-1], pads)) + (a.shape[-1],)
    out = xp.zeros(shape, dtype=a.dtype)
    out[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(a.shape[1:-1], pads))] = a
    return out


_SCRATCH_LIMIT = 512 * 2 ** 20   # bytes: larger temporaries are allocated afresh each time
_scratch = threading.local()


def scratch_array(xp, shape, dtype):
    """An uninitialised array for a temporary that is dead before the next call (one per thread, backend
    and dtype, grown as needed): large fresh allocations page-fault on every first touch, which costs
    more than the copy that fills them."""
    size = math.prod(shape)
    dtype = np.dtype(dtype)
    if size * dtype.itemsize > _SCRATCH_LIMIT:
        return xp.empty(shape, dtype=dtype)
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    key = (xp.__name__, dtype.str)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = xp.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


def im2col(xp, a, kernel, stride, dilation, out_shape, scratch=False):
    """Columns ``(C * prod(kernel), prod(out_shape) * N)`` of a padded batch-last ``(C, *spatial, N)`` array.

    Rows are ordered (channel, kernel offsets), matching a weight reshaped to
    ``(out_channels, C * prod(kernel))``; columns are ordered (position, batch).
    The convolution is ONE matrix product ``W @ cols`` for the whole batch (a
    loop of per-sample products is several times slower in BLAS), and its
    result is the output in the same batch-last order. Batch-last makes the
    strided copy move long contiguous runs (out_width * N elements at stride 1)
    instead of rows of out_width elements.
    """
    nd = len(kernel)
    st = a.strides
    c, n = a.shape[0], a.shape[-1]
    shape = (c,) + tuple(kernel) + tuple(out_shape) + (n,)
    strides = (st[0],) + tuple(st[1 + i] * dilation[i] for i in range(nd)) \
        + tuple(st[1 + i] * stride[i] for i in range(nd)) + (st[-1],)
    cols = scratch_array(xp, shape, a.dtype) if scratch else xp.empty(shape, dtype=a.dtype)
    cols[...] = as_strided(xp, a, shape, strides)   # the one strided copy; the reshape below is free
    return cols.reshape(c * math.prod(kernel), math.prod(out_shape) * n)


def col2im(xp, cols, padded_shape, kernel, stride, dilation, out_shape, out=None, first=0):
    """Adjoint of ``im2col``: sum columns into a zero batch-last array of ``padded_shape`` = (C, *spatial, N).

    ``cols`` may hold only the output positions ``first .. first + out_shape[0] - 1`` of the first spatial
    dim (``out_shape`` is then that slab's shape): they are summed into ``out``, so a caller can build the
    columns slab by slab and never hold all of them at once.
    """
    nd = len(kernel)
    c, n = padded_shape[0], padded_shape[-1]
    cols = cols.reshape((c,) + tuple(kernel) + tuple(out_shape) + (n,))
    if out is None:
        out = xp.zeros(padded_shape, dtype=cols.dtype)
    starts = (first * stride[0],) + (0,) * (nd - 1)
    for offset in np.ndindex(*kernel):
        dst = (slice(None),) + tuple(
            slice(starts[i] + offset[i] * dilation[i],
                  starts[i] + offset[i] * dilation[i] + stride[i] * (out_shape[i] - 1) + 1, stride[i])
            for i in range(nd))
        out[dst] += cols[(slice(None),) + offset]
    return out


def put_along_axis(xp, arr, indices, values, axis):
    """``arr[..., indices, ...] = values`` along ``axis`` (numpy's put_along_axis; a fancy-index fallback)."""
    if hasattr(xp, "put_along_axis"):
        xp.put_along_axis(arr, indices, values, axis)
        return
    axis %= arr.ndim
    index = list(xp.ix_(*[xp.arange(n) for n in indices.shape]))
    index[axis] = indices
    arr[tuple(index)] = values


def add_at(xp, out, index, values):
    """Unbuffered ``out[index] += values`` (repeated indices accumulate)."""
    if xp is np:
        if _rows_by_sorting(out, index, values):
            return
        np.add.at(out, index, values)
        return
    try:
        xp.add.at(out, index, values)
    except (AttributeError, NotImplementedError, TypeError):
        import cupyx
        cupyx.scatter_add(out, index, values)


_erf_impl = {}


# erf(x) = x * P(x^2) / Q(x^2) on [-4, 4] (and +-1 beyond): a rational minimax fit for float32, the one
# Eigen and XLA use, accurate to a few float32 ulps (max abs error 5e-7). NumPy has no erf, and SciPy's
# float32 loop is ~30x slower than a multiply (it works in double through a scalar loop).
_ERF32_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
            -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_ERF32_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
            -1.42647390514189e-02)


def _rational_float32(a, p_coeffs, q_coeffs, limit):
    """clip(a) * P(clip(a)^2) / Q(clip(a)^2) for a float32 NumPy array, Horner in a few in-place passes."""
    x = np.clip(a, -limit, limit)
    x2 = x * x
    p = x2 * np.float32(p_coeffs[0])
    for i, c in enumerate(p_coeffs[1:], 2):
        p += np.float32(c)
        if i < len(p_coeffs):
            p *= x2
    q = x2 * np.float32(q_coeffs[0])
    for i, c in enumerate(q_coeffs[1:], 2):
        q += np.float32(c)
        if i < len(q_coeffs):
            q *= x2
    p *= x
    p /= q
    return p


def _erf_float32(a):
    """erf of a float32 NumPy array by the rational fit above."""
    return _rational_float32(a, _ERF32_P, _ERF32_Q, 4.0)


def _scaled_for_normal_cdf(coeffs, factor=1.0):
    """Coefficients of c(u) in u = x^2 / 2 rewritten in x^2 (highest power first), times ``factor``."""
    top = len(coeffs) - 1
    return tuple(c / 2.0 ** (top - i) * factor for i, c in enumerate(coeffs))


# Phi(x) - 1/2 = erf(x / sqrt 2) / 2 = x * P'(x^2) / Q'(x^2): the same fit with the 1/sqrt(2) and the 1/2
# folded into the coefficients, which saves GELU three passes over its input.
_PHI32_P = _scaled_for_normal_cdf(_ERF32_P, 0.5 / math.sqrt(2.0))
_PHI32_Q = _scaled_for_normal_cdf(_ERF32_Q)


def normal_cdf(xp, a):
    """Phi(a), the standard normal CDF, elementwise (GELU's gate): float32 accuracy in float32."""
    if xp is np and a.dtype == np.float32 and a.ndim:
        cdf = _rational_float32(a, _PHI32_P, _PHI32_Q, 4.0 * math.sqrt(2.0))
    else:
        cdf = erf(xp, a / math.sqrt(2.0))
        cdf *= 0.5
    cdf += 0.5
    return cdf


def erf(xp, a):
    """The error function, elementwise: full accuracy in float64, float32 accuracy in float32."""
    if xp is np and a.dtype == np.float32 and a.ndim:
        return _erf_float32(a)
    impl = _erf_impl.get(xp)
    if impl is None:
        impl = _erf_impl[xp] = _find_erf(xp)
    if a.dtype.itemsize == 2 and a.dtype.kind in "fV":  # float16/bfloat16: no loop of their own in SciPy
        return xp.asarray(impl(a.astype(np.float32))).astype(a.dtype)
    return xp.asarray(impl(a)).astype(a.dtype, copy=False)  # keep the input's dtype (and 0-d arrays)


def _find_erf(xp):
    if xp is not np:
        from cupyx.scipy.special import erf as cupy_erf
        return cupy_erf
    try:
        from scipy.special import erf as scipy_erf
        return scipy_erf
    except ImportError:   # SciPy is optional: fall back to math.erf, exact but elementwise in Python
        scalar = np.vectorize(math.erf, otypes=[np.float64])
        return lambda a: scalar(a).astype(a.dtype, copy=False)


def _rows_by_sorting(out, index, values):
    """``out[index] += values`` for a 1-D integer ``index`` of whole rows (an embedding's gradient): the
    rows sorted by index and each run summed with one ``add.reduceat``, 1.3-6x faster than ``np.add.at``,
    which adds row by row. False (nothing done) for any other kind of index."""
    if not (isinstance(index, np.ndarray) and index.ndim == 1 and index.dtype.kind in "iu" and index.size
            and isinstance(values, np.ndarray) and values.dtype.kind in "iufc" and values.ndim == out.ndim
            and out.ndim >= 2
            and values.shape == (index.size,) + out.shape[1:]):
        return False
    index = np.where(index < 0, index + out.shape[0], index) if index.dtype.kind == "i" else index
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    out[ordered[starts]] += np.add.reduceat(values[order], starts, axis=0)
    return True


def scatter_add(xp, target, index, values):
    """``target[index] += values`` in place, where repeated indices accumulate (unlike ``+=``); returns
    ``target``. ``index`` is anything that indexes ``target`` (ints, slices, integer arrays)."""
    add_at(xp, target, index, values)
    return target
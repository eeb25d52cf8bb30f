"""Array kernels that NumPy and CuPy lack, written once against either namespace.

Convolution is im2col + one matrix product. ``im2col`` lays the receptive
fields of an N-d input out as a (batch, channels * kernel, positions) matrix
through a strided view (no Python loop over positions); ``col2im`` is its
adjoint, a sum over the kernel offsets (one vectorised add per offset).
Pooling uses the same strided windows.
"""
import math

import numpy as np

__all__ = ["as_strided", "pad_constant", "windows", "im2col", "col2im", "erf", "output_size"]


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


def im2col(xp, a, kernel, stride, dilation, out_shape):
    """Columns ``(C * prod(kernel), N * prod(out_shape))`` of an (already padded) ``(N, C, *spatial)`` input.

    Rows are ordered (channel, kernel offsets), matching a weight reshaped to
    ``(out_channels, C * prod(kernel))``; columns are ordered (batch, position).
    The convolution is then ONE matrix product ``W @ cols`` of shape
    (out_channels, N * positions) for the whole batch (a loop of small
    per-sample products is several times slower in BLAS). Its result is the
    output in (C, N, *spatial) memory order, handed on as an (N, C, ...) view.
    """
    nd = len(kernel)
    st = a.strides
    n, c = a.shape[:2]
    shape = (c,) + tuple(kernel) + (n,) + tuple(out_shape)
    strides = (st[1],) + tuple(st[2 + i] * dilation[i] for i in range(nd)) + (st[0],) \
        + tuple(st[2 + i] * stride[i] for i in range(nd))
    cols = xp.empty(shape, dtype=a.dtype)
    cols[...] = as_strided(xp, a, shape, strides)   # the one strided copy; the reshape below is free
    return cols.reshape(c * math.prod(kernel), n * math.prod(out_shape))


def col2im(xp, cols, padded_shape, kernel, stride, dilation, out_shape):
    """Adjoint of ``im2col``: sum columns ``(C*prod(kernel), N*L)`` into a zero array of ``padded_shape``.

    The result is an (N, C, *spatial) view of a (C, N, *spatial) buffer.
    """
    nd = len(kernel)
    n, c = padded_shape[:2]
    cols = cols.reshape((c,) + tuple(kernel) + (n,) + tuple(out_shape))
    out = xp.zeros((c, n) + tuple(padded_shape[2:]), dtype=cols.dtype)
    for offset in np.ndindex(*kernel):
        dst = (slice(None), slice(None)) + tuple(
            slice(offset[i] * dilation[i], offset[i] * dilation[i] + stride[i] * (out_shape[i] - 1) + 1, stride[i])
            for i in range(nd))
        out[dst] += cols[(slice(None),) + offset]
    return out.swapaxes(0, 1)


_erf_impl = {}


def erf(xp, a):
    """The error function, elementwise, to full floating-point accuracy on either backend."""
    impl = _erf_impl.get(xp)
    if impl is None:
        impl = _erf_impl[xp] = _find_erf(xp)
    return impl(a)


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


def scatter_add(xp, target, index, values):
    """``target[index] += values`` in place, where repeated indices accumulate (unlike ``+=``).

    ``index`` is anything that indexes ``target`` (ints, slices, integer arrays);
    numpy uses ``np.add.at``, cupy its atomic ``cupyx.scatter_add``.
    """
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target

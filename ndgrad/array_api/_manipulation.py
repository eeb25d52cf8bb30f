"""Manipulation, indexing and linear-algebra functions of the standard: ``concat(axis=None)``, ``squeeze``
that refuses dimensions of size other than 1, ``repeat``, ``take``, ``matrix_transpose``, ``tensordot(axes=)``,
``vecdot``; arrays of different dtypes are promoted by the standard's table first."""
import ndgrad as _nd

from ._dtypes import promote
from ._helpers import check_array, normalize_axes, normalize_axis, operands

__all__ = ["broadcast_arrays", "broadcast_to", "concat", "expand_dims", "flip", "moveaxis", "permute_dims",
           "repeat", "reshape", "roll", "squeeze", "stack", "tile", "unstack", "take", "take_along_axis",
           "matmul", "matrix_transpose", "tensordot", "vecdot"]


def _common(arrays, op):
    arrays = [check_array(a, op) for a in arrays]
    if not arrays:
        raise ValueError(f"{op}: expected at least one array")
    d = arrays[0].dtype
    for a in arrays[1:]:
        d = promote(d, a.dtype)
    return [a if a.dtype is d else a.to(d) for a in arrays]


def broadcast_arrays(*arrays):
    return list(_nd.broadcast_tensors(*arrays))


def broadcast_to(x, /, shape):
    x = check_array(x, "broadcast_to")
    return _nd.broadcast_to(x, tuple(shape))


def concat(arrays, /, *, axis=0):
    arrays = _common(arrays, "concat")
    if axis is None:
        return _nd.cat([a.reshape(-1) for a in arrays])
    if arrays[0].ndim == 0:
        raise ValueError("concat: 0-d arrays cannot be concatenated; use stack")
    return _nd.cat(arrays, normalize_axis(axis, arrays[0].ndim, "concat"))


def stack(arrays, /, *, axis=0):
    arrays = _common(arrays, "stack")
    return _nd.stack(arrays, normalize_axis(axis, arrays[0].ndim + 1, "stack"))


def unstack(x, /, *, axis=0):
    x = check_array(x, "unstack")
    if x.ndim == 0:
        raise ValueError("unstack: a 0-d array has no axis to unstack along")
    return tuple(_nd.unbind(x, normalize_axis(axis, x.ndim, "unstack")))


def expand_dims(x, /, axis=0):
    x = check_array(x, "expand_dims")
    return x.unsqueeze(normalize_axis(axis, x.ndim + 1, "expand_dims"))


def flip(x, /, *, axis=None):
    x = check_array(x, "flip")
    axes = normalize_axes(axis, x.ndim, "flip")
    return _nd.flip(x, axes) if axes else x.clone()


def moveaxis(x, source, destination, /):
    return _nd.moveaxis(check_array(x, "moveaxis"), source, destination)


def permute_dims(x, /, axes):
    x = check_array(x, "permute_dims")
    axes = tuple(axes)
    if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute_dims: axes {axes} are not a permutation of the {x.ndim} dimensions")
    return x.permute(*axes)


def reshape(x, /, shape, *, copy=None):
    x = check_array(x, "reshape")
    shape = tuple(shape)
    if copy:
        return x.reshape(shape).clone()
    if copy is False:
        try:
            return x.view(shape)
        except RuntimeError as exc:  # the standard's error for "this would need a copy"
            raise ValueError(f"reshape: copy=False but shape {tuple(x.shape)} with strides {x.stride()} cannot "
                             f"be viewed as {shape} without a copy ({exc})") from None
    return x.reshape(shape)


def roll(x, /, shift, *, axis=None):
    x = check_array(x, "roll")
    if axis is None:
        return _nd.roll(x.reshape(-1), shift if isinstance(shift, int) else tuple(shift)).reshape(x.shape)
    return _nd.roll(x, shift if isinstance(shift, int) else tuple(shift), axis if isinstance(axis, int)
                    else tuple(axis))


def squeeze(x, /, axis):
    x = check_array(x, "squeeze")
    axes = normalize_axes(axis, x.ndim, "squeeze")
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {tuple(x.shape)})")
    keep = [n for i, n in enumerate(x.shape) if i not in axes]
    return x.reshape(tuple(keep))


def tile(x, repetitions, /):
    return _nd.tile(check_array(x, "tile"), tuple(repetitions))


def repeat(x, repeats, /, *, axis=None):
    x = check_array(x, "repeat")
    if axis is None:
        x, axis = x.reshape(-1), 0
    return _nd.repeat_interleave(x, repeats, dim=normalize_axis(axis, x.ndim, "repeat"))


def take(x, indices, /, *, axis=None):
    x = check_array(x, "take")
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take: axis is required for a {x.ndim}-d array")
        axis = 0
    axis = normalize_axis(axis, x.ndim, "take")
    indices = check_array(indices, "take")
    indices = _nd.where(indices < 0, indices + x.shape[axis], indices)
    return _nd.index_select(x, axis, indices)


def take_along_axis(x, indices, /, *, axis=-1):
    x = check_array(x, "take_along_axis")
    indices = check_array(indices, "take_along_axis")
    axis = normalize_axis(axis, x.ndim, "take_along_axis")
    indices = _nd.where(indices < 0, indices + x.shape[axis], indices)
    return _nd.take_along_dim(x, indices, axis)


def matmul(x1, x2, /):
    a, b = _common([x1, x2], "matmul")
    return _nd.matmul(a, b)


def matrix_transpose(x, /):
    x = check_array(x, "matrix_transpose")
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: expected an array of at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    return x.transpose(-2, -1)


def tensordot(x1, x2, /, *, axes=2):
    a, b = _common([x1, x2], "tensordot")
    if not isinstance(axes, int):
        axes = tuple(list(ax) for ax in axes)
    return _nd.tensordot(a, b, dims=axes)


def vecdot(x1, x2, /, *, axis=-1):
    a, b = operands("vecdot", check_array(x1, "vecdot"), check_array(x2, "vecdot"))
    shape = _nd.broadcast_shapes(a.shape, b.shape)
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"vecdot: axis {axis} is out of range for broadcast shape {tuple(shape)}")
    if axis >= 0:  # the standard counts a non-negative axis after broadcasting; negative ones from the end
        axis -= len(shape)
    if a.shape[axis] != b.shape[axis] if min(a.ndim, b.ndim) >= -axis else False:
        raise ValueError(f"vecdot: sizes {a.shape[axis]} and {b.shape[axis]} differ along axis {axis}")
    if a.dtype.is_complex:  # the standard conjugates the first vector
        a = _nd.conj_physical(a)
    return (a * b).sum(axis, dtype=a.dtype)  # integers keep their dtype (PyTorch's sum would widen)

"""Creation functions with the standard's signatures: ``shape`` as an int or tuple, ``device=`` objects,
``eye(k=)``, ``linspace(endpoint=)``, ``meshgrid(indexing='xy')`` by default, ``tril``/``triu`` with ``k=``."""
import ndgrad as _nd

from ..backend import get_device, namespace
from ..tensor import Tensor
from ._helpers import check_array

__all__ = ["arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like", "linspace",
           "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like"]

from_dlpack = _nd.from_dlpack


def _shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if (stop - start) * step <= 0:  # an empty range is an empty array here (PyTorch raises)
        return _nd.arange(0, dtype=dtype or _nd.result_type(start, stop, step), device=device)
    return _nd.arange(start, stop, step, dtype=dtype, device=device)


def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """An array from an array, a (nested) sequence of Python scalars, a buffer or a DLPack object."""
    if isinstance(obj, Tensor):
        out = obj
        if device is not None and out.device != get_device(device):
            if copy is False:
                raise ValueError(f"asarray: copy=False but the array is on {out.device}, not {device}")
            out = out.to(device)
        if dtype is not None and out.dtype is not dtype:
            if copy is False:
                raise ValueError(f"asarray: copy=False but converting {out.dtype} to {dtype} needs a copy")
            out = out.to(dtype)
        return out.clone() if copy and out is obj else out
    if copy is False and not hasattr(obj, "__dlpack__") and not hasattr(obj, "__buffer__") \
            and not isinstance(obj, (memoryview, bytearray)):
        raise ValueError(f"asarray: copy=False is impossible for a {type(obj).__name__}: it has no memory to share")
    if isinstance(obj, (list, tuple)) and _holds_arrays(obj):
        obj = _stack_nested(obj)
        return asarray(obj, dtype=dtype, device=device, copy=False if copy is None else copy)
    return _nd.asarray(obj, dtype=dtype, device=device, copy=copy)


def _holds_arrays(seq):
    return any(isinstance(v, Tensor) or (isinstance(v, (list, tuple)) and _holds_arrays(v)) for v in seq)


def _stack_nested(seq):
    return _nd.stack([_stack_nested(v) if isinstance(v, (list, tuple)) else
                      (v if isinstance(v, Tensor) else _nd.asarray(v)) for v in seq])


def empty(shape, *, dtype=None, device=None):
    return _nd.empty(_shape(shape), dtype=dtype, device=device)


def zeros(shape, *, dtype=None, device=None):
    return _nd.zeros(_shape(shape), dtype=dtype, device=device)


def ones(shape, *, dtype=None, device=None):
    return _nd.ones(_shape(shape), dtype=dtype, device=device)


def full(shape, fill_value, *, dtype=None, device=None):
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _nd.full(_shape(shape), fill_value, dtype=dtype, device=device)


def _like(fn, x, dtype, device, *args):
    x = check_array(x, fn.__name__)
    return fn(x, *args, dtype=dtype or x.dtype, device=device or x.device)


def empty_like(x, /, *, dtype=None, device=None):
    return _like(_nd.empty_like, x, dtype, device)


def zeros_like(x, /, *, dtype=None, device=None):
    return _like(_nd.zeros_like, x, dtype, device)


def ones_like(x, /, *, dtype=None, device=None):
    return _like(_nd.ones_like, x, dtype, device)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    return _like(_nd.full_like, x, dtype, device, fill_value)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    dev = get_device(device)
    dtype = dtype or _nd.get_default_dtype()
    return Tensor._wrap(namespace(dev).eye(n_rows, n_cols, k=k, dtype=dtype.np), dev)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    dev = get_device(device)
    if dtype is None:
        dtype = _nd.get_default_dtype()
        if isinstance(start, complex) or isinstance(stop, complex):
            dtype = dtype.to_complex()
    work = "complex128" if dtype.is_complex else "float64"
    # Computed in float64 then cast, so float32 endpoints are exact like NumPy's.
    array = namespace(dev).linspace(start, stop, num, endpoint=endpoint, dtype=work)
    return Tensor._wrap(array.astype(dtype.np), dev)


def meshgrid(*arrays, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    if not arrays:
        return []
    return list(_nd.meshgrid(*arrays, indexing=indexing))


def tril(x, /, *, k=0):
    return _nd.tril(check_array(x, "tril"), k)


def triu(x, /, *, k=0):
    return _nd.triu(check_array(x, "triu"), k)

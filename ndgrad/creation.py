"""Making tensors: from data, filled, ranges, and random draws, with torch's keyword arguments.

Every creation function takes PyTorch's keywords: ``size=`` where torch names the size, ``out=``,
``dtype=``, ``layout=`` (only ``ndgrad.strided``), ``device=``, ``requires_grad=``, ``pin_memory=``
(accepted; NumPy memory needs no pinning) and ``memory_format=`` (ndgrad keeps one C-order layout).
Sizes are checked up front: non-integers raise TypeError, sizes too large for a tensor ndgrad's
own RuntimeError (never a NumPy internal).
"""
import math
import operator

from . import dtypes, random as _random
from .backend import CPU, get_device as _parse_device, namespace, np, device_of, to_device
from .tensor import NamedConstant, Tensor, strided
from .errors import OutOfMemoryError

# Set by ndgrad.set_default_device: where creation functions put tensors when no device= is given.
_default_device = None


def get_device(spec=None):
    """Parse a device argument; ``None`` means the default device (``ndgrad.set_default_device``)."""
    return _parse_device(_default_device if spec is None else spec)

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty", "empty_strided",
           "arange", "range", "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm",
           "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like", "randint_like",
           "scalar_tensor", "memory_format", "contiguous_format", "channels_last", "channels_last_3d",
           "preserve_format"]

_INT64_MAX = 2 ** 63 - 1


class memory_format(NamedConstant):
    """A memory format, as ``torch.memory_format``; accepted everywhere, ndgrad keeps C order."""

    __slots__ = ()
    REGISTRY = {}


contiguous_format, channels_last, channels_last_3d, preserve_format = (
    memory_format(n) for n in ("contiguous_format", "channels_last", "channels_last_3d", "preserve_format"))


def _check_layout(layout, op):
    if layout is not None and layout is not strided:
        raise RuntimeError(f"{op}: only layout=ndgrad.strided makes a dense tensor (got {layout}); build a "
                           f"sparse tensor with ndgrad.sparse_coo_tensor or .to_sparse()")


def _check_memory_format(fmt, op):
    if fmt is not None and not isinstance(fmt, memory_format):
        raise TypeError(f"{op}(): memory_format must be an ndgrad memory format (e.g. ndgrad.contiguous_format), "
                        f"got {type(fmt).__name__}")


def _finish(arr, device, requires_grad):
    t = Tensor._wrap(arr, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_python_dtype(arr):
    """Python data: floats -> the default float, ints -> int64, bools -> bool (PyTorch's inference)."""
    kind = arr.dtype.kind
    if kind == "f":
        return dtypes.get_default_dtype()
    if kind in "iu":
        return dtypes.int64
    if kind == "b":
        return dtypes.bool_
    if kind == "c":
        return dtypes.get_default_dtype().to_complex()
    raise TypeError(f"tensor(): can't build a tensor from data of type {arr.dtype} "
                    f"(expected numbers, bools, nested lists of them, or arrays)")


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor that copies ``data`` (numbers, nested lists, arrays or tensors)."""
    dtype = dtypes.to_dtype(dtype)
    if isinstance(data, Tensor):
        arr, src = data._data, data._device
        if device is None:
            device = src
        arr = arr.copy()
    else:
        src = None
        if hasattr(data, "__cuda_array_interface__") or type(data).__module__.startswith("cupy"):
            src = device_of(data)
            arr = data.copy()
            if device is None:
                device = src
        elif isinstance(data, np.ndarray) or isinstance(data, np.generic):
            arr = np.array(data)
        else:
            # uint64 values past 2**63 would go through float64 (losing bits) unless the dtype comes first
            arr = np.array(_unwrap_nested(data), dtype=np.uint64 if dtype is dtypes.uint64 else None)
            if dtype is None:
                dtype = _infer_python_dtype(arr)
    device = get_device(device)
    if dtype is not None:
        arr = arr.astype(dtype.np, copy=False)
    else:
        dtypes.dtype_of(arr)  # raises a clear error for unsupported dtypes (strings, objects, uint16...)
    arr = to_device(arr, device)
    return _finish(arr, device, requires_grad)


def _unwrap_nested(data):
    """Lists may hold 0-d tensors (``tensor([a, b])``): turn them into numbers."""
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(d) for d in data]
    if isinstance(data, Tensor):
        return data._host()
    return data


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a tensor or array when dtype and device allow."""
    dtype = dtypes.to_dtype(dtype)
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype) \
            and get_device(device) is CPU:
        dtypes.dtype_of(data)
        return Tensor._wrap(data, CPU)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, dtype=None, device=None, copy=None, requires_grad=False):
    """Array-API spelling of ``as_tensor``."""
    t = tensor(obj, dtype=dtype, device=device) if copy else as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(array):
    """A CPU tensor sharing memory with a NumPy array (its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.dtype_of(array)
    return Tensor._wrap(array, CPU)


def scalar_tensor(value, *, dtype=None, device=None, requires_grad=False, layout=strided, pin_memory=False):
    _check_layout(layout, "scalar_tensor")
    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), device=device, requires_grad=requires_grad)


# -- sizes -----------------------------------------------------------------------------------------------
def _shape(size, op="tensor creation"):
    """``size`` (varargs, or one tuple/list/Size) as a tuple of non-negative ints; clear errors otherwise."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = []
    for pos, s in enumerate(size):
        if isinstance(s, bool) or isinstance(s, float) or not hasattr(s, "__index__"):
            raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, but found element of type "
                            f"{type(s).__name__} at pos {pos} (got size {tuple(size)})")
        shape.append(operator.index(s))
    shape = tuple(shape)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}(): negative dimension in shape {shape}: every size must be >= 0")
    for s in shape:
        if s > _INT64_MAX:
            raise RuntimeError(f"{op}(): size {shape} is too large: dimension {s} does not fit in 64 bits "
                               f"(the largest size is 2**63 - 1)")
    return shape


def _check_storage(shape, dtype, op):
    n = 1
    for s in shape:
        n *= s
    if n * dtype.itemsize > _INT64_MAX:
        raise RuntimeError(f"{op}(): a tensor of shape {shape} and dtype {dtype} would need {n * dtype.itemsize} "
                           f"bytes, more than any tensor can hold (2**63 - 1 bytes); use a smaller size")
    return n


def _allocate(make, shape, dtype, device, op):
    """Run ``make()``; turn an allocation failure into a clear error naming the size."""
    n = _check_storage(shape, dtype, op)
    try:
        return make()
    except (MemoryError, ValueError) as exc:
        if isinstance(exc, ValueError) and "too big" not in str(exc) and "allocate" not in str(exc):
            raise
        raise OutOfMemoryError(f"{op}(): not enough memory on {device} for a tensor of shape {shape} and dtype "
                           f"{dtype} ({n * dtype.itemsize} bytes)") from None
    except Exception as exc:  # cupy's OutOfMemoryError
        if type(exc).__name__ != "OutOfMemoryError":
            raise
        raise OutOfMemoryError(f"{op}(): not enough GPU memory on {device} for a tensor of shape {shape} and "
                           f"dtype {dtype} ({n * dtype.itemsize} bytes)") from None


def _size_args(size, size_kw, op):
    if size_kw is not None:
        if size:
            raise TypeError(f"{op}() got the size both positionally and as size=")
        size = (size_kw,)
    elif not size:
        raise TypeError(f"{op}() missing 1 required positional argument: 'size' (for a 0-d tensor pass an empty "
                        f"tuple: {op}(()))")
    return _shape(size, op)


def _write_out(result, out, op):
    """torch's ``out=``: the result lands in ``out`` (resized when its shape differs)."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): out must be a Tensor, got {type(out).__name__}")
    if out._device != result._device:
        raise RuntimeError(f"{op}(): out is on {out._device} but the result is on {result._device}")
    if out.requires_grad and out.grad_fn is None:
        from .autograd import grad_mode
        if grad_mode.state.enabled:
            raise RuntimeError(f"{op}(): out= a leaf tensor that requires grad is not allowed")
    array = result._data.astype(out._data.dtype, copy=False)
    if tuple(out.shape) == tuple(result.shape):
        out._data[...] = array
    else:
        out._data = array.copy() if array is result._data else array
    out._bump_version()
    return out


def _filled(fill, size, dtype, device, requires_grad, op, default=None, out=None):
    dtype = dtypes.to_dtype(dtype) or (out.dtype if out is not None else None) or default \
        or dtypes.get_default_dtype()
    device = get_device(device if device is not None or out is None else out.device)
    xp = namespace(device)
    shape = size if isinstance(size, tuple) and all(type(s) is int for s in size) else _shape(size, op)
    arr = _allocate(lambda: fill(xp, shape, dtype.np), shape, dtype, device, op)
    return _write_out(_finish(arr, device, requires_grad), out, op)


def _creation(fill, op, doc):
    """``zeros``/``ones``/``empty``: ``f(*size, size=None, out=None, dtype=None, layout=strided, device=None,
    requires_grad=False, pin_memory=False, memory_format=contiguous_format)``."""
    def create(*size, out=None, dtype=None, layout=strided, device=None, requires_grad=False, pin_memory=False,
               memory_format=contiguous_format, **kwargs):
        _check_layout(layout, op)
        _check_memory_format(memory_format, op)
        shape = _size_args(size, _pop_size(kwargs, op), op)
        return _filled(fill, shape, dtype, device, requires_grad, op, out=out)
    create.__name__ = create.__qualname__ = op
    create.__doc__ = doc
    return create


def _pop_size(kwargs, op):
    size = kwargs.pop("size", None)
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return size


zeros = _creation(lambda xp, s, d: xp.zeros(s, d), "zeros", "A tensor of the given size filled with 0.")
ones = _creation(lambda xp, s, d: xp.ones(s, d), "ones", "A tensor of the given size filled with 1.")
empty = _creation(lambda xp, s, d: xp.empty(s, d), "empty", "An uninitialised tensor of the given size.")


def full(size, fill_value, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False,
         pin_memory=False):
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value: bool, int64, float)."""
    _check_layout(layout, "full")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None and out is None:
        dtype = dtypes.result_type(fill_value)
    shape = _shape(size if isinstance(size, (tuple, list)) else (size,), "full")
    return _filled(lambda xp, s, d: xp.full(s, fill_value, d), shape, dtype, device, requires_grad, "full", out=out)


def empty_strided(size, stride, *, dtype=None, layout=strided, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised tensor of ``size``; ``stride`` is checked but ndgrad stores it in C order."""
    _check_layout(layout, "empty_strided")
    shape = _shape((size,), "empty_strided")
    stride = tuple(stride)
    if len(stride) != len(shape):
        raise RuntimeError(f"empty_strided: mismatch in length of strides and shape ({len(stride)} strides for "
                           f"shape {shape})")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"empty_strided: strides must be non-negative, got {stride}")
    return _filled(lambda xp, s, d: xp.empty(s, d), shape, dtype, device, requires_grad, "empty_strided")


def _like(t, dtype, device):
    return (dtype if dtype is not None else t.dtype), (device if device is not None else t.device)


def _shaped_like(factory):
    """``<factory>_like(input, *, dtype=None, layout=strided, device=None, requires_grad=False,
    memory_format=preserve_format)``: ``factory`` with ``input``'s shape, dtype and device unless given."""
    def like(input, *, dtype=None, layout=strided, device=None, requires_grad=False, memory_format=preserve_format,
             pin_memory=False, generator=None):
        op = factory.__name__ + "_like"
        _check_layout(layout, op)
        _check_memory_format(memory_format, op)
        dtype, device = _like(input, dtype, device)
        kwargs = {"generator": generator} if generator is not None else {}
        return factory(tuple(input.shape), dtype=dtype, device=device, requires_grad=requires_grad, **kwargs)
    like.__name__ = like.__qualname__ = factory.__name__ + "_like"
    return like


zeros_like = _shaped_like(zeros)
ones_like = _shaped_like(ones)
empty_like = _shaped_like(empty)


def full_like(input, fill_value, *, dtype=None, layout=strided, device=None, requires_grad=False,
              memory_format=preserve_format, pin_memory=False):
    _check_layout(layout, "full_like")
    _check_memory_format(memory_format, "full_like")
    dtype, device = _like(input, dtype, device)
    return full(tuple(input.shape), fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


# -- ranges ------------------------------------------------------------------------------------------------
def _number(v, op, name):
    if isinstance(v, Tensor):
        return v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__index__") \
            and not hasattr(v, "__float__"):
        raise TypeError(f"{op}(): argument '{name}' must be a number, not {type(v).__name__}")
    return v


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False):
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``; ``arange(n)`` is 0 .. n-1."""
    _check_layout(layout, "arange")
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange", n) for v, n in ((start, "start"), (end, "end"), (step, "step")))
    values = (start, end, step)
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end} (bounds and step must be finite)")
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        dtype = out.dtype if out is not None else dtypes.get_default_dtype() \
            if any(isinstance(v, float) for v in values) else dtypes.int64
    dtype = dtypes.to_dtype(dtype)
    device = get_device(device if device is not None or out is None else out.device)
    xp = namespace(device)
    if (end - start) * step < 0:  # PyTorch refuses instead of returning an empty tensor
        raise RuntimeError(f"arange: end {end} lies on the wrong side of start {start} for step {step}; "
                           f"flip the sign of step or swap start and end")
    n = max(0, math.ceil((end - start) / step))
    shape = _shape((n,), "arange")
    arr = _allocate(lambda: (xp.arange(n, dtype=np.float64) * step + start).astype(dtype.np)
                    if dtype.is_floating_point else xp.arange(start, end, step, dtype=dtype.np),
                    shape, dtype, device, "arange")
    return _write_out(_finish(arr, device, requires_grad), out, "arange")


def range(start=0, end=None, step=1, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False):
    """Deprecated in torch: like arange but ``end`` is included; float by default."""
    _check_layout(layout, "range")
    if end is None:
        start, end = 0, start
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    n = max(int(math.floor((end - start) / step)) + 1, 0)
    values = arange(n, dtype=dtypes.float64, device=device)._data * step + start
    return _write_out(_finish(values.astype(dtype.np), get_device(device), requires_grad), out, "range")


def _spaced(op, fill, start, end, steps, dtype, layout, device, requires_grad, out):
    _check_layout(layout, op)
    start, end = _number(start, op, "start"), _number(end, op, "end")
    if isinstance(steps, bool) or not hasattr(steps, "__index__"):
        raise TypeError(f"{op}(): argument 'steps' must be an int, not {type(steps).__name__}")
    steps = operator.index(steps)
    if steps < 0:
        raise RuntimeError(f"{op}: number of steps must be non-negative, got {steps}")
    dtype = dtypes.to_dtype(dtype) or (out.dtype if out is not None else dtypes.get_default_dtype())
    device = get_device(device if device is not None or out is None else out.device)
    xp = namespace(device)
    arr = _allocate(lambda: fill(xp, start, end, steps).astype(dtype.np), (steps,), dtype, device, op)
    return _write_out(_finish(arr, device, requires_grad), out, op)


def linspace(start, end, steps, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False):
    return _spaced("linspace", lambda xp, a, b, n: xp.linspace(a, b, n, dtype=np.float64), start, end, steps,
                   dtype, layout, device, requires_grad, out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False):
    return _spaced("logspace", lambda xp, a, b, n: xp.logspace(a, b, n, base=base, dtype=np.float64), start, end,
                   steps, dtype, layout, device, requires_grad, out)


def eye(n, m=None, *, out=None, dtype=None, layout=strided, device=None, requires_grad=False, pin_memory=False):
    """The identity matrix (n x m, m defaults to n)."""
    _check_layout(layout, "eye")
    shape = _shape((n, n if m is None else m), "eye")
    return _filled(lambda xp, s, d: xp.eye(s[0], s[1], dtype=d), shape, dtype, device, requires_grad, "eye",
                   out=out)


# -- random ----------------------------------------------------------------------------------------
def _random_float(draw, size, dtype, device, requires_grad, generator, op, out=None, layout=strided, size_kw=None):
    _check_layout(layout, op)
    dtype = dtypes.to_dtype(dtype) or (out.dtype if out is not None else dtypes.get_default_dtype())
    if dtype.is_complex and op in ("randn", "rand"):  # as torch: randn's parts are each N(0, 1/2) (E|z|^2 = 1)
        real = _random_float(draw, tuple(_size_args(size, size_kw, op)) + (2,), dtype.to_real(), device, False,
                             generator, op, None, layout)
        scale = real._data.dtype.type(0.5 ** 0.5 if op == "randn" else 1.0)
        arr = (real._data * scale).view(dtype.np)[..., 0]
        return _write_out(_finish(arr, real._device, requires_grad), out, op)
    if not dtype.is_floating_point:
        raise TypeError(f"{op}: random floats can't have dtype {dtype}; use a floating-point dtype or randint")
    device = get_device(device if device is not None or out is None else out.device)
    rng = _random.rng_for(device, generator)
    draw_dtype = dtype.np if dtype.np in (np.float32, np.float64) else np.float32
    shape = _size_args(size, size_kw, op)
    arr = _allocate(lambda: draw(rng, shape, draw_dtype).astype(dtype.np, copy=False), shape, dtype, device, op)
    return _write_out(_finish(arr, device, requires_grad), out, op)


def rand(*size, generator=None, out=None, dtype=None, layout=strided, device=None, requires_grad=False,
         pin_memory=False, **kwargs):
    """Uniform on [0, 1)."""
    return _random_float(lambda g, s, d: g.random(s, dtype=d), size, dtype, device, requires_grad, generator,
                         "rand", out, layout, _pop_size(kwargs, "rand"))


def randn(*size, generator=None, out=None, dtype=None, layout=strided, device=None, requires_grad=False,
          pin_memory=False, **kwargs):
    """Standard normal."""
    return _random_float(lambda g, s, d: g.standard_normal(s, dtype=d), size, dtype, device, requires_grad,
                         generator, "randn", out, layout, _pop_size(kwargs, "randn"))


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=strided, device=None,
            requires_grad=False, pin_memory=False):
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    _check_layout(layout, "randint")
    if size is None:  # randint(high, size)
        if high is None:
            raise TypeError("randint() missing the required argument 'size' (e.g. randint(10, (3,)))")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    low, high = int(_number(low, "randint", "low")), int(_number(high, "randint", "high"))
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = dtypes.to_dtype(dtype) or (out.dtype if out is not None else dtypes.int64)
    if requires_grad and not dtype.is_floating_point:
        raise RuntimeError(f"randint: only floating-point tensors can require gradients, got dtype {dtype}")
    device = get_device(device if device is not None or out is None else out.device)
    rng = _random.rng_for(device, generator)
    shape = _shape((size,), "randint")
    arr = _allocate(lambda: rng.integers(low, high, size=shape, dtype=np.int64).astype(dtype.np, copy=False),
                    shape, dtype, device, "randint")
    return _write_out(_finish(arr, device, requires_grad), out, "randint")


def randperm(n, *, generator=None, out=None, dtype=None, layout=strided, device=None, requires_grad=False,
             pin_memory=False):
    """A random permutation of 0 .. n-1."""
    _check_layout(layout, "randperm")
    n = _shape((n,), "randperm")[0]
    dtype = dtypes.to_dtype(dtype) or dtypes.int64
    device = get_device(device)
    arr = _random.rng_for(device, generator).permutation(n).astype(dtype.np)
    return _write_out(_finish(arr, device, requires_grad), out, "randperm")


rand_like = _shaped_like(rand)
randn_like = _shaped_like(randn)


def randint_like(input, low=0, high=None, *, dtype=None, layout=strided, device=None, requires_grad=False,
                 memory_format=preserve_format, pin_memory=False, generator=None):
    _check_layout(layout, "randint_like")
    _check_memory_format(memory_format, "randint_like")
    if high is None:
        low, high = 0, low
    dtype, device = _like(input, dtype, device)
    t = randint(low, high, tuple(input.shape), dtype=dtype, device=device, generator=generator)
    return t.requires_grad_(True) if requires_grad else t

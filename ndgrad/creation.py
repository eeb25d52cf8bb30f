"""Making tensors: from data, filled, ranges, and random draws."""
import math

from . import dtypes, random as _random
from .backend import CPU, get_device, namespace, np, device_of, to_device, xp_of
from .tensor import Tensor

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty", "arange",
           "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm", "normal", "bernoulli",
           "multinomial", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like",
           "randint_like", "scalar_tensor"]


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
    raise TypeError(f"tensor(): can't build a tensor from data of type {arr.dtype} "
                    f"(expected numbers, bools, nested lists of them, or arrays)")


def tensor(data, dtype=None, device=None, requires_grad=False):
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
            arr = np.array(_unwrap_nested(data))
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


def scalar_tensor(value, dtype=None, device=None, requires_grad=False):
    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), device=device, requires_grad=requires_grad)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"negative dimension in shape {shape}: every size must be >= 0")
    return shape


def _filled(fill, size, dtype, device, requires_grad, default=None):
    dtype = dtypes.to_dtype(dtype) or default or dtypes.get_default_dtype()
    device = get_device(device)
    xp = namespace(device)
    arr = fill(xp, _shape(size), dtype.np)
    return _finish(arr, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.result_type(fill_value)
    return _filled(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype, device, requires_grad)


def _like(t, dtype, device):
    return (dtype if dtype is not None else t.dtype), (device if device is not None else t.device)


def _shaped_like(factory):
    """``<factory>_like(t, dtype=None, device=None, requires_grad=False)``: ``factory`` called with
    ``t``'s shape, and ``t``'s dtype and device unless given."""
    def like(t, dtype=None, device=None, requires_grad=False):
        dtype, device = _like(t, dtype, device)
        return factory(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)
    like.__name__ = like.__qualname__ = factory.__name__ + "_like"
    return like


zeros_like = _shaped_like(zeros)
ones_like = _shaped_like(ones)
empty_like = _shaped_like(empty)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return full(t.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        dtype = dtypes.get_default_dtype() if any(isinstance(v, float) for v in values) else dtypes.int64
    dtype = dtypes.to_dtype(dtype)
    device = get_device(device)
    xp = namespace(device)
    start, end, step = values
    if (end - start) * step < 0:  # PyTorch refuses instead of returning an empty tensor
        raise RuntimeError(f"arange: end {end} lies on the wrong side of start {start} for step {step}; "
                           f"flip the sign of step or swap start and end")
    n = max(0, math.ceil((end - start) / step))
    arr = (xp.arange(n, dtype=np.float64) * step + start).astype(dtype.np) if dtype.is_floating_point \
        else xp.arange(start, end, step, dtype=dtype.np)
    return _finish(arr, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    device = get_device(device)
    arr = namespace(device).linspace(start, end, int(steps), dtype=np.float64).astype(dtype.np)
    return _finish(arr, device, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    device = get_device(device)
    arr = namespace(device).logspace(start, end, int(steps), base=base, dtype=np.float64).astype(dtype.np)
    return _finish(arr, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    device = get_device(device)
    arr = namespace(device).eye(int(n), int(n if m is None else m), dtype=dtype.np)
    return _finish(arr, device, requires_grad)


# -- random ----------------------------------------------------------------------------------------
def _random_float(draw, size, dtype, device, requires_grad, generator):
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    if not dtype.is_floating_point:
        raise TypeError(f"random floats can't have dtype {dtype}; use a floating-point dtype or randint")
    device = get_device(device)
    rng = _random.rng_for(device, generator)
    draw_dtype = dtype.np if dtype.np in (np.float32, np.float64) else np.float32
    arr = draw(rng, _shape(size), draw_dtype).astype(dtype.np, copy=False)
    return _finish(arr, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform on [0, 1)."""
    return _random_float(lambda g, s, d: g.random(s, dtype=d), size, dtype, device, requires_grad, generator)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal."""
    return _random_float(lambda g, s, d: g.standard_normal(s, dtype=d), size, dtype, device, requires_grad,
                         generator)


def normal(mean=0.0, std=1.0, size=None, dtype=None, device=None, generator=None):
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        noise = randn(ref.shape, dtype=ref.dtype, device=ref.device, generator=generator)
        return noise * std + mean
    return randn(size, dtype=dtype, device=device, generator=generator) * std + mean


def randint(low, high=None, size=None, dtype=None, device=None, generator=None, requires_grad=False):
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = dtypes.to_dtype(dtype) or dtypes.int64
    device = get_device(device)
    rng = _random.rng_for(device, generator)
    arr = rng.integers(low, high, size=_shape((size,)), dtype=np.int64).astype(dtype.np, copy=False)
    return _finish(arr, device, requires_grad)


def randperm(n, dtype=None, device=None, generator=None):
    dtype = dtypes.to_dtype(dtype) or dtypes.int64
    device = get_device(device)
    arr = _random.rng_for(device, generator).permutation(int(n)).astype(dtype.np)
    return Tensor._wrap(arr, device)


def bernoulli(p, generator=None):
    rng = _random.rng_for(p.device, generator)
    arr = (rng.random(p.shape, dtype=np.float64) < p._data).astype(p._data.dtype)
    return Tensor._wrap(arr, p.device)


def multinomial(probs, num_samples, replacement=False, generator=None):
    host = np.asarray(probs._host(), dtype=np.float64)
    rng = _random.rng_for(CPU, generator)
    rows = host.reshape(-1, host.shape[-1])
    out = np.stack([rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=r / r.sum())
                    for r in rows]).astype(np.int64)
    out = out.reshape(host.shape[:-1] + (num_samples,))
    return Tensor._wrap(to_device(out, probs.device), probs.device)


rand_like = _shaped_like(rand)
randn_like = _shaped_like(randn)


def randint_like(t, low, high=None, dtype=None, device=None):
    dtype, device = _like(t, dtype, device)
    return randint(low, high, t.shape, dtype=dtype, device=device)

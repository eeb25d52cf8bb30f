"""The rest of PyTorch's top-level and Tensor API: aliases of methods as functions, type limits, shifts,
integration, rng state, print options, default device, autocast switches and legacy Tensor methods.

The larger groups live beside this file (``_api_functional``: nn.functional ops at the top level,
``_api_integrate``: trapezoid and gradient, ``_api_types``: finfo/iinfo/can_cast, ``_api_tensor``:
legacy and introspection methods); this module gathers them into ``__all__`` and ``METHODS``.
"""
import warnings
from collections import namedtuple

from .. import dtypes
from ..autograd import grad_mode
from ..autograd.node import Node
from ..backend import np
from ..errors import OutOfMemoryError  # noqa: F401  (re-exported)
from ..tensor import Tensor
from . import _api_functional, _api_tensor
from ._api_functional import *  # noqa: F401,F403
from ._api_integrate import cumulative_trapezoid, gradient, trapezoid, trapz  # noqa: F401  (re-exported)
from ._api_types import can_cast, finfo, iinfo  # noqa: F401  (re-exported)

# -- methods as functions ---------------------------------------------------------------------------------


def detach(input):
    return input.detach()


def detach_(input):
    return input.detach_()


def fill_(input, value):
    return input.fill_(value)


def zero_(input):
    return input.zero_()


def is_floating_point(input):
    return input.is_floating_point()


def is_signed(input):
    return input.is_signed()


def is_inference(input):
    return input.is_inference()


def is_nonzero(input):
    return input.is_nonzero()


def is_same_size(input, other):
    return input.is_same_size(other)


def get_device(input):
    return input.get_device()


class _Fill(Node):
    """A tensor of ``input``'s shape and dtype filled with a 0-d ``value``: the input gets a zero
    gradient (as torch), the value the sum of the incoming gradient."""

    def forward(self, input, value):
        return self.xp.broadcast_to(value.astype(input.dtype), input.shape).copy()

    def backward(self, grad):
        from ..creation import zeros_like
        return (zeros_like(grad) if self.needs_input_grad[0] else None,
                grad.sum() if self.needs_input_grad[1] else None)


def fill(input, value):
    """Out-of-place ``fill_``: a new tensor like ``input`` holding ``value`` everywhere."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions (shape {tuple(value.shape)})")
    else:
        value = Tensor._wrap(input.xp.asarray(value), input._device)
    return _Fill().apply(input, value)


def isposinf(input):
    """Where ``input`` is +inf (always False for integer and bool tensors)."""
    data = input._data
    result = (data == float("inf")) if data.dtype.kind == "f" else input.xp.zeros(data.shape, dtype=bool)
    return Tensor._wrap(result, input._device)


def isneginf(input):
    """Where ``input`` is -inf (always False for integer and bool tensors)."""
    data = input._data
    result = (data == float("-inf")) if data.dtype.kind == "f" else input.xp.zeros(data.shape, dtype=bool)
    return Tensor._wrap(result, input._device)


aminmax_result = namedtuple("aminmax", ["min", "max"])
aminmax_result.__module__ = "ndgrad.return_types"


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` in one call, over everything or along ``dim``; ties share the gradient like amin/amax."""
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has "
                               f"no identity (input shape {tuple(input.shape)}); pass dim= or a non-empty tensor")
        if input.ndim == 0:
            return aminmax_result(input.clone(), input.clone())
        mn, mx = input.amin(), input.amax()
        if keepdim:
            mn, mx = mn.reshape([1] * input.ndim), mx.reshape([1] * input.ndim)
        return aminmax_result(mn, mx)
    if input.ndim == 0:
        if dim not in (0, -1):
            raise IndexError(f"aminmax: dim {dim} is out of range for a 0-d tensor")
        return aminmax_result(input.clone(), input.clone())
    if input.shape[dim % input.ndim] == 0:
        raise IndexError(f"aminmax: Expected reduction dim {dim} to have non-zero size (input shape "
                         f"{tuple(input.shape)})")
    return aminmax_result(input.amin(dim, keepdim), input.amax(dim, keepdim))


# -- bit shifts -------------------------------------------------------------------------------------------

def _shift_operands(input, other, op):
    from ..creation import tensor
    a = input if isinstance(input, Tensor) else None
    b = other if isinstance(other, Tensor) else None
    ref = a if a is not None else b
    if ref is None:
        raise TypeError(f"{op}(): expected at least one Tensor operand, got {type(input).__name__} and "
                        f"{type(other).__name__}; wrap one in ndgrad.tensor(...)")
    dt = dtypes.result_type(input, other)
    if dt.is_floating_point:
        raise NotImplementedError(f"{op}: bit shifts need integer tensors, got {dt} (operands "
                                  f"{getattr(input, 'dtype', type(input).__name__)} and "
                                  f"{getattr(other, 'dtype', type(other).__name__)}); cast with .long() first")
    if dt.name == "bool":
        dt = dtypes.int64
    xp = ref.xp
    arr = lambda v: v._data if isinstance(v, Tensor) else xp.asarray(v)  # noqa: E731
    return arr(input).astype(dt.np), arr(other).astype(dt.np), dt, ref._device, xp


def bitwise_left_shift(input, other):
    """``input << other``; shifts past the bit width (or negative) give 0, as torch."""
    a, s, dt, device, xp = _shift_operands(input, other, "bitwise_left_shift")
    bits = 8 * dt.itemsize
    out_of_range = (s < 0) | (s >= bits)
    shifted = xp.left_shift(a, xp.where(out_of_range, 0, s).astype(dt.np))
    return Tensor._wrap(xp.where(out_of_range, xp.zeros((), dt.np), shifted).astype(dt.np), device)


def bitwise_right_shift(input, other):
    """``input >> other`` (arithmetic for signed types); shifts past the bit width fill with the sign."""
    a, s, dt, device, xp = _shift_operands(input, other, "bitwise_right_shift")
    bits = 8 * dt.itemsize
    out_of_range = (s < 0) | (s >= bits)
    if dt.is_signed:  # shifting by bits-1 leaves only the sign: -1 or 0
        shifted = xp.right_shift(a, xp.where(out_of_range, bits - 1, s).astype(dt.np))
    else:
        shifted = xp.where(out_of_range, xp.zeros((), dt.np), xp.right_shift(a, xp.where(out_of_range, 0, s)
                                                                            .astype(dt.np)))
    return Tensor._wrap(shifted.astype(dt.np), device)


def _inplace_shift(fn, name):
    def method(self, other):
        result = fn(self, other)
        if result.dtype is not self.dtype:
            raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the desired output type "
                               f"{self.dtype}")
        self._data[...] = result._data
        self._bump_version()
        return self
    method.__name__ = method.__qualname__ = name
    return method


# -- memory -----------------------------------------------------------------------------------------------

def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D CPU tensor that shares memory with a Python buffer (bytes, bytearray, array.array, mmap...)."""
    dt = dtypes.to_dtype(dtype)
    view = memoryview(buffer)
    if view.readonly:
        warnings.warn("The given buffer is not writable, and ndgrad does not support non-writable tensors; "
                      "writing to this tensor will fail. Copy the buffer (bytearray(...)) first to write to it",
                      UserWarning, stacklevel=2)
    length = view.nbytes
    if length <= 0:
        raise ValueError(f"frombuffer: both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"frombuffer: offset ({offset} bytes) must be non-negative and no greater than buffer "
                         f"length ({length} bytes) minus 1")
    if count == 0 or count < -1:
        raise ValueError(f"frombuffer: count must be positive or -1, got {count}")
    if count == -1:
        if (length - offset) % dt.itemsize:
            raise ValueError(f"frombuffer: buffer length ({length - offset} bytes after offset {offset}) must "
                             f"be a multiple of element size ({dt.itemsize})")
        count = (length - offset) // dt.itemsize
    elif offset + count * dt.itemsize > length:
        raise ValueError(f"frombuffer: requested buffer length (count {count} * {dt.itemsize} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length ({length} bytes)")
    arr = np.frombuffer(view, dtype=dt.np, count=count, offset=offset)
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def as_strided_(input, size, stride, storage_offset=None):
    """Make ``input`` itself a strided view of its elements (C order), as ``as_strided`` would return."""
    if input.requires_grad and input.grad_fn is None and grad_mode.state.enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation "
                           "(as_strided_); use the out-of-place as_strided, or do it under no_grad()")
    recording = input.requires_grad and grad_mode.state.enabled
    # with a graph, the recorded op reads an alias: the engine checks gradients against its input's shape
    source = input
    if recording:  # a second Tensor for the same value and history, which keeps its shape
        source = Tensor._wrap(input._data, input._device, requires_grad=True, grad_fn=input.grad_fn)
        source._base = input if input._base is None else input._base
    view = source.as_strided(size, stride, storage_offset)
    input._data = view._data
    if recording:
        input.grad_fn = view.grad_fn
    input._bump_version()
    return input


# -- global settings --------------------------------------------------------------------------------------

def get_rng_state():
    from ..random import get_rng_state as get
    return get()


def set_rng_state(new_state):
    from ..random import set_rng_state as set_
    return set_(new_state)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    from ..printing import set_printoptions as set_
    return set_(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth,
                profile=profile, sci_mode=sci_mode)


def get_default_device():
    """Where creation functions put tensors when no ``device=`` is given (cpu unless changed)."""
    from .. import creation
    from ..backend import get_device as parse
    return parse(creation._default_device)


def set_default_device(device):
    """Make ``device`` the default for creation functions (``ndgrad.zeros(3)`` lands there); None resets."""
    from .. import creation
    from ..backend import get_device as parse
    creation._default_device = None if device is None else parse(device)


def get_device_module(device=None):
    """The module for a device type: ``ndgrad.cuda`` for cuda, ``ndgrad.cpu`` for cpu."""
    import importlib
    from ..backend import Device
    if device is None:
        kind = get_default_device().type
    elif isinstance(device, Device):
        kind = device.type
    else:
        kind = str(device).split(":")[0]
    if kind == "cpu":
        return importlib.import_module("ndgrad.cpu")
    if kind == "cuda":
        return importlib.import_module("ndgrad.cuda")
    raise RuntimeError(f"get_device_module: device type {kind!r} is not supported by ndgrad (cpu and cuda are)")


def is_autocast_enabled(device_type=None):
    from ..amp import is_autocast_enabled as get
    return get(device_type)


def set_autocast_enabled(device_type, enabled=None):
    from ..amp import set_autocast_enabled as set_
    return set_(device_type, enabled)


def get_autocast_dtype(device_type):
    from ..amp import get_autocast_dtype as get
    return get(device_type)


def set_autocast_dtype(device_type, dtype):
    from ..amp import set_autocast_dtype as set_
    return set_(device_type, dtype)


def is_inference_mode_enabled():
    return getattr(grad_mode.state, "inference", False)


def is_distributed(input):
    """False: an ndgrad tensor lives in one process (ndgrad.distributed moves data between processes)."""
    return False


def igamma(input, other):
    """The regularized lower incomplete gamma function (``ndgrad.special.gammainc``)."""
    from ..special import gammainc
    return gammainc(input, other)


def igammac(input, other):
    """The regularized upper incomplete gamma function (``ndgrad.special.gammaincc``)."""
    from ..special import gammaincc
    return gammaincc(input, other)


def frobenius_norm(input, dim=(-2, -1), keepdim=False):
    """Deprecated torch name of ``linalg.norm(input, 'fro', dim, keepdim)`` (any dims: the 2-norm of them)."""
    from ..linalg import vector_norm
    return vector_norm(input, 2, dim=dim, keepdim=keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """Deprecated torch name of ``linalg.matrix_norm(input, 'nuc', dim, keepdim)``."""
    from ..linalg import matrix_norm
    if isinstance(dim, bool):  # torch.nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else dim, keepdim=keepdim)


def to_dlpack(tensor):
    """A DLPack capsule of ``tensor`` (``ndgrad.utils.dlpack.to_dlpack``)."""
    from ..utils.dlpack import to_dlpack as capsule
    return capsule(tensor)


__all__ = [
    "detach", "detach_", "fill", "fill_", "zero_", "is_floating_point", "is_signed", "is_inference",
    "is_nonzero", "is_same_size", "get_device", "isposinf", "isneginf", "aminmax", "bitwise_left_shift",
    "bitwise_right_shift", "can_cast", "finfo", "iinfo", "frombuffer", "as_strided_", "trapezoid", "trapz",
    "cumulative_trapezoid", "gradient", "OutOfMemoryError", "get_rng_state", "set_rng_state",
    "set_printoptions", "get_default_device", "set_default_device", "get_device_module", "is_autocast_enabled",
    "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype", "is_inference_mode_enabled",
    "nonzero_static", "is_distributed", "igamma", "igammac", "frobenius_norm", "nuclear_norm", "to_dlpack",
    *_api_functional.__all__,
]
nonzero_static = _api_tensor.nonzero_static

_left_inplace = _inplace_shift(bitwise_left_shift, "bitwise_left_shift_")
_right_inplace = _inplace_shift(bitwise_right_shift, "bitwise_right_shift_")

METHODS = {
    "aminmax": aminmax, "isposinf": isposinf, "isneginf": isneginf, "as_strided_": as_strided_,
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    "bitwise_left_shift_": _left_inplace, "bitwise_right_shift_": _right_inplace,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__rlshift__": lambda self, other: bitwise_left_shift(other, self),
    "__rrshift__": lambda self, other: bitwise_right_shift(other, self),
    "__ilshift__": _left_inplace, "__irshift__": _right_inplace,
    "igamma": igamma, "igammac": igammac, "is_distributed": is_distributed,
    "igamma_": lambda self, other: self.copy_(igamma(self, other)),
    "igammac_": lambda self, other: self.copy_(igammac(self, other)),
    **_api_tensor.METHODS,
}
for _name, _prop in _api_tensor.PROPERTIES.items():
    setattr(Tensor, _name, _prop)

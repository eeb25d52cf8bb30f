"""PyTorch's legacy constructors: ``Tensor(2, 3)``, ``Tensor([1, 2])``, ``FloatTensor``, ``LongTensor``, ...

``Tensor(*sizes)`` (ints, or one ``Size``) is an uninitialised tensor of that shape; ``Tensor(sequence)``
copies the data; ``Tensor(tensor)`` shares its memory; ``Tensor()`` is empty. ``ndgrad.Tensor`` uses the
default dtype (float32); ``LongTensor`` and friends fix theirs. ``isinstance(t, ndgrad.FloatTensor)`` is
True for float32 tensors on the CPU, as in PyTorch.
"""
from . import dtypes

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor",
           "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]


def _is_int(a):
    return isinstance(a, int) and not isinstance(a, bool) or (
        type(a).__module__ == "numpy" and getattr(a, "dtype", None) is not None and a.dtype.kind in "iu"
        and getattr(a, "ndim", 1) == 0)


def legacy_new(args, dtype, device, name):
    """(array, device, base) for a legacy call; ``base`` is the tensor whose memory is shared, or None."""
    from .tensor import Size, Tensor
    from .backend import get_device, namespace
    fixed = dtype is not None
    dtype = dtypes.to_dtype(dtype) if fixed else dtypes.get_default_dtype()
    if len(args) == 1 and isinstance(args[0], Tensor):
        t = args[0]
        if fixed and t.dtype is not dtype:
            raise TypeError(f"{name}(tensor): expected a tensor of dtype {dtype}, got {t.dtype}; convert it "
                            f"with tensor.to({dtype}) instead")
        if device is not None and get_device(device) != t.device:
            raise RuntimeError(f"{name}(tensor): the tensor is on {t.device}, not {device}; use .to(device)")
        return t._data, t._device, (t if t._base is None else t._base)
    if not args or (len(args) == 1 and isinstance(args[0], Size)) or all(_is_int(a) for a in args):
        sizes = tuple(int(s) for s in (args[0] if len(args) == 1 and isinstance(args[0], Size) else args)) \
            if args else (0,)
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"{name}: negative dimension in size {list(sizes)}")
        dev = get_device(device)
        return namespace(dev).empty(sizes, dtype.np), dev, None
    if len(args) == 1:
        data = args[0]
        if isinstance(data, str):
            raise TypeError(f"{name}(): invalid data type 'str'")
        if data is None or isinstance(data, (bool, int, float, complex)) or (
                hasattr(data, "ndim") and data.ndim == 0 and not hasattr(data, "__len__")):
            raise TypeError(f"{name}(): data must be a sequence (got {type(data).__name__}). For a 0-d tensor "
                            f"use ndgrad.tensor({data!r}); for sizes pass integers: {name}(2, 3)")
        from .creation import tensor
        t = tensor(data, dtype=dtype, device=device)
        return t._data, t._device, None
    raise TypeError(f"{name}(): expected sizes (ints), one Size, one sequence of data or one tensor, got "
                    f"({', '.join(type(a).__name__ for a in args)})")


class _TensorTypeMeta(type):
    """A legacy tensor type: calling it builds a Tensor of its dtype; isinstance checks dtype and CPU."""

    def __call__(cls, *args, device=None):
        from .tensor import Tensor
        if cls.device_type == "cuda" and device is None:
            device = "cuda"
        return Tensor(*args, dtype=cls.dtype, device=device, _legacy_name=cls.__qualname__)

    def __instancecheck__(cls, obj):
        from .tensor import Tensor
        return (isinstance(obj, Tensor) and obj._data.dtype == cls.dtype.np
                and obj._device.type == cls.device_type)

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"


def _tensor_type(name, dtype, device_type="cpu"):
    module = "ndgrad" if device_type == "cpu" else "ndgrad.cuda"
    return _TensorTypeMeta(name, (), {
        "dtype": dtype, "device_type": device_type, "__module__": module,
        "__qualname__": name if device_type == "cpu" else f"cuda.{name}",
        "__doc__": f"Legacy constructor: ``{name}(2, 3)`` (uninitialised), ``{name}(data)``."})


FloatTensor = _tensor_type("FloatTensor", dtypes.float32)
DoubleTensor = _tensor_type("DoubleTensor", dtypes.float64)
HalfTensor = _tensor_type("HalfTensor", dtypes.float16)
LongTensor = _tensor_type("LongTensor", dtypes.int64)
IntTensor = _tensor_type("IntTensor", dtypes.int32)
ShortTensor = _tensor_type("ShortTensor", dtypes.int16)
CharTensor = _tensor_type("CharTensor", dtypes.int8)
ByteTensor = _tensor_type("ByteTensor", dtypes.uint8)
BoolTensor = _tensor_type("BoolTensor", dtypes.bool_)
BFloat16Tensor = _tensor_type("BFloat16Tensor", dtypes.bfloat16) if dtypes.bfloat16 is not None else None
if BFloat16Tensor is None:
    __all__.remove("BFloat16Tensor")

BY_NAME = {name: globals()[name] for name in __all__}
# ndgrad.cuda.FloatTensor & co.: the same types for tensors on a GPU (``isinstance`` checks the device).
CUDA_TYPES = {name: _tensor_type(name, cls.dtype, "cuda") for name, cls in BY_NAME.items()}


_OTHER_TYPE_NAMES = {"complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor",
                     "uint16": "UInt16Tensor", "uint32": "UInt32Tensor", "uint64": "UInt64Tensor"}


def type_name(t):
    """PyTorch's ``tensor.type()`` string, spelled with ndgrad's prefix: ``ndgrad.FloatTensor``."""
    cls = next((c for c in BY_NAME.values() if c.dtype.np == t._data.dtype), None)
    base = cls.__name__ if cls is not None else _OTHER_TYPE_NAMES.get(t.dtype.name,
                                                                      f"{t.dtype.name.capitalize()}Tensor")
    return f"ndgrad.{base}" if t._device.type == "cpu" else f"ndgrad.{t._device.type}.{base}"


def dtype_of_type(spec):
    """The dtype a ``tensor.type(spec)`` call asks for: a legacy class, its name string, or a dtype."""
    return resolve_type(spec)[0]


def resolve_type(spec):
    """(dtype, device type or None) for ``tensor.type(spec)``: a legacy class (``ndgrad.cuda.LongTensor``),
    its name (``'torch.cuda.LongTensor'``), or a dtype (device unchanged)."""
    if isinstance(spec, _TensorTypeMeta):
        return spec.dtype, spec.device_type
    if isinstance(spec, str):
        short = spec.rsplit(".", 1)[-1]
        if short in BY_NAME:
            return BY_NAME[short].dtype, ("cuda" if ".cuda." in spec else "cpu")
    return spec, None


def set_default_tensor_type(t):
    """PyTorch's deprecated switch: ``set_default_tensor_type(ndgrad.DoubleTensor)`` sets the default dtype.

    Only CPU floating-point types exist here; use ``set_default_dtype`` (and ``device=``) instead."""
    import warnings
    warnings.warn("set_default_tensor_type() is deprecated as of PyTorch 2.1, please use set_default_dtype() "
                  "as the alternative", UserWarning, stacklevel=2)
    if isinstance(t, str) and ".cuda." in t:
        raise TypeError(f"set_default_tensor_type({t!r}): ndgrad has no default-device switch; keep the CPU "
                        f"default and create GPU tensors with device='cuda' (or .to('cuda'))")
    dtype = dtype_of_type(t)
    if not isinstance(dtype, dtypes.DType):
        raise TypeError(f"set_default_tensor_type: expected a legacy tensor type such as ndgrad.DoubleTensor "
                        f"or 'torch.DoubleTensor', got {t!r}")
    if not dtype.is_floating_point:
        raise TypeError(f"set_default_tensor_type: only floating-point types are supported as the default "
                        f"type, got {t!r}")
    dtypes.set_default_dtype(dtype)


def typename(obj):
    """``'ndgrad.FloatTensor'`` for a tensor, else the object's type name (as ``torch.typename``)."""
    from .tensor import Tensor
    if isinstance(obj, Tensor):
        return type_name(obj)
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", "__builtin__", None) else f"{module}.{name}"


def is_storage(obj):
    return False  # ndgrad has no separate storage objects: a tensor owns its array

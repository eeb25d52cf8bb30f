"""The standard's data-type functions: type promotion by its table, ``astype``, ``can_cast``, ``finfo``,
``iinfo``, ``isdtype``, ``result_type``.

ndgrad's own ``result_type`` follows PyTorch (0-d tensors rank below dimensioned ones); here every array
counts alike and Python scalars take the dtype of the array they meet, as the standard asks. uint16, uint32
and uint64 promote by the standard's table here (uint16 + int8 -> int32, uint8 + uint32 -> uint32), where
ndgrad's own table refuses them as PyTorch does.
"""
from .. import dtypes as _dt
from ..backend import np
from ..tensor import Tensor

__all__ = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
           "complex64", "complex128", "astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type"]

bool, int8, int16, int32, int64, uint8 = _dt.bool_, _dt.int8, _dt.int16, _dt.int32, _dt.int64, _dt.uint8
uint16, uint32, uint64 = _dt.uint16, _dt.uint32, _dt.uint64
_WIDE_UNSIGNED = (uint16, uint32, uint64)  # PyTorch's limited-support dtypes: ndgrad's promotion refuses mixes
float32, float64 = _dt.float32, _dt.float64
complex64, complex128 = _dt.complex64, _dt.complex128
_builtin_bool = type(True)

_KINDS = {
    "bool": lambda d: d is _dt.bool_,
    "signed integer": lambda d: d.category == 1 and d.is_signed,
    "unsigned integer": lambda d: d.category == 1 and not d.is_signed,
    "integral": lambda d: d.category == 1,
    "real floating": lambda d: d.category == 2,
    "complex floating": lambda d: d.category == 3,
    "numeric": lambda d: d.category >= 1,
}


def isdtype(dtype, kind):
    """Whether ``dtype`` is of ``kind``: a dtype, a kind name ('integral', 'real floating', ...) or a tuple."""
    if not isinstance(dtype, _dt.DType):
        raise TypeError(f"isdtype: expected an ndgrad dtype, got {dtype!r}")
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
        return _KINDS[kind](dtype)
    if isinstance(kind, _dt.DType):
        return dtype is kind
    raise TypeError(f"isdtype: kind must be a dtype, a kind name or a tuple of them, got {kind!r}")


def promote(a, b):
    """The standard's promotion of two dtypes (PyTorch's rule where the standard leaves it open)."""
    if a is b:
        return a
    # Within a kind, and between real and complex floating point, the standard's table is NumPy's.
    if (a.category == b.category or {a.category, b.category} == {2, 3}) and _dt.bfloat16 not in (a, b):
        return _dt.to_dtype(np.promote_types(a.np, b.np))
    if a in _WIDE_UNSIGNED or b in _WIDE_UNSIGNED:
        # Across kinds (left open by the standard) the higher kind wins outright, as PyTorch does for the
        # other integers (bool + uint16 -> uint16, uint32 + float32 -> float32); ndgrad's own table refuses.
        return a if a.category > b.category else b
    return _dt.promote_types(a, b)


def _scalar_dtype(value, dtype):
    """The dtype a Python scalar takes next to an array of ``dtype``."""
    if isinstance(value, _builtin_bool):
        return dtype
    if isinstance(value, int):
        return dtype if dtype.category >= 1 else _dt.int64
    if isinstance(value, float):
        return dtype if dtype.category >= 2 else _dt.get_default_dtype()
    if isinstance(value, complex):
        # Next to a real floating array the scalar is the complex dtype of the same precision.
        if dtype.category == 3:
            return dtype
        return (dtype if dtype.category == 2 else _dt.get_default_dtype()).to_complex()
    raise TypeError(f"expected an array, a dtype or a Python scalar, got {type(value).__name__}")


def result_type(*arrays_and_dtypes):
    """The dtype of an operation on these arrays, dtypes and Python scalars (at least one non-scalar)."""
    result, scalars = None, []
    for x in arrays_and_dtypes:
        if isinstance(x, Tensor):
            d = x.dtype
        elif isinstance(x, _dt.DType):
            d = x
        elif isinstance(x, (int, float, complex)):
            scalars.append(x)
            continue
        else:
            raise TypeError(f"result_type: expected arrays, dtypes or Python scalars, got {type(x).__name__}")
        result = d if result is None else promote(result, d)
    if result is None:
        raise ValueError("result_type: at least one array or dtype is required (Python scalars alone have no "
                         "array dtype)")
    for s in scalars:
        result = _scalar_dtype(s, result)
    return result


def can_cast(from_, to, /):
    """Whether ``from_`` (a dtype or array) casts to ``to`` under the standard's promotion rules."""
    if isinstance(from_, Tensor):
        from_ = from_.dtype
    if not isinstance(from_, _dt.DType) or not isinstance(to, _dt.DType):
        raise TypeError(f"can_cast: expected dtypes or arrays, got {from_!r} and {to!r}")
    if from_ is to:
        return True
    if _dt.bfloat16 in (from_, to):
        return promote(from_, to) is to
    # Within a kind this is the promotion table; across kinds (left open by the standard) NumPy's "safe" cast.
    return _builtin_bool(np.can_cast(from_.np, to.np, "safe"))


def astype(x, dtype, /, *, copy=True, device=None):
    """``x`` as ``dtype`` (a new array unless ``copy=False`` and nothing changes)."""
    if not isinstance(dtype, _dt.DType):
        raise TypeError(f"astype: expected an ndgrad dtype, got {dtype!r}")
    if device is not None:
        x = x.to(device)
    if x.dtype is dtype and not copy:
        return x
    out = x.to(dtype)
    return out.clone() if out is x else out


class finfo_object:
    """Machine limits of a floating-point dtype (``bits``, ``eps``, ``max``, ``min``, ``smallest_normal``);
    for a complex dtype, those of its real and imaginary parts (``dtype`` is the real dtype)."""

    def __init__(self, dtype):
        dtype = dtype.to_real()
        info = np.finfo(dtype.np)
        self.bits, self.dtype = int(info.bits), dtype
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.smallest_normal = float(info.smallest_normal)

    def __repr__(self):
        return f"finfo(bits={self.bits}, eps={self.eps}, max={self.max}, min={self.min}, dtype={self.dtype})"


class iinfo_object:
    """Limits of an integer dtype (``bits``, ``max``, ``min``)."""

    def __init__(self, dtype):
        info = np.iinfo(dtype.np)
        self.bits, self.max, self.min, self.dtype = int(info.bits), int(info.max), int(info.min), dtype

    def __repr__(self):
        return f"iinfo(bits={self.bits}, max={self.max}, min={self.min}, dtype={self.dtype})"


def _dtype_of(type):
    d = type.dtype if isinstance(type, Tensor) else type
    if not isinstance(d, _dt.DType):
        raise TypeError(f"expected an ndgrad dtype or array, got {type!r}")
    return d


def finfo(type, /):
    d = _dtype_of(type)
    if d.category < 2:
        raise ValueError(f"finfo: {d} is not a floating-point dtype; use iinfo for integers")
    return finfo_object(d)


def iinfo(type, /):
    d = _dtype_of(type)
    if d.category != 1:
        raise ValueError(f"iinfo: {d} is not an integer dtype; use finfo for floating point")
    return iinfo_object(d)

"""dtype objects and PyTorch's type-promotion rules."""
import importlib.util

from .backend import np

# bfloat16 comes from ml_dtypes (optional; without it the dtype does not exist). Importing ml_dtypes
# costs ~0.5 s, ten times NumPy's import, so it is imported when bfloat16 is first used, not here.
_HAS_ML_DTYPES = importlib.util.find_spec("ml_dtypes") is not None


class DType:
    """A tensor element type, printed like PyTorch's (``ndgrad.float32``)."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "category", "is_complex")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating point, 3 complex: the order of promotion
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        self.is_signed = category >= 2 or (category == 1 and self.np.kind == "i")
        self.itemsize = self.np.itemsize

    def to_real(self):
        """complex64 -> float32, complex128 -> float64; real dtypes are returned unchanged (as torch)."""
        return _REAL_OF.get(self, self)

    def to_complex(self):
        """float32 (and float16/bfloat16: NumPy has no complex32) -> complex64, float64 -> complex128."""
        if self.category == 3:
            return self
        if self.category != 2:
            raise RuntimeError(f"to_complex: {self} is not a floating-point dtype")
        return complex128 if self.itemsize == 8 else complex64

    def __repr__(self):
        return f"ndgrad.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (to_dtype, (self.name,))


bool_ = DType("bool", np.bool_, 0)
uint8 = DType("uint8", np.uint8, 1)
int8 = DType("int8", np.int8, 1)
int16 = DType("int16", np.int16, 1)
int32 = DType("int32", np.int32, 1)
int64 = DType("int64", np.int64, 1)
# PyTorch's "limited support" unsigned dtypes: creation, conversion, bitwise ops and comparisons work,
# but they never promote with another integer/bool dtype (see promote_types).
uint16 = DType("uint16", np.uint16, 1)
uint32 = DType("uint32", np.uint32, 1)
uint64 = DType("uint64", np.uint64, 1)
_LIMITED_UNSIGNED = (uint16, uint32, uint64)
float16 = DType("float16", np.float16, 2)
float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 2)
# complex: NumPy (and CuPy) have no complex32, so torch's complex32/chalf does not exist here.
complex64 = DType("complex64", np.complex64, 3)
complex128 = DType("complex128", np.complex128, 3)
_REAL_OF = {complex64: float32, complex128: float64}


class _BFloat16(DType):
    """bfloat16: its numpy dtype (from ml_dtypes) is looked up on first use of ``.np``."""

    __slots__ = ()

    def __init__(self):
        self.name, self.category, self.is_floating_point, self.is_signed, self.itemsize = \
            "bfloat16", 2, True, True, 2
        self.is_complex = False

    @property
    def np(self):
        return _bfloat16_numpy()


_bfloat16_np = None


def _bfloat16_numpy():
    global _bfloat16_np
    if _bfloat16_np is None:
        import ml_dtypes
        _bfloat16_np = np.dtype(ml_dtypes.bfloat16)
        _BY_NP[_bfloat16_np] = bfloat16
    return _bfloat16_np


bfloat16 = _BFloat16() if _HAS_ML_DTYPES else None

ALL = [d for d in (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64,
                   complex128, uint16, uint32, uint64) if d is not None]
_BY_NP = {d.np: d for d in ALL if d is not bfloat16}  # bfloat16 joins when ml_dtypes is first imported
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"bool_": bool_, "half": float16, "float": float32, "double": float64, "long": int64,
                 "int": int32, "short": int16, "byte": uint8, "char": int8,
                 "cfloat": complex64, "cdouble": complex128})
_BY_PYTYPE = {bool: bool_, int: int64}  # complex: the complex of the default float (in to_dtype)

_default_float = float32


def get_default_dtype():
    return _default_float


def set_default_dtype(dtype):
    global _default_float
    dtype = to_dtype(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes can be the default, not {dtype}")
    _default_float = dtype


def to_dtype(spec):
    """A DType from a DType, numpy dtype, name or Python type (``float`` means the default float)."""
    if spec is None or type(spec) is DType or spec is bfloat16:
        return spec
    if spec is float:
        return _default_float
    if spec is complex:
        return _default_float.to_complex()
    if spec in _BY_PYTYPE:
        return _BY_PYTYPE[spec]
    if isinstance(spec, str):
        name = spec.replace("torch.", "").replace("ndgrad.", "")
        if name in _BY_NAME:
            return _BY_NAME[name]
    try:
        np_dtype = np.dtype(spec)
        if np_dtype.name == "bfloat16" and bfloat16 is not None:  # an ml_dtypes dtype, maybe not yet registered
            _bfloat16_numpy()
        return _BY_NP[np_dtype]
    except (TypeError, KeyError):
        raise TypeError(f"unknown dtype {spec!r}; ndgrad supports "
                        + ", ".join(d.name for d in ALL)) from None


def dtype_of(array):
    """The DType of a raw array (float64 numpy arrays stay float64, like torch.from_numpy)."""
    try:
        return _BY_NP[array.dtype]
    except KeyError:
        if bfloat16 is not None and array.dtype.name == "bfloat16":  # made by ml_dtypes before we used it
            _bfloat16_numpy()
            return bfloat16
        raise TypeError(f"arrays of dtype {array.dtype} are not supported; ndgrad supports "
                        + ", ".join(d.name for d in ALL)) from None


def promote_types(a, b):
    """The smallest dtype both ``a`` and ``b`` convert to, by PyTorch's table."""
    if a is b:
        return a
    if a in _LIMITED_UNSIGNED or b in _LIMITED_UNSIGNED:
        return _promote_limited_unsigned(a, b)
    if a.category >= 2 and b.category >= 2 and a.category != b.category:
        # float and complex: a complex wide enough for both (float64 + complex64 -> complex128)
        cplx, real = (a, b) if a.category == 3 else (b, a)
        return complex128 if cplx is complex128 or real.itemsize == 8 else complex64
    if a.category != b.category:
        # Across categories the higher one wins outright (int64 + float16 -> float16, unlike numpy).
        return a if a.category > b.category else b
    if a.category == 2 and (a is bfloat16 or b is bfloat16):
        other = b if a is bfloat16 else a
        return float32 if other is float16 else (other if other.itemsize > 2 else bfloat16)
    return _BY_NP[np.promote_types(a.np, b.np)]


def _promote_limited_unsigned(a, b):
    """uint16/32/64 meet only floating-point dtypes (which win), as in PyTorch 2.13; anything else raises."""
    if a.category == 2 or b.category == 2:
        return a if a.category == 2 else b
    raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                       f"{a.name} and {b.name}; convert one operand with .to() first (e.g. .to(ndgrad.int64))")


def _weak_scalar_dtype(value):
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    if isinstance(value, float):
        return _default_float
    if isinstance(value, complex):
        return _default_float.to_complex()
    raise TypeError(f"expected a tensor or a number, got {type(value).__name__}")


def result_type(*operands):
    """PyTorch's result type: dimensioned tensors > 0-d tensors > Python scalars, by category.

    A lower tier only changes the result when it is of a higher category
    (int tensor * 2.5 -> the default float; int32 tensor + int64 0-d tensor -> int32).
    """
    dim_t = zero_t = scalar_t = None
    for x in operands:
        data = getattr(x, "_data", None)
        if data is not None:
            dt = _BY_NP.get(data.dtype) or dtype_of(data)
            if data.ndim:
                dim_t = dt if dim_t is None else promote_types(dim_t, dt)
            else:
                zero_t = dt if zero_t is None else promote_types(zero_t, dt)
        else:
            dt = _weak_scalar_dtype(x)
            scalar_t = dt if scalar_t is None else promote_types(scalar_t, dt)
    result = _combine(_combine(dim_t, zero_t), scalar_t)
    return result


def _combine(higher, lower):
    if higher is None:
        return lower
    if lower is None or higher.category >= 2 and lower.category <= higher.category:
        return higher
    if lower.category == 3 and higher.category == 2:
        return higher.to_complex()  # a weaker complex operand takes the float's width (float64 + 1j -> complex128)
    if lower.category == 3:
        return lower  # int/bool + a weaker complex: the complex (uint16 tensor * 1j -> complex64, no promotion)
    if higher is bool_ or lower.category == 2 or (lower.category > higher.category):
        return promote_types(higher, lower)
    return higher

"""``finfo``/``iinfo`` (numeric limits of a dtype) and ``can_cast`` (torch's casting rule)."""
import math

from .. import dtypes
from ..backend import np


def _dtype(spec, op):
    try:
        return dtypes.to_dtype(spec)
    except (TypeError, ValueError, KeyError):
        raise TypeError(f"{op}(): expected an ndgrad dtype, got {spec!r}") from None


class finfo:
    """Limits of a floating-point dtype: bits, eps, max, min, tiny (= smallest_normal), resolution, dtype."""

    def __init__(self, type=None):
        dt = dtypes.get_default_dtype() if type is None else _dtype(type, "finfo")
        dt = dt.to_real()  # complex64 has float32's limits (as torch)
        if not dt.is_floating_point:
            raise TypeError(f"ndgrad.finfo() requires a floating point input type, got {dt}. "
                            f"Use ndgrad.iinfo to handle '{dt}'")
        if dt.name == "bfloat16":  # 8 exponent bits, 7 stored mantissa bits (computed: ml_dtypes is optional)
            mantissa_bits, max_exp = 8, 128
            self.bits, self.eps = 16, 2.0 ** -7
            self.max = float((2 - 2.0 ** -7) * 2.0 ** 127)
            self.smallest_normal = 2.0 ** -126
        else:
            info = np.finfo(dt.np)
            mantissa_bits = info.nmant + 1
            self.bits, self.eps = info.bits, float(info.eps)
            self.max, self.smallest_normal = float(info.max), float(info.smallest_normal)
        self.min = -self.max
        self.tiny = self.smallest_normal
        # resolution: 10 ** -(decimal digits the mantissa holds), as numpy and torch define it
        self.resolution = 10.0 ** -math.floor((mantissa_bits - 1) * math.log10(2))
        self.dtype = dt.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype: bits, min, max, dtype."""

    def __init__(self, type):
        dt = _dtype(type, "iinfo")
        if dt.name == "bool":
            raise TypeError("ndgrad.bool is not supported by ndgrad.iinfo")
        if dt.is_floating_point:
            raise TypeError(f"ndgrad.iinfo() requires an integer input type, got {dt}. "
                            f"Use ndgrad.finfo to handle '{dt}'")
        info = np.iinfo(dt.np)
        self.bits, self.min, self.max, self.dtype = info.bits, int(info.min), int(info.max), dt.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


def can_cast(from_, to):
    """Whether torch's type promotion allows casting ``from_`` to ``to``: never to a lower kind
    (floating point > integer > bool); any size within a kind."""
    src, dst = _dtype(from_, "can_cast"), _dtype(to, "can_cast")
    return src.category <= dst.category

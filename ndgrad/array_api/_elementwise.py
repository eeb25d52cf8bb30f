"""Element-wise functions with the standard's signatures (``x``, ``x1``, ``x2`` positional-only), promotion
(every array counts alike; Python scalars take the array's dtype) and integer rules (rounding an integer
array returns it unchanged)."""
import ndgrad as _nd

from ..backend import np as _host_np
from ._helpers import check_array, operands, wrap_like

_UNARY = {  # standard name -> ndgrad function (same meaning on the dtypes the standard allows)
    "abs": _nd.abs, "acos": _nd.acos, "acosh": _nd.acosh, "asin": _nd.asin, "asinh": _nd.asinh,
    "atan": _nd.atan, "atanh": _nd.atanh, "cos": _nd.cos, "cosh": _nd.cosh, "exp": _nd.exp,
    "expm1": _nd.expm1, "isfinite": _nd.isfinite, "isinf": _nd.isinf, "isnan": _nd.isnan, "log": _nd.log,
    "log1p": _nd.log1p, "log2": _nd.log2, "log10": _nd.log10, "logical_not": _nd.logical_not,
    "negative": _nd.negative, "reciprocal": _nd.reciprocal, "signbit": _nd.signbit,
    "sin": _nd.sin, "sinh": _nd.sinh, "square": _nd.square, "sqrt": _nd.sqrt, "tan": _nd.tan, "tanh": _nd.tanh,
}
_ROUNDING = {"ceil": _nd.ceil, "floor": _nd.floor, "trunc": _nd.trunc, "round": _nd.round}
_BINARY = {
    "add": _nd.add, "subtract": _nd.subtract, "multiply": _nd.multiply, "divide": _nd.divide, "pow": _nd.pow,
    "remainder": _nd.remainder, "atan2": _nd.atan2, "hypot": _nd.hypot,
    "copysign": _nd.copysign, "logaddexp": _nd.logaddexp, "maximum": _nd.maximum, "minimum": _nd.minimum,
    "nextafter": _nd.nextafter, "equal": _nd.eq, "not_equal": _nd.ne, "greater": _nd.gt,
    "greater_equal": _nd.ge, "less": _nd.lt, "less_equal": _nd.le, "logical_and": _nd.logical_and,
    "logical_or": _nd.logical_or, "logical_xor": _nd.logical_xor,
}
_BITWISE = {"bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
            "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift"}

__all__ = sorted([*_UNARY, *_ROUNDING, *_BINARY, *_BITWISE, "bitwise_invert", "clip", "conj", "imag", "real",
                  "positive", "sign", "floor_divide"])


def _unary(name, fn):
    def op(x, /):
        return fn(check_array(x, name))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} (the array API standard's ``{name}(x, /)``)."
    return op


def _rounding(name, fn):
    def op(x, /):
        x = check_array(x, name)
        return fn(x) if x.dtype.is_floating_point else x.clone()  # integers are already whole
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name}; integer arrays come back unchanged (as a copy)."
    return op


def _binary(name, fn):
    def op(x1, x2, /):
        a, b = operands(name, x1, x2)
        return fn(a, b)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} of two arrays, or of an array and a Python scalar."
    return op


def _bitwise(name, xp_name):
    def op(x1, x2, /):
        a, b = operands(name, x1, x2)
        if a.dtype.is_floating_point:
            raise TypeError(f"{name}: expected integer or bool arrays, got {a.dtype}")
        if xp_name.endswith("shift"):
            if a.dtype.name == "bool":
                raise TypeError(f"{name}: expected integer arrays, got bool")
            # Shifting by the bit width or more is undefined in C; define it as the limit NumPy gives.
            bits = a.dtype.itemsize * 8
            amount = a.xp.minimum(b._data, bits - 1) if xp_name == "right_shift" else b._data
            out = getattr(a.xp, xp_name)(a._data, amount)
            if xp_name == "left_shift":
                out = a.xp.where(b._data >= bits, 0, out).astype(a._data.dtype)
            return wrap_like(out, a)
        return wrap_like(getattr(a.xp, xp_name)(a._data, b._data), a)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} of integer or bool arrays (or an array and a Python int)."
    return op


for _name, _fn in _UNARY.items():
    globals()[_name] = _unary(_name, _fn)
for _name, _fn in _ROUNDING.items():
    globals()[_name] = _rounding(_name, _fn)
for _name, _fn in _BINARY.items():
    globals()[_name] = _binary(_name, _fn)
for _name, _xp_name in _BITWISE.items():
    globals()[_name] = _bitwise(_name, _xp_name)


def bitwise_invert(x, /):
    x = check_array(x, "bitwise_invert")
    if x.dtype.is_floating_point:
        raise TypeError(f"bitwise_invert: expected an integer or bool array, got {x.dtype}")
    return wrap_like(x.xp.invert(x._data), x)


def positive(x, /):
    return check_array(x, "positive").clone()


def real(x, /):
    """The real part: ndgrad has no complex dtypes yet, so a copy of ``x``."""
    return check_array(x, "real").clone()


def conj(x, /):
    """The complex conjugate: ndgrad has no complex dtypes yet, so a copy of ``x``."""
    return check_array(x, "conj").clone()


def imag(x, /):
    """The imaginary part: ndgrad has no complex dtypes yet, so zeros like ``x``."""
    return _nd.zeros_like(check_array(x, "imag"))


def clip(x, /, min=None, max=None):
    """``x`` limited to [min, max] (arrays or Python scalars, either may be None); keeps x's dtype, NaN stays."""
    x = check_array(x, "clip")
    out = x
    for bound, below in ((min, True), (max, False)):
        if bound is None:
            continue
        if not isinstance(bound, _nd.Tensor):
            bound = _nd.asarray(bound, dtype=x.dtype, device=x.device)
        elif bound.dtype is not x.dtype:
            bound = bound.to(x.dtype)
        out = _nd.where(out < bound if below else out > bound, bound, out)
    if out.shape != x.shape:
        out = out.contiguous()
    return out if out is not x else x.clone()


def sign(x, /):
    """-1, 0 or 1 by the sign of x; NaN stays NaN (PyTorch's sign gives 0 there)."""
    x = check_array(x, "sign")
    out = _nd.sign(x)
    return _nd.where(_nd.isnan(x), x, out) if x.dtype.is_floating_point else out


def floor_divide(x1, x2, /):
    """floor(x1 / x2) with IEEE results for infinities (inf // 2 is inf, -1 // inf is -0; PyTorch gives NaN
    and -1). Integer division by zero is left to the backend; the result has no gradient, as in PyTorch."""
    a, b = operands("floor_divide", x1, x2)
    if not a.dtype.is_floating_point:
        return _nd.floor_divide(a, b)
    xp, p, q = a.xp, a._data, b._data
    with _host_np.errstate(all="ignore"):
        # Beside an infinity, floor(p / q) is the IEEE answer; elsewhere floor_divide is exact.
        out = xp.where(xp.isinf(p) | xp.isinf(q), xp.floor(p / q), xp.floor_divide(p, q))
    return wrap_like(xp.asarray(out, dtype=p.dtype), a)

"""Element-wise functions with the standard's signatures (``x``, ``x1``, ``x2`` positional-only), promotion
(every array counts alike; Python scalars take the array's dtype) and integer rules (rounding an integer
array returns it unchanged)."""
import ndgrad as _nd

from ..backend import np as _host_np
from ._helpers import check_array, operands, wrap_like

_UNARY = {  # standard name -> ndgrad function (same meaning on the dtypes the standard allows)
    "abs": _nd.abs, "acos": _nd.acos, "acosh": _nd.acosh, "asin": _nd.asin, "asinh": _nd.asinh,
    "atan": _nd.atan, "atanh": _nd.atanh, "cos": _nd.cos, "cosh": _nd.cosh, "exp": _nd.exp,
    "expm1": None, "isfinite": _nd.isfinite, "isinf": _nd.isinf, "isnan": _nd.isnan, "log": _nd.log,
    "log1p": _nd.log1p, "log2": _nd.log2, "log10": _nd.log10, "logical_not": _nd.logical_not,
    "negative": _nd.negative, "reciprocal": _nd.reciprocal, "signbit": _nd.signbit,
    "sin": _nd.sin, "sinh": _nd.sinh, "square": _nd.square, "sqrt": _nd.sqrt, "tan": _nd.tan, "tanh": None,
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
        if x.dtype.is_complex:
            if name != "round":
                raise TypeError(f"{name}: complex arrays are not supported (the standard defines only round "
                                f"for them); apply it to real(x) and imag(x)")
            return wrap_like(x.xp.round(x._data), x)  # each part rounded; no gradient, as rounding has none
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
        if a.dtype.category >= 2:
            if all(isinstance(x, _nd.Tensor) and x.dtype.category == 1 for x in (x1, x2)):
                # NumPy's uint64 + signed integer is float64; the standard leaves that pair undefined.
                raise TypeError(f"{name}: {x1.dtype} and {x2.dtype} have no common integer dtype (uint64 with "
                                f"a signed integer); convert one first, e.g. astype(x, int64)")
            raise TypeError(f"{name}: expected integer or bool arrays, got {a.dtype}")
        if xp_name.endswith("shift"):
            if a.dtype.name == "bool":
                raise TypeError(f"{name}: expected integer arrays, got bool")
            # Shifting by the bit width or more is undefined in C; define it as the limit NumPy gives: 0, or
            # the sign's fill (-1 or 0) for a signed right shift.
            bits = a.dtype.itemsize * 8
            signed_right = xp_name == "right_shift" and a.dtype.is_signed
            amount = a.xp.minimum(b._data, bits - 1) if signed_right else b._data
            out = getattr(a.xp, xp_name)(a._data, amount)
            if not signed_right:
                out = a.xp.where(b._data >= bits, 0, out).astype(a._data.dtype)
            return wrap_like(out, a)
        return wrap_like(getattr(a.xp, xp_name)(a._data, b._data), a)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} of integer or bool arrays (or an array and a Python int)."
    return op


def _expm1(x):
    """exp(x) - 1; a complex x with an infinite or NaN part takes exp's IEEE special cases (the backend's
    complex expm1 gives NaN + NaN j there), finite ones keep expm1's accuracy near 0."""
    if not x.dtype.is_complex:
        return _nd.expm1(x)
    finite = _nd.isfinite(x)
    out = _nd.expm1(x) if bool(finite.all()) else \
        _nd.where(finite, _nd.expm1(_nd.where(finite, x, 0)), _nd.exp(x) - 1)
    zero = x == 0
    if bool(zero.any()):  # expm1(-0 + 0j) is +0 + 0j: adding +0 clears the real zero's sign, keeps the imaginary's
        unsigned = _nd.view_as_complex(_nd.stack([_nd.real(out) + 0.0, _nd.imag(out)], -1))
        out = _nd.where(zero, unsigned, out)
    return out


def _tanh(x):
    """tanh; at an infinite real part and finite imaginary part the standard asks for +-1 + 0j with the zero
    signed like the imaginary part (the backend signs it like sin(2 * imag))."""
    out = _nd.tanh(x)
    if not x.dtype.is_complex:
        return out
    re, im = _nd.real(x), _nd.imag(x)
    edge = _nd.isinf(re) & _nd.isfinite(im)
    if not bool(edge.any()):
        return out
    xp = x.xp
    limit = xp.empty(x._data.shape, dtype=x._data.dtype)  # (ndgrad.complex would lose the zero's sign)
    limit.real, limit.imag = xp.sign(re._data), xp.copysign(xp.zeros_like(im._data), im._data)
    return _nd.where(edge, wrap_like(limit, x), out)


_UNARY["expm1"], _UNARY["tanh"] = _expm1, _tanh
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
    if x.dtype.category >= 2:
        raise TypeError(f"bitwise_invert: expected an integer or bool array, got {x.dtype}")
    return wrap_like(x.xp.invert(x._data), x)


def positive(x, /):
    return check_array(x, "positive").clone()


def real(x, /):
    """The real part (float32 of complex64, float64 of complex128); a copy of a real-valued ``x``."""
    x = check_array(x, "real")
    return _nd.real(x).clone() if x.dtype.is_complex else x.clone()


def conj(x, /):
    """The complex conjugate, materialised (ndgrad's conj is a lazy view); a copy of a real-valued ``x``."""
    x = check_array(x, "conj")
    return _nd.conj_physical(x) if x.dtype.is_complex else x.clone()


def imag(x, /):
    """The imaginary part (float32 of complex64, float64 of complex128); zeros for a real-valued ``x``."""
    x = check_array(x, "imag")
    return _nd.imag(x).clone() if x.dtype.is_complex else _nd.zeros_like(x)


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
    """-1, 0 or 1 by the sign of x; NaN stays NaN (PyTorch's sign gives 0 there); x / |x| for complex x."""
    x = check_array(x, "sign")
    if x.dtype.is_complex:  # x / |x|, 0 at 0 (PyTorch's sgn)
        return _complex_sign(x)
    out = _nd.sign(x)
    return _nd.where(_nd.isnan(x), x, out) if x.dtype.is_floating_point else out


def _complex_sign(x):
    """x / |x|; an infinite component points the way (sgn gives NaN there: inf / inf)."""
    re, im = _nd.real(x), _nd.imag(x)
    infinite = (_nd.isinf(re) | _nd.isinf(im)) & ~_nd.isnan(re) & ~_nd.isnan(im)
    if not bool(infinite.any()):
        return _nd.sgn(x)
    way = _nd.complex(_nd.where(_nd.isinf(re), _nd.sign(re), 0.0), _nd.where(_nd.isinf(im), _nd.sign(im), 0.0))
    return _nd.where(infinite, _nd.sgn(way), _nd.sgn(_nd.where(infinite, 0, x)))


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

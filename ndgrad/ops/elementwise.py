"""Elementwise ops: arithmetic, math functions, comparisons, casts; forward and gradient side by side."""
import builtins
import operator

from .. import dtypes
from ..autograd.node import Node
from ..autograd.grad_mode import state as _grad_state
from ..backend import CPU, fused, host_sync, np, to_device
from ..tensor import Tensor, _new_tensor

_int = builtins.int
_ndarray = np.ndarray


def _raw(array, like):
    """A gradient computed on raw arrays, as a tensor on ``like``'s device."""
    if type(array) is not _ndarray and like._device is CPU:
        array = np.asarray(array)  # numpy turns 0-d results into scalars
    return _new_tensor(array, like._device)


# -- turning operands into tensors of one dtype -------------------------------------------------
def _scalar(value, dtype, device):
    try:
        arr = np.asarray(value, dtype=dtype.np)
    except OverflowError:  # an out-of-range int wraps around, as in PyTorch (uint8 tensor * -1 -> 255)
        arr = np.asarray(value).astype(dtype.np)
    if device is not CPU:
        arr = to_device(arr, device)
    return Tensor._wrap(arr, device)


def _as_tensor(x, like):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (_int, float, bool, complex)):
        return _scalar(x, dtypes.result_type(x), like._device)
    from ..creation import as_tensor
    return as_tensor(x, device=like._device)


def _prepare(a, b, op):
    """Both operands as tensors, plus the dtype the result has under PyTorch's promotion."""
    a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is and b_is:
        da, db = a._data.dtype, b._data.dtype
        if da == db:
            return a, b, None
        dt = dtypes.result_type(a, b)
    elif a_is:
        if not isinstance(b, (_int, float, bool, complex)):
            b = _as_tensor(b, a)
            return _prepare(a, b, op)
        dt = dtypes.result_type(a, b)
        b = _scalar(b, dt, a._device)
    elif b_is:
        if not isinstance(a, (_int, float, bool, complex)):
            a = _as_tensor(a, b)
            return _prepare(a, b, op)
        dt = dtypes.result_type(a, b)
        a = _scalar(a, dt, b._device)
    else:
        raise TypeError(f"{op}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}")
    cast = dt.np
    if a._data.dtype == cast and b._data.dtype == cast:
        cast = None
    return a, b, cast


class _Binary(Node):
    """A binary op whose forward casts both arrays to the promoted dtype first."""
    __slots__ = ("cast",)

    def __init__(self, cast=None):
        self.cast = cast

    def forward(self, a, b):
        if self.cast is not None:
            a = a.astype(self.cast, copy=False)
            b = b.astype(self.cast, copy=False)
        return self.compute(a, b)


class Add(_Binary):
    def compute(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(_Binary):
    def compute(self, a, b):
        return a - b

    def backward(self, grad):
        if not self.needs_input_grad[1]:
            return grad, None
        if not _grad_state.enabled:  # first order: no graph to record, work on the raw array
            return grad, _raw(-grad._data, grad)
        return grad, -grad


class Mul(_Binary):
    def compute(self, a, b):
        return a * b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        if not _grad_state.enabled and self.cast is None:
            g = grad._data
            return (_raw(g * self.input(1)._data, grad) if need_a else None,
                    _raw(g * self.input(0)._data, grad) if need_b else None)
        return (grad * self.input(1) if need_a else None,
                grad * self.input(0) if need_b else None)


class Div(_Binary):
    def compute(self, a, b):
        return a / b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        b = self.input(1)
        ga = grad / b if need_a else None
        # (a / b) / b, not a / (b * b): b * b overflows float16 (and float32) long before a / b does
        gb = -grad * ((self.input(0) / b) / b) if need_b else None
        return ga, gb


class Pow(_Binary):
    needs_output = True

    def compute(self, a, b):
        return self.xp.power(a, b)

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        a, b = self.input(0), self.input(1)
        ga = gb = None
        if need_a:
            # b * a**(b-1), with 0 where b == 0 (PyTorch's convention: d/da a**0 = 0, even at a = 0)
            ga = where(b == 0, 0.0, grad * b * pow(a, b - 1))
        if need_b:
            # a**b * log(a), with 0 where a == 0 and b >= 0 (the limit)
            b_pos = (b.real if b._data.dtype.kind == "c" else b) >= 0  # complex: torch tests the real part
            gb = where((a == 0) & b_pos, 0.0, grad * self.output() * log(a))
        return ga, gb


class PowScalar(Node):
    """x ** c for a Python number c: its own node, so no tensor is made for c."""
    __slots__ = ("exponent",)

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        c = self.exponent
        if c == 2:
            return x * x
        if c == 0.5:
            return self.xp.sqrt(x)
        if isinstance(c, float) and x.dtype.kind in "iub":
            x = x.astype(dtypes.get_default_dtype().np)
        if isinstance(c, _int) and c < 0 and x.dtype.kind in "iu":
            raise RuntimeError("pow: integers to negative integer powers are not allowed; use a float base")
        return self.xp.power(x, x.dtype.type(c) if x.dtype.kind == "f" else c)

    def backward(self, grad):
        c = self.exponent
        x = self.input(0)
        if c == 0:
            return grad * 0.0
        if c == 1:
            return grad
        if not _grad_state.enabled and x._data.dtype == grad._data.dtype:
            xd = x._data
            return _raw(grad._data * (2 * xd if c == 2 else c * xd ** (c - 1)), grad)
        if c == 2:
            return grad * (2.0 * x)
        return grad * (c * pow(x, c - 1))


class RPowScalar(Node):
    """c ** x for a Python number c."""
    __slots__ = ("base",)
    needs_output = True

    def __init__(self, base):
        self.base = base

    def forward(self, x):
        if x.dtype.kind in "iub" and isinstance(self.base, float):
            x = x.astype(dtypes.get_default_dtype().np)
        return self.xp.power(x.dtype.type(self.base) if x.dtype.kind == "f" else self.base, x)

    def backward(self, grad):
        import math
        if self.base == 0:
            return grad * 0.0
        return grad * self.output() * math.log(self.base)


class _Extremum(_Binary):
    """Maximum / Minimum: the winning input gets the gradient; ties split it evenly, like PyTorch.

    An input loses only where the other one beats it, so where either is NaN (the result is NaN)
    both get the whole gradient, as in PyTorch, instead of none.
    """
    __slots__ = ()
    _beats = None  # operator.gt for Maximum, operator.lt for Minimum

    def backward(self, grad):
        a, b = self.input(0), self.input(1)
        beats = type(self)._beats
        shared = where(a == b, grad * 0.5, grad)
        ga = where(beats(b, a), 0.0, shared) if self.needs_input_grad[0] else None
        gb = where(beats(a, b), 0.0, shared) if self.needs_input_grad[1] else None
        return ga, gb


class Maximum(_Extremum):
    _beats = staticmethod(operator.gt)

    def compute(self, a, b):
        return self.xp.maximum(a, b)


class Minimum(_Extremum):
    _beats = staticmethod(operator.lt)

    def compute(self, a, b):
        return self.xp.minimum(a, b)


# -- a tensor and a Python number: one-input nodes, no tensor made for the number -----------------
class _ScalarOp(Node):
    __slots__ = ("c",)

    def __init__(self, c):
        self.c = c


class AddScalar(_ScalarOp):
    def forward(self, x):
        return x + self.c

    def backward(self, grad):
        return grad


class RSubScalar(_ScalarOp):
    def forward(self, x):
        return self.c - x

    def backward(self, grad):
        return _raw(-grad._data, grad) if not _grad_state.enabled else -grad


class MulScalar(_ScalarOp):
    def forward(self, x):
        return x * self.c

    def backward(self, grad):
        return _raw(grad._data * self.c, grad) if not _grad_state.enabled else grad * self.c


class DivScalar(_ScalarOp):
    def forward(self, x):
        return x / self.c

    def backward(self, grad):
        return _raw(grad._data / self.c, grad) if not _grad_state.enabled else grad / self.c


class RDivScalar(_ScalarOp):
    needs_output = True

    def forward(self, x):
        return self.c / x

    def backward(self, grad):
        return -grad * self.output() / self.input(0)


_SCALAR_OPS = {  # op -> (tensor op number, number op tensor); float tensors only, where NumPy's
    # weak-scalar rule gives PyTorch's result dtype
    "add": (AddScalar, AddScalar), "mul": (MulScalar, MulScalar),
    "sub": (lambda c: AddScalar(-c), RSubScalar), "div": (DivScalar, RDivScalar),
}
_NUMBER = (float, _int)


def _binary(cls, a, b, name):
    scalar_ops = _SCALAR_OPS.get(name)
    if scalar_ops is not None:
        if type(b) in _NUMBER and type(a) is not float and a._data.dtype.kind == "f":
            return scalar_ops[0](b).apply(a)
        if type(a) in _NUMBER and isinstance(b, Tensor) and b._data.dtype.kind == "f":
            return scalar_ops[1](a).apply(b)
    a, b, cast = _prepare(a, b, name)
    if (a._data.dtype.kind == "c" if cast is None else cast.kind == "c"):  # complex: conjugate-Wirtinger rule
        return _complex_binary(cls, name)(cast).apply(a, b)
    return cls(cast).apply(a, b)


def _complex_binary(cls, name):
    if cls in (Maximum, Minimum, Atan2):
        raise NotImplementedError(f"{name} is not supported for complex tensors; compare .abs() or .real instead")
    from .complex_ops import holomorphic
    return holomorphic(cls)


def add(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add, input, other, "add")


def _is_bool(x):
    return x.__class__ is bool or (isinstance(x, Tensor) and x._data.dtype.kind == "b")


def sub(input, other, *, alpha=1):
    if _is_bool(input) or _is_bool(other):  # PyTorch refuses: a - b on masks is almost always a bug
        raise TypeError(f"sub: subtraction with a bool operand is not supported (got "
                        f"{getattr(input, 'dtype', type(input).__name__)} and "
                        f"{getattr(other, 'dtype', type(other).__name__)}); to invert a mask use ~ or "
                        f"logical_not(), for a difference of masks use ^ or logical_xor(), or convert first")
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub, input, other, "sub")


def rsub(input, other, alpha=1):
    return sub(other, input, alpha=alpha)


def mul(input, other):
    return _binary(Mul, input, other, "mul")


def div(input, other, *, rounding_mode=None):
    if rounding_mode is None:
        if (type(other) in _NUMBER and isinstance(input, Tensor) and input._data.dtype.kind == "f") or \
                (type(input) in _NUMBER and isinstance(other, Tensor) and other._data.dtype.kind == "f"):
            return _binary(Div, input, other, "div")
        a, b, cast = _prepare(input, other, "div")
        float_dt = dtypes.result_type(a, b)
        if float_dt.is_complex:
            return _complex_binary(Div, "div")(cast).apply(a, b)
        if not float_dt.is_floating_point:  # true division of integers gives the default float
            cast = dtypes.get_default_dtype().np
        return Div(cast).apply(a, b)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode != "trunc":
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', not {rounding_mode!r}")
    a, b, _ = _prepare(input, other, "div")
    dt = dtypes.result_type(a, b)
    if dt.is_floating_point:
        return trunc(div(a, b))
    _check_integer_divisor(b, dt, "div(rounding_mode='trunc')")
    # integer quotient rounded toward zero, exactly (a float detour loses int64 precision)
    x, y = a._data.astype(dt.np, copy=False), b._data.astype(dt.np, copy=False)
    xp = a.xp
    q = xp.floor_divide(x, y)
    q = q + ((q < 0) & (q * y != x)).astype(dt.np)
    return Tensor._wrap(xp.asarray(q), a._device)


true_divide = divide = div
multiply = mul
subtract = sub


def pow(input, exponent):
    if isinstance(exponent, (_int, float)) and not isinstance(exponent, bool) and isinstance(input, Tensor):
        if isinstance(exponent, float) and input._data.dtype.kind in "iub" or \
                (input._data.dtype.kind == "b"):
            input = cast(input, dtypes.result_type(input, exponent))
        if input._data.dtype.kind == "c":
            return _complex_binary(PowScalar, "pow")(exponent).apply(input)
        return PowScalar(exponent).apply(input)
    if isinstance(input, (_int, float)) and isinstance(exponent, Tensor):
        if exponent._data.dtype.kind in "iub":
            exponent = cast(exponent, dtypes.result_type(input, exponent))
        if exponent._data.dtype.kind == "c":
            return _complex_binary(RPowScalar, "pow")(input).apply(exponent)
        return RPowScalar(input).apply(exponent)
    return _binary(Pow, input, exponent, "pow")


def maximum(input, other):
    return _binary(Maximum, input, other, "maximum")


def minimum(input, other):
    return _binary(Minimum, input, other, "minimum")


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """Integer division or remainder by zero: PyTorch raises (a RuntimeError saying ZeroDivisionError)."""


def _check_integer_divisor(b, dt, op):
    """Integers have no inf: x // 0 would silently give 0 (NumPy only warns), so refuse, like PyTorch."""
    if dt.is_floating_point:
        return
    message = (f"ZeroDivisionError: {op}: integer division by zero (the divisor of dtype {dt} holds 0); "
               f"integers have no inf or nan, so convert to float first (x.float()) or mask out the zero divisors")
    if isinstance(b, Tensor):   # on a GPU the check waits for the next sync
        host_sync.check(op, b._data == 0, b._data, message, IntegerDivisionByZero)
    elif b == 0:
        raise IntegerDivisionByZero(message)


def floor_divide(input, other):
    a, b, cast = _prepare(input, other, "floor_divide")
    _check_integer_divisor(b, dtypes.result_type(a, b), "floor_divide")
    return _nondiff(lambda x, y: x // y, a, b, cast)


def remainder(input, other):
    a, b, cast = _prepare(input, other, "remainder")
    _check_integer_divisor(b, dtypes.result_type(a, b), "remainder")
    # x - floor(x / y) * y: differentiable in x (slope 1), like PyTorch
    return a - floor_divide(a, b) * b if (a.requires_grad or b.requires_grad) \
        else _nondiff(lambda x, y: np.remainder(x, y) if isinstance(x, np.ndarray) else x % y, a, b, cast)


def fmod(input, other):
    a, b, cast = _prepare(input, other, "fmod")
    _check_integer_divisor(b, dtypes.result_type(a, b), "fmod")
    if a.requires_grad or b.requires_grad:
        return a - trunc(a / b) * b
    return _nondiff(lambda x, y: a.xp.fmod(x, y), a, b, cast)


def _nondiff(fn, a, b, cast):
    if a._device != b._device:
        raise RuntimeError(f"expected both tensors on the same device, got {a._device} and {b._device}; "
                           f"move them with .to(device) first")
    x, y = a._data, b._data
    if cast is not None:
        x, y = x.astype(cast, copy=False), y.astype(cast, copy=False)
    out = fn(x, y)
    if a._device is CPU:
        out = np.asarray(out)
    return Tensor._wrap(out, a._device)


# -- unary math ------------------------------------------------------------------------------------
class _Unary(Node):
    """A unary op on floating-point data (integers are promoted to the default float first)."""
    __slots__ = ()
    float_only = True

    def forward(self, x):
        if self.float_only and x.dtype.kind in "iub":
            x = x.astype(dtypes.get_default_dtype().np)
        return self.compute(self.xp, x)


class Neg(_Unary):
    float_only = False

    def compute(self, xp, x):
        if x.dtype.kind == "b":
            raise RuntimeError("neg: negation of a bool tensor is not supported; use logical_not() or ~")
        return -x

    def backward(self, grad):
        return -grad


class Exp(_Unary):
    needs_output = True

    def compute(self, xp, x):
        return xp.exp(x)

    def backward(self, grad):
        if not _grad_state.enabled:
            return _raw(grad._data * self.output_array(), grad)
        return grad * self.output()


class Exp2(_Unary):
    needs_output = True

    def compute(self, xp, x):
        return xp.exp2(x)

    def backward(self, grad):
        return grad * self.output() * 0.6931471805599453


class Log(_Unary):
    def compute(self, xp, x):
        return xp.log(x)

    def backward(self, grad):
        return grad / self.input(0)


class Log2(_Unary):
    def compute(self, xp, x):
        return xp.log2(x)

    def backward(self, grad):
        return grad / (self.input(0) * 0.6931471805599453)


class Log10(_Unary):
    def compute(self, xp, x):
        return xp.log10(x)

    def backward(self, grad):
        return grad / (self.input(0) * 2.302585092994046)


class Log1p(_Unary):
    def compute(self, xp, x):
        return xp.log1p(x)

    def backward(self, grad):
        return grad / (self.input(0) + 1.0)


class Expm1(_Unary):
    needs_output = True

    def compute(self, xp, x):
        return xp.expm1(x)

    def backward(self, grad):
        return grad * (self.output() + 1.0)


class Sqrt(_Unary):
    needs_output = True

    def compute(self, xp, x):
        return xp.sqrt(x)

    def backward(self, grad):
        return grad / (2.0 * self.output())


class Rsqrt(_Unary):
    needs_output = True

    def compute(self, xp, x):
        return 1.0 / xp.sqrt(x)

    def backward(self, grad):
        out = self.output()
        return grad * (-0.5 * out * out * out)


class Abs(_Unary):
    float_only = False

    def compute(self, xp, x):
        return xp.abs(x)

    def backward(self, grad):
        return grad * sign(self.input(0))


class Sin(_Unary):
    def compute(self, xp, x):
        return xp.sin(x)

    def backward(self, grad):
        return grad * cos(self.input(0))


class Cos(_Unary):
    def compute(self, xp, x):
        return xp.cos(x)

    def backward(self, grad):
        return grad * -sin(self.input(0))


class Tan(_Unary):
    needs_output = True

    def compute(self, xp, x):
        return xp.tan(x)

    def backward(self, grad):
        out = self.output()
        return grad * (1.0 + out * out)


class Asin(_Unary):
    def compute(self, xp, x):
        return xp.arcsin(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * rsqrt(1.0 - x * x)


class Acos(_Unary):
    def compute(self, xp, x):
        return xp.arccos(x)

    def backward(self, grad):
        x = self.input(0)
        return -grad * rsqrt(1.0 - x * x)


class Atan(_Unary):
    def compute(self, xp, x):
        return xp.arctan(x)

    def backward(self, grad):
        x = self.input(0)
        return grad / (1.0 + x * x)


class Sinh(_Unary):
    def compute(self, xp, x):
        return xp.sinh(x)

    def backward(self, grad):
        return grad * cosh(self.input(0))


class Cosh(_Unary):
    def compute(self, xp, x):
        return xp.cosh(x)

    def backward(self, grad):
        return grad * sinh(self.input(0))


class Tanh(_Unary):
    needs_output = True

    def compute(self, xp, x):
        return xp.tanh(x)

    def backward(self, grad):
        if not _grad_state.enabled:  # first-order backward: one fused pass
            return _raw(fused.tanh_backward(grad._data, self.output_array()), grad)
        out = self.output()
        return grad * (1.0 - out * out)


class Sigmoid(_Unary):
    needs_output = True

    def compute(self, xp, x):
        # exp of -|x| never overflows: the same formula is stable for both signs
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)

    def backward(self, grad):
        if not _grad_state.enabled:
            return _raw(fused.sigmoid_backward(grad._data, self.output_array()), grad)
        out = self.output()
        return grad * (out * (1.0 - out))


class Relu(_Unary):
    needs_output = True
    float_only = False

    def compute(self, xp, x):
        return xp.maximum(x, 0) if x.dtype.kind != "b" else x

    def backward(self, grad):
        if not _grad_state.enabled and grad._data.dtype == self._out.dtype:
            return _raw(fused.relu_backward(grad._data, self.output_array()), grad)
        # "not <= 0" keeps the gradient at NaN (PyTorch's threshold rule), where "> 0" would drop it
        return where(self.output() <= 0, 0.0, grad)


class Clamp(_Unary):
    """clamp with Python-number bounds: the gradient passes where min <= x <= max."""
    __slots__ = ("lo", "hi")
    float_only = False

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def compute(self, xp, x):
        if x.dtype.kind in "iub" and (isinstance(self.lo, float) or isinstance(self.hi, float)):
            x = x.astype(dtypes.get_default_dtype().np)
        lo = None if self.lo is None else x.dtype.type(self.lo)
        hi = None if self.hi is None else x.dtype.type(self.hi)
        if lo is None:
            return xp.minimum(x, hi)
        if hi is None:
            return xp.maximum(x, lo)
        return xp.minimum(xp.maximum(x, lo), hi)

    def backward(self, grad):
        x = self.input(0)
        keep = None
        if self.lo is not None:
            keep = x >= self.lo
        if self.hi is not None:
            keep = (x <= self.hi) if keep is None else keep & (x <= self.hi)
        return where(keep, grad, 0.0)  # a select: a NaN gradient outside the range becomes 0, as in PyTorch


class _ZeroGrad(_Unary):
    """Piecewise-constant functions: defined gradient zero, like PyTorch."""
    float_only = False

    def backward(self, grad):
        return grad * 0.0


class Sign(_ZeroGrad):
    def compute(self, xp, x):
        if x.dtype.kind == "b":
            return x.copy()
        s = xp.sign(x)
        # PyTorch's sign(nan) is 0 (so abs' gradient at NaN is 0, not NaN); NumPy's is nan
        return xp.where(xp.isnan(s), 0, s).astype(s.dtype, copy=False) if x.dtype.kind in "fV" else s


def _rounding(fn, xp, x, *args):
    """floor/ceil/trunc/round on floats; bfloat16 (NumPy kind 'V') through float32; integers as they are."""
    if x.dtype.kind == "f":
        return fn(x, *args)
    if x.dtype.kind == "V":
        return fn(x.astype(xp.float32), *args).astype(x.dtype)
    return x.copy()


class Floor(_ZeroGrad):
    def compute(self, xp, x):
        return _rounding(xp.floor, xp, x)


class Ceil(_ZeroGrad):
    def compute(self, xp, x):
        return _rounding(xp.ceil, xp, x)


class Trunc(_ZeroGrad):
    def compute(self, xp, x):
        return _rounding(xp.trunc, xp, x)


class Round(_ZeroGrad):
    __slots__ = ("decimals",)

    def __init__(self, decimals=0):
        self.decimals = decimals

    def compute(self, xp, x):
        return _rounding(xp.round, xp, x, self.decimals)


class Where(Node):
    """where(cond, a, b): input 0 is the boolean condition, never differentiated."""
    __slots__ = ("cast",)

    def __init__(self, cast=None):
        self.cast = cast

    def forward(self, cond, a, b):
        if self.cast is not None:
            a, b = a.astype(self.cast, copy=False), b.astype(self.cast, copy=False)
        return self.xp.where(cond, a, b)

    def backward(self, grad):
        cond = self.input(0)
        ga = where(cond, grad, 0.0) if self.needs_input_grad[1] else None
        gb = where(cond, 0.0, grad) if self.needs_input_grad[2] else None
        return None, ga, gb


class Cast(Node):
    """Change dtype; the gradient is cast back to the input's dtype by the engine."""
    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype.np)

    def backward(self, grad):
        return grad


class ToDevice(Node):
    """Copy to another device; the gradient travels back to the input's device."""
    __slots__ = ("target", "source")

    def __init__(self, target):
        self.target = target

    def apply(self, x):
        # The output lives on another device than the input, so this op builds its node by hand.
        from ..autograd import grad_mode
        out = Tensor._wrap(to_device(x._data, self.target), self.target)
        self.source = x._device
        if grad_mode.state.enabled and x.requires_grad:
            self.inputs = (x,)
            self.needs_input_grad = (True,)
            self.next_functions = (x.grad_fn if x.grad_fn is not None else x,)
            self._versions = (x._version,)
            self._pre_hooks = self._retained = None
            self.device = self.target
            out.requires_grad = True
            out.grad_fn = self
        return out

    def backward(self, grad):
        return to_device_op(grad, self.source)


def to_device_op(x, device):
    return ToDevice(device).apply(x)


def cast(x, dtype):
    dtype = dtypes.to_dtype(dtype)
    if x._data.dtype == dtype.np:
        return x
    if x._data.dtype.kind == "c" and not dtype.is_complex:
        import warnings
        warnings.warn("Casting complex values to real discards the imaginary part", UserWarning, stacklevel=3)
        from .complex_ops import real
        x = real(x)
        if x._data.dtype == dtype.np:
            return x
    if x.requires_grad and not (dtype.is_floating_point or dtype.is_complex):
        return Tensor._wrap(x._data.astype(dtype.np), x._device)  # integer results carry no gradient
    return Cast(dtype).apply(x)



def _unary(cls):
    def op(input):
        if input._data.dtype.kind == "c":  # complex: conjugate-Wirtinger rules (ops/complex_ops.py)
            from .complex_ops import complex_unary
            return complex_unary(cls, input)
        return cls().apply(input)
    op.__name__ = cls.__name__.lower()
    return op


neg = negative = _unary(Neg)
exp = _unary(Exp)
exp2 = _unary(Exp2)
log = _unary(Log)
log2 = _unary(Log2)
log10 = _unary(Log10)
log1p = _unary(Log1p)
expm1 = _unary(Expm1)
sqrt = _unary(Sqrt)
rsqrt = _unary(Rsqrt)
abs = absolute = _unary(Abs)
sin = _unary(Sin)
cos = _unary(Cos)
tan = _unary(Tan)
asin = arcsin = _unary(Asin)
acos = arccos = _unary(Acos)
atan = arctan = _unary(Atan)
sinh = _unary(Sinh)
cosh = _unary(Cosh)
tanh = _unary(Tanh)
sigmoid = _unary(Sigmoid)
relu = _unary(Relu)
sign = _unary(Sign)
floor = _unary(Floor)
ceil = _unary(Ceil)
trunc = fix = _unary(Trunc)


def round(input, decimals=0):
    return Round(decimals).apply(input)


def square(input):
    if input._data.dtype.kind == "c":
        return pow(input, 2)
    return PowScalar(2).apply(input)


def reciprocal(input):
    return div(1.0, input)


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = where(out < min, min, out)
        if max is not None:
            out = where(out > max, max, out)
        return out
    if input._data.dtype.kind == "c":
        from .complex_ops import complex_unary
        return complex_unary(Clamp, input)
    return Clamp(min, max).apply(input)


clip = clamp


def where(condition, input=None, other=None):
    if input is None and other is None:
        from .index import nonzero
        return nonzero(condition, as_tuple=True)
    ref = next((t for t in (input, other, condition) if isinstance(t, Tensor)), None)
    cond = condition if isinstance(condition, Tensor) else _as_tensor(condition, ref)
    if cond._data.dtype.kind != "b":
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}; compare first, e.g. x > 0")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        dt = dtypes.result_type(input, other)
        input, other = _scalar(input, dt, cond._device), _scalar(other, dt, cond._device)
        cast = None
    else:
        input, other, cast = _prepare(input, other, "where")
    return Where(cast).apply(cond, input, other)


# -- comparisons and logic: never differentiable ----------------------------------------------------
def _compare(fn, name):
    ordered = name in ("lt", "le", "gt", "ge")

    def op(input, other):
        if ordered and (input._data.dtype.kind == "c" or
                        isinstance(other, Tensor) and other._data.dtype.kind == "c"):
            raise NotImplementedError(f"{name}: complex numbers have no order (dtype {input.dtype}); compare "
                                      f".real or .abs() instead")
        if not isinstance(other, Tensor) and not isinstance(other, (_int, float, bool, complex)):
            other = _as_tensor(other, input)
        if isinstance(other, Tensor):
            if input._device != other._device:
                raise RuntimeError(f"{name}: expected both tensors on the same device, got {input._device} "
                                   f"and {other._device}; move them with .to(device) first")
            other = other._data
        out = fn(input._data, other)
        if input._device is CPU and type(out) is not np.ndarray:
            out = np.asarray(out)
        return Tensor._wrap(out, input._device)
    op.__name__ = name
    return op


eq = _compare(lambda a, b: a == b, "eq")
ne = not_equal = _compare(lambda a, b: a != b, "ne")
lt = less = _compare(lambda a, b: a < b, "lt")
le = less_equal = _compare(lambda a, b: a <= b, "le")
gt = greater = _compare(lambda a, b: a > b, "gt")
ge = greater_equal = _compare(lambda a, b: a >= b, "ge")


def _logical(fn, name):
    def op(input, other):
        other_data = other._data if isinstance(other, Tensor) else other
        xp = input.xp
        out = fn(xp, input._data.astype(bool, copy=False), xp.asarray(other_data).astype(bool, copy=False))
        return Tensor._wrap(xp.asarray(out), input._device)
    op.__name__ = name
    return op


logical_and = _logical(lambda xp, a, b: xp.logical_and(a, b), "logical_and")
logical_or = _logical(lambda xp, a, b: xp.logical_or(a, b), "logical_or")
logical_xor = _logical(lambda xp, a, b: xp.logical_xor(a, b), "logical_xor")


def _bool_map(name):
    """A non-differentiable one-input op returning a bool tensor: ``xp.<name>`` on the raw array."""
    def op(input):
        xp = input.xp
        return Tensor._wrap(xp.asarray(getattr(xp, name)(input._data)), input._device)
    op.__name__ = name
    return op


logical_not = _bool_map("logical_not")


def _bitwise(fn, name):
    def op(input, other):
        if isinstance(input, Tensor) and input._data.dtype.kind == "f" or \
                isinstance(other, Tensor) and other._data.dtype.kind == "f":
            raise TypeError(f"{name}: bitwise/logical operators need bool or integer tensors, not float; "
                            f"compare first (e.g. (x > 0) & (y > 0))")
        if not isinstance(input, Tensor):
            input, other = other, input
        other_data = other._data if isinstance(other, Tensor) else other
        out = fn(input._data, other_data)
        return Tensor._wrap(input.xp.asarray(out), input._device)
    op.__name__ = name
    return op


bitwise_and = _bitwise(lambda a, b: a & b, "bitwise_and")
bitwise_or = _bitwise(lambda a, b: a | b, "bitwise_or")
bitwise_xor = _bitwise(lambda a, b: a ^ b, "bitwise_xor")


def bitwise_not(input):
    if input._data.dtype.kind == "f":
        raise TypeError("bitwise_not: needs a bool or integer tensor, not float")
    return Tensor._wrap(input.xp.asarray(~input._data), input._device)


isnan = _bool_map("isnan")
isinf = _bool_map("isinf")
isfinite = _bool_map("isfinite")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    other = other._data if isinstance(other, Tensor) else other
    return Tensor._wrap(input.xp.asarray(input.xp.isclose(input._data, other, rtol, atol, equal_nan)),
                        input._device)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other):
    return tuple(input.shape) == tuple(other.shape) and bool((input._data == other._data).all())


def lerp(input, end, weight):
    return input + weight * (end - input)


class Atan2(_Binary):
    def compute(self, a, b):
        return self.xp.arctan2(a, b)

    def backward(self, grad):
        y, x = self.input(0), self.input(1)
        scale = grad / (x * x + y * y)
        return (scale * x if self.needs_input_grad[0] else None,
                -scale * y if self.needs_input_grad[1] else None)


def atan2(input, other):
    a, b, cast = _prepare(input, other, "atan2")
    if not dtypes.result_type(a, b).is_floating_point:
        cast = dtypes.get_default_dtype().np
    return Atan2(cast).apply(a, b)


arctan2 = atan2


__all__ = [
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "pow", "neg", "negative", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1",
    "sqrt", "rsqrt", "abs", "absolute", "sin", "cos", "tan", "asin", "arcsin", "acos", "arccos", "atan",
    "arctan", "sinh", "cosh", "tanh", "sigmoid", "relu", "sign", "floor", "ceil", "trunc", "fix", "round",
    "square", "reciprocal", "clamp", "clip", "maximum", "minimum", "where", "eq", "ne", "not_equal", "lt",
    "less", "le", "less_equal", "gt", "greater", "ge", "greater_equal", "logical_and", "logical_or",
    "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan",
    "isinf", "isfinite", "isclose", "allclose", "equal", "lerp", "atan2", "arctan2",
]


def _reflect(fn):
    return lambda self, other: fn(other, self)


METHODS = {
    "__add__": add, "__radd__": _reflect(add), "__sub__": sub, "__rsub__": _reflect(sub),
    "__mul__": mul, "__rmul__": _reflect(mul), "__truediv__": div, "__rtruediv__": _reflect(div),
    "__floordiv__": floor_divide, "__rfloordiv__": _reflect(floor_divide),
    "__mod__": remainder, "__rmod__": _reflect(remainder),
    "__pow__": pow, "__rpow__": _reflect(pow), "__neg__": neg, "__abs__": abs, "__pos__": lambda self: self,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__and__": bitwise_and, "__rand__": _reflect(bitwise_and), "__or__": bitwise_or,
    "__ror__": _reflect(bitwise_or), "__xor__": bitwise_xor, "__rxor__": _reflect(bitwise_xor),
    "__invert__": lambda self: logical_not(self) if self._data.dtype.kind == "b" else bitwise_not(self),
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div, "divide": div,
    "true_divide": div, "floor_divide": floor_divide, "remainder": remainder, "fmod": fmod, "pow": pow,
    "neg": neg, "negative": neg, "exp": exp, "exp2": exp2, "log": log, "log2": log2, "log10": log10,
    "log1p": log1p, "expm1": expm1, "sqrt": sqrt, "rsqrt": rsqrt, "abs": abs, "absolute": abs, "sin": sin,
    "cos": cos, "tan": tan, "asin": asin, "arcsin": asin, "acos": acos, "arccos": acos, "atan": atan,
    "arctan": atan, "sinh": sinh, "cosh": cosh, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "sign": sign, "floor": floor, "ceil": ceil, "trunc": trunc, "fix": trunc, "round": round,
    "square": square, "reciprocal": reciprocal, "clamp": clamp, "clip": clamp, "maximum": maximum,
    "minimum": minimum, "where": lambda self, condition, other: where(condition, self, other),
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "greater": gt, "less": lt,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "logical_not": logical_not, "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not, "isnan": isnan, "isinf": isinf,
    "isfinite": isfinite, "isclose": isclose, "allclose": allclose, "equal": equal, "lerp": lerp,
    "atan2": atan2, "rsub": rsub,
}

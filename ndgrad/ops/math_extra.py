"""More math: special functions, float-only binary ops, NaN-aware reductions, fused matrix products.

Special functions (erf, lgamma, digamma, polygamma, i0 ...) take their kernels from SciPy on the CPU
and from ``cupyx.scipy.special`` on a GPU; every rule's backward is written with Tensor ops, so
higher derivatives work. Most of the rest is composed from existing differentiable ops.
"""
import math
from collections import namedtuple

from .. import dtypes
from ..autograd.node import Node
from ..tensor import Tensor
from . import elementwise as ew
from . import linalg, reduce, shape
from .elementwise import _Binary, _nondiff, _prepare

frexp_result = namedtuple("frexp", ["mantissa", "exponent"])


def _special(xp):
    """scipy.special (CPU) or cupyx.scipy.special (GPU), imported on first use."""
    try:
        if xp.__name__ == "numpy":
            import scipy.special as sp
        else:
            import cupyx.scipy.special as sp
    except ImportError as exc:
        raise ImportError("ndgrad's special functions (erf, lgamma, digamma, i0 ...) need SciPy: "
                          "pip install scipy") from exc
    return sp


def _to_float(x):
    """Integer and bool tensors become the default float (what torch does for these functions)."""
    if x._data.dtype.kind in "iub":
        return ew.cast(x, dtypes.get_default_dtype())
    return x


def _float_pair(input, other, name):
    """Both operands as tensors of one floating dtype (integers promote to the default float)."""
    a, b, cast = _prepare(input, other, name)
    if not dtypes.result_type(a, b).is_floating_point:
        cast = dtypes.get_default_dtype().np
    return a, b, cast


# -- special functions of one argument -------------------------------------------------------------
class _Special(Node):
    """``compute(xp, special_module, x)`` on a float array; the result keeps the input's dtype."""
    __slots__ = ()

    def forward(self, x):
        if x.dtype.kind in "iub":
            x = x.astype(dtypes.get_default_dtype().np)
        # SciPy has no float16/bfloat16 kernels: compute those in float32 and round back, as torch does
        wide = x.astype(self.xp.float32) if x.dtype.itemsize < 4 else x
        out = self.compute(self.xp, wide)
        return self.xp.asarray(out).astype(x.dtype, copy=False)


class Erf(_Special):
    def compute(self, xp, x):
        return _special(xp).erf(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * (2.0 / math.sqrt(math.pi)) * ew.exp(-(x * x))


class Erfc(_Special):
    def compute(self, xp, x):
        return _special(xp).erfc(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * (-2.0 / math.sqrt(math.pi)) * ew.exp(-(x * x))


class Erfinv(_Special):
    needs_output = True

    def compute(self, xp, x):
        return _special(xp).erfinv(x)

    def backward(self, grad):
        y = self.output()
        return grad * (math.sqrt(math.pi) / 2.0) * ew.exp(y * y)


class Lgamma(_Special):
    def compute(self, xp, x):
        return _special(xp).gammaln(x)

    def backward(self, grad):
        return grad * digamma(self.input(0))


class Polygamma(_Special):
    """polygamma(n, x); n = 0 is digamma."""
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def compute(self, xp, x):
        sp = _special(xp)
        if self.n == 0:
            return sp.digamma(x)
        return sp.polygamma(self.n, x)

    def backward(self, grad):
        return grad * Polygamma(self.n + 1).apply(self.input(0))


class I0(_Special):
    def compute(self, xp, x):
        return _special(xp).i0(x)

    def backward(self, grad):
        return grad * I1().apply(self.input(0))


class I1(_Special):
    def compute(self, xp, x):
        return _special(xp).i1(x)

    def backward(self, grad):
        x = self.input(0)
        safe = ew.where(x == 0, 1.0, x)
        # I1'(x) = I0(x) - I1(x) / x, which tends to 1/2 at x = 0
        return grad * ew.where(x == 0, 0.5, I0().apply(x) - I1().apply(safe) / safe)


class Asinh(_Special):
    def compute(self, xp, x):
        return xp.arcsinh(x)

    def backward(self, grad):
        x = self.input(0)
        return grad / ew.sqrt(x * x + 1)


class Acosh(_Special):
    def compute(self, xp, x):
        return xp.arccosh(x)

    def backward(self, grad):
        x = self.input(0)
        return grad / ew.sqrt(x * x - 1)


class Atanh(_Special):
    def compute(self, xp, x):
        return xp.arctanh(x)

    def backward(self, grad):
        x = self.input(0)
        return grad / (1 - x * x)


def erf(input):
    return Erf().apply(input)


def erfc(input):
    return Erfc().apply(input)


def erfinv(input):
    return Erfinv().apply(input)


def lgamma(input):
    return Lgamma().apply(input)


def digamma(input):
    return Polygamma(0).apply(input)


def polygamma(n, input):
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"polygamma: n must be a non-negative integer, got {n!r}")
    return Polygamma(n).apply(input)


def i0(input):
    return I0().apply(input)


def i1(input):
    return I1().apply(input)


def asinh(input):
    return Asinh().apply(input)


def acosh(input):
    return Acosh().apply(input)


def atanh(input):
    return Atanh().apply(input)


def mvlgamma(input, p):
    """Multivariate log-gamma of dimension ``p``: sum of lgamma(x - i/2) plus a constant."""
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    x = _to_float(input)  # like torch, x <= (p-1)/2 gives inf/nan rather than an error
    out = lgamma(x)
    for i in range(1, p):
        out = out + lgamma(x - i / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


def logit(input, eps=None):
    x = _to_float(input)
    if eps is not None:
        x = ew.clamp(x, eps, 1.0 - eps)
    return ew.log(x / (1 - x))


def sinc(input):
    """sin(pi x) / (pi x), 1 at x = 0 (with gradient 0 there)."""
    x = _to_float(input)
    zero = x == 0
    scaled = ew.where(zero, 1.0, x) * math.pi
    return ew.where(zero, 1.0, ew.sin(scaled) / scaled)


def sgn(input):
    return ew.sign(input)


def positive(input):
    if input._data.dtype.kind == "b":
        raise RuntimeError("positive: the `+` operator on a bool tensor is not supported; "
                           "convert it first (e.g. x.int())")
    return input


def signbit(input):
    return Tensor._wrap(input.xp.asarray(input.xp.signbit(input._data)), input._device)


def deg2rad(input):
    return _to_float(input) * (math.pi / 180.0)


def rad2deg(input):
    return _to_float(input) * (180.0 / math.pi)


def frac(input):
    if input._data.dtype.kind in "iub":
        raise RuntimeError(f"frac: not implemented for {input.dtype} tensors (the fractional part of an "
                           f"integer is 0); use a floating-point tensor")
    return input - ew.trunc(input)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +inf -> ``posinf`` (default: dtype max), -inf -> ``neginf`` (default: dtype min)."""
    if input._data.dtype.kind != "f":
        return input.clone()
    xp = input.xp
    filled = xp.nan_to_num(input._data, nan=nan, posinf=posinf, neginf=neginf)
    return ew.where(ew.isfinite(input), input, Tensor._wrap(xp.asarray(filled), input._device))


def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2**exponent; the mantissa carries the gradient."""
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"frexp: only supports floating-point dtypes, got {input.dtype}")
    xp = input.xp
    _, exponent = xp.frexp(input._data)
    scale = xp.asarray(xp.ldexp(xp.ones_like(input._data), -exponent))  # 2**-e, exact
    mantissa = input * Tensor._wrap(scale, input._device)
    return frexp_result(mantissa, Tensor._wrap(xp.asarray(exponent.astype(xp.int32)), input._device))


def ldexp(input, other):
    return ew.mul(input, ew.exp2(other if isinstance(other, Tensor) else ew._as_tensor(other, input)))


# -- binary ops --------------------------------------------------------------------------------------
class Hypot(_Binary):
    needs_output = True

    def compute(self, a, b):
        return self.xp.hypot(a, b)

    def backward(self, grad):
        out = self.output()
        return (grad * self.input(0) / out if self.needs_input_grad[0] else None,
                grad * self.input(1) / out if self.needs_input_grad[1] else None)


class Copysign(_Binary):
    needs_output = True

    def compute(self, a, b):
        return self.xp.copysign(a, b)

    def backward(self, grad):
        a = self.input(0)
        ga = gb = None
        if self.needs_input_grad[0]:
            ratio = ew.where(a == 0, 0.0, self.output() / ew.where(a == 0, 1.0, a))
            ga = grad * ratio
        if self.needs_input_grad[1]:
            gb = grad * 0  # the sign of ``other`` moves the result by jumps only
        return ga, gb


class LogAddExp(_Binary):
    """log(e^a + e^b); ``base2`` gives log2(2^a + 2^b)."""
    __slots__ = ("base2",)

    def __init__(self, cast=None, base2=False):
        self.cast, self.base2 = cast, base2

    def compute(self, a, b):
        with _quiet(self.xp):  # -inf with -inf is -inf (NumPy warns on the way)
            return self.xp.logaddexp2(a, b) if self.base2 else self.xp.logaddexp(a, b)

    def backward(self, grad):
        a, b = self.input(0), self.input(1)
        diff = (a - b) * math.log(2.0) if self.base2 else a - b
        return (grad * ew.sigmoid(diff) if self.needs_input_grad[0] else None,
                grad * ew.sigmoid(-diff) if self.needs_input_grad[1] else None)


def _no_int(name, *tensors):
    for t in tensors:
        if t._data.dtype.kind in "iub":
            raise RuntimeError(f"{name}: not implemented for {t.dtype} tensors; use floating-point tensors "
                               f"(e.g. x.float())")


def hypot(input, other):
    a, b, cast = _prepare(input, other, "hypot")
    _no_int("hypot", a, b)
    return Hypot(cast).apply(a, b)


def copysign(input, other):
    a, b, cast = _float_pair(input, other, "copysign")
    return Copysign(cast).apply(a, b)


def logaddexp(input, other):
    a, b, cast = _prepare(input, other, "logaddexp")
    _no_int("logaddexp", a, b)
    return LogAddExp(cast).apply(a, b)


def logaddexp2(input, other):
    a, b, cast = _prepare(input, other, "logaddexp2")
    _no_int("logaddexp2", a, b)
    return LogAddExp(cast, base2=True).apply(a, b)


class XLogY(_Binary):
    def compute(self, a, b):
        xp = self.xp
        with _quiet(xp):
            out = a * xp.log(b)
        return xp.where((a == 0) & ~xp.isnan(b), out.dtype.type(0), out)

    def backward(self, grad):
        a, b = self.input(0), self.input(1)
        ga = grad * xlogy((a != 0).to(grad.dtype), b) if self.needs_input_grad[0] else None
        gb = grad * a / b if self.needs_input_grad[1] else None  # 0/0 stays NaN, as in torch
        return ga, gb


def _quiet(xp):
    return xp.errstate(divide="ignore", invalid="ignore") if hasattr(xp, "errstate") else _NoOp()


class _NoOp:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def xlogy(input, other):
    """x * log(y), and 0 where x == 0 (unless y is NaN)."""
    a, b, cast = _float_pair(input, other, "xlogy")
    return XLogY(cast).apply(a, b)


def _fextremum(input, other, keep_first):
    a, b, cast = _prepare(input, other, "fmax")
    return ew.where(keep_first(a, b) | ew.isnan(b), a, b)


def fmax(input, other):
    """Elementwise maximum that ignores NaN (NaN only where both are NaN)."""
    return _fextremum(input, other, lambda a, b: a >= b)


def fmin(input, other):
    """Elementwise minimum that ignores NaN (NaN only where both are NaN)."""
    return _fextremum(input, other, lambda a, b: a <= b)


def float_power(input, exponent):
    """pow computed in float64 (the result is always float64)."""
    f64 = dtypes.float64
    base = ew.cast(input, f64) if isinstance(input, Tensor) else float(input)
    exp = ew.cast(exponent, f64) if isinstance(exponent, Tensor) else float(exponent)
    return ew.pow(base, exp)


def heaviside(input, values):
    """0 where x < 0, ``values`` where x == 0, 1 where x > 0 (not differentiable)."""
    a, b, cast = _prepare(input, values, "heaviside")
    return _nondiff(lambda x, y: a.xp.heaviside(x, y).astype(x.dtype, copy=False), a, b, cast)


def _integer_op(name):
    def op(input, other):
        a, b, cast = _prepare(input, other, name)
        for t in (a, b):
            if t._data.dtype.kind not in "iu":
                raise RuntimeError(f"{name}: needs integer tensors, got {t.dtype}")
        return _nondiff(lambda x, y: getattr(a.xp, name)(x, y), a, b, cast)
    op.__name__ = name
    return op


gcd = _integer_op("gcd")
lcm = _integer_op("lcm")


def nextafter(input, other):
    a, b, cast = _prepare(input, other, "nextafter")
    _no_int("nextafter", a, b)
    return _nondiff(lambda x, y: a.xp.nextafter(x, y), a, b, cast)


def clamp_min(input, min):
    return ew.clamp(input, min=min)


def clamp_max(input, max):
    return ew.clamp(input, max=max)


# -- NaN-aware reductions -----------------------------------------------------------------------------
class ZeroNaN(Node):
    """NaN -> 0; the gradient is multiplied by the not-NaN mask (so a NaN gradient stays NaN, as in torch)."""
    __slots__ = ("kept",)

    def forward(self, x):
        self.kept = ~self.xp.isnan(x)
        return self.xp.where(self.kept, x, x.dtype.type(0))

    def backward(self, grad):
        return grad * Tensor._wrap(self.kept.astype(grad._data.dtype), grad._device)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    if input._data.dtype.kind == "f":
        input = ZeroNaN().apply(input)
    return reduce.sum(input, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {input.dtype}")
    total = nansum(input, dim, keepdim, dtype=dtype)
    return total / reduce.sum(~ew.isnan(input), dim, keepdim).to(total.dtype)


# -- fused products: beta * input + alpha * (product) -------------------------------------------------
def _scaled_sum(input, product, beta, alpha):
    if alpha != 1:
        product = product * alpha
    if beta == 0:  # torch ignores input then, NaN and inf included
        return product
    return product + (input * beta if beta != 1 else input)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    return _scaled_sum(input, linalg.mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    return _scaled_sum(input, linalg.mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    return _scaled_sum(input, linalg.outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, linalg.bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, reduce.sum(linalg.bmm(batch1, batch2), 0), beta, alpha)


def addcmul(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 * tensor2 if value != 1 else input + tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, *, value=1):
    if all(isinstance(t, Tensor) and t._data.dtype.kind in "iub" for t in (tensor1, tensor2)):
        raise RuntimeError("addcdiv: integer division with addcdiv is not supported; divide the tensors "
                           "with true_divide, or convert them to floating point first")
    return input + value * (tensor1 / tensor2) if value != 1 else input + tensor1 / tensor2


# -- vector and matrix helpers ------------------------------------------------------------------------
def cross(input, other, dim=None):
    """Cross product of 3-vectors along ``dim`` (default: the first dimension of size 3)."""
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got shapes "
                           f"{tuple(input.shape)} and {tuple(other.shape)}; unsqueeze the smaller one first")
    a, b = shape.broadcast_tensors(input, other)
    if dim is None:
        dim = next((d for d, n in enumerate(a.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in input of shape {tuple(a.shape)}; "
                               f"pass dim= explicitly")
    if a.ndim == 0 or not -a.ndim <= dim < a.ndim:
        raise IndexError(f"cross: dim {dim} out of range for tensors of shape {tuple(a.shape)}")
    if a.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[dim]} and {other.shape[dim]} "
                           f"(shapes {tuple(input.shape)} and {tuple(other.shape)})")
    a0, a1, a2 = shape.unbind(a, dim)
    b0, b1, b2 = shape.unbind(b, dim)
    return shape.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def kron(input, other):
    """Kronecker product: every element of ``input`` scales a copy of ``other``."""
    n = max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + tuple(input.shape)
    sb = (1,) * (n - other.ndim) + tuple(other.shape)
    a = input.reshape(*[s for d in sa for s in (d, 1)])
    b = other.reshape(*[s for d in sb for s in (1, d)])
    return (a * b).reshape(*[x * y for x, y in zip(sa, sb)])


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between the rows of ``x1`` (..., P, M) and of ``x2`` (..., R, M)."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} "
                           f"X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got p={p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 0:  # a count: torch's gradient is zero
        return reduce.sum(diff != 0, -1).to(diff.dtype) + reduce.sum(diff * 0, -1)
    if p == math.inf:
        return reduce.amax(ew.abs(diff), -1) if diff.shape[-1] else reduce.sum(diff, -1) * 0
    powered = reduce.sum(ew.abs(diff) if p == 1 else ew.pow(ew.abs(diff), p), -1)
    if p == 1:
        return powered
    zero = powered == 0  # the root's slope is infinite at 0: torch's gradient there is 0
    return ew.where(zero, 0.0, ew.pow(ew.where(zero, 1.0, powered), 1.0 / p))


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) of ``input`` over its columns (observations)."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    x = _to_float(input)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    n = x.shape[1]
    w = None
    if fweights is not None:
        if fweights._data.dtype.kind not in "iu":
            raise RuntimeError(f"cov(): expected fweights to have integral dtype, got {fweights.dtype}")
        w = fweights
    if aweights is not None:
        if aweights._data.dtype.kind != "f":
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype, got {aweights.dtype}")
        w = aweights if w is None else w * aweights
    if w is None:
        avg = reduce.mean(x, 1, keepdim=True)
        norm = n - correction
        centred = x - avg
        c = linalg.mm(centred, centred.t())
    else:
        w = w.to(x.dtype)
        w_sum = reduce.sum(w)
        avg = reduce.sum(x * w, 1, keepdim=True) / w_sum
        norm = w_sum - (correction * reduce.sum(w * aweights) / w_sum if aweights is not None else correction)
        centred = x - avg
        c = linalg.mm(centred * w, centred.t())
    if isinstance(norm, Tensor):
        norm = ew.clamp(norm, min=0)
    else:
        norm = max(norm, 0)
    c = c / norm
    return c.reshape(()) if c.shape[0] == 1 else c  # torch squeezes a single variable to 0-d


def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input``, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = ew.sqrt(shape.diagonal(c))
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return ew.clamp(c, -1, 1)


def renorm(input, p, dim, maxnorm):
    """Rescale each slice along ``dim`` whose p-norm exceeds ``maxnorm`` to norm ``maxnorm``."""
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive norm p={p} is not supported")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim}D")
    dim = dim % input.ndim
    others = [d for d in range(input.ndim) if d != dim]
    powered = reduce.sum(ew.pow(ew.abs(input), p), others, keepdim=True)
    over = powered > maxnorm ** p
    norm = ew.pow(ew.where(over, powered, 1.0), 1.0 / p)
    return input * ew.where(over, maxnorm / (norm + 1e-7), 1.0)


__all__ = [
    "erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "mvlgamma", "i0", "asinh", "acosh", "atanh",
    "arcsinh", "arccosh", "arctanh", "xlogy", "logit", "sinc", "hypot", "copysign", "heaviside",
    "float_power", "fmax", "fmin", "gcd", "lcm", "nan_to_num", "nansum", "nanmean", "logaddexp", "logaddexp2",
    "deg2rad", "rad2deg", "frac", "ldexp", "frexp", "nextafter", "signbit", "sgn", "positive", "addmm",
    "addmv", "addr", "addbmm", "baddbmm", "addcmul", "addcdiv", "cross", "kron", "cdist", "cov", "corrcoef",
    "renorm", "clamp_min", "clamp_max",
]
arcsinh, arccosh, arctanh = asinh, acosh, atanh

METHODS = {name: globals()[name] for name in __all__ if name not in ("cdist",)}
METHODS.update({
    "arctan2": ew.atan2,
    "polygamma": lambda self, n: polygamma(n, self),
    "ldexp": ldexp,
})
# comparison spellings torch has as methods, for the ones ndgrad's Tensor lacks
METHODS.update({name: fn for name, fn in (("less_equal", ew.le), ("greater_equal", ew.ge), ("not_equal", ew.ne))
                if not hasattr(Tensor, name)})

"""The torch.special functions that have gradients (the ones ndgrad.ops does not already define).

Each is a Node whose forward calls scipy.special / cupyx.scipy.special and whose backward is written
with Tensor ops, so higher derivatives work.
"""
import math

from .. import dtypes
from ..ops import elementwise as ew
from ..ops import math_extra as mx
from ..ops.elementwise import _Binary
from ..ops.math_extra import _float_pair, _quiet, _Special
from ..tensor import Tensor
from ._kernels import kernel

_SQRT_2PI = math.sqrt(2 * math.pi)


class I0e(_Special):
    """Exponentially scaled I0: exp(-|x|) I0(x)."""
    needs_output = True

    def compute(self, xp, x):
        return kernel(xp, "i0e")(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * (I1e().apply(x) - ew.sign(x) * self.output())


class I1e(_Special):
    """Exponentially scaled I1: exp(-|x|) I1(x)."""
    needs_output = True

    def compute(self, xp, x):
        return kernel(xp, "i1e")(x)

    def backward(self, grad):
        x = self.input(0)
        safe = ew.where(x == 0, 1.0, x)
        slope = I0e().apply(x) - self.output() * (ew.sign(x) + 1 / safe)
        return grad * ew.where(x == 0, 0.5, slope)


class Erfcx(_Special):
    """Scaled complementary error function exp(x**2) erfc(x)."""
    needs_output = True

    def compute(self, xp, x):
        return kernel(xp, "erfcx")(x)

    def backward(self, grad):
        return grad * (2 * self.input(0) * self.output() - 2 / math.sqrt(math.pi))


class Ndtr(_Special):
    """The standard normal CDF."""

    def compute(self, xp, x):
        return kernel(xp, "ndtr")(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * ew.exp(-(x * x) / 2) / _SQRT_2PI


class Ndtri(_Special):
    """The inverse of the standard normal CDF (SciPy's kernel keeps the tails accurate)."""
    needs_output = True

    def compute(self, xp, x):
        return kernel(xp, "ndtri")(x)

    def backward(self, grad):
        out = self.output()
        return grad * _SQRT_2PI * ew.exp(out * out / 2)


class LogNdtr(_Special):
    """log of the standard normal CDF, accurate far into the left tail."""
    needs_output = True

    def compute(self, xp, x):
        return kernel(xp, "log_ndtr")(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * ew.exp(-(x * x) / 2 - self.output()) / _SQRT_2PI


class Entr(_Special):
    """-x log x (0 at 0, -inf for x < 0)."""

    def compute(self, xp, x):
        return kernel(xp, "entr")(x)

    def backward(self, grad):
        return grad * -(ew.log(self.input(0)) + 1)


class _WideBinary(_Binary):
    """A binary SciPy kernel: float16/bfloat16 are computed in float32 and rounded back, as torch does."""
    __slots__ = ()

    def forward(self, a, b):
        if self.cast is not None:
            a, b = a.astype(self.cast, copy=False), b.astype(self.cast, copy=False)
        out_dtype = a.dtype
        if out_dtype.itemsize < 4:
            a, b = a.astype(self.xp.float32), b.astype(self.xp.float32)
        return self.xp.asarray(self.compute(a, b)).astype(out_dtype, copy=False)


class XLog1py(_WideBinary):
    def compute(self, a, b):
        xp = self.xp
        with _quiet(xp):
            out = a * xp.log1p(b)
        return xp.where((a == 0) & ~xp.isnan(b), out.dtype.type(0), out)

    def backward(self, grad):
        a, b = self.input(0), self.input(1)
        ga = grad * xlog1py((a != 0).to(grad.dtype), b) if self.needs_input_grad[0] else None
        gb = grad * a / (b + 1) if self.needs_input_grad[1] else None
        return ga, gb


class GammaInc(_WideBinary):
    """Regularized incomplete gamma P(a, x) (or Q(a, x) = 1 - P when ``upper``); differentiable in x only."""
    __slots__ = ("upper",)

    def __init__(self, cast=None, upper=False):
        self.cast, self.upper = cast, upper

    def compute(self, a, x):
        return kernel(self.xp, "gammaincc" if self.upper else "gammainc")(a, x)

    def backward(self, grad):
        a, x = self.input(0), self.input(1)
        if self.needs_input_grad[0]:
            # torch's wording (its kernels are named igamma / igammac)
            raise NotImplementedError(f"the derivative for '{'igammac' if self.upper else 'igamma'}: input' is not "
                                      f"implemented (gammainc/gammaincc are differentiable in `other` only; "
                                      f"detach `input` first)")
        density = ew.exp((a - 1) * ew.log(x) - x - mx.lgamma(a))  # d/dx P(a, x)
        return None, grad * (-density if self.upper else density)


class Zeta(_WideBinary):
    """Hurwitz zeta(x, q) = sum_k (k + q) ** -x; differentiable in q only, like torch."""

    def compute(self, x, q):
        return kernel(self.xp, "zeta")(x, q)

    def backward(self, grad):
        x, q = self.input(0), self.input(1)
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented. (zeta is differentiable in "
                                      "`other` (q) only; detach `input` first)")
        return None, grad * -x * zeta(x + 1, q)


def i0e(input):
    return I0e().apply(input)


def i1e(input):
    return I1e().apply(input)


def erfcx(input):
    return Erfcx().apply(input)


def ndtr(input):
    """The standard normal CDF."""
    return Ndtr().apply(input)


def ndtri(input):
    """The inverse of the standard normal CDF."""
    return Ndtri().apply(input)


def log_ndtr(input):
    return LogNdtr().apply(input)


def entr(input):
    return Entr().apply(input)


def xlog1py(input, other):
    """x * log1p(y), and 0 where x == 0 (unless y is NaN)."""
    a, b, cast = _float_pair(input, other, "xlog1py")
    return XLog1py(cast).apply(a, b)


def _both_tensors(name, input, other):
    # torch.special.gammainc/gammaincc take only tensors (no Python numbers)
    for position, (arg, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                            f"{type(value).__name__}; wrap numbers with ndgrad.tensor(...)")


def gammainc(input, other):
    """The regularized lower incomplete gamma function P(input, other)."""
    _both_tensors("gammainc", input, other)
    a, x, cast = _float_pair(input, other, "gammainc")
    return GammaInc(cast).apply(a, x)


def gammaincc(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P(input, other)."""
    _both_tensors("gammaincc", input, other)
    a, x, cast = _float_pair(input, other, "gammaincc")
    return GammaInc(cast, upper=True).apply(a, x)


def zeta(input, other):
    """Hurwitz zeta function; the gradient exists for ``other`` only, as in torch."""
    x, q, cast = _float_pair(input, other, "zeta")
    return Zeta(cast).apply(x, q)


def multigammaln(input, p):
    return mx.mvlgamma(input, p)


def round(input, *, decimals=0):
    if isinstance(input, Tensor) and input.dtype in (dtypes.float16, dtypes.bfloat16):
        # NumPy's rounding does not act on bfloat16 arrays: round in float32 (exact for both 16-bit floats)
        return ew.round(input.float(), decimals).to(input.dtype)
    return ew.round(input, decimals)

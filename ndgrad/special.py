"""``ndgrad.special``: torch.special's functions, on scipy.special (CPU) / cupyx.scipy.special (GPU).

Most names are the ones ndgrad already has (``erf``, ``lgamma`` as ``gammaln``, ``digamma`` as ``psi``,
``sigmoid`` as ``expit`` ...); the rest are defined here with torch's gradients. Functions torch does
not differentiate (the Bessel functions, ``zeta``) raise the same "not implemented" error in backward.
"""
import math

from .autograd.grad_mode import no_grad
from .ops import elementwise as ew
from .ops import math_extra as mx
from .ops.elementwise import _Binary, _nondiff
from .ops.math_extra import _float_pair, _quiet, _Special, _special


class I0e(_Special):
    """Exponentially scaled I0: exp(-|x|) I0(x)."""
    needs_output = True

    def compute(self, xp, x):
        return _special(xp).i0e(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * (I1e().apply(x) - ew.sign(x) * self.output())


class I1e(_Special):
    """Exponentially scaled I1: exp(-|x|) I1(x)."""
    needs_output = True

    def compute(self, xp, x):
        return _special(xp).i1e(x)

    def backward(self, grad):
        x = self.input(0)
        safe = ew.where(x == 0, 1.0, x)
        slope = I0e().apply(x) - self.output() * (ew.sign(x) + 1 / safe)
        return grad * ew.where(x == 0, 0.5, slope)


class Erfcx(_Special):
    """Scaled complementary error function exp(x**2) erfc(x)."""
    needs_output = True

    def compute(self, xp, x):
        return _special(xp).erfcx(x)

    def backward(self, grad):
        return grad * (2 * self.input(0) * self.output() - 2 / math.sqrt(math.pi))


class LogNdtr(_Special):
    """log of the standard normal CDF, accurate far into the left tail."""
    needs_output = True

    def compute(self, xp, x):
        return _special(xp).log_ndtr(x)

    def backward(self, grad):
        x = self.input(0)
        return grad * ew.exp(-(x * x) / 2 - self.output()) / math.sqrt(2 * math.pi)


class Entr(_Special):
    """-x log x (0 at 0, -inf for x < 0)."""

    def compute(self, xp, x):
        return _special(xp).entr(x)

    def backward(self, grad):
        return grad * -(ew.log(self.input(0)) + 1)


class XLog1py(_Binary):
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


class GammaInc(_Binary):
    """Regularized incomplete gamma P(a, x) (or Q(a, x) = 1 - P when ``upper``); differentiable in x only."""
    __slots__ = ("upper",)

    def __init__(self, cast=None, upper=False):
        self.cast, self.upper = cast, upper

    def compute(self, a, x):
        sp = _special(self.xp)
        return sp.gammaincc(a, x) if self.upper else sp.gammainc(a, x)

    def backward(self, grad):
        a, x = self.input(0), self.input(1)
        if self.needs_input_grad[0]:
            raise NotImplementedError(f"the derivative for '{'gammaincc' if self.upper else 'gammainc'}' with "
                                      f"respect to its first argument (a) is not implemented")
        density = ew.exp((a - 1) * ew.log(x) - x - mx.lgamma(a))  # d/dx P(a, x)
        return None, grad * (-density if self.upper else density)


class _NoDerivative(_Special):
    """A function torch does not differentiate: backward says so, as torch does."""
    __slots__ = ("name", "fn")

    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def compute(self, xp, x):
        return self.fn(_special(xp), x)

    def backward(self, grad):
        raise NotImplementedError(f"the derivative for '{self.name}' is not implemented")


def _no_derivative(name, fn):
    def op(input):
        return _NoDerivative(name, fn).apply(input)
    op.__name__ = op.__qualname__ = name
    return op


def i0e(input):
    return I0e().apply(input)


def i1e(input):
    return I1e().apply(input)


def erfcx(input):
    return Erfcx().apply(input)


def log_ndtr(input):
    return LogNdtr().apply(input)


def entr(input):
    return Entr().apply(input)


def ndtr(input):
    """The standard normal CDF."""
    return mx.erfc(-mx._to_float(input) / math.sqrt(2.0)) / 2


def ndtri(input):
    """The inverse of the standard normal CDF."""
    return mx.erfinv(2 * mx._to_float(input) - 1) * math.sqrt(2.0)


def xlog1py(input, other):
    """x * log1p(y), and 0 where x == 0 (unless y is NaN)."""
    a, b, cast = _float_pair(input, other, "xlog1py")
    return XLog1py(cast).apply(a, b)


def gammainc(input, other):
    a, x, cast = _float_pair(input, other, "gammainc")
    return GammaInc(cast).apply(a, x)


def gammaincc(input, other):
    a, x, cast = _float_pair(input, other, "gammaincc")
    return GammaInc(cast, upper=True).apply(a, x)


def zeta(input, other):
    """Hurwitz zeta function (not differentiable, as in torch)."""
    a, b, cast = _float_pair(input, other, "zeta")
    if cast is None:
        cast = a._data.dtype
    return _nondiff(lambda x, q: _special(a.xp).zeta(x, q).astype(cast, copy=False), a, b, cast)


def spherical_bessel_j0(input):
    """sin(x) / x, 1 at x = 0 (not differentiable: torch records no gradient for it)."""
    with no_grad():
        return mx.sinc(mx._to_float(input) / math.pi)


def multigammaln(input, p):
    return mx.mvlgamma(input, p)


def softmax(input, dim, *, dtype=None):
    return _ndgrad().softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _ndgrad().log_softmax(input, dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False):
    return _ndgrad().logsumexp(input, dim, keepdim)


def round(input, *, decimals=0):
    return ew.round(input, decimals)


def _ndgrad():
    import ndgrad  # the softmax family lives in ops files loaded with the package
    return ndgrad


bessel_j0 = _no_derivative("bessel_j0", lambda sp, x: sp.j0(x))
bessel_j1 = _no_derivative("bessel_j1", lambda sp, x: sp.j1(x))
bessel_y0 = _no_derivative("bessel_y0", lambda sp, x: sp.y0(x))
bessel_y1 = _no_derivative("bessel_y1", lambda sp, x: sp.y1(x))
modified_bessel_i0 = _no_derivative("modified_bessel_i0", lambda sp, x: sp.i0(x))
modified_bessel_i1 = _no_derivative("modified_bessel_i1", lambda sp, x: sp.i1(x))
modified_bessel_k0 = _no_derivative("modified_bessel_k0", lambda sp, x: sp.k0(x))
modified_bessel_k1 = _no_derivative("modified_bessel_k1", lambda sp, x: sp.k1(x))
scaled_modified_bessel_k0 = _no_derivative("scaled_modified_bessel_k0", lambda sp, x: sp.k0e(x))
scaled_modified_bessel_k1 = _no_derivative("scaled_modified_bessel_k1", lambda sp, x: sp.k1e(x))

erf, erfc, erfinv, i0, i1, logit, sinc, xlogy, polygamma = (
    mx.erf, mx.erfc, mx.erfinv, mx.i0, mx.i1, mx.logit, mx.sinc, mx.xlogy, mx.polygamma)
digamma = psi = mx.digamma
gammaln = mx.lgamma
expit = ew.sigmoid
exp2, expm1, log1p = ew.exp2, ew.expm1, ew.log1p

__all__ = [
    "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv",
    "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr",
    "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
    "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1", "sinc", "softmax", "spherical_bessel_j0", "xlog1py", "xlogy", "zeta",
]

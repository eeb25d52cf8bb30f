"""Elementwise activations beyond the core's relu / sigmoid / tanh.

Each is one node: ``forward`` on raw arrays, and a derivative written twice,
``derivative`` on raw arrays (the fast path of an ordinary backward) and
``derivative_graph`` in Tensor ops (used under create_graph=True, so the
gradient can be differentiated again). Piecewise-linear ones have a
derivative that is constant almost everywhere, so one raw version serves both.
"""
import math

from ..autograd import node as _node
from ..autograd.node import Node
from ..autograd.grad_mode import state as _grad_state
from ..backend import fused, kernels
from .reduce import is_half

__all__ = ["leaky_relu", "gelu", "silu", "softplus", "elu", "hardtanh", "relu6", "softsign", "logsigmoid",
           "mish"]

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG_INV_SQRT_2PI = math.log(_INV_SQRT_2PI)


def _wrap(array, like):
    # numpy hands back a scalar, not an array, for 0-d results: keep tensors' data arrays
    return _node.Tensor._wrap(like.xp.asarray(array), like._device)


def _sigmoid(xp, x):
    """1 / (1 + exp(-x)) without overflow for either sign."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _softplus(xp, x):
    """log(1 + exp(x)), stable for large |x|."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class _Elementwise(Node):
    __slots__ = ()

    def derivative(self, xp, x):
        raise NotImplementedError

    def derivative_graph(self, x):
        """dy/dx as a Tensor expression of x; piecewise-linear ops reuse the raw derivative as a constant."""
        return _wrap(self.derivative(self.xp, x._data), x)

    def backward(self, grad):
        x = self.input(0)
        if _grad_state.enabled:
            return grad * self.derivative_graph(x)
        return _wrap(grad._data * self.derivative(self.xp, x._data), grad)


class Erf(_Elementwise):
    __slots__ = ()

    def forward(self, x):
        return kernels.erf(self.xp, x)

    def derivative(self, xp, x):
        return (2.0 / math.sqrt(math.pi)) * xp.exp(-x * x)

    def derivative_graph(self, x):
        return (2.0 / math.sqrt(math.pi)) * (-(x * x)).exp()


class LeakyReLU(_Elementwise):
    __slots__ = ("slope",)

    def __init__(self, slope):
        self.slope = slope

    # max/min/multiply instead of xp.where: NumPy's where branches per element, ~10x slower on random signs
    def forward(self, x):
        xp = self.xp
        return xp.maximum(x, 0) + self.slope * xp.minimum(x, 0)

    def derivative(self, xp, x):
        return (x > 0).astype(x.dtype) * (1.0 - self.slope) + self.slope


class GELU(_Elementwise):
    __slots__ = ("cdf",)   # Phi(x) from the forward, reused by the backward: erf is most of GELU's cost

    def __init__(self):
        self.cdf = None

    def forward(self, x):
        cdf = kernels.normal_cdf(self.xp, x)
        self.cdf = cdf
        return x * cdf

    def derivative(self, xp, x):
        cdf = self.cdf if self.cdf is not None else kernels.normal_cdf(xp, x)
        self.cdf = None
        # Phi(x) + x * phi(x) in one buffer: phi(x) = exp(-x^2 / 2 + log(1 / sqrt(2 pi)))
        d = xp.asarray(x * x)   # an array even for 0-d x (NumPy returns a scalar there), for the out= below
        d *= d.dtype.type(-0.5)
        d += d.dtype.type(_LOG_INV_SQRT_2PI)
        xp.exp(d, out=d)
        d *= x
        d += cdf
        return d

    def derivative_graph(self, x):
        return 0.5 * (1.0 + Erf().apply(x / _SQRT_2)) + x * (-0.5 * x * x).exp() * _INV_SQRT_2PI


class GELUTanh(_Elementwise):
    __slots__ = ()

    def forward(self, x):
        u = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + self.xp.tanh(u))

    def derivative(self, xp, x):
        t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)

    def derivative_graph(self, x):
        t = (_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh()
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)


class SiLU(_Elementwise):
    __slots__ = ()

    def forward(self, x):
        return x * _sigmoid(self.xp, x)

    def derivative(self, xp, x):
        s = _sigmoid(xp, x)
        return s * (1.0 + x * (1.0 - s))

    def derivative_graph(self, x):
        s = x.sigmoid()
        return s * (1.0 + x * (1.0 - s))


class Softplus(_Elementwise):
    __slots__ = ("beta", "threshold")

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        bx = x * self.beta
        return self.xp.where(bx > self.threshold, x, _softplus(self.xp, bx) / self.beta).astype(x.dtype, copy=False)

    def derivative(self, xp, x):
        bx = x * self.beta
        return xp.where(bx > self.threshold, 1.0, _sigmoid(xp, bx)).astype(x.dtype, copy=False)

    def derivative_graph(self, x):
        linear = _wrap((x._data * self.beta > self.threshold).astype(x._data.dtype), x)
        return linear + (1.0 - linear) * (x * self.beta).sigmoid()


class ELU(_Elementwise):
    __slots__ = ("alpha",)

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = self.xp
        return xp.maximum(x, 0) + self.alpha * xp.expm1(xp.minimum(x, 0))

    # at NaN the gradient is NaN, as in PyTorch's vectorised kernel (its scalar tail loop gives 1)
    def derivative(self, xp, x):
        return xp.where(x > 0, 1.0, self.alpha * xp.exp(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    def derivative_graph(self, x):
        pos = _wrap((x._data > 0).astype(x._data.dtype), x)
        return pos + (1.0 - pos) * self.alpha * (x * (1.0 - pos)).exp()


class Hardtanh(_Elementwise):
    __slots__ = ("low", "high")

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        return self.xp.clip(x, self.low, self.high).astype(x.dtype, copy=False)  # bfloat16 clips to float32

    # strictly inside (low, high): NaN gets no gradient, as in PyTorch's vectorised kernel (its scalar
    # tail loop, used for the last few elements only, would pass it)
    def derivative(self, xp, x):
        return ((x > self.low) & (x < self.high)).astype(x.dtype)

    def backward(self, grad):
        # a select, not a multiply: a NaN gradient arriving where x was clipped becomes 0 (PyTorch's rule)
        x = self.input(0)._data
        keep = (x > self.low) & (x < self.high)
        if _grad_state.enabled:
            from ..ops.elementwise import where
            return where(_wrap(keep, grad), grad, 0.0)
        return _wrap(fused.masked_grad(grad._data, keep), grad)


class Softsign(_Elementwise):
    __slots__ = ()

    def forward(self, x):
        return x / (1.0 + self.xp.abs(x))

    def derivative(self, xp, x):
        d = 1.0 + xp.abs(x)
        return 1.0 / (d * d)

    def derivative_graph(self, x):
        d = 1.0 + x.abs()
        return 1.0 / (d * d)


class LogSigmoid(_Elementwise):
    __slots__ = ()

    def forward(self, x):
        return -_softplus(self.xp, -x)

    def derivative(self, xp, x):
        return _sigmoid(xp, -x)

    def derivative_graph(self, x):
        return (-x).sigmoid()


class Mish(_Elementwise):
    __slots__ = ()

    def forward(self, x):
        return x * self.xp.tanh(_softplus(self.xp, x))

    def derivative(self, xp, x):
        t = xp.tanh(_softplus(xp, x))
        return t + x * _sigmoid(xp, x) * (1.0 - t * t)

    def derivative_graph(self, x):
        t = Softplus(1.0, 20.0).apply(x).tanh()
        return t + x * x.sigmoid() * (1.0 - t * t)


def _check_float(op, x):
    if not x.dtype.is_floating_point:  # bfloat16 (ml_dtypes) has kind 'V', not 'f'
        raise TypeError(f"{op}: expected a floating-point tensor, got {x.dtype}; convert with .float()")


def _maybe_inplace(input, op, inplace):
    """``op(input)``; with ``inplace=True`` the result is written into ``input``, as PyTorch does.

    When gradients are tracked the op reads a clone, so the values its backward saved are not the
    ones the write-back overwrites (PyTorch's in-place rules use the result instead).
    """
    if not inplace:
        return op(input)
    return input.copy_(op(input.clone() if input.requires_grad else input))


def _opmath(node):
    """``node.apply``, computed in float32 for float16/bfloat16 input and rounded back (PyTorch's "opmath").

    Smooth activations square or exponentiate x inside: in float16, x * x overflows at |x| > 256 and
    the gradient becomes inf * 0 = nan where PyTorch's is finite.
    """
    def apply(x):
        data = x._data
        if is_half(data):
            return node.apply(x.to("float32")).to(x.dtype)
        return node.apply(x)
    return apply


def erf(input):
    """The error function (differentiable). Not in __all__: the core owns ``ndgrad.erf``."""
    return Erf().apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x."""
    if inplace:
        from .inplace_activations import leaky_relu_  # one pass, differentiated from the result
        return leaky_relu_(input, negative_slope)
    return LeakyReLU(negative_slope).apply(input)


def gelu(input, approximate="none"):
    """x * Phi(x) (exact, through erf), or its tanh approximation with approximate='tanh'."""
    _check_float("gelu", input)
    if approximate == "none":
        return _opmath(GELU())(input)
    if approximate == "tanh":
        return _opmath(GELUTanh())(input)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):
    """x * sigmoid(x) (a.k.a. swish)."""
    _check_float("silu", input)
    return _maybe_inplace(input, _opmath(SiLU()), inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta; linear where beta * x > threshold."""
    _check_float("softplus", input)
    return _opmath(Softplus(beta, threshold))(input)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    _check_float("elu", input)
    return _maybe_inplace(input, _opmath(ELU(alpha)), inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clipped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    if inplace:
        from .inplace_activations import hardtanh_  # one pass, differentiated from the result
        return hardtanh_(input, min_val, max_val)
    return Hardtanh(min_val, max_val).apply(input)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def softsign(input):
    """x / (1 + |x|)."""
    _check_float("softsign", input)
    return _opmath(Softsign())(input)


def logsigmoid(input):
    """log(sigmoid(x)), stable for large |x|."""
    _check_float("logsigmoid", input)
    return _opmath(LogSigmoid())(input)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    _check_float("mish", input)
    return _maybe_inplace(input, _opmath(Mish()), inplace)


METHODS = {}

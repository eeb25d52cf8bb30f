"""Element-wise activations with hand-written derivatives: selu/celu, hardswish/hardsigmoid, shrinks, threshold.

Each node computes ``forward`` on raw arrays and its derivative twice: ``derivative`` on raw arrays
(the fast path of a first-order backward) and ``derivative_graph`` in Tensor ops (used under
create_graph=True, so the gradient can be differentiated again). Piecewise-linear ops have a
derivative that is constant almost everywhere, so the raw one serves both.

The public functions here are also ``torch.<name>`` in PyTorch (torch.selu, torch.prelu, ...), so this
file is ready to join ``ops/__init__._MODULES``; ``ndgrad.nn.functional`` re-exports them either way.
"""
from .. import random as _random
from ..autograd import node as _node
from . import activation as _act
from . import elementwise as _ew
from .inplace import _inplace

__all__ = ["selu", "selu_", "celu", "celu_", "rrelu", "rrelu_", "threshold", "threshold_", "hardshrink", "prelu"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _const(array, like):
    return _node.Tensor._wrap(array, like._device)


def _shape(t):
    return tuple(t.shape)


def check_float(op, x):
    # PyTorch has no integer kernels for these (it raises NotImplementedError, "... not implemented for 'Long'")
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: expected a floating-point tensor, got {x.dtype}; convert with .float()")


def maybe_inplace(input, name, compute, inplace):
    """``compute(input)``, or with ``inplace=True`` the same written into ``input`` (the ``name`` op)."""
    return _inplace(input, name, compute) if inplace else compute(input)


# elementwise nodes with a raw ``derivative(xp, x)``: activation.py's base class, backward and all
_Pointwise = _act._Elementwise


class ScaledELU(_Pointwise):
    """scale * (max(x, 0) + alpha * (exp(min(x, 0) * input_scale) - 1)): elu, selu and celu in one rule."""
    __slots__ = ("alpha", "scale", "input_scale")

    def __init__(self, alpha, scale=1.0, input_scale=1.0):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def forward(self, x):
        xp = self.xp
        y = xp.maximum(x, 0) + self.alpha * xp.expm1(xp.minimum(x, 0) * self.input_scale)
        return (y * self.scale).astype(x.dtype, copy=False)

    def derivative(self, xp, x):
        pos = (x > 0).astype(x.dtype)
        neg_slope = (self.alpha * self.input_scale) * xp.exp(xp.minimum(x, 0) * self.input_scale)
        return (self.scale * (pos + (1 - pos) * neg_slope)).astype(x.dtype, copy=False)

    def derivative_graph(self, x):
        pos = _const((x._data > 0).astype(x._data.dtype), x)
        # exp of min(x, 0) (x * (1 - pos)) keeps the unused branch finite for large positive x
        neg_slope = (self.alpha * self.input_scale) * (x * (1.0 - pos) * self.input_scale).exp()
        return self.scale * (pos + (1.0 - pos) * neg_slope)


class Hardsigmoid(_Pointwise):
    """clip(x / 6 + 1/2, 0, 1); derivative 1/6 strictly inside (-3, 3), as PyTorch's."""
    __slots__ = ()

    def forward(self, x):
        return self.xp.clip(x / 6.0 + 0.5, 0.0, 1.0).astype(x.dtype, copy=False)

    def derivative(self, xp, x):
        return (((x > -3.0) & (x < 3.0)).astype(x.dtype) / 6.0).astype(x.dtype, copy=False)


class Hardswish(_Pointwise):
    """x * clip(x / 6 + 1/2, 0, 1); derivative 0 up to -3, x / 3 + 1/2 strictly inside (-3, 3), 1 from 3 on."""
    __slots__ = ()

    def forward(self, x):
        return (x * self.xp.clip(x / 6.0 + 0.5, 0.0, 1.0)).astype(x.dtype, copy=False)

    def _masks(self, x):
        return (x > -3.0) & (x < 3.0), x >= 3.0

    def derivative(self, xp, x):
        middle, high = self._masks(x)
        return xp.where(middle, x / 3.0 + 0.5, high.astype(x.dtype)).astype(x.dtype, copy=False)

    def derivative_graph(self, x):
        middle, high = self._masks(x._data)
        dtype = x._data.dtype
        return _const(middle.astype(dtype), x) * (x / 3.0 + 0.5) + _const(high.astype(dtype), x)


class Hardshrink(_Pointwise):
    """x where |x| > lambd, else 0."""
    __slots__ = ("lambd",)

    def __init__(self, lambd):
        self.lambd = lambd

    def forward(self, x):
        return x * (self.xp.abs(x) > self.lambd).astype(x.dtype)

    def derivative(self, xp, x):
        return (xp.abs(x) > self.lambd).astype(x.dtype)


class Softshrink(_Pointwise):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    __slots__ = ("lambd",)

    def __init__(self, lambd):
        self.lambd = lambd

    def forward(self, x):
        xp = self.xp
        return (x - xp.clip(x, -self.lambd, self.lambd)).astype(x.dtype, copy=False)

    def derivative(self, xp, x):
        return (xp.abs(x) > self.lambd).astype(x.dtype)


class Threshold(_Pointwise):
    """x where x > threshold, else value (dtype kept: integer tensors stay integer, as in PyTorch)."""
    __slots__ = ("threshold", "value")

    def __init__(self, threshold, value):
        self.threshold, self.value = threshold, value

    def forward(self, x):
        xp = self.xp
        fill = xp.asarray(self.value).astype(x.dtype)
        return xp.where(x > self.threshold, x, fill)

    def derivative(self, xp, x):
        return (x > self.threshold).astype(x.dtype)


# -- public functions (PyTorch has them at the top level too: torch.selu, torch.prelu, ...) ----------
# -- the ELU family -------------------------------------------------------------------------------
def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants (alpha ~ 1.6733, scale ~ 1.0507)."""
    check_float("selu", input)
    return maybe_inplace(input, "selu_", ScaledELU(SELU_ALPHA, SELU_SCALE).apply, inplace)


def selu_(input):
    """In-place selu."""
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    check_float("celu", input)
    if alpha == 0:
        raise RuntimeError("celu: alpha cannot be 0 (it divides x); use relu for the alpha -> 0 limit")
    node = ScaledELU(alpha, 1.0, 1.0 / alpha)
    return maybe_inplace(input, "celu_", lambda t: node.apply(t), inplace)


def celu_(input, alpha=1.0):
    """In-place celu."""
    return celu(input, alpha, inplace=True)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    check_float("hardshrink", input)
    return Hardshrink(lambd).apply(input)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    return maybe_inplace(input, "threshold_", Threshold(threshold, value).apply, inplace)


def threshold_(input, threshold, value):
    """In-place threshold."""
    return maybe_inplace(input, "threshold_", Threshold(threshold, value).apply, True)


def prelu(input, weight):
    """x where x > 0, else weight * x; weight has one slope, or one per channel (dim 1)."""
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim} "
                           f"(shape {_shape(weight)})")
    channels = input.shape[1] if input.ndim >= 2 else 1
    count = weight.numel()
    if count != 1 and count != channels:
        raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size. Found parameter "
                           f"numbers = {count} and channel size = {channels} (input shape {_shape(input)}); "
                           f"give weight 1 or {channels} entries")
    if count == 1:
        slope = weight.reshape(())
    else:
        slope = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return _ew.where(input > 0, input, input * slope)


def _check_bounds(op, lower, upper):
    if lower > upper:
        raise RuntimeError(f"{op}: lower bound should be less than or equal to the upper bound, "
                           f"got lower={lower}, upper={upper}")


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky relu: in training each x <= 0 gets a slope drawn from U(lower, upper); in eval the mean."""
    check_float("rrelu", input)
    _check_bounds("rrelu", lower, upper)
    if not training:
        slope = (lower + upper) / 2
        return maybe_inplace(input, "rrelu_", lambda t: _act.leaky_relu(t, slope), inplace)

    def sampled(t):
        xp, data = t.xp, t._data
        drawn = _random.generator(t._device).random(data.shape) * (upper - lower) + lower
        noise = xp.where(data > 0, 1.0, drawn).astype(data.dtype)
        return t * _const(noise, t)   # d/dx = the slope used, as PyTorch's noise tensor
    return maybe_inplace(input, "rrelu_", sampled, inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place rrelu."""
    return rrelu(input, lower, upper, training, inplace=True)


METHODS = {"hardshrink": hardshrink, "prelu": prelu}

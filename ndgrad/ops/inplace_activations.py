"""relu_ / leaky_relu_ / hardtanh_ written into the input's memory in one pass.

The generic in-place path (ops/inplace.py) copies the input, runs the out-of-place op and writes
back, because an arbitrary op's backward may need the old values. These three activations can be
differentiated from their result (as PyTorch does), so nothing old is kept: the node overwrites
the array and its backward reads the output, guarded by the tensor's version counter, so a later
in-place change raises instead of giving a wrong gradient. Views of other tensors (CopySlices),
non-float dtypes and tracing keep the generic path.
"""
import weakref

from ..autograd import grad_mode
from ..autograd import node as _node
from ..autograd.node import Node
from ..backend import fused
from ..tensor import Tensor
from . import elementwise as ew
from .inplace import _check_no_overlap, _inplace, _is_view

__all__ = []


def _raw(array, like):
    return Tensor._wrap(like.xp.asarray(array), like._device)


class ReluInplace(ew.Relu):
    """relu written into x; Relu's backward already reads the output (NaN keeps its gradient)."""
    __slots__ = ()

    def write(self, x):
        self.xp.maximum(x, 0, out=x)

    def forward(self, x):
        self.write(x)
        return x

    def name(self):
        return "Relu"


class LeakyReluInplace(Node):
    """leaky_relu with slope >= 0, written into x: out > 0 exactly where x > 0, so the slope mask comes
    from the output."""
    __slots__ = ("slope",)
    needs_output = True

    def __init__(self, slope):
        self.slope = slope

    def write(self, x):
        xp = self.xp
        negative = xp.minimum(x, 0)
        negative *= self.slope  # slope * x exactly, as the out-of-place op computes it
        xp.maximum(x, 0, out=x)
        x += negative

    def forward(self, x):
        self.write(x)
        return x

    def backward(self, grad):
        out = self.output_array()
        derivative = (out > 0).astype(out.dtype) * (1.0 - self.slope) + self.slope
        if grad_mode.state.enabled:
            return grad * _raw(derivative, grad)  # a constant: the second derivative is 0
        return _raw(grad._data * derivative, grad)

    def name(self):
        return "LeakyReLU"


class HardtanhInplace(Node):
    """x clipped to [low, high] in place. PyTorch's hardtanh_ keeps giving the right gradient when its
    result is changed later, so the node saves its own mask (low < out < high, i.e. low < x < high)
    instead of reading the output."""
    __slots__ = ("low", "high", "keep")

    def __init__(self, low, high):
        self.low, self.high = low, high
        self.keep = None

    def write(self, x):
        self.xp.clip(x, self.low, self.high, out=x)

    def forward(self, x):
        self.write(x)
        self.keep = (x > self.low) & (x < self.high)
        return x

    def backward(self, grad):
        keep = self.keep
        if grad_mode.state.enabled:
            return ew.where(_raw(keep, grad), grad, 0.0)  # a select: a NaN grad where clipped becomes 0
        return _raw(fused.masked_grad(grad._data, keep), grad)

    def release(self):
        super().release()
        self.keep = None

    def name(self):
        return "Hardtanh"


def inplace_activation(self, name, node, fallback):
    """Apply ``node`` (one of the classes above) to ``self`` in place; ``fallback(t) -> Tensor`` is the
    out-of-place op, used through the generic in-place path where the fast one does not apply."""
    if not isinstance(self, Tensor) or self._data.dtype.kind != "f" or _node._recorder is not None:
        return _inplace(self, name, fallback)
    tracked = grad_mode.state.enabled and self.requires_grad
    if tracked and _is_view(self):
        return _inplace(self, name, fallback)  # the base's history is rewritten there (CopySlices)
    self._check_inplace(name)
    _check_no_overlap(self, name)
    data = self._data
    if not tracked:
        node.xp = self.xp
        node.write(data)
        self._bump_version()
        return self
    # the node reads an alias carrying self's current history, then self takes the node as grad_fn
    node.apply(Tensor._wrap(data, self._device, requires_grad=True, grad_fn=self.grad_fn))
    self.grad_fn = node
    self._bump_version()
    if node.needs_output:
        node._out_ref = weakref.ref(self)  # output_array() checks self's version from now on
        node._out_ver = self._version
    return self


def relu_(self):
    return inplace_activation(self, "relu_", ReluInplace(), ew.relu)


def leaky_relu_(self, negative_slope=0.01):
    from .activation import leaky_relu
    fallback = lambda t: leaky_relu(t, negative_slope)  # noqa: E731
    if negative_slope < 0:  # the sign of the output no longer tells the sign of x
        return _inplace(self, "leaky_relu_", fallback)
    return inplace_activation(self, "leaky_relu_", LeakyReluInplace(negative_slope), fallback)


def hardtanh_(self, min_val=-1.0, max_val=1.0):
    from .activation import hardtanh
    if min_val > max_val:
        raise ValueError(f"hardtanh_: min_val ({min_val}) must not exceed max_val ({max_val})")
    return inplace_activation(self, "hardtanh_", HardtanhInplace(min_val, max_val),
                              lambda t: hardtanh(t, min_val, max_val))

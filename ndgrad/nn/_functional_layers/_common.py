"""Small helpers the functional layer files share."""
import numbers

from ...autograd import node as _node


def _T():
    return _node.Tensor


def _const(array, like):
    """A constant (no-grad) tensor on ``like``'s device."""
    return _T()._wrap(array, like._device)


def _shape(t):
    return tuple(t.shape)


def _tuple(value, n, what, op):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{op}: {what} must be an int or a tuple of {n} ints, got {value}")
    return value


def _work_dtype(xp, t):
    """The precision PyTorch computes index geometry in: double for float64, float otherwise."""
    return xp.float64 if t._data.dtype == xp.float64 else xp.float32

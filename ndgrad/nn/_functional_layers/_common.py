"""Small helpers the functional layer files share."""
from ...autograd import node as _node
from ...ops.nn import _ntuple


def _T():
    return _node.Tensor


def _const(array, like):
    """A constant (no-grad) tensor on ``like``'s device."""
    return _T()._wrap(array, like._device)


def _shape(t):
    return tuple(t.shape)


_tuple = _ntuple   # an int or an n-tuple of ints, checked, as the conv/pool ops parse them


def _work_dtype(xp, t):
    """The precision PyTorch computes index geometry in: double for float64, float otherwise."""
    return xp.float64 if t._data.dtype == xp.float64 else xp.float32

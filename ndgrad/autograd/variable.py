"""``Variable``: PyTorch's legacy name for a tensor that takes part in autograd (every Tensor does now)."""
from . import node as _node


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _node.Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(tensor, requires_grad=False)``: a new leaf sharing the tensor's memory, as in PyTorch.

    ``isinstance(t, Variable)`` is True for every Tensor."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        from ..creation import tensor
        t = data if isinstance(data, _node.Tensor) else tensor([] if data is None else data)
        out = t.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out

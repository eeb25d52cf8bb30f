"""Differentiable collectives, as ``torch.distributed.nn.functional``: they return new tensors.

The gradient of a sum over ranks is the sum over ranks of the incoming gradients, so
``all_reduce``'s backward is an ``all_reduce`` again (and therefore differentiable too).
"""
from ndgrad.autograd.node import Node
from ndgrad.distributed.reduce_op import ReduceOp

__all__ = ["all_reduce"]


class _AllReduceSum(Node):
    __slots__ = ("group",)

    def __init__(self, group):
        self.group = group

    def forward(self, x):
        from ndgrad.distributed.collectives import all_reduce as _all_reduce
        from ndgrad.tensor import Tensor
        result = Tensor._wrap(x.copy())
        _all_reduce(result, group=self.group)
        return result._data

    def backward(self, grad):
        return _AllReduceSum(self.group).apply(grad)


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """The sum over the group's ranks of ``tensor``, as a new tensor that gradients flow through."""
    if op is not ReduceOp.SUM:
        raise ValueError(f"ndgrad.distributed.nn.functional.all_reduce: only ReduceOp.SUM is differentiable "
                         f"here, got {op}")
    return _AllReduceSum(group).apply(tensor)

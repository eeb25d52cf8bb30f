"""``ndgrad.autograd.graph``: the graph's node type and helpers named as in ``torch.autograd.graph``."""
from .node import Node

__all__ = ["Node", "increment_version", "get_gradient_edge", "GradientEdge"]


class GradientEdge(tuple):
    """(node, output_nr): where a tensor's gradient enters the graph."""

    __slots__ = ()

    def __new__(cls, node, output_nr):
        return super().__new__(cls, (node, output_nr))

    node = property(lambda self: self[0])
    output_nr = property(lambda self: self[1])


def get_gradient_edge(tensor):
    if not tensor.requires_grad:
        raise RuntimeError(f"get_gradient_edge: the tensor (shape {tuple(tensor.shape)}) does not require grad")
    return GradientEdge(tensor.grad_fn or tensor, 0)  # a leaf is its own edge target in ndgrad


def increment_version(tensor):
    """Mark a tensor as modified in place (for changes made behind autograd's back, e.g. through .numpy())."""
    tensors = tensor if isinstance(tensor, (list, tuple)) else (tensor,)
    for t in tensors:
        t._bump_version()

"""``nn.Buffer``: marks a tensor as module state that is not a parameter (torch 2.13's marker class).

``self.running_mean = nn.Buffer(ndgrad.zeros(3))`` inside a Module registers a buffer, like
``register_buffer("running_mean", ...)``; ``persistent=False`` keeps it out of ``state_dict``.
"""
from ndgrad.tensor import Tensor

__all__ = ["Buffer"]


class Buffer(Tensor):
    """A tensor that a Module registers as a buffer when it is assigned as an attribute.

    It shares memory with ``data`` (detached from its graph, keeping ``requires_grad``).
    """

    __slots__ = ("persistent",)

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            import ndgrad
            data = ndgrad.empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"nn.Buffer: data must be a Tensor, got {type(data).__name__}; wrap it with "
                            f"ndgrad.tensor(...) first")
        t = cls._wrap(data._data, data._device, requires_grad=data.requires_grad)
        t._base = data if data._base is None else data._base  # shares data's memory and version counter
        t.persistent = bool(persistent)
        return t

    def __init__(self, data=None, *, persistent=True):
        pass  # everything happens in __new__ (Tensor.__init__ would rebuild the data)

    @property
    def _is_buffer(self):
        return True

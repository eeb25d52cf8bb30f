"""Parameter: a Tensor that a Module registers as one of its learnable weights."""
from ndgrad.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that is a module parameter: ``requires_grad=True`` by default and
    registered automatically when assigned as a Module attribute.

    Like ``torch.nn.Parameter`` it shares its data with the tensor it is built from,
    and it is always a leaf.
    """

    __slots__ = ()  # Tensor's layout, nothing added

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            import ndgrad
            data = ndgrad.empty(0)
        elif not isinstance(data, Tensor):
            import ndgrad
            data = ndgrad.tensor(data)
        return cls._wrap(data._data, data._device, requires_grad=bool(requires_grad))

    def __init__(self, data=None, requires_grad=True):
        pass  # everything happens in __new__ (Tensor.__init__ would rebuild the data)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)._wrap(self._data.copy(), self._device, requires_grad=self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor._wrap(self.grad._data.copy(), self._device)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._host(), str(self._device), self.requires_grad))


def _rebuild_parameter(array, device, requires_grad):
    t = Tensor._wrap(array)
    if device != "cpu":
        t = t.to(device)
    return Parameter(t, requires_grad)

"""What the standard's array object needs and ndgrad's Tensor lacks: ``to_device`` and ``__complex__``.
Each is attached only where Tensor has no such name yet, so the PyTorch behaviour of ``ndgrad.Tensor``
does not change."""
from ..tensor import Tensor


def to_device(self, device, /, *, stream=None):
    """This array on ``device`` (itself when it is already there)."""
    return self.to(device)


def __complex__(self):
    return complex(self.item())


_METHODS = {
    "to_device": to_device,
    "__complex__": __complex__,
}


def attach():
    for name, fn in _METHODS.items():
        if name not in Tensor.__dict__ and not any(name in k.__dict__ for k in Tensor.__mro__[1:-1]):
            setattr(Tensor, name, fn)

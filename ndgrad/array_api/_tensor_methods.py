"""What the standard's array object needs and ndgrad's Tensor lacks: ``to_device``, ``__complex__`` and
the remaining in-place operators (``%=``, ``//=``, ``&=``, ``|=``, ``^=``). Each is attached only where
Tensor has no such name yet, and each means what PyTorch's method of the same name means, so the
PyTorch behaviour of ``ndgrad.Tensor`` does not change."""
from ..tensor import Tensor


def to_device(self, device, /, *, stream=None):
    """This array on ``device`` (itself when it is already there)."""
    return self.to(device)


def __complex__(self):
    return complex(self.item())


def _inplace(method):
    def op(self, other):
        return getattr(self, method)(other)
    return op


_METHODS = {
    "to_device": to_device,
    "__complex__": __complex__,
    "__imod__": _inplace("remainder_"), "__ifloordiv__": _inplace("floor_divide_"),
    "__iand__": _inplace("bitwise_and_"), "__ior__": _inplace("bitwise_or_"), "__ixor__": _inplace("bitwise_xor_"),
}


def attach():
    for name, fn in _METHODS.items():
        if name not in Tensor.__dict__ and not any(name in k.__dict__ for k in Tensor.__mro__[1:-1]):
            setattr(Tensor, name, fn)

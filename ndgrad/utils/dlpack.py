"""``ndgrad.utils.dlpack``: PyTorch's ``torch.utils.dlpack`` (capsule-level DLPack exchange)."""
from ..interop import DLDeviceType, from_dlpack as _from_dlpack

__all__ = ["to_dlpack", "from_dlpack", "DLDeviceType"]


def to_dlpack(tensor):
    """A legacy DLPack capsule sharing ``tensor``'s memory (consume it once, e.g. with ``numpy.from_dlpack``
    through an object, or ``torch.utils.dlpack.from_dlpack``)."""
    return tensor.__dlpack__()


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of a DLPack capsule or of any object with ``__dlpack__``."""
    return _from_dlpack(ext_tensor)

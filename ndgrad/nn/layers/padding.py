"""Padding layers: constant (zero), reflection, replication and circular, for 1-, 2- and 3-d inputs."""
from ndgrad.nn import functional as F
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import _ntuple

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]

# an int pads every side; a tuple lists (left, right[, top, bottom[, front, back]])
_SIDES = {1: _ntuple(2, "_pair"), 2: _ntuple(4, "_quadruple"), 3: _ntuple(6, "_sextuple")}


class _PadNd(Module):
    _dims = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _SIDES[self._dims](padding)
        if len(self.padding) != 2 * self._dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {2 * self._dims} "
                             f"ints, got {padding}")

    def _check_input(self, input):
        ranks = (self._dims + 1, self._dims + 2)
        if input.dim() not in ranks:
            raise ValueError(f"{type(self).__name__}: expected {ranks[0]}D or {ranks[1]}D input (got "
                             f"{input.dim()}D input of shape {tuple(input.shape)})")

    def forward(self, input):
        self._check_input(input)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def _check_input(self, input):
        pass   # constant padding works on any rank with enough dims

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


def _make(name, base, dims, mode=None, doc=None):
    attrs = {"_dims": dims, "__doc__": doc}
    if mode is not None:
        attrs["_mode"] = mode
    return type(name, (base,), attrs)


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``."""
    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``."""
    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``."""
    _dims = 3


class _ZeroPad:
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad, ConstantPad1d):
    """Pad the last dim with zeros."""


class ZeroPad2d(_ZeroPad, ConstantPad2d):
    """Pad the last two dims with zeros."""


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    """Pad the last three dims with zeros."""


ReflectionPad1d = _make("ReflectionPad1d", _PadNd, 1, "reflect", "Pad the last dim by reflection at the edges.")
ReflectionPad2d = _make("ReflectionPad2d", _PadNd, 2, "reflect", "Pad (H, W) by reflection at the edges.")
ReflectionPad3d = _make("ReflectionPad3d", _PadNd, 3, "reflect", "Pad (D, H, W) by reflection at the edges.")
ReplicationPad1d = _make("ReplicationPad1d", _PadNd, 1, "replicate", "Pad the last dim by repeating the edge.")
ReplicationPad2d = _make("ReplicationPad2d", _PadNd, 2, "replicate", "Pad (H, W) by repeating the edges.")
ReplicationPad3d = _make("ReplicationPad3d", _PadNd, 3, "replicate", "Pad (D, H, W) by repeating the edges.")
CircularPad1d = _make("CircularPad1d", _PadNd, 1, "circular", "Pad the last dim by wrapping around.")
CircularPad2d = _make("CircularPad2d", _PadNd, 2, "circular", "Pad (H, W) by wrapping around.")
CircularPad3d = _make("CircularPad3d", _PadNd, 3, "circular", "Pad (D, H, W) by wrapping around.")
for _cls in (ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
             ReplicationPad3d, CircularPad1d, CircularPad2d, CircularPad3d):
    _cls.__module__ = __name__

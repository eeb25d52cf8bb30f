"""``torch.nn.modules.utils``: the small argument helpers layers and programs import (``_pair`` ...)."""
from ndgrad.nn.layers._util import _ntuple, _pair, _single, _triple

__all__ = ["_single", "_pair", "_triple", "_quadruple", "_ntuple", "_reverse_repeat_tuple"]

_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """Each element of ``t`` repeated ``n`` times, in reverse order (F.pad's layout)."""
    return tuple(x for x in reversed(t) for _ in range(n))

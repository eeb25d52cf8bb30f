"""``torch.nn.modules.linear``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
Bilinear Identity LazyLinear Linear
""")

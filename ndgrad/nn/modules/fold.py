"""``torch.nn.modules.fold``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
Fold Unfold
""")

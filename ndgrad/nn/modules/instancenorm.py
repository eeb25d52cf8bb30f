"""``torch.nn.modules.instancenorm``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d LazyInstanceNorm2d
LazyInstanceNorm3d
""")

"""``torch.nn.modules.container``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
Container Sequential ModuleList ModuleDict ParameterList ParameterDict
""")

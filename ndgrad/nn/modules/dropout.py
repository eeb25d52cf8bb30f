"""``torch.nn.modules.dropout``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout
""")

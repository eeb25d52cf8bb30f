"""``torch.nn.modules.transformer``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
Transformer TransformerEncoder TransformerDecoder TransformerEncoderLayer TransformerDecoderLayer
""")

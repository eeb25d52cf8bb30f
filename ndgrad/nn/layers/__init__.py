"""The layers of ndgrad.nn, one file per kind; everything is re-exported by ndgrad.nn."""
from ndgrad.nn.layers.linear import *  # noqa: F401,F403
from ndgrad.nn.layers.conv import *  # noqa: F401,F403
from ndgrad.nn.layers.pooling import *  # noqa: F401,F403
from ndgrad.nn.layers.normalization import *  # noqa: F401,F403
from ndgrad.nn.layers.dropout import *  # noqa: F401,F403
from ndgrad.nn.layers.embedding import *  # noqa: F401,F403
from ndgrad.nn.layers.activation import *  # noqa: F401,F403
from ndgrad.nn.layers.rnn import *  # noqa: F401,F403
from ndgrad.nn.layers.attention import *  # noqa: F401,F403
from ndgrad.nn.layers.transformer import *  # noqa: F401,F403

"""``torch.nn.modules.rnn``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
RNNBase RNN LSTM GRU RNNCellBase RNNCell LSTMCell GRUCell
""")

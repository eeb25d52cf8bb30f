"""Recurrent layers: RNN, LSTM, GRU and their single-step cells.

Parameter names, shapes, gate order (LSTM: i, f, g, o; GRU: r, z, n) and
initialisation match PyTorch, so state_dicts load across. The input projection
of all time steps is one matrix product per layer and direction; only the
hidden-to-hidden product runs step by step.
"""
import math

import ndgrad
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import new_param, layer_error, shape_str

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


# ---------------------------------------------------------------- one time step
def _rnn_tanh_step(xw, h, w_hh, b_hh):
    return (xw + F.linear(h, w_hh, b_hh)).tanh()


def _rnn_relu_step(xw, h, w_hh, b_hh):
    return F.relu(xw + F.linear(h, w_hh, b_hh))


def _lstm_step(xw, state, w_hh, b_hh):
    h, c = state
    gates = xw + F.linear(h, w_hh, b_hh)
    H = h.shape[-1]
    i = gates[..., 0:H].sigmoid()
    f = gates[..., H:2 * H].sigmoid()
    g = gates[..., 2 * H:3 * H].tanh()
    o = gates[..., 3 * H:4 * H].sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_step(xw, h, w_hh, b_hh):
    gh = F.linear(h, w_hh, b_hh)
    H = h.shape[-1]
    r = (xw[..., 0:H] + gh[..., 0:H]).sigmoid()
    z = (xw[..., H:2 * H] + gh[..., H:2 * H]).sigmoid()
    n = (xw[..., 2 * H:3 * H] + r * gh[..., 2 * H:3 * H]).tanh()
    return n + z * (h - n)


def _uniform_by_hidden_size_(module):
    """PyTorch's recurrent init: every parameter drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


class RNNBase(Module):
    """Shared machinery: parameter layout, input/state checks, the layer/direction loop."""

    _gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout should be a number in range [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: hidden_size ({hidden_size}) and num_layers ({num_layers}) must be positive")
        if proj_size != 0:
            raise NotImplementedError(f"{name}: proj_size is not supported by ndgrad")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        gate_size = self._gates[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for kind, shape in shapes:
                    pname = f"{kind}_l{layer}{suffix}"
                    setattr(self, pname, new_param(shape, dtype, device))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_by_hidden_size_(self)

    def flatten_parameters(self):
        """No-op (kept for PyTorch compatibility: ndgrad's weights are always usable as they are)."""

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in self._flat_weights_names[i:i + (4 if self.bias else 2)]]
                for i in range(0, len(self._flat_weights_names), 4 if self.bias else 2)]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if self.bias is not True:
            s += ", bias=False"
        if self.batch_first is not False:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional=True"
        return s

    def _short_repr(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    # ----------------------------------------------------------------- checks
    def _check_input(self, input):
        seq = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise layer_error(self, f"3-d input {seq.replace('H_in', str(self.input_size))} or 2-d unbatched "
                              f"input (L, {self.input_size}) (input_size={self.input_size})", input)

    def _check_hidden(self, hx, expected, what):
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"{self._short_repr()}: expected {what} of shape {shape_str(expected)}, "
                               f"got {shape_str(hx.shape)}")

    # ---------------------------------------------------------------- forward
    def _step(self):
        return {"LSTM": _lstm_step, "GRU": _gru_step, "RNN_TANH": _rnn_tanh_step,
                "RNN_RELU": _rnn_relu_step}[self.mode]

    def _run(self, input, hx):
        """input (L, N, H_in) time-major; hx a list of per-(layer, direction) states.
        Returns the last layer's output (L, N, D*H) and the final states in the same layout."""
        step = self._step()
        num_directions = 2 if self.bidirectional else 1
        seq_len = input.shape[0]
        layer_input = input
        finals = []
        for layer in range(self.num_layers):
            dir_outputs = []
            for direction in range(num_directions):
                suffix = "_reverse" if direction == 1 else ""
                w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
                w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
                b_ih = getattr(self, f"bias_ih_l{layer}{suffix}") if self.bias else None
                b_hh = getattr(self, f"bias_hh_l{layer}{suffix}") if self.bias else None
                xw = F.linear(layer_input, w_ih, b_ih)  # every time step's input projection at once
                state = hx[layer * num_directions + direction]
                outs = [None] * seq_len
                steps = range(seq_len - 1, -1, -1) if direction == 1 else range(seq_len)
                for t in steps:
                    state = step(xw[t], state, w_hh, b_hh)
                    outs[t] = state[0] if self.mode == "LSTM" else state
                finals.append(state)
                dir_outputs.append(ndgrad.stack(outs, 0))
            layer_output = dir_outputs[0] if num_directions == 1 else ndgrad.cat(dir_outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_output = F.dropout(layer_output, self.dropout, True)
            layer_input = layer_output
        return layer_input, finals

    def forward(self, input, hx=None):
        self._check_input(input)
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        batch = input.shape[1]
        num_directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * num_directions, batch, self.hidden_size)
        is_lstm = self.mode == "LSTM"
        if hx is None:
            zeros = ndgrad.zeros(state_shape, dtype=input.dtype, device=input.device)
            hx = (zeros, zeros) if is_lstm else zeros
        else:
            parts = hx if is_lstm else (hx,)
            if is_lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{self._short_repr()}: hx must be a tuple (h_0, c_0)")
            expected = state_shape[:1] + state_shape[2:] if unbatched else state_shape
            for part, what in zip(parts, ("h_0", "c_0")):
                self._check_hidden(part, expected, what)
            if unbatched:
                parts = tuple(p.unsqueeze(1) for p in parts)
            hx = parts if is_lstm else parts[0]
        if is_lstm:
            states = [(hx[0][i], hx[1][i]) for i in range(state_shape[0])]
        else:
            states = [hx[i] for i in range(state_shape[0])]
        output, finals = self._run(input, states)
        if is_lstm:
            h_n = ndgrad.stack([s[0] for s in finals], 0)
            c_n = ndgrad.stack([s[1] for s in finals], 0)
        else:
            h_n = ndgrad.stack(finals, 0)
        if unbatched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            if is_lstm:
                c_n = c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory; returns ``output, (h_n, c_n)``. Gate order i, f, g, o as PyTorch."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit; returns ``output, h_n``. Gate order r, z, n as PyTorch."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class _CellBase(Module):
    _num_gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = self._num_gates * hidden_size
        self.weight_ih = new_param((gate_size, input_size), dtype, device)
        self.weight_hh = new_param((gate_size, hidden_size), dtype, device)
        if bias:
            self.bias_ih = new_param((gate_size,), dtype, device)
            self.bias_hh = new_param((gate_size,), dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_by_hidden_size_(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def _prepare(self, input, hx):
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise layer_error(self, f"2-d input (N, {self.input_size}) or 1-d input ({self.input_size})", input)
        unbatched = input.dim() == 1
        if unbatched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = ndgrad.zeros((input.shape[0], self.hidden_size), dtype=input.dtype, device=input.device)
            hx = zeros
        return input, hx, unbatched

    def _xw(self, input):
        return F.linear(input, self.weight_ih, self.bias_ih)


class RNNCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prepare(input, hx)
        if unbatched and hx.dim() == 1:
            hx = hx.unsqueeze(0)
        step = _rnn_tanh_step if self.nonlinearity == "tanh" else _rnn_relu_step
        h = step(self._xw(input), hx, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    _num_gates = 4

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prepare(input, hx)
        if not isinstance(hx, (tuple, list)):
            hx = (hx, hx)
        if unbatched and hx[0].dim() == 1:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = _lstm_step(self._xw(input), hx, self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    _num_gates = 3

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prepare(input, hx)
        if unbatched and hx.dim() == 1:
            hx = hx.unsqueeze(0)
        h = _gru_step(self._xw(input), hx, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h

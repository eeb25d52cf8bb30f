"""Recurrent layers: RNN, LSTM, GRU and their single-step cells.

Parameter names, shapes, gate order (LSTM: i, f, g, o; GRU: r, z, n) and
initialisation match PyTorch, so state_dicts load across. The input projection
of all time steps is one matrix product per layer and direction; only the
hidden-to-hidden product runs step by step. A PackedSequence input runs the
same loop on its data, step t touching only the batch_sizes[t] sequences still
running (the others keep their state); LSTM's proj_size adds the projection
h = (o * tanh(c)) @ weight_hr^T.
"""
import math
import warnings

import ndgrad
from ndgrad import amp as _amp
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import new_param, layer_error, shape_str
from ndgrad.nn.layers._fused_rnn import fused_layer

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ---------------------------------------------------------------- one time step
def _rnn_tanh_step(xw, h, w_hh, b_hh):
    return (xw + F.linear(h, w_hh, b_hh)).tanh()


def _rnn_relu_step(xw, h, w_hh, b_hh):
    return F.relu(xw + F.linear(h, w_hh, b_hh))


def _lstm_step(xw, state, w_hh, b_hh, hidden_size=None):
    h, c = state
    gates = xw + F.linear(h, w_hh, b_hh)
    H = c.shape[-1] if hidden_size is None else hidden_size
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


def _projected_lstm_step(w_hr):
    """An LSTM step whose hidden state is projected down: h = (o * tanh(c)) @ w_hr^T (proj_size > 0)."""
    def step(xw, state, w_hh, b_hh):
        h, c = _lstm_step(xw, state, w_hh, b_hh, hidden_size=w_hr.shape[1])
        return F.linear(h, w_hr), c
    return step


class _Steps:
    """The time steps of one layer's input: padded (T, N, *) with every row active at every step, or the
    data of a PackedSequence, where step t holds the first batch_sizes[t] rows (longest sequences first)."""

    def __init__(self, batch_sizes=None, length=None):
        self.batch_sizes = batch_sizes  # host ints, or None for padded input
        self.length = length if batch_sizes is None else len(batch_sizes)
        if batch_sizes is not None:
            self.offsets = [0]
            for n in batch_sizes[:-1]:
                self.offsets.append(self.offsets[-1] + n)

    def at(self, xw, t):
        if self.batch_sizes is None:
            return xw[t]
        return xw[self.offsets[t]:self.offsets[t] + self.batch_sizes[t]]

    def assemble(self, outs):
        return ndgrad.stack(outs, 0) if self.batch_sizes is None else ndgrad.cat(outs, 0)


def _advance(step, xw_t, state, w_hh, b_hh, is_lstm):
    """One step for the rows active in ``xw_t`` (the first ones); finished rows keep their state."""
    active = xw_t.shape[0]
    full = (state[0] if is_lstm else state).shape[0]
    if active == full:
        return step(xw_t, state, w_hh, b_hh)
    if is_lstm:
        h, c = step(xw_t, (state[0][:active], state[1][:active]), w_hh, b_hh)
        return ndgrad.cat([h, state[0][active:]], 0), ndgrad.cat([c, state[1][active:]], 0)
    h = step(xw_t, state[:active], w_hh, b_hh)
    return ndgrad.cat([h, state[active:]], 0)


def _same_dtype(xw, state, w_hh, b_hh):
    """The fused node computes in one dtype; mixed ones take the step-by-step path (and its promotions)."""
    tensors = [xw, w_hh, *(state if isinstance(state, tuple) else (state,))] + ([b_hh] if b_hh is not None else [])
    return all(t.dtype == xw.dtype for t in tensors)


class RNNBase(Module):
    """Shared machinery: parameter layout, input/state checks, the layer/direction loop, packed input."""

    _gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in self._gates:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout}")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          UserWarning, stacklevel=3)
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
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._weights_per_group = 2 + 2 * bool(bias) + (proj_size > 0)
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
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
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def _all_weights(self):
        k = self._weights_per_group
        return [self._flat_weights_names[i:i + k] for i in range(0, len(self._flat_weights_names), k)]

    @property
    def all_weights(self):
        k = self._weights_per_group
        return [[getattr(self, n) for n in self._flat_weights_names[i:i + k]]
                for i in range(0, len(self._flat_weights_names), k)]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _short_repr(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    # ----------------------------------------------------------------- checks
    def _check_input(self, input, packed=False):
        if packed:
            if input.dim() != 2 or input.shape[-1] != self.input_size:
                raise RuntimeError(f"{self._short_repr()}: expected the data of the PackedSequence to have shape "
                                   f"(sum of lengths, {self.input_size}) (input_size={self.input_size}), got "
                                   f"{shape_str(input.shape)}")
            return
        seq = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise layer_error(self, f"3-d input {seq.replace('H_in', str(self.input_size))} or 2-d unbatched "
                              f"input (L, {self.input_size}) (input_size={self.input_size})", input)

    def _check_hidden(self, hx, expected, what):
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"{self._short_repr()}: expected {what} of shape {shape_str(expected)}, "
                               f"got {shape_str(hx.shape)}")

    # ---------------------------------------------------------------- forward
    def _step(self, layer, suffix):
        if self.mode == "LSTM" and self.proj_size > 0:
            return _projected_lstm_step(getattr(self, f"weight_hr_l{layer}{suffix}"))
        return {"LSTM": _lstm_step, "GRU": _gru_step, "RNN_TANH": _rnn_tanh_step,
                "RNN_RELU": _rnn_relu_step}[self.mode]

    def _fusable(self, steps):
        """LSTM (without projection) and GRU over padded input run as one fused node per layer/direction
        (not under autocast, whose per-op casts the step-by-step path applies)."""
        return (self.mode == "GRU" or (self.mode == "LSTM" and self.proj_size == 0)) \
            and steps.batch_sizes is None and steps.length > 0 and not _amp.state.enabled

    def _run(self, input, hx, steps):
        """input: padded (L, N, H_in) or packed data (sum of lengths, H_in); hx a list of per-(layer,
        direction) states (full batch). Returns the last layer's output in the input's layout and the
        final states."""
        is_lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        layer_input = input
        finals = []
        for layer in range(self.num_layers):
            dir_outputs = []
            for direction in range(num_directions):
                suffix = "_reverse" if direction == 1 else ""
                step = self._step(layer, suffix)
                w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
                w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
                b_ih = getattr(self, f"bias_ih_l{layer}{suffix}") if self.bias else None
                b_hh = getattr(self, f"bias_hh_l{layer}{suffix}") if self.bias else None
                xw = F.linear(layer_input, w_ih, b_ih)  # every time step's input projection at once
                state = hx[layer * num_directions + direction]
                if self._fusable(steps) and _same_dtype(xw, state, w_hh, b_hh):   # one node per layer (_fused_rnn.py)
                    out, state = fused_layer(self.mode, xw, state, w_hh, b_hh, reverse=direction == 1)
                    finals.append(state)
                    dir_outputs.append(out)
                    continue
                outs = [None] * steps.length
                order = range(steps.length - 1, -1, -1) if direction == 1 else range(steps.length)
                for t in order:
                    xw_t = steps.at(xw, t)
                    state = _advance(step, xw_t, state, w_hh, b_hh, is_lstm)
                    h = state[0] if is_lstm else state
                    outs[t] = h if h.shape[0] == xw_t.shape[0] else h[:xw_t.shape[0]]
                finals.append(state)
                dir_outputs.append(steps.assemble(outs))
            layer_output = dir_outputs[0] if num_directions == 1 else ndgrad.cat(dir_outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_output = F.dropout(layer_output, self.dropout, True)
            layer_input = layer_output
        return layer_input, finals

    def _initial_states(self, hx, batch, unbatched, dtype, device, sorted_indices=None):
        num_directions = 2 if self.bidirectional else 1
        out_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * num_directions, batch, out_size)
        c_shape = (self.num_layers * num_directions, batch, self.hidden_size)
        is_lstm = self.mode == "LSTM"
        if hx is None:
            h0 = ndgrad.zeros(h_shape, dtype=dtype, device=device)
            parts = (h0, ndgrad.zeros(c_shape, dtype=dtype, device=device)) if is_lstm else (h0,)
        else:
            if is_lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{self._short_repr()}: hx must be a tuple (h_0, c_0)")
            if not is_lstm and isinstance(hx, (tuple, list)):
                raise TypeError(f"{self._short_repr()}: hx must be a Tensor h_0, not a {type(hx).__name__}")
            parts = tuple(hx) if is_lstm else (hx,)
            for part, what, shape in zip(parts, ("h_0", "c_0"), (h_shape, c_shape)):
                self._check_hidden(part, shape[:1] + shape[2:] if unbatched else shape, what)
            if unbatched:
                parts = tuple(p.unsqueeze(1) for p in parts)
            if sorted_indices is not None:
                parts = tuple(p.index_select(1, sorted_indices) for p in parts)
        if is_lstm:
            return [(parts[0][i], parts[1][i]) for i in range(h_shape[0])]
        return [parts[0][i] for i in range(h_shape[0])]

    def forward(self, input, hx=None):
        from ndgrad.nn.utils.rnn import PackedSequence
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            self._check_input(data, packed=True)
            sizes = [int(n) for n in batch_sizes.tolist()]
            steps = _Steps(batch_sizes=sizes)
            batch = sizes[0] if sizes else 0
            x = data
        else:
            self._check_input(input)
            sorted_indices = unsorted_indices = None
            unbatched = input.dim() == 2
            if unbatched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            steps = _Steps(length=input.shape[0])
            batch = input.shape[1]
            x = input
        states = self._initial_states(hx, batch, unbatched, x.dtype, x.device, sorted_indices)
        output, finals = self._run(x, states, steps)
        h_n = ndgrad.stack([s[0] for s in finals] if is_lstm else finals, 0)
        c_n = ndgrad.stack([s[1] for s in finals], 0) if is_lstm else None
        if packed:
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                h_n = h_n.index_select(1, unsorted_indices)
                c_n = c_n.index_select(1, unsorted_indices) if is_lstm else None
        elif unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *, proj_size=0):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, proj_size, device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory; returns ``output, (h_n, c_n)``. Gate order i, f, g, o as PyTorch."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit; returns ``output, h_n``. Gate order r, z, n as PyTorch."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, proj_size=0):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class RNNCellBase(Module):
    """The public base of RNNCell, LSTMCell and GRUCell: weight_ih (num_chunks * hidden, input),
    weight_hh (num_chunks * hidden, hidden) and optional biases, all drawn from U(-1/sqrt(hidden), ...)."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
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
        if self.__dict__.get("bias", True) is not True:
            s += f", bias={self.bias}"
        if self.__dict__.get("nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _short_repr(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _prepare(self, input, hx):
        """(2-d input, hx with a batch dim or None, whether the call was unbatched), after the checks."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise layer_error(self, f"2-d input (N, {self.input_size}) or 1-d input ({self.input_size})", input)
        unbatched = input.dim() == 1
        parts = hx if isinstance(hx, (tuple, list)) else (hx,)
        for part in parts:
            if part is not None and part.dim() not in (1, 2):
                raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {part.dim()}D instead")
        if unbatched:
            input = input.unsqueeze(0)
        batch = input.shape[0]
        expected = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        for part in parts:
            if part is not None and tuple(part.shape) != expected:
                raise RuntimeError(f"{self._short_repr()}: expected hidden state of shape {shape_str(expected)}, "
                                   f"got {shape_str(part.shape)}")
        if unbatched and hx is not None:
            hx = tuple(p.unsqueeze(0) for p in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(0)
        return input, hx, unbatched

    def _zeros(self, input):
        return ndgrad.zeros((input.shape[0], self.hidden_size), dtype=input.dtype, device=input.device)

    def _xw(self, input):
        return F.linear(input, self.weight_ih, self.bias_ih)


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prepare(input, hx)
        hx = self._zeros(input) if hx is None else hx
        if self.nonlinearity == "tanh":
            step = _rnn_tanh_step
        elif self.nonlinearity == "relu":
            step = _rnn_relu_step
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        h = step(self._xw(input), hx, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c'); gate order i, f, g, o."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prepare(input, hx)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        h, c = _lstm_step(self._xw(input), hx, self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step: h' = (1 - z) * n + z * h; gate order r, z, n."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prepare(input, hx)
        hx = self._zeros(input) if hx is None else hx
        h = _gru_step(self._xw(input), hx, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h

"""One autograd node for a whole LSTM or GRU layer (one direction) over a padded sequence.

The step-by-step loop in rnn.py records about a dozen small nodes per time step; a language model's
35-step, 2-layer LSTM makes ~1,000 of them per forward and as many backward calls. Here the whole
recurrence runs on raw arrays in one ``forward`` (per step: one matrix product with W_hh, the gate
nonlinearities and the state update in a few in-place passes), and ``backward`` is a hand-written
backpropagation through time that ends with one matrix product for dW_hh over all steps.

The input projection x @ W_ih^T + b_ih of all steps stays outside (one F.linear, differentiated by
the engine), so the node's inputs are that projection ``xw`` (T, N, G*H), the initial state(s), W_hh
and b_hh. Output: LSTM (T, N, 2H), every step's [h, c]; GRU (T, N, H), every step's h. With
create_graph the backward falls back to the step functions of rnn.py in Tensor ops, so higher-order
gradients are those of the unfused layer.
"""
import ndgrad
from ndgrad.autograd import grad_mode
from ndgrad.autograd.node import Node
from ndgrad.tensor import _new_tensor

__all__ = []


def _sigmoid_(xp, a):
    """a <- sigmoid(a), in place (exp of a negated copy: no overflow warning for large |a| in float32)."""
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)
    return a


class _FusedRecurrence(Node):
    """Base: gathers the optional inputs and the create_graph fallback."""
    __slots__ = ("reverse", "has_bias", "saved")
    needs_output = True
    n_gates = None

    def __init__(self, reverse, has_bias):
        self.reverse = reverse
        self.has_bias = has_bias
        self.saved = None

    def _order(self, length):
        return range(length - 1, -1, -1) if self.reverse else range(length)

    def _graph_backward(self, grad):
        """create_graph: rerun the layer with the unfused Tensor-op steps and differentiate that."""
        inputs = [self.input(i) for i in range(len(self.needs_input_grad))]
        with grad_mode.enable_grad():
            out = self.tensor_forward(*inputs)
        wanted = [t for t, need in zip(inputs, self.needs_input_grad) if need]
        found = iter(ndgrad.autograd.grad(out, wanted, grad, create_graph=True, allow_unused=True))
        return tuple(next(found) if need else None for need in self.needs_input_grad)

    def _saved_inputs(self):
        """The inputs' arrays for the fused backward, split as ``_split`` does."""
        return self._split([self.input(i)._data for i in range(len(self.needs_input_grad))])

    def _split(self, arrays):
        """(xw, states..., w_hh, b_hh or None) from the positional inputs."""
        n_states = 2 if self.n_gates == 4 else 1
        xw, states, w_hh = arrays[0], arrays[1:1 + n_states], arrays[1 + n_states]
        b_hh = arrays[2 + n_states] if self.has_bias else None
        return xw, states, w_hh, b_hh


class FusedLSTM(_FusedRecurrence):
    """Inputs xw (T, N, 4H), h0 (N, H), c0 (N, H), W_hh (4H, H)[, b_hh (4H,)]; output (T, N, 2H) = [h_t, c_t]."""
    __slots__ = ()
    n_gates = 4

    def forward(self, *arrays):
        xp = self.xp
        xw, (h, c), w_hh, b_hh = self._split(arrays)
        T, N, G = xw.shape
        H = G // 4
        out = xp.empty((T, N, 2 * H), dtype=xw.dtype)
        gates = xp.empty((T, N, G), dtype=xw.dtype)   # i, f, g, o after their nonlinearities
        w_t = w_hh.T
        for t in self._order(T):
            a = gates[t]
            xp.matmul(h, w_t, out=a)
            a += xw[t]
            if b_hh is not None:
                a += b_hh
            _sigmoid_(xp, a[:, :2 * H])
            xp.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            _sigmoid_(xp, a[:, 3 * H:])
            c_new = out[t, :, H:]
            xp.multiply(a[:, H:2 * H], c, out=c_new)              # f * c
            c_new += a[:, :H] * a[:, 2 * H:3 * H]                # + i * g
            h_new = out[t, :, :H]
            xp.tanh(c_new, out=h_new)
            h_new *= a[:, 3 * H:]                                 # o * tanh(c)
            h, c = h_new, c_new
        self.saved = gates
        return out

    def backward(self, grad):
        if grad_mode.state.enabled:
            return self._graph_backward(grad)
        xp = self.xp
        xw, (h0, c0), w_hh, _ = self._saved_inputs()
        out, gates = self.output_array(), self.saved
        T, N, G = xw.shape
        H = G // 4
        g_out = xp.broadcast_to(grad._data, out.shape)
        d_gates = xp.empty_like(gates)
        dh = xp.zeros((N, H), dtype=xw.dtype)
        dc = xp.zeros((N, H), dtype=xw.dtype)
        order = list(self._order(T))
        for k in range(T - 1, -1, -1):   # the steps in the reverse of the order they ran
            t = order[k]
            c_prev = out[order[k - 1], :, H:] if k > 0 else c0
            i, f, g, o = (gates[t, :, j * H:(j + 1) * H] for j in range(4))
            dh += g_out[t, :, :H]
            dc += g_out[t, :, H:]
            tanh_c = xp.tanh(out[t, :, H:])
            d = d_gates[t]
            xp.multiply(dh, tanh_c, out=d[:, 3 * H:])             # d o
            d[:, 3 * H:] *= o * (1 - o)
            tanh_c *= tanh_c
            dc += dh * o * (1 - tanh_c)
            xp.multiply(dc, g, out=d[:, :H])                      # d i
            d[:, :H] *= i * (1 - i)
            xp.multiply(dc, c_prev, out=d[:, H:2 * H])            # d f
            d[:, H:2 * H] *= f * (1 - f)
            xp.multiply(dc, i, out=d[:, 2 * H:3 * H])             # d g
            d[:, 2 * H:3 * H] *= 1 - g * g
            dc *= f
            dh = d @ w_hh
        return self._grads(xp, d_gates, dh, dc, h0, out[..., :H], order, grad)

    def _grads(self, xp, d_gates, dh0, dc0, h0, hs, order, grad):
        need = self.needs_input_grad
        dev = grad._device
        result = [_new_tensor(d_gates, dev) if need[0] else None,
                  _new_tensor(dh0, dev) if need[1] else None,
                  _new_tensor(dc0, dev) if need[2] else None,
                  _new_tensor(_weight_grad(xp, d_gates, h0, hs, order), dev) if need[3] else None]
        if self.has_bias:
            result.append(_new_tensor(d_gates.sum((0, 1)), dev) if need[4] else None)
        return tuple(result)

    def tensor_forward(self, xw, h0, c0, w_hh, b_hh=None):
        from ndgrad.nn.layers.rnn import _lstm_step
        outs = [None] * xw.shape[0]
        state = (h0, c0)
        for t in self._order(xw.shape[0]):
            state = _lstm_step(xw[t], state, w_hh, b_hh)
            outs[t] = ndgrad.cat(state, -1)
        return ndgrad.stack(outs, 0)


def _weight_grad(xp, d_gates, h0, hs, order):
    """dW_hh = sum over steps of d_gates[t]^T @ h_prev(t): one matrix product over all steps."""
    T, N, G = d_gates.shape
    prev = xp.empty((T, N, h0.shape[-1]), dtype=d_gates.dtype)
    for k, t in enumerate(order):
        prev[t] = hs[order[k - 1]] if k > 0 else h0
    return d_gates.reshape(T * N, G).T @ prev.reshape(T * N, h0.shape[-1])


class FusedGRU(_FusedRecurrence):
    """Inputs xw (T, N, 3H), h0 (N, H), W_hh (3H, H)[, b_hh (3H,)]; output (T, N, H) = every h_t.

    r = sigmoid(xw_r + gh_r), z = sigmoid(xw_z + gh_z), n = tanh(xw_n + r * gh_n), h' = n + z * (h - n),
    with gh = h @ W_hh^T + b_hh (PyTorch's gate order and formulas)."""
    __slots__ = ()
    n_gates = 3

    def forward(self, *arrays):
        xp = self.xp
        xw, (h,), w_hh, b_hh = self._split(arrays)
        T, N, G = xw.shape
        H = G // 3
        out = xp.empty((T, N, H), dtype=xw.dtype)
        gates = xp.empty((T, N, G), dtype=xw.dtype)   # r, z, n after their nonlinearities
        gh_n = xp.empty((T, N, H), dtype=xw.dtype)     # the hidden part of n's input, before r scales it
        w_t = w_hh.T
        for t in self._order(T):
            a = gates[t]
            xp.matmul(h, w_t, out=a)
            if b_hh is not None:
                a += b_hh
            gh_n[t] = a[:, 2 * H:]
            a[:, :2 * H] += xw[t, :, :2 * H]
            _sigmoid_(xp, a[:, :2 * H])
            n = a[:, 2 * H:]
            n *= a[:, :H]                                         # r * gh_n
            n += xw[t, :, 2 * H:]
            xp.tanh(n, out=n)
            h_new = out[t]
            xp.subtract(h, n, out=h_new)
            h_new *= a[:, H:2 * H]
            h_new += n                                            # n + z * (h - n)
            h = h_new
        self.saved = (gates, gh_n)
        return out

    def backward(self, grad):
        if grad_mode.state.enabled:
            return self._graph_backward(grad)
        xp = self.xp
        xw, (h0,), w_hh, _ = self._saved_inputs()
        out = self.output_array()
        gates, gh_n = self.saved
        T, N, G = xw.shape
        H = G // 3
        g_out = xp.broadcast_to(grad._data, out.shape)
        d_xw = xp.empty_like(gates)
        d_gh = xp.empty_like(gates)    # gradient of h @ W_hh^T + b_hh
        dh = xp.zeros((N, H), dtype=xw.dtype)
        order = list(self._order(T))
        for k in range(T - 1, -1, -1):
            t = order[k]
            h_prev = out[order[k - 1]] if k > 0 else h0
            r, z, n = (gates[t, :, j * H:(j + 1) * H] for j in range(3))
            dh += g_out[t]
            dn = d_xw[t, :, 2 * H:]
            xp.multiply(dh, 1 - z, out=dn)
            dn *= 1 - n * n                                        # through tanh
            dz = d_xw[t, :, H:2 * H]
            xp.subtract(h_prev, n, out=dz)
            dz *= dh
            dz *= z * (1 - z)
            dr = d_xw[t, :, :H]
            xp.multiply(dn, gh_n[t], out=dr)
            dr *= r * (1 - r)
            d_gh[t, :, :2 * H] = d_xw[t, :, :2 * H]
            xp.multiply(dn, r, out=d_gh[t, :, 2 * H:])
            dh = dh * z + d_gh[t] @ w_hh
        return self._grads(xp, d_xw, d_gh, dh, h0, out, order, grad)

    def _grads(self, xp, d_xw, d_gh, dh0, h0, hs, order, grad):
        need = self.needs_input_grad
        dev = grad._device
        result = [_new_tensor(d_xw, dev) if need[0] else None,
                  _new_tensor(dh0, dev) if need[1] else None,
                  _new_tensor(_weight_grad(xp, d_gh, h0, hs, order), dev) if need[2] else None]
        if self.has_bias:
            result.append(_new_tensor(d_gh.sum((0, 1)), dev) if need[3] else None)
        return tuple(result)

    def tensor_forward(self, xw, h0, w_hh, b_hh=None):
        from ndgrad.nn.layers.rnn import _gru_step
        outs = [None] * xw.shape[0]
        h = h0
        for t in self._order(xw.shape[0]):
            h = outs[t] = _gru_step(xw[t], h, w_hh, b_hh)
        return ndgrad.stack(outs, 0)


def fused_layer(mode, xw, state, w_hh, b_hh, reverse):
    """Run one layer/direction; returns (outputs (T, N, H), final state) like rnn.py's loop."""
    has_bias = b_hh is not None
    tail = (w_hh, b_hh) if has_bias else (w_hh,)
    if mode == "LSTM":
        H = w_hh.shape[1]
        seq = FusedLSTM(reverse, has_bias).apply(xw, state[0], state[1], *tail)
        last = seq[0] if reverse else seq[-1]
        return seq[..., :H], (last[:, :H], last[:, H:])
    seq = FusedGRU(reverse, has_bias).apply(xw, state, *tail)
    return seq, (seq[0] if reverse else seq[-1])

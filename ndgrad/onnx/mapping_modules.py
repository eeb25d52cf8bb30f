"""Modules exported as whole ONNX ops: RNN, LSTM and GRU become ONNX's recurrent ops (one per layer).

The trace records such a module as one op (its inner steps are not recorded),
so a sequence of any length runs through the exported model.
"""
from ..backend import host, np

MAPPERS = {}
# torch's gate order -> ONNX's: LSTM (i, f, g, o) -> (i, o, f, c); GRU (r, z, n) -> (z, r, h)
_GATES = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def CAPTURED_MODULES():
    from ..nn.layers.rnn import GRU, LSTM, RNN
    return (RNN, LSTM, GRU)


def _reorder(array, mode, hidden):
    order = _GATES[mode]
    blocks = [array[g * hidden:(g + 1) * hidden] for g in order]
    return np.concatenate(blocks, axis=0)


def _recurrent(ctx, op):
    module = op.extra["module"]
    mode, hidden, layers = module.mode, module.hidden_size, module.num_layers
    dirs = 2 if module.bidirectional else 1
    x_value = op.inputs[0]
    if getattr(module, "proj_size", 0) or len(x_value.shape) != 3:
        raise ctx_error(op, "LSTM with proj_size, packed sequences and unbatched (2-D) input")
    is_lstm = mode == "LSTM"
    onnx_op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    gates = len(_GATES[mode]) if mode != "LSTM" else 4
    dtype = x_value.dtype
    x = ctx.name(x_value)
    if module.batch_first:
        x = ctx.node("Transpose", [x], perm=[1, 0, 2])
    h0 = ctx.name(op.inputs[1]) if len(op.inputs) > 1 else None
    c0 = ctx.name(op.inputs[2]) if is_lstm and len(op.inputs) > 2 else None
    finals_h, finals_c = [], []
    for layer in range(layers):
        ws, rs, bs = [], [], []
        for d in range(dirs):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            ws.append(_reorder(host(getattr(module, "weight_ih" + suffix)._data), mode, hidden))
            rs.append(_reorder(host(getattr(module, "weight_hh" + suffix)._data), mode, hidden))
            if module.bias:
                b_ih = _reorder(host(getattr(module, "bias_ih" + suffix)._data), mode, hidden)
                b_hh = _reorder(host(getattr(module, "bias_hh" + suffix)._data), mode, hidden)
            else:
                b_ih = b_hh = np.zeros(gates * hidden, dtype=dtype)
            bs.append(np.concatenate([b_ih, b_hh]))
        ins = [x, ctx.const(np.stack(ws).astype(dtype), hint=f"{op.module}_W{layer}"),
               ctx.const(np.stack(rs).astype(dtype), hint=f"{op.module}_R{layer}"),
               ctx.const(np.stack(bs).astype(dtype), hint=f"{op.module}_B{layer}"), ""]
        ins.append(_layer_slice(ctx, h0, layer, dirs) if h0 else "")
        if is_lstm:
            ins.append(_layer_slice(ctx, c0, layer, dirs) if c0 else "")
        while ins[-1] == "":
            ins.pop()
        attrs = dict(hidden_size=hidden, direction="bidirectional" if dirs == 2 else "forward")
        if mode == "GRU":
            attrs["linear_before_reset"] = 1
        if mode.startswith("RNN"):
            attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * dirs
        outs = ctx.node(onnx_op, ins, n_out=3 if is_lstm else 2, hint=f"{onnx_op.lower()}{layer}", **attrs)
        y = ctx.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])       # (T, B, dirs, H)
        x = ctx.node("Reshape", [y, ctx.ints([0, 0, -1])])            # (T, B, dirs * H)
        finals_h.append(outs[1])
        if is_lstm:
            finals_c.append(outs[2])
    output = ctx.node("Transpose", [x], perm=[1, 0, 2]) if module.batch_first else ctx.node("Identity", [x])
    h_n = ctx.node("Concat", finals_h, axis=0) if layers > 1 else ctx.node("Identity", finals_h)
    if not is_lstm:
        return [output, h_n]
    c_n = ctx.node("Concat", finals_c, axis=0) if layers > 1 else ctx.node("Identity", finals_c)
    return [output, h_n, c_n]


def _layer_slice(ctx, state, layer, dirs):
    return ctx.node("Slice", [state, ctx.ints([layer * dirs]), ctx.ints([(layer + 1) * dirs]), ctx.ints([0])])


def ctx_error(op, what):
    from .builder import UnsupportedOperatorError
    return UnsupportedOperatorError(f"onnx.export: {op.op} in {op.module!r}: {what} have no ONNX export in "
                                    f"ndgrad; pass a padded (T, B, features) tensor")


for _name in ("RNN", "LSTM", "GRU"):
    MAPPERS[_name] = _recurrent

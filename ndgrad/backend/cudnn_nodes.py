"""Batch norm and scaled dot-product attention through cuDNN, as autograd nodes (see cudnn_frontend.py).

Each op first gets its cached cuDNN plan; where cuDNN refuses the graph, the caller gets None and runs
ndgrad's own path, so a node is only made once the forward has run. The forward result is computed
before the node is applied (``Node.apply`` then only records it). Backward runs cuDNN's backward
graph for first-order gradients; under ``create_graph`` (or if cuDNN refuses the backward graph) it is
the same rule in Tensor ops, recomputed from the inputs in float32, so higher-order gradients work.
"""
import numpy as np

from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Node
from . import cudnn_frontend as fe

__all__ = ["batch_norm_training", "batch_norm_inference", "attention"]


def _tensor(array, device):
    from ..tensor import _new_tensor
    return _new_tensor(array, device)


def _float(cudnn):
    return cudnn.data_type.FLOAT


def _graph(cudnn, handle, dtype):
    return cudnn.pygraph(io_data_type=fe._data_type(cudnn, dtype), intermediate_data_type=_float(cudnn),
                         compute_data_type=_float(cudnn), handle=handle)


# -- batch norm ------------------------------------------------------------------------------------------
def _bn_shape(shape):
    """(N, C), (N, C, L) -> the 4-d (N, C, *, 1) cuDNN normalises; 4-d and 5-d stay."""
    shape = tuple(shape)
    return shape + (1,) * (4 - len(shape)) if len(shape) < 4 else shape


def _bn_input(x):
    """x as a 4-d/5-d channels-last array (a view where it already is one, else a copy)."""
    return fe._in_layout(x.reshape(_bn_shape(x.shape)), channels_last=True)


def _channel_array(cp, t, c, nd, fill):
    """A float32 (1, C, 1, ...) array of parameter ``t`` (None: ``fill``)."""
    shape = (1, c) + (1,) * (nd - 2)
    if t is None:
        return cp.full(shape, fill, dtype=cp.float32)
    return cp.ascontiguousarray(t._data.astype(cp.float32, copy=False).reshape(shape))


def _stat_tensor(graph, cudnn, name, c, nd):
    shape = [1, c] + [1] * (nd - 2)
    return graph.tensor(name=name, dim=shape, stride=fe._packed_strides(shape, False), data_type=_float(cudnn))


def _stat_output(out, cudnn, c, nd):
    """Declare a per-channel float32 output (1, C, 1, ...), dense."""
    shape = [1, c] + [1] * (nd - 2)
    return out.set_output(True).set_dim(shape).set_stride(fe._packed_strides(shape, False)).set_data_type(
        _float(cudnn))


def _scalar_tensor(graph, cudnn, name, nd):
    return graph.tensor(name=name, dim=[1] * nd, stride=[1] * nd, data_type=_float(cudnn), is_pass_by_value=True)


def _host_scalar(value, nd):
    return np.full((1,) * nd, value, dtype=np.float32)


def _bn_forward_plan(x4, x_strides, device_id):
    c, nd = x4.shape[1], x4.ndim
    key = ("batch_norm_forward", (tuple(x4.shape),), x4.dtype.name, device_id, fe._flag_key())

    def build(cudnn, handle):
        graph = _graph(cudnn, handle, x4.dtype)
        X = graph.tensor(name="x", dim=list(x4.shape), stride=x_strides, data_type=fe._data_type(cudnn, x4.dtype))
        t = {"x": X}
        for name in ("scale", "bias", "running_mean", "running_var"):
            t[name] = _stat_tensor(graph, cudnn, name, c, nd)
        t["eps"], t["momentum"] = _scalar_tensor(graph, cudnn, "eps", nd), _scalar_tensor(graph, cudnn, "momentum", nd)
        Y, mean, inv_var, next_mean, next_var = graph.batchnorm(
            name="bn", input=X, scale=t["scale"], bias=t["bias"], in_running_mean=t["running_mean"],
            in_running_var=t["running_var"], epsilon=t["eps"], momentum=t["momentum"])
        Y.set_output(True).set_dim(list(x4.shape)).set_stride(x_strides).set_data_type(
            fe._data_type(cudnn, x4.dtype))
        for name, out in (("mean", mean), ("inv_var", inv_var), ("next_mean", next_mean), ("next_var", next_var)):
            t[name] = _stat_output(out, cudnn, c, nd)
        t["y"] = Y
        return graph, t

    return fe._plan("batch_norm_forward", key, build, device_id)


def _bn_backward_plan(x4, x_strides, device_id):
    c, nd = x4.shape[1], x4.ndim
    key = ("batch_norm_backward", (tuple(x4.shape),), x4.dtype.name, device_id, fe._flag_key())

    def build(cudnn, handle):
        graph = _graph(cudnn, handle, x4.dtype)
        dt = fe._data_type(cudnn, x4.dtype)
        X = graph.tensor(name="x", dim=list(x4.shape), stride=x_strides, data_type=dt)
        DY = graph.tensor(name="dy", dim=list(x4.shape), stride=x_strides, data_type=dt)
        t = {"x": X, "dy": DY}
        for name in ("scale", "mean", "inv_var"):
            t[name] = _stat_tensor(graph, cudnn, name, c, nd)
        DX, DS, DB = graph.batchnorm_backward(name="dbn", grad=DY, input=X, scale=t["scale"], mean=t["mean"],
                                              inv_variance=t["inv_var"])
        DX.set_output(True).set_dim(list(x4.shape)).set_stride(x_strides).set_data_type(dt)
        t.update(dx=DX, dscale=_stat_output(DS, cudnn, c, nd), dbias=_stat_output(DB, cudnn, c, nd))
        return graph, t

    return fe._plan("batch_norm_backward", key, build, device_id)


class _CudnnNode(Node):
    """A node whose forward already ran in cuDNN (``result``); its first-order backward runs in cuDNN too,
    and with Tensor ops under create_graph or where cuDNN refuses (so double backward works)."""

    def forward(self, *inputs):
        result, self.result = self.result, None
        return result

    def backward(self, grad):
        if not _grad_state.enabled:
            grads = self._backward_cudnn(grad)
            if grads is not None:
                return grads
        return self._backward_graph(grad)


class BatchNormTraining(_CudnnNode):
    """Batch norm with batch statistics, computed by cuDNN before the node is applied (``result``)."""
    __slots__ = ("result", "eps", "has_weight", "has_bias", "mean", "inv_var", "x4", "x_strides")

    def __init__(self, result, eps, has_weight, has_bias, mean, inv_var, x4, x_strides):
        self.result, self.eps, self.has_weight, self.has_bias = result, eps, has_weight, has_bias
        self.mean, self.inv_var, self.x4, self.x_strides = mean, inv_var, x4, x_strides

    def _backward_cudnn(self, grad):
        x = self.input(0)
        g = grad._data
        if g.dtype != self.x4.dtype or fe._cupy() is None:
            return None
        cp = fe._cupy()
        x4, c, nd = self.x4, self.x4.shape[1], self.x4.ndim
        plan = _bn_backward_plan(x4, self.x_strides, x4.device.id)
        if plan is None:
            return None
        dy4, _ = fe._in_layout(g.reshape(_bn_shape(g.shape)), channels_last=True)
        scale = _channel_array(cp, self.input(1) if self.has_weight else None, c, nd, 1.0)
        dx = fe._empty(x4.shape, x4.dtype, channels_last=True)
        dscale, dbias = cp.empty((1, c) + (1,) * (nd - 2), cp.float32), cp.empty((1, c) + (1,) * (nd - 2), cp.float32)
        if not fe._run("batch_norm_backward", plan, {"x": x4, "dy": dy4, "scale": scale, "mean": self.mean,
                                                     "inv_var": self.inv_var, "dx": dx, "dscale": dscale,
                                                     "dbias": dbias}):
            return None
        need, device = self.needs_input_grad, x._device
        grads = [_tensor(dx.reshape(g.shape), device) if need[0] else None]
        if self.has_weight:
            grads.append(_tensor(dscale.reshape(c), device) if need[1] else None)
        if self.has_bias:
            grads.append(_tensor(dbias.reshape(c), device) if need[-1] else None)
        return tuple(grads)

    def _backward_graph(self, grad):
        """The rule in Tensor ops, from the input recomputed in float32 (differentiable again)."""
        need = self.needs_input_grad
        x = self.input(0)
        xf, g = x.float(), grad.float()
        axes = (0,) + tuple(range(2, x.ndim))
        param_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        mean = xf.mean(axes, keepdim=True)
        xc = xf - mean
        rstd = ((xc * xc).mean(axes, keepdim=True) + self.eps) ** -0.5
        xhat = xc * rstd
        grads = [None]
        if need[0]:
            gxhat = g * self.input(1).float().reshape(param_shape) if self.has_weight else g
            grads[0] = rstd * (gxhat - gxhat.mean(axes, keepdim=True)
                               - xhat * (gxhat * xhat).mean(axes, keepdim=True))
        if self.has_weight:
            grads.append((g * xhat).sum(axes) if need[1] else None)
        if self.has_bias:
            grads.append(g.sum(axes) if need[-1] else None)
        return tuple(grads)

    def release(self):
        super().release()
        self.mean = self.inv_var = self.x4 = None


def batch_norm_training(input, running_mean, running_var, weight, bias, momentum, eps):
    """Training batch norm through cuDNN (see cudnn_frontend.batch_norm), or None where it refuses."""
    cp = fe._cupy()
    x = input._data
    x4, x_strides = _bn_input(x)
    c, nd = x4.shape[1], x4.ndim
    plan = _bn_forward_plan(x4, x_strides, x.device.id)
    if plan is None:
        return None
    stat_shape = (1, c) + (1,) * (nd - 2)
    y4 = fe._empty(x4.shape, x4.dtype, channels_last=True)
    mean, inv_var = cp.empty(stat_shape, cp.float32), cp.empty(stat_shape, cp.float32)
    # cuDNN's own running-stat update goes to scratch copies: ndgrad updates the user's statistics below,
    # in their dtype and with PyTorch's unbiased variance, whatever cuDNN's convention
    scratch_mean, scratch_var = cp.zeros(stat_shape, cp.float32), cp.ones(stat_shape, cp.float32)
    bindings = {"x": x4, "y": y4, "scale": _channel_array(cp, weight, c, nd, 1.0),
                "bias": _channel_array(cp, bias, c, nd, 0.0), "running_mean": scratch_mean,
                "running_var": scratch_var, "next_mean": scratch_mean, "next_var": scratch_var,
                "eps": _host_scalar(eps, nd), "momentum": _host_scalar(0.0, nd), "mean": mean, "inv_var": inv_var}
    if not fe._run("batch_norm_forward", plan, bindings):
        return None
    count = x.size // c
    m = 0.0 if momentum is None else momentum
    if running_mean is not None:
        rm = running_mean._data
        rm *= 1 - m
        rm += m * mean.reshape(c).astype(rm.dtype, copy=False)
        running_mean._bump_version()
    if running_var is not None:
        var = 1.0 / (inv_var.reshape(c) * inv_var.reshape(c)) - np.float32(eps)   # cuDNN saves 1/sqrt(var + eps)
        rv = running_var._data
        rv *= 1 - m
        rv += (m * count / (count - 1)) * var.astype(rv.dtype, copy=False)
        running_var._bump_version()
    node = BatchNormTraining(y4.reshape(x.shape), eps, weight is not None, bias is not None, mean, inv_var, x4,
                             x_strides)
    return node.apply(input, *[p for p in (weight, bias) if p is not None])


def batch_norm_inference(input, running_mean, running_var, weight, bias, eps):
    """Evaluation batch norm through cuDNN (no graph is recorded), or None where it refuses."""
    cp = fe._cupy()
    x = input._data
    x4, x_strides = _bn_input(x)
    c, nd = x4.shape[1], x4.ndim
    device_id = x.device.id
    key = ("batch_norm_inference", (tuple(x4.shape),), x4.dtype.name, device_id, fe._flag_key())

    def build(cudnn, handle):
        graph = _graph(cudnn, handle, x4.dtype)
        dt = fe._data_type(cudnn, x4.dtype)
        X = graph.tensor(name="x", dim=list(x4.shape), stride=x_strides, data_type=dt)
        t = {"x": X}
        for name in ("mean", "inv_var", "scale", "bias"):
            t[name] = _stat_tensor(graph, cudnn, name, c, nd)
        Y = graph.batchnorm_inference(name="bn_inference", input=X, mean=t["mean"], inv_variance=t["inv_var"],
                                      scale=t["scale"], bias=t["bias"])
        Y.set_output(True).set_dim(list(x4.shape)).set_stride(x_strides).set_data_type(dt)
        t["y"] = Y
        return graph, t

    plan = fe._plan("batch_norm_inference", key, build, device_id)
    if plan is None:
        return None
    stat_shape = (1, c) + (1,) * (nd - 2)
    mean = cp.ascontiguousarray(running_mean._data.astype(cp.float32, copy=False).reshape(stat_shape))
    inv_var = 1.0 / cp.sqrt(running_var._data.astype(cp.float32, copy=False).reshape(stat_shape) + np.float32(eps))
    y4 = fe._empty(x4.shape, x4.dtype, channels_last=True)
    if not fe._run("batch_norm_inference", plan, {"x": x4, "y": y4, "mean": mean, "inv_var": inv_var,
                                                  "scale": _channel_array(cp, weight, c, nd, 1.0),
                                                  "bias": _channel_array(cp, bias, c, nd, 0.0)}):
        return None
    from ..tensor import Tensor
    return Tensor._wrap(y4.reshape(x.shape), input._device)


# -- scaled dot-product attention ------------------------------------------------------------------------
def _heads(a):
    """(B, S, D) -> (B, 1, S, D) (a view); (B, H, S, D) stays. D must be the innermost dim in memory."""
    a = a.reshape(a.shape[:1] + (1,) + a.shape[1:]) if a.ndim == 3 else a
    if a.strides[-1] != a.itemsize:
        a = fe._cupy().ascontiguousarray(a)
    return a


def _strides(a):
    """a's element strides, a size-1 dim's made the dense one (a reshape may leave any stride there)."""
    own = [s // a.itemsize for s in a.strides]
    for i in reversed(range(a.ndim)):
        if a.shape[i] == 1:
            own[i] = own[i + 1] * a.shape[i + 1] if i + 1 < a.ndim else 1
    return own


def _attention_bias(cp, mask, q4, k4):
    """(bias, dead): the mask as an additive (1|B, 1|H, Sq, Skv) array in q's dtype, masked entries a large
    finite negative (cuDNN's tiles need finite scores), and the query rows it blocks entirely, (1|B, 1|H,
    Sq, 1) bool. PyTorch gives those rows zeros, which the caller applies on the device (no host read);
    None when the mask does not broadcast."""
    m = mask._data
    m = m.reshape((1,) * (4 - m.ndim) + m.shape)
    b, h, sq, skv = q4.shape[0], q4.shape[1], q4.shape[2], k4.shape[2]
    shape = (b if m.shape[0] != 1 else 1, h if m.shape[1] != 1 else 1, sq, skv)
    try:
        m = cp.broadcast_to(m, shape)
    except ValueError:
        return None, None
    dtype = q4.dtype
    lowest = float(-0.5 * np.finfo(np.float16).max) if dtype.name == "float16" else -1.0e30
    blocked = ~m if m.dtype == bool else cp.isneginf(m)
    values = cp.where(blocked, lowest, 0.0 if m.dtype == bool else m)
    # rows padded to a multiple of 8 elements: cuDNN wants 16-byte aligned strides
    bias = cp.empty(shape[:3] + (-(-skv // 8) * 8,), dtype=dtype)[..., :skv]
    bias[...] = values
    return bias, blocked.all(-1, keepdims=True)


def _sdpa_key(op, q4, k4, v4, bias, causal, scale, device_id):
    bias_key = None if bias is None else tuple(bias.shape)
    return (op, (tuple(q4.shape), tuple(k4.shape), tuple(v4.shape)), q4.dtype.name,
            (tuple(_strides(q4)), tuple(_strides(k4)), tuple(_strides(v4)), bias_key, bool(causal), float(scale)),
            device_id, fe._flag_key())


def _sdpa_inputs(graph, cudnn, q4, k4, v4, bias):
    dt = fe._data_type(cudnn, q4.dtype)
    t = {name: graph.tensor(name=name, dim=list(a.shape), stride=_strides(a), data_type=dt)
         for name, a in (("q", q4), ("k", k4), ("v", v4))}
    if bias is not None:
        t["bias"] = graph.tensor(name="bias", dim=list(bias.shape), stride=_strides(bias), data_type=dt)
    return t


def _sdpa_forward_plan(q4, k4, v4, bias, causal, scale, device_id):
    key = _sdpa_key("sdpa_forward", q4, k4, v4, bias, causal, scale, device_id)

    def build(cudnn, handle):
        graph = _graph(cudnn, handle, q4.dtype)
        t = _sdpa_inputs(graph, cudnn, q4, k4, v4, bias)
        args = dict(name="sdpa", q=t["q"], k=t["k"], v=t["v"], attn_scale=float(scale), use_causal_mask=bool(causal))
        if bias is not None:
            args["bias"] = t["bias"]
        try:
            O, stats = graph.sdpa(generate_stats=True, **args)
        except TypeError:   # frontends before generate_stats said is_inference=False
            O, stats = graph.sdpa(is_inference=False, **args)
        o_shape = list(q4.shape[:3]) + [v4.shape[3]]
        O.set_output(True).set_dim(o_shape).set_stride(fe._packed_strides(o_shape, False))
        O.set_data_type(fe._data_type(cudnn, q4.dtype))
        stats_shape = list(q4.shape[:3]) + [1]
        stats.set_output(True).set_dim(stats_shape).set_stride(fe._packed_strides(stats_shape, False))
        stats.set_data_type(_float(cudnn))
        t.update(o=O, stats=stats)
        return graph, t

    return fe._plan("sdpa_forward", key, build, device_id)


def _sdpa_backward_plan(q4, k4, v4, bias, causal, scale, device_id):
    key = _sdpa_key("sdpa_backward", q4, k4, v4, bias, causal, scale, device_id)

    def build(cudnn, handle):
        graph = _graph(cudnn, handle, q4.dtype)
        dt = fe._data_type(cudnn, q4.dtype)
        t = _sdpa_inputs(graph, cudnn, q4, k4, v4, bias)
        o_shape = list(q4.shape[:3]) + [v4.shape[3]]
        stats_shape = list(q4.shape[:3]) + [1]
        t["o"] = graph.tensor(name="o", dim=o_shape, stride=fe._packed_strides(o_shape, False), data_type=dt)
        t["do"] = graph.tensor(name="do", dim=o_shape, stride=fe._packed_strides(o_shape, False), data_type=dt)
        t["stats"] = graph.tensor(name="stats", dim=stats_shape, stride=fe._packed_strides(stats_shape, False),
                                  data_type=_float(cudnn))
        args = dict(name="sdpa_backward", q=t["q"], k=t["k"], v=t["v"], o=t["o"], dO=t["do"], stats=t["stats"],
                    attn_scale=float(scale), use_causal_mask=bool(causal))
        if bias is not None:
            args["bias"] = t["bias"]
        DQ, DK, DV = graph.sdpa_backward(**args)
        for name, out, a in (("dq", DQ, q4), ("dk", DK, k4), ("dv", DV, v4)):
            out.set_output(True).set_dim(list(a.shape)).set_stride(fe._packed_strides(a.shape, False))
            out.set_data_type(dt)
            t[name] = out
        return graph, t

    return fe._plan("sdpa_backward", key, build, device_id)


class Attention(_CudnnNode):
    """softmax(q @ k^T * scale + bias) @ v computed by cuDNN before the node is applied (``result``)."""
    __slots__ = ("result", "scale", "causal", "bias", "dead", "o", "stats", "q4", "k4", "v4")

    def __init__(self, result, scale, causal, bias, dead, o, stats, q4, k4, v4):
        self.result, self.scale, self.causal, self.bias, self.dead = result, scale, causal, bias, dead
        self.o, self.stats, self.q4, self.k4, self.v4 = o, stats, q4, k4, v4

    def _backward_cudnn(self, grad):
        cp = fe._cupy()
        q4, k4, v4 = self.q4, self.k4, self.v4
        g = grad._data
        if g.dtype != q4.dtype:
            return None
        plan = _sdpa_backward_plan(q4, k4, v4, self.bias, self.causal, self.scale, q4.device.id)
        if plan is None:
            return None
        for i in range(3):
            self.input(i)   # the inputs must not have changed in place since the forward
        do = cp.ascontiguousarray(g.reshape(self.o.shape))
        if self.dead is not None:   # rows that attend to nothing: their output was 0, so no gradient flows
            do = cp.where(self.dead, do.dtype.type(0), do)
        dq, dk, dv = (cp.empty(a.shape, a.dtype) for a in (q4, k4, v4))
        bindings = {"q": q4, "k": k4, "v": v4, "o": self.o, "do": do, "stats": self.stats, "dq": dq, "dk": dk,
                    "dv": dv}
        if self.bias is not None:
            bindings["bias"] = self.bias
        if not fe._run("sdpa_backward", plan, bindings):
            return None
        device = grad._device
        return tuple(_tensor(d.reshape(t.shape), device) if need else None
                     for d, t, need in zip((dq, dk, dv), self.inputs, self.needs_input_grad))

    def _backward_graph(self, grad):
        """The rule in Tensor ops, in float32 from the inputs (differentiable again)."""
        q, k, v = (self.input(i).float() for i in range(3))
        g = grad.float()
        scores = q.matmul(k.transpose(-2, -1)) * self.scale
        if self.bias is not None:
            bias = self.bias.astype(fe._cupy().float32)
            scores = scores + _tensor(bias[:, 0] if scores.ndim == 3 else bias, grad._device)   # (B, S, D) inputs
        if self.causal:
            rows, cols = scores.shape[-2], scores.shape[-1]
            allowed = fe._cupy().tri(rows, cols, dtype=bool)
            lowest = fe._cupy().where(allowed, 0.0, -np.inf).astype(fe._cupy().float32)
            scores = scores + _tensor(lowest, grad._device)
        w = scores.softmax(-1)
        if self.dead is not None:   # rows the mask blocks entirely have weights 0 (their output is 0)
            keep = ~self.dead
            w = w * _tensor((keep[:, 0] if scores.ndim == 3 else keep).astype(fe._cupy().float32), grad._device)
        gv = w.transpose(-2, -1).matmul(g)
        gw = g.matmul(v.transpose(-2, -1))
        gs = w * (gw - (gw * w).sum(-1, keepdim=True)) * self.scale
        return gs.matmul(k), gs.transpose(-2, -1).matmul(q), gv

    def release(self):
        super().release()
        self.o = self.stats = self.q4 = self.k4 = self.v4 = self.bias = self.dead = None


def attention(query, key, value, attn_mask, is_causal, scale):
    """scaled_dot_product_attention through cuDNN (see cudnn_frontend.attention), or None where it refuses."""
    cp = fe._cupy()
    q4, k4, v4 = (_heads(t._data) for t in (query, key, value))
    bias = dead = None
    if attn_mask is not None and not is_causal:
        bias, dead = _attention_bias(cp, attn_mask, q4, k4)
        if bias is None:
            return None
    device_id = q4.device.id
    plan = _sdpa_forward_plan(q4, k4, v4, bias, is_causal, scale, device_id)
    if plan is None:
        return None
    o = cp.empty(q4.shape[:3] + (v4.shape[3],), q4.dtype)
    stats = cp.empty(q4.shape[:3] + (1,), cp.float32)
    bindings = {"q": q4, "k": k4, "v": v4, "o": o, "stats": stats}
    if bias is not None:
        bindings["bias"] = bias
    if not fe._run("sdpa_forward", plan, bindings):
        return None
    out_shape = tuple(query.shape[:-1]) + (value.shape[-1],)
    result = o if dead is None else cp.where(dead, o.dtype.type(0), o)
    node = Attention(result.reshape(out_shape), scale, is_causal, bias, dead, o, stats, q4, k4, v4)
    return node.apply(query, key, value)

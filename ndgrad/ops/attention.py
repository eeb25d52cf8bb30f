"""Scaled dot-product attention as one graph node (PyTorch fuses it too).

As a composition of Tensor ops (matmul, scale, mask, softmax, matmul) an
attention layer records five nodes, each with its own temporaries and passes
over the (..., L, S) score array, and again as many in backward. This node
does the scores, scaling, masking and softmax in place in one array, keeps
only the attention weights for backward, and writes the backward as four
matrix products and one softmax pass. Under ``create_graph`` its backward is
written in Tensor ops from the inputs, so higher-order gradients still work.
"""
from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Node

__all__ = []


def _wrap(array):
    from ..tensor import Tensor
    return Tensor._wrap(array)


class ScaledDotProductAttention(Node):
    """softmax(q @ k^T * scale + bias) @ v over the last two dims; q, k, v share their leading dims.

    ``bias`` is a constant additive array (a bool mask already turned into 0 / -inf) or None. Rows that
    the bias blocks entirely get weights of 0 (PyTorch's SDPA), not NaN.
    """
    __slots__ = ("scale", "bias", "weights")

    def __init__(self, scale, bias=None):
        self.scale, self.bias, self.weights = scale, bias, None

    def forward(self, q, k, v):
        xp = self.xp
        scores = xp.matmul(q, xp.swapaxes(k, -1, -2))
        scores *= scores.dtype.type(self.scale)
        if self.bias is not None:
            scores += self.bias
        top = scores.max(-1, keepdims=True)
        if self.bias is not None:
            top[~xp.isfinite(top)] = 0   # a fully masked row: exp(-inf) = 0 everywhere, summed below to 0
        scores -= top
        xp.exp(scores, out=scores)
        total = scores.sum(-1, keepdims=True)
        if self.bias is not None:
            total[total == 0] = 1        # ... and 0 / 1 keeps that row's weights 0 instead of NaN
        scores /= total
        self.weights = scores
        return xp.matmul(scores, v)

    def backward(self, grad):
        if _grad_state.enabled:
            return self._backward_graph(grad)
        xp, need = self.xp, self.needs_input_grad
        q, k, v = (self.input(i)._data for i in range(3))
        w, g = self.weights, grad._data   # kept until release(): retain_graph may call backward again
        gv = xp.matmul(xp.swapaxes(w, -1, -2), g) if need[2] else None
        # softmax backward in place: gs = w * (g @ v^T - rowsum(w * (g @ v^T))) * scale
        gs = xp.matmul(g, xp.swapaxes(v, -1, -2))
        rowsum = (gs * w).sum(-1, keepdims=True)
        gs -= rowsum
        gs *= w
        gs *= gs.dtype.type(self.scale)
        gq = xp.matmul(gs, k) if need[0] else None
        gk = xp.matmul(xp.swapaxes(gs, -1, -2), q) if need[1] else None
        return tuple(None if a is None else _wrap(a) for a in (gq, gk, gv))

    def _backward_graph(self, grad):
        """The same rule in Tensor ops, recomputing the weights from q and k (differentiable again)."""
        from ..tensor import Tensor
        q, k, v = (self.input(i) for i in range(3))
        scores = q.matmul(k.transpose(-2, -1)) * self.scale
        if self.bias is not None:
            dead = self.xp.all(self.xp.isneginf(self.bias), axis=-1, keepdims=True)
            bias = self.xp.where(dead, self.bias.dtype.type(0), self.bias)   # dead rows: finite, zeroed below
            scores = scores + Tensor._wrap(bias, q._device)
            keep = Tensor._wrap(~self.xp.broadcast_to(dead, tuple(scores.shape[:-1]) + (1,)), q._device)
            w = scores.softmax(-1) * keep
        else:
            w = scores.softmax(-1)
        gv = w.transpose(-2, -1).matmul(grad)
        gw = grad.matmul(v.transpose(-2, -1))
        gs = w * (gw - (gw * w).sum(-1, keepdim=True)) * self.scale
        return gs.matmul(k), gs.transpose(-2, -1).matmul(q), gv

    def release(self):
        super().release()
        self.weights = None

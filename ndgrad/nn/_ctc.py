"""Connectionist temporal classification: the per-sample negative log-likelihood as one node.

The forward runs the log-space alpha recursion over the target with a blank between labels
(the "extended" target, length 2 S + 1), vectorised over the batch and the extended positions,
one step per time frame. The backward runs the beta recursion the same way and returns PyTorch's
gradient: exp(log_probs) - exp(log(sum of alpha * beta over the positions of each class) + nll - log_probs),
which is the gradient with respect to the logits when log_probs = log_softmax(logits), as PyTorch
defines it (so ctc_loss(log_softmax(x)) gets the exact gradient in x). Frames past a sample's input
length get zero gradient.
"""
from ..autograd import node as _node
from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Node
from ..backend import kernels
from ..backend import np as _host_np

_NEG_INF = float("-inf")


def _logsumexp3(xp, a, b, c):
    """log(exp(a) + exp(b) + exp(c)) elementwise, -inf where all three are -inf."""
    m = xp.maximum(xp.maximum(a, b), c)
    m_safe = xp.where(xp.isfinite(m), m, 0.0)
    total = xp.exp(a - m_safe) + xp.exp(b - m_safe) + xp.exp(c - m_safe)
    return xp.log(total) + m_safe


def _shift_right(xp, x, k):
    """x[:, s - k] at position s (-inf where s < k)."""
    out = xp.full_like(x, _NEG_INF)
    if k < x.shape[1]:
        out[:, k:] = x[:, :-k]
    return out


def _shift_left(xp, x, k):
    """x[:, s + k] at position s (-inf where s + k is past the end)."""
    out = xp.full_like(x, _NEG_INF)
    if k < x.shape[1]:
        out[:, :-k] = x[:, k:]
    return out


class CTCNegLogLikelihood(Node):
    """(T, N, C) log-probabilities -> (N,) negative log-likelihoods of the targets."""
    __slots__ = ("targets", "input_lengths", "target_lengths", "blank", "zero_infinity", "saved")

    def __init__(self, targets, input_lengths, target_lengths, blank, zero_infinity):
        # targets: (N, S) int array on the input's device, padded; lengths: host numpy int arrays
        self.targets, self.blank, self.zero_infinity = targets, blank, zero_infinity
        self.input_lengths, self.target_lengths = input_lengths, target_lengths

    def _extended(self, xp, n, s_max):
        """Extended labels (N, 2S+1): blank, l1, blank, l2, ..., blank; padding positions hold blank."""
        lengths = xp.asarray(self.target_lengths)
        ext = xp.full((n, 2 * s_max + 1), self.blank, dtype=xp.int64)
        if s_max:
            real = xp.arange(s_max)[None, :] < lengths[:, None]
            ext[:, 1::2] = xp.where(real, self.targets, self.blank)
        # a label may follow the one two places back only if it is not blank and differs from it
        skip = xp.zeros(ext.shape, dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != self.blank) & (ext[:, 2:] != ext[:, :-2])
        return ext, skip

    def forward(self, log_probs):
        xp = self.xp
        t_max, n, _ = log_probs.shape
        ext, skip = self._extended(xp, n, self.targets.shape[1])
        width = ext.shape[1]
        lp_ext = xp.take_along_axis(log_probs, xp.broadcast_to(ext[None], (t_max, n, width)), axis=2)
        il, tl = xp.asarray(self.input_lengths), xp.asarray(self.target_lengths)
        with _host_np.errstate(divide="ignore", invalid="ignore"):
            alpha = xp.full((t_max, n, width), _NEG_INF, dtype=log_probs.dtype)
            if t_max:
                alpha[0, :, 0] = lp_ext[0, :, 0]
                if width > 1:
                    alpha[0, :, 1] = xp.where(tl > 0, lp_ext[0, :, 1], _NEG_INF)
            for t in range(1, t_max):
                prev = alpha[t - 1]
                two_back = xp.where(skip, _shift_right(xp, prev, 2), _NEG_INF)
                alpha[t] = _logsumexp3(xp, prev, _shift_right(xp, prev, 1), two_back) + lp_ext[t]
            rows = xp.arange(n)
            last_t = xp.maximum(il - 1, 0)
            end_blank = alpha[last_t, rows, 2 * tl]
            end_label = xp.where(tl > 0, alpha[last_t, rows, xp.maximum(2 * tl - 1, 0)], _NEG_INF)
            log_likelihood = xp.logaddexp(end_blank, end_label)
            log_likelihood = xp.where(il > 0, log_likelihood, xp.where(tl == 0, 0.0, _NEG_INF))
        nll = (-log_likelihood).astype(log_probs.dtype, copy=False)
        self.saved = (alpha, lp_ext, ext, skip, nll)
        if self.zero_infinity:
            nll = xp.where(xp.isinf(nll), 0.0, nll).astype(log_probs.dtype, copy=False)
        return nll

    def _beta(self, xp, lp_ext, skip):
        t_max, n, width = lp_ext.shape
        il, tl = xp.asarray(self.input_lengths), xp.asarray(self.target_lengths)
        positions = xp.arange(width)[None, :]
        at_end = (positions == 2 * tl[:, None]) | ((positions == 2 * tl[:, None] - 1) & (tl[:, None] > 0))
        beta = xp.full((t_max, n, width), _NEG_INF, dtype=lp_ext.dtype)
        nxt = xp.full((n, width), _NEG_INF, dtype=lp_ext.dtype)
        skip_ahead = _shift_left(xp, skip.astype(lp_ext.dtype), 2) > 0   # may jump from s to s + 2
        for t in range(t_max - 1, -1, -1):
            two_ahead = xp.where(skip_ahead, _shift_left(xp, nxt, 2), _NEG_INF)
            cur = _logsumexp3(xp, nxt, _shift_left(xp, nxt, 1), two_ahead) + lp_ext[t]
            last = (il - 1 == t)[:, None]
            cur = xp.where(last, xp.where(at_end, lp_ext[t], _NEG_INF), xp.where((t < il - 1)[:, None], cur, _NEG_INF))
            beta[t] = cur
            nxt = cur
        return beta

    def gradient(self, log_probs):
        """d(nll_n)/d(log_probs) in PyTorch's convention, (T, N, C)."""
        xp = self.xp
        alpha, lp_ext, ext, skip, nll = self.saved
        t_max, n, c = log_probs.shape
        with _host_np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            beta = self._beta(xp, lp_ext, skip)
            ab = alpha + beta
            # log of sum over extended positions of each class: a scaled scatter-add of exp(ab)
            top = ab.max(axis=2, keepdims=True)
            top = xp.where(xp.isfinite(top), top, 0.0)
            summed = xp.zeros((t_max, n, c), dtype=log_probs.dtype)
            t_idx = xp.broadcast_to(xp.arange(t_max)[:, None, None], ab.shape)
            n_idx = xp.broadcast_to(xp.arange(n)[None, :, None], ab.shape)
            c_idx = xp.broadcast_to(ext[None], ab.shape)
            kernels.add_at(xp, summed, (t_idx.reshape(-1), n_idx.reshape(-1), c_idx.reshape(-1)),
                           xp.exp(ab - top).reshape(-1))
            log_class = xp.log(summed) + top
            grad = xp.exp(log_probs) - xp.exp(log_class + nll[None, :, None] - log_probs)
        il = xp.asarray(self.input_lengths)
        grad = xp.where((xp.arange(t_max)[:, None] < il[None, :])[:, :, None], grad, 0.0)
        if self.zero_infinity:
            grad = xp.where(xp.isinf(nll)[None, :, None], 0.0, grad)
        return grad.astype(log_probs.dtype, copy=False)

    def backward(self, grad):
        log_probs = self.input(0)
        g = self.gradient(log_probs._data)
        self.saved = None
        if _grad_state.enabled:   # create_graph: the result must refuse to be differentiated again
            return CTCGradient(g).apply(grad, log_probs)
        return _node.Tensor._wrap(g * grad._data[None, :, None], grad._device)


class CTCGradient(Node):
    """(grad_output (N,), log_probs) -> d(loss)/d(log_probs), precomputed; its own backward raises, as PyTorch's.

    log_probs is an input only so that the result is attached to the graph: differentiating it again
    then reaches this node and fails loudly instead of silently dropping the CTC term.
    """
    __slots__ = ("g",)

    def __init__(self, g):
        self.g = g

    def forward(self, grad, log_probs):
        return self.g * grad[None, :, None]

    def backward(self, grad):
        raise NotImplementedError("ctc_loss: the derivative of ctc_loss's gradient (double backward) is not "
                                  "implemented, as in PyTorch; differentiate ctc_loss once")

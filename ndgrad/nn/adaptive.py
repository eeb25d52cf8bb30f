"""AdaptiveLogSoftmaxWithLoss: a softmax over many classes, split into a frequent head and rarer clusters.

The head scores the ``cutoffs[0]`` most frequent classes plus one entry per cluster; each cluster i
has its own two-layer projection (in_features -> in_features // div_value**(i+1) -> cluster size),
so rare classes cost less. log p(class in cluster i) = log p_head(cluster i) + log p_cluster(class).
The parameter layout (``head``, ``tail.i.0``, ``tail.i.1``) is PyTorch's, so state_dicts load across.
"""
from collections import namedtuple

from ndgrad.autograd.grad_mode import no_grad
from ndgrad.nn import functional as F
from ndgrad.nn.containers import ModuleList, Sequential
from ndgrad.nn.layers.linear import Linear
from ndgrad.nn.module import Module
from ndgrad.ops.shape import cat

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


def _wrap_like(array, like):
    return type(like)._wrap(array, like._device)


class AdaptiveLogSoftmaxWithLoss(Module):
    """Efficient softmax approximation (Grave et al., 2016); ``forward`` returns (output, loss)."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of unique, positive "
                             f"integers sorted in an increasing order, where each value is between 1 and "
                             f"n_classes-1 = {n_classes - 1}; got {cutoffs}")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                                        Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for projection in self.tail:
            for layer in projection:
                layer.reset_parameters()

    def _check(self, input, target):
        if target.dim() == 1:
            if input.shape[0] != target.shape[0]:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: input and target should have the same size in "
                                   f"the batch dimension, got input {tuple(input.shape)} and target "
                                   f"{tuple(target.shape)}")
            if input.dim() != 2:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: 1D target tensor expects 2D input tensors, but "
                                   f"found inputs with size {tuple(input.shape)}")
        elif target.dim() == 0:
            if input.dim() != 1:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: 0D target tensor expects 1D input tensors, but "
                                   f"found inputs with size {tuple(input.shape)}")
        else:
            raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 0D or 1D target tensor expected, multi-target not "
                               "supported")

    def forward(self, input, target):
        """(log-probability of each target, mean negative log-likelihood)."""
        self._check(input, target)
        batched = target.dim() > 0
        x = input if batched else input.unsqueeze(0)
        t = target if batched else target.unsqueeze(0)
        xp = x.xp
        labels = t._data
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: target values should be in [0, {self.n_classes - 1}], "
                               f"but values in range [{int(labels.min())}, {int(labels.max())}] were found")
        # the head entry each row reads: its own class in the shortlist, else its cluster's entry
        head_index = labels.copy()
        cluster_part = None
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            in_cluster = (labels >= low) & (labels < high)
            rows = xp.nonzero(in_cluster)[0]
            if rows.size == 0:
                continue
            head_index[rows] = self.shortlist_size + i
            rows_t = _wrap_like(rows, x)
            cluster_logp = F.log_softmax(self.tail[i](x.index_select(0, rows_t)), 1)
            local = cluster_logp.gather(1, _wrap_like((labels[rows] - low).reshape(-1, 1), x)).squeeze(1)
            placed = _wrap_like(xp.zeros(labels.shape[0], dtype=x._data.dtype), x).index_add(0, rows_t, local)
            cluster_part = placed if cluster_part is None else cluster_part + placed
        head_logp = F.log_softmax(self.head(x), 1)
        output = head_logp.gather(1, _wrap_like(head_index.reshape(-1, 1), x)).squeeze(1)
        if cluster_part is not None:
            output = cluster_part + output
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _full_log_prob(self, input, head_output):
        head_logp = F.log_softmax(head_output, 1)
        parts = [head_logp[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logp = F.log_softmax(self.tail[i](input), 1)
            parts.append(cluster_logp + head_logp[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, 1)

    def log_prob(self, input):
        """Log-probabilities of all n_classes classes, (N, n_classes)."""
        return self._full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most likely class of each row (int64), looking into clusters only where the head points there."""
        head_output = self.head(input)
        xp = input.xp
        best = xp.argmax(head_output._data, axis=1)
        outside = best >= self.shortlist_size
        if bool(outside.any()):
            rows = xp.nonzero(outside)[0]
            rows_t = _wrap_like(rows, input)
            with no_grad():
                logp = self._full_log_prob(input.index_select(0, rows_t), head_output.index_select(0, rows_t))
            best = best.copy()
            best[rows] = xp.argmax(logp._data, axis=1)
        return _wrap_like(best.astype(xp.int64), input)

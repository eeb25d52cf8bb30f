"""The losses of torch.nn.functional that the core lacks: margin, embedding, Poisson/Gaussian NLL, triplet, CTC.

Each is composed of Tensor ops (so gradients of any order come from those ops), except ctc_loss,
whose alpha/beta recursions are one node (``ndgrad.nn._ctc``). Formulas follow PyTorch's exactly,
including where it adds eps or clamps, so values and gradients agree to rounding.
"""
import math

from .. import autograd as _autograd
from ..autograd import node as _node
from ..backend import host_sync
from ..backend import np as _host_np
from ..ops import activation as _act
from ..ops import elementwise as _ew
from ..ops import nn as _nn
from ._ctc import CTCNegLogLikelihood
from ._functional_layers._common import _const, _shape

__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
           "cosine_embedding_loss", "poisson_nll_loss", "gaussian_nll_loss", "multi_margin_loss",
           "multilabel_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss",
           "linear_cross_entropy"]

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(op, reduction, size_average=None, reduce=None):
    """The reduction after PyTorch's legacy size_average / reduce arguments, checked."""
    reduction = _nn._legacy_reduction(size_average, reduce, reduction)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; use 'none', 'mean' or 'sum'")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_tensor(value, like):
    if isinstance(value, _node.Tensor):
        return value
    return _const(like.xp.asarray(value, dtype=like._data.dtype), like)


# -- margin and embedding losses ------------------------------------------------------------------
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -y * (x1 - x2) + margin): y = 1 wants x1 ranked above x2, y = -1 below."""
    reduction = _reduction("margin_ranking_loss", reduction, size_average, reduce)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss: all input tensors should have the same number of dimensions, "
                           f"but got sizes: input1: {_shape(input1)}, input2: {_shape(input2)}, "
                           f"target: {_shape(target)}")
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (PyTorch adds both terms for other target values)."""
    reduction = _reduction("hinge_embedding_loss", reduction, size_average, reduce)
    zero = input * 0
    margin_term = _ew.where(target != 1, (margin - input).clamp(min=0), zero)
    self_term = _ew.where(target != -1, input, zero)
    return _reduce(margin_term + self_term, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)) for labels y in {1, -1} (computed as -logsigmoid(y x), stable for large |x|)."""
    reduction = _reduction("soft_margin_loss", reduction, size_average, reduce)
    return _reduce(-_act.logsigmoid(target * input), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross-entropy of sigmoid(x) against 0/1 targets, averaged over the classes (last dim)."""
    reduction = _reduction("multilabel_soft_margin_loss", reduction, size_average, reduce)
    loss = -(target * _act.logsigmoid(input) + (1 - target) * _act.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (cosine along the last dim)."""
    reduction = _reduction("cosine_embedding_loss", reduction, size_average, reduce)
    dim = target.ndim
    if dim > 1:
        raise RuntimeError(f"cosine_embedding_loss: 0D or 1D target tensor expected, multi-target not supported "
                           f"(got target of shape {_shape(target)})")
    want = dim + 1
    if input1.ndim != want or input2.ndim != want:
        raise RuntimeError(f"cosine_embedding_loss: {dim}D target tensor expects {want}D input tensors, but found "
                           f"inputs with sizes {_shape(input1)} and {_shape(input2)}")
    eps = 1e-12   # PyTorch's EPSILON: keeps zero vectors from dividing by zero
    dot = (input1 * input2).sum(dim)
    norm_sq1 = (input1 * input1).sum(dim) + eps
    norm_sq2 = (input2 * input2).sum(dim) + eps
    cos = dot / (norm_sq1 * norm_sq2).sqrt()
    zero = cos * 0
    loss = _ew.where(target == 1, 1 - cos, zero) + _ew.where(target == -1, (cos - margin).clamp(min=0), zero)
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge: sum over j != y of max(0, w[y] (margin - x[y] + x[j]))^p / C, per sample."""
    reduction = _reduction("multi_margin_loss", reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 supported, got p={p}")
    if input.ndim > 2 or (input.ndim == 2 and input.shape[1] == 0) or (input.ndim < 2 and input.numel() == 0):
        raise RuntimeError(f"multi_margin_loss: expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got input of shape {_shape(input)}")
    unbatched = input.ndim < 2
    x = input.reshape(1, -1) if unbatched else input
    y = target.reshape(-1)
    n, c = x.shape
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"multi_margin_loss: target must hold class indices (an integer tensor), got {target.dtype}")
    if y.shape[0] != n:
        raise RuntimeError(f"multi_margin_loss: inconsistent target size: {_shape(target)} for input of size: "
                           f"{_shape(input)}")
    idx = y._data
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= c):
        raise RuntimeError(f"multi_margin_loss: target out of range: class indices must be in [0, {c}), got "
                           f"values in [{int(idx.min())}, {int(idx.max())}]")
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != c):
        raise RuntimeError(f"multi_margin_loss: inconsistent weight size, expected {c} but got {_shape(weight)}")
    xp = x.xp
    picked = x.gather(1, _const(idx.reshape(-1, 1), x))
    hinge = (margin - picked + x).clamp(min=0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[_const(idx, x)].reshape(-1, 1)
    others = (xp.arange(c)[None, :] != idx[:, None]).astype(x._data.dtype)
    loss = (hinge * _const(others, x)).sum(1) / c
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge: for each target class j and non-target class i, max(0, 1 - (x[j] - x[i])), over C.

    ``target`` has the input's shape and lists class indices, ended by the first -1.
    """
    reduction = _reduction("multilabel_margin_loss", reduction, size_average, reduce)
    if input.ndim > 2 or _shape(target) != _shape(input):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {_shape(target)} for input of "
                           f"size: {_shape(input)}; target must have the input's shape (N, C) or (C,)")
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"multilabel_margin_loss: target must hold class indices (an integer tensor), "
                        f"got {target.dtype}")
    unbatched = input.ndim < 2
    x = input.reshape(1, -1) if unbatched else input
    n, c = x.shape
    xp = x.xp
    labels = target._data.reshape(n, c)
    if labels.size and (int(labels.min()) < -1 or int(labels.max()) >= c):
        raise RuntimeError(f"multilabel_margin_loss: target out of range: entries must be class indices in "
                           f"[0, {c}) or -1 (end of list), got values in [{int(labels.min())}, {int(labels.max())}]")
    # entries before the first -1 of each row are the target classes (a repeated class counts each time)
    listed = xp.cumprod(labels != -1, axis=1).astype(bool)
    dtype = x._data.dtype
    counts = (xp.where(listed, labels, -1)[:, :, None] == xp.arange(c)[None, None, :]).sum(1).astype(dtype)
    non_target = (counts == 0).astype(dtype)
    pair_weight = counts[:, :, None] * non_target[:, None, :]         # (N, target j, other i)
    hinge = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)
    loss = (hinge * _const(pair_weight, x)).sum((1, 2)) / c
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


# -- likelihood losses ----------------------------------------------------------------------------
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Poisson negative log-likelihood: exp(x) - y x (log_input) or x - y log(x + eps); ``full`` adds Stirling."""
    reduction = _reduction("poisson_nll_loss", reduction, size_average, reduce)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood 0.5 (log var + (x - y)^2 / var), var clamped below at eps."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        var = _const(input.xp.full(input._data.shape, float(var), dtype=input._data.dtype), input)
    else:
        host_sync.check("gaussian_nll_loss", var._data < 0, var._data,
                        "gaussian_nll_loss: var has negative entry/entries", ValueError)
    if _shape(var) != _shape(input):
        mismatched = [v for i, v in zip(_shape(input), _shape(var)) if i != v] if var.ndim == input.ndim else None
        if _shape(input)[:-1] == _shape(var):      # one variance per sample: homoscedastic
            var = var.unsqueeze(-1)
        elif mismatched is not None and sum(mismatched) == 1:   # broadcastable, one dim of size 1
            pass
        else:
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size {_shape(var)} for input of size "
                             f"{_shape(input)}; give var the input's shape, or its shape without the last dim, "
                             f"or size 1 in one dim")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"gaussian_nll_loss: {reduction!r} is not valid; use 'none', 'mean' or 'sum'")
    # clamp without cutting the gradient: PyTorch clamps a clone under no_grad, so d/dvar stays 1
    var = var.clone()
    with _autograd.no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# -- triplet losses -------------------------------------------------------------------------------
def _pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim, as torch.pairwise_distance."""
    return (x1 - x2 + eps).norm(p, dim=max(x1.ndim, x2.ndim) - 1, keepdim=keepdim)


def _check_triplet_dims(op, anchor, positive, negative):
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"{op}: the anchor, positive, and negative tensors are expected to have the same "
                           f"number of dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and "
                           f"negative {negative.ndim}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with the p-norm distance; ``swap`` uses min(d(a, n), d(p, n))."""
    reduction = _reduction("triplet_margin_loss", reduction, size_average, reduce)
    _check_triplet_dims("triplet_margin_loss", anchor, positive, negative)
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _ew.minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) for any distance function (default: pairwise Euclidean)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"triplet_margin_with_distance_loss: {reduction!r} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, got {margin}")
    _check_triplet_dims("triplet_margin_with_distance_loss", anchor, positive, negative)
    distance = _pairwise_distance if distance_function is None else distance_function
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = _ew.minimum(d_neg, distance(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


# -- linear + cross-entropy -----------------------------------------------------------------------
def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...).

    linear_weight may be (C, d1, ..., dK, in_features) for a K-dimensional loss. ``options`` (PyTorch's
    chunking to save memory) is accepted and ignored: the result is the same without it.
    """
    op = "linear_cross_entropy"
    if input.ndim not in (1, 2):
        raise RuntimeError(f"{op}: expected input with dimensionality 1 or 2, got {input.ndim} (shape {_shape(input)})")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"{op}: expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}")
    batch, in_features = _shape(input)[:-1], input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"{op}: expected equal input and linear_weight last dimensions (in_features), got "
                           f"{in_features} and {linear_weight.shape[-1]}, respectively")
    num_classes, out_features = linear_weight.shape[0], _shape(linear_weight)[1:-1]
    if linear_bias is not None and _shape(linear_bias) != (num_classes,) + out_features:
        raise RuntimeError(f"{op}: expected linear_bias shape {(num_classes,) + out_features}, got "
                           f"{_shape(linear_bias)}")
    if out_features and not batch:
        raise RuntimeError(f"{op}: K-dimensional loss defined by linear_weight shape {_shape(linear_weight)} "
                           f"requires batched input, (N, {in_features}), got unbatched input with shape "
                           f"{_shape(input)}")
    logits_shape = batch + (num_classes,) + out_features
    if _shape(target) == logits_shape and ignore_index is not None:
        raise RuntimeError(f"{op}: ignore_index cannot be specified when target contains probabilities")
    rows = math.prod(out_features) * num_classes
    logits = _nn.linear(input, linear_weight.reshape(rows, in_features),
                        None if linear_bias is None else linear_bias.reshape(rows)).reshape(logits_shape)
    return _nn.cross_entropy(logits, target, weight=weight, reduction=reduction,
                             ignore_index=-100 if ignore_index is None else ignore_index,
                             label_smoothing=label_smoothing)


# -- CTC ------------------------------------------------------------------------------------------
def _host_ints(value, what):
    """Lengths given as a tensor, list, tuple or int, as a 1-d host numpy int64 array."""
    if isinstance(value, _node.Tensor):
        if value._data.dtype.kind not in "iu":
            raise TypeError(f"ctc_loss: {what} must be integers, got a {value.dtype} tensor")
        value = value.tolist()
    return _host_np.asarray(value, dtype=_host_np.int64).reshape(-1)


def _padded_targets(xp, targets, target_lengths, n, op):
    """Targets as an (N, S) array on the device: padded rows as given, or split from one concatenated 1-d row."""
    data = targets._data
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices, got {targets.dtype}")
    total = int(target_lengths.sum())
    if data.ndim == 1:
        if data.shape[0] != total:
            raise RuntimeError(f"{op}: concatenated targets of shape {_shape(targets)} must hold sum(target_lengths)"
                               f" = {total} labels")
        s_max = int(target_lengths.max()) if n else 0
        starts = _host_np.concatenate([[0], _host_np.cumsum(target_lengths)[:-1]]).astype(_host_np.int64)
        cols = _host_np.arange(s_max)[None, :]
        gather = _host_np.minimum(starts[:, None] + cols, max(total - 1, 0))
        padded = data[xp.asarray(gather)] if total else xp.zeros((n, s_max), dtype=data.dtype)
        return padded.astype(xp.int64)
    if data.ndim != 2 or data.shape[0] != n:
        raise RuntimeError(f"{op}: targets must be (N, S) padded or 1-d concatenated, got shape {_shape(targets)} "
                           f"for batch size {n}")
    if n and int(target_lengths.max()) > data.shape[1]:
        raise RuntimeError(f"{op}: a target length of {int(target_lengths.max())} exceeds the targets' padded "
                           f"length {data.shape[1]} (targets shape {_shape(targets)})")
    return data.astype(xp.int64)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss of log-probabilities (T, N, C) or (T, C).

    ``reduction='mean'`` divides each sample's loss by its target length, then averages over the batch;
    ``zero_infinity`` turns impossible alignments (infinite loss) into zero loss and zero gradient.
    """
    op = "ctc_loss"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; use 'none', 'mean' or 'sum'")
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"{op}: log_probs must be (T, N, C) or unbatched (T, C), got shape {_shape(log_probs)}")
    if log_probs._data.dtype.kind != "f":
        raise TypeError(f"{op}: log_probs must be floating point, got {log_probs.dtype}")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0)
    t_max, n, c = log_probs.shape
    il = _host_ints(input_lengths, "input_lengths")
    tl = _host_ints(target_lengths, "target_lengths")
    if il.shape[0] != n or tl.shape[0] != n:
        raise RuntimeError(f"{op}: expected input_lengths and target_lengths with one entry per batch item ({n}), "
                           f"got {il.shape[0]} and {tl.shape[0]}")
    if not 0 <= blank < c:
        raise RuntimeError(f"{op}: blank must be in label range [0, {c}), got blank={blank}")
    if n and (il.max() > t_max or il.min() < 0):
        raise RuntimeError(f"{op}: expected input_lengths to have values in [0, {t_max}] (log_probs has {t_max} "
                           f"time steps), got {il.tolist()}")
    if n and tl.min() < 0:
        raise RuntimeError(f"{op}: target_lengths must be >= 0, got {tl.tolist()}")
    xp = log_probs.xp
    padded = _padded_targets(xp, targets, tl, n, op)
    real = _host_np.arange(padded.shape[1])[None, :] < tl[:, None]
    if real.any():
        labels = padded[xp.asarray(real)]
        if int(labels.min()) < 0 or int(labels.max()) >= c or bool((labels == blank).any()):
            raise RuntimeError(f"{op}: target labels must be in [0, {c}) and differ from blank={blank}, got values "
                               f"in [{int(labels.min())}, {int(labels.max())}]")
    nll = CTCNegLogLikelihood(padded, il, tl, blank, zero_infinity).apply(log_probs)
    if reduction == "mean":
        divisor = _const(xp.asarray(_host_np.maximum(tl, 1), dtype=log_probs._data.dtype), log_probs)
        return (nll / divisor).mean()
    if reduction == "sum":
        return nll.sum()
    return nll.reshape(()) if unbatched else nll

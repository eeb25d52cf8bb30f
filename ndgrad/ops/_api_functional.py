"""The ``nn.functional`` ops that torch also exposes at the top level, with the top level's own arguments.

``torch.dropout(input, p, train)``, ``torch.kl_div(input, target, reduction=0)``: the top-level
forms are ATen's signatures, so ``reduction`` is an int (0 none, 1 mean, 2 sum) and ``train`` is
positional. Measured on torch 2.13: when ``reduction`` is left out, the top-level losses return
the unreduced per-element loss (0), unlike nn.functional's 'mean'; these aliases do the same.
Each alias forwards to ``ndgrad.nn.functional``, imported on first call so that ``import ndgrad``
does not load ``nn``.
"""
from ..tensor import Tensor

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _F():
    from ..nn import functional
    return functional


def _reduction(reduction, op):
    if isinstance(reduction, bool) or not isinstance(reduction, int):
        raise TypeError(f"{op}(): argument 'reduction' must be int (0 none, 1 mean, 2 sum), not "
                        f"{type(reduction).__name__}; the string form is nn.functional.{op}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}(): reduction must be 0 (none), 1 (mean) or 2 (sum), got {reduction}")
    return _REDUCTIONS[reduction]


def _check_p(p, op):
    if not 0 <= p <= 1:
        raise RuntimeError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p, train):
    _check_p(p, "dropout")
    return _F().dropout(input, p, training=train)


def alpha_dropout(input, p, train):
    _check_p(p, "alpha_dropout")
    return _F().alpha_dropout(input, p, training=train)


def feature_alpha_dropout(input, p, train):
    _check_p(p, "feature_alpha_dropout")
    return _F().feature_alpha_dropout(input, p, training=train)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """torch.embedding: the weight comes first; ``padding_idx=-1`` means none."""
    pad = None if padding_idx is None or padding_idx < 0 else padding_idx
    return _F().embedding(indices, weight, padding_idx=pad, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """torch.embedding_bag: ``(output, offset2bag, bag_size, max_indices)`` with ``mode`` 0 sum, 1 mean, 2 max.

    The three bookkeeping tensors follow torch's CPU kernel: for ``sum`` they are empty / zeros,
    for ``mean`` ``max_indices`` repeats ``bag_size``, for ``max`` it holds the winning row per column.
    """
    if not isinstance(offsets, Tensor):
        raise TypeError(f"embedding_bag(): argument 'offsets' (position 3) must be Tensor, not "
                        f"{type(offsets).__name__}")
    if mode not in (0, 1, 2):
        raise ValueError(f"embedding_bag(): mode must be 0 (sum), 1 (mean) or 2 (max), got {mode}")
    output = _F().embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                                mode=("sum", "mean", "max")[mode], sparse=sparse,
                                per_sample_weights=per_sample_weights, include_last_offset=include_last_offset,
                                padding_idx=padding_idx)
    return (output, *_bag_bookkeeping(weight, indices, offsets, mode, include_last_offset, padding_idx))


def _bag_bookkeeping(weight, indices, offsets, mode, include_last_offset, padding_idx):
    """embedding_bag's offset2bag, bag_size and max_indices, as torch's CPU kernel fills them."""
    xp = indices.xp
    idx = indices._data.reshape(-1)
    starts = offsets._data.astype("int64")
    n_bags = len(starts) - 1 if include_last_offset else len(starts)
    # torch's CPU kernel ends the last bag at the end of ``indices``, even with include_last_offset
    ends = xp.concatenate([starts[1:n_bags], xp.asarray([idx.size], dtype="int64")])
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    valid = xp.ones(idx.shape, dtype=bool) if padding_idx is None else idx != padding_idx
    counts = xp.concatenate([xp.zeros(1, dtype="int64"), xp.cumsum(valid.astype("int64"))])
    bag_size = (counts[ends] - counts[starts[:n_bags]]).astype("int64")  # padding entries do not count
    offset2bag = (xp.searchsorted(starts[:n_bags], xp.arange(idx.size), side="right") - 1).astype("int64")
    wrap = lambda a: Tensor._wrap(a, indices._device)  # noqa: E731
    if mode == 0:  # sum: bag_size stays zero; torch's float32 fast path also leaves offset2bag empty
        zeros = xp.zeros(n_bags, dtype="int64")
        if weight.dtype.name == "float32" and padding_idx is None:
            offset2bag = xp.zeros(0, dtype="int64")
        return wrap(offset2bag), wrap(zeros), wrap(zeros.copy())
    if mode == 1:
        return wrap(offset2bag), wrap(bag_size), wrap(bag_size.copy())
    rows = weight._data[idx].astype("float64")  # the winner per bag and column, as an index into weight
    rows[~valid] = -xp.inf
    max_indices = xp.zeros((n_bags, weight.shape[1]), dtype="int64")
    for b in range(n_bags):
        s, e = int(starts[b]), int(ends[b])
        if int(bag_size[b]) > 0:
            max_indices[b] = idx[s + xp.argmax(rows[s:e], axis=0)]
    return wrap(offset2bag), wrap(bag_size), wrap(max_indices)


def bilinear(input1, input2, weight, bias=None):
    return _F().bilinear(input1, input2, weight, bias)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    return _F().cosine_similarity(x1, x2, dim=dim, eps=eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _F().pairwise_distance(x1, x2, p=p, eps=eps, keepdim=keepdim)


def pdist(input, p=2.0):
    return _F().pdist(input, p=p)


def pixel_shuffle(input, upscale_factor):
    return _F().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    return _F().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input, groups):
    return _F().channel_shuffle(input, groups)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled):
    """torch.instance_norm: every argument positional, weight and bias before the running statistics."""
    return _F().instance_norm(input, running_mean, running_var, weight=weight, bias=bias,
                              use_input_stats=use_input_stats, momentum=momentum, eps=eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return _F().rms_norm(input, normalized_shape, weight=weight, eps=eps)


def adaptive_max_pool1d(input, output_size):
    """torch.adaptive_max_pool1d always returns ``(output, indices)``."""
    return _F().adaptive_max_pool1d(input, output_size, return_indices=True)


def kl_div(input, target, reduction=0, *, log_target=False):
    return _F().kl_div(input, target, reduction=_reduction(reduction, "kl_div"), log_target=log_target)


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F().poisson_nll_loss(input, target, log_input=log_input, full=full, eps=eps,
                                 reduction=_reduction(reduction, "poisson_nll_loss"))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return _F().binary_cross_entropy_with_logits(
        input, target, weight=weight, pos_weight=pos_weight,
        reduction=_reduction(reduction, "binary_cross_entropy_with_logits"))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().margin_ranking_loss(input1, input2, target, margin=margin,
                                    reduction=_reduction(reduction, "margin_ranking_loss"))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return _F().hinge_embedding_loss(input, target, margin=margin,
                                     reduction=_reduction(reduction, "hinge_embedding_loss"))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().cosine_embedding_loss(input1, input2, target, margin=margin,
                                      reduction=_reduction(reduction, "cosine_embedding_loss"))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=0):
    return _F().triplet_margin_loss(anchor, positive, negative, margin=margin, p=p, eps=eps, swap=swap,
                                    reduction=_reduction(reduction, "triplet_margin_loss"))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False):
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank,
                         reduction=_reduction(reduction, "ctc_loss"), zero_infinity=zero_infinity)


__all__ = ["dropout", "alpha_dropout", "feature_alpha_dropout", "embedding", "embedding_bag", "bilinear",
           "cosine_similarity", "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "instance_norm", "rms_norm", "adaptive_max_pool1d", "kl_div", "poisson_nll_loss",
           "binary_cross_entropy_with_logits", "margin_ranking_loss", "hinge_embedding_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "ctc_loss"]

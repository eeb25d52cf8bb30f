"""Embedding lookups with max_norm / scale_grad_by_freq, and EmbeddingBag reductions."""
import math

from ...autograd.grad_mode import no_grad
from ...backend import host_sync
from ...ops import nn_extra as _k
from ._common import _const, _shape


def _renorm_rows_(weight, idx, max_norm, norm_type):
    """Scale each looked-up row whose norm exceeds max_norm down to max_norm, in place (embedding_renorm_)."""
    xp = weight.xp
    rows = xp.unique(idx.reshape(-1))
    if rows.size == 0:
        return
    w = weight._data[rows].astype(xp.float64)
    if norm_type == math.inf:
        norms = xp.abs(w).max(1)
    else:
        norms = (xp.abs(w) ** norm_type).sum(1) ** (1.0 / norm_type)
    big = norms > max_norm
    if not bool(big.any()):
        return
    scale = max_norm / (norms[big] + 1e-7)
    weight._data[rows[big]] = (w[big] * scale[:, None]).astype(weight._data.dtype)
    weight._bump_version()


def checked_padding_idx(op, padding_idx, num_embeddings):
    """``padding_idx`` as a row index in [0, num_embeddings) (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{op}: padding_idx ({padding_idx}) must be within num_embeddings ({num_embeddings})")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _check_indices(op, input, weight):
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got {input.dtype}")
    n = weight.shape[0]
    # negative indices do not count from the end here (PyTorch refuses them): -1 is a bug, not the last row.
    # On a GPU the check stays on the device and fails at the next sync.
    return host_sync.checked_indices(op, idx, n, f"{op}: index {{value}} is out of range for an embedding table "
                                             f"of {n} rows (weight shape {_shape(weight)}); indices must be in "
                                             f"[0, {n - 1}]")


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` at the integer indices ``input``.

    The row at padding_idx gets no gradient; ``max_norm`` renormalises the looked-up rows of weight in
    place first; ``scale_grad_by_freq`` divides each row's gradient by its count in ``input``. ``sparse``
    gradients are given dense.
    """
    from .. import functional as _F_core
    idx = _check_indices("embedding", input, weight)
    padding_idx = checked_padding_idx("embedding", padding_idx, weight.shape[0])
    if max_norm is not None:
        with no_grad():
            _renorm_rows_(weight, idx, max_norm, norm_type)
    rows = _F_core._Embedding(idx, padding_idx).apply(weight)   # the lookup node of nn/functional.py
    if scale_grad_by_freq and idx.size:
        xp = weight.xp
        counts = xp.bincount(idx.reshape(-1), minlength=weight.shape[0])
        scale = (1.0 / counts[idx]).astype(weight._data.dtype)[..., None]
        rows = _k.ScaleGrad(scale).apply(rows)
    return rows


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sum, mean or max of the embedding rows of each bag (rows of a 2-d input, or offsets into a 1-d one)."""
    op = "embedding_bag"
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight has to be a 2D tensor (num_embeddings, embedding_dim), got shape "
                         f"{_shape(weight)}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{op}: per_sample_weights is only supported for mode='sum' (got "
                                      f"mode={mode!r})")
        if _shape(per_sample_weights) != _shape(input):
            raise ValueError(f"{op}: per_sample_weights of shape {_shape(per_sample_weights)} must have the "
                             f"shape of input {_shape(input)}")
    xp = weight.xp
    idx = _check_indices(op, input, weight)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2D, then offsets has to be None, as input is treated as a "
                             f"mini-batch of fixed length sequences; got offsets")
        bags, length = idx.shape
        starts = xp.arange(bags) * length
        ends = starts + length
    elif input.ndim == 1:
        if offsets is None or offsets.ndim != 1:
            raise ValueError(f"{op}: offsets has to be a 1D tensor for a 1D input, got "
                             f"{None if offsets is None else _shape(offsets)}")
        o = offsets._data.astype(xp.int64)
        if o.size and (int(o[0]) != 0 or bool((o[1:] < o[:-1]).any()) or int(o[-1]) > idx.size):
            raise ValueError(f"{op}: offsets must start at 0, be non-decreasing and at most the input length "
                             f"{idx.size}; got {o.tolist()}")
        if include_last_offset:
            starts, ends = o[:-1], o[1:]
        else:
            starts, ends = o, xp.concatenate([o[1:], xp.asarray([idx.size])])
    else:
        raise ValueError(f"{op}: input has to be 1D or 2D tensor, but got tensor of shape {_shape(input)}")
    flat_idx = idx.reshape(-1).astype(xp.int64)
    padding_idx = checked_padding_idx(op, padding_idx, weight.shape[0])
    if max_norm is not None:
        with no_grad():
            _renorm_rows_(weight, flat_idx, max_norm, norm_type)
    bags = int(starts.shape[0])
    lengths = ends - starts
    width = max(int(lengths.max()) if bags else 0, 1)
    pos = starts[:, None] + xp.arange(width)[None, :]
    valid = xp.arange(width)[None, :] < lengths[:, None]
    pos = xp.clip(pos, 0, max(flat_idx.size - 1, 0))
    table = flat_idx[pos] if flat_idx.size else xp.zeros(pos.shape, dtype=xp.int64)
    if padding_idx is not None:
        valid &= table != padding_idx
    table = xp.where(valid, table, 0)
    dim = weight.shape[1]
    rows = weight.index_select(0, _const(table.reshape(-1), weight)).reshape(bags, width, dim)
    if scale_grad_by_freq and flat_idx.size:
        counts = xp.bincount(flat_idx, minlength=weight.shape[0])
        rows = _k.ScaleGrad((1.0 / xp.maximum(counts[table], 1)).astype(weight._data.dtype)[..., None]).apply(rows)
    mask = _const(valid[..., None].astype(weight._data.dtype), weight)
    count = valid.sum(1)
    if mode == "max":
        filled = rows.masked_fill(_const(~valid[..., None], weight), -math.inf)
        best = filled.max(1).values
        return best.masked_fill(_const((count == 0)[:, None], weight), 0.0)
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1).index_select(0, _const(pos.reshape(-1), weight)).reshape(bags, width)
        rows = rows * psw.unsqueeze(-1)
    total = (rows * mask).sum(1)
    if mode == "sum":
        return total
    return total / _const(xp.maximum(count, 1).astype(weight._data.dtype)[:, None], weight)

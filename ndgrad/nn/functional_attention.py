"""Attention in torch.nn.functional: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

SDPA runs as one node (ndgrad/ops/attention.py) in the common case; otherwise
(dropout, broadcast batch dims, half precision, a mask that needs a gradient,
ONNX tracing) both are compositions of differentiable Tensor ops (matmul,
softmax, where), whose gradients of every order come from the ops they are
made of. Masks follow
PyTorch: a bool ``attn_mask`` of SDPA says where attention is *allowed*; a bool
mask of MultiheadAttention (attn_mask, key_padding_mask) says where it is *not*.
Float masks are added to the scores in both.
"""
import math

from ndgrad.autograd import node as _node
from ndgrad.backend import cudnn_frontend as _cudnn
from ndgrad.backend import host_sync
from ndgrad.ops import nn as _nn_ops
from ndgrad.ops.attention import ScaledDotProductAttention as _ScaledDotProductAttention
from ndgrad.ops import shape as _shape_ops

# The two underscore helpers are PyTorch's too: code copied from torch.nn's Transformer layers calls them.
__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "_canonical_mask", "_none_or_dtype"]


def _tensor_type():
    from ndgrad.tensor import Tensor
    return Tensor


def _shape(t):
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _float_bias(allowed, dtype, xp):
    """A bool 'allowed' array as an additive bias: 0 where allowed, -inf elsewhere."""
    return xp.where(allowed, xp.asarray(0.0, dtype=dtype), xp.asarray(-xp.inf, dtype=dtype))


def _dropout(weights, p):
    from ndgrad.nn import functional as F
    return F.dropout(weights, p, training=True)


def _fusable(query, key, value, attn_mask, dropout_p):
    """Whether the one-node attention applies: real float32/float64 inputs of the same dtype and leading
    dims, no dropout, a mask that needs no gradient, and no graph tracing (ONNX export records the ops)."""
    dtype = query._data.dtype
    if dropout_p > 0.0 or dtype.kind != "f" or dtype.itemsize < 4 or _node._recorder is not None:
        return False
    if key._data.dtype != dtype or value._data.dtype != dtype or query.dim() < 2:
        return False
    lead = tuple(query.shape[:-2])
    if tuple(key.shape[:-2]) != lead or tuple(value.shape[:-2]) != lead:
        return False
    if attn_mask is None:
        return True
    if attn_mask.dtype.name == "bool":
        return True
    return attn_mask.dtype.is_floating_point and not attn_mask.requires_grad


def _safe_softmax(scores, bias_array):
    """Softmax over the last dim where rows that the mask blocks entirely give 0 (PyTorch's SDPA), not NaN.

    The dead rows are found from the mask alone (the scores themselves are finite), and their scores are
    replaced by 0 *before* the softmax, so no NaN reaches the backward either."""
    T = _tensor_type()
    xp = scores.xp
    dead = xp.all(xp.isneginf(bias_array), axis=-1, keepdims=True) if bias_array is not None else None
    # on a GPU the masked softmax always runs: asking whether a row is dead would wait for the device
    if dead is None or (not host_sync.on_device(dead) and not bool(dead.any())):
        return _nn_ops.softmax(scores, -1)
    dead_t = T._wrap(xp.broadcast_to(dead, tuple(scores.shape[:-1]) + (1,)), scores._device)
    zero = T._wrap(xp.zeros((), dtype=scores._data.dtype), scores._device)
    weights = _nn_ops.softmax(scores.where(dead_t.logical_not(), zero), -1)
    return weights.where(dead_t.logical_not(), zero)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims (..., L, E) x (..., S, E).

    attn_mask: bool (True = may attend) or float (added), broadcastable to (..., L, S). is_causal: a
    lower-triangular mask aligned at the top-left corner (not together with attn_mask). scale: defaults
    to 1/sqrt(E). enable_gqa: key/value may have fewer heads (dim -3) than query, each shared by a group.
    dropout_p is applied whenever it is > 0 (pass 0.0 in evaluation, as with PyTorch).
    """
    T = _tensor_type()
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, T):
            raise TypeError(f"scaled_dot_product_attention: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.dim() < 2:
            raise RuntimeError(f"scaled_dot_product_attention: {name} must have at least 2 dims (..., L, E), "
                               f"got shape {_shape(t)}")
    if key.shape[-1] != query.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query {_shape(query)} and key {_shape(key)} must have "
                           "the same embedding size (last dim)")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key {_shape(key)} and value {_shape(value)} must have "
                           "the same sequence length (dim -2)")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if kv_heads == 0 or heads % kv_heads or value.shape[-3] != kv_heads:
            raise RuntimeError(f"scaled_dot_product_attention: with enable_gqa=True the query heads ({heads}) must "
                               f"be a multiple of the key/value heads, got key {_shape(key)}, value {_shape(value)}")
        key = key.repeat_interleave(heads // kv_heads, dim=-3)
        value = value.repeat_interleave(heads // kv_heads, dim=-3)
    xp = query.xp
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    out = _cudnn.attention(query, key, value, attn_mask, dropout_p, is_causal, scale)
    if out is not None:   # cuDNN's fused attention on a GPU when installed (float16/bfloat16)
        return out
    if _fusable(query, key, value, attn_mask, dropout_p):
        dtype = query._data.dtype
        bias = None
        if is_causal:
            bias = _float_bias(xp.tril(xp.ones((L, S), dtype=bool)), dtype, xp)
        elif attn_mask is not None:
            bias = (_float_bias(attn_mask._data, dtype, xp) if attn_mask.dtype.name == "bool"
                    else attn_mask._data.astype(dtype, copy=False))
        return _ScaledDotProductAttention(scale, bias).apply(query, key, value)
    scores = query.matmul(key.transpose(-2, -1)) * scale
    dtype = scores._data.dtype
    bias = None
    if is_causal:
        bias = _float_bias(xp.tril(xp.ones((L, S), dtype=bool)), dtype, xp)
        scores = scores + T._wrap(bias, query._device)
    elif attn_mask is not None:
        if attn_mask.dtype.name == "bool":
            bias = _float_bias(attn_mask._data, dtype, xp)
            scores = scores + T._wrap(bias, query._device)
        elif attn_mask.dtype.is_floating_point:
            bias = attn_mask._data
            scores = scores + attn_mask
        else:
            raise RuntimeError(f"scaled_dot_product_attention: attn_mask must be bool or floating point, "
                               f"got {attn_mask.dtype}")
    weights = _safe_softmax(scores, bias)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p)
    return weights.matmul(value)


# ------------------------------------------------------------------ multi-head attention
def canonical_mask(mask, name, dtype):
    """None, or ``mask`` as an additive float mask of ``dtype``: bool True (= blocked) becomes -inf."""
    if mask is None:
        return None
    if mask.dtype.name == "bool":
        xp = mask.xp
        return _tensor_type()._wrap(_float_bias(xp.logical_not(mask._data), dtype.np, xp), mask._device)
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """PyTorch's helper: ``mask`` as a float mask of ``target_type`` (warns when the other mask's type differs)."""
    if mask is not None and check_other and other_type is not None and mask.dtype != other_type:
        import warnings
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.")
    return canonical_mask(mask, mask_name, target_type)


def _none_or_dtype(input):
    """None for None, else the tensor's dtype (PyTorch's helper for _canonical_mask's other_type)."""
    if input is None:
        return None
    if isinstance(input, _tensor_type()):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or ndgrad.Tensor")


def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """True for batched (L, N, E) inputs, False for unbatched (L, E); raises on anything else."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(f"multi_head_attention_forward: for batched (3-d) query, expected key and value "
                                 f"to be 3-d, got key {_shape(key)} and value {_shape(value)}")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("multi_head_attention_forward: for batched (3-d) query, expected key_padding_mask "
                                 f"to be None or 2-d, got shape {_shape(key_padding_mask)}")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("multi_head_attention_forward: for batched (3-d) query, expected attn_mask to be "
                                 f"None, 2-d or 3-d, got shape {_shape(attn_mask)}")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(f"multi_head_attention_forward: for unbatched (2-d) query, expected key and value "
                                 f"to be 2-d, got key {_shape(key)} and value {_shape(value)}")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("multi_head_attention_forward: for unbatched (2-d) query, expected "
                                 f"key_padding_mask to be None or 1-d, got shape {_shape(key_padding_mask)}")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("multi_head_attention_forward: for unbatched (2-d) query, expected attn_mask "
                                     f"to be None, 2-d or 3-d, got shape {_shape(attn_mask)}")
            if attn_mask.dim() == 3 and tuple(attn_mask.shape) != (num_heads, query.shape[0], key.shape[0]):
                raise AssertionError(f"multi_head_attention_forward: expected a 3-d attn_mask of shape "
                                     f"({num_heads}, {query.shape[0]}, {key.shape[0]}), got {_shape(attn_mask)}")
        return False
    raise AssertionError(f"multi_head_attention_forward: query should be unbatched 2-d or batched 3-d, "
                         f"got shape {_shape(query)}")


def _in_projection(query, key, value, E, in_proj_weight, in_proj_bias, use_separate, wq, wk, wv):
    linear = _nn_ops.linear
    b = in_proj_bias
    bq, bk, bv = (None, None, None) if b is None else (b[0:E], b[E:2 * E], b[2 * E:])
    if not use_separate:
        if in_proj_weight is None:
            raise AssertionError("multi_head_attention_forward: use_separate_proj_weight is False but "
                                 "in_proj_weight is None")
        w = in_proj_weight
        if query is key and key is value:  # self-attention: one product for q, k and v
            return linear(query, w, b).chunk(3, -1)
        wq, wk, wv = w[0:E], w[E:2 * E], w[2 * E:]
    elif wq is None or wk is None or wv is None:
        raise AssertionError("multi_head_attention_forward: use_separate_proj_weight is True but "
                             "q_proj_weight, k_proj_weight or v_proj_weight is None")
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """The computation of ``nn.MultiheadAttention`` on time-major inputs (L, N, E) or unbatched (L, E).

    Returns ``(attn_output, attn_weights)``; weights are None when ``need_weights=False``, averaged over the
    heads when ``average_attn_weights=True`` (else (N, num_heads, L, S)).
    """
    import ndgrad
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"multi_head_attention_forward: was expecting embedding dimension of "
                             f"{embed_dim_to_check}, but got {embed_dim} (query shape {_shape(query)})")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"multi_head_attention_forward: embed_dim {embed_dim} not divisible by num_heads "
                             f"{num_heads}")
    if tuple(key.shape[:2]) != tuple(value.shape[:2]):
        raise AssertionError(f"multi_head_attention_forward: key shape {_shape(key)} does not match value shape "
                             f"{_shape(value)}")
    dtype = query.dtype
    key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone is enough for scaled_dot_product_attention
    else:
        attn_mask = canonical_mask(attn_mask, "attn_mask", dtype)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal

    q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias, use_separate_proj_weight,
                             q_proj_weight, k_proj_weight, v_proj_weight)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {_shape(attn_mask)}, but should be "
                                   f"({tgt_len}, {src_len}).")
            attn_mask = attn_mask.unsqueeze(0)
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {_shape(attn_mask)}, but should be "
                               f"({bsz * num_heads}, {tgt_len}, {src_len}).")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("multi_head_attention_forward: bias cannot be added to static key/value")
        k = ndgrad.cat([k, bias_k.expand(1, bsz, embed_dim)], 0)
        v = ndgrad.cat([v, bias_v.expand(1, bsz, embed_dim)], 0)
        attn_mask = None if attn_mask is None else _shape_ops.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else _shape_ops.pad(key_padding_mask, (0, 1))
    elif (bias_k is None) != (bias_v is None):
        raise AssertionError("multi_head_attention_forward: bias_k and bias_v must both be given or both be None")

    # (L, N, E) -> (N*H, L, hd): every head is one entry of a batched matmul.
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz * num_heads, head_dim)
    v = _heads(v, static_v, "static_v", bsz * num_heads, head_dim)

    if add_zero_attn:
        zeros = ndgrad.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k = ndgrad.cat([k, zeros], 1)
        v = ndgrad.cat([v, zeros], 1)
        attn_mask = None if attn_mask is None else _shape_ops.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else _shape_ops.pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"multi_head_attention_forward: expecting key_padding_mask shape of "
                                 f"({bsz}, {src_len}), but got {_shape(key_padding_mask)}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = _nn_ops.softmax(scores, -1)
        if dropout_p > 0.0:
            weights = _dropout(weights, dropout_p)
        out = weights.matmul(v)  # (N*H, L, hd)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = _nn_ops.linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
            attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = _nn_ops.linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    return out, None


def _heads(x, static, name, batch_heads, head_dim):
    """(S, N, E) -> (N*H, S, hd), or the precomputed ``static`` key/value after a shape check."""
    if static is None:
        return x.reshape(x.shape[0], batch_heads, head_dim).transpose(0, 1)
    if static.dim() != 3 or static.shape[0] != batch_heads or static.shape[2] != head_dim:
        raise AssertionError(f"multi_head_attention_forward: expecting {name} of shape ({batch_heads}, S, "
                             f"{head_dim}), but got {_shape(static)}")
    return static

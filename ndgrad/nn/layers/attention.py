"""MultiheadAttention with PyTorch's parameters (in_proj_weight, in_proj_bias, out_proj) and masks."""
import math

import ndgrad
from ndgrad.tensor import Tensor
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import new_param, layer_error, shape_str
from ndgrad.nn.layers.linear import Linear

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """Linear under the class name PyTorch uses for ``MultiheadAttention.out_proj``."""


def _as_additive_mask(mask, dtype, name, layer):
    """Bool masks (True = may not attend) become 0 / -inf; float masks are added as they are."""
    if mask is None:
        return None
    if mask.dtype == ndgrad.bool_:
        xp = mask.xp
        return Tensor._wrap(xp.where(mask._data, -xp.inf, 0.0).astype(dtype.np))
    if not mask.dtype.is_floating_point:
        raise TypeError(f"{layer._short_repr()}: only bool and floating-point {name} are supported, "
                        f"got {mask.dtype}")
    return mask


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of size embed_dim // num_heads.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None).
    Shapes (L, N, E) or, with batch_first=True, (N, L, E); unbatched (L, E) works too.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) and num_heads ({num_heads}) "
                             "must be positive")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_param((3 * embed_dim, embed_dim), dtype, device)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = new_param((embed_dim, embed_dim), dtype, device)
            self.k_proj_weight = new_param((embed_dim, self.kdim), dtype, device)
            self.v_proj_weight = new_param((embed_dim, self.vdim), dtype, device)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new_param((3 * embed_dim,), dtype, device)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = new_param((1, 1, embed_dim), dtype, device)
            self.bias_v = new_param((1, 1, embed_dim), dtype, device)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _short_repr(self):
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _projections(self, query, key, value):
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[0:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[0:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def _check_inputs(self, query, key, value):
        rank = query.dim()
        names = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if rank not in (2, 3) or query.shape[-1] != self.embed_dim:
            raise layer_error(self, f"query of shape {names.replace('E', str(self.embed_dim))} or unbatched "
                              f"(L, {self.embed_dim})", query)
        for t, name, dim in ((key, "key", self.kdim), (value, "value", self.vdim)):
            if t.dim() != rank or t.shape[-1] != dim:
                raise RuntimeError(f"{self._short_repr()}: expected {name} to be {rank}-d with last dimension "
                                   f"{dim}, got {name} of shape {shape_str(t.shape)}")
        if tuple(key.shape[:-1]) != tuple(value.shape[:-1]):
            raise RuntimeError(f"{self._short_repr()}: key shape {shape_str(key.shape)} does not match value "
                               f"shape {shape_str(value.shape)}")
        if rank == 3:
            b_dim = 0 if self.batch_first else 1
            if query.shape[b_dim] != key.shape[b_dim]:
                raise RuntimeError(f"{self._short_repr()}: query batch size {query.shape[b_dim]} does not match "
                                   f"key batch size {key.shape[b_dim]}")

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        self._check_inputs(query, key, value)
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        tgt_len, bsz, E = query.shape
        H, hd = self.num_heads, self.head_dim
        dtype = query.dtype

        if attn_mask is None and is_causal:
            xp = query.xp
            causal = xp.triu(xp.ones((tgt_len, key.shape[0]), dtype=bool), k=1)
            attn_mask = Tensor._wrap(causal)
        attn_mask = _as_additive_mask(attn_mask, dtype, "attn_mask", self)
        key_padding_mask = _as_additive_mask(key_padding_mask, dtype, "key_padding_mask", self)

        q, k, v = self._projections(query, key, value)  # (L, N, E), (S, N, E), (S, N, E)

        if self.bias_k is not None:
            k = ndgrad.cat([k, self.bias_k.expand(1, bsz, E)], 0)
            v = ndgrad.cat([v, self.bias_v.expand(1, bsz, E)], 0)
            if attn_mask is not None:
                attn_mask = F.pad(attn_mask, (0, 1))
            if key_padding_mask is not None:
                key_padding_mask = F.pad(key_padding_mask, (0, 1))

        # (L, N, E) -> (N*H, L, hd): heads become batch entries of one batched matmul.
        q = q.reshape(tgt_len, bsz * H, hd).transpose(0, 1)
        k = k.reshape(k.shape[0], bsz * H, hd).transpose(0, 1)
        v = v.reshape(v.shape[0], bsz * H, hd).transpose(0, 1)

        if self.add_zero_attn:
            zeros = ndgrad.zeros((bsz * H, 1, hd), dtype=dtype, device=q.device)
            k = ndgrad.cat([k, zeros], 1)
            v = ndgrad.cat([v, zeros], 1)
            if attn_mask is not None:
                attn_mask = F.pad(attn_mask, (0, 1))
            if key_padding_mask is not None:
                key_padding_mask = F.pad(key_padding_mask, (0, 1))
        src_len = k.shape[1]

        if attn_mask is not None:
            expected2 = (tgt_len, src_len)
            expected3 = (bsz * H, tgt_len, src_len)
            if tuple(attn_mask.shape) not in (expected2, expected3):
                raise RuntimeError(f"{self._short_repr()}: attn_mask must have shape {shape_str(expected2)} or "
                                   f"{shape_str(expected3)}, got {shape_str(attn_mask.shape)}")
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (bsz, src_len):
                raise RuntimeError(f"{self._short_repr()}: key_padding_mask must have shape "
                                   f"{shape_str((bsz, src_len))}, got {shape_str(key_padding_mask.shape)}")
            kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, H, 1, src_len)
            kpm = kpm.reshape(bsz * H, 1, src_len)
            attn_mask = kpm if attn_mask is None else attn_mask + kpm

        scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)  # (N*H, L, S)
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = F.softmax(scores, -1)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, self.dropout, True)
        out = weights @ v  # (N*H, L, hd)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, E)
        out = F.linear(out, self.out_proj.weight, self.out_proj.bias).reshape(tgt_len, bsz, E)

        if unbatched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = weights.reshape(bsz, H, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if unbatched:
            weights = weights.squeeze(0)
        return out, weights

"""Attention and the Transformer family against torch: scaled_dot_product_attention, multi_head_attention_forward,
MultiheadAttention with every argument, encoder/decoder layers and stacks, nn.Transformer.

Module cases copy torch's state_dict into ndgrad (float64) and compare outputs, input and parameter gradients
and state_dict keys (``check_module`` from test_nn_modules).
"""
import math

import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
from oracle import check_error, check_higher_order, check_op
from test_nn_modules import check_module, to_np

pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:Support for mismatched")]

R = np.random.default_rng(2024)


def randn(*shape):
    return R.standard_normal(shape)


def bool_mask(*shape, p=0.3, keep_first=True):
    """A random bool mask; with keep_first the first key column stays False so no row is fully blocked."""
    m = R.random(shape) < p
    if keep_first:
        m[..., 0] = False
    return m


def allow_mask(*shape):
    """An SDPA-style bool mask (True = may attend) that always allows the first key."""
    return ~bool_mask(*shape)


def causal_float(n):
    return np.triu(np.full((n, n), -np.inf), 1)


# ------------------------------------------------------------------ scaled_dot_product_attention
SDPA_CASES = {
    "4d": ([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)], {}),
    "3d": ([(3, 4, 5), (3, 6, 5), (3, 6, 2)], {}),
    "2d": ([(4, 5), (6, 5), (6, 3)], {}),
    "broadcast-batch": ([(2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 5)], {}),
    "bool-mask-broadcast": ([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), allow_mask(4, 6)], {}),
    "bool-mask-per-head": ([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), allow_mask(1, 3, 4, 6)], {}),
    "float-mask": ([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), (4, 6)], {}),
    "causal-square": ([(2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4)], {"is_causal": True}),
    "causal-rect": ([(2, 4, 4), (2, 6, 4), (2, 6, 4)], {"is_causal": True}),
    "scale": ([(2, 4, 5), (2, 6, 5), (2, 6, 5)], {"scale": 0.3}),
    "gqa": ([(2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5)], {"enable_gqa": True}),
    "size-1": ([(1, 1, 1, 5), (1, 1, 1, 5), (1, 1, 1, 5)], {}),
    "size-0-batch": ([(0, 2, 3, 4), (0, 2, 5, 4), (0, 2, 5, 4)], {}),
}


def _sdpa(lib_F, kw):
    def fn(q, k, v, *mask):
        if mask and isinstance(mask[0], torch.Tensor) and mask[0].dtype == torch.bool:
            mask = (mask[0],)
        return lib_F.scaled_dot_product_attention(q, k, v, *mask, **kw)
    return fn


@pytest.mark.parametrize("name", list(SDPA_CASES))
@pytest.mark.parametrize("contiguous", [True, False])
def test_sdpa_matches_torch(name, contiguous):
    inputs, kw = SDPA_CASES[name]
    check_op(inputs, _sdpa(torch.nn.functional, kw), _sdpa(F, kw), contiguous=contiguous)


def test_sdpa_float32():
    check_op([(2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 8)], torch.nn.functional.scaled_dot_product_attention,
             F.scaled_dot_product_attention, dtype="float32")


def test_sdpa_fully_masked_rows_give_zeros_and_finite_grads():
    mask = np.ones((4, 6), dtype=bool)
    mask[1] = False  # row 1 may attend nowhere
    check_op([(2, 4, 5), (2, 6, 5), (2, 6, 5), mask], torch.nn.functional.scaled_dot_product_attention,
             F.scaled_dot_product_attention)
    float_mask = np.zeros((4, 6))
    float_mask[2] = -np.inf
    check_op([(2, 4, 5), (2, 6, 5), (2, 6, 5), float_mask], torch.nn.functional.scaled_dot_product_attention,
             F.scaled_dot_product_attention)


def test_sdpa_double_backward_and_gradcheck():
    check_higher_order([(2, 3, 4), (2, 5, 4), (2, 5, 4)], torch.nn.functional.scaled_dot_product_attention,
                       F.scaled_dot_product_attention)
    q, k, v = (ndgrad.tensor(randn(2, 3, 4), requires_grad=True) for _ in range(3))
    mask = ndgrad.tensor(allow_mask(3, 3))
    assert ndgrad.autograd.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask), (q, k, v))
    assert ndgrad.autograd.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                     (q, k, v))


def test_sdpa_dropout_keeps_the_expected_value():
    ndgrad.manual_seed(0)
    q = ndgrad.zeros(1, 200, 4)  # uniform attention over 50 keys
    v = ndgrad.ones(1, 50, 3)
    out = F.scaled_dot_product_attention(q, ndgrad.zeros(1, 50, 4), v, dropout_p=0.4)
    values = to_np(out)
    assert abs(values.mean() - 1.0) < 0.05  # dropout rescales by 1/(1-p): the mean stays 1
    assert values.std() > 0.05  # but each row differs
    assert np.allclose(to_np(F.scaled_dot_product_attention(q, ndgrad.zeros(1, 50, 4), v, dropout_p=0.0)), 1.0)


def test_sdpa_errors():
    q, k, v = ndgrad.randn(2, 3, 4), ndgrad.randn(2, 5, 4), ndgrad.randn(2, 5, 4)
    check_error(lambda: F.scaled_dot_product_attention(q, k, v, ndgrad.ones(3, 5, dtype=ndgrad.bool), is_causal=True),
                "attn_mask should not be set when is_causal=True", RuntimeError,
                torch_fn=lambda: torch.nn.functional.scaled_dot_product_attention(
                    torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 4),
                    torch.ones(3, 5, dtype=torch.bool), is_causal=True))
    check_error(lambda: F.scaled_dot_product_attention(q, ndgrad.randn(2, 5, 3), v), r"\(2, 3, 4\).*\(2, 5, 3\)",
                RuntimeError)
    check_error(lambda: F.scaled_dot_product_attention(ndgrad.randn(1, 3, 2, 4), ndgrad.randn(1, 2, 5, 4),
                                                       ndgrad.randn(1, 2, 5, 4), enable_gqa=True),
                "multiple of the key/value heads", RuntimeError)


# ------------------------------------------------------------------ MultiheadAttention
def mha_call(**kw):
    """forward(q, k, v, *masks) with masks passed by the given keyword names."""
    names = kw.pop("masks", ())

    def call(m, q, k, v, *masks):
        return m(q, k, v, **dict(zip(names, masks)), **kw)
    return call


MHA_CASES = {
    "no-weights": (lambda nn, T: nn.MultiheadAttention(8, 2), [randn(5, 3, 8), randn(6, 3, 8), randn(6, 3, 8)],
                   {"call": mha_call(need_weights=False)}),
    "per-head-weights": (lambda nn, T: nn.MultiheadAttention(8, 2), [randn(5, 3, 8), randn(6, 3, 8), randn(6, 3, 8)],
                         {"call": mha_call(average_attn_weights=False)}),
    "self-attention": (lambda nn, T: nn.MultiheadAttention(8, 4), [randn(5, 3, 8)],
                       {"call": lambda m, x: m(x, x, x)}),
    "bool-attn-mask": (lambda nn, T: nn.MultiheadAttention(6, 2),
                       [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6), bool_mask(4, 5)],
                       {"call": mha_call(masks=("attn_mask",))}),
    "float-3d-attn-mask": (lambda nn, T: nn.MultiheadAttention(6, 2),
                           [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6), randn(4, 4, 5)],
                           {"call": mha_call(masks=("attn_mask",)), "grad_inputs": (0, 1, 2)}),
    "bool-3d-attn-mask-no-weights": (lambda nn, T: nn.MultiheadAttention(6, 2),
                                     [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6), bool_mask(4, 4, 5)],
                                     {"call": mha_call(masks=("attn_mask",), need_weights=False)}),
    "bool-kpm-no-weights": (lambda nn, T: nn.MultiheadAttention(6, 3, batch_first=True),
                            [randn(2, 4, 6), randn(2, 5, 6), randn(2, 5, 6), bool_mask(2, 5)],
                            {"call": mha_call(masks=("key_padding_mask",), need_weights=False)}),
    "float-kpm-and-mask": (lambda nn, T: nn.MultiheadAttention(6, 2),
                           [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6), randn(2, 5), randn(4, 5)],
                           {"call": mha_call(masks=("key_padding_mask", "attn_mask")), "grad_inputs": (0, 1, 2)}),
    "causal-hint": (lambda nn, T: nn.MultiheadAttention(6, 2), [randn(5, 2, 6), causal_float(5)],
                    {"call": lambda m, x, mask: m(x, x, x, attn_mask=mask, is_causal=True, need_weights=False),
                     "grad_inputs": (0,)}),
    "causal-hint-weights": (lambda nn, T: nn.MultiheadAttention(6, 2), [randn(5, 2, 6), causal_float(5)],
                            {"call": lambda m, x, mask: m(x, x, x, attn_mask=mask, is_causal=True),
                             "grad_inputs": (0,)}),
    "bias_kv-kpm-mask": (lambda nn, T: nn.MultiheadAttention(6, 2, add_bias_kv=True),
                         [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6), bool_mask(2, 5), bool_mask(4, 5)],
                         {"call": mha_call(masks=("key_padding_mask", "attn_mask"))}),
    "zero_attn-kpm": (lambda nn, T: nn.MultiheadAttention(6, 2, add_zero_attn=True),
                      [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6), bool_mask(2, 5)],
                      {"call": mha_call(masks=("key_padding_mask",), need_weights=False)}),
    "kdim-vdim-batch_first-nobias": (lambda nn, T: nn.MultiheadAttention(6, 3, kdim=4, vdim=5, bias=False,
                                                                         batch_first=True),
                                     [randn(2, 4, 6), randn(2, 3, 4), randn(2, 3, 5)],
                                     {"call": mha_call(average_attn_weights=False)}),
    "unbatched-masks": (lambda nn, T: nn.MultiheadAttention(6, 2),
                        [randn(4, 6), randn(5, 6), randn(5, 6), bool_mask(5), bool_mask(4, 5)],
                        {"call": mha_call(masks=("key_padding_mask", "attn_mask"))}),
    "unbatched-no-weights": (lambda nn, T: nn.MultiheadAttention(6, 2, batch_first=True),
                             [randn(4, 6), randn(5, 6), randn(5, 6)], {"call": mha_call(need_weights=False)}),
    "dropout-eval": (lambda nn, T: nn.MultiheadAttention(6, 2, dropout=0.5),
                     [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6)], {"train": False}),
}


@pytest.mark.parametrize("name", list(MHA_CASES))
def test_mha_matches_torch(name):
    make, inputs, options = MHA_CASES[name]
    check_module(make, inputs, **options)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_mha_fully_masked_row_matches_torch():
    """A batch entry whose keys are all padded: NaN with weights (PyTorch's softmax), zeros without."""
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(4, 2).double()
    nm = nn.MultiheadAttention(4, 2).double()
    nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = randn(3, 2, 4)
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[0] = True
    for need_weights in (True, False):
        t_out = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)[0]
        n_out = nm(*(ndgrad.tensor(x),) * 3, key_padding_mask=ndgrad.tensor(kpm), need_weights=need_weights)[0]
        np.testing.assert_allclose(to_np(n_out), to_np(t_out), rtol=1e-7, atol=1e-9)


def test_multi_head_attention_forward_matches_torch():
    E, H, L, S, N = 6, 2, 4, 5, 3
    arrays = dict(q=randn(L, N, E), k=randn(S, N, E), v=randn(S, N, E), w=randn(3 * E, E), b=randn(3 * E),
                  bk=randn(1, 1, E), bv=randn(1, 1, E), ow=randn(E, E), ob=randn(E))
    kpm, mask = bool_mask(N, S), bool_mask(L, S)
    results = []
    for lib, Fn, T in ((torch, torch.nn.functional, torch.tensor), (ndgrad, F, ndgrad.tensor)):
        t = {k: T(a, requires_grad=True) for k, a in arrays.items()}
        out, w = Fn.multi_head_attention_forward(t["q"], t["k"], t["v"], E, H, t["w"], t["b"], t["bk"], t["bv"],
                                                 True, 0.0, t["ow"], t["ob"], training=False,
                                                 key_padding_mask=T(kpm), attn_mask=T(mask),
                                                 average_attn_weights=False)
        (out.sum() + (w * T(np.linspace(0, 1, w.numel()).reshape(tuple(w.shape)))).sum()).backward()
        results.append([out, w] + [t[k].grad for k in arrays])
    for n, t in zip(results[1], results[0]):
        np.testing.assert_allclose(to_np(n), to_np(t), rtol=1e-7, atol=1e-9)


def test_mha_separate_weights_and_static_kv():
    E, H, L, S, N = 4, 2, 3, 5, 2
    arrays = dict(q=randn(L, N, E), k=randn(S, N, E), v=randn(S, N, E), wq=randn(E, E), wk=randn(E, E),
                  wv=randn(E, E), b=randn(3 * E), ow=randn(E, E), sk=randn(N * H, S, E // H),
                  sv=randn(N * H, S, E // H))
    outs = []
    for Fn, T in ((torch.nn.functional, torch.tensor), (F, ndgrad.tensor)):
        t = {k: T(a) for k, a in arrays.items()}
        outs.append(Fn.multi_head_attention_forward(
            t["q"], t["k"], t["v"], E, H, None, t["b"], None, None, False, 0.0, t["ow"], None, training=True,
            use_separate_proj_weight=True, q_proj_weight=t["wq"], k_proj_weight=t["wk"], v_proj_weight=t["wv"],
            static_k=t["sk"], static_v=t["sv"]))
    for n, t in zip(outs[1], outs[0]):
        np.testing.assert_allclose(to_np(n), to_np(t), rtol=1e-7, atol=1e-9)


def test_canonical_mask_helpers_match_torch():
    for mask in (bool_mask(3, 4), randn(3, 4)):
        t = torch.nn.functional._canonical_mask(mask=torch.tensor(mask), mask_name="m", other_type=None, other_name="",
                                                target_type=torch.float64)
        n = F._canonical_mask(mask=ndgrad.tensor(mask), mask_name="m", other_type=None, other_name="",
                              target_type=ndgrad.float64)
        np.testing.assert_array_equal(to_np(n), to_np(t))
    assert F._none_or_dtype(None) is None and F._none_or_dtype(ndgrad.zeros(1)) == ndgrad.float32
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        F._canonical_mask(mask=ndgrad.zeros(2, dtype=ndgrad.bool), mask_name="key_padding_mask",
                          other_type=ndgrad.float32, other_name="attn_mask", target_type=ndgrad.float32)


def test_mha_gradcheck():
    ndgrad.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, dtype=ndgrad.float64)
    x = ndgrad.tensor(randn(3, 2, 4), requires_grad=True)
    mask = ndgrad.tensor(bool_mask(3, 3))
    assert ndgrad.autograd.gradcheck(lambda x: m(x, x, x, attn_mask=mask)[0], (x,))


def test_mha_errors():
    m = nn.MultiheadAttention(6, 2)
    x = ndgrad.randn(4, 2, 6)
    check_error(lambda: m(x, x, x, is_causal=True), "Need attn_mask if specifying the is_causal hint", RuntimeError,
                torch_fn=lambda: torch.nn.MultiheadAttention(6, 2)(*(torch.randn(4, 2, 6),) * 3, is_causal=True))
    check_error(lambda: m(x, x, x, attn_mask=ndgrad.zeros(3, 4)), r"2D attn_mask is \(3, 4\).*should be \(4, 4\)",
                RuntimeError)
    check_error(lambda: m(x, x, x, attn_mask=ndgrad.zeros(3, 4, 4)), r"3D attn_mask is \(3, 4, 4\).*\(4, 4, 4\)",
                RuntimeError)
    check_error(lambda: m(x, x, x, key_padding_mask=ndgrad.zeros(2, 4, dtype=ndgrad.int64)),
                "only bool and floating types of key_padding_mask", AssertionError)
    check_error(lambda: m(x, x, x, key_padding_mask=ndgrad.zeros(2, 3, dtype=ndgrad.bool)),
                r"key_padding_mask shape of \(2, 4\), but got \(2, 3\)", AssertionError)


def test_mha_init_matches_torch():
    ndgrad.manual_seed(0)
    m = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    bound = math.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ on the (3E, E) packed weight
    w = to_np(m.in_proj_weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not np.any(to_np(m.in_proj_bias)) and not np.any(to_np(m.out_proj.bias))
    assert [k for k, _ in m.named_parameters()] == [k for k, _ in torch.nn.MultiheadAttention(
        64, 4, add_bias_kv=True).named_parameters()]


# ------------------------------------------------------------------ Transformer family
def dec_call(**kw):
    names = kw.pop("masks", ())

    def call(m, tgt, memory, *masks):
        return m(tgt, memory, **dict(zip(names, masks)), **kw)
    return call


LAYER_CASES = {
    "EncoderLayer-callable-activation-nobias": (
        lambda nn, T: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=nn.functional.silu, bias=False),
        [randn(5, 3, 8)], {}),
    "EncoderLayer-module-activation-kpm": (
        lambda nn, T: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=nn.GELU(), batch_first=True),
        [randn(3, 5, 8), bool_mask(3, 5)], {"call": lambda m, x, kpm: m(x, src_key_padding_mask=kpm)}),
    "EncoderLayer-is_causal": (
        lambda nn, T: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), [randn(5, 3, 8), causal_float(5)],
        {"call": lambda m, x, mask: m(x, src_mask=mask, is_causal=True), "grad_inputs": (0,)}),
    "EncoderLayer-unbatched": (lambda nn, T: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), [randn(5, 8)], {}),
    "EncoderLayer-dropout-eval": (lambda nn, T: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3),
                                  [randn(5, 3, 8)], {"train": False}),
    "DecoderLayer": (lambda nn, T: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0),
                     [randn(4, 3, 8), randn(6, 3, 8)], {}),
    "DecoderLayer-norm_first-batch_first-all-masks": (
        lambda nn, T: nn.TransformerDecoderLayer(8, 4, 12, dropout=0.0, activation="gelu", norm_first=True,
                                                 batch_first=True, layer_norm_eps=1e-3),
        [randn(3, 4, 8), randn(3, 6, 8), causal_float(4), bool_mask(4, 6), bool_mask(3, 4), bool_mask(3, 6)],
        {"call": dec_call(masks=("tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask")),
         "grad_inputs": (0, 1)}),
    "DecoderLayer-tgt_is_causal": (
        lambda nn, T: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), [randn(4, 2, 8), randn(6, 2, 8),
                                                                          causal_float(4)],
        {"call": dec_call(masks=("tgt_mask",), tgt_is_causal=True), "grad_inputs": (0, 1)}),
    "DecoderLayer-unbatched-nobias": (lambda nn, T: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, bias=False),
                                      [randn(4, 8), randn(6, 8)], {}),
    "Encoder-norm-mask-detected-causal": (
        lambda nn, T: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2,
                                            norm=nn.LayerNorm(8), enable_nested_tensor=False, mask_check=False),
        [randn(5, 2, 8), causal_float(5), bool_mask(2, 5)],
        {"call": lambda m, x, mask, kpm: m(x, mask=mask, src_key_padding_mask=kpm), "grad_inputs": (0,)}),
    "Decoder": (lambda nn, T: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), 2,
                                                    norm=nn.LayerNorm(8)),
                [randn(4, 2, 8), randn(6, 2, 8), causal_float(4)],
                {"call": dec_call(masks=("tgt_mask",)), "grad_inputs": (0, 1)}),
    "Transformer": (lambda nn, T: nn.Transformer(8, 2, 2, 2, 16, dropout=0.0),
                    [randn(6, 2, 8), randn(4, 2, 8)], {}),
    "Transformer-batch_first-norm_first-all-masks": (
        lambda nn, T: nn.Transformer(8, 2, 1, 2, 12, dropout=0.0, activation="gelu", batch_first=True,
                                     norm_first=True),
        [randn(2, 6, 8), randn(2, 4, 8), bool_mask(6, 6), causal_float(4), bool_mask(4, 6), bool_mask(2, 6),
         bool_mask(2, 4), bool_mask(2, 6)],
        {"call": lambda m, src, tgt, sm, tm, mm, skpm, tkpm, mkpm: m(
            src, tgt, src_mask=sm, tgt_mask=tm, memory_mask=mm, src_key_padding_mask=skpm,
            tgt_key_padding_mask=tkpm, memory_key_padding_mask=mkpm), "grad_inputs": (0, 1)}),
    "Transformer-unbatched-causal-flags": (
        lambda nn, T: nn.Transformer(8, 2, 1, 1, 16, dropout=0.0), [randn(5, 8), randn(4, 8), causal_float(4)],
        {"call": lambda m, src, tgt, tm: m(src, tgt, tgt_mask=tm, tgt_is_causal=True), "grad_inputs": (0, 1)}),
    "Transformer-custom-encoder-decoder": (
        lambda nn, T: nn.Transformer(8, 2, custom_encoder=_Custom(nn), custom_decoder=_Custom(nn)),
        [randn(3, 2, 8), randn(3, 2, 8)], {}),
}


def _Custom(lib_nn):
    """A stand-in encoder/decoder: Linear of the first input, plus the memory for a decoder."""
    class Custom(lib_nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = lib_nn.Linear(8, 8)

        def forward(self, x, memory=None, **masks):
            return self.proj(x) if memory is None else self.proj(x) + memory
    return Custom()


@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_transformer_family_matches_torch(name):
    make, inputs, options = LAYER_CASES[name]
    check_module(make, inputs, **options)


def test_transformer_defaults_init_and_repr():
    nm, tm = nn.Transformer(16, 2, 1, 1, 32), torch.nn.Transformer(16, 2, 1, 1, 32)
    assert list(nm.state_dict()) == list(tm.state_dict())
    assert repr(nm) == repr(tm)
    assert (nm.d_model, nm.nhead, nm.batch_first) == (16, 2, False)
    # xavier_uniform_ on every matrix: the in_proj weight (48, 16) is bounded by sqrt(6 / (16 + 48))
    w = to_np(nm.encoder.layers[0].self_attn.in_proj_weight)
    bound = math.sqrt(6 / 64)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    lin = to_np(nm.decoder.layers[0].linear1.weight)
    assert np.abs(lin).max() <= math.sqrt(6 / 48)
    for layers in (nm.encoder.layers, nm.decoder.layers):
        assert layers[0].dropout.p == 0.1 and layers[0].norm1.eps == 1e-5


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
@pytest.mark.parametrize("with_norm", [False, True])
def test_encoder_inference_zeroes_padding_like_torch_nested_tensors(with_norm):
    """In evaluation without gradients PyTorch packs the batch into a nested tensor: padded rows come back 0.
    With gradients, an unaligned padding mask or a mask as well, it computes every row."""
    torch.manual_seed(0)
    tm = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                     norm=torch.nn.LayerNorm(8) if with_norm else None).double().eval()
    nm = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                               norm=nn.LayerNorm(8) if with_norm else None).double().eval()
    nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = randn(3, 5, 8)
    aligned = np.zeros((3, 5), dtype=bool)
    aligned[0, 3:] = aligned[2, 1:] = True
    unaligned = aligned.copy()
    unaligned[1, 0] = True
    for kpm, no_grad in ((aligned, True), (np.where(aligned, -np.inf, 0.0), True), (unaligned, True),
                         (aligned, False)):
        with torch.set_grad_enabled(not no_grad), ndgrad.set_grad_enabled(not no_grad):
            t = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
            n = nm(ndgrad.tensor(x), src_key_padding_mask=ndgrad.tensor(kpm))
        np.testing.assert_allclose(to_np(n), to_np(t), rtol=1e-7, atol=1e-9)
    assert nm.use_nested_tensor
    with pytest.warns(UserWarning, match="use_nested_tensor is False because encoder_layer.norm_first was True"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, norm_first=True), 1)


@pytest.mark.parametrize("size", [1, 4])
def test_generate_square_subsequent_mask(size):
    got = nn.Transformer.generate_square_subsequent_mask(size)
    want = torch.nn.Transformer.generate_square_subsequent_mask(size)
    assert got.dtype == ndgrad.float32
    np.testing.assert_array_equal(to_np(got), want.numpy())
    got64 = nn.Transformer.generate_square_subsequent_mask(size, dtype=ndgrad.float64)
    assert got64.dtype == ndgrad.float64


def test_transformer_errors():
    m = nn.Transformer(8, 2, 1, 1, 16)
    check_error(lambda: m(ndgrad.randn(5, 2, 8), ndgrad.randn(4, 3, 8)), "the batch number of src and tgt must be "
                "equal", RuntimeError)
    check_error(lambda: m(ndgrad.randn(5, 2, 8), ndgrad.randn(4, 2, 6)), "feature number of src and tgt must be "
                "equal to d_model", RuntimeError)
    check_error(lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"), "activation should be relu/gelu",
                RuntimeError, torch_fn=lambda: torch.nn.TransformerEncoderLayer(8, 2, activation="tanh"))
    check_error(lambda: nn.TransformerEncoderLayer(8, 2)(ndgrad.randn(3, 2, 8), is_causal=True),
                "Need attn_mask if specifying the is_causal hint", RuntimeError)


class _LanguageModel:
    """The shape of pytorch/examples' word_language_model TransformerModel: a subclass of nn.Transformer
    that replaces ``decoder`` with a Linear and runs only the encoder with a float causal mask."""

    @staticmethod
    def build(lib, ntoken=20, ninp=8, nhead=2, nhid=16, nlayers=2):
        class TransformerModel(lib.nn.Transformer):
            def __init__(self):
                super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers)
                self.src_mask = None
                self.input_emb = lib.nn.Embedding(ntoken, ninp)
                self.decoder = lib.nn.Linear(ninp, ntoken)
                self.ninp = ninp

            def forward(self, src):
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    self.src_mask = lib.log(lib.tril(lib.ones(len(src), len(src))))
                x = self.input_emb(src) * math.sqrt(self.ninp)
                out = self.encoder(x, mask=self.src_mask)
                return lib.nn.functional.log_softmax(self.decoder(out), dim=-1)
        return TransformerModel()


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_word_language_model_transformer_runs_like_torch():
    torch.manual_seed(0)
    tm = _LanguageModel.build(torch)
    nm = _LanguageModel.build(ndgrad)
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    tm.eval()
    nm.eval()
    tokens = R.integers(0, 20, size=(7, 3))
    t_out = tm(torch.tensor(tokens))
    n_out = nm(ndgrad.tensor(tokens))
    np.testing.assert_allclose(to_np(n_out), to_np(t_out), rtol=1e-4, atol=1e-5)
    nm.train()
    loss = F.nll_loss(nm(ndgrad.tensor(tokens)).view(-1, 20), ndgrad.tensor(tokens.reshape(-1)))
    loss.backward()
    assert all(p.grad is not None for _, p in nm.named_parameters())


@pytest.mark.cuda
def test_transformer_and_sdpa_on_gpu_match_cpu():
    import copy
    ndgrad.manual_seed(0)
    cpu_model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True).double()
    gpu_model = copy.deepcopy(cpu_model).cuda()
    src, tgt, kpm = randn(2, 5, 8), randn(2, 4, 8), bool_mask(2, 5)
    outs = []
    for model, dev in ((cpu_model, "cpu"), (gpu_model, "cuda")):
        s = ndgrad.tensor(src, device=dev, requires_grad=True)
        t = ndgrad.tensor(tgt, device=dev)
        mask = nn.Transformer.generate_square_subsequent_mask(4, device=dev, dtype=ndgrad.float64)
        out = model(s, t, tgt_mask=mask, src_key_padding_mask=ndgrad.tensor(kpm, device=dev))
        sdpa = F.scaled_dot_product_attention(s, s, s, attn_mask=ndgrad.tensor(allow_mask(5, 5), device=dev),
                                              enable_gqa=True)
        (out.sum() + sdpa.sum()).backward()
        outs.append([to_np(x.detach().cpu()) for x in (out, sdpa, s.grad)])
    for c, g in zip(*outs):
        np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-8)

"""ONNX export: every covered module and op is exported, checked by onnx.checker, run in ONNX Runtime on the
example and on a second input with another batch size, and compared with ndgrad's own output."""
import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
import ndgrad.onnx
from ndgrad.onnx.tracer import _tensors_in

ATOL, RTOL = 1e-5, 1e-4   # float32 tolerance
ort.set_default_logger_severity(3)


def _random_like(spec, batch):
    """A fresh input from a spec: a float shape tuple, or ("int", high, shape) for indices."""
    if spec[0] == "int":
        _, high, shape = spec
        return ndgrad.tensor(np.random.randint(0, high, (batch,) + tuple(shape[1:])).astype(np.int64))
    return ndgrad.tensor(np.random.randn(batch, *spec[1:]).astype(np.float32))


def export_and_compare(model, specs, batch_axes=None, new_batch=None, opset=None):
    """Export ``model`` with a dynamic batch on each input, then compare ORT with ndgrad on two batch sizes."""
    if isinstance(model, nn.Module):
        model.eval()
    specs = [s if s[0] == "int" else tuple(s) for s in specs]
    batch_axes = batch_axes or [0] * len(specs)
    first = [_random_like(s, s[2][0] if s[0] == "int" else s[0]) for s in specs]
    names = [f"x{i}" for i in range(len(specs))]
    dynamic = {n: {a: "batch"} for n, a in zip(names, batch_axes) if a is not None}
    f = io.BytesIO()
    ndgrad.onnx.export(model, tuple(first), f, input_names=names, dynamic_axes=dynamic, opset_version=opset)
    proto = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    second = first
    if dynamic:
        size = new_batch or (first[0].shape[batch_axes[0]] + 3)
        second = []
        for s, t, a in zip(specs, first, batch_axes):
            if a is None:
                second.append(t)
                continue
            shape = list(s[2] if s[0] == "int" else s)
            shape[a] = size
            spec = ("int", s[1], tuple(shape)) if s[0] == "int" else tuple(shape)
            if a == 0:
                second.append(_random_like(spec, size))
            else:
                second.append(_random_like((shape[0],) + tuple(shape[1:]) if s[0] != "int" else
                                           ("int", s[1], tuple(shape)), shape[0]))
    for inputs in (first, second):
        feeds = {n: t.numpy().copy() for n, t in zip(names, inputs)}   # before forward (it may write in place)
        with ndgrad.no_grad():
            expected = [t.numpy() for t in _tensors_in(model(*inputs))]
        got = session.run(None, feeds)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, atol=ATOL, rtol=RTOL)
    return proto


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


# -- modules: (id, factory, input specs) ---------------------------------------------------------------
MODULES = [
    ("linear", lambda: nn.Linear(5, 3), [(2, 5)]),
    ("linear_3d", lambda: nn.Linear(5, 3), [(2, 4, 5)]),
    ("linear_nobias", lambda: nn.Linear(5, 3, bias=False), [(2, 5)]),
    ("mlp", lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 2)), [(2, 3, 4)]),
    ("conv1d", lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1), [(2, 2, 9)]),
    ("conv2d", lambda: nn.Conv2d(2, 4, 3, padding=1), [(2, 2, 6, 6)]),
    ("conv2d_groups_dilation", lambda: nn.Conv2d(4, 6, 3, groups=2, dilation=2, stride=(1, 2)), [(2, 4, 8, 9)]),
    ("conv2d_same", lambda: nn.Conv2d(2, 3, 4, padding="same"), [(2, 2, 7, 7)]),
    ("conv2d_reflect", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), [(2, 2, 5, 5)]),
    ("conv2d_circular", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), [(2, 2, 5, 5)]),
    ("conv2d_replicate", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"), [(2, 2, 5, 5)]),
    ("conv3d", lambda: nn.Conv3d(2, 3, 3, padding=1), [(2, 2, 4, 5, 5)]),
    ("conv_transpose1d", lambda: nn.ConvTranspose1d(2, 3, 3, stride=2), [(2, 2, 5)]),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), [(2, 2, 4, 4)]),
    ("conv_transpose2d_groups", lambda: nn.ConvTranspose2d(4, 6, 3, groups=2, dilation=2), [(2, 4, 4, 4)]),
    ("conv_transpose3d", lambda: nn.ConvTranspose3d(2, 3, 2, stride=2), [(2, 2, 3, 3, 3)]),
    ("batchnorm1d", lambda: _trained_bn(nn.BatchNorm1d(3)), [(4, 3)]),
    ("batchnorm2d", lambda: _trained_bn(nn.BatchNorm2d(3)), [(2, 3, 4, 4)]),
    ("batchnorm3d", lambda: _trained_bn(nn.BatchNorm3d(3)), [(2, 3, 2, 3, 3)]),
    ("layernorm", lambda: nn.LayerNorm(6), [(2, 3, 6)]),
    ("layernorm_2d_noaffine", lambda: nn.LayerNorm((3, 6), elementwise_affine=False), [(2, 3, 6)]),
    ("groupnorm", lambda: nn.GroupNorm(2, 4), [(2, 4, 3, 3)]),
    ("instancenorm1d", lambda: nn.InstanceNorm1d(3, affine=True), [(2, 3, 5)]),
    ("instancenorm2d", lambda: nn.InstanceNorm2d(3), [(2, 3, 4, 4)]),
    ("dropout", lambda: nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), [(3, 4)]),
    ("dropout2d", lambda: nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout2d(0.5)), [(2, 2, 3, 3)]),
    ("maxpool1d", lambda: nn.MaxPool1d(2), [(2, 3, 8)]),
    ("maxpool2d", lambda: nn.MaxPool2d(3, stride=2, padding=1), [(2, 3, 7, 7)]),
    ("maxpool2d_ceil_dilation", lambda: nn.MaxPool2d(2, ceil_mode=True, dilation=2), [(2, 1, 7, 7)]),
    ("maxpool3d", lambda: nn.MaxPool3d(2), [(2, 2, 4, 4, 4)]),
    ("avgpool1d", lambda: nn.AvgPool1d(3, stride=2), [(2, 3, 9)]),
    ("avgpool2d", lambda: nn.AvgPool2d(2), [(2, 3, 6, 6)]),
    ("avgpool2d_pad", lambda: nn.AvgPool2d(3, stride=2, padding=1), [(2, 3, 7, 7)]),
    ("avgpool2d_pad_exclude", lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), [(2, 3, 7, 7)]),
    ("avgpool3d", lambda: nn.AvgPool3d(2), [(2, 2, 4, 4, 4)]),
    ("adaptive_avgpool1d", lambda: nn.AdaptiveAvgPool1d(3), [(2, 3, 9)]),
    ("adaptive_avgpool2d_1", lambda: nn.AdaptiveAvgPool2d(1), [(2, 3, 5, 5)]),
    ("adaptive_avgpool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), [(2, 3, 5, 7)]),
    ("adaptive_avgpool3d", lambda: nn.AdaptiveAvgPool3d(2), [(2, 2, 4, 4, 4)]),
    ("adaptive_maxpool1d", lambda: nn.AdaptiveMaxPool1d(3), [(2, 3, 8)]),
    ("adaptive_maxpool2d", lambda: nn.AdaptiveMaxPool2d((2, 2)), [(2, 3, 5, 5)]),
    ("embedding", lambda: nn.Embedding(10, 4), [("int", 10, (2, 5))]),
    ("embedding_padding", lambda: nn.Embedding(10, 4, padding_idx=0), [("int", 10, (2, 5))]),
    ("flatten_unflatten", lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (4, 3))), [(2, 3, 4)]),
    ("upsample_nearest", lambda: nn.Upsample(scale_factor=2), [(2, 3, 3, 4)]),
    ("upsample_bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear"), [(2, 3, 3, 4)]),
    ("upsample_bilinear_corners", lambda: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
     [(2, 1, 3, 4)]),
    ("zeropad2d", lambda: nn.ZeroPad2d((1, 2, 0, 1)), [(2, 3, 4, 4)]),
    ("constantpad1d", lambda: nn.ConstantPad1d(2, 3.5), [(2, 3, 4)]),
    ("pixel_shuffle", lambda: nn.PixelShuffle(2), [(2, 8, 3, 3)]),
    ("pixel_unshuffle", lambda: nn.PixelUnshuffle(2), [(2, 2, 4, 6)]),
    ("reflection_pad2d", lambda: nn.ReflectionPad2d((1, 2, 2, 1)), [(2, 3, 4, 5)]),
    ("replication_pad1d", lambda: nn.ReplicationPad1d(2), [(2, 3, 4)]),
    ("constantpad3d", lambda: nn.ConstantPad3d(1, -1.0), [(2, 1, 2, 3, 3)]),
    ("instancenorm3d", lambda: nn.InstanceNorm3d(2, affine=True), [(2, 2, 3, 3, 3)]),
    ("upsample_linear", lambda: nn.Upsample(scale_factor=3, mode="linear"), [(2, 3, 4)]),
    ("upsample_bicubic", lambda: nn.Upsample(scale_factor=2, mode="bicubic"), [(2, 1, 3, 3)]),
    ("upsample_trilinear", lambda: nn.Upsample(scale_factor=2, mode="trilinear"), [(2, 1, 2, 2, 2)]),
    ("adaptive_maxpool3d", lambda: nn.AdaptiveMaxPool3d(2), [(2, 1, 4, 4, 4)]),
    ("lppool2d", lambda: nn.LPPool2d(2, 2), [(2, 1, 4, 4)]),
    ("rmsnorm", lambda: nn.RMSNorm(6), [(2, 3, 6)]),
    ("local_response_norm", lambda: nn.LocalResponseNorm(2), [(2, 4, 3, 3)]),
    ("bilinear", lambda: nn.Bilinear(3, 4, 5), [(2, 3), (2, 4)]),
    ("cosine_similarity", lambda: nn.CosineSimilarity(dim=1), [(2, 5), (2, 5)]),
    ("pairwise_distance", lambda: nn.PairwiseDistance(), [(2, 5), (2, 5)]),
    ("channel_shuffle", lambda: nn.ChannelShuffle(2), [(2, 4, 3, 3)]),
    ("lstm_cell", lambda: nn.LSTMCell(3, 4), [(2, 3)]),
    ("gru_cell", lambda: nn.GRUCell(3, 4), [(2, 3)]),
    ("rnn_cell", lambda: nn.RNNCell(3, 4), [(2, 3)]),
    ("identity", lambda: nn.Sequential(nn.Identity(), nn.Linear(3, 3)), [(2, 3)]),
    ("inplace_activations", lambda: nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU(inplace=True), nn.Conv2d(3, 3, 1),
                                                  nn.LeakyReLU(0.1, inplace=True), nn.Hardtanh(inplace=True)),
     [(2, 2, 3, 3)]),
]


def _trained_bn(bn):
    # running statistics that are not the defaults, so eval mode really uses them
    bn.running_mean.copy_(ndgrad.randn(*bn.running_mean.shape))
    bn.running_var.copy_(ndgrad.rand(*bn.running_var.shape) + 0.5)
    bn.weight.data.copy_(ndgrad.randn(*bn.weight.shape))
    bn.bias.data.copy_(ndgrad.randn(*bn.bias.shape))
    return bn


@pytest.mark.parametrize("name,factory,specs", MODULES, ids=[m[0] for m in MODULES])
def test_module_exports(name, factory, specs):
    export_and_compare(factory(), specs)


# -- every activation module -------------------------------------------------------------------------
ACTIVATIONS = [
    nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.SELU(), nn.CELU(0.5), nn.GELU(),
    nn.GELU(approximate="tanh"), nn.SiLU(), nn.Mish(), nn.Sigmoid(), nn.Tanh(), nn.Softplus(),
    nn.Softplus(beta=2.0, threshold=5.0), nn.Softsign(), nn.Hardtanh(-0.5, 0.7), nn.Hardsigmoid(),
    nn.Hardswish(), nn.Hardshrink(0.3), nn.Softshrink(0.3), nn.Tanhshrink(), nn.Threshold(0.1, -2.0),
    nn.LogSigmoid(), nn.Softmax(dim=-1), nn.Softmax(dim=1), nn.LogSoftmax(dim=-1), nn.Softmin(dim=-1),
    nn.GLU(), nn.Softmax2d(), nn.PReLU(), nn.PReLU(3),
]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=[repr(a) for a in ACTIVATIONS])
def test_activation_exports(act):
    export_and_compare(act, [(2, 3, 4, 6)])


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
def test_opsets(opset):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.GELU(), nn.LayerNorm(4), nn.Flatten(), nn.Linear(24, 2),
                          nn.LogSoftmax(-1))
    proto = export_and_compare(model, [(2, 2, 4, 6)], opset=opset)
    assert proto.opset_import[0].version == opset


# -- recurrent layers: the ONNX LSTM / GRU / RNN ops -----------------------------------------------------
RECURRENT = [
    ("lstm", lambda: nn.LSTM(3, 5), [(6, 2, 3)], [1]),
    ("lstm_2layer_bidir_batch_first", lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
     [(2, 6, 3)], [0]),
    ("gru", lambda: nn.GRU(3, 5, num_layers=2), [(6, 2, 3)], [1]),
    ("gru_bidir", lambda: nn.GRU(3, 4, bidirectional=True, batch_first=True), [(2, 5, 3)], [0]),
    ("rnn_tanh", lambda: nn.RNN(3, 4), [(5, 2, 3)], [1]),
    ("rnn_relu_nobias", lambda: nn.RNN(3, 4, nonlinearity="relu", bias=False, num_layers=2), [(5, 2, 3)], [1]),
]


@pytest.mark.parametrize("name,factory,specs,axes", RECURRENT, ids=[r[0] for r in RECURRENT])
def test_recurrent_exports(name, factory, specs, axes):
    proto = export_and_compare(factory(), specs, batch_axes=axes)
    assert {"LSTM", "GRU", "RNN"} & {n.op_type for n in proto.graph.node}


def test_recurrent_with_initial_state_and_any_length():
    lstm = nn.LSTM(3, 4, num_layers=2).eval()
    x, h0, c0 = ndgrad.randn(5, 2, 3), ndgrad.randn(2, 2, 4), ndgrad.randn(2, 2, 4)
    f = io.BytesIO()
    ndgrad.onnx.export(lstm, (x, (h0, c0)), f, input_names=["x", "h0", "c0"],
                       dynamic_axes={"x": {0: "time", 1: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}})
    session = ort.InferenceSession(f.getvalue())
    for t, b in ((5, 2), (9, 3)):
        x, h0, c0 = ndgrad.randn(t, b, 3), ndgrad.randn(2, b, 4), ndgrad.randn(2, b, 4)
        with ndgrad.no_grad():
            out, (h, c) = lstm(x, (h0, c0))
        got = session.run(None, {"x": x.numpy(), "h0": h0.numpy(), "c0": c0.numpy()})
        for g, e in zip(got, (out, h, c)):
            np.testing.assert_allclose(g, e.numpy(), atol=ATOL, rtol=RTOL)


# -- attention and transformers ------------------------------------------------------------------------
TRANSFORMERS = [
    ("mha_batch_first", lambda: Lambda(_mha(nn.MultiheadAttention(8, 2, batch_first=True))), [(2, 5, 8)], [0]),
    ("mha_seq_first", lambda: Lambda(_mha(nn.MultiheadAttention(8, 4))), [(5, 2, 8)], [1]),
    ("encoder_layer", lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), [(2, 5, 8)], [0]),
    ("encoder_layer_norm_first_gelu",
     lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=True, activation="gelu"),
     [(2, 5, 8)], [0]),
    ("encoder", lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, enable_nested_tensor=False),
     [(5, 2, 8)], [1]),
    ("decoder_layer", lambda: nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), [(2, 4, 8), (2, 6, 8)],
     [0, 0]),
    ("decoder", lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 2),
     [(2, 4, 8), (2, 6, 8)], [0, 0]),
    ("transformer", lambda: nn.Transformer(8, 2, 1, 1, 16, batch_first=True), [(2, 4, 8), (2, 3, 8)], [0, 0]),
]


def _mha(mha):
    mha.eval()
    lam = lambda x: mha(x, x, x)[0]  # noqa: E731
    lam.mha = mha
    return lam


@pytest.mark.parametrize("name,factory,specs,axes", TRANSFORMERS, ids=[t[0] for t in TRANSFORMERS])
def test_transformer_exports(name, factory, specs, axes):
    model = factory()
    if isinstance(model, Lambda):
        model.inner = model.fn.mha   # registered, so its weights are parameters of the exported model
    export_and_compare(model, specs, batch_axes=axes)


# -- tensor ops inside forward -----------------------------------------------------------------------------
OPS = [
    ("add_mul_sub_div", lambda x: (x + 1.5) * x - x / 3.0 + 2 ** x),
    ("pow_neg_rsub", lambda x: 1.0 - x ** 2 - (-x) ** 3),
    ("rdiv_abs", lambda x: 1.0 / (x.abs() + 1)),
    ("exp_log_sqrt", lambda x: x.exp() + (x.abs() + 0.1).log() + (x.abs()).sqrt()),
    ("math", lambda x: x.sin() + x.cos() + x.tanh() + x.sigmoid() + x.atan() + x.sinh() + x.floor() + x.ceil()),
    ("more_math", lambda x: x.exp2() + x.expm1() + (x.abs() + 1).log2() + (x.abs() + 1).log10()
     + x.abs().log1p() + (x.abs() + 1).rsqrt() + x.sign() + x.trunc() + x.round()),
    ("erf_special", lambda x: ndgrad.erf(x) + ndgrad.special.erf(x) + x.clamp(-0.5, 0.5).asin()),
    ("clamp", lambda x: x.clamp(-0.5, 0.3) + x.clamp(min=0.1) + x.clamp(max=-0.2)),
    ("max_min_elementwise", lambda x: ndgrad.maximum(x, x.flip(-1)) + ndgrad.minimum(x, 0.0 * x)),
    ("where_compare", lambda x: ndgrad.where(x > 0, x, x * 0.1) + (x <= 0.2).float() + (x == x).float()),
    ("logic", lambda x: ((x > 0) & (x < 1) | ~(x != 0.5)).float() + ndgrad.logical_xor(x > 0, x > 1).float()),
    ("masked_fill", lambda x: x.masked_fill(x < 0, -1.0)),
    ("view_shape", lambda x: x.view(x.size(0), -1)),
    ("reshape_shape", lambda x: x.reshape(x.shape[0], x.shape[1], -1).sum(-1)),
    ("flatten_permute_transpose", lambda x: x.flatten(1).unsqueeze(1).transpose(1, 2).permute(0, 2, 1)),
    ("squeeze_unsqueeze", lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze(-1).squeeze(0)),
    ("expand", lambda x: x[:, :1].expand(-1, 3, -1, -1) + x.mean(1, keepdim=True).expand_as(x)),
    ("cat_stack", lambda x: ndgrad.cat([x, x * 2], dim=1) + ndgrad.stack([x, x], 1).sum(1).repeat(1, 2, 1, 1)),
    ("split_chunk", lambda x: sum(x.split(2, dim=-1)) + sum(x.chunk(3, dim=-1))),
    ("slicing", lambda x: x[:, 1:, ::2, -1] + x[:, 1:, 0:6:2, 0] + x[..., 0, :].sum(-1)[:, 1:, None]),
    ("int_index", lambda x: x[:, 0] * x[:, -1]),
    ("none_index", lambda x: x[:, None, 0] + x[:, 1:2]),
    ("index_tensor", lambda x: x[:, ndgrad.tensor([2, 0, 1])] + x.index_select(1, ndgrad.tensor([0, 0, 1]))),
    ("narrow", lambda x: x.narrow(3, 1, 3)),
    ("bool_mask", lambda x: x[x > 0].sum() + x[:, :, ndgrad.tensor([True, False] * 3)].sum()
     + x[(x > 0).any(-1).any(-1)].sum(-1)),
    ("reductions", lambda x: x.sum() + x.mean((1, 2)).sum() + x.amax(-1).sum() + x.amin(1).sum()
     + x.max(dim=1).values.sum() + x.min(dim=-1)[0].sum() + x.prod(-1).sum()),
    ("var_std", lambda x: x.var(-1) + x.std(1, keepdim=True).sum(-1) + x.var((1, 2), correction=0).unsqueeze(1)),
    ("logsumexp_norm", lambda x: x.logsumexp(-1) + x.norm(dim=-1)),
    ("argmax", lambda x: x.argmax(-1) + x.argmin(-1, keepdim=True).squeeze(-1) + x.argmax()),
    ("cumsum", lambda x: x.cumsum(-1)),
    ("topk_sort_max_indices", lambda x: x.topk(2, dim=-1)[0] + x.topk(2, -1, largest=False).values
     + x.sort(-1, descending=True)[0][..., :2] + x.max(-1)[1].unsqueeze(-1) + ndgrad.min(x, 1, keepdim=True)[0]
     .sum(-1, keepdim=True) + x.max() + ndgrad.max(x, x.flip(-1))[..., :2]),
    ("matmul_bmm_einsum", lambda x: x @ x.transpose(-1, -2) + ndgrad.einsum("bcij,bckj->bcik", x, x)
     + ndgrad.bmm(x.flatten(0, 1), x.flatten(0, 1)).view(x.shape)),
    ("softmax_functional", lambda x: F.softmax(x, -1) + F.log_softmax(x, 1) + F.relu(x) + F.gelu(x)),
    ("normalize_fn", lambda x: F.normalize(x, dim=-1) + F.layer_norm(x, (6,))),
    ("tril_triu", lambda x: x.tril() + x.triu(1)),
    ("pad_fn", lambda x: F.pad(x, (1, 1, 2, 0))),
    ("type_casts", lambda x: (x * 10).long().float() / 10 + x.double().float() + (x > 0).int()),
    ("shape_arith", lambda x: x.view(x.size(0) * x.size(1), -1).view(x.shape[0], -1)),
    ("scaled_dot_product", lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True)),
    ("sdpa_mask", lambda x: F.scaled_dot_product_attention(x, x, x, attn_mask=ndgrad.ones(6, 6).tril() > 0)),
    ("interpolate", lambda x: F.interpolate(x, scale_factor=2, mode="nearest")),
    ("flip_roll_free", lambda x: x.flip(1) + x.flip((2, 3))),
    ("isnan_isinf", lambda x: ndgrad.where(ndgrad.isnan(x) | ndgrad.isinf(x), 0.0, x)),
    ("hypot_logaddexp", lambda x: ndgrad.hypot(x, x.flip(-1)) + ndgrad.logaddexp(x, 2 * x)
     + ndgrad.logaddexp2(x, -x)),
    ("gather", lambda x: x.gather(3, x.argsort(-1)[..., :2]) + x.gather(1, ndgrad.zeros(1, 1, 6, 1).long()
                                                                       .expand(x.shape[0], 1, 6, 1))),
    ("more_functions", lambda x: ndgrad.lerp(x, x * 2, 0.3) + ndgrad.square(x) + x.cumprod(-1) + x.movedim(1, -1)
     .swapaxes(1, 2).movedim(-1, 1) + ndgrad.addmm(x[0, 0], x[0, 0], x[0, 0].t())),
    ("inplace_ops", lambda x: _inplace_steps(x)),
    ("any_all_isfinite", lambda x: (x > 1).any(-1).float() + (x > -2).all(1, keepdim=True).sum(-1)
     + (x > 0).any().float()
     + ndgrad.isfinite(x).all(-1)),
    ("floor_divide_remainder", lambda x: x // 0.3 + x % 0.7 + ndgrad.fmod(x, 0.4) + ((x * 10).long() // 3)
     + (x * 10).long() % 4 + ndgrad.remainder(x, -0.6)),
]


def _inplace_steps(x):
    x.mul_(2)          # on the traced input itself
    y = x + 1
    y += 3
    return y.clamp_(min=0.5)


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_tensor_op_exports(name, fn):
    export_and_compare(Lambda(fn), [(2, 3, 6, 6)])


def test_two_inputs_float_and_int():
    export_and_compare(Lambda(lambda x, idx: x.sum(1) + idx.float().sum(-1, keepdim=True) + idx[:, :1]),
                       [(2, 3, 4), ("int", 5, (2, 3))])

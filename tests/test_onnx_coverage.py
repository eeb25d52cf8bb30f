"""ONNX export coverage: the nn modules and functional ops not covered in test_onnx.py (losses, Fold/Unfold,
atan2, advanced indexing, EmbeddingBag, the rest of the padding/dropout/pooling family), each exported with a
dynamic batch, checked by onnx.checker, run in ONNX Runtime on two batch sizes and compared with ndgrad."""
import io

import numpy as np
import onnxruntime as ort
import pytest

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
import ndgrad.onnx
from test_onnx import Lambda, export_and_compare

ort.set_default_logger_severity(3)


def _soft(t):
    return F.softmax(t, -1)                # a probability target (kl_div, bce)


def _sign(t):
    return (t > 0).float() * 2 - 1          # a +-1 target (margin losses)


# -- losses: (id, fn(input, target...), input specs) ---------------------------------------------------------
LOSSES = [
    ("cross_entropy", lambda x, t: F.cross_entropy(x, t), [(4, 5), ("int", 5, (4,))]),
    ("cross_entropy_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), [(4, 5), ("int", 5, (4,))]),
    ("cross_entropy_none", lambda x, t: F.cross_entropy(x, t, reduction="none"), [(4, 5), ("int", 5, (4,))]),
    ("cross_entropy_ignore_weight_smooth",
     lambda x, t: F.cross_entropy(x, t, weight=ndgrad.linspace(0.5, 2.0, 5), ignore_index=1, label_smoothing=0.1),
     [(6, 5), ("int", 5, (6,))]),
    ("cross_entropy_smooth_none", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2, reduction="none"),
     [(6, 5), ("int", 5, (6,))]),
    ("cross_entropy_4d", lambda x, t: F.cross_entropy(x.reshape(x.shape[0], 3, 2, 2), t.reshape(-1, 2, 2)),
     [(2, 12), ("int", 3, (2, 4))]),
    ("cross_entropy_probs", lambda x, p: F.cross_entropy(x, _soft(p)), [(4, 5), (4, 5)]),
    ("nll_loss", lambda x, t: F.nll_loss(F.log_softmax(x, -1), t), [(4, 5), ("int", 5, (4,))]),
    ("nll_loss_weight_ignore", lambda x, t: F.nll_loss(F.log_softmax(x, -1), t, weight=ndgrad.linspace(1, 2, 5),
                                                       ignore_index=0), [(6, 5), ("int", 5, (6,))]),
    ("nll_loss_none", lambda x, t: F.nll_loss(x, t, reduction="none"), [(4, 5), ("int", 5, (4,))]),
    ("mse_loss", lambda x, y: F.mse_loss(x, y), [(4, 5), (4, 5)]),
    ("mse_loss_sum_none", lambda x, y: F.mse_loss(x, y, reduction="sum") + F.mse_loss(x, y, reduction="none"),
     [(4, 5), (4, 5)]),
    ("l1_loss", lambda x, y: F.l1_loss(x, y) + F.l1_loss(x, y, reduction="sum"), [(4, 5), (4, 5)]),
    ("smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), [(4, 5), (4, 5)]),
    ("huber_loss", lambda x, y: F.huber_loss(x, y, delta=0.7), [(4, 5), (4, 5)]),
    ("bce", lambda x, y: F.binary_cross_entropy(x.sigmoid(), _soft(y)), [(4, 5), (4, 5)]),
    ("bce_weight_none", lambda x, y: F.binary_cross_entropy(x.sigmoid(), _soft(y), weight=ndgrad.linspace(1, 2, 5),
                                                            reduction="none"), [(4, 5), (4, 5)]),
    ("bce_with_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, _soft(y)), [(4, 5), (4, 5)]),
    ("bce_with_logits_pos_weight", lambda x, y: F.binary_cross_entropy_with_logits(
        x, _soft(y), pos_weight=ndgrad.linspace(1, 3, 5), reduction="sum"), [(4, 5), (4, 5)]),
    ("kl_div", lambda x, y: F.kl_div(F.log_softmax(x, -1), _soft(y), reduction="batchmean"), [(4, 5), (4, 5)]),
    ("kl_div_log_target", lambda x, y: F.kl_div(F.log_softmax(x, -1), F.log_softmax(y, -1), reduction="sum",
                                                log_target=True), [(4, 5), (4, 5)]),
    ("soft_margin", lambda x, y: F.soft_margin_loss(x, _sign(y)), [(4, 5), (4, 5)]),
    ("multilabel_soft_margin", lambda x, y: F.multilabel_soft_margin_loss(x, (y > 0).float()), [(4, 5), (4, 5)]),
    ("poisson_nll", lambda x, y: F.poisson_nll_loss(x, y.abs()), [(4, 5), (4, 5)]),
    ("gaussian_nll", lambda x, y: F.gaussian_nll_loss(x, y, x.abs() + 0.5), [(4, 5), (4, 5)]),
    ("hinge_embedding", lambda x, y: F.hinge_embedding_loss(x, _sign(y)), [(4, 5), (4, 5)]),
    ("margin_ranking", lambda x, y: F.margin_ranking_loss(x, y, _sign(x * y), margin=0.1), [(4, 5), (4, 5)]),
    ("cosine_embedding", lambda x, y: F.cosine_embedding_loss(x, y, _sign(x[:, 0])), [(4, 5), (4, 5)]),
    ("triplet_margin", lambda x, y: F.triplet_margin_loss(x, y, x.flip(-1)), [(4, 5), (4, 5)]),
    ("multi_margin", lambda x, t: F.multi_margin_loss(x, t), [(4, 5), ("int", 5, (4,))]),
    ("multi_margin_p2_weight", lambda x, t: F.multi_margin_loss(x, t, p=2, margin=0.5, weight=ndgrad.linspace(1, 2, 5),
                                                                reduction="none"), [(4, 5), ("int", 5, (4,))]),
    ("multilabel_margin", lambda x, t: F.multilabel_margin_loss(x, t), [(4, 5), ("int", 5, (4, 5))]),
    ("multilabel_margin_stops", lambda x, t: F.multilabel_margin_loss(x, t - (t > 2).long() * (t + 1),
                                                                      reduction="none"), [(4, 5), ("int", 5, (4, 5))]),
    ("poisson_nll_full", lambda x, y: F.poisson_nll_loss(x.abs() + 0.5, y.abs() + 1, log_input=False, full=True),
     [(4, 5), (4, 5)]),
    ("triplet_margin_swap_p1", lambda x, y: F.triplet_margin_loss(x, y, x.flip(-1), p=1, swap=True,
                                                                  reduction="sum"), [(4, 5), (4, 5)]),
    ("triplet_with_distance", lambda x, y: F.triplet_margin_with_distance_loss(x, y, x.flip(-1)), [(4, 5), (4, 5)]),
    ("linear_cross_entropy", lambda x, t: F.linear_cross_entropy(x, ndgrad.linspace(-1, 1, 15).reshape(3, 5), t),
     [(4, 5), ("int", 3, (4,))]),
]


@pytest.mark.parametrize("name,fn,specs", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_exports(name, fn, specs):
    export_and_compare(Lambda(fn), specs)


LOSS_MODULES = [
    ("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(label_smoothing=0.05), [(4, 5), ("int", 5, (4,))]),
    ("NLLLoss", lambda: nn.NLLLoss(reduction="sum"), [(4, 5), ("int", 5, (4,))]),
    ("MSELoss", lambda: nn.MSELoss(), [(4, 5), (4, 5)]),
    ("L1Loss", lambda: nn.L1Loss(), [(4, 5), (4, 5)]),
    ("SmoothL1Loss", lambda: nn.SmoothL1Loss(), [(4, 5), (4, 5)]),
    ("HuberLoss", lambda: nn.HuberLoss(), [(4, 5), (4, 5)]),
    ("BCEWithLogitsLoss", lambda: nn.BCEWithLogitsLoss(), [(4, 5), (4, 5)]),
    ("KLDivLoss", lambda: nn.KLDivLoss(reduction="batchmean", log_target=True), [(4, 5), (4, 5)]),
    ("MultiMarginLoss", lambda: nn.MultiMarginLoss(), [(4, 5), ("int", 5, (4,))]),
    ("SoftMarginLoss", lambda: nn.SoftMarginLoss(), [(4, 5), (4, 5)]),
    ("MultiLabelSoftMarginLoss", lambda: nn.MultiLabelSoftMarginLoss(), [(4, 5), (4, 5)]),
    ("PoissonNLLLoss", lambda: nn.PoissonNLLLoss(), [(4, 5), (4, 5)]),
    ("GaussianNLLLoss", lambda: Lambda(lambda x, y: nn.GaussianNLLLoss()(x, y, y.abs() + 0.1)), [(4, 5), (4, 5)]),
    ("TripletMarginLoss", lambda: Lambda(lambda x, y: nn.TripletMarginLoss()(x, y, -y)), [(4, 5), (4, 5)]),
    ("MarginRankingLoss", lambda: Lambda(lambda x, y: nn.MarginRankingLoss(0.2)(x, y, _sign(x - y))),
     [(4, 5), (4, 5)]),
    ("HingeEmbeddingLoss", lambda: Lambda(lambda x, y: nn.HingeEmbeddingLoss()(x, _sign(y))), [(4, 5), (4, 5)]),
    ("CosineEmbeddingLoss", lambda: Lambda(lambda x, y: nn.CosineEmbeddingLoss()(x, y, _sign(y[:, 0]))),
     [(4, 5), (4, 5)]),
    ("BCELoss", lambda: Lambda(lambda x, y: nn.BCELoss()(x.sigmoid(), y.sigmoid())), [(4, 5), (4, 5)]),
    ("TripletMarginWithDistanceLoss", lambda: Lambda(lambda x, y: nn.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: (a - b).abs().sum(-1), swap=True)(x, y, -y)), [(4, 5), (4, 5)]),
    ("LinearCrossEntropyLoss", lambda: nn.LinearCrossEntropyLoss(5, 3), [(4, 5), ("int", 3, (4,))]),
]


def test_deprecated_nll_loss2d_exports():
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        loss = nn.NLLLoss2d()
    export_and_compare(loss, [(2, 3, 2, 2), ("int", 3, (2, 2, 2))])


@pytest.mark.parametrize("name,factory,specs", LOSS_MODULES, ids=[c[0] for c in LOSS_MODULES])
def test_loss_module_exports(name, factory, specs):
    export_and_compare(factory(), specs)


# -- other modules ---------------------------------------------------------------------------------------
MODULES = [
    ("unfold", lambda: nn.Unfold(2), [(2, 3, 4, 5)]),
    ("unfold_stride_pad_dilation", lambda: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2), [(2, 2, 5, 6)]),
    ("fold", lambda: nn.Fold((4, 5), 2), [(2, 12, 12)]),
    ("fold_stride_pad", lambda: nn.Fold((5, 5), (2, 3), padding=1, stride=2), [(2, 6, 9)]),
    ("embedding_bag_mean", lambda: nn.EmbeddingBag(10, 4), [("int", 10, (3, 5))]),
    ("embedding_bag_sum_max", lambda: Lambda(_bags(nn.EmbeddingBag(10, 4, mode="sum"),
                                                   nn.EmbeddingBag(10, 4, mode="max"))), [("int", 10, (3, 5))]),
    ("embedding_bag_padding_mean", lambda: nn.EmbeddingBag(10, 4, padding_idx=2), [("int", 10, (3, 5))]),
    ("embedding_bag_padding_max", lambda: nn.EmbeddingBag(10, 4, mode="max", padding_idx=0), [("int", 3, (4, 2))]),
    ("embedding_bag_per_sample_weights", lambda: Lambda(_weighted_bag(nn.EmbeddingBag(10, 4, mode="sum"))),
     [("int", 10, (3, 5))]),
    ("circular_pad1d", lambda: nn.CircularPad1d((2, 1)), [(2, 3, 4)]),
    ("circular_pad3d", lambda: nn.CircularPad3d(1), [(2, 1, 2, 3, 3)]),
    ("circular_pad2d", lambda: nn.CircularPad2d((1, 2, 0, 1)), [(2, 3, 4, 4)]),
    ("replication_pad2d", lambda: nn.ReplicationPad2d(1), [(2, 3, 4, 4)]),
    ("replication_pad3d", lambda: nn.ReplicationPad3d(1), [(2, 1, 2, 3, 3)]),
    ("reflection_pad1d", lambda: nn.ReflectionPad1d(2), [(2, 3, 5)]),
    ("reflection_pad3d", lambda: nn.ReflectionPad3d(1), [(2, 1, 3, 3, 3)]),
    ("zero_pad1d", lambda: nn.ZeroPad1d((1, 2)), [(2, 3, 4)]),
    ("zero_pad3d", lambda: nn.ZeroPad3d(1), [(2, 1, 2, 2, 2)]),
    ("constant_pad2d", lambda: nn.ConstantPad2d((1, 0, 2, 1), 0.5), [(2, 3, 4, 4)]),
    ("lppool1d", lambda: nn.LPPool1d(2, 3, stride=2), [(2, 3, 7)]),
    ("lppool3d", lambda: nn.LPPool3d(1, 2), [(2, 1, 4, 4, 4)]),
    ("upsampling_nearest2d", lambda: nn.UpsamplingNearest2d(scale_factor=2), [(2, 1, 3, 3)]),
    ("upsampling_bilinear2d", lambda: nn.UpsamplingBilinear2d(scale_factor=2), [(2, 1, 3, 3)]),
    ("dropouts_eval", lambda: nn.Sequential(nn.AlphaDropout(0.2), nn.FeatureAlphaDropout(0.2), nn.Dropout1d(0.3)),
     [(2, 3, 4)]),
    ("dropout3d_eval", lambda: nn.Dropout3d(0.3), [(2, 3, 2, 2, 2)]),
    ("rrelu_eval", lambda: nn.RReLU(0.1, 0.3), [(2, 3, 4)]),
    ("cross_map_lrn2d", lambda: nn.CrossMapLRN2d(3), [(2, 4, 3, 3)]),
    ("sync_batchnorm_eval", lambda: nn.SyncBatchNorm(3), [(2, 3, 4, 4)]),
    ("max_unpool2d", lambda: Lambda(_unpool(nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2))),
     [(2, 3, 4, 6)]),
    ("data_parallel", lambda: nn.DataParallel(nn.Sequential(nn.Linear(4, 3), nn.ReLU())), [(2, 4)]),
    ("nondynamically_quantizable_linear", lambda: nn.NonDynamicallyQuantizableLinear(6, 3), [(2, 6)]),
    ("lppool1d_module_ceil", lambda: nn.LPPool1d(2, 2, ceil_mode=True), [(2, 3, 7)]),
    ("adaptive_log_softmax_log_prob", lambda: _log_prob(nn.AdaptiveLogSoftmaxWithLoss(16, 10, [4, 8])), [(3, 16)]),
    ("max_unpool1d", lambda: Lambda(_unpool(nn.MaxPool1d(2, return_indices=True), nn.MaxUnpool1d(2))), [(2, 3, 8)]),
]


def _log_prob(asm):
    model = Lambda(asm.log_prob)
    model.asm = asm
    return model


def _weighted_bag(bag):
    return lambda i: bag(i, per_sample_weights=i.float() / 10)


def _bags(*bags):
    return lambda i: sum(b(i) for b in bags)


def _unpool(pool, unpool):
    return lambda x: unpool(*pool(x))


@pytest.mark.parametrize("name,factory,specs", MODULES, ids=[c[0] for c in MODULES])
def test_module_exports(name, factory, specs):
    model = factory()
    export_and_compare(model, specs)


# -- functional and tensor ops ------------------------------------------------------------------------------
OPS = [
    ("atan2", lambda x: ndgrad.atan2(x, x.flip(-1)) + x.atan2(x * 0.5 - 0.3)),
    ("atan2_zero_signs", lambda x: ndgrad.atan2(x * 0, x) + ndgrad.atan2(x, x * 0)),
    ("adv_index_two", lambda x: x[ndgrad.tensor([0, 1, 1]), ndgrad.tensor([1, 2, 0])]),
    ("adv_index_after_slice", lambda x: x[:, ndgrad.tensor([0, 2]), ndgrad.tensor([5, 1])]),
    ("adv_index_broadcast", lambda x: x[:, ndgrad.tensor([[0], [2]]), ndgrad.tensor([1, 3, 4])]),
    ("adv_index_three", lambda x: x[:, ndgrad.tensor([0, 1]), ndgrad.tensor([2, 3]), ndgrad.tensor([-1, 0])]),
    ("adv_index_split", lambda x: x[:, ndgrad.tensor([0, 1]), :, ndgrad.tensor([2, 3])]),
    ("adv_index_from_data", lambda x: x[:, x[0, 0, 0].argsort()[:3] % 3, x[0, 0, 0].argsort()[:3]]),
    ("unfold_fn", lambda x: F.unfold(x, 3, padding=1)),
    ("tensor_unfold", lambda x: x.unfold(3, 3, 2).sum(-1).sum(-1, keepdim=True) + x.unfold(1, 2, 1).mean(-1)[:, :1]),
    ("fold_of_unfold", lambda x: F.fold(F.unfold(x, 2, stride=2), (6, 6), 2, stride=2)),
    ("grouped_mm_constant_offsets", lambda x: F.grouped_mm(x[0, 0, :, :4], ndgrad.linspace(-1, 1, 64).reshape(2, 4, 8),
                                                           offs=ndgrad.tensor([2, 6], dtype=ndgrad.int32))),
    ("one_hot", lambda x: F.one_hot(x.argmax(-1), 6).float() + x),
    ("pdist", lambda x: F.pdist(x[0, 0])),
    ("rms_norm_fn", lambda x: F.rms_norm(x, (6,))),
    ("grid_sample", lambda x: F.grid_sample(x, x[:, :2].permute(0, 2, 3, 1).tanh(), align_corners=False)),
    ("affine_grid", lambda x: F.affine_grid(x[:, 0, :2, :3], [x.shape[0], 3, 4, 5], align_corners=False)),
    ("grid_sample_modes", lambda x: F.grid_sample(x, x[:, 1:3].permute(0, 2, 3, 1).tanh(), mode="nearest",
                                                  padding_mode="border", align_corners=True)
     + F.grid_sample(x, x[:, :2].permute(0, 2, 3, 1) * 1.5, padding_mode="reflection", align_corners=False)),
    ("functional_norms", lambda x: F.batch_norm(x, ndgrad.linspace(0, 1, 3), ndgrad.linspace(1, 2, 3),
                                                ndgrad.linspace(-1, 1, 3), ndgrad.linspace(0, 1, 3))
     + F.group_norm(x, 3) + F.instance_norm(x) + F.local_response_norm(x, 2)),
    ("functional_layers", lambda x: F.linear(x, x[0, 0]) + F.bilinear(x, x, ndgrad.ones(6, 6, 6)) / 36
     + F.conv2d(x, ndgrad.ones(3, 3, 3, 3), padding=1) + F.conv_transpose2d(x, ndgrad.ones(3, 3, 1, 1))),
    ("functional_pools", lambda x: F.avg_pool2d(x, 2).repeat(1, 1, 2, 2) + F.lp_pool2d(x, 2, 2).repeat(1, 1, 2, 2)
     + F.adaptive_avg_pool2d(x, 3).repeat(1, 1, 2, 2) + F.adaptive_max_pool2d(x, 3).repeat(1, 1, 2, 2)),
    ("functional_activations", lambda x: F.glu(x) .repeat(1, 1, 1, 2) + F.prelu(x, ndgrad.tensor([0.1, 0.2, 0.3]))
     + F.rrelu(x) + F.threshold(x, 0.1, 2.0) + F.celu(x) + F.selu(x) + F.relu6(x) + F.hardtanh(x) + F.elu(x)
     + F.softmin(x, 1) + F.softsign(x) + F.tanhshrink(x) + F.mish(x) + F.silu(x) + F.hardswish(x)),
    ("functional_dropouts_eval", lambda x: F.dropout(x, 0.5, training=False) + F.alpha_dropout(x, 0.5)
     + F.dropout2d(x, 0.5, training=False) + F.feature_alpha_dropout(x, 0.5)),
    ("functional_shuffle_pixel", lambda x: F.channel_shuffle(x, 3) + F.native_channel_shuffle(x, 1)
     + F.pixel_unshuffle(F.pixel_shuffle(x.repeat(1, 4, 1, 1), 2), 2)[:, :3]),
    ("functional_embedding", lambda x: F.embedding(x.argmax(-1), ndgrad.linspace(0, 1, 12).reshape(6, 2)).sum(-1)),
    ("functional_upsample", lambda x: F.upsample(x, scale_factor=2)[..., ::2, ::2] + F.upsample_nearest(
        x, scale_factor=2)[..., ::2, ::2] + F.upsample_bilinear(x, size=(6, 6))),
    ("functional_distances", lambda x: F.cosine_similarity(x, x.flip(1)).unsqueeze(1)
     + F.pairwise_distance(x, x.flip(-1))[..., None]),
    ("functional_max_pool_with_indices", lambda x: F.max_pool2d_with_indices(x, 2, return_indices=True)[1].float()),
    ("multi_head_attention_forward", lambda x: _mha_forward(x.flatten(2).permute(2, 0, 1)[..., :3])),
    ("max_pool_with_indices", lambda x: F.max_pool2d(x, 2, return_indices=True)[1].float()),
    ("max_pool_with_indices_pad_ceil", lambda x: sum(t.float() for t in F.max_pool2d(
        x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True))),
    ("max_pool3d_unpool3d", lambda x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2)),
    ("max_pool1d_indices", lambda x: F.max_pool1d(x.flatten(2), 4, return_indices=True)[1].float()),
]


def _mha_forward(x):
    e = x.shape[-1]
    w = ndgrad.linspace(-0.5, 0.5, 3 * e * e).reshape(3 * e, e)
    return F.multi_head_attention_forward(x, x, x, e, 1, w, ndgrad.zeros(3 * e), None, None, False, 0.0,
                                          ndgrad.eye(e), ndgrad.zeros(e), training=False, need_weights=False)[0]


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_op_exports(name, fn):
    export_and_compare(Lambda(fn), [(2, 3, 6, 6)])


@pytest.mark.parametrize("mode,include_last", [("mean", False), ("sum", True), ("max", False)])
def test_embedding_bag_with_offsets_and_dynamic_length(mode, include_last):
    bag = nn.EmbeddingBag(10, 3, mode=mode, include_last_offset=include_last, padding_idx=4).eval()
    model = Lambda(lambda i, o: bag(i, o))
    model.bag = bag
    f = io.BytesIO()
    offsets = [0, 2, 2, 5] + ([7] if include_last else [])   # an empty bag too
    ndgrad.onnx.export(model, (ndgrad.randint(0, 10, (7,)), ndgrad.tensor(offsets)), f, input_names=["i", "o"],
                       dynamic_axes={"i": {0: "n"}})
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for n, offsets in ((7, offsets), (11, [0, 4, 9, 9] + ([10] if include_last else []))):
        i, o = ndgrad.randint(0, 10, (n,)), ndgrad.tensor(offsets)
        i[0] = 4   # a padding index
        with ndgrad.no_grad():
            expected = model(i, o).numpy()
        got = session.run(None, {"i": i.numpy(), "o": o.numpy()})[0]
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["cross_entropy_ignore_weight_smooth", "kl_div", "multilabel_margin_stops",
                                  "nll_loss_weight_ignore"])
def test_losses_at_opset_13(name):
    _, fn, specs = next(c for c in LOSSES if c[0] == name)
    export_and_compare(Lambda(fn), specs, opset=13)


def test_embedding_bag_and_unpool_at_opset_13():
    export_and_compare(nn.EmbeddingBag(10, 4, mode="max"), [("int", 10, (3, 5))], opset=13)
    export_and_compare(Lambda(_unpool(nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2))), [(2, 3, 4, 6)],
                       opset=13)


def test_errors_name_the_op_and_the_fix():
    mixed = Lambda(lambda x: x[:, ndgrad.tensor([True, False, True]), ndgrad.tensor([0, 1])])
    with pytest.raises(ndgrad.onnx.UnsupportedOperatorError, match=r"boolean masks mixed with other index tensors"):
        ndgrad.onnx.export(mixed, ndgrad.randn(2, 3, 4), io.BytesIO())
    ctc = Lambda(lambda x: F.ctc_loss(x.log_softmax(-1), ndgrad.tensor([[1, 2]]), ndgrad.tensor([5]),
                                      ndgrad.tensor([2])))
    with pytest.raises(ndgrad.onnx.UnsupportedOperatorError, match=r"CTCNegLogLikelihood .*opset 18"):
        ndgrad.onnx.export(ctc, ndgrad.randn(5, 1, 4), io.BytesIO())
    grid = Lambda(lambda x: F.grid_sample(x, x[:, :2].permute(0, 2, 3, 1), align_corners=False))
    with pytest.raises(ndgrad.onnx.UnsupportedOperatorError, match=r"grid_sample .*opset 16 or newer"):
        ndgrad.onnx.export(grid, ndgrad.randn(1, 2, 3, 3), io.BytesIO(), opset_version=15)
    adaptive = Lambda(lambda x: nn.AdaptiveMaxPool2d(2, return_indices=True)(x)[1])
    with pytest.raises(ndgrad.onnx.UnsupportedOperatorError, match=r"adaptive_max_pool2d with return_indices"):
        ndgrad.onnx.export(adaptive, ndgrad.randn(2, 3, 4, 4), io.BytesIO())
    adaptive = Lambda(lambda x: F.adaptive_max_pool1d_with_indices(x, 2)[1])
    with pytest.raises(ndgrad.onnx.UnsupportedOperatorError, match=r"adaptive_max_pool1d with return_indices"):
        ndgrad.onnx.export(adaptive, ndgrad.randn(2, 3, 4), io.BytesIO())
    bag = nn.EmbeddingBag(10, 3, max_norm=1.0)
    with pytest.raises(ndgrad.onnx.UnsupportedOperatorError, match=r"max_norm"):
        ndgrad.onnx.export(bag, ndgrad.randint(0, 10, (2, 4)), io.BytesIO())


def test_losses_are_recorded_whole_and_leave_no_patch():
    graph = ndgrad.trace(lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), ndgrad.randn(3, 4),
                         ndgrad.randint(0, 4, (3,)))
    assert graph.op_names() == ["cross_entropy"]
    assert "label_smoothing=0.1" in str(graph)
    assert not hasattr(F.cross_entropy, "__wrapped__") and not hasattr(F.embedding_bag, "__wrapped__")
    for name in ("cross_entropy", "nll_loss", "kl_div", "one_hot", "embedding_bag", "max_unpool2d", "grid_sample",
                 "max_pool2d", "Atan2", "Unfold", "Fold", "_BinaryCrossEntropy"):
        assert name in ndgrad.onnx.supported_ops()


def test_mean_losses_with_two_dynamic_axes():
    # the element count of a mean is N * T: computed from the shape, not as a linear rule in each size
    model = Lambda(lambda x, y: F.mse_loss(x, y) + F.l1_loss(x, y) + x.mean() + F.smooth_l1_loss(x, y)
                   + F.cross_entropy(x.transpose(1, 2), y.argmax(-1)))
    x, y = ndgrad.randn(2, 3, 4), ndgrad.randn(2, 3, 4)
    f = io.BytesIO()
    axes = {0: "batch", 1: "time"}
    ndgrad.onnx.export(model, (x, y), f, input_names=["x", "y"], dynamic_axes={"x": axes, "y": axes})
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for b, t in ((2, 3), (5, 7), (1, 1)):
        x, y = ndgrad.randn(b, t, 4), ndgrad.randn(b, t, 4)
        with ndgrad.no_grad():
            expected = model(x, y).numpy()
        got = session.run(None, {"x": x.numpy(), "y": y.numpy()})[0]
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name,fn", [
    ("view_product", lambda x: x.view(x.size(0) * x.size(1), -1).view(x.shape[0], x.shape[1], 4)),
    ("reshape_product_explicit", lambda x: x.reshape(x.size(0) * x.size(1), 4).sum(-1)),
    ("zeros_of_product", lambda x: ndgrad.zeros(x.size(0) * x.size(1) * 8) + x.flatten().repeat(2)),
])
def test_sizes_that_are_products_of_two_dynamic_axes(name, fn):
    model = Lambda(fn)
    f = io.BytesIO()
    axes = {0: "batch", 1: "time"}
    ndgrad.onnx.export(model, ndgrad.randn(2, 3, 4), f, input_names=["x"], dynamic_axes={"x": axes})
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for b, t in ((2, 3), (5, 7), (1, 4)):
        x = ndgrad.randn(b, t, 4)
        with ndgrad.no_grad():
            expected = model(x).numpy()
        np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], expected, atol=1e-5, rtol=1e-4)


def test_size_mixing_two_dynamic_axes_otherwise_is_refused():
    model = Lambda(lambda x: ndgrad.zeros(x.size(0) * x.size(1) + x.size(0)) + x.sum())
    with pytest.raises(RuntimeError, match=r"several dynamic sizes in a way other than a sum or a product"):
        ndgrad.onnx.export(model, ndgrad.randn(2, 3, 4), io.BytesIO(), input_names=["x"],
                           dynamic_axes={"x": {0: "batch", 1: "time"}})

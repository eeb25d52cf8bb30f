"""ndgrad.nn.functional against torch.nn.functional: forward values, input and weight gradients,
gradcheck of each backward rule, second derivatives, and error messages."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as NF
from ndgrad.autograd import gradcheck, gradgradcheck
from oracle import check_error, check_higher_order, check_op


def fcheck(name, inputs, **kwargs):
    """check_op for F.<name>(*inputs, **kwargs) in both libraries (float64, gradients of every float input)."""
    extra = kwargs.pop("_check", {})
    return check_op(inputs, lambda *a: getattr(TF, name)(*a, **kwargs),
                    lambda *a: getattr(NF, name)(*a, **kwargs), **extra)


def fhigher(name, inputs, **kwargs):
    """Second derivatives (grad of grad) against torch."""
    check_higher_order(inputs, lambda *a: getattr(TF, name)(*a, **kwargs),
                       lambda *a: getattr(NF, name)(*a, **kwargs), order=2)


def leaf(*shape, low=-1.0, high=1.0):
    return ndgrad.from_numpy(np.random.uniform(low, high, size=shape)).requires_grad_(True)


def labels(shape, classes, ignore=None):
    t = np.random.randint(0, classes, size=shape).astype(np.int64)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


# ---------------------------------------------------------------------------------------------
# linear, convolution
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [
    [(5, 4), (3, 4), (3,)], [(4,), (3, 4)], [(2, 3, 4), (6, 4), (6,)], [(1, 4), (2, 4)],
])
def test_linear(shapes):
    fcheck("linear", shapes)


CONV2D_CASES = [
    dict(x=(2, 3, 7, 6), w=(4, 3, 3, 3)),
    dict(x=(1, 3, 7, 6), w=(4, 3, 3, 2), stride=2, padding=1),
    dict(x=(2, 2, 9, 8), w=(3, 2, 3, 3), stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
    dict(x=(2, 4, 6, 6), w=(6, 2, 3, 3), groups=2, padding=1),
    dict(x=(2, 4, 6, 6), w=(4, 1, 3, 3), groups=4, bias=False),
    dict(x=(2, 3, 6, 7), w=(2, 3, 3, 4), padding="same", dilation=2),
    dict(x=(2, 3, 6, 7), w=(2, 3, 2, 2), padding="same"),
    dict(x=(2, 3, 5, 5), w=(2, 3, 5, 5), padding="valid"),
    dict(x=(3, 5, 5), w=(2, 3, 3, 3), stride=2),                       # unbatched
    dict(x=(2, 3, 8, 8), w=(5, 3, 1, 1)),
]


@pytest.mark.parametrize("case", CONV2D_CASES, ids=lambda c: str(sorted(c.items())))
def test_conv2d(case):
    case = dict(case)
    x, w = case.pop("x"), case.pop("w")
    shapes = [x, w] + ([] if case.pop("bias", True) is False else [(w[0],)])
    fcheck("conv2d", shapes, **case)


@pytest.mark.parametrize("x,w,kw", [
    ((2, 3, 10), (4, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 9), (4, 2, 2), dict(groups=2, dilation=3, padding="same")),
    ((5, 7), (2, 5, 3), {}),
])
def test_conv1d(x, w, kw):
    fcheck("conv1d", [x, w, (w[0],)], **kw)


@pytest.mark.parametrize("x,w,kw", [
    ((1, 2, 5, 4, 5), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
    ((2, 2, 4, 4, 4), (2, 1, 3, 3, 3), dict(groups=2, padding="same")),
])
def test_conv3d(x, w, kw):
    fcheck("conv3d", [x, w, (w[0],)], **kw)


@pytest.mark.parametrize("x,w,kw", [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((1, 3, 4, 4), (3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 3, 3), (4, 3, 3, 3), dict(stride=(2, 3), groups=2, dilation=2, output_padding=(1, 0))),
    ((4, 3, 3), (4, 2, 2, 2), dict(stride=2)),
])
def test_conv_transpose2d(x, w, kw):
    fcheck("conv_transpose2d", [x, w, (w[1] * kw.get("groups", 1),)], **kw)


def test_conv_transpose3d():
    fcheck("conv_transpose3d", [(1, 2, 3, 2, 3), (2, 2, 2, 3, 2), (2,)], stride=(2, 1, 2), padding=(0, 1, 1))


def test_conv_transpose1d():
    fcheck("conv_transpose1d", [(2, 3, 6), (3, 2, 3), (2,)], stride=2, padding=1)


@pytest.mark.parametrize("op,shapes,kw", [
    ("conv2d", [(2, 3, 9, 7), (4, 3, 3, 2), (4,)], dict(stride=(2, 1), padding=1, dilation=(1, 2))),
    ("conv1d", [(2, 3, 11), (4, 3, 3), (4,)], dict(stride=2, padding=2)),
    ("conv3d", [(1, 2, 5, 4, 3), (3, 2, 2, 3, 2), (3,)], dict(padding=1)),
    ("conv_transpose2d", [(2, 3, 4, 5), (3, 2, 3, 3), (2,)], dict(stride=2, padding=1, output_padding=1)),
])
def test_conv_input_gradient_built_slab_by_slab(monkeypatch, op, shapes, kw):
    """The input gradient's columns are built a few output rows at a time (to bound memory): with tiny
    slabs (one row, or several that do not divide the rows) the sums still match torch's."""
    import ndgrad.ops.nn as nn_ops
    for elements in (1, 3 * 9 * 4):
        monkeypatch.setattr(nn_ops, "_SLAB_ELEMENTS", elements)
        fcheck(op, shapes, **kw)


@pytest.mark.parametrize("op,shapes,kw", [
    ("conv2d", [(2, 3, 9, 7), (4, 3, 3, 2), (4,)], dict(stride=(2, 1), padding=1, dilation=(2, 2))),
    ("conv1d", [(2, 3, 11), (4, 3, 3), (4,)], dict(stride=3, padding=2)),
    ("conv3d", [(1, 2, 5, 4, 3), (3, 2, 2, 3, 2), (3,)], dict(padding=1, stride=(2, 1, 1))),
])
@pytest.mark.parametrize("elements", [1, 3 * 9 * 4, 2 ** 21])
def test_conv_inference_built_slab_by_slab(monkeypatch, op, shapes, kw, elements):
    """Without a graph, a convolution builds its columns a slab of output rows at a time: any slab size
    gives torch's output."""
    import ndgrad.ops.nn as nn_ops
    monkeypatch.setattr(nn_ops, "_SLAB_ELEMENTS", elements)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    expected = getattr(TF, op)(*(torch.tensor(a) for a in arrays), **kw).numpy()
    with ndgrad.no_grad():
        got = getattr(NF, op)(*(ndgrad.tensor(a) for a in arrays), **kw)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_conv2d_float32_matches_torch():
    fcheck("conv2d", [(4, 3, 9, 9), (8, 3, 3, 3), (8,)], padding=1, _check=dict(dtype="float32"))


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), padding=(1, 1)),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=1),
])
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (1, 1, 6, 6), (3, 6, 5)])
def test_max_pool2d(kw, shape):
    fcheck("max_pool2d", [shape], **kw)


def test_max_pool2d_ties_route_gradient_to_first_max():
    # relu output has many tied zeros: PyTorch sends each window's gradient to its first maximum only
    x = np.maximum(np.random.randn(2, 3, 6, 6), 0)
    x[0, 0, :2, :2] = 0.0
    check_op([x], lambda a: TF.max_pool2d(a, 2), lambda a: NF.max_pool2d(a, 2))
    check_op([x], lambda a: TF.max_pool2d(a, 3, 1), lambda a: NF.max_pool2d(a, 3, 1))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_max_pool2d_return_indices(kw):
    (n_out, n_idx), (t_out, t_idx) = fcheck("max_pool2d", [(2, 3, 7, 7)], return_indices=True, **kw,
                                            _check=dict(grad=False))
    np.testing.assert_array_equal(n_idx.numpy(), t_idx.numpy())


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 8), dict(kernel_size=2, dilation=2)),
])
def test_max_pool1d(shape, kw):
    fcheck("max_pool1d", [shape], **kw)


def test_max_pool3d():
    fcheck("max_pool3d", [(1, 2, 5, 6, 4)], kernel_size=(2, 3, 2), stride=(2, 2, 1), padding=(1, 1, 0))
    fcheck("max_pool3d", [(2, 2, 4, 4, 4)], kernel_size=2)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=1, divisor_override=5),
])
def test_avg_pool2d(kw):
    fcheck("avg_pool2d", [(2, 3, 7, 8)], **kw)


def test_avg_pool1d():
    fcheck("avg_pool1d", [(2, 3, 9)], kernel_size=3, stride=2, padding=1, count_include_pad=False)


@pytest.mark.parametrize("shape,out", [((2, 3, 8, 6), (4, 3)), ((2, 3, 7, 5), (3, 2)), ((1, 2, 5, 5), 1),
                                       ((2, 3, 6, 7), (None, 3)), ((3, 7, 9), (4, 4))])
def test_adaptive_avg_pool2d(shape, out):
    fcheck("adaptive_avg_pool2d", [shape], output_size=out)


def test_adaptive_avg_pool1d():
    fcheck("adaptive_avg_pool1d", [(2, 3, 10)], output_size=4)


# ---------------------------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 4, 5), (2, 2, 3, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_updates_running_stats(shape, affine):
    c = shape[1]
    rm0, rv0 = np.random.randn(c), np.random.uniform(0.5, 2, c)
    stats = {}

    def run(F, lib):
        def f(x, *params):
            rm, rv = lib.from_numpy(rm0.copy()), lib.from_numpy(rv0.copy())
            stats[lib.__name__] = (rm, rv)
            return F.batch_norm(x, rm, rv, *params, training=True, momentum=0.3, eps=1e-4)
        return f

    params = [(c,), (c,)] if affine else []
    check_op([shape] + params, run(TF, torch), run(NF, ndgrad))
    for n, t in zip(stats["ndgrad"], stats["torch"]):
        np.testing.assert_allclose(n.numpy(), t.numpy(), atol=1e-12)


def test_batch_norm_eval_uses_running_stats():
    rm, rv = np.random.randn(3), np.random.uniform(0.5, 2, 3)
    check_op([(4, 3, 5), (3,), (3,)],
             lambda x, w, b: TF.batch_norm(x, torch.from_numpy(rm), torch.from_numpy(rv), w, b, training=False),
             lambda x, w, b: NF.batch_norm(x, ndgrad.from_numpy(rm), ndgrad.from_numpy(rv), w, b, training=False))


@pytest.mark.parametrize("shape,ns", [((4, 6), (6,)), ((2, 3, 4), (3, 4)), ((2, 5), 5), ((1, 1, 7), (7,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, ns, affine):
    ns_t = (ns,) if isinstance(ns, int) else ns
    check_op([shape] + ([ns_t, ns_t] if affine else []), lambda x, *p: TF.layer_norm(x, ns_t, *p, eps=1e-3),
             lambda x, *p: NF.layer_norm(x, ns, *p, eps=1e-3))


@pytest.mark.parametrize("shape,groups", [((2, 6, 4), 3), ((2, 4, 3, 3), 2), ((3, 4, 5), 1), ((2, 4, 2, 2), 4)])
def test_group_norm(shape, groups):
    c = shape[1]
    check_op([shape, (c,), (c,)], lambda x, w, b: TF.group_norm(x, groups, w, b),
             lambda x, w, b: NF.group_norm(x, groups, w, b))
    check_op([shape], lambda x: TF.group_norm(x, groups), lambda x: NF.group_norm(x, groups))


# ---------------------------------------------------------------------------------------------
# softmax, cross-entropy, nll
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1), ((6,), 0), ((2, 3, 4), 1)])
def test_softmax_family(name, shape, dim):
    fcheck(name, [shape], dim=dim, _check=dict(low=-5, high=5))


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    fcheck("softmax", [x], dim=1)
    fcheck("log_softmax", [x], dim=1)


def test_softmax_method_and_dtype():
    x = ndgrad.from_numpy(np.random.randn(3, 4).astype(np.float32))
    np.testing.assert_allclose(x.softmax(-1).numpy(), torch.from_numpy(x.numpy()).softmax(-1).numpy(), atol=1e-6)
    assert NF.log_softmax(x, 1, dtype=ndgrad.float64).dtype == ndgrad.float64


CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=True),
    dict(ignore_index=1),
    dict(label_smoothing=0.2),
    dict(weight=True, label_smoothing=0.1, ignore_index=0),
    dict(weight=True, reduction="sum", label_smoothing=0.3),
    dict(weight=True, ignore_index=2, reduction="none", label_smoothing=0.2),
]


@pytest.mark.parametrize("kw", CE_CASES, ids=str)
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3), (1, 3)])
def test_cross_entropy_class_indices(kw, shape):
    kw = dict(kw)
    c = shape[1]
    target = labels((shape[0],) + shape[2:], c)
    target.reshape(-1)[0] = kw.get("ignore_index", 0) if "ignore_index" in kw else target.reshape(-1)[0]
    inputs = [shape, target]
    if kw.pop("weight", False):   # class weights are constants (torch cannot differentiate them)
        w = np.random.uniform(0.2, 2, c)
        check_op(inputs, lambda x, t: TF.cross_entropy(x, t, weight=torch.from_numpy(w), **kw),
                 lambda x, t: NF.cross_entropy(x, t, weight=ndgrad.from_numpy(w), **kw), low=-4, high=4)
    else:
        fcheck("cross_entropy", inputs, **kw, _check=dict(low=-4, high=4))


def test_cross_entropy_unbatched_and_probabilities():
    fcheck("cross_entropy", [(5,), np.array(3)])
    fcheck("cross_entropy", [(5,), np.array(3)], reduction="none")
    for kw in (dict(), dict(label_smoothing=0.25), dict(reduction="none"), dict(reduction="sum")):
        p = np.random.dirichlet(np.ones(4), size=6)
        fcheck("cross_entropy", [(6, 4), p], **kw)
    p = np.random.dirichlet(np.ones(3), size=(2, 5)).transpose(0, 2, 1).copy()
    w = np.random.uniform(0.5, 2, 3)
    check_op([(2, 3, 5), p, w], lambda x, t, w: TF.cross_entropy(x, t, weight=w),
             lambda x, t, w: NF.cross_entropy(x, t, weight=w))


def test_cross_entropy_all_ignored_is_nan_like_torch():
    fcheck("cross_entropy", [(3, 4), np.full(3, -100, dtype=np.int64)])


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"), dict(ignore_index=0)])
def test_nll_loss(kw):
    t = labels((5,), 4)
    fcheck("nll_loss", [(5, 4), t], **kw)
    w = np.random.uniform(0.5, 2, 4)
    check_op([(2, 4, 3), labels((2, 3), 4)], lambda x, t: TF.nll_loss(x, t, torch.from_numpy(w), **kw),
             lambda x, t: NF.nll_loss(x, t, ndgrad.from_numpy(w), **kw))


def test_cross_entropy_float32():
    fcheck("cross_entropy", [(8, 10), labels((8,), 10)], _check=dict(dtype="float32"))


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------
ACTIVATIONS = [
    ("relu", {}), ("sigmoid", {}), ("tanh", {}), ("leaky_relu", {}), ("leaky_relu", dict(negative_slope=0.2)),
    ("gelu", {}), ("gelu", dict(approximate="tanh")), ("silu", {}), ("softplus", {}),
    ("softplus", dict(beta=2.0, threshold=3.0)), ("elu", {}), ("elu", dict(alpha=0.5)), ("hardtanh", {}),
    ("hardtanh", dict(min_val=-0.5, max_val=2.0)), ("relu6", {}), ("softsign", {}), ("logsigmoid", {}),
    ("mish", {}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=lambda v: str(v))
def test_activation(name, kw):
    fcheck(name, [(4, 7)], **kw, _check=dict(low=-8, high=8))


@pytest.mark.parametrize("name,kw", [a for a in ACTIVATIONS if a[0] not in ("relu", "leaky_relu", "hardtanh", "relu6")],
                         ids=lambda v: str(v))
def test_activation_second_derivative(name, kw):
    fhigher(name, [(3, 5)], **kw)


@pytest.mark.parametrize("name", ["gelu", "silu", "softplus", "logsigmoid", "mish", "elu"])
def test_activation_extremes_are_finite(name):
    x = np.array([-800.0, -40.0, -1e-9, 0.0, 1e-9, 40.0, 800.0])
    fcheck(name, [x])


def test_activation_float32_keeps_dtype():
    for name, kw in ACTIVATIONS:
        fcheck(name, [(3, 4)], **kw, _check=dict(dtype="float32"))


# ---------------------------------------------------------------------------------------------
# composite functions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 1, 0, 2), (1, 1, 2, 0, 1, 1)])
def test_pad(mode, pad):
    shape = {2: (2, 3, 5), 4: (2, 3, 4, 5), 6: (1, 2, 3, 4, 5)}[len(pad)]
    if mode == "constant":
        fcheck("pad", [shape], pad=pad, mode=mode, value=0.5)
    else:
        fcheck("pad", [shape], pad=pad, mode=mode)


def test_one_hot():
    t = np.random.randint(0, 5, size=(3, 4)).astype(np.int64)
    for nc in (-1, 7):
        n = NF.one_hot(ndgrad.from_numpy(t), nc)
        w = TF.one_hot(torch.from_numpy(t), nc)
        assert n.dtype == ndgrad.int64
        np.testing.assert_array_equal(n.numpy(), w.numpy())


def test_dropout():
    x = leaf(200, 50)
    y = NF.dropout(x, 0.3, training=True)
    kept = y.detach().numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7)
    assert NF.dropout(x, 0.3, training=False) is x
    ndgrad.manual_seed(3)
    a = NF.dropout(x, 0.5).detach().numpy()
    ndgrad.manual_seed(3)
    np.testing.assert_array_equal(a, NF.dropout(x, 0.5).detach().numpy())


@pytest.mark.parametrize("kw", [dict(), dict(is_causal=True), dict(scale=0.3), dict(mask="bool"),
                                dict(mask="float")], ids=str)
def test_scaled_dot_product_attention(kw):
    kw = dict(kw)
    mask = kw.pop("mask", None)
    inputs = [(2, 3, 4, 6), (2, 3, 5, 6), (2, 3, 5, 7)]
    if kw.get("is_causal"):
        inputs[1], inputs[2] = (2, 3, 4, 6), (2, 3, 4, 7)
    if mask == "bool":
        m = np.random.rand(4, 5) > 0.3
        m[:, 0] = True
        inputs.append(m)
    elif mask == "float":
        inputs.append((4, 5))
    if mask:
        check_op(inputs, lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw),
                 lambda q, k, v, m: NF.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw))
    else:
        fcheck("scaled_dot_product_attention", inputs, **kw)


def _sdpa_pair(q, k, v, mask=None, **kw):
    """torch's and ndgrad's SDPA output and input gradients on the same float64 arrays."""
    results = []
    for lib, F in ((torch, TF), (ndgrad, NF)):
        leaves = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        m = None if mask is None else lib.tensor(mask)
        out = F.scaled_dot_product_attention(*leaves, attn_mask=m, **kw)
        (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)))).sum().backward()
        results.append([np.asarray(out.detach().numpy())] + [t.grad.numpy() for t in leaves])
    return results


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool_dead_rows", "float_no_grad", "float_dead_rows"])
def test_scaled_dot_product_attention_one_node_matches_torch(mask_kind):
    """The fused one-node path (no dropout, same leading dims, a mask without gradient): values and
    gradients as torch's, including rows the mask blocks entirely (weights 0, not NaN)."""
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2))
    kw, mask = {}, None
    if mask_kind == "causal":
        k, v, kw = k[:, :, :4], v[:, :, :4], dict(is_causal=True)
    elif mask_kind == "bool_dead_rows":
        mask = rng.random((4, 6)) > 0.4
        mask[1] = False
    elif mask_kind == "float_no_grad":
        mask = rng.standard_normal((3, 4, 6))
    elif mask_kind == "float_dead_rows":
        mask = np.where(rng.random((4, 6)) > 0.4, 0.0, -np.inf)
        mask[2] = -np.inf
    theirs, ours = _sdpa_pair(q, k, v, mask, **kw)
    for name, t, n in zip(("output", "grad q", "grad k", "grad v"), theirs, ours):
        np.testing.assert_allclose(n, t, rtol=1e-10, atol=1e-12, err_msg=name)
    q_leaf = ndgrad.tensor(q, requires_grad=True)
    assert type(NF.scaled_dot_product_attention(q_leaf, ndgrad.tensor(k), ndgrad.tensor(v), **kw).grad_fn
                ).__name__ == "ScaledDotProductAttention"


def test_scaled_dot_product_attention_one_node_float32_and_second_order():
    rng = np.random.default_rng(1)
    shapes = [(2, 4, 3), (2, 5, 3), (2, 5, 4)]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    theirs, ours = _sdpa_pair(*arrays)
    for t, n in zip(theirs, ours):
        assert n.dtype == np.float32
        np.testing.assert_allclose(n, t, rtol=1e-5, atol=1e-6)
    mask = ndgrad.tensor(rng.random((5, 5)) > 0.3)
    leaves = [ndgrad.tensor(rng.standard_normal(s), requires_grad=True) for s in [(1, 5, 3), (1, 5, 3), (1, 5, 2)]]
    assert gradgradcheck(lambda q, k, v: NF.scaled_dot_product_attention(q, k, v, attn_mask=mask), leaves)
    assert gradgradcheck(lambda q, k, v: NF.scaled_dot_product_attention(q, k, v, is_causal=True), leaves)


def test_scaled_dot_product_attention_dropout_is_seeded_and_scaled():
    q, k, v = leaf(2, 4, 6), leaf(2, 5, 6), leaf(2, 5, 3)
    ndgrad.manual_seed(1)
    a = NF.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    ndgrad.manual_seed(1)
    b = NF.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    plain = NF.scaled_dot_product_attention(q, k, v)
    assert tuple(a.shape) == (2, 4, 3)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.allclose(a.detach().numpy(), plain.detach().numpy())
    a.sum().backward()
    assert q.grad is not None and v.grad is not None


@pytest.mark.parametrize("kw", [
    dict(size=(5, 7), mode="nearest"), dict(scale_factor=2, mode="nearest"), dict(scale_factor=0.5, mode="nearest"),
    dict(size=(6, 9), mode="bilinear", align_corners=False), dict(size=(6, 9), mode="bilinear", align_corners=True),
    dict(scale_factor=1.7, mode="bilinear", align_corners=False), dict(size=(2, 3), mode="bilinear"),
    dict(scale_factor=(2, 3), mode="bilinear", align_corners=True),
])
def test_interpolate_2d(kw):
    fcheck("interpolate", [(2, 3, 4, 5)], **kw)


def test_interpolate_1d():
    fcheck("interpolate", [(2, 3, 5)], size=8, mode="linear", align_corners=False)
    fcheck("interpolate", [(2, 3, 5)], scale_factor=3, mode="nearest")


def test_embedding():
    idx = np.random.randint(0, 6, size=(3, 4)).astype(np.int64)
    idx[0, :2] = 2
    fcheck("embedding", [idx, (6, 5)])
    fcheck("embedding", [idx, (6, 5)], padding_idx=2)


@pytest.mark.parametrize("kw", [dict(), dict(p=1.0, dim=0), dict(p=3.0, dim=-1), dict(p=float("inf"))])
def test_normalize(kw):
    fcheck("normalize", [(4, 5)], **kw)


@pytest.mark.parametrize("shapes,dim", [([(4, 5), (4, 5)], 1), ([(3, 4, 2), (1, 4, 2)], 1), ([(5,), (5,)], 0)])
def test_cosine_similarity(shapes, dim):
    fcheck("cosine_similarity", shapes, dim=dim)


def test_bilinear():
    fcheck("bilinear", [(4, 3), (4, 5), (2, 3, 5), (2,)])


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                     ("smooth_l1_loss", dict(beta=0.5)), ("smooth_l1_loss", dict(beta=0.0)),
                                     ("huber_loss", {}), ("huber_loss", dict(delta=0.4))], ids=str)
def test_regression_losses(name, kw, reduction):
    fcheck(name, [(4, 5), (4, 5)], reduction=reduction, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    x = np.random.uniform(0.02, 0.98, size=(4, 5))
    y = np.random.uniform(0, 1, size=(4, 5))
    fcheck("binary_cross_entropy", [x, y], reduction=reduction)
    w = np.random.uniform(0.5, 2, size=(5,))   # weights are constants: torch cannot differentiate them
    check_op([x, y], lambda a, b: TF.binary_cross_entropy(a, b, weight=torch.from_numpy(w), reduction=reduction),
             lambda a, b: NF.binary_cross_entropy(a, b, weight=ndgrad.from_numpy(w), reduction=reduction))


def test_binary_cross_entropy_clamps_log_at_saturation():
    x = np.array([0.0, 1.0, 0.5, 1e-60])
    y = np.array([1.0, 0.0, 0.5, 1.0])
    fcheck("binary_cross_entropy", [x, y], reduction="none", _check=dict(grad=False))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    y = np.random.uniform(0, 1, size=(4, 5))
    fcheck("binary_cross_entropy_with_logits", [(4, 5), y], reduction=reduction, _check=dict(low=-6, high=6))
    pw, w = np.random.uniform(0.5, 3, size=(5,)), np.random.uniform(0.5, 2, size=(4, 5))
    check_op([(4, 5), y],
             lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=torch.from_numpy(w),
                                                              pos_weight=torch.from_numpy(pw), reduction=reduction),
             lambda a, b: NF.binary_cross_entropy_with_logits(a, b, weight=ndgrad.from_numpy(w),
                                                              pos_weight=ndgrad.from_numpy(pw), reduction=reduction))


def test_binary_cross_entropy_with_logits_is_stable():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    fcheck("binary_cross_entropy_with_logits", [x, np.array([1.0, 0.0, 0.5, 1.0, 0.0])], reduction="none")


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    t = np.random.dirichlet(np.ones(5), size=4)
    x = np.log(np.random.dirichlet(np.ones(5), size=4))
    if log_target:
        t = np.log(t + 0.1)
    fcheck("kl_div", [x, t], reduction=reduction, log_target=log_target)
    if not log_target:   # a zero target contributes 0 (xlogy); torch's gradient there is nan, so values only
        t[0, 1] = 0.0
        fcheck("kl_div", [x, t], reduction=reduction, _check=dict(grad=False))


# ---------------------------------------------------------------------------------------------
# numerical gradient checks (each backward rule) and second derivatives
# ---------------------------------------------------------------------------------------------
def _int(a):
    return ndgrad.from_numpy(a)


GRADCHECKS = {
    "linear": (lambda x, w, b: NF.linear(x, w, b), [(3, 4), (2, 4), (2,)]),
    "conv2d": (lambda x, w, b: NF.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)),
               [(2, 2, 5, 6), (3, 2, 2, 2), (3,)]),
    "conv2d_groups": (lambda x, w: NF.conv2d(x, w, groups=2), [(1, 4, 4, 4), (2, 2, 2, 2)]),
    "conv_transpose2d": (lambda x, w: NF.conv_transpose2d(x, w, stride=2, output_padding=1),
                         [(1, 2, 3, 3), (2, 2, 2, 2)]),
    "conv1d": (lambda x, w: NF.conv1d(x, w, padding="same"), [(2, 2, 5), (3, 2, 3)]),
    "max_pool2d": (lambda x: NF.max_pool2d(x, 3, 2, padding=1, ceil_mode=True), [(1, 2, 6, 5)]),
    "max_pool2d_reshape": (lambda x: NF.max_pool2d(x, 2), [(2, 2, 4, 4)]),
    "avg_pool2d": (lambda x: NF.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False), [(1, 2, 5, 5)]),
    "adaptive_avg_pool2d": (lambda x: NF.adaptive_avg_pool2d(x, (2, 3)), [(1, 2, 5, 5)]),
    "batch_norm": (lambda x, w, b: NF.batch_norm(x, None, None, w, b, training=True), [(3, 2, 3), (2,), (2,)]),
    "layer_norm": (lambda x, w, b: NF.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "group_norm": (lambda x, w, b: NF.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    "softmax": (lambda x: NF.softmax(x, 1), [(3, 4)]),
    "log_softmax": (lambda x: NF.log_softmax(x, 0), [(3, 4)]),
    "cross_entropy": (lambda x: NF.cross_entropy(x, _int(np.array([0, 2, 1])), label_smoothing=0.1,
                                                 weight=ndgrad.from_numpy(np.array([1.0, 2.0, 0.5, 1.5]))),
                      [(3, 4)]),
    "cross_entropy_nd": (lambda x: NF.cross_entropy(x, _int(np.array([[0, 2], [1, -100]])), reduction="sum"),
                         [(2, 3, 2)]),
    "nll_loss": (lambda x: NF.nll_loss(x, _int(np.array([0, 2, 1]))), [(3, 4)]),
    "gelu": (lambda x: NF.gelu(x), [(3, 4)]),
    "softplus": (lambda x: NF.softplus(x, beta=2.0), [(3, 4)]),
    "mish": (lambda x: NF.mish(x), [(3, 4)]),
    "pad_reflect": (lambda x: NF.pad(x, (1, 2, 2, 1), mode="reflect"), [(1, 1, 3, 4)]),
    "embedding": (lambda w: NF.embedding(_int(np.array([[0, 2], [2, 1]])), w), [(3, 2)]),
    "bce_with_logits": (lambda x: NF.binary_cross_entropy_with_logits(x, ndgrad.from_numpy(np.full((2, 3), 0.3))),
                        [(2, 3)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck(name):
    fn, shapes = GRADCHECKS[name]
    inputs = [leaf(*s) for s in shapes]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["linear", "conv2d", "conv2d_groups", "conv_transpose2d", "softmax",
                                  "log_softmax", "cross_entropy", "cross_entropy_nd", "layer_norm", "batch_norm",
                                  "group_norm", "max_pool2d", "avg_pool2d", "nll_loss", "gelu", "embedding"])
def test_gradgradcheck(name):
    fn, shapes = GRADCHECKS[name]
    inputs = [leaf(*s) for s in shapes]
    assert gradgradcheck(fn, inputs)


# (biases are left out here: their gradient is linear in the upstream gradient, so its second derivative is
# zero; torch still marks it as part of the graph, ndgrad does not, and the oracle compares graph membership)
@pytest.mark.parametrize("name,inputs,kw", [
    ("conv2d", [(2, 2, 5, 5), (3, 2, 3, 3)], dict(stride=2, padding=1)),
    ("conv2d", [(1, 4, 5, 5), (4, 2, 3, 3)], dict(groups=2, dilation=2)),
    ("conv_transpose2d", [(1, 2, 3, 3), (2, 3, 3, 3)], dict(stride=2)),
    ("linear", [(3, 4), (2, 4)], {}),
    ("layer_norm", [(3, 4), (4,)], dict(normalized_shape=(4,))),
    ("softmax", [(3, 4)], dict(dim=1)),
    ("log_softmax", [(3, 4)], dict(dim=1)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_second_derivatives_match_torch(name, inputs, kw):
    if name == "layer_norm":
        check_higher_order(inputs, lambda x, w: TF.layer_norm(x, (4,), w), lambda x, w: NF.layer_norm(x, (4,), w))
    else:
        fhigher(name, inputs, **kw)


def test_cross_entropy_second_derivative_matches_torch():
    t = labels((5,), 4)
    check_higher_order([(5, 4)], lambda x: TF.cross_entropy(x, torch.from_numpy(t), label_smoothing=0.2),
                       lambda x: NF.cross_entropy(x, ndgrad.from_numpy(t), label_smoothing=0.2))


def test_batch_norm_second_derivative_matches_torch():
    check_higher_order([(4, 3, 2), (3,)], lambda x, w: TF.batch_norm(x, None, None, w, training=True),
                       lambda x, w: NF.batch_norm(x, None, None, w, training=True))
    check_higher_order([(2, 4, 3)], lambda x: TF.group_norm(x, 2), lambda x: NF.group_norm(x, 2))


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
def test_cross_entropy_target_out_of_range_names_index_and_classes():
    x = ndgrad.from_numpy(np.random.randn(4, 10))
    check_error(lambda: NF.cross_entropy(x, _int(np.array([1, 12, 3, 0]))), [r"\b12\b", r"10 classes"], IndexError,
                torch_fn=lambda: TF.cross_entropy(torch.randn(4, 10), torch.tensor([1, 12, 3, 0])))
    check_error(lambda: NF.nll_loss(x, _int(np.array([1, -3, 3, 0]))), [r"-3", r"10 classes"], IndexError)


def test_cross_entropy_bad_target_shape_and_dtype():
    x = ndgrad.from_numpy(np.random.randn(4, 10))
    check_error(lambda: NF.cross_entropy(x, _int(np.array([1, 2]))), [r"\(2,\)", r"\(4, 10\)", r"\(4,\)"])
    check_error(lambda: NF.cross_entropy(x, ndgrad.from_numpy(np.zeros((4, 3)))), [r"\(4, 3\)", r"\(4, 10\)"])


def test_conv_errors_name_op_and_shapes():
    w = ndgrad.from_numpy(np.random.randn(16, 3, 3, 3))
    check_error(lambda: NF.conv2d(ndgrad.from_numpy(np.random.randn(2, 3, 8)).unsqueeze(0).unsqueeze(0), w),
                [r"conv2d", r"4-d", r"\(1, 1, 2, 3, 8\)"], ValueError)
    check_error(lambda: NF.conv2d(ndgrad.from_numpy(np.random.randn(8, 4, 28, 28)), w),
                [r"conv2d", r"\(16, 3, 3, 3\)", r"3 channels", r"\(8, 4, 28, 28\)", r"4 channels"], ValueError,
                torch_fn=lambda: TF.conv2d(torch.randn(8, 4, 28, 28), torch.randn(16, 3, 3, 3)))
    check_error(lambda: NF.conv1d(ndgrad.from_numpy(np.random.randn(2, 3, 5)), w), [r"conv1d", r"weight"])
    check_error(lambda: NF.conv2d(ndgrad.from_numpy(np.random.randn(1, 3, 2, 2)), w),
                [r"conv2d", r"too small", r"\(1, 3, 2, 2\)"])
    check_error(lambda: NF.conv2d(ndgrad.from_numpy(np.random.randn(1, 3, 5, 5)), w, stride=2, padding="same"),
                [r"conv2d", r"same", r"stride"])


def test_other_errors():
    x = ndgrad.from_numpy(np.random.randn(2, 3, 4, 4))
    check_error(lambda: NF.max_pool2d(x, 2, padding=2), [r"max_pool2d", r"half"])
    check_error(lambda: NF.linear(ndgrad.from_numpy(np.random.randn(5, 100)),
                                  ndgrad.from_numpy(np.random.randn(10, 784))),
                [r"linear", r"100", r"784"])
    check_error(lambda: NF.layer_norm(x, (3,)), [r"layer_norm", r"\(3,\)", r"\(2, 3, 4, 4\)"])
    check_error(lambda: NF.group_norm(x, 2), [r"group_norm", r"3 channels", r"num_groups=2"])
    check_error(lambda: NF.batch_norm(ndgrad.from_numpy(np.random.randn(1, 3)), None, None, training=True),
                [r"batch_norm", r"more than 1 value"])
    check_error(lambda: NF.mse_loss(x, x, reduction="avg"), [r"mse_loss", r"reduction"])
    check_error(lambda: NF.pad(x[0], (4, 4), mode="reflect"), [r"reflect", r"size 4"])
    check_error(lambda: NF.pad(x, (4, 4), mode="reflect"), [r"pad", r"size 2", r"4D"])
    check_error(lambda: NF.gelu(x, approximate="fast"), [r"gelu", r"approximate"])
    check_error(lambda: NF.binary_cross_entropy(x, x), [r"binary_cross_entropy", r"\[0, 1\]"])
    table = ndgrad.from_numpy(np.random.randn(6, 3))
    check_error(lambda: NF.embedding(_int(np.array([1, 6])), table), [r"embedding", r"\b6\b", r"6 rows"], IndexError)
    check_error(lambda: NF.one_hot(_int(np.array([1, 5])), 3), [r"one_hot", r"\b5\b", r"num_classes=3"])
    check_error(lambda: NF.interpolate(x, mode="bilinear"), [r"interpolate", r"size", r"scale_factor"])


# ---------------------------------------------------------------------------------------------
# GPU: the same code path on CuPy gives the CPU's numbers
# ---------------------------------------------------------------------------------------------
_t = lambda a: ndgrad.from_numpy(a)   # noqa: E731  (constants in the cases; _default_device moves them)
GPU_CASES = {
    "linear": (lambda x, w, b: NF.linear(x, w, b), [(5, 4), (3, 4), (3,)]),
    "conv2d": (lambda x, w, b: NF.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)),
               [(2, 3, 9, 8), (4, 3, 3, 3), (4,)]),
    "conv2d_groups": (lambda x, w: NF.conv2d(x, w, groups=2, padding="same"), [(2, 4, 6, 6), (6, 2, 3, 3)]),
    "conv1d": (lambda x, w: NF.conv1d(x, w), [(2, 3, 9), (4, 3, 3)]),
    "conv3d": (lambda x, w: NF.conv3d(x, w, padding=1), [(1, 2, 4, 4, 4), (3, 2, 2, 2, 2)]),
    "conv_transpose2d": (lambda x, w: NF.conv_transpose2d(x, w, stride=2, output_padding=1),
                         [(2, 3, 4, 4), (3, 2, 3, 3)]),
    "max_pool2d": (lambda x: NF.max_pool2d(x, 2), [(2, 3, 8, 7)]),
    "max_pool2d_general": (lambda x: NF.max_pool2d(x, 3, 2, padding=1, ceil_mode=True), [(2, 3, 8, 7)]),
    "avg_pool2d": (lambda x: NF.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False), [(2, 3, 8, 7)]),
    "adaptive_avg_pool2d": (lambda x: NF.adaptive_avg_pool2d(x, (3, 2)), [(2, 3, 7, 5)]),
    "batch_norm": (lambda x, w, b: NF.batch_norm(x, None, None, w, b, training=True), [(4, 3, 5), (3,), (3,)]),
    "layer_norm": (lambda x, w, b: NF.layer_norm(x, (5,), w, b), [(4, 5), (5,), (5,)]),
    "group_norm": (lambda x: NF.group_norm(x, 2), [(2, 4, 3)]),
    "softmax": (lambda x: NF.softmax(x, -1), [(4, 5)]),
    "log_softmax": (lambda x: NF.log_softmax(x, 1), [(4, 5)]),
    "cross_entropy": (lambda x: NF.cross_entropy(x, _t(np.array([1, 0, 3, -100])), label_smoothing=0.1).reshape(1),
                      [(4, 5)]),
    "nll_loss": (lambda x: NF.nll_loss(x, _t(np.array([1, 0, 3]))).reshape(1), [(3, 5)]),
    "gelu": (lambda x: NF.gelu(x), [(4, 5)]),
    "activations": (lambda x: NF.silu(x) + NF.softplus(x) + NF.elu(x) + NF.mish(x) + NF.logsigmoid(x)
                    + NF.leaky_relu(x) + NF.hardtanh(x), [(4, 5)]),
    "pad_reflect": (lambda x: NF.pad(x, (1, 2, 2, 1), mode="reflect"), [(1, 2, 4, 5)]),
    "interpolate": (lambda x: NF.interpolate(x, scale_factor=1.5, mode="bilinear"), [(1, 2, 4, 5)]),
    "embedding": (lambda w: NF.embedding(_t(np.array([[0, 2], [2, 1]])), w), [(3, 4)]),
    "bce_with_logits": (lambda x: NF.binary_cross_entropy_with_logits(x, _t(np.full((2, 3), 0.3))).reshape(1),
                        [(2, 3)]),
}


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_gpu_matches_cpu(name):
    fn, shapes = GPU_CASES[name]
    arrays = [np.random.uniform(-1, 1, size=s) for s in shapes]
    results = {}
    for device in ("cpu", "cuda"):
        inputs = [ndgrad.from_numpy(a.copy()).to(device).requires_grad_(True) for a in arrays]
        with _default_device(device):
            out = fn(*inputs)
        w = ndgrad.from_numpy(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape))).to(device)
        (out * w).sum().backward()
        results[device] = [out.detach().cpu().numpy()] + [x.grad.cpu().numpy() for x in inputs]
    for i, (c, g) in enumerate(zip(results["cpu"], results["cuda"])):
        np.testing.assert_allclose(g, c, atol=1e-9, rtol=1e-7, err_msg=f"{name}: output/grad {i}")


class _default_device:
    """Constants the test cases build with ndgrad.from_numpy go to ``device`` (patched for the block)."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        global _t
        self.saved = _t
        device = self.device
        _t = lambda a: ndgrad.from_numpy(a).to(device)  # noqa: E731

    def __exit__(self, *exc):
        global _t
        _t = self.saved


# -- inplace=True writes into the input, and gradients still match PyTorch ---------------------------
@pytest.mark.parametrize("name, kwargs", [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.1}), ("elu", {"alpha": 0.7}),
    ("hardtanh", {"min_val": -0.5, "max_val": 1.5}), ("silu", {}), ("mish", {}),
])
def test_inplace_activation_writes_into_its_input_like_torch(name, kwargs):
    results = []
    for lib, fn in ((torch, getattr(TF, name)), (ndgrad, getattr(NF, name))):
        x = lib.tensor(np.linspace(-3, 3, 12).reshape(3, 4), requires_grad=True)
        h = x * 1.5
        out = fn(h, inplace=True, **kwargs)
        assert out is h
        (out * out).sum().backward()
        results.append((h.detach().numpy().copy(), x.grad.numpy().copy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_inplace_relu_on_a_leaf_that_requires_grad_raises():
    x = ndgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        NF.relu(x, inplace=True)


@pytest.mark.parametrize("rows,count,negative", [(7, 40, False), (1, 5, False), (6, 30, True)])
def test_row_scatter_add_by_sorting_matches_add_at(rows, count, negative):
    """kernels.add_at's sorted path for whole rows (embedding gradients) sums like np.add.at, repeated
    and negative indices included, into a table that already holds values."""
    from ndgrad.backend import kernels
    rng = np.random.default_rng(0)
    index = rng.integers(-rows if negative else 0, rows, count)
    values = rng.standard_normal((count, 3, 2))
    start = rng.standard_normal((rows, 3, 2))
    expected = start.copy()
    np.add.at(expected, index, values)
    got = start.copy()
    kernels.add_at(np, got, index, values)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)

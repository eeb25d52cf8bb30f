"""The losses added for issue 9 (margin, embedding, Poisson/Gaussian NLL, triplet, CTC, adaptive softmax)
and their modules, against torch: values and gradients for every reduction, gradcheck, second
derivatives, module options / reprs / state_dicts, and error messages. Also cross_entropy's options."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as NF
from ndgrad.autograd import gradcheck, gradgradcheck
from oracle import GRAD_TOL, check_error, check_higher_order, check_op

# torch warns that size_average / reduce are deprecated; they are tested on purpose
# (NLLLoss2d is deprecated in both libraries; AdaptiveLogSoftmaxWithLoss may have empty tail layers, and both
# libraries warn when initialising them)
pytestmark = [pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated"),
              pytest.mark.filterwarnings("ignore:`NLLLoss2d` has been deprecated:FutureWarning"),
              pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")]

REDUCTIONS = ["mean", "sum", "none"]
R = np.random.default_rng(99)


def signs(*shape):
    s = np.sign(R.standard_normal(shape))
    s[s == 0] = 1.0
    return s


def probabilities(*shape):
    a = R.random(shape) + 0.05
    return a / a.sum(1, keepdims=True)


def fcheck(name, inputs, check=None, **kwargs):
    """check_op for F.<name>(*inputs, **kwargs) in both libraries (float64, gradients of every float input)."""
    return check_op(inputs, lambda *a: getattr(TF, name)(*a, **kwargs),
                    lambda *a: getattr(NF, name)(*a, **kwargs), **(check or {}))


def const_target(name, input_shape, target, **kwargs):
    """check_op where the target is a constant (torch refuses a gradient for it in some losses)."""
    check_op([input_shape], lambda x: getattr(TF, name)(x, torch.from_numpy(target), **kwargs),
             lambda x: getattr(NF, name)(x, ndgrad.from_numpy(target), **kwargs))


# ---------------------------------------------------------------------------------------------
# element-wise and per-sample losses, every reduction
# ---------------------------------------------------------------------------------------------
CASES = {
    "margin_ranking": ("margin_ranking_loss", lambda: [(6,), (6,), signs(6)], dict(margin=0.3)),
    "margin_ranking-2d": ("margin_ranking_loss", lambda: [(3, 4), (3, 4), signs(3, 4)], {}),
    "hinge_embedding": ("hinge_embedding_loss", lambda: [(5, 4), signs(5, 4)], dict(margin=0.7)),
    "hinge_embedding-other-targets": ("hinge_embedding_loss", lambda: [(6,), np.array([1, -1, 0, 2, 1, -1.0])], {}),
    "multilabel_soft_margin": ("multilabel_soft_margin_loss", lambda: [(5, 4), (R.random((5, 4)) > 0.5) * 1.0], {}),
    "multilabel_soft_margin-weight": ("multilabel_soft_margin_loss",
                                      lambda: [(5, 4), (R.random((5, 4)) > 0.5) * 1.0, (4,)], {}),
    "multilabel_soft_margin-1d": ("multilabel_soft_margin_loss", lambda: [(4,), (R.random(4) > 0.5) * 1.0], {}),
    "cosine_embedding": ("cosine_embedding_loss", lambda: [(5, 4), (5, 4), signs(5)], dict(margin=0.2)),
    "cosine_embedding-1d": ("cosine_embedding_loss", lambda: [(4,), (4,), np.array(-1.0)], dict(margin=-0.5)),
    "poisson_nll": ("poisson_nll_loss", lambda: [(5, 4), R.random((5, 4)) * 3 + 0.1], {}),
    "poisson_nll-full": ("poisson_nll_loss", lambda: [(5, 4), R.random((5, 4)) * 4 + 0.1], dict(full=True)),
    "poisson_nll-rates": ("poisson_nll_loss", lambda: [R.random((5, 4)) + 0.1, R.random((5, 4)) * 3],
                          dict(log_input=False, eps=1e-3)),
    "gaussian_nll": ("gaussian_nll_loss", lambda: [(5, 4), (5, 4), R.random((5, 4)) + 0.1], {}),
    "gaussian_nll-homoscedastic": ("gaussian_nll_loss", lambda: [(5, 4), (5, 4), R.random(5) + 0.1],
                                   dict(full=True)),
    "gaussian_nll-broadcast-var": ("gaussian_nll_loss", lambda: [(3, 2, 4), (3, 2, 4), R.random((3, 1, 4)) + 0.1],
                                   {}),
    "gaussian_nll-clamped-var": ("gaussian_nll_loss", lambda: [(5, 4), (5, 4), R.random((5, 4)) * 1e-3],
                                 dict(eps=1e-3)),
    "multi_margin": ("multi_margin_loss", lambda: [(6, 5), R.integers(0, 5, 6)], {}),
    "multi_margin-p2-margin": ("multi_margin_loss", lambda: [(6, 5), R.integers(0, 5, 6)], dict(p=2, margin=0.6)),
    "multi_margin-1d": ("multi_margin_loss", lambda: [(5,), np.array(3)], {}),
    "multilabel_margin": ("multilabel_margin_loss",
                          lambda: [(4, 5), np.array([[3, 0, -1, 1, 2], [0, 1, 2, 3, 4], [-1, 0, 0, 0, 0],
                                                     [1, 1, -1, 2, 2]])], {}),
    "multilabel_margin-1d": ("multilabel_margin_loss", lambda: [(4,), np.array([2, 0, -1, 3])], {}),
    "triplet_margin": ("triplet_margin_loss", lambda: [(5, 4), (5, 4), (5, 4)], {}),
    "triplet_margin-swap-p1": ("triplet_margin_loss", lambda: [(5, 4), (5, 4), (5, 4)],
                               dict(swap=True, p=1, margin=0.5)),
    "triplet_margin-p3-1d": ("triplet_margin_loss", lambda: [(4,), (4,), (4,)], dict(p=3, margin=2.0)),
    "triplet_distance": ("triplet_margin_with_distance_loss", lambda: [(5, 4), (5, 4), (5, 4)], dict(swap=True)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_loss_matches_torch(case, reduction):
    name, inputs, kw = CASES[case]
    fcheck(name, inputs(), reduction=reduction, **kw)


@pytest.mark.parametrize("case", ["margin_ranking", "hinge_embedding", "multilabel_soft_margin", "cosine_embedding",
                                  "poisson_nll", "multi_margin", "multilabel_margin", "triplet_margin"])
def test_legacy_size_average_and_reduce(case):
    name, inputs, kw = CASES[case]
    for legacy in (dict(size_average=False), dict(reduce=False), dict(size_average=True, reduce=True)):
        fcheck(name, inputs(), **legacy, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction):
    const_target("soft_margin_loss", (5, 4), signs(5, 4), reduction=reduction)
    const_target("soft_margin_loss", (), np.array(-1.0), reduction=reduction)
    const_target("soft_margin_loss", (5, 4), signs(5, 4), reduction=reduction, size_average=False)


def test_losses_in_float32_keep_the_dtype():
    for case in ("margin_ranking", "cosine_embedding", "poisson_nll", "gaussian_nll", "multi_margin",
                 "triplet_margin", "multilabel_soft_margin"):
        name, inputs, kw = CASES[case]
        fcheck(name, inputs(), check=dict(dtype="float32"), **kw)


@pytest.mark.parametrize("case", ["margin_ranking-2d", "hinge_embedding", "multilabel_soft_margin-weight",
                                  "cosine_embedding", "poisson_nll-full", "gaussian_nll", "multi_margin-p2-margin",
                                  "triplet_margin"])
def test_noncontiguous_inputs(case):
    name, inputs, kw = CASES[case]
    fcheck(name, inputs(), check=dict(contiguous=False), reduction="none", **kw)


def test_size_one_dims_broadcast_like_torch():
    fcheck("margin_ranking_loss", [(4, 1), (1, 3), signs(4, 3)], reduction="none")
    fcheck("hinge_embedding_loss", [(4, 1), signs(4, 3)], reduction="none")
    fcheck("poisson_nll_loss", [(1, 3), R.random((4, 3)) * 2], reduction="none")
    fcheck("gaussian_nll_loss", [(4, 3), (1, 3), R.random((4, 1)) + 0.1], reduction="none")
    fcheck("triplet_margin_loss", [(1, 4), (5, 4), (5, 4)], reduction="none")


def test_empty_batches():
    fcheck("margin_ranking_loss", [(0,), (0,), np.zeros(0)], reduction="sum")
    fcheck("triplet_margin_loss", [(0, 4), (0, 4), (0, 4)], reduction="none")
    fcheck("multi_margin_loss", [(0, 3), np.zeros(0, dtype=np.int64)], reduction="sum")


def test_triplet_with_a_custom_distance_function():
    def cosine_distance(lib):
        return lambda a, b: 1.0 - (a * b).sum(-1) / ((a * a).sum(-1) * (b * b).sum(-1)).sqrt()
    check_op([(5, 4), (5, 4), (5, 4)],
             lambda a, p, n: TF.triplet_margin_with_distance_loss(a, p, n, distance_function=cosine_distance(torch),
                                                                  margin=0.4, reduction="none"),
             lambda a, p, n: NF.triplet_margin_with_distance_loss(a, p, n, distance_function=cosine_distance(ndgrad),
                                                                  margin=0.4, reduction="none"))


@pytest.mark.parametrize("case", ["margin_ranking", "cosine_embedding", "poisson_nll-full", "gaussian_nll",
                                  "multilabel_soft_margin-weight", "triplet_margin", "hinge_embedding"])
def test_second_derivatives_match_torch(case):   # (torch has no double backward for the multi-margin losses)
    name, inputs, kw = CASES[case]
    check_higher_order(inputs(), lambda *a: getattr(TF, name)(*a, **kw), lambda *a: getattr(NF, name)(*a, **kw))


@pytest.mark.parametrize("case", ["margin_ranking", "cosine_embedding", "poisson_nll-full", "gaussian_nll",
                                  "multilabel_soft_margin-weight", "triplet_margin-swap-p1", "multi_margin-p2-margin",
                                  "multilabel_margin", "hinge_embedding"])
def test_gradcheck(case):
    name, inputs, kw = CASES[case]
    # the first input is differentiated, the others (targets, second inputs, variances) are held fixed
    first, *others = [ndgrad.from_numpy(R.uniform(-2, 2, size=s) if isinstance(s, tuple) else np.asarray(s))
                      for s in inputs()]
    fn = lambda x: getattr(NF, name)(x, *others, **kw)  # noqa: E731
    assert gradcheck(fn, (first.requires_grad_(True),))
    assert gradgradcheck(fn, (first,))


# ---------------------------------------------------------------------------------------------
# CTC
# ---------------------------------------------------------------------------------------------
def _ctc_case(t, n, c, s, input_lengths, target_lengths, concat=False, raw=False, blank=0):
    lp = R.standard_normal((t, n, c)) if raw else np.log(R.dirichlet(np.ones(c), size=(t, n)))
    labels = [v for v in range(c) if v != blank]
    targets = R.choice(labels, size=(n, s))
    if concat:
        targets = np.concatenate([targets[i, :target_lengths[i]] for i in range(n)])
    return lp, targets


CTC_CASES = [
    dict(t=6, n=2, c=4, s=2, input_lengths=[6, 5], target_lengths=[2, 2]),
    dict(t=12, n=3, c=5, s=4, input_lengths=[12, 9, 7], target_lengths=[4, 2, 0]),
    dict(t=12, n=3, c=5, s=4, input_lengths=[12, 9, 7], target_lengths=[4, 2, 3], concat=True),
    dict(t=9, n=2, c=4, s=3, input_lengths=[9, 8], target_lengths=[3, 3], raw=True),
    dict(t=8, n=2, c=5, s=3, input_lengths=[8, 6], target_lengths=[3, 1], blank=4),
    dict(t=3, n=2, c=3, s=3, input_lengths=[3, 2], target_lengths=[3, 2]),       # some alignments impossible
]


@pytest.mark.filterwarnings("ignore:invalid value encountered")   # the oracle's weighted sum of infinite losses
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CTC_CASES, ids=lambda c: str(sorted(c.items())))
def test_ctc_loss_matches_torch(case, reduction, zero_infinity):
    case = dict(case)
    blank = case.get("blank", 0)
    il, tl = case["input_lengths"], case["target_lengths"]
    lp, targets = _ctc_case(**case)
    kw = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    check_op([lp], lambda x: TF.ctc_loss(x, torch.from_numpy(targets), torch.tensor(il), torch.tensor(tl), **kw),
             lambda x: NF.ctc_loss(x, ndgrad.from_numpy(targets), ndgrad.tensor(il), ndgrad.tensor(tl), **kw))


def test_ctc_repeated_labels_lengths_as_tuples_unbatched_and_float32():
    lp = np.log(R.dirichlet(np.ones(4), size=(7, 2)))
    targets = np.array([[1, 1, 2], [3, 3, 3]])
    check_op([lp], lambda x: TF.ctc_loss(x, torch.from_numpy(targets), (7, 7), (3, 3), reduction="none"),
             lambda x: NF.ctc_loss(x, ndgrad.from_numpy(targets), (7, 7), (3, 3), reduction="none"))
    check_op([lp[:, 0]], lambda x: TF.ctc_loss(x, torch.tensor([1, 1, 2]), torch.tensor(7), torch.tensor(3)),
             lambda x: NF.ctc_loss(x, ndgrad.tensor([1, 1, 2]), ndgrad.tensor(7), ndgrad.tensor(3)))
    check_op([lp[:, 0]], lambda x: TF.ctc_loss(x, torch.tensor([2, 1]), torch.tensor(5), torch.tensor(2),
                                               reduction="none"),
             lambda x: NF.ctc_loss(x, ndgrad.tensor([2, 1]), ndgrad.tensor(5), ndgrad.tensor(2), reduction="none"))
    check_op([lp.astype(np.float32)], lambda x: TF.ctc_loss(x, torch.from_numpy(targets), (7, 6), (3, 2)),
             lambda x: NF.ctc_loss(x, ndgrad.from_numpy(targets), (7, 6), (3, 2)))


def test_ctc_gradcheck_through_log_softmax_and_no_double_backward():
    # ctc_loss's gradient is PyTorch's (in the logits of a log_softmax), so it is exact through log_softmax
    logits = ndgrad.from_numpy(R.standard_normal((6, 2, 4))).requires_grad_(True)
    targets = ndgrad.tensor([[1, 2, 2], [3, 1, 0]])
    fn = lambda x: NF.ctc_loss(NF.log_softmax(x, 2), targets, (6, 5), (3, 2))  # noqa: E731
    assert gradcheck(fn, (logits,))
    (g,) = ndgrad.autograd.grad(fn(logits), [logits], create_graph=True)
    check_error(lambda: g.sum().backward(), ["ctc_loss", "double backward"], NotImplementedError)


def test_ctc_module_and_a_short_training_run():
    torch_loss, nd_loss = torch.nn.CTCLoss(blank=1, zero_infinity=True), nn.CTCLoss(blank=1, zero_infinity=True)
    assert repr(nd_loss) == repr(torch_loss)
    lp, targets = _ctc_case(t=6, n=2, c=4, s=2, input_lengths=None, target_lengths=None, blank=1)
    check_op([lp], lambda x: torch_loss(x, torch.from_numpy(targets), (6, 4), (2, 2)),
             lambda x: nd_loss(x, ndgrad.from_numpy(targets), (6, 4), (2, 2)))
    # gradient descent on logits drives the loss down (the gradient points the right way)
    logits = ndgrad.zeros(8, 1, 5, requires_grad=True)
    target = ndgrad.tensor([[2, 3, 3]])
    losses = []
    for _ in range(30):
        loss = NF.ctc_loss(NF.log_softmax(logits, 2), target, (8,), (3,))
        losses.append(loss.item())
        (g,) = ndgrad.autograd.grad(loss, [logits])
        with ndgrad.no_grad():
            logits -= g * 2.0
    assert losses[-1] < 0.1 * losses[0]


def test_ctc_errors():
    lp = ndgrad.from_numpy(np.log(R.dirichlet(np.ones(4), size=(5, 2))))
    tlp = torch.from_numpy(lp.numpy())
    tg = np.array([[1, 2], [1, 1]])
    check_error(lambda: NF.ctc_loss(lp, ndgrad.tensor(tg), (6, 5), (2, 2)), ["ctc_loss", "input_lengths", "5"],
                RuntimeError, torch_fn=lambda: TF.ctc_loss(tlp, torch.tensor(tg), (6, 5), (2, 2)))
    check_error(lambda: NF.ctc_loss(lp, ndgrad.tensor(tg), (5, 5), (3, 2)), ["ctc_loss", "target length", "3"],
                RuntimeError, torch_fn=lambda: TF.ctc_loss(tlp, torch.tensor(tg), (5, 5), (3, 2)))
    check_error(lambda: NF.ctc_loss(lp, ndgrad.tensor(tg), (5, 5), (2, 2), blank=4), ["ctc_loss", "blank"],
                RuntimeError, torch_fn=lambda: TF.ctc_loss(tlp, torch.tensor(tg), (5, 5), (2, 2), blank=4))
    check_error(lambda: NF.ctc_loss(lp, ndgrad.tensor([1, 2, 1]), (5, 5), (2, 2)), ["ctc_loss", "sum", "4"],
                RuntimeError, torch_fn=lambda: TF.ctc_loss(tlp, torch.tensor([1, 2, 1]), (5, 5), (2, 2)))
    check_error(lambda: NF.ctc_loss(lp, ndgrad.tensor(tg), (5, 5), (2, 2), reduction="avg"),
                ["ctc_loss", "avg", "reduction"], ValueError)
    check_error(lambda: NF.ctc_loss(lp, ndgrad.tensor([[1, 4], [1, 1]]), (5, 5), (2, 2)),
                ["ctc_loss", "labels", r"\[0, 4\)"], RuntimeError)


# ---------------------------------------------------------------------------------------------
# loss modules
# ---------------------------------------------------------------------------------------------
W3, W4 = R.random(3) + 0.5, R.random(4) + 0.5   # class weights, the same for both libraries
MODULES = {
    "MarginRankingLoss": (lambda lib, T: lib.MarginRankingLoss(margin=0.2, reduction="sum"),
                          lambda: [R.standard_normal(5), R.standard_normal(5), signs(5)]),
    "HingeEmbeddingLoss": (lambda lib, T: lib.HingeEmbeddingLoss(margin=0.5), lambda: [R.standard_normal((3, 4)),
                                                                                       signs(3, 4)]),
    "SoftMarginLoss": (lambda lib, T: lib.SoftMarginLoss(size_average=False), lambda: [R.standard_normal((3, 4)),
                                                                                       signs(3, 4)]),
    "MultiLabelSoftMarginLoss": (lambda lib, T: lib.MultiLabelSoftMarginLoss(weight=T(W4),
                                                                             reduction="none"),
                                 lambda: [R.standard_normal((3, 4)), (R.random((3, 4)) > 0.5) * 1.0]),
    "CosineEmbeddingLoss": (lambda lib, T: lib.CosineEmbeddingLoss(margin=0.1),
                            lambda: [R.standard_normal((3, 4)), R.standard_normal((3, 4)), signs(3)]),
    "PoissonNLLLoss": (lambda lib, T: lib.PoissonNLLLoss(log_input=False, full=True, eps=1e-4),
                       lambda: [R.random((3, 4)) + 0.2, R.random((3, 4)) * 4]),
    "GaussianNLLLoss": (lambda lib, T: lib.GaussianNLLLoss(full=True, eps=1e-4, reduction="sum"),
                        lambda: [R.standard_normal((3, 4)), R.standard_normal((3, 4)), R.random(3) + 0.2]),
    "MultiMarginLoss": (lambda lib, T: lib.MultiMarginLoss(p=2, margin=0.5, weight=T(W4)),
                        lambda: [R.standard_normal((5, 4)), R.integers(0, 4, 5)]),
    "MultiLabelMarginLoss": (lambda lib, T: lib.MultiLabelMarginLoss(reduction="none"),
                             lambda: [R.standard_normal((2, 4)), np.array([[1, 3, -1, 0], [2, -1, 1, 1]])]),
    "TripletMarginLoss": (lambda lib, T: lib.TripletMarginLoss(margin=0.5, p=1.5, swap=True),
                          lambda: [R.standard_normal((3, 4)), R.standard_normal((3, 4)), R.standard_normal((3, 4))]),
    "TripletMarginWithDistanceLoss": (lambda lib, T: lib.TripletMarginWithDistanceLoss(margin=2.0),
                                      lambda: [R.standard_normal((3, 4)), R.standard_normal((3, 4)),
                                               R.standard_normal((3, 4))]),
    "NLLLoss2d": (lambda lib, T: lib.NLLLoss2d(weight=T(W3), ignore_index=1),
                  lambda: [np.log(probabilities(2, 3, 4, 2)), R.integers(0, 3, (2, 4, 2))]),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_loss_module_matches_torch(name):
    make, inputs = MODULES[name]
    tm = make(torch.nn, lambda a: torch.tensor(a))
    nm = make(nn, lambda a: ndgrad.tensor(a))
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    for key, value in tm.state_dict().items():
        np.testing.assert_array_equal(nm.state_dict()[key].numpy(), value.numpy())
    arrays = inputs()
    t_in = [torch.tensor(a, requires_grad=(i == 0)) for i, a in enumerate(arrays)]
    n_in = [ndgrad.tensor(a, requires_grad=(i == 0)) for i, a in enumerate(arrays)]
    t_out, n_out = tm(*t_in), nm(*n_in)
    np.testing.assert_allclose(n_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = R.standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (n_out * ndgrad.tensor(w)).sum().backward()
    np.testing.assert_allclose(n_in[0].grad.numpy(), t_in[0].grad.numpy(), rtol=GRAD_TOL["float64"][1],
                               atol=GRAD_TOL["float64"][0])


def test_module_option_checks_match_torch():
    check_error(lambda: nn.TripletMarginLoss(margin=0), ["TripletMarginLoss", "greater than 0"], ValueError,
                torch_fn=lambda: torch.nn.TripletMarginLoss(margin=0))
    check_error(lambda: nn.TripletMarginWithDistanceLoss(margin=-1), ["greater than 0", "-1"], ValueError,
                torch_fn=lambda: torch.nn.TripletMarginWithDistanceLoss(margin=-1))
    check_error(lambda: nn.MultiMarginLoss(p=3), ["p == 1 and p == 2"], ValueError,
                torch_fn=lambda: torch.nn.MultiMarginLoss(p=3))
    check_error(lambda: nn.MultiMarginLoss(weight=ndgrad.ones(2, 2)), ["1D", "2D"], ValueError,
                torch_fn=lambda: torch.nn.MultiMarginLoss(weight=torch.ones(2, 2)))
    check_error(lambda: nn.MarginRankingLoss(reduction="avg"), ["reduction", "avg"], ValueError)
    assert nn.HingeEmbeddingLoss(size_average=False).reduction == "sum"
    assert nn.SoftMarginLoss(reduce=False).reduction == "none"
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        assert isinstance(nn.NLLLoss2d(), nn.NLLLoss)


# ---------------------------------------------------------------------------------------------
# AdaptiveLogSoftmaxWithLoss
# ---------------------------------------------------------------------------------------------
def _adaptive_pair(**kw):
    torch.manual_seed(0)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 7], div_value=2.0, **kw).double()
    nm = nn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 7], div_value=2.0, **kw).double()
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    assert [tuple(v.shape) for v in nm.state_dict().values()] == [tuple(v.shape) for v in tm.state_dict().values()]
    nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return tm, nm


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_forward_loss_and_gradients(head_bias):
    tm, nm = _adaptive_pair(head_bias=head_bias)
    x = R.standard_normal((9, 8))
    target = np.array([0, 11, 4, 2, 7, 5, 1, 10, 3])
    tx, nx = torch.tensor(x, requires_grad=True), ndgrad.tensor(x, requires_grad=True)
    t_out, t_loss = tm(tx, torch.tensor(target))
    n_out, n_loss = nm(nx, ndgrad.tensor(target))
    np.testing.assert_allclose(n_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(n_loss.item(), t_loss.item(), rtol=1e-10)
    w = R.standard_normal(9)
    (t_loss + (t_out * torch.tensor(w)).sum()).backward()
    (n_loss + (n_out * ndgrad.tensor(w)).sum()).backward()
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    t_params = dict(tm.named_parameters())
    for name, p in nm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_adaptive_log_softmax_log_prob_predict_and_unbatched():
    tm, nm = _adaptive_pair()
    x = R.standard_normal((16, 8)) * 3
    log_prob = nm.log_prob(ndgrad.tensor(x))
    np.testing.assert_allclose(log_prob.detach().numpy(), tm.log_prob(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.exp(log_prob.detach().numpy()).sum(1), 1.0)
    predicted = nm.predict(ndgrad.tensor(x))
    assert predicted.dtype == ndgrad.int64
    np.testing.assert_array_equal(predicted.numpy(), tm.predict(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(predicted.numpy(), log_prob.detach().numpy().argmax(1))
    n_out, n_loss = nm(ndgrad.tensor(x[0]), ndgrad.tensor(9))
    t_out, t_loss = tm(torch.tensor(x[0]), torch.tensor(9))
    assert tuple(n_out.shape) == tuple(t_out.shape) == ()
    np.testing.assert_allclose(n_out.item(), t_out.item(), rtol=1e-10)
    # the returned pair is a namedtuple, as in torch
    result = nm(ndgrad.tensor(x[:3]), ndgrad.tensor([0, 5, 11]))
    assert result.output is result[0] and result.loss is result[1]


def test_adaptive_log_softmax_errors():
    check_error(lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4, 4]), ["cutoffs", "unique"], ValueError,
                torch_fn=lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4, 4]))
    check_error(lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, []), ["cutoffs", "length larger than 0"], ValueError,
                torch_fn=lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, []))
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])
    check_error(lambda: m(ndgrad.randn(3, 8), ndgrad.tensor([0, 10, 1])), [r"\[0, 9\]", r"\[0, 10\]"],
                RuntimeError, torch_fn=lambda: tm(torch.randn(3, 8), torch.tensor([0, 10, 1])))
    check_error(lambda: m(ndgrad.randn(3, 8), ndgrad.tensor(1)), ["0D target", "1D input", r"\(3, 8\)"],
                RuntimeError, torch_fn=lambda: tm(torch.randn(3, 8), torch.tensor(1)))
    check_error(lambda: m(ndgrad.randn(3, 8), ndgrad.tensor([1, 2])), ["same size in the batch dimension"],
                RuntimeError, torch_fn=lambda: tm(torch.randn(3, 8), torch.tensor([1, 2])))


# ---------------------------------------------------------------------------------------------
# errors of the functional losses
# ---------------------------------------------------------------------------------------------
def test_loss_errors_name_the_op_and_shapes():
    x = ndgrad.randn(2, 3)
    t = torch.randn(2, 3)
    check_error(lambda: NF.margin_ranking_loss(ndgrad.randn(3), ndgrad.randn(3, 1), ndgrad.ones(3)),
                ["margin_ranking_loss", "same number of dimensions", r"\(3, 1\)"], RuntimeError,
                torch_fn=lambda: TF.margin_ranking_loss(torch.randn(3), torch.randn(3, 1), torch.ones(3)))
    check_error(lambda: NF.hinge_embedding_loss(x, ndgrad.ones(2, 3), reduction="avg"),
                ["hinge_embedding_loss", "avg", "reduction"], ValueError,
                torch_fn=lambda: TF.hinge_embedding_loss(t, torch.ones(2, 3), reduction="avg"))
    check_error(lambda: NF.cosine_embedding_loss(x, x, ndgrad.ones(2, 1)), ["cosine_embedding_loss", "0D or 1D"],
                RuntimeError, torch_fn=lambda: TF.cosine_embedding_loss(t, t, torch.ones(2, 1)))
    check_error(lambda: NF.cosine_embedding_loss(x, ndgrad.randn(3), ndgrad.ones(2)),
                ["cosine_embedding_loss", "1D target", "2D input", r"\(3,\)"], RuntimeError,
                torch_fn=lambda: TF.cosine_embedding_loss(t, torch.randn(3), torch.ones(2)))
    check_error(lambda: NF.gaussian_nll_loss(ndgrad.randn(3), ndgrad.randn(3), ndgrad.ones(2)),
                ["gaussian_nll_loss", "var is of incorrect size", r"\(2,\)"], ValueError,
                torch_fn=lambda: TF.gaussian_nll_loss(torch.randn(3), torch.randn(3), torch.ones(2)))
    check_error(lambda: NF.gaussian_nll_loss(x, x, -ndgrad.ones(2, 3)), ["negative"], ValueError,
                torch_fn=lambda: TF.gaussian_nll_loss(t, t, -torch.ones(2, 3)))
    check_error(lambda: NF.gaussian_nll_loss(x, x, -1.0), ["negative"], ValueError,
                torch_fn=lambda: TF.gaussian_nll_loss(t, t, -1.0))
    check_error(lambda: NF.multi_margin_loss(x, ndgrad.tensor([0, 3])), ["multi_margin_loss", "out of range"],
                RuntimeError, torch_fn=lambda: TF.multi_margin_loss(t, torch.tensor([0, 3])))
    check_error(lambda: NF.multi_margin_loss(x, ndgrad.tensor([0, 1]), p=3), ["p == 1 and p == 2"], ValueError,
                torch_fn=lambda: TF.multi_margin_loss(t, torch.tensor([0, 1]), p=3))
    check_error(lambda: NF.multi_margin_loss(ndgrad.randn(2, 3, 4), ndgrad.tensor([0, 1])),
                ["multi_margin_loss", "vector or matrix", r"\(2, 3, 4\)"], RuntimeError,
                torch_fn=lambda: TF.multi_margin_loss(torch.randn(2, 3, 4), torch.tensor([0, 1])))
    check_error(lambda: NF.multi_margin_loss(x, ndgrad.tensor([0, 1]), weight=ndgrad.ones(2)),
                ["multi_margin_loss", "weight size", "3"], RuntimeError,
                torch_fn=lambda: TF.multi_margin_loss(t, torch.tensor([0, 1]), weight=torch.ones(2)))
    check_error(lambda: NF.multilabel_margin_loss(x, ndgrad.tensor([[0, 5, -1], [1, -1, 0]])),
                ["multilabel_margin_loss", "out of range"], RuntimeError,
                torch_fn=lambda: TF.multilabel_margin_loss(t, torch.tensor([[0, 5, -1], [1, -1, 0]])))
    check_error(lambda: NF.multilabel_margin_loss(x, ndgrad.tensor([[0, 1], [1, -1]])),
                ["multilabel_margin_loss", "inconsistent target size", r"\(2, 2\)", r"\(2, 3\)"], RuntimeError,
                torch_fn=lambda: TF.multilabel_margin_loss(t, torch.tensor([[0, 1], [1, -1]])))
    check_error(lambda: NF.triplet_margin_loss(x, ndgrad.randn(3), x), ["anchor 2D", "positive 1D"], RuntimeError,
                torch_fn=lambda: TF.triplet_margin_loss(t, torch.randn(3), t))
    check_error(lambda: NF.triplet_margin_with_distance_loss(x, x, x, margin=0.0), ["margin", "greater than 0"],
                ValueError, torch_fn=lambda: TF.triplet_margin_with_distance_loss(t, t, t, margin=0.0))


# ---------------------------------------------------------------------------------------------
# cross_entropy / nll_loss options (the core's, checked here across their combinations)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll_options(reduction):
    w = R.random(4) + 0.2
    tw, nw = torch.from_numpy(w), ndgrad.from_numpy(w)

    def both(name, inputs, weight=True, **kw):
        check_op(inputs, lambda *a: getattr(TF, name)(*a, weight=tw if weight else None, reduction=reduction, **kw),
                 lambda *a: getattr(NF, name)(*a, weight=nw if weight else None, reduction=reduction, **kw))
    both("cross_entropy", [(5, 4), R.integers(0, 4, 5)], label_smoothing=0.2, ignore_index=1)
    both("cross_entropy", [(2, 4, 3, 2), R.integers(0, 4, (2, 3, 2))], label_smoothing=0.1, ignore_index=2)
    both("cross_entropy", [(2, 4, 3), probabilities(2, 4, 3)], label_smoothing=0.3)
    both("cross_entropy", [(4,), np.array(2)], label_smoothing=0.3)
    both("nll_loss", [(2, 4, 3, 2), R.integers(0, 4, (2, 3, 2))], ignore_index=0)
    both("cross_entropy", [(0, 4), np.zeros(0, dtype=np.int64)], weight=False)


# ---------------------------------------------------------------------------------------------
# linear_cross_entropy and LinearCrossEntropyLoss
# ---------------------------------------------------------------------------------------------
LINEAR_CE = [
    ([(5, 6), (4, 6), R.integers(0, 4, 5), (4,)], dict(label_smoothing=0.1)),
    ([(5, 6), (4, 3, 6), R.integers(0, 4, (5, 3)), (4, 3)], dict(reduction="none", ignore_index=2)),
    ([(5, 6), (4, 6), probabilities(5, 4), (4,)], dict(reduction="sum")),
    ([(6,), (4, 6), np.array(3), (4,)], {}),
]


@pytest.mark.parametrize("inputs,kw", LINEAR_CE, ids=str)
def test_linear_cross_entropy(inputs, kw):
    check_op(inputs, lambda x, w, t, b: TF.linear_cross_entropy(x, w, t, linear_bias=b, **kw),
             lambda x, w, t, b: NF.linear_cross_entropy(x, w, t, linear_bias=b, **kw))


def test_linear_cross_entropy_loss_module():
    for kw in (dict(out_features=(3,), bias=True, weight=W4, ignore_index=1), dict(label_smoothing=0.2)):
        make = lambda lib, T: lib.LinearCrossEntropyLoss(  # noqa: E731
            6, 4, **{k: (T(v) if k == "weight" else v) for k, v in kw.items()})
        torch.manual_seed(0)
        tm, nm = make(torch.nn, torch.tensor).double(), make(nn, ndgrad.tensor).double()
        assert repr(nm) == repr(tm)
        assert list(nm.state_dict()) == list(tm.state_dict())
        nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
        x, target = R.standard_normal((5, 6)), R.integers(0, 4, (5, 3) if "out_features" in kw else 5)
        tx, nx = torch.tensor(x, requires_grad=True), ndgrad.tensor(x, requires_grad=True)
        t_loss, n_loss = tm(tx, torch.tensor(target)), nm(nx, ndgrad.tensor(target))
        np.testing.assert_allclose(n_loss.item(), t_loss.item(), rtol=1e-10)
        t_loss.backward()
        n_loss.backward()
        np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(nm.linear.weight.grad.numpy(), tm.linear.weight.grad.numpy(), rtol=1e-9,
                                   atol=1e-12)


def test_linear_cross_entropy_errors():
    x, w = ndgrad.randn(5, 6), ndgrad.randn(4, 6)
    tx, tw = torch.randn(5, 6), torch.randn(4, 6)
    check_error(lambda: NF.linear_cross_entropy(x, ndgrad.randn(4, 5), ndgrad.tensor([0] * 5)),
                ["linear_cross_entropy", "in_features", "6 and 5"], RuntimeError,
                torch_fn=lambda: TF.linear_cross_entropy(tx, torch.randn(4, 5), torch.tensor([0] * 5)))
    check_error(lambda: NF.linear_cross_entropy(x, w, ndgrad.tensor([0] * 5), linear_bias=ndgrad.randn(3)),
                ["linear_bias shape", r"\(4,\)", r"\(3,\)"], RuntimeError,
                torch_fn=lambda: TF.linear_cross_entropy(tx, tw, torch.tensor([0] * 5), linear_bias=torch.randn(3)))
    check_error(lambda: NF.linear_cross_entropy(x, w, ndgrad.rand(5, 4), ignore_index=0),
                ["ignore_index", "probabilities"], RuntimeError,
                torch_fn=lambda: TF.linear_cross_entropy(tx, tw, torch.rand(5, 4), ignore_index=0))
    check_error(lambda: nn.LinearCrossEntropyLoss(6, 4, weight=ndgrad.ones(3)), ["weight shape", r"\(4,\)"],
                RuntimeError, torch_fn=lambda: torch.nn.LinearCrossEntropyLoss(6, 4, weight=torch.ones(3)))

"""The activations added for issue 9 (selu, celu, hardswish, shrinks, threshold, glu, prelu, rrelu,
gumbel_softmax, the in-place ``_`` variants) and their modules, against torch: forward values,
gradients, gradcheck of each backward rule, second derivatives, reprs and error messages."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as NF
import ndgrad.nn.functional_activations as NFA
from ndgrad.autograd import gradcheck, gradgradcheck
from oracle import GRAD_TOL, check_error, check_higher_order, check_op

# torch computes some float64 derivatives with float32 constants (1/6 in hardsigmoid, 1/alpha in celu),
# so gradients are compared at the oracle's float64 gradient tolerance
GRAD_ATOL, GRAD_RTOL = GRAD_TOL["float64"]


def fcheck(name, inputs, check=None, **kwargs):
    """check_op for F.<name>(*inputs, **kwargs) in both libraries."""
    return check_op(inputs, lambda *a: getattr(TF, name)(*a, **kwargs),
                    lambda *a: getattr(NF, name)(*a, **kwargs), **(check or {}))


def leaf(*shape, low=-4.0, high=4.0):
    return ndgrad.from_numpy(np.random.uniform(low, high, size=shape)).requires_grad_(True)


# ---------------------------------------------------------------------------------------------
# element-wise functions: values and gradients on several shapes, float32 and non-contiguous input
# ---------------------------------------------------------------------------------------------
POINTWISE = [
    ("selu", {}), ("celu", {}), ("celu", dict(alpha=0.4)), ("celu", dict(alpha=-1.5)), ("hardswish", {}),
    ("hardsigmoid", {}), ("hardshrink", {}), ("hardshrink", dict(lambd=1.3)), ("softshrink", {}),
    ("softshrink", dict(lambd=0.0)), ("softshrink", dict(lambd=1.7)), ("tanhshrink", {}),
    ("threshold", dict(threshold=0.3, value=-2.0)), ("threshold", dict(threshold=-1.0, value=7.5)),
    ("rrelu", {}), ("rrelu", dict(lower=0.2, upper=0.6)),
]
SHAPES = [(4, 7), (), (0, 3), (2, 1, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,kw", POINTWISE, ids=str)
def test_pointwise_matches_torch(name, kw, shape):
    fcheck(name, [shape], check=dict(low=-5, high=5), **kw)


@pytest.mark.parametrize("name,kw", POINTWISE, ids=str)
def test_pointwise_float32_and_noncontiguous(name, kw):
    fcheck(name, [(3, 5)], check=dict(low=-5, high=5, dtype="float32"), **kw)
    fcheck(name, [(3, 5)], check=dict(low=-5, high=5, contiguous=False), **kw)


@pytest.mark.parametrize("name,kw", [p for p in POINTWISE if p[0] not in ("hardshrink", "softshrink", "threshold", "hardsigmoid",
                                                                        "rrelu")], ids=str)
def test_pointwise_second_derivative_matches_torch(name, kw):
    check_higher_order([(3, 5)], lambda x: getattr(TF, name)(x, **kw), lambda x: getattr(NF, name)(x, **kw),
                       low=-5, high=5)


@pytest.mark.parametrize("name,kw", POINTWISE + [("glu", {}), ("glu", dict(dim=0))], ids=str)
def test_gradcheck(name, kw):
    # values near the kinks (0, +-3, +-lambd, threshold) are avoided: the numerical derivative is undefined there
    x = ndgrad.from_numpy(np.array([[-4.7, -2.2, -0.9, -0.1], [0.2, 0.8, 2.4, 3.9]])).requires_grad_(True)
    fn = lambda t: getattr(NF, name)(t, **kw)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_extremes_are_finite():
    x = np.array([-800.0, -40.0, -3.0, -1e-9, 0.0, 1e-9, 3.0, 40.0, 800.0])
    for name, kw in [("selu", {}), ("celu", dict(alpha=0.5)), ("hardswish", {}), ("hardsigmoid", {}),
                     ("tanhshrink", {})]:
        fcheck(name, [x], **kw)


def test_threshold_and_tanhshrink_on_integer_tensors():
    ints = np.arange(-3, 4).astype(np.int64)
    fcheck("threshold", [ints], threshold=0, value=9)
    fcheck("threshold", [ints], threshold=0.5, value=9.7)
    fcheck("tanhshrink", [ints])


# ---------------------------------------------------------------------------------------------
# glu, prelu, rrelu, gumbel_softmax
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,dim", [((4, 6), -1), ((4, 6), 0), ((2, 4, 3), 1), ((2,), 0), ((3, 0, 2), -1)],
                         ids=str)
def test_glu(shape, dim):
    fcheck("glu", [shape], dim=dim)


@pytest.mark.parametrize("x,w", [((3, 4), (4,)), ((3, 4), (1,)), ((2, 3, 5, 5), (3,)), ((2, 3, 5), (1,)),
                                 ((5,), (1,)), ((), (1,)), ((2, 3), ())], ids=str)
def test_prelu_input_and_weight_gradients(x, w):
    fcheck("prelu", [x, w])


def test_prelu_second_derivative():
    check_higher_order([(3, 4), (4,)], TF.prelu, NF.prelu)
    x, w = leaf(3, 4), leaf(4, low=0.1, high=0.5)
    assert gradcheck(NF.prelu, (x, w))


def test_rrelu_eval_is_leaky_relu_with_the_mean_slope():
    fcheck("rrelu", [(5, 6)], lower=0.1, upper=0.3, training=False)


def test_rrelu_training_draws_slopes_in_range_and_differentiates_through_them():
    ndgrad.manual_seed(0)
    x = leaf(400, low=-3.0, high=3.0)
    y = NF.rrelu(x, 0.1, 0.4, training=True)
    y.sum().backward()
    xv, yv, g = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
    neg = xv <= 0
    slopes = yv[neg] / xv[neg]
    assert np.all(slopes >= 0.1) and np.all(slopes <= 0.4) and slopes.std() > 0.05
    np.testing.assert_allclose(yv[~neg], xv[~neg])
    np.testing.assert_allclose(g[neg], slopes)        # the gradient is the slope that was drawn
    np.testing.assert_allclose(g[~neg], 1.0)
    ndgrad.manual_seed(0)
    again = NF.rrelu(ndgrad.from_numpy(xv), 0.1, 0.4, training=True)
    np.testing.assert_array_equal(again.numpy(), yv)   # seeded: repeatable


def _torch_gumbel_softmax_from(logits, noise, tau, hard, dim):
    """torch's gumbel_softmax algorithm, with the Gumbel noise given instead of sampled."""
    y_soft = ((logits + noise) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


@pytest.mark.parametrize("tau,hard,dim", [(1.0, False, -1), (0.5, True, -1), (2.0, True, 0), (0.7, False, 1)])
def test_gumbel_softmax_values_and_straight_through_gradient(tau, hard, dim):
    logits = np.random.randn(5, 4)
    ndgrad.manual_seed(3)
    noise = NFA.gumbel_noise(ndgrad.from_numpy(logits)).numpy()
    ndgrad.manual_seed(3)
    check_op([logits], lambda x: _torch_gumbel_softmax_from(x, torch.from_numpy(noise), tau, hard, dim),
             lambda x: NF.gumbel_softmax(x, tau=tau, hard=hard, dim=dim))


def test_gumbel_softmax_samples():
    ndgrad.manual_seed(1)
    noise = NFA.gumbel_noise(ndgrad.zeros(200000)).numpy()
    assert abs(noise.mean() - np.euler_gamma) < 0.01 and abs(noise.var() - np.pi ** 2 / 6) < 0.05
    hard = NF.gumbel_softmax(ndgrad.randn(64, 5), hard=True).numpy()
    assert set(np.unique(hard)) <= {0.0, 1.0} and np.all(hard.sum(-1) == 1)
    logits = ndgrad.tensor([np.log([0.7, 0.2, 0.1])] * 20000)
    freq = NF.gumbel_softmax(logits, tau=0.3, hard=True).numpy().mean(0)
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1], atol=0.02)   # samples follow softmax(logits)


# ---------------------------------------------------------------------------------------------
# in-place variants: the input is written, history is kept, gradients match torch
# ---------------------------------------------------------------------------------------------
INPLACE = [
    ("relu_", {}), ("elu_", dict(alpha=0.7)), ("leaky_relu_", dict(negative_slope=0.2)),
    ("hardtanh_", dict(min_val=-0.5, max_val=1.5)), ("selu_", {}), ("celu_", dict(alpha=0.6)),
    ("rrelu_", dict(lower=0.1, upper=0.3)), ("threshold_", dict(threshold=0.2, value=-1.0)),
]
INPLACE_KWARG = [("selu", {}), ("celu", dict(alpha=0.6)), ("hardswish", {}), ("hardsigmoid", {}),
                 ("threshold", dict(threshold=0.2, value=-1.0)), ("rrelu", dict(lower=0.1, upper=0.3))]


def _inplace_in_both(call):
    results = []
    for lib in (torch, ndgrad):
        x = lib.tensor(np.linspace(-3, 3, 12).reshape(3, 4), requires_grad=True)
        h = x * 1.5
        out = call(lib, h)
        assert out is h
        (out * out).sum().backward()
        results.append((h.detach().numpy().copy(), x.grad.numpy().copy()))
    (value, grad), (t_value, t_grad) = results[1], results[0]
    np.testing.assert_allclose(value, t_value, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, t_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("name,kw", INPLACE, ids=str)
def test_underscore_variants_write_into_the_input(name, kw):
    _inplace_in_both(lambda lib, h: getattr(TF if lib is torch else NF, name)(h, **kw))


@pytest.mark.parametrize("name,kw", INPLACE_KWARG, ids=str)
def test_inplace_true_writes_into_the_input(name, kw):
    _inplace_in_both(lambda lib, h: getattr(TF if lib is torch else NF, name)(h, inplace=True, **kw))


def test_inplace_without_grad_and_on_a_view():
    x = ndgrad.tensor([[-1.0, 2.0], [3.0, -4.0]])
    NF.selu_(x[0])
    np.testing.assert_allclose(x.numpy()[0], TF.selu(torch.tensor([-1.0, 2.0])).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(x.numpy()[1], [3.0, -4.0])


def test_inplace_on_a_leaf_that_requires_grad_raises():
    for name in ("relu_", "selu_", "threshold_"):
        args = (0.0, 1.0) if name == "threshold_" else ()
        check_error(lambda: getattr(NF, name)(leaf(3), *args), [name, "leaf"], RuntimeError,
                    torch_fn=lambda: getattr(TF, name)(torch.ones(3, requires_grad=True), *args))


# ---------------------------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------------------------
MODULES = [
    ("SELU", (), {}), ("CELU", (0.7,), {}), ("Hardswish", (), {}), ("Hardsigmoid", (), {}),
    ("Hardshrink", (0.8,), {}), ("Softshrink", (0.6,), {}), ("Tanhshrink", (), {}), ("Threshold", (0.1, 5.0), {}),
    ("GLU", (1,), {}), ("Softmax2d", (), {}), ("Softmin", (1,), {}), ("Softmax", (), {}), ("LogSoftmax", (), {}),
    ("Softmax", (-1,), {}), ("LogSoftmax", (2,), {}), ("PReLU", (), {}), ("PReLU", (4, 0.1), {}), ("SiLU", (), {}),
    ("Mish", (), {}), ("ELU", (0.3,), {}), ("Hardtanh", (-0.5, 0.5), {}), ("ReLU6", (), {}), ("LogSigmoid", (), {}),
    ("Softsign", (), {}), ("Tanh", (), {}), ("Sigmoid", (), {}), ("GELU", (), {"approximate": "tanh"}),
    ("RReLU", (0.1, 0.2), {}), ("LeakyReLU", (0.3,), {}), ("Softplus", (2.0, 1.0), {}),
]


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
@pytest.mark.parametrize("name,args,kw", MODULES, ids=lambda v: str(v))
def test_module_matches_torch_in_eval(name, args, kw):
    tm = getattr(torch.nn, name)(*args, **kw).double().eval()
    nm = getattr(nn, name)(*args, **kw).double().eval()
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: ndgrad.tensor(v.detach().numpy() * 1.3) for k, v in tm.state_dict().items()})
    with torch.no_grad():
        for p in tm.parameters():
            p.mul_(1.3)
    shape = (2, 4, 3, 5)
    x = np.random.uniform(-5, 5, size=shape)
    tx, nx = torch.tensor(x, requires_grad=True), ndgrad.tensor(x, requires_grad=True)
    ty, ny = tm(tx), nm(nx)
    np.testing.assert_allclose(ny.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.randn(*ty.shape)
    (ty * torch.tensor(w)).sum().backward()
    (ny * ndgrad.tensor(w)).sum().backward()
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)
    for (n, p), (tn, tp) in zip(nm.named_parameters(), tm.named_parameters()):
        assert n == tn
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
@pytest.mark.parametrize("shape", [(), (5,), (3, 5), (2, 3, 4), (2, 3, 4, 2)], ids=str)
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax", "Softmin"])
def test_softmax_modules_pick_torchs_implicit_dim(name, shape):
    check_op([shape], lambda x: getattr(torch.nn, name)()(x), lambda x: getattr(nn, name)()(x))


@pytest.mark.parametrize("make", [
    "RReLU()", "RReLU(0.1, 0.3, True)", "Hardswish(True)", "Hardsigmoid(inplace=True)", "Hardshrink()",
    "Softshrink(0.3)", "Tanhshrink()", "Threshold(0.1, 20)", "Threshold(0.1, 20, True)", "Softmax2d()",
    "CELU(0.5, True)", "CELU()", "SELU(True)", "SELU()", "GLU()", "PReLU(3, 0.1)", "Softmin(dim=1)",
    "LogSoftmax()", "Mish(True)", "SiLU(inplace=True)",
])
def test_module_repr_matches_torch(make):
    assert repr(eval("nn." + make)) == repr(eval("torch.nn." + make))


def test_module_inplace_flag_writes_into_the_input():
    for make in ("SELU(True)", "CELU(0.5, True)", "Hardswish(True)", "Hardsigmoid(True)", "Threshold(0.0, 2.0, True)",
                 "RReLU(inplace=True)"):
        x = ndgrad.tensor(np.linspace(-4, 4, 10))
        t = torch.tensor(np.linspace(-4, 4, 10))
        out = eval("nn." + make).eval()(x)
        eval("torch.nn." + make).eval()(t)
        assert out is x
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-12)


def test_rrelu_module_is_random_in_training_only():
    m = nn.RReLU(0.1, 0.3)
    x = ndgrad.tensor(-np.ones(1000))
    slopes = -m(x).numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    np.testing.assert_allclose(-m.eval()(x).numpy(), 0.2)


def test_prelu_module_init_and_channel_check():
    m = nn.PReLU(3, init=0.4)
    np.testing.assert_array_equal(m.weight.detach().numpy(), torch.nn.PReLU(3, init=0.4).weight.detach().numpy())
    check_error(lambda: m(ndgrad.randn(2, 5)), ["PReLU", "3 channels", r"\(2, 5\)"])


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
def test_errors_name_the_op_and_the_fix():
    x = ndgrad.randn(2, 5)
    check_error(lambda: NF.glu(x, 1), ["glu", "even", "dimension 1 is size 5"], RuntimeError,
                torch_fn=lambda: TF.glu(torch.randn(2, 5), 1))
    check_error(lambda: NF.glu(ndgrad.tensor(1.0)), ["glu", "scalars"], RuntimeError,
                torch_fn=lambda: TF.glu(torch.tensor(1.0)))
    check_error(lambda: NF.glu(x, 2), ["glu", "out of range", r"\(2, 5\)"], IndexError,
                torch_fn=lambda: TF.glu(torch.randn(2, 5), 2))
    check_error(lambda: NF.prelu(x, ndgrad.ones(4)), ["prelu", "parameter numbers = 4", "channel size = 5"],
                RuntimeError, torch_fn=lambda: TF.prelu(torch.randn(2, 5), torch.ones(4)))
    check_error(lambda: NF.prelu(x, ndgrad.ones(1, 5)), ["prelu", "1D", "ndim = 2"], RuntimeError,
                torch_fn=lambda: TF.prelu(torch.randn(2, 5), torch.ones(1, 5)))
    check_error(lambda: NF.rrelu(x, 0.5, 0.1), ["rrelu", "lower bound", "upper"], RuntimeError,
                torch_fn=lambda: TF.rrelu(torch.randn(3), 0.5, 0.1))
    check_error(lambda: NF.celu(x, 0.0), ["celu", "alpha cannot be 0"], RuntimeError,
                torch_fn=lambda: TF.celu(torch.randn(3), 0.0))
    check_error(lambda: NF.softshrink(x, -1.0), ["softshrink", "lambda", "-1"], RuntimeError,
                torch_fn=lambda: TF.softshrink(torch.randn(3), -1.0))
    ints = ndgrad.tensor([1, 2, 3])
    for name in ("selu", "hardswish", "hardsigmoid", "hardshrink", "celu"):
        check_error(lambda: getattr(NF, name)(ints), [name, "int64", r"\.float\(\)"], NotImplementedError,
                    torch_fn=lambda: getattr(TF, name)(torch.tensor([1, 2, 3])))
    check_error(lambda: nn.Softmax2d()(x), ["Softmax2d", "3D or 4D", "got 2D"], ValueError,
                torch_fn=lambda: torch.nn.Softmax2d()(torch.randn(2, 5)))


def test_functional_names_are_exported():
    for name in ("selu", "celu", "rrelu", "hardswish", "hardsigmoid", "hardshrink", "softshrink", "tanhshrink",
                 "threshold", "glu", "prelu", "gumbel_softmax", "relu_", "elu_", "leaky_relu_", "hardtanh_",
                 "selu_", "celu_", "rrelu_", "threshold_"):
        assert name in NF.__all__ and callable(getattr(NF, name))
    for name in ("RReLU", "Hardshrink", "Softshrink", "Tanhshrink", "Threshold", "Softmax2d"):
        assert name in nn.__all__

"""In-place twins (ndgrad/ops/inplace_twins.py) against PyTorch: values, version counters, autograd, views."""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_op, random_array

# name, extra arguments (shapes become random tensors, other values are passed as they are), low, high
UNARY = [
    ("sin", [], -2, 2), ("cos", [], -2, 2), ("tan", [], -1, 1), ("asin", [], -0.9, 0.9), ("acos", [], -0.9, 0.9),
    ("atan", [], -2, 2), ("sinh", [], -2, 2), ("cosh", [], -2, 2), ("asinh", [], -2, 2), ("acosh", [], 1.2, 3),
    ("atanh", [], -0.9, 0.9), ("arcsin", [], -0.9, 0.9), ("arctan", [], -2, 2), ("exp2", [], -2, 2),
    ("expm1", [], -2, 2), ("log2", [], 0.2, 3), ("log10", [], 0.2, 3), ("log1p", [], -0.5, 3),
    ("rsqrt", [], 0.2, 3), ("erf", [], -2, 2), ("erfc", [], -2, 2), ("erfinv", [], -0.9, 0.9),
    ("lgamma", [], 0.2, 3), ("digamma", [], 0.5, 3), ("i0", [], -2, 2), ("sinc", [], -2, 2),
    ("logit", [], 0.1, 0.9), ("logit", [0.2], 0.05, 0.95), ("nan_to_num", [], -2, 2), ("deg2rad", [], -90, 90),
    ("rad2deg", [], -2, 2), ("frac", [], -3, 3), ("fix", [], -3, 3), ("sgn", [], -2, 2), ("negative", [], -2, 2),
    ("absolute", [], -2, 2), ("clamp_min", [0.1], -1, 1), ("clamp_max", [0.1], -1, 1), ("polygamma", [1], 0.5, 3),
    ("mvlgamma", [2], 1.5, 3), ("cumsum", [1], -2, 2), ("cumprod", [0], -2, 2), ("tril", [], -2, 2),
    ("triu", [1], -2, 2), ("renorm", [2, 0, 1.0], -2, 2),
]
BINARY = [
    ("hypot", [(3, 4)], -2, 2), ("copysign", [(3, 4)], -2, 2), ("atan2", [(4,)], -2, 2),
    ("arctan2", [(3, 4)], -2, 2), ("xlogy", [(3, 4)], 0.2, 2), ("fmod", [1.5], -3, 3),
    ("true_divide", [(3, 4)], 0.5, 2), ("lerp", [(3, 4), 0.3], -2, 2), ("lerp", [(3, 4), (3, 4)], -2, 2),
    ("addcmul", [(3, 4), (4,)], -2, 2), ("addcdiv", [(3, 4), (3, 4)], 0.5, 2), ("addmm", [(3, 5), (5, 4)], -2, 2),
    ("mul", [(3, 4)], -2, 2), ("add", [(4,)], -2, 2), ("pow", [2.5], 0.5, 2), ("sub", [(3, 4)], -2, 2),
    ("addr", [(3,), (4,)], -2, 2), ("ldexp", [(4,)], -2, 2),
    ("clamp_min", [(3, 4)], -2, 2), ("clamp_max", [(4,)], -2, 2),
]
# torch has no derivative for these in-place versions (the out-of-place ones have one), and sgn's
# gradient is a ZeroTensor the oracle cannot read: compare values, and our gradient with the out-of-place op's
NO_TORCH_GRAD = {"asinh", "acosh", "atanh", "sgn"}


def _on_copy(name, args):
    """x -> (x * 1).name_(*args): the twin applied to a non-leaf, so gradients reach x."""
    def fn(x, *tensors):
        it = iter(tensors)
        real = [next(it) if isinstance(a, tuple) else a for a in args]
        y = x * 1
        out = getattr(y, name + "_")(*real)
        assert out is y
        return y
    return fn


def _on_view(name, args):
    """x -> base, after base[1:].name_(*args): the twin changes a view and the base's history is rewritten."""
    def fn(x, *tensors):
        it = iter(tensors)
        real = [next(it) if isinstance(a, tuple) else a for a in args]
        base = x * 1
        view = base[1:]
        assert getattr(view, name + "_")(*real) is view
        return base
    return fn


def _check_twin(name, args, low, high, as_view):
    shape = (4, 4) if as_view else (3, 4)
    inputs = [shape] + [a for a in args if isinstance(a, tuple)]
    wrap = _on_view if as_view else _on_copy
    if name in NO_TORCH_GRAD:
        check_op(inputs, wrap(name, args), dtype="float64", low=low, high=high, grad=False)
        x = ndgrad.tensor(random_array(shape, "float64", low, high), requires_grad=True)
        wrap(name, args)(x).sum().backward()
        x2 = ndgrad.tensor(x.detach().numpy(), requires_grad=True)
        expected = x2 * 1
        if as_view:
            expected = ndgrad.cat([expected[:1], getattr(expected[1:], name)()])
        else:
            expected = getattr(expected, name)()
        expected.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-12)
        return
    check_op(inputs, wrap(name, args), dtype="float64", low=low, high=high)


@pytest.mark.parametrize("name,args,low,high", UNARY, ids=[f"{u[0]}{u[1]}" for u in UNARY])
@pytest.mark.parametrize("as_view", [False, True], ids=["tensor", "view"])
def test_unary_twin_values_and_gradients(name, args, low, high, as_view):
    _check_twin(name, args, low, high, as_view)


@pytest.mark.parametrize("name,args,low,high", BINARY, ids=[f"{b[0]}-{i}" for i, b in enumerate(BINARY)])
@pytest.mark.parametrize("as_view", [False, True], ids=["tensor", "view"])
def test_binary_twin_values_and_gradients(name, args, low, high, as_view):
    _check_twin(name, args, low, high, as_view)


@pytest.mark.parametrize("name,shapes", [("baddbmm", [(2, 3, 4), (2, 3, 5), (2, 5, 4)]),
                                         ("addbmm", [(3, 4), (2, 3, 5), (2, 5, 4)]),
                                         ("addmv", [(3,), (3, 5), (5,)])])
def test_batched_product_twins(name, shapes):
    check_op(shapes, lambda x, a, b: getattr(x * 1, name + "_")(a, b, beta=0.5, alpha=2.0))


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal", "logical_and",
                                  "logical_or", "logical_xor"])
def test_comparison_twins_write_in_own_dtype(name):
    a, b = random_array((3, 4)), random_array((3, 4))
    check_op([a, b], lambda x, y: getattr(x.clone(), name + "_")(y), grad=False)
    check_op([a.astype("int64"), b.astype("int64")], lambda x, y: getattr(x.clone(), name + "_")(y), grad=False)


@pytest.mark.parametrize("name", ["logical_not", "bitwise_not"])
def test_unary_logic_twins(name):
    check_op([(3, 4)], lambda x: getattr(x.clone(), name + "_")(), dtype="int32", low=-3, high=3, grad=False)
    check_op([(3, 4)], lambda x: getattr(x.clone(), name + "_")(), dtype="bool", grad=False)


@pytest.mark.parametrize("name", ["gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "heaviside"])
def test_integer_binary_twins(name):
    check_op([(3, 4), (3, 4)], lambda x, y: getattr(x.clone(), name + "_")(y), dtype="int64", low=-6, high=9,
             grad=False)


@pytest.mark.parametrize("name", ["sin", "exp2", "erf", "log1p", "clamp_min", "nan_to_num", "xlogy", "sinc"])
def test_functional_twins(name):
    args = {"clamp_min": [0.2], "xlogy": [2.0]}.get(name, [])
    x = random_array((3, 4), "float64", 0.1, 0.9)
    t, n = torch.tensor(x.copy()), ndgrad.tensor(x.copy())
    assert getattr(ndgrad, name + "_")(n, *args) is n
    getattr(torch, name + "_")(t, *args)
    np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=1e-12)


def test_version_counter_and_saved_tensor_check():
    x = ndgrad.randn(3, requires_grad=True)
    y = x.exp()
    before = y._version
    y.sin_()
    assert y._version == before + 1
    z = x.sin()
    w = z * 1
    z2 = w.erf()  # erf saves its input w
    w.cos_()
    check_error(lambda: z2.sum().backward(), "modified by an in-place operation")


def test_twins_refuse_what_torch_refuses():
    check_error(lambda: ndgrad.ones(3, dtype=ndgrad.int64).sin_(), ["sin_", "int64"],
                torch_fn=lambda: torch.ones(3, dtype=torch.int64).sin_())
    check_error(lambda: ndgrad.ones(3).float_power_(2), ["float_power_", "float64"],
                torch_fn=lambda: torch.ones(3).float_power_(2))
    check_error(lambda: ndgrad.ones(3).hypot_(ndgrad.ones(2, 3)), ["hypot_", "shape"],
                torch_fn=lambda: torch.ones(3).hypot_(torch.ones(2, 3)))
    leaf = ndgrad.ones(3, requires_grad=True)
    check_error(lambda: leaf.sin_(), "leaf", torch_fn=lambda: torch.ones(3, requires_grad=True).sin_())


def test_float_power_twin_on_double():
    check_op([(3, 4), (3, 4)], lambda x, y: x.clone().float_power_(y), low=0.5, high=2)
    check_op([(3, 4)], lambda x: x.clone().float_power_(2.5), low=0.5, high=2)


def test_twin_without_grad_writes_into_shared_memory():
    x = ndgrad.tensor([0.0, 1.0, 2.0, 3.0])
    v = x[1:3]
    v.exp2_()
    np.testing.assert_allclose(x.numpy(), [0.0, 2.0, 4.0, 3.0])
    with ndgrad.no_grad():
        p = ndgrad.ones(2, requires_grad=True)
        p.clamp_max_(0.5)
    np.testing.assert_allclose(p.detach().numpy(), [0.5, 0.5])


@pytest.mark.parametrize("op", ["%=", "//=", "&=", "|=", "^="])
def test_augmented_assignment_writes_into_the_tensor(op):
    a_np = np.array([5, 7, 12, 9])
    b_np = np.array([3, 2, 5, 4])
    x = ndgrad.tensor(a_np)
    alias = x
    t = torch.tensor(a_np)
    exec(f"x {op} ndgrad.tensor(b_np)")
    exec(f"t {op} torch.tensor(b_np)")
    assert alias is x or alias._data is x._data
    np.testing.assert_array_equal(alias.numpy(), t.numpy())

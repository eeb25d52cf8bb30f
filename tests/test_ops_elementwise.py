"""Elementwise ops against PyTorch: values, dtypes and gradients (tests/oracle.py)."""
import operator

import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_op, random_array

FLOATS = ["float32", "float64"]

# Broadcasting pairs, edge shapes included: 0-d, size-1 and size-0 dimensions.
BROADCAST_SHAPES = [
    [(3, 4), (3, 4)],
    [(3, 4), (4,)],
    [(4,), (3, 4)],
    [(3, 1), (1, 4)],
    [(2, 1, 4), (3, 1)],
    [(5, 1, 1), (1,)],
    [(), (3, 4)],
    [(3, 4), ()],
    [(), ()],
    [(1,), (1, 1)],
    [(0, 4), (4,)],
    [(2, 0), (1, 1)],
]


def shape_re(*dims):
    """A regex for a shape printed as (3, 4), [3, 4] or torch.Size([3, 4])."""
    inner = r",\s*".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + "?"
    return r"[\(\[]" + inner + r"[\)\]]"


# --- arithmetic ---------------------------------------------------------------------------------

BINARY_OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv]


@pytest.mark.parametrize("op", BINARY_OPERATORS, ids=lambda op: op.__name__)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_operators_broadcast(op, shapes, dtype):
    # keep divisors away from zero
    low, high = (0.5, 2.0) if op is operator.truediv else (-2.0, 2.0)
    check_op(shapes, op, dtype=dtype, low=low, high=high)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_binary_functions_and_methods(name):
    check_op([(3, 4), (4,)], getattr(torch, name), getattr(ndgrad, name), low=0.5, high=2.0)
    check_op([(3, 4), (4,)], lambda x, y: getattr(x, name)(y), low=0.5, high=2.0)


def test_add_sub_alpha():
    check_op([(3, 4), (4,)], lambda x, y: torch.add(x, y, alpha=2.5), lambda x, y: ndgrad.add(x, y, alpha=2.5))
    check_op([(3, 4), (4,)], lambda x, y: torch.sub(x, y, alpha=-1.5), lambda x, y: ndgrad.sub(x, y, alpha=-1.5))


@pytest.mark.parametrize("scalar", [2, 2.5, -0.5])
@pytest.mark.parametrize("fn", [
    lambda x, s: x + s, lambda x, s: s + x,
    lambda x, s: x - s, lambda x, s: s - x,
    lambda x, s: x * s, lambda x, s: s * x,
    lambda x, s: x / s, lambda x, s: s / x,
], ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_scalar_and_reflected_operators(fn, scalar, dtype):
    check_op([(3, 4), scalar], fn, dtype=dtype, low=0.5, high=2.0)


def test_bool_scalar_operand():
    # PyTorch forbids `-` with bools; the other operators treat True as 1
    for fn in [lambda x: x + True, lambda x: True * x, lambda x: x / True, lambda x: False + x]:
        check_op([(3, 4)], fn)
        check_op([(3, 4)], fn, dtype="int32", low=0, high=5)
    x = ndgrad.ones(3)
    check_error(lambda: x - True, [r"sub", r"bool"], torch_fn=lambda: torch.ones(3) - True)
    check_error(lambda: True - x, [r"sub", r"bool"], torch_fn=lambda: True - torch.ones(3))
    check_error(lambda: ndgrad.tensor([True]) - ndgrad.tensor([False]), [r"sub", r"bool"],
                torch_fn=lambda: torch.tensor([True]) - torch.tensor([False]))


def test_negation():
    check_op([(3, 4)], operator.neg)
    check_op([(3, 4)], torch.neg, ndgrad.neg)
    check_op([(3, 4)], lambda x: x.neg())
    check_op([np.arange(-3, 3, dtype=np.int32)], operator.neg)


def test_non_contiguous_inputs():
    for op in BINARY_OPERATORS:
        check_op([(3, 4), (3, 4)], op, low=0.5, high=2.0, contiguous=False)
        check_op([(2, 3, 4), (4,)], op, low=0.5, high=2.0, contiguous=False)
    check_op([(5, 3)], lambda x: x.exp() * x.sin(), contiguous=False)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_floor_divide_and_remainder_forward(dtype):
    # these operators are not differentiable in PyTorch either; forward only
    check_op([(3, 4), (4,)], operator.floordiv, dtype=dtype, low=1, high=7, grad=False)
    check_op([(3, 4), (4,)], operator.mod, dtype=dtype, low=1, high=7, grad=False)
    check_op([(3, 4), 3], operator.floordiv, dtype=dtype, low=-7, high=7, grad=False)
    check_op([(3, 4), 3], operator.mod, dtype=dtype, low=-7, high=7, grad=False)


def test_same_tensor_used_twice_accumulates():
    check_op([(3, 4)], lambda x: x * x + x / (x.abs() + 1))


# --- pow ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("exponent", [2, 3, 0, 1, -1, -2, 0.5, 1.5, -0.5, 2.0])
@pytest.mark.parametrize("dtype", FLOATS)
def test_pow_scalar_exponent_positive_base(exponent, dtype):
    check_op([(3, 4)], lambda x: x ** exponent, dtype=dtype, low=0.5, high=2.0)
    check_op([(3, 4)], lambda x: torch.pow(x, exponent), lambda x: ndgrad.pow(x, exponent), dtype=dtype,
             low=0.5, high=2.0)


@pytest.mark.parametrize("exponent", [2, 3, -1, -3, 2.0, 3.0, 0])
def test_pow_negative_base_integer_exponent(exponent):
    base = random_array((4, 5), "float64", 0.5, 2.0) * np.where(random_array((4, 5), "bool"), 1.0, -1.0)
    check_op([base], lambda x: x ** exponent)


def test_pow_negative_base_integer_tensor_exponent():
    base = random_array((4, 5), "float64", 0.5, 2.0) * np.where(random_array((4, 5), "bool"), 1.0, -1.0)
    exponent = random_array((4, 5), "int64", -3, 4)
    check_op([base, exponent], lambda x, e: x ** e)


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(3, 1), ()]], ids=str)
def test_pow_tensor_exponent(shapes):
    check_op(shapes, lambda x, y: x ** y, low=0.5, high=2.0)
    check_op(shapes, torch.pow, ndgrad.pow, low=0.5, high=2.0)


@pytest.mark.parametrize("base", [2, 2.5, 0.5])
def test_pow_scalar_base(base):
    check_op([(3, 4)], lambda x: base ** x)


def test_pow_zero_base_tensor_exponent_gradient_is_finite():
    # d/dy 0**y = 0**y * log(0): PyTorch masks it to 0 for y >= 0 instead of nan
    check_op([np.array([0.0, 0.0, 1.5, 2.0]), np.array([2.0, 3.0, 2.0, 0.5])], lambda x, y: x ** y)


def test_pow_int_tensor():
    check_op([np.arange(-3, 4, dtype=np.int64)], lambda x: x ** 2)
    check_op([np.arange(-3, 4, dtype=np.int64)], lambda x: x ** 2.5, grad=False)


# --- unary math ---------------------------------------------------------------------------------

# name -> (low, high) input range where the function and its derivative are smooth
UNARY = {
    "exp": (-3, 3), "log": (0.1, 3), "log1p": (-0.9, 3), "expm1": (-3, 3), "sqrt": (0.1, 3),
    "rsqrt": (0.1, 3), "abs": (-2, 2), "sign": (-2, 2), "sin": (-4, 4), "cos": (-4, 4),
    "tanh": (-3, 3), "sigmoid": (-5, 5), "relu": (-2, 2), "neg": (-2, 2),
}
UNARY_SHAPES = [(3, 4), (), (1,), (0,), (2, 0, 3), (2, 1, 3)]


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_unary_function(name, shape, dtype):
    low, high = UNARY[name]
    check_op([shape], getattr(torch, name), getattr(ndgrad, name), dtype=dtype, low=low, high=high)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_method(name):
    low, high = UNARY[name]
    check_op([(3, 4)], lambda x: getattr(x, name)(), low=low, high=high)
    check_op([(4, 3)], lambda x: getattr(x, name)(), low=low, high=high, contiguous=False)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sigmoid", "tanh", "sin", "relu", "abs"])
def test_unary_float16(name):
    low, high = UNARY[name]
    check_op([(3, 4)], getattr(torch, name), getattr(ndgrad, name), dtype="float16", low=low, high=high)


@pytest.mark.parametrize("name", ["exp", "log1p", "sqrt", "sin", "tanh", "sigmoid", "abs", "neg", "sign", "relu"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_unary_integer_input_dtype(name, dtype):
    # transcendental functions of integers give the default float; abs/neg/sign/relu keep the integer type
    check_op([(3, 4)], getattr(torch, name), getattr(ndgrad, name), dtype=dtype, low=0, high=9)


def test_kinks_at_zero_match_pytorch():
    # abs, relu and sign at exactly 0: PyTorch's subgradient is 0
    x = np.array([-1.0, 0.0, 0.0, 2.0])
    for name in ["abs", "relu", "sign"]:
        check_op([x], getattr(torch, name), getattr(ndgrad, name))


def test_sigmoid_tanh_extreme_inputs_are_finite():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    check_op([x], torch.sigmoid, ndgrad.sigmoid)
    check_op([x], torch.tanh, ndgrad.tanh)
    check_op([x.astype(np.float32)], torch.sigmoid, ndgrad.sigmoid)


def test_composite_expression():
    check_op([(3, 4), (4,)], lambda x, y: ((x * y).sigmoid() + (x - y).tanh() * 2).exp() / (1 + y.abs()))


# --- clamp, maximum, minimum, where -------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(min=-0.5, max=0.5), dict(min=-0.5), dict(max=0.5), dict(min=0, max=1)],
                         ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_clamp_scalars(kwargs, dtype):
    check_op([(4, 5)], lambda x: torch.clamp(x, **kwargs), lambda x: ndgrad.clamp(x, **kwargs), dtype=dtype)
    check_op([(4, 5)], lambda x: x.clamp(**kwargs), dtype=dtype)


def test_clamp_positional_and_boundary_gradient():
    check_op([(4, 5)], lambda x: x.clamp(-0.5, 0.5))
    # values exactly at the bounds pass the gradient through, as in PyTorch
    check_op([np.array([-1.0, -0.5, 0.0, 0.5, 1.0])], lambda x: x.clamp(-0.5, 0.5))


@pytest.mark.parametrize("shapes", [[(4, 5), (4, 5), (4, 5)], [(4, 5), (5,), (4, 1)], [(4, 5), (), ()]], ids=str)
def test_clamp_tensor_bounds(shapes):
    def fn(lib):
        def clamp(x, lo, hi):
            return lib.clamp(x, lo - 1.0, hi + 1.0)  # lo in [-3, 1), hi in [-1, 3): mixes all three cases
        return clamp
    check_op(shapes, fn(torch), fn(ndgrad))
    check_op(shapes[:2], lambda x, lo: torch.clamp(x, min=lo), lambda x, lo: ndgrad.clamp(x, min=lo))
    check_op(shapes[:2], lambda x, hi: torch.clamp(x, max=hi), lambda x, hi: ndgrad.clamp(x, max=hi))


def test_clamp_int_keeps_dtype():
    check_op([(3, 4)], lambda x: x.clamp(0, 5), dtype="int64", low=-9, high=9)
    check_op([(3, 4)], lambda x: x.clamp(0.5, 5.5), dtype="int64", low=-9, high=9, grad=False)


def test_clamp_without_bounds_raises():
    x = ndgrad.ones(3)
    check_error(lambda: ndgrad.clamp(x), r"clamp", torch_fn=lambda: torch.clamp(torch.ones(3)))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(3, 1), (1, 4)], [(), (2, 3)]], ids=str)
def test_maximum_minimum(name, shapes):
    check_op(shapes, getattr(torch, name), getattr(ndgrad, name))
    check_op(shapes, lambda x, y: getattr(x, name)(y))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_gradient(name):
    x = np.array([[1.0, 2.0, -1.0], [0.5, 0.5, 3.0]])
    y = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 3.0]])
    check_op([x, y], getattr(torch, name), getattr(ndgrad, name))


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4), (3, 4)], [(3, 4), (4,), (3, 1)], [(4,), (3, 4), ()]], ids=str)
def test_where(shapes):
    cond = random_array(shapes[0], "bool")
    check_op([cond, shapes[1], shapes[2]], torch.where, ndgrad.where)


def test_where_scalars_and_method():
    cond = random_array((3, 4), "bool")
    check_op([cond, (3, 4)], lambda c, x: torch.where(c, x, 0.0), lambda c, x: ndgrad.where(c, x, 0.0))
    check_op([cond, (3, 4)], lambda c, x: torch.where(c, 1.5, x), lambda c, x: ndgrad.where(c, 1.5, x))
    check_op([cond, (3, 4), (3, 4)], lambda c, x, y: x.where(c, y))


def test_where_dtype_promotion():
    cond = random_array((3, 4), "bool")
    check_op([cond, (3, 4), (3, 4)], torch.where, ndgrad.where, dtype=["bool", "float32", "float64"])
    check_op([cond, (3, 4)], lambda c, x: torch.where(c, x, 2), lambda c, x: ndgrad.where(c, x, 2),
             dtype=["bool", "int32"])


# --- comparisons and logical ops (never differentiable) -----------------------------------------

COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(3, 1), (1, 4)], [(), (3,)], [(0,), (1,)]],
                         ids=str)
def test_comparison_operators(op, shapes):
    # integers in a small range so that ties actually occur; float inputs that require grad give no-grad bools
    check_op(shapes, op, dtype="int64", low=0, high=3)
    check_op(shapes, op, dtype="float64")
    x = random_array(shapes[0], "float64", 0, 3).round()
    y = random_array(shapes[1], "float64", 0, 3).round()
    check_op([x, y], op)


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_functions_with_scalars(name):
    check_op([(3, 4), 0.5], getattr(torch, name), getattr(ndgrad, name))
    check_op([(3, 4), 1], lambda x, s: getattr(x, name)(s), dtype="int32", low=0, high=3)


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
def test_reflected_comparisons(op):
    check_op([(3, 4)], lambda x: op(0.5, x))


def test_comparison_mixed_dtypes():
    check_op([(3, 4), (4,)], operator.lt, dtype=["int32", "float32"], low=-2, high=2)
    check_op([(3, 4), (4,)], operator.eq, dtype=["uint8", "int64"], low=0, high=3)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary(name):
    check_op([(3, 4), (4,)], getattr(torch, name), getattr(ndgrad, name), dtype="bool")
    check_op([(3, 4), (4,)], getattr(torch, name), getattr(ndgrad, name), dtype="float64", low=-1, high=1)
    check_op([(3, 4), (4,)], getattr(torch, name), getattr(ndgrad, name), dtype="int64", low=0, high=2)


def test_logical_not_and_bitwise_operators_on_bool():
    check_op([(3, 4)], torch.logical_not, ndgrad.logical_not, dtype="bool")
    check_op([(3, 4)], torch.logical_not, ndgrad.logical_not, dtype="float64", low=-1, high=1)
    check_op([(3, 4)], operator.invert, dtype="bool")
    for op in [operator.and_, operator.or_, operator.xor]:
        check_op([(3, 4), (4,)], op, dtype="bool")
        check_op([(3, 4), (4,)], op, dtype="int64", low=0, high=8)


def test_comparison_output_has_no_grad():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x > 1.5
    assert y.dtype == ndgrad.bool
    assert y.requires_grad is False and y.grad_fn is None


# --- dtype promotion (PyTorch's rules) ----------------------------------------------------------

def _operand(spec):
    """('int32', (3,)) -> a random array of that dtype and shape; python scalars stay as they are."""
    if isinstance(spec, tuple):
        dtype, shape = spec
        return random_array(shape, dtype, 1, 5)
    return spec


PROMOTION_CASES = [
    # (left, right): tensors as (dtype, shape), python scalars as they are
    (("int64", (3,)), 2.5),                      # weak float scalar -> default float
    (("int32", (3,)), 2),                        # weak int scalar keeps int32
    (("int32", (3,)), ("int64", ())),            # 0-d tensor of the same category does not widen
    (("int32", ()), ("int64", ())),              # both 0-d: ordinary promotion
    (("int32", (3,)), ("float64", ())),          # 0-d of a higher category decides the category and size
    (("float16", (3,)), ("float64", ())),        # same category: dimensioned tensor wins
    (("float32", (3,)), ("float64", ())),
    (("float32", (3,)), 2),
    (("float64", (3,)), 2.5),
    (("float16", (3,)), 2.5),
    (("bool", (3,)), ("int32", (3,))),
    (("bool", (3,)), 1),
    (("bool", (3,)), True),
    (("bool", (3,)), 1.5),
    (("bool", (3,)), ("float16", ())),
    (("uint8", (3,)), ("int8", (3,))),           # -> int16
    (("uint8", (3,)), 3),
    (("int8", (3,)), ("uint8", ())),
    (("float16", (3,)), ("float32", (3,))),
    (("int64", (3,)), ("float16", (3,))),        # category beats size: float16
    (("int16", (2, 3)), ("int32", (3,))),
    (("uint8", (3,)), ("int64", (3,))),
]


@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.sub, operator.truediv],
                         ids=lambda op: op.__name__)
@pytest.mark.parametrize("left,right", PROMOTION_CASES, ids=str)
def test_dtype_promotion(op, left, right):
    if op is operator.sub and "bool" in str(left) + str(right):
        # PyTorch forbids `-` with a bool tensor (use ~ or logical_not); so must ndgrad
        a, b = _operand(left), _operand(right)
        as_nd = lambda v: ndgrad.tensor(v) if isinstance(v, np.ndarray) else v  # noqa: E731
        as_t = lambda v: torch.tensor(v) if isinstance(v, np.ndarray) else v  # noqa: E731
        check_error(lambda: as_nd(a) - as_nd(b), [r"sub", r"bool"], torch_fn=lambda: as_t(a) - as_t(b))
        check_error(lambda: as_nd(b) - as_nd(a), [r"sub", r"bool"], torch_fn=lambda: as_t(b) - as_t(a))
        return
    check_op([_operand(left), _operand(right)], op, grad=False)
    check_op([_operand(right), _operand(left)], op, grad=False)


@pytest.mark.parametrize("left,right", [(("float32", (3, 4)), ("float64", (4,))),
                                        (("float16", (3, 4)), ("float32", (3, 4))),
                                        (("float32", (3, 4)), ("float64", ()))], ids=str)
def test_mixed_dtype_gradients_have_input_dtype(left, right):
    # the gradient of each input comes back in that input's dtype and shape
    check_op([_operand(left), _operand(right)], lambda x, y: x * y + y)


def test_true_division_of_integers_gives_float():
    check_op([(3, 4), (3, 4)], operator.truediv, dtype="int64", low=1, high=9)
    check_op([(3, 4), 2], operator.truediv, dtype="int32", low=1, high=9)


def test_default_dtype_changes_weak_float_result():
    old = ndgrad.get_default_dtype()
    try:
        ndgrad.set_default_dtype(ndgrad.float64)
        torch.set_default_dtype(torch.float64)
        check_op([(3,)], lambda x: x * 2.5, dtype="int64", grad=False)
    finally:
        ndgrad.set_default_dtype(old)
        torch.set_default_dtype(torch.float32)


def test_int_negative_integer_power_raises():
    x = ndgrad.tensor([1, 2, 3])
    check_error(lambda: x ** -1, r"negative", torch_fn=lambda: torch.tensor([1, 2, 3]) ** -1)


# --- errors -------------------------------------------------------------------------------------

def test_broadcast_mismatch_names_op_and_shapes():
    a, b = ndgrad.ones(3, 4), ndgrad.ones(5)
    check_error(lambda: a + b, [r"add", shape_re(3, 4), shape_re(5)], torch_fn=lambda: torch.ones(3, 4) + torch.ones(5))
    check_error(lambda: a * b, [r"mul", shape_re(3, 4), shape_re(5)])
    check_error(lambda: ndgrad.maximum(a, b), [r"maximum", shape_re(3, 4), shape_re(5)])
    check_error(lambda: ndgrad.where(a > 0, a, b), [r"where", shape_re(5)])


def test_failed_op_leaves_inputs_unchanged():
    a = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = ndgrad.tensor([1.0, 2.0, 3.0])
    with pytest.raises(Exception):
        a + b
    assert a.tolist() == [[1.0, 2.0], [3.0, 4.0]] and b.tolist() == [1.0, 2.0, 3.0]
    assert a.grad is None


def test_unsupported_operand_type_raises_type_error():
    x = ndgrad.ones(3)
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        torch.ones(3) + "a"


# --- the same checks on a GPU (skipped without CuPy and a GPU) ----------------------------------

@pytest.mark.cuda
@pytest.mark.parametrize("dtype", FLOATS)
def test_elementwise_on_gpu(dtype):
    for shapes in [[(3, 4), (4,)], [(), (2, 3)], [(0, 3), (3,)]]:
        for op in BINARY_OPERATORS + [operator.pow]:
            check_op(shapes, op, dtype=dtype, low=0.5, high=2.0, device="cuda")
        check_op(shapes, torch.maximum, ndgrad.maximum, dtype=dtype, device="cuda")
        check_op(shapes, operator.lt, dtype=dtype, device="cuda")
    for name, (low, high) in sorted(UNARY.items()):
        check_op([(3, 4)], getattr(torch, name), getattr(ndgrad, name), dtype=dtype, low=low, high=high,
                 device="cuda")
    check_op([(4, 3)], lambda x: x.clamp(-0.5, 0.5).sigmoid() * 2.5, dtype=dtype, device="cuda", contiguous=False)
    cond = random_array((3, 4), "bool")
    check_op([cond, (3, 4), (4,)], torch.where, ndgrad.where, dtype=dtype, device="cuda")
    check_op([(3, 4), (4,)], operator.add, dtype=["int32", dtype], low=0, high=5, device="cuda")

"""Reductions, cumsum, norm, softmax and log_softmax against PyTorch (tests/oracle.py)."""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_op, random_array

FLOATS = ["float32", "float64"]
DIMS = [None, 0, 1, -1, -3, (0, 2), (-1, 0), (0, 1, 2)]
SHAPE = (3, 4, 5)


def _dim_kwargs(dim, keepdim):
    return {} if dim is None else {"dim": dim, "keepdim": keepdim}


# --- sum, mean, var, std, prod ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", FLOATS)
def test_sum_mean(name, dim, keepdim, dtype):
    kw = _dim_kwargs(dim, keepdim)
    check_op([SHAPE], lambda x: getattr(x, name)(**kw), dtype=dtype)
    check_op([SHAPE], lambda x: getattr(torch, name)(x, **kw), lambda x: getattr(ndgrad, name)(x, **kw),
             dtype=dtype)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "prod", "amax", "amin", "logsumexp"])
def test_axis_keepdims_spelling(name):
    # the array-API spelling gives the same result as PyTorch's dim/keepdim
    check_op([SHAPE], lambda x: getattr(x, name)(dim=1, keepdim=True),
             lambda x: getattr(x, name)(axis=1, keepdims=True), low=0.5, high=1.5)
    if name != "prod":  # torch.prod takes one dim only
        check_op([SHAPE], lambda x: getattr(torch, name)(x, dim=(0, 2)),
                 lambda x: getattr(ndgrad, name)(x, axis=(0, 2)), low=0.5, high=1.5)


def test_positional_dim():
    check_op([SHAPE], lambda x: x.sum(1))
    check_op([SHAPE], lambda x: x.mean(-1, True))
    check_op([SHAPE], lambda x: torch.sum(x, (0, 1)), lambda x: ndgrad.sum(x, (0, 1)))


@pytest.mark.parametrize("shape,dim", [((), None), ((), 0), ((), -1), ((1,), 0), ((1, 1), None), ((0,), None),
                                       ((0, 3), 0), ((0, 3), 1), ((2, 0), -1)], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
def test_edge_shapes(name, shape, dim):
    kw = {} if dim is None else {"dim": dim}
    check_op([shape], lambda x: getattr(x, name)(**kw))


@pytest.mark.parametrize("dtype,name", [("int32", "sum"), ("bool", "sum"), ("uint8", "sum"), ("int64", "sum"),
                                        ("int32", "prod"), ("int8", "prod")])
def test_integer_sum_prod_give_int64(dtype, name):
    check_op([(3, 4)], lambda x: getattr(x, name)(), dtype=dtype, low=0, high=3)
    check_op([(3, 4)], lambda x: getattr(x, name)(dim=1), dtype=dtype, low=0, high=3)


def test_sum_float16():
    check_op([(8, 16)], lambda x: x.sum(1), dtype="float16")
    check_op([(8, 16)], lambda x: x.mean(), dtype="float16")


def test_mean_of_integers_raises():
    x = ndgrad.tensor([[1, 2], [3, 4]])
    check_error(lambda: x.mean(), [r"mean", r"int64"], torch_fn=lambda: torch.tensor([[1, 2]]).mean())


def test_reduction_dim_out_of_range_raises():
    x = ndgrad.ones(2, 3)
    check_error(lambda: x.sum(3), [r"sum", r"range", r"3"], torch_fn=lambda: torch.ones(2, 3).sum(3))
    check_error(lambda: x.mean(dim=-3), [r"mean", r"range"])
    check_error(lambda: x.amax(dim=2), [r"amax", r"range"])


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_var_std(name, dim, keepdim):
    kw = _dim_kwargs(dim, keepdim)
    check_op([SHAPE], lambda x: getattr(x, name)(**kw))
    check_op([SHAPE], lambda x: getattr(torch, name)(x, **kw), lambda x: getattr(ndgrad, name)(x, **kw),
             dtype="float32")


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_unbiased_and_correction(name):
    check_op([SHAPE], lambda x: getattr(x, name)(unbiased=False))
    check_op([SHAPE], lambda x: getattr(x, name)(1, unbiased=False))
    check_op([SHAPE], lambda x: getattr(x, name)(dim=1, unbiased=True, keepdim=True))
    for correction in [0, 1, 2]:
        check_op([SHAPE], lambda x: getattr(x, name)(dim=-1, correction=correction))
        check_op([SHAPE], lambda x: getattr(x, name)(correction=correction))


@pytest.mark.parametrize("dim", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod(dim, keepdim):
    check_op([(3, 4)], lambda x: x.prod(**_dim_kwargs(dim, keepdim)), low=0.5, high=1.5)
    if dim is not None:
        check_op([(3, 4)], lambda x: torch.prod(x, dim, keepdim), lambda x: ndgrad.prod(x, dim, keepdim),
                 dtype="float32", low=-1.5, high=1.5)


@pytest.mark.parametrize("zeros", [[], [5], [5, 7], [0, 1, 2]], ids=str)
@pytest.mark.parametrize("dim", [None, 1, 0], ids=str)
def test_prod_exact_zeros(zeros, dim):
    # the gradient at a single zero is the product of the others; with two zeros every gradient is 0.
    # Dividing the product by the input (the naive rule) gives nan/0 here.
    x = random_array((3, 4), "float64", 0.5, 2.0)
    flat = x.reshape(-1)
    flat[zeros] = 0.0
    kw = {} if dim is None else {"dim": dim}
    check_op([x], lambda t: t.prod(**kw))


def test_prod_zeros_second_derivative():
    x = np.array([0.0, 2.0, 3.0, 0.5])
    t = torch.tensor(x, requires_grad=True)
    n = ndgrad.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(t.prod(), t, create_graph=True)
    (ng,) = ndgrad.autograd.grad(n.prod(), n, create_graph=True)
    np.testing.assert_allclose(ng.detach().numpy(), tg.detach().numpy())
    (tgg,) = torch.autograd.grad((tg * torch.arange(1.0, 5.0, dtype=torch.float64)).sum(), t)
    (ngg,) = ndgrad.autograd.grad((ng * ndgrad.arange(1.0, 5.0, dtype=ndgrad.float64)).sum(), n)
    np.testing.assert_allclose(ngg.numpy(), tgg.numpy())


# --- max / min / amax / amin / argmax / argmin --------------------------------------------------

@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_max_min_full_reduction(name, dtype):
    check_op([SHAPE], lambda x: getattr(x, name)(), dtype=dtype)
    check_op([SHAPE], getattr(torch, name), getattr(ndgrad, name), dtype=dtype)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1, -3])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_values_and_indices(name, dim, keepdim):
    n_out, t_out = check_op([SHAPE], lambda x: getattr(x, name)(dim, keepdim=keepdim))
    assert len(n_out) == 2
    values, indices = n_out
    assert n_out.values is values and n_out.indices is indices  # a named tuple like torch.return_types
    check_op([SHAPE], lambda x: getattr(torch, name)(x, dim=dim, keepdim=keepdim),
             lambda x: getattr(ndgrad, name)(x, dim=dim, keepdim=keepdim))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties(name):
    # full reduction spreads the gradient evenly over ties; with dim it goes to the first index only
    x = np.array([[1.0, 3.0, 3.0, -2.0], [-2.0, 0.0, -2.0, 3.0]])
    check_op([x], lambda t: getattr(t, name)())
    check_op([x], lambda t: getattr(t, name)(1))
    check_op([x], lambda t: getattr(t, name)(0))


def test_max_min_integer_and_zero_dim():
    check_op([(3, 4)], lambda x: x.max(1), dtype="int32", low=0, high=4)
    check_op([(3, 4)], lambda x: x.min(), dtype="uint8", low=0, high=4)
    check_op([()], lambda x: x.max(0))
    check_op([()], lambda x: x.min())


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [0, -1, (0, 2), (), None], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin(name, dim, keepdim):
    kw = {"keepdim": keepdim} if dim is None else {"dim": dim, "keepdim": keepdim}
    check_op([SHAPE], lambda x: getattr(x, name)(**kw))
    check_op([SHAPE], lambda x: getattr(torch, name)(x, **kw), lambda x: getattr(ndgrad, name)(x, **kw),
             dtype="float32")


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_ties_split_evenly(name):
    x = np.array([[1.0, 3.0, 3.0, -2.0], [-2.0, 0.0, -2.0, -2.0], [5.0, 5.0, 5.0, 5.0]])
    check_op([x], lambda t: getattr(t, name)(1))
    check_op([x], lambda t: getattr(t, name)(0))
    check_op([x], lambda t: getattr(t, name)())
    check_op([x], lambda t: getattr(t, name)((0, 1)))


def test_max_of_empty_dim_raises():
    x = ndgrad.ones(0, 3)
    check_error(lambda: x.amax(0), [r"amax", r"(empty|zero|size)"], torch_fn=lambda: torch.ones(0, 3).amax(0))
    check_error(lambda: x.max(), [r"max", r"(empty|zero|size)"], torch_fn=lambda: torch.ones(0, 3).max())
    check_op([(0, 3)], lambda t: t.amax(1))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(name, dim, keepdim):
    check_op([SHAPE], lambda x: getattr(x, name)(dim=dim, keepdim=keepdim))
    check_op([SHAPE], lambda x: getattr(torch, name)(x, dim), lambda x: getattr(ndgrad, name)(x, dim))
    # ties: the first occurrence, as in PyTorch
    check_op([SHAPE], lambda x: getattr(x, name)(dim=dim, keepdim=keepdim), dtype="int64", low=0, high=3)


def test_argmax_output_is_int64_without_grad():
    x = ndgrad.randn(3, 4, requires_grad=True)
    i = x.argmax(1)
    assert i.dtype == ndgrad.int64 and not i.requires_grad and i.grad_fn is None


# --- logsumexp, cumsum, norm --------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp(dim, keepdim, dtype):
    check_op([SHAPE], lambda x: x.logsumexp(dim, keepdim=keepdim), dtype=dtype)
    check_op([SHAPE], lambda x: torch.logsumexp(x, dim=dim, keepdim=keepdim),
             lambda x: ndgrad.logsumexp(x, dim=dim, keepdim=keepdim), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_large_inputs_are_stable(dtype):
    # exp(1000) overflows: a naive log(sum(exp(x))) gives inf and nan gradients
    check_op([(3, 5)], lambda x: x.logsumexp(1), dtype=dtype, low=-1000, high=1000)
    check_op([np.array([[1000.0, 1000.0, -1000.0], [-1e4, -1e4, -1e4]])], lambda x: x.logsumexp(-1))


@pytest.mark.parametrize("dim", [0, 1, -1, -3])
@pytest.mark.parametrize("dtype", FLOATS)
def test_cumsum(dim, dtype):
    check_op([SHAPE], lambda x: x.cumsum(dim), dtype=dtype)
    check_op([SHAPE], lambda x: torch.cumsum(x, dim=dim), lambda x: ndgrad.cumsum(x, dim=dim), dtype=dtype)


def test_cumsum_edge_shapes_and_dtypes():
    check_op([()], lambda x: x.cumsum(0))
    check_op([(0, 3)], lambda x: x.cumsum(0))
    check_op([(4, 3)], lambda x: x.cumsum(0), contiguous=False)
    check_op([(4, 3)], lambda x: x.cumsum(1), dtype="int32", low=0, high=5)
    check_op([(4, 3)], lambda x: x.cumsum(1), dtype="bool")


NORMS = [dict(), dict(p=2), dict(p=1), dict(p=float("inf")), dict(p="fro"), dict(p=3), dict(p=2, dim=1),
         dict(p=1, dim=0, keepdim=True), dict(p=float("inf"), dim=-1), dict(dim=(0, 1)), dict(p="fro", dim=(0, 1)),
         dict(p=2, dim=-1, keepdim=True)]


@pytest.mark.parametrize("kwargs", NORMS, ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_norm(kwargs, dtype):
    check_op([(3, 4)], lambda x: x.norm(**kwargs), dtype=dtype)
    check_op([(3, 4)], lambda x: torch.norm(x, **kwargs), lambda x: ndgrad.norm(x, **kwargs), dtype=dtype)


def test_norm_vectors_and_batches():
    check_op([(7,)], lambda x: x.norm())
    check_op([(2, 3, 4)], lambda x: x.norm(dim=-1))
    check_op([(2, 3, 4)], lambda x: x.norm(p=1, dim=(1, 2)))


# --- softmax, log_softmax -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1, -3])
@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_log_softmax(name, dim, dtype):
    check_op([SHAPE], lambda x: getattr(x, name)(dim), dtype=dtype)
    check_op([SHAPE], lambda x: getattr(torch, name)(x, dim=dim), lambda x: getattr(ndgrad, name)(x, dim=dim),
             dtype=dtype)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_large_inputs_are_stable(name):
    check_op([(4, 6)], lambda x: getattr(x, name)(-1), low=-1000, high=1000)
    check_op([(4, 6)], lambda x: getattr(x, name)(-1), dtype="float32", low=-1000, high=1000)
    check_op([np.array([[1000.0, 1000.0, -1000.0], [-1e4, -1e4, -1e4], [0.0, 800.0, 0.0]])],
             lambda x: getattr(x, name)(1))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_edge_shapes(name):
    check_op([()], lambda x: getattr(x, name)(0))
    check_op([(1, 5)], lambda x: getattr(x, name)(0))
    check_op([(0, 5)], lambda x: getattr(x, name)(1))
    check_op([(5, 4)], lambda x: getattr(x, name)(0), contiguous=False)
    check_op([(5, 4)], lambda x: getattr(x, name)(1), dtype="float16")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_second_derivative(name):
    x = random_array((3, 4))
    w = random_array((3, 4))
    t = torch.tensor(x, requires_grad=True)
    n = ndgrad.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad((getattr(t, name)(1) * torch.tensor(w)).sum(), t, create_graph=True)
    (ng,) = ndgrad.autograd.grad((getattr(n, name)(1) * ndgrad.tensor(w)).sum(), n, create_graph=True)
    np.testing.assert_allclose(ng.detach().numpy(), tg.detach().numpy(), atol=1e-12)
    (tgg,) = torch.autograd.grad((tg ** 2).sum(), t)
    (ngg,) = ndgrad.autograd.grad((ng ** 2).sum(), n)
    np.testing.assert_allclose(ngg.numpy(), tgg.numpy(), atol=1e-12)


def test_reductions_of_non_contiguous_inputs():
    for fn in [lambda x: x.sum(0), lambda x: x.mean(-1), lambda x: x.var(0), lambda x: x.prod(1),
               lambda x: x.amax(0), lambda x: x.max(1), lambda x: x.logsumexp(0), lambda x: x.norm(dim=1)]:
        check_op([(4, 5)], fn, contiguous=False, low=0.5, high=1.5)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", FLOATS)
def test_reductions_on_gpu(dtype):
    fns = [lambda x: x.sum(), lambda x: x.sum((0, 2), keepdim=True), lambda x: x.mean(1), lambda x: x.var(-1),
           lambda x: x.std(0, correction=0), lambda x: x.prod(1), lambda x: x.max(), lambda x: x.max(1),
           lambda x: x.amin((0, 1)), lambda x: x.argmax(2), lambda x: x.logsumexp(1), lambda x: x.cumsum(0),
           lambda x: x.norm(), lambda x: x.norm(p=1, dim=2), lambda x: x.softmax(-1), lambda x: x.log_softmax(0)]
    for fn in fns:
        check_op([SHAPE], fn, dtype=dtype, low=0.5, high=1.5, device="cuda")
    x = random_array((3, 4), "float64", 0.5, 2.0)
    x.reshape(-1)[[2, 5, 7]] = 0.0
    check_op([x], lambda t: t.prod(1), device="cuda")
    check_op([np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])], lambda t: t.amax(1), device="cuda")

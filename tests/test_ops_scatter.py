"""Scatter-with-reduction and region-write ops against PyTorch: values, gradients, in-place twins, errors.

Each table line is (test id, inputs, fn(lib, *inputs)); integer numpy arrays in ``inputs`` are index
tensors (no gradient), shapes are random float64 tensors.
"""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error
from op_tables import gradcheck_case, ids, ints, run
from ndgrad.autograd import gradcheck

pytestmark = pytest.mark.filterwarnings("ignore:index_reduce.. is in beta")


def rand_index(shape, high, seed=0):
    """Random indices in [0, high) with repeats (so reductions really combine values)."""
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(np.int64)


def with_zeros(shape, seed=0):
    """Floats where about a third are exactly zero (prod's special cases)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2, 2, size=shape)
    a[rng.random(shape) < 0.3] = 0.0
    return a


MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])


def _reduce_cases():
    cases = []
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            cases.append((f"scatter_reduce_{reduce}_{include_self}", [(3, 4), rand_index((3, 5), 4), (3, 5)],
                          lambda lib, x, i, s, r=reduce, inc=include_self:
                          x.scatter_reduce(1, i, s, r, include_self=inc)))
    return cases


# src has the index's shape: PyTorch's own scatter_reduce backward fails when src is larger
CASES = _reduce_cases() + [
    ("scatter_reduce_src_larger", [(3, 4), rand_index((3, 5), 4), (3, 6)],
     lambda lib, x, i, s: x.detach().scatter_reduce(1, i, s.detach(), "amin")),
    ("scatter_reduce_fn_dim0", [(4, 3), rand_index((6, 2), 4, seed=1), (6, 2)],
     lambda lib, x, i, s: lib.scatter_reduce(x, 0, i, s, "sum")),
    ("scatter_reduce_1d", [(5,), rand_index((7,), 5, seed=2), (7,)],
     lambda lib, x, i, s: lib.scatter_reduce(x, -1, i, s, reduce="amax")),
    ("scatter_reduce_prod_zeros", [with_zeros((6,)), rand_index((9,), 6, seed=3), with_zeros((9,), seed=4)],
     lambda lib, x, i, s: x.scatter_reduce(0, i, s, "prod")),
    ("scatter_reduce_prod_zeros_noself", [with_zeros((6,)), rand_index((9,), 6, seed=3), with_zeros((9,), 5)],
     lambda lib, x, i, s: x.scatter_reduce(0, i, s, "prod", include_self=False)),
    ("scatter_reduce_mean_int", [rand_index((5,), 9) - 4, rand_index((8,), 5, seed=6), rand_index((8,), 9, 7) - 4],
     lambda lib, x, i, s: (x.scatter_reduce(0, i, s, "mean"), x.scatter_reduce(0, i, s, "mean",
                                                                                include_self=False))),
    ("scatter_reduce_amax_int", [rand_index((5,), 9), rand_index((8,), 5, seed=6), rand_index((8,), 9, seed=7)],
     lambda lib, x, i, s: (x.scatter_reduce(0, i, s, "amax", include_self=False),
                           x.scatter_reduce(0, i, s, "prod"))),
    ("scatter_reduce_empty_index", [(3,), np.zeros(0, dtype=np.int64), (0,)],
     lambda lib, x, i, s: x.scatter_reduce(0, i, s, "sum")),
    ("index_reduce_prod", [(4, 3), ints(0, 2, 0, 3, 2), (4, 5)],
     lambda lib, x, i, s: x.index_reduce(1, i.remainder(3), s, "prod")),
    ("index_reduce_mean", [(5, 3), ints(0, 4, 0, 4), (4, 3)],
     lambda lib, x, i, s: lib.index_reduce(x, 0, i, s, "mean")),
    ("index_reduce_amax_noself", [(5, 3), ints(0, 4, 0, 4), (4, 3)],
     lambda lib, x, i, s: x.index_reduce(0, i, s, "amax", include_self=False)),
    ("index_reduce_amin", [(2, 5), ints(1, 1, 3), (2, 3)],
     lambda lib, x, i, s: x.index_reduce(-1, i, s, "amin")),
    ("masked_scatter", [(3, 4), MASK, (7,)], lambda lib, x, m, s: x.masked_scatter(m, s)),
    ("masked_scatter_bigger_source", [(3, 4), MASK, (3, 5)], lambda lib, x, m, s: lib.masked_scatter(x, m, s)),
    ("masked_scatter_broadcast_mask", [(3, 4), MASK[0], (9,)], lambda lib, x, m, s: x.masked_scatter(m, s)),
    ("masked_scatter_broadcast_input", [(4,), MASK, (8,)], lambda lib, x, m, s: x.masked_scatter(m, s)),
    ("masked_scatter_none", [(2, 2), np.zeros((2, 2), bool), (1,)], lambda lib, x, m, s: x.masked_scatter(m, s)),
    ("put", [(3, 4), ints(0, -1, 5), (3,)], lambda lib, x, i, s: x.put(i, s)),
    ("put_2d_index", [(3, 4), ints(1, 7, 2, 10).reshape(2, 2), (2, 2)], lambda lib, x, i, s: x.put(i, s)),
    ("put_accumulate", [(3, 4), ints(0, 3, 0, 11, 3), (5,)],
     lambda lib, x, i, s: x.put(i, s, accumulate=True)),
    ("put_fn", [(5,), ints(4, 1), (2,)], lambda lib, x, i, s: lib.put(x, i, s)),
    ("select_scatter", [(3, 4), (4,)], lambda lib, x, s: lib.select_scatter(x, s, 0, 1)),
    ("select_scatter_neg", [(2, 3, 4), (2, 3)], lambda lib, x, s: x.select_scatter(s, -1, -2)),
    ("select_scatter_cast", [(3, 4), np.arange(3, dtype=np.float32)],
     lambda lib, x, s: lib.select_scatter(x, s, 1, 0)),
    ("slice_scatter", [(6, 3), (2, 3)], lambda lib, x, s: lib.slice_scatter(x, s, start=1, end=5, step=2)),
    ("slice_scatter_dim", [(3, 5), (3, 2)], lambda lib, x, s: x.slice_scatter(s, 1, -2)),
    ("slice_scatter_all", [(3, 2), (3, 2)], lambda lib, x, s: lib.slice_scatter(x, s)),
    ("slice_scatter_empty", [(3, 2), (0, 2)], lambda lib, x, s: lib.slice_scatter(x, s, 0, 2, 2)),
    ("diagonal_scatter", [(3, 3), (3,)], lambda lib, x, s: lib.diagonal_scatter(x, s)),
    ("diagonal_scatter_offset", [(3, 4), (3,)], lambda lib, x, s: x.diagonal_scatter(s, 1)),
    ("diagonal_scatter_dims", [(2, 3, 4), (3, 2)], lambda lib, x, s: lib.diagonal_scatter(x, s, 1, 0, -1)),
    # values only: PyTorch 2.13's as_strided_scatter backward sends input's gradient to the overwritten
    # positions instead of the kept ones (gradcheck below checks ours)
    ("as_strided_scatter", [(3, 4), (2, 3)],
     lambda lib, x, s: lib.as_strided_scatter(x.detach(), s.detach(), (2, 3), (4, 2), 1)),
    ("as_strided_scatter_method", [(6,), (2, 2)],
     lambda lib, x, s: x.detach().as_strided_scatter(s.detach(), (2, 2), (3, 1))),
    # ops that index.py already had: the same table style keeps them honest
    ("index_fill", [(3, 4), ints(0, 2)], lambda lib, x, i: x.index_fill(1, i, -1.5)),
    ("index_copy", [(4, 3), ints(3, 0), (2, 3)], lambda lib, x, i, s: x.index_copy(0, i, s)),
    ("index_put_accumulate", [(3, 4), ints(0, 0, 2), ints(1, 1, 3), (3,)],
     lambda lib, x, i, j, v: x.index_put((i, j), v, accumulate=True)),
    ("take", [(3, 4), ints(0, -1, 5, 5)], lambda lib, x, i: lib.take(x, i)),
    ("take_along_dim", [(3, 4), rand_index((3, 2), 4)], lambda lib, x, i: lib.take_along_dim(x, i, 1)),
    ("scatter_add", [(3, 4), rand_index((3, 3), 4), (3, 3)], lambda lib, x, i, s: x.scatter_add(1, i, s)),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_against_torch(case):
    run(case)


NONCONTIGUOUS = ["scatter_reduce_prod_True", "scatter_reduce_mean_False", "masked_scatter", "put",
                 "slice_scatter_dim", "diagonal_scatter_offset"]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in NONCONTIGUOUS],
                         ids=[c[0] for c in CASES if c[0] in NONCONTIGUOUS])
def test_noncontiguous(case):
    run(case, contiguous=False)


# -- in-place twins ----------------------------------------------------------------------------------

INPLACE = [
    ("scatter_reduce_", [(3, 4), rand_index((3, 5), 4), (3, 5)],
     lambda lib, x, i, s: x.clone().scatter_reduce_(1, i, s, "amax", include_self=False)),
    ("index_reduce_", [(5, 3), ints(0, 4, 0), (3, 3)], lambda lib, x, i, s: (x * 1).index_reduce_(0, i, s, "prod")),
    ("masked_scatter_", [(3, 4), MASK, (7,)], lambda lib, x, m, s: x.clone().masked_scatter_(m, s)),
    ("put_", [(3, 4), ints(0, -1, 5), (3,)], lambda lib, x, i, s: x.clone().put_(i, s, accumulate=True)),
    ("index_fill_", [(3, 4), ints(0, 2)], lambda lib, x, i: x.clone().index_fill_(1, i, 2.0)),
    ("fill_diagonal_", [(3, 4)], lambda lib, x: x.clone().fill_diagonal_(-1.5)),
    ("fill_diagonal_tall_wrap", [(7, 3)], lambda lib, x: x.clone().fill_diagonal_(2.0, wrap=True)),
    ("fill_diagonal_tall", [(7, 3)], lambda lib, x: x.clone().fill_diagonal_(2.0)),
    ("fill_diagonal_wide_wrap", [(3, 5)], lambda lib, x: (x * 1).fill_diagonal_(0.0, True)),
    ("fill_diagonal_cube", [(3, 3, 3)], lambda lib, x: x.clone().fill_diagonal_(4.0)),
    ("fill_diagonal_int", [ints(1, 2, 3, 4).reshape(2, 2)], lambda lib, x: x.clone().fill_diagonal_(7)),
]


@pytest.mark.parametrize("case", INPLACE, ids=ids(INPLACE))
def test_inplace_against_torch(case):
    run(case)


def test_inplace_writes_into_the_tensor():
    x = ndgrad.zeros(4)
    out = x.put_(ndgrad.tensor([1, 3]), ndgrad.tensor([5.0, 6.0]))
    assert out is x and x.tolist() == [0.0, 5.0, 0.0, 6.0]
    y = ndgrad.ones(3)
    y.scatter_reduce_(0, ndgrad.tensor([0, 0]), ndgrad.tensor([2.0, 3.0]), "prod")
    assert y.tolist() == [6.0, 1.0, 1.0]


# -- gradient checks -----------------------------------------------------------------------------------

def _idx(a):
    return ndgrad.from_numpy(a)


GRAD_CASES = [
    ("scatter_reduce_sum", [(3, 4), (3, 5)], lambda x, s: x.scatter_reduce(1, _idx(rand_index((3, 5), 4)), s, "sum")),
    ("scatter_reduce_prod", [(3, 4), (3, 5)],
     lambda x, s: x.scatter_reduce(1, _idx(rand_index((3, 5), 4)), s, "prod")),
    ("scatter_reduce_mean_noself", [(3, 4), (3, 5)],
     lambda x, s: x.scatter_reduce(1, _idx(rand_index((3, 5), 4)), s, "mean", include_self=False)),
    ("scatter_reduce_amax", [(3, 4), (3, 5)],
     lambda x, s: x.scatter_reduce(1, _idx(rand_index((3, 5), 4)), s, "amax")),
    ("scatter_reduce_amin_noself", [(3, 4), (3, 5)],
     lambda x, s: x.scatter_reduce(1, _idx(rand_index((3, 5), 4)), s, "amin", include_self=False)),
    ("index_reduce_prod", [(4, 3), (3, 3)], lambda x, s: x.index_reduce(0, _idx(ints(1, 3, 1)), s, "prod")),
    ("masked_scatter", [(3, 4), (7,)], lambda x, s: x.masked_scatter(_idx(MASK), s)),
    ("put_accumulate", [(3, 4), (3,)], lambda x, s: x.put(_idx(ints(0, 0, 5)), s, accumulate=True)),
    ("select_scatter", [(3, 4), (3,)], lambda x, s: ndgrad.select_scatter(x, s, 1, 2)),
    ("slice_scatter", [(5, 2), (2, 2)], lambda x, s: ndgrad.slice_scatter(x, s, 0, 1, None, 3)),
    ("diagonal_scatter", [(3, 4), (3,)], lambda x, s: ndgrad.diagonal_scatter(x, s, 1)),
    ("as_strided_scatter", [(3, 4), (2, 2)], lambda x, s: ndgrad.as_strided_scatter(x, s, (2, 2), (5, 1))),
    ("fill_diagonal_", [(3, 4)], lambda x: (x * 1).fill_diagonal_(0.5)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_gradcheck(case):
    gradcheck_case(case)


def test_prod_with_zeros_gradcheck():
    x = ndgrad.from_numpy(with_zeros((6,), seed=8)).requires_grad_()
    s = ndgrad.from_numpy(with_zeros((9,), seed=9)).requires_grad_()
    assert gradcheck(lambda a, b: a.scatter_reduce(0, _idx(rand_index((9,), 6, seed=3)), b, "prod"), [x, s])


# -- errors --------------------------------------------------------------------------------------------

def test_errors():
    x, i = ndgrad.zeros(3), ndgrad.tensor([0, 1])
    tx, ti = torch.zeros(3), torch.tensor([0, 1])
    check_error(lambda: x.scatter_reduce(0, i, ndgrad.ones(2), "max2"), ["reduce", "sum, prod, mean, amax or amin"],
                torch_fn=lambda: tx.scatter_reduce(0, ti, torch.ones(2), "max2"))
    check_error(lambda: x.scatter_reduce(0, i, ndgrad.tensor([1, 2]), "sum"), ["dtype", "float32", "int64"],
                torch_fn=lambda: tx.scatter_reduce(0, ti, torch.tensor([1, 2]), "sum"))
    check_error(lambda: x.scatter_reduce(0, ndgrad.tensor([0, 5]), ndgrad.ones(2), "sum"), ["out of bounds", "5"],
                exc=IndexError)
    check_error(lambda: x.index_reduce(0, i, ndgrad.ones(2), "sum"), ["index_reduce", "prod, mean, amax or amin"],
                torch_fn=lambda: tx.index_reduce(0, ti, torch.ones(2), "sum"))
    check_error(lambda: x.index_reduce(0, i, ndgrad.ones(3), "prod"), ["index_reduce", r"\(3,\)", r"\(2,\)"],
                torch_fn=lambda: tx.index_reduce(0, ti, torch.ones(3), "prod"))
    check_error(lambda: x.masked_scatter(ndgrad.tensor([True, True, False]), ndgrad.ones(1)),
                ["masked_scatter", "source < number of ones in mask", "at least 2"],
                torch_fn=lambda: tx.masked_scatter(torch.tensor([True, True, False]), torch.ones(1)))
    check_error(lambda: x.masked_scatter(ndgrad.tensor([1, 0, 1]), ndgrad.ones(3)), ["bool mask"],
                torch_fn=lambda: tx.masked_scatter(torch.tensor([1, 0, 1]), torch.ones(3)))
    check_error(lambda: x.put(i, ndgrad.ones(3)), ["put", "same number of elements", "3", "2"], exc=IndexError,
                torch_fn=lambda: tx.put(ti, torch.ones(3)))
    check_error(lambda: x.put(ndgrad.tensor([3]), ndgrad.ones(1)), ["put", "out of bounds"], exc=IndexError,
                torch_fn=lambda: tx.put(torch.tensor([3]), torch.ones(1)))
    check_error(lambda: ndgrad.select_scatter(ndgrad.zeros(3, 3), ndgrad.ones(1), 0, 0),
                ["select_scatter", r"src size = \[1\], slice size = \[3\]"],
                torch_fn=lambda: torch.select_scatter(torch.zeros(3, 3), torch.ones(1), 0, 0))
    check_error(lambda: ndgrad.diagonal_scatter(ndgrad.zeros(3, 3), ndgrad.ones(2)), ["slice size = \\[3\\]"],
                torch_fn=lambda: torch.diagonal_scatter(torch.zeros(3, 3), torch.ones(2)))
    check_error(lambda: ndgrad.zeros(2, 3, 2).fill_diagonal_(1), ["fill_diagonal_", "equal length"],
                torch_fn=lambda: torch.zeros(2, 3, 2).fill_diagonal_(1))
    check_error(lambda: ndgrad.zeros(2).fill_diagonal_(1), ["fill_diagonal_", "larger than 1"],
                torch_fn=lambda: torch.zeros(2).fill_diagonal_(1))
    check_error(lambda: ndgrad.select_scatter(ndgrad.zeros(3, 3), ndgrad.ones(3), 0, 3), ["index 3", "size"],
                exc=IndexError, torch_fn=lambda: torch.select_scatter(torch.zeros(3, 3), torch.ones(3), 0, 3))


def test_reduce_at_without_ufunc_at_matches_numpy():
    # CuPy lacks ufunc.at for some reductions: the collision-rounds fallback must agree with numpy's
    import types
    from ndgrad.ops.scatter import _reduce_at

    class NoAt:
        def __init__(self, ufunc):
            self.ufunc = ufunc

        def __call__(self, a, b):
            return self.ufunc(a, b)

    fake = types.SimpleNamespace(add=NoAt(np.add), multiply=NoAt(np.multiply), maximum=NoAt(np.maximum),
                                 minimum=NoAt(np.minimum), argsort=np.argsort, ones=np.ones)
    positions = rand_index((40,), 6, seed=11)
    values = np.random.default_rng(12).uniform(0.5, 1.5, 40)
    for reduce, ufunc in (("prod", np.multiply), ("amax", np.maximum), ("amin", np.minimum)):
        want = np.random.default_rng(13).uniform(0.5, 1.5, 6)
        got = want.copy()
        ufunc.at(want, positions, values)
        _reduce_at(fake, reduce, got, positions, values)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=reduce)

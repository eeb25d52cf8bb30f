"""Sorting and searching ops against PyTorch: values, indices, gradients, gradchecks and errors.

Each table line is (test id, input shapes / arrays, fn(lib, *inputs)); ``lib`` is ``torch`` or
``ndgrad``. Random float inputs have no ties, so indices are unique; the tie cases use small ints.
"""
import numpy as np
import pytest
import torch

import ndgrad
import oracle
from oracle import check_op, check_error
from op_tables import gradcheck_case, ids, ints, run


def small_ints(shape, high=3, seed=0):
    """Ints in [0, high): many ties, for the tie-breaking rules."""
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(np.int64)


NAN_ROWS = np.array([[1.0, np.nan, 3.0, np.nan, 5.0], [2.0, -1.0, 0.5, 4.0, 3.0],
                     [np.nan, np.nan, np.nan, np.nan, np.nan]])
SORTED_ROWS = np.sort(np.random.default_rng(1).uniform(-2, 2, size=(3, 6)), axis=-1)
SORTED_1D = np.sort(np.random.default_rng(2).uniform(-2, 2, size=7))


CASES = [
    ("sort", [(3, 5)], lambda lib, x: lib.sort(x)),
    ("sort_dim0_desc", [(4, 3)], lambda lib, x: x.sort(0, True)),
    ("sort_kw", [(2, 3, 4)], lambda lib, x: lib.sort(x, dim=1, descending=True, stable=True)),
    ("sort_0d", [()], lambda lib, x: x.sort()),
    ("sort_size0", [(0, 3)], lambda lib, x: x.sort(0)),
    ("sort_size1", [(3, 1)], lambda lib, x: x.sort(-1)),
    ("sort_fields", [(3, 4)], lambda lib, x: (x.sort().values, x.sort(descending=True).indices)),
    ("sort_stable_ties", [small_ints((4, 9))], lambda lib, x: lib.sort(x, stable=True)),
    ("sort_stable_ties_desc", [small_ints((9, 4))], lambda lib, x: lib.sort(x, dim=0, descending=True, stable=True)),
    ("sort_nan", [NAN_ROWS], lambda lib, x: (x.sort(), x.sort(descending=True))),
    ("sort_bool", [np.array([True, False, True, False])], lambda lib, x: x.sort(stable=True)),
    ("sort_int32", [small_ints((5,)).astype(np.int32)], lambda lib, x: x.sort(stable=True)),
    ("argsort", [(3, 5)], lambda lib, x: x.argsort()),
    ("argsort_desc", [(3, 5)], lambda lib, x: lib.argsort(x, dim=0, descending=True)),
    ("argsort_stable", [small_ints((10,))], lambda lib, x: lib.argsort(x, stable=True)),
    ("argsort_0d", [()], lambda lib, x: x.argsort()),
    ("msort", [(4, 3)], lambda lib, x: lib.msort(x)),
    ("topk", [(3, 6)], lambda lib, x: x.topk(3)),
    ("topk_smallest", [(6, 3)], lambda lib, x: lib.topk(x, 2, dim=0, largest=False)),
    ("topk_all", [(2, 4)], lambda lib, x: lib.topk(x, 4, sorted=True)),
    ("topk_zero", [(2, 4)], lambda lib, x: x.topk(0)),
    ("topk_0d", [()], lambda lib, x: x.topk(1)),
    ("topk_partition_path", [(3, 200)], lambda lib, x: (x.topk(5), x.topk(7, largest=False))),
    ("topk_partition_dim0", [(150, 2)], lambda lib, x: lib.topk(x, 3, dim=0)),
    ("topk_partition_nan", [np.where(np.arange(100) == 37, np.nan, np.linspace(-1, 1, 100))],
     lambda lib, x: (x.topk(8), x.topk(4, largest=False))),
    ("topk_partition_int", [np.random.default_rng(7).permutation(300)], lambda lib, x: x.topk(10)),
    ("kthvalue", [(3, 6)], lambda lib, x: x.kthvalue(2)),
    ("kthvalue_keepdim", [(5, 3)], lambda lib, x: lib.kthvalue(x, 5, 0, keepdim=True)),
    # which of several tied positions kthvalue reports is left unspecified by PyTorch (quickselect)
    ("kthvalue_ties", [small_ints((3, 7))], lambda lib, x: x.kthvalue(4).values),
    ("median_all", [(3, 5)], lambda lib, x: x.median()),
    ("median_all_even", [(4,)], lambda lib, x: lib.median(x)),
    ("median_all_ties", [np.array([1.0, 2.0, 2.0, 3.0, 2.0])], lambda lib, x: x.median()),
    ("median_dim", [(4, 5)], lambda lib, x: x.median(1)),
    ("median_dim_keepdim", [(4, 5)], lambda lib, x: lib.median(x, 0, keepdim=True)),
    ("median_0d", [()], lambda lib, x: (x.median(), x.median(0))),
    ("median_nan", [NAN_ROWS], lambda lib, x: (x.median(), x.median(1))),
    ("nanmedian", [NAN_ROWS], lambda lib, x: (lib.nanmedian(x), x.nanmedian(1))),
    ("nanmedian_plain", [(3, 4)], lambda lib, x: x.nanmedian(0)),
    ("mode", [small_ints((4, 7))], lambda lib, x: x.mode()),
    ("mode_dim0_keepdim", [small_ints((7, 4), seed=3)], lambda lib, x: lib.mode(x, 0, keepdim=True)),
    ("mode_float_grad", [np.array([[1.5, 2.5, 1.5, 0.5], [3.0, 3.0, 2.0, 2.0]])], lambda lib, x: x.mode()),
    ("mode_0d", [()], lambda lib, x: x.mode()),
    ("quantile_all", [(3, 5)], lambda lib, x: lib.quantile(x, 0.3)),
    ("quantile_dim_q_tensor", [(4, 6), np.array([0.0, 0.25, 0.9, 1.0])],
     lambda lib, x, q: x.quantile(q, dim=1)),
    ("quantile_keepdim", [(4, 6), np.array([0.1, 0.5])], lambda lib, x, q: lib.quantile(x, q, 0, keepdim=True)),
    ("quantile_all_keepdim", [(2, 3)], lambda lib, x: x.quantile(0.75, keepdim=True)),
    ("quantile_0d", [()], lambda lib, x: (lib.quantile(x, 0.5), x.quantile(0.2, dim=0, keepdim=True))),
    ("quantile_q_0d_tensor", [(5,), np.array(0.4)], lambda lib, x, q: lib.quantile(x, q)),
    ("quantile_f32", [np.random.default_rng(6).uniform(-2, 2, (3, 7)).astype(np.float32)],
     lambda lib, x: x.quantile(0.35, dim=-1)),
    ("quantile_nan", [NAN_ROWS], lambda lib, x: (x.quantile(0.5), x.quantile(0.5, dim=1))),
    ("nanquantile", [NAN_ROWS], lambda lib, x: (x.nanquantile(0.3), lib.nanquantile(x, 0.3, dim=1))),
    ("nanquantile_plain", [(3, 4)], lambda lib, x: x.nanquantile(0.6, 0)),
    *[(f"quantile_{mode}", [(3, 7), np.array([0.125, 0.375, 0.5, 0.625, 1 / 6])],
       lambda lib, x, q, m=mode: lib.quantile(x, q, dim=1, interpolation=m))
      for mode in ("linear", "lower", "higher", "midpoint", "nearest")],
    ("quantile_nearest_ties", [np.arange(5.0), np.array([0.125, 0.375, 0.625])],
     lambda lib, x, q: x.quantile(q, interpolation="nearest")),
    ("cummax", [(3, 5)], lambda lib, x: x.cummax(1)),
    ("cummin", [(5, 3)], lambda lib, x: lib.cummin(x, 0)),
    ("cummax_ties", [small_ints((3, 8))], lambda lib, x: (x.cummax(1), x.cummin(-1))),
    ("cummax_ties_float", [np.array([1.0, 3.0, 3.0, 2.0, 3.0])], lambda lib, x: (x.cummax(0), x.cummin(0))),
    ("cummax_nan", [NAN_ROWS], lambda lib, x: x.cummax(1)),
    ("cummax_0d", [()], lambda lib, x: x.cummax(0)),
    ("cummax_size0", [(2, 0)], lambda lib, x: x.cummin(1)),
    ("logcumsumexp", [(3, 5)], lambda lib, x: x.logcumsumexp(1)),
    ("logcumsumexp_dim0", [(4, 3)], lambda lib, x: lib.logcumsumexp(x, 0)),
    ("logcumsumexp_large", [np.array([1000.0, -1000.0, 999.0, 1001.0])], lambda lib, x: x.logcumsumexp(0)),
    ("logcumsumexp_0d", [()], lambda lib, x: x.logcumsumexp(0)),
    ("logcumsumexp_f32", [np.random.default_rng(4).uniform(-3, 3, (2, 6)).astype(np.float32)],
     lambda lib, x: x.logcumsumexp(-1)),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_against_torch(case):
    run(case)


NONCONTIGUOUS = ["sort", "sort_dim0_desc", "topk", "kthvalue", "median_dim", "cummax", "logcumsumexp", "mode",
                 "quantile_dim_q_tensor"]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in NONCONTIGUOUS],
                         ids=[c[0] for c in CASES if c[0] in NONCONTIGUOUS])
def test_noncontiguous(case):
    run(case, contiguous=False)


def test_return_types_unpack_like_torch():
    x = ndgrad.tensor([[3.0, 1.0, 2.0]])
    values, indices = x.sort()
    t_values, t_indices = torch.tensor([[3.0, 1.0, 2.0]]).sort()
    assert values.tolist() == t_values.tolist() and indices.tolist() == t_indices.tolist() == [[1, 2, 0]]
    assert type(x.topk(1)).__name__ == "topk" and x.topk(1)._fields == ("values", "indices")
    assert ndgrad.histogram(x.flatten(), 2)._fields == ("hist", "bin_edges")


# -- non-differentiable results: unique, searching, counting ---------------------------------------

INDEX_CASES = [
    ("unique", [small_ints((4, 5))], lambda lib, x: lib.unique(x)),
    ("unique_all_outputs", [small_ints((4, 5))],
     lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True)),
    ("unique_method", [small_ints((6,))], lambda lib, x: x.unique(sorted=True, return_counts=True)),
    ("unique_float", [np.array([2.5, -1.0, 2.5, 0.0, -1.0])], lambda lib, x: x.unique(return_inverse=True)),
    ("unique_dim0", [np.array([[1, 2], [1, 2], [0, 5], [1, 0]])],
     lambda lib, x: lib.unique(x, dim=0, return_inverse=True, return_counts=True)),
    ("unique_dim1", [small_ints((3, 8), high=2)],
     lambda lib, x: lib.unique(x, dim=1, return_inverse=True, return_counts=True)),
    ("unique_empty", [np.zeros((0,), dtype=np.int64)], lambda lib, x: lib.unique(x, return_counts=True)),
    ("unique_0d", [np.array(3)], lambda lib, x: lib.unique(x, return_inverse=True)),
    ("unique_consecutive", [ints(1, 1, 2, 2, 3, 1, 1, 2)],
     lambda lib, x: lib.unique_consecutive(x, return_inverse=True, return_counts=True)),
    ("unique_consecutive_dim", [np.array([[1, 1, 2, 1], [0, 0, 3, 0]])],
     lambda lib, x: x.unique_consecutive(return_counts=True, dim=1)),
    ("searchsorted", [SORTED_1D, (3, 4)], lambda lib, s, v: lib.searchsorted(s, v)),
    ("searchsorted_right", [SORTED_1D, (5,)], lambda lib, s, v: lib.searchsorted(s, v, right=True)),
    ("searchsorted_side", [ints(1, 2, 2, 3), ints(2, 0, 4)], lambda lib, s, v: (
        lib.searchsorted(s, v, side="right"), lib.searchsorted(s, v, side="left"))),
    ("searchsorted_batched", [SORTED_ROWS, (3, 4)], lambda lib, s, v: lib.searchsorted(s, v, out_int32=True)),
    ("searchsorted_scalar", [SORTED_1D], lambda lib, s: lib.searchsorted(s, 0.25)),
    ("searchsorted_sorter", [ints(3, 1, 2, 0), ints(2, 0, 3, 5)],
     lambda lib, s, v: lib.searchsorted(s, v, sorter=lib.argsort(s))),
    ("bucketize", [(3, 4), SORTED_1D], lambda lib, v, b: lib.bucketize(v, b)),
    ("bucketize_right", [ints(1, 2, 3, 4), ints(1, 3)], lambda lib, v, b: lib.bucketize(v, b, right=True)),
    ("bucketize_int32", [ints(1, 2, 3, 4), ints(1, 3)], lambda lib, v, b: lib.bucketize(v, b, out_int32=True)),
    ("histc", [(50,)], lambda lib, x: lib.histc(x, bins=7)),
    ("histc_range", [(4, 10)], lambda lib, x: x.histc(5, -1, 1)),
    ("histc_constant", [np.ones(4)], lambda lib, x: lib.histc(x, 4)),
    ("histc_f32", [np.random.default_rng(5).uniform(-2, 2, 30).astype(np.float32)], lambda lib, x: x.histc(6)),
    ("histogram", [(40,)], lambda lib, x: lib.histogram(x, 5)),
    ("histogram_range_weight", [(30,), (30,)],
     lambda lib, x, w: lib.histogram(x, 4, range=(-1.0, 1.0), weight=w.abs())),
    ("histogram_edges_density", [(30,)],
     lambda lib, x: x.histogram(lib.tensor([-2.0, -0.5, 0.0, 1.0, 2.0], dtype=lib.float64), density=True)),
    ("histogramdd", [(40, 2)], lambda lib, x: lib.histogramdd(x, bins=[3, 4])),
    ("histogramdd_3d_weight_density", [(2, 15, 3), (2, 15)],
     lambda lib, x, w: lib.histogramdd(x, 2, weight=w.abs(), density=True)),
    ("histogramdd_range", [(30, 2)], lambda lib, x: lib.histogramdd(x, 3, range=[-1.0, 1.0, 0.0, 2.0])),
    ("histogramdd_edges", [(30, 2)], lambda lib, x: lib.histogramdd(
        x, [lib.tensor([-2.0, 0.0, 2.0], dtype=lib.float64), lib.tensor([-1.0, 1.0], dtype=lib.float64)])),
    ("histogramdd_constant", [np.ones((3, 2))], lambda lib, x: lib.histogramdd(x, 2, density=True)),
    ("bincount", [small_ints((20,), high=6)], lambda lib, x: lib.bincount(x)),
    ("bincount_minlength", [small_ints((5,))], lambda lib, x: x.bincount(minlength=8)),
    ("bincount_weights", [small_ints((6,)), (6,)], lambda lib, x, w: lib.bincount(x, w)),
    ("bincount_weights_f32", [small_ints((6,)), np.arange(6, dtype=np.float32)],
     lambda lib, x, w: x.bincount(weights=w)),
    ("bincount_int_weights", [small_ints((6,)), np.arange(6)], lambda lib, x, w: x.bincount(weights=w)),
    ("bincount_empty", [np.zeros(0, dtype=np.int64)], lambda lib, x: lib.bincount(x)),
    ("isin", [small_ints((3, 4), high=6), ints(1, 4)], lambda lib, a, b: lib.isin(a, b)),
    ("isin_invert", [small_ints((3, 4), high=6), ints(1, 4)], lambda lib, a, b: lib.isin(a, b, invert=True)),
    ("isin_scalar", [small_ints((5,))], lambda lib, a: (lib.isin(a, 1), lib.isin(2, a))),
    ("count_nonzero", [small_ints((3, 4))], lambda lib, x: (lib.count_nonzero(x), x.count_nonzero(1))),
]


@pytest.mark.parametrize("case", INDEX_CASES, ids=ids(INDEX_CASES))
def test_index_results_against_torch(case):
    run(case, grad=False)


# -- gradient checks (float64 central differences, first and second order) ---------------------------

def _grad_cases():
    return [
        ("sort", [(3, 4)], lambda x: x.sort(1, descending=True).values),
        ("topk", [(3, 5)], lambda x: x.topk(2).values),
        ("kthvalue", [(4, 3)], lambda x: x.kthvalue(2, 0).values),
        ("median_all", [(3, 3)], lambda x: x.median()),
        ("median_dim", [(3, 4)], lambda x: x.median(1, keepdim=True).values),
        ("nanmedian_all", [(5,)], lambda x: x.nanmedian()),
        ("mode", [(2, 4)], lambda x: x.mode(1).values),
        ("quantile", [(3, 5)], lambda x: x.quantile(ndgrad.tensor([0.2, 0.5], dtype=ndgrad.float64), dim=1)),
        ("nanquantile_all", [(6,)], lambda x: x.nanquantile(0.7, interpolation="midpoint")),
        ("cummax", [(3, 5)], lambda x: x.cummax(1).values),
        ("cummin", [(5, 2)], lambda x: x.cummin(0).values),
        ("logcumsumexp", [(3, 5)], lambda x: x.logcumsumexp(1)),
        ("logcumsumexp_dim0", [(4, 2)], lambda x: ndgrad.logcumsumexp(x, 0)),
    ]


@pytest.mark.parametrize("case", _grad_cases(), ids=[c[0] for c in _grad_cases()])
def test_gradcheck(case):
    gradcheck_case(case)


def test_logcumsumexp_second_derivative_matches_torch():
    oracle.check_higher_order([(2, 5)], lambda x: torch.logcumsumexp(x, 1), lambda x: ndgrad.logcumsumexp(x, 1))


# -- errors ----------------------------------------------------------------------------------------

def test_errors():
    x = ndgrad.zeros(2, 3)
    check_error(lambda: x.topk(4), ["topk", "k out of range", "size 3"], torch_fn=lambda: torch.zeros(2, 3).topk(4))
    check_error(lambda: x.kthvalue(0), ["kthvalue", "out of range", "dimension 1"],
                torch_fn=lambda: torch.zeros(2, 3).kthvalue(0))
    check_error(lambda: x.sort(2), ["sort", "dim"], exc=IndexError)
    check_error(lambda: ndgrad.bincount(ndgrad.tensor([-1, 2])), ["bincount", "non-negative"],
                torch_fn=lambda: torch.bincount(torch.tensor([-1, 2])))
    check_error(lambda: ndgrad.bincount(ndgrad.tensor([1.0])), ["bincount", "integral", "float32"])
    check_error(lambda: ndgrad.bincount(ndgrad.tensor([1, 2]), ndgrad.ones(3)), ["weights", "same length"],
                torch_fn=lambda: torch.bincount(torch.tensor([1, 2]), torch.ones(3)))
    check_error(lambda: ndgrad.searchsorted(ndgrad.zeros(2, 3), ndgrad.zeros(3)), ["searchsorted", r"\[2, 3\]",
                r"\[3\]"], torch_fn=lambda: torch.searchsorted(torch.zeros(2, 3), torch.zeros(3)))
    check_error(lambda: ndgrad.searchsorted(ndgrad.zeros(3), ndgrad.zeros(3), right=True, side="left"),
                ["side and right"], torch_fn=lambda: torch.searchsorted(torch.zeros(3), torch.zeros(3),
                                                                       right=True, side="left"))
    check_error(lambda: ndgrad.bucketize(ndgrad.zeros(3), ndgrad.zeros(2, 2)), ["bucketize", "1 dimension"],
                torch_fn=lambda: torch.bucketize(torch.zeros(3), torch.zeros(2, 2)))
    check_error(lambda: ndgrad.histc(ndgrad.tensor([1, 2])), ["histc", "int64", r"\.float\(\)"],
                exc=NotImplementedError, torch_fn=lambda: torch.histc(torch.tensor([1, 2])))
    check_error(lambda: ndgrad.histogramdd(ndgrad.zeros(4, 2), [2, 2, 2]), ["histogramdd", "2 dims"],
                torch_fn=lambda: torch.histogramdd(torch.zeros(4, 2), [2, 2, 2]))
    check_error(lambda: ndgrad.histc(x, 4, 2, 1), ["max must be larger than min"],
                torch_fn=lambda: torch.histc(torch.zeros(2, 3), 4, 2, 1))
    check_error(lambda: ndgrad.logcumsumexp(ndgrad.tensor([1, 2]), 0), ["logcumsumexp", "int64"],
                exc=NotImplementedError, torch_fn=lambda: torch.logcumsumexp(torch.tensor([1, 2]), 0))
    check_error(lambda: ndgrad.zeros(2, 0).median(1), ["median", "size 0"])
    check_error(lambda: x.quantile(1.5), [r"quantile\(\) q must be in the range \[0, 1\] but got 1.5"],
                torch_fn=lambda: torch.zeros(2, 3).quantile(1.5))
    check_error(lambda: x.quantile(ndgrad.tensor([0.5], dtype=ndgrad.float64)), ["same dtype", "float64"],
                torch_fn=lambda: torch.zeros(2, 3).quantile(torch.tensor([0.5], dtype=torch.float64)))
    check_error(lambda: ndgrad.tensor([1, 2]).quantile(0.5), ["float or double", "int64"],
                torch_fn=lambda: torch.tensor([1, 2]).quantile(0.5))
    check_error(lambda: ndgrad.zeros(2, 0).quantile(0.5, dim=0), ["non-empty"],
                torch_fn=lambda: torch.zeros(2, 0).quantile(0.5, dim=0))
    check_error(lambda: x.quantile(0.5, interpolation="cubic"), ["interpolation", "linear", "cubic"],
                torch_fn=lambda: torch.zeros(2, 3).quantile(0.5, interpolation="cubic"))


def test_scan_fallback_matches_accumulate():
    # namespaces without ufunc.accumulate (some CuPy versions) take the log-step scan
    from ndgrad.ops.sorting import _scan
    a = oracle.random_array((3, 11), "float64")
    for ufunc in (np.maximum, np.minimum, np.logaddexp):
        for axis in (0, 1):
            got = _scan(np, lambda x, y, f=ufunc: f(x, y), a, axis)
            np.testing.assert_allclose(got, ufunc.accumulate(a, axis=axis), rtol=1e-12)


DTYPE_CASES = [
    ("sort", lambda lib, x: x.sort(1, descending=True)),
    ("topk", lambda lib, x: x.topk(2, largest=False)),
    ("median", lambda lib, x: (x.median(), x.median(0))),
    ("cummax", lambda lib, x: x.cummax(1)),
    ("quantile", lambda lib, x: x.quantile(0.3, dim=1)),
]


@pytest.mark.parametrize("dtype", ["float32", "float16", "int32", "uint8"])
@pytest.mark.parametrize("case", DTYPE_CASES, ids=ids(DTYPE_CASES))
def test_dtypes(case, dtype):
    if case[0] == "quantile" and dtype != "float32":
        check_error(lambda: ndgrad.zeros(2, 3, dtype=getattr(ndgrad, dtype)).quantile(0.5), ["float or double"],
                    torch_fn=lambda: torch.zeros(2, 3, dtype=getattr(torch, dtype)).quantile(0.5))
        return
    _, fn = case
    check_op([(4, 5)], lambda x: fn(torch, x), lambda x: fn(ndgrad, x), dtype=dtype, low=0, high=50)

"""ndgrad.linalg against torch.linalg: values, dtypes, gradients, float64 gradcheck, second order, errors.

Each case is ``f(lib, x, ...)`` written once for both libraries (``lib`` is torch or ndgrad). Inputs are
made well-posed inside f: ``wc`` adds a multiple of the identity (well-conditioned), ``spd`` builds
X X^T + n I, ``sym`` (X + X^T) / 2. Eigen/singular vectors are only defined up to sign, so their
cases compare gauge-invariant quantities (U * U, U diag(f(S)) Vh, ...).
"""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_higher_order, check_op, random_array


def eye_like(lib, x):
    return lib.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def wc(lib, x):
    return x + 4 * eye_like(lib, x)


def spd(lib, x):
    return x @ x.mT + x.shape[-1] * eye_like(lib, x)


def sym(lib, x):
    return (x + x.mT) / 2


def spread(lib, x):
    """A symmetric matrix with well separated eigenvalues (so eigenvector gradients are well-posed)."""
    n = x.shape[-1]
    steps = lib.arange(n, dtype=x.dtype, device=x.device) * 3.0
    return sym(lib, x) * 0.3 + lib.diag_embed(steps.expand(*x.shape[:-1]))


_arrays = np.random.default_rng(10)


def sym_array(*shape):
    """A symmetric float64 array with eigenvalues about 3 apart (eigenvectors well-posed)."""
    x = _arrays.uniform(-1, 1, shape)
    return (x + np.swapaxes(x, -1, -2)) * 0.3 + np.diag(np.arange(shape[-1]) * 3.0)


def spd_array(*shape):
    x = _arrays.uniform(-1, 1, shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def svd_invariants(U, S, Vh):
    k = S.shape[-1]
    U, Vh = U[..., :, :k], Vh[..., :k, :]
    return S, U * U, Vh * Vh, (U * (S * S)[..., None, :]) @ Vh


# name, input shapes, f(lib, *inputs)
CASES = [
    ("inv", [(3, 3)], lambda lib, x: lib.linalg.inv(wc(lib, x))),
    ("inv_batched", [(2, 4, 4)], lambda lib, x: lib.linalg.inv(wc(lib, x))),
    ("inv_1x1", [(1, 1)], lambda lib, x: lib.linalg.inv(wc(lib, x))),
    ("inv_empty_batch", [(0, 3, 3)], lambda lib, x: lib.linalg.inv(wc(lib, x))),
    ("inv_ex", [(2, 3, 3)], lambda lib, x: lib.linalg.inv_ex(wc(lib, x))),
    ("det", [(3, 3)], lambda lib, x: lib.linalg.det(x)),
    ("det_batched", [(2, 1, 4, 4)], lambda lib, x: lib.linalg.det(wc(lib, x))),
    ("det_singular", [(2, 4, 3)], lambda lib, x: lib.linalg.det(x @ x.mT)),   # rank 3 of 4
    ("det_rank_deficient", [(4, 2)], lambda lib, x: lib.linalg.det(x @ x.mT)),
    ("det_empty", [(0, 0)], lambda lib, x: lib.linalg.det(x)),
    ("slogdet", [(2, 3, 3)], lambda lib, x: lib.linalg.slogdet(x)),
    ("solve_matrix", [(3, 3), (3, 2)], lambda lib, a, b: lib.linalg.solve(wc(lib, a), b)),
    ("solve_vector", [(3, 3), (3,)], lambda lib, a, b: lib.linalg.solve(wc(lib, a), b)),
    ("solve_batched_vector", [(2, 3, 3), (2, 3)], lambda lib, a, b: lib.linalg.solve(wc(lib, a), b)),
    ("solve_broadcast", [(2, 1, 3, 3), (4, 3, 2)], lambda lib, a, b: lib.linalg.solve(wc(lib, a), b)),
    ("solve_right", [(3, 3), (2, 3)], lambda lib, a, b: lib.linalg.solve(wc(lib, a), b, left=False)),
    ("solve_ex", [(3, 3), (3, 2)], lambda lib, a, b: lib.linalg.solve_ex(wc(lib, a), b)),
    ("solve_triangular_upper", [(2, 3, 3), (2, 3, 2)],
     lambda lib, a, b: lib.linalg.solve_triangular(wc(lib, a), b, upper=True)),
    ("solve_triangular_lower", [(3, 3), (3, 4)],
     lambda lib, a, b: lib.linalg.solve_triangular(wc(lib, a), b, upper=False)),
    ("solve_triangular_unit", [(3, 3), (3, 2)],
     lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=False, unitriangular=True)),
    ("solve_triangular_right", [(3, 3), (2, 3)],
     lambda lib, a, b: lib.linalg.solve_triangular(wc(lib, a), b, upper=True, left=False)),
    ("solve_triangular_broadcast", [(3, 3), (2, 3, 2)],
     lambda lib, a, b: lib.linalg.solve_triangular(wc(lib, a), b, upper=True)),
    ("cholesky", [(3, 3)], lambda lib, x: lib.linalg.cholesky(spd(lib, x))),
    ("cholesky_direct", [spd_array(2, 4, 4)], lambda lib, x: lib.linalg.cholesky(x)),
    ("cholesky_direct_upper", [spd_array(3, 3)], lambda lib, x: lib.linalg.cholesky(x, upper=True)),
    ("cholesky_upper", [(2, 3, 3)], lambda lib, x: lib.linalg.cholesky(spd(lib, x), upper=True)),
    ("cholesky_ex", [(3, 3)], lambda lib, x: lib.linalg.cholesky_ex(spd(lib, x))),
    ("qr_tall", [(5, 3)], lambda lib, x: lib.linalg.qr(x)),
    ("qr_square_batched", [(2, 3, 3)], lambda lib, x: lib.linalg.qr(x)),
    ("qr_wide", [(3, 5)], lambda lib, x: lib.linalg.qr(x)),
    ("qr_complete_wide", [(2, 4)], lambda lib, x: lib.linalg.qr(x, mode="complete")),
    ("qr_r", [(4, 3)], lambda lib, x: lib.linalg.qr(x.detach(), mode="r")),
    ("eigh", [(4, 4)], lambda lib, x: (lambda L, V: (L, V * V))(*lib.linalg.eigh(spread(lib, x)))),
    ("eigh_batched_upper", [(2, 3, 3)],
     lambda lib, x: (lambda L, V: (L, V * V, V[..., 0:1] @ V[..., 0:1].mT))(*lib.linalg.eigh(spread(lib, x), "U"))),
    ("eigvalsh", [(2, 4, 4)], lambda lib, x: lib.linalg.eigvalsh(spread(lib, x))),
    ("eigh_direct", [sym_array(2, 4, 4)], lambda lib, x: (lambda L, V: (L, V * V))(*lib.linalg.eigh(x))),
    ("eigvalsh_direct_upper", [sym_array(3, 3)], lambda lib, x: lib.linalg.eigvalsh(x, UPLO="U")),
    ("pinv_hermitian_direct", [sym_array(3, 3)], lambda lib, x: lib.linalg.pinv(x, hermitian=True)),
    ("svd_reduced_tall", [(5, 3)], lambda lib, x: svd_invariants(*lib.linalg.svd(x, full_matrices=False))),
    ("svd_reduced_wide", [(2, 3, 5)], lambda lib, x: svd_invariants(*lib.linalg.svd(x, full_matrices=False))),
    ("svd_square", [(4, 4)], lambda lib, x: svd_invariants(*lib.linalg.svd(x))),
    ("svd_full_tall", [(5, 3)], lambda lib, x: svd_invariants(*lib.linalg.svd(x))),
    ("svd_full_wide_batched", [(2, 3, 5)], lambda lib, x: svd_invariants(*lib.linalg.svd(x))),
    ("svd_1xn", [(1, 4)], lambda lib, x: svd_invariants(*lib.linalg.svd(x, full_matrices=False))),
    ("svdvals", [(2, 4, 3)], lambda lib, x: lib.linalg.svdvals(x)),
    ("lu_factor", [(2, 4, 4)], lambda lib, x: lib.linalg.lu_factor(x)),
    ("lu_factor_ex", [(3, 3)], lambda lib, x: lib.linalg.lu_factor_ex(x)),
    ("lu_factor_tall", [(5, 3)], lambda lib, x: lib.linalg.lu_factor(x)),
    ("lu_factor_wide_batched", [(2, 3, 5)], lambda lib, x: lib.linalg.lu_factor(x)),
    ("lu", [(2, 3, 3)], lambda lib, x: lib.linalg.lu(x)),
    ("lu_wide", [(3, 5)], lambda lib, x: lib.linalg.lu(x)),
    ("lu_tall", [(2, 4, 2)], lambda lib, x: lib.linalg.lu(x)),
    ("lu_solve", [(2, 3, 3), (2, 3, 2)], lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(wc(lib, a)), b)),
    ("lu_solve_adjoint", [(3, 3), (3, 2)],
     lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(wc(lib, a)), b, adjoint=True)),
    ("lu_solve_right", [(3, 3), (2, 3)],
     lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(wc(lib, a)), b, left=False)),
    ("householder_product", [(4, 3), (3,)], lambda lib, a, t: lib.linalg.householder_product(a, t)),
    ("householder_product_batched", [(2, 5, 3), (2, 2)], lambda lib, a, t: lib.linalg.householder_product(a, t)),
    ("pinv_tall", [(5, 3)], lambda lib, x: lib.linalg.pinv(x)),
    ("pinv_batched_wide", [(2, 2, 4)], lambda lib, x: lib.linalg.pinv(x)),
    ("pinv_hermitian", [(4, 4)], lambda lib, x: lib.linalg.pinv(spread(lib, x), hermitian=True)),
    ("pinv_rtol", [(4, 3)], lambda lib, x: lib.linalg.pinv(x, rtol=0.01, atol=0.001)),
    ("pinv_rcond_positional", [(3, 3)], lambda lib, x: lib.linalg.pinv(sym(lib, x), 0.05, True)),
    ("pinv_drops_small_values", [(4, 2)], lambda lib, x: lib.linalg.pinv(x @ x.mT, rtol=1e-6)),
    ("matrix_rank", [(2, 4, 3)], lambda lib, x: lib.linalg.matrix_rank(x)),
    ("matrix_rank_low", [(4, 2)], lambda lib, x: lib.linalg.matrix_rank(x @ x.mT)),
    ("matrix_rank_hermitian", [(4, 2)], lambda lib, x: lib.linalg.matrix_rank(x @ x.mT, hermitian=True)),
    ("matrix_rank_atol", [(4, 4)], lambda lib, x: lib.linalg.matrix_rank(x, atol=1.0, rtol=0.0)),
    ("lstsq_tall", [(5, 3), (5, 2)], lambda lib, a, b: lib.linalg.lstsq(a, b)),
    ("lstsq_gelsd", [(2, 5, 3), (2, 5, 2)], lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd")),
    ("lstsq_gels_vector", [(5, 3), (5,)], lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gels")),
    ("tensorinv", [(2, 3, 6)], lambda lib, x: lib.linalg.tensorinv(wc(lib, x.reshape(6, 6)).reshape(2, 3, 6))),
    ("tensorinv_ind1", [(6, 2, 3)], lambda lib, x: lib.linalg.tensorinv(wc(lib, x.reshape(6, 6)).reshape(6, 2, 3), 1)),
    ("tensorsolve", [(6, 2, 3), (6,)],
     lambda lib, a, b: lib.linalg.tensorsolve(wc(lib, a.reshape(6, 6)).reshape(6, 2, 3), b)),
    ("tensorsolve_dims", [(2, 3, 6), (6,)],
     lambda lib, a, b: lib.linalg.tensorsolve(wc(lib, a.reshape(6, 6)).reshape(2, 3, 6), b, dims=(0, 1))),
    ("matrix_power_3", [(2, 3, 3)], lambda lib, x: lib.linalg.matrix_power(x, 3)),
    ("matrix_power_0", [(3, 3)], lambda lib, x: lib.linalg.matrix_power(x, 0)),
    ("matrix_power_1", [(3, 3)], lambda lib, x: lib.linalg.matrix_power(x, 1)),
    ("matrix_power_neg", [(3, 3)], lambda lib, x: lib.linalg.matrix_power(wc(lib, x), -2)),
    ("matrix_exp", [(3, 3)], lambda lib, x: lib.linalg.matrix_exp(x)),
    ("matrix_exp_batched", [(2, 4, 4)], lambda lib, x: lib.linalg.matrix_exp(x)),
    ("multi_dot", [(2, 3), (3, 4), (4, 5)], lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c])),
    ("multi_dot_vectors", [(3,), (3, 4), (4, 2), (2,)], lambda lib, a, b, c, d: lib.linalg.multi_dot([a, b, c, d])),
    ("cross", [(4, 3), (4, 3)], lambda lib, a, b: lib.linalg.cross(a, b)),
    ("cross_broadcast", [(2, 1, 3), (1, 4, 3)], lambda lib, a, b: lib.linalg.cross(a, b)),
    ("cross_dim", [(3, 2), (3, 2)], lambda lib, a, b: lib.linalg.cross(a, b, dim=0)),
    ("vecdot", [(2, 4), (4,)], lambda lib, a, b: lib.linalg.vecdot(a, b)),
    ("vecdot_dim", [(4, 2), (4, 2)], lambda lib, a, b: lib.linalg.vecdot(a, b, dim=0)),
    ("diagonal", [(2, 3, 4)], lambda lib, x: lib.linalg.diagonal(x, offset=1)),
    ("diagonal_dims", [(2, 3, 4)], lambda lib, x: lib.linalg.diagonal(x, dim1=0, dim2=2)),
    ("vander", [(4,)], lambda lib, x: lib.linalg.vander(x)),
    ("vander_batched_N", [(2, 3)], lambda lib, x: lib.linalg.vander(x, N=5)),
    ("matmul", [(2, 3), (3, 2)], lambda lib, a, b: lib.linalg.matmul(a, b)),
]

# norms: (ord, dim) for vector_norm and matrix_norm
VECTOR_NORMS = [(2, None), (1, None), (3, -1), (0.5, 1), (float("inf"), None), (-float("inf"), 0), (0, None),
                (-1, -1), (2, (0, 1))]
MATRIX_NORMS = ["fro", "nuc", float("inf"), -float("inf"), 1, -1, 2, -2]


@pytest.mark.parametrize("name,shapes,fn", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, shapes, fn):
    check_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(ndgrad, *xs))


@pytest.mark.parametrize("name,shapes,fn", CASES, ids=[c[0] for c in CASES])
def test_against_torch_float32_noncontiguous(name, shapes, fn):
    check_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(ndgrad, *xs), dtype="float32", contiguous=False)


@pytest.mark.parametrize("ord,dim", VECTOR_NORMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_vector_norm(ord, dim, keepdim):
    check_op([(3, 4)], lambda x: torch.linalg.vector_norm(x, ord, dim, keepdim),
             lambda x: ndgrad.linalg.vector_norm(x, ord, dim, keepdim))


@pytest.mark.parametrize("ord", MATRIX_NORMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm(ord, keepdim):
    check_op([(2, 3, 4)], lambda x: torch.linalg.matrix_norm(x, ord, keepdim=keepdim),
             lambda x: ndgrad.linalg.matrix_norm(x, ord, keepdim=keepdim))
    check_op([(3, 2, 4)], lambda x: torch.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=keepdim),
             lambda x: ndgrad.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=keepdim))


@pytest.mark.parametrize("ord,dim,shape", [(None, None, (3, 4)), (None, None, (2, 3, 4)), ("fro", None, (3, 4)),
                                           ("nuc", None, (3, 4)), (2, None, (5,)), (1, None, (3, 4)),
                                           (None, 1, (3, 4)), (3, (0,), (3, 4)), (-2, (1, 2), (2, 3, 4))], ids=str)
def test_norm(ord, dim, shape):
    check_op([shape], lambda x: torch.linalg.norm(x, ord, dim), lambda x: ndgrad.linalg.norm(x, ord, dim))


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, float("inf"), -float("inf")], ids=str)
def test_cond(p):
    # torch 2.13 cannot differentiate cond for the norms that go through inv_ex (an in-place error):
    # compare gradients where it can
    check_op([(2, 3, 3)], lambda x: torch.linalg.cond(wc(torch, x), p), lambda x: ndgrad.linalg.cond(wc(ndgrad, x), p),
             grad=p in (None, 2, -2, "nuc"))


def test_cond_gradcheck_through_inverse():
    x = _nd((3, 3))
    assert ndgrad.autograd.gradcheck(lambda a: ndgrad.linalg.cond(wc(ndgrad, a), "fro"), [x])


@pytest.mark.parametrize("ord", [0.5, 1.5, 3, -1, -0.5, 1, 2, float("inf")], ids=str)
def test_vector_norm_with_zeros(ord):
    # zero entries and an all-zero row: PyTorch's gradient there is 0, not inf or NaN
    a = np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
    check_op([a], lambda x: torch.linalg.vector_norm(x, ord, 1), lambda x: ndgrad.linalg.vector_norm(x, ord, 1))


def test_vector_norm_dtype_and_zero_gradient():
    check_op([(3,)], lambda x: torch.linalg.vector_norm(x, dtype=torch.float64),
             lambda x: ndgrad.linalg.vector_norm(x, dtype=ndgrad.float64), dtype="float32")
    check_op([np.zeros((2, 3))], lambda x: torch.linalg.vector_norm(x, dim=1),
             lambda x: ndgrad.linalg.vector_norm(x, dim=1))


# -- float64 gradcheck of every backward rule, and second derivatives -------------------------------

def _nd(shape, scale=1.0):
    return ndgrad.tensor(random_array(shape, "float64") * scale, requires_grad=True)


GRADCHECK = [
    ("inv", [(3, 3)], lambda x: ndgrad.linalg.inv(wc(ndgrad, x))),
    ("det", [(2, 3, 3)], lambda x: ndgrad.linalg.det(x)),
    ("slogdet", [(3, 3)], lambda x: ndgrad.linalg.slogdet(wc(ndgrad, x)).logabsdet),
    ("solve", [(3, 3), (3, 2)], lambda a, b: ndgrad.linalg.solve(wc(ndgrad, a), b)),
    ("solve_triangular", [(3, 3), (3, 2)], lambda a, b: ndgrad.linalg.solve_triangular(wc(ndgrad, a), b, upper=True)),
    ("solve_triangular_unit_right", [(3, 3), (2, 3)],
     lambda a, b: ndgrad.linalg.solve_triangular(a, b, upper=False, left=False, unitriangular=True)),
    ("cholesky", [(3, 3)], lambda x: ndgrad.linalg.cholesky(spd(ndgrad, x))),
    ("qr_tall", [(4, 3)], lambda x: ndgrad.linalg.qr(x)),
    ("qr_wide", [(2, 4)], lambda x: ndgrad.linalg.qr(x)),
    ("eigh", [(3, 3)], lambda x: (lambda L, V: (L, V * V))(*ndgrad.linalg.eigh(spread(ndgrad, x)))),
    ("svd_tall", [(4, 3)], lambda x: svd_invariants(*ndgrad.linalg.svd(x, full_matrices=False))),
    ("svd_wide", [(2, 4)], lambda x: svd_invariants(*ndgrad.linalg.svd(x, full_matrices=False))),
    ("lu_factor", [(3, 3)], lambda x: ndgrad.linalg.lu_factor(wc(ndgrad, x)).LU),
    ("lu_factor_tall", [(4, 2)], lambda x: ndgrad.linalg.lu_factor(x).LU),
    ("lu_wide", [(2, 4)], lambda x: ndgrad.linalg.lu(x)[1:]),
    ("lu_solve", [(3, 3), (3, 2)], lambda a, b: ndgrad.linalg.lu_solve(*ndgrad.linalg.lu_factor(wc(ndgrad, a)), b)),
    ("matrix_exp", [(3, 3)], lambda x: ndgrad.linalg.matrix_exp(x)),
    ("pinv", [(4, 3)], lambda x: ndgrad.linalg.pinv(x)),
    ("householder_product", [(4, 3), (2,)], lambda a, t: ndgrad.linalg.householder_product(a, t)),
    ("matrix_norm_nuc", [(3, 4)], lambda x: ndgrad.linalg.matrix_norm(x, "nuc")),
    ("matrix_norm_2", [(2, 3, 4)], lambda x: ndgrad.linalg.matrix_norm(x, 2)),
    ("vector_norm_3", [(3, 4)], lambda x: ndgrad.linalg.vector_norm(x, 3, dim=1)),
    ("vector_norm_half", [(3, 4)], lambda x: ndgrad.linalg.vector_norm(x, 0.5)),
    ("vector_norm_negative", [(3, 4)], lambda x: ndgrad.linalg.vector_norm(x, -1.5, dim=0)),
]


@pytest.mark.parametrize("name,shapes,fn", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck(name, shapes, fn):
    inputs = [_nd(s) for s in shapes]
    assert ndgrad.autograd.gradcheck(fn, inputs)


SECOND_ORDER = [c for c in CASES if c[0] in (
    "inv", "det", "slogdet", "solve_matrix", "solve_triangular_upper", "cholesky", "qr_tall", "eigh", "svd_square",
    "matrix_exp", "pinv_tall", "lu_solve", "householder_product", "multi_dot", "qr_wide", "svd_reduced_wide",
    "lu_factor", "lu_factor_tall", "lstsq_tall", "solve_right", "cholesky_upper", "pinv_hermitian", "eigvalsh",
    "matrix_power_neg", "tensorsolve", "svdvals", "solve_triangular_unit")]


@pytest.mark.parametrize("name,shapes,fn", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order_against_torch(name, shapes, fn):
    check_higher_order(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(ndgrad, *xs), order=2)


# -- result types, aliases of conventions, errors -------------------------------------------------

def test_named_tuple_fields():
    A = ndgrad.randn(3, 3, dtype=ndgrad.float64)
    assert ndgrad.linalg.svd(A)._fields == ("U", "S", "Vh")
    assert ndgrad.linalg.qr(A)._fields == ("Q", "R")
    assert ndgrad.linalg.eigh(A)._fields == ("eigenvalues", "eigenvectors")
    assert ndgrad.linalg.slogdet(A)._fields == ("sign", "logabsdet")
    assert ndgrad.linalg.lstsq(A, A)._fields == ("solution", "residuals", "rank", "singular_values")
    assert ndgrad.linalg.lu(A)._fields == ("P", "L", "U")
    assert ndgrad.linalg.lu_factor_ex(A)._fields == ("LU", "pivots", "info")
    assert type(ndgrad.linalg.svd(A)).__name__ == type(torch.linalg.svd(torch.eye(2))).__name__


@pytest.mark.parametrize("matrix", [[[1.0, 2.0], [2.0, 4.0]], [[1.0, 2.0, -1.0], [0.0, 0.0, 0.0], [0.5, -1.0, 3.0]],
                                    [[0.0, 0.0], [0.0, 1.0]]], ids=["rank1", "zero_row", "diag"])
def test_det_gradient_of_exactly_singular_matrix_is_the_adjugate(matrix):
    # torch 2.13 returns zeros here on its first-order fast path but the adjugate (the true derivative)
    # with create_graph=True; ndgrad always gives the adjugate, so compare with that path
    a = np.array(matrix)
    t = torch.tensor(a, requires_grad=True)
    (want,) = torch.autograd.grad(torch.linalg.det(t), t, create_graph=True)
    n = ndgrad.tensor(a, requires_grad=True)
    ndgrad.linalg.det(n).backward()
    np.testing.assert_allclose(n.grad.numpy(), want.detach().numpy(), atol=1e-12)
    assert ndgrad.autograd.gradcheck(ndgrad.linalg.det, [ndgrad.tensor(a, requires_grad=True)])


def test_qr_mode_r_gradient_refused_like_torch():
    x = _nd((3, 3))
    R = ndgrad.linalg.qr(x, mode="r").R
    check_error(lambda: R.sum().backward(), "mode='r'")


def test_inv_singular_error_matches_torch():
    z = np.zeros((2, 3, 3))
    z[1] = np.eye(3)
    z[0, 0, 0] = 1.0
    check_error(lambda: ndgrad.linalg.inv(ndgrad.tensor(z)),
                r"linalg\.inv: \(Batch element 0\): The diagonal element 2 is zero, the inversion could not be "
                r"completed because the input matrix is singular", exc=ndgrad.linalg.LinAlgError,
                torch_fn=lambda: torch.linalg.inv(torch.tensor(z)))
    with pytest.raises(Exception) as t_info:
        torch.linalg.inv(torch.tensor(z))
    with pytest.raises(ndgrad.linalg.LinAlgError) as n_info:
        ndgrad.linalg.inv(ndgrad.tensor(z))
    assert str(n_info.value) == str(t_info.value)
    assert isinstance(n_info.value, RuntimeError)


def test_inv_ex_and_solve_ex_report_singular():
    z = np.stack([np.eye(3), np.zeros((3, 3))])
    n_out, t_out = ndgrad.linalg.inv_ex(ndgrad.tensor(z)), torch.linalg.inv_ex(torch.tensor(z))
    assert n_out.info.tolist() == t_out.info.tolist()
    n_out = ndgrad.linalg.solve_ex(ndgrad.tensor(z), ndgrad.ones(3, dtype=ndgrad.float64))
    t_out = torch.linalg.solve_ex(torch.tensor(z), torch.ones(3, dtype=torch.float64))
    assert n_out.info.tolist() == t_out.info.tolist()
    check_error(lambda: ndgrad.linalg.solve(ndgrad.tensor(z), ndgrad.ones(3, dtype=ndgrad.float64)),
                r"\(Batch element 1\): The solver failed because the input matrix is singular",
                exc=ndgrad.linalg.LinAlgError)


def test_cholesky_error_names_batch_element_and_minor():
    a = np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0])])
    with pytest.raises(Exception) as t_info:
        torch.linalg.cholesky(torch.tensor(a))
    with pytest.raises(ndgrad.linalg.LinAlgError) as n_info:
        ndgrad.linalg.cholesky(ndgrad.tensor(a))
    assert str(n_info.value) == str(t_info.value)
    n_ex, t_ex = ndgrad.linalg.cholesky_ex(ndgrad.tensor(a)), torch.linalg.cholesky_ex(torch.tensor(a))
    assert n_ex.info.tolist() == t_ex.info.tolist()


BAD_CALLS = [
    (lambda lib: lib.linalg.inv(lib.ones(2, 3)), "square matrices, but they are 2 by 3"),
    (lambda lib: lib.linalg.inv(lib.ones(3)), "at least 2 dimensions"),
    (lambda lib: lib.linalg.det(lib.ones(3, 3, dtype=lib.int64)), "Expected a floating point"),
    (lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(4)), "Incompatible shapes of A and B"),
    (lambda lib: lib.linalg.eigh(lib.eye(3), UPLO="X"), "UPLO"),
    (lambda lib: lib.linalg.qr(lib.eye(3), mode="bad"), "unrecognized mode"),
    (lambda lib: lib.linalg.norm(lib.ones(2, 2, 2), ord=2), "must be 1D or 2D"),
    (lambda lib: lib.linalg.matrix_norm(lib.ones(2, 2), ord=3), "Order 3 not supported"),
    (lambda lib: lib.linalg.cross(lib.ones(4, 2), lib.ones(4, 2)), "must have length 3"),
    (lambda lib: lib.linalg.cross(lib.ones(4, 3), lib.ones(3)), "same number of dimensions"),
    (lambda lib: lib.linalg.multi_dot([lib.ones(2, 2)]), "at least 2 tensors"),
    (lambda lib: lib.linalg.tensorinv(lib.ones(2, 3), 1), "prod"),
    (lambda lib: lib.linalg.lstsq(lib.ones(3, 2), lib.ones(4, 2)), "should match"),
    (lambda lib: lib.linalg.householder_product(lib.ones(2, 3), lib.ones(1)), "greater than or equal"),
    (lambda lib: lib.linalg.inv(lib.eye(2, dtype=lib.float16)), "Low precision dtypes not supported"),
]


@pytest.mark.parametrize("call,match", BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_errors(call, match):
    check_error(lambda: call(ndgrad), match, torch_fn=lambda: call(torch))


EMPTY = [
    ("inv", lambda lib, x: lib.linalg.inv(x), True), ("det", lambda lib, x: lib.linalg.det(x), True),
    ("slogdet", lambda lib, x: lib.linalg.slogdet(x), True), ("cholesky", lambda lib, x: lib.linalg.cholesky(x), True),
    ("eigh", lambda lib, x: lib.linalg.eigh(x), True), ("matrix_exp", lambda lib, x: lib.linalg.matrix_exp(x), True),
    ("qr", lambda lib, x: lib.linalg.qr(x), False), ("svd", lambda lib, x: lib.linalg.svd(x), False),
    ("svdvals", lambda lib, x: lib.linalg.svdvals(x), False), ("lu", lambda lib, x: lib.linalg.lu(x.detach()), False),
    ("pinv", lambda lib, x: lib.linalg.pinv(x), False),
    ("matrix_rank", lambda lib, x: lib.linalg.matrix_rank(x), False),
    ("norm_1", lambda lib, x: lib.linalg.matrix_norm(x, 1), False),
    ("fro", lambda lib, x: lib.linalg.matrix_norm(x), False),
    ("norm_2", lambda lib, x: lib.linalg.matrix_norm(x, 2), False),
    ("norm_nuc", lambda lib, x: lib.linalg.matrix_norm(x, "nuc"), False),
    ("cond", lambda lib, x: lib.linalg.cond(x), False),
]


@pytest.mark.parametrize("name,fn,square_only", EMPTY, ids=[e[0] for e in EMPTY])
@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (3, 0), (0, 3), (2, 1, 1)], ids=str)
def test_empty_and_1x1_matrices(name, fn, square_only, shape):
    if square_only and shape[-1] != shape[-2]:
        pytest.skip(f"{name} takes square matrices only")
    spec = np.broadcast_to(np.eye(*shape[-2:]) * 2.0, shape).copy() if shape[-1] == shape[-2] else shape
    check_op([spec], lambda x: fn(torch, x), lambda x: fn(ndgrad, x))


GPU_CASES = [c for c in CASES if c[0] in (
    "inv_batched", "det_batched", "slogdet", "solve_broadcast", "solve_triangular_upper", "cholesky", "qr_tall",
    "qr_wide", "eigh", "svd_reduced_tall", "lu_factor", "lu_solve", "pinv_tall", "matrix_exp_batched",
    "matrix_power_neg", "householder_product")]


@pytest.mark.cuda
@pytest.mark.parametrize("name,shapes,fn", GPU_CASES, ids=[c[0] for c in GPU_CASES])
def test_gpu_against_torch(name, shapes, fn):
    check_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(ndgrad, *xs), device="cuda")


@pytest.mark.cuda
def test_gpu_errors_name_the_batch_element():
    z = ndgrad.zeros(2, 3, 3, dtype=ndgrad.float64).to("cuda")
    check_error(lambda: ndgrad.linalg.inv(z), r"\(Batch element 0\): The diagonal element 1 is zero",
                exc=ndgrad.linalg.LinAlgError)
    check_error(lambda: ndgrad.linalg.cholesky(-z - ndgrad.eye(3, dtype=ndgrad.float64).to("cuda")),
                r"leading minor of order 1", exc=ndgrad.linalg.LinAlgError)


def test_matrix_exp_taylor_fallback_matches_scipy():
    # the GPU path when cupyx has no expm; checked here on NumPy against torch's matrix_exp
    from ndgrad.linalg.products import _expm_taylor
    a = random_array((3, 4, 4), low=-3, high=3)
    np.testing.assert_allclose(_expm_taylor(np, a), torch.linalg.matrix_exp(torch.tensor(a)).numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (0, 0), (1, 1)], ids=str)
def test_ldl_factor_and_solve(shape):
    # symmetric and indefinite, so that Bunch-Kaufman uses 2x2 pivots too; torch has no derivative here
    x = random_array(shape)
    a = x + np.swapaxes(x, -1, -2)
    b = random_array(shape[:-1] + (2,))
    check_op([a], torch.linalg.ldl_factor, ndgrad.linalg.ldl_factor, grad=False)
    check_op([a], torch.linalg.ldl_factor_ex, ndgrad.linalg.ldl_factor_ex, grad=False)
    check_op([a, b], lambda m, r: torch.linalg.ldl_solve(*torch.linalg.ldl_factor(m), r),
             lambda m, r: ndgrad.linalg.ldl_solve(*ndgrad.linalg.ldl_factor(m), r), grad=False)


def test_ldl_has_no_derivative_like_torch():
    x = ndgrad.tensor(random_array((3, 3)) + 4 * np.eye(3), requires_grad=True)
    LD, pivots = ndgrad.linalg.ldl_factor(x + x.mT)
    check_error(lambda: LD.sum().backward(), "derivative for aten::linalg_ldl_factor_ex is not implemented")
    b = ndgrad.ones(3, 1, dtype=ndgrad.float64, requires_grad=True)
    check_error(lambda: ndgrad.linalg.ldl_solve(LD.detach(), pivots, b).sum().backward(),
                "derivative for aten::linalg_ldl_solve is not implemented")


def test_out_argument_like_torch():
    a = random_array((3, 3)) + 4 * np.eye(3)
    t_out, n_out = torch.empty(3, 3, dtype=torch.float64), ndgrad.empty(3, 3, dtype=ndgrad.float64)
    assert torch.linalg.inv(torch.tensor(a), out=t_out) is t_out
    assert ndgrad.linalg.inv(ndgrad.tensor(a), out=n_out) is n_out
    np.testing.assert_allclose(n_out.numpy(), t_out.numpy())
    t_q, t_r = torch.empty(0, dtype=torch.float64), torch.empty(0, dtype=torch.float64)
    n_q, n_r = ndgrad.empty(0, dtype=ndgrad.float64), ndgrad.empty(0, dtype=ndgrad.float64)
    torch.linalg.qr(torch.tensor(a), out=(t_q, t_r))
    result = ndgrad.linalg.qr(ndgrad.tensor(a), out=(n_q, n_r))
    assert result.Q is n_q and result.R is n_r
    np.testing.assert_allclose(n_r.numpy(), t_r.numpy())
    check_error(lambda: ndgrad.linalg.qr(ndgrad.tensor(a), out=n_q), "out must be a tuple of 2 tensors")


def test_lu_factor_singular_error_matches_torch():
    z = np.zeros((2, 3, 3))
    with pytest.raises(RuntimeError) as t_info:
        torch.linalg.lu_factor(torch.tensor(z))
    with pytest.raises(ndgrad.linalg.LinAlgError) as n_info:
        ndgrad.linalg.lu_factor(ndgrad.tensor(z))
    assert str(n_info.value) == str(t_info.value)
    check_op([z], torch.linalg.lu_factor_ex, ndgrad.linalg.lu_factor_ex, grad=False)
    check_op([z], torch.linalg.lu, ndgrad.linalg.lu, grad=False)


def test_one_matrix_at_a_time_paths(monkeypatch):
    # the loops that cupyx and SciPy < 1.15 need, run here on NumPy
    import ndgrad.linalg.lu_decomposition as lu_module
    import ndgrad.linalg.solvers as solvers_module
    monkeypatch.setattr(lu_module, "scipy_batches", lambda: False)
    monkeypatch.setattr(solvers_module, "scipy_batches", lambda: False)
    for name in ("lu_factor", "lu_factor_wide_batched", "solve_triangular_upper", "solve_triangular_broadcast"):
        _, shapes, fn = next(c for c in CASES if c[0] == name)
        check_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(ndgrad, *xs))


# complex results wait for complex dtypes; common_notes is documentation
NOT_YET = {"eig", "eigvals", "common_notes"}


def test_every_torch_linalg_name_exists():
    wanted = {n for n in dir(torch.linalg) if not n.startswith("_")} - NOT_YET
    assert sorted(wanted - set(dir(ndgrad.linalg))) == []
    assert issubclass(ndgrad.linalg.LinAlgError, RuntimeError)

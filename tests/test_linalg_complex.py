"""ndgrad.linalg with complex numbers against torch.linalg: eig / eigvals, and complex inv, det, solve.

Eigenvectors are defined up to a phase per column (and LAPACK may order eigenvalues differently), so eig
is compared on gauge-invariant quantities: the sorted eigenvalues, A V = V diag(L), unit columns, and
gradients of losses that depend on |V| and on the eigenvalues symmetrically.
"""
import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import gradcheck
from oracle import check_error

rng = np.random.default_rng(1234)
TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-10),
       "complex64": dict(rtol=2e-4, atol=2e-5), "complex128": dict(rtol=1e-9, atol=1e-10)}


def random_matrix(shape, dtype):
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def to_numpy(t):
    t = t.detach()
    if isinstance(t, torch.Tensor):
        t = t.resolve_conj()
    return np.array(t.cpu().numpy(), copy=True)


def pair(array, noncontiguous=False):
    """The same leaf in both libraries (a transposed view when ``noncontiguous``)."""
    x = ndgrad.tensor(array, requires_grad=True)
    y = torch.tensor(array, requires_grad=True)
    if noncontiguous:
        return x, y, x.mT, y.mT
    return x, y, x, y


def assert_close(a, b, dtype, what=""):
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


# -- eig / eigvals ---------------------------------------------------------------------------------

EIG_CASES = [  # (shape, dtype, noncontiguous)
    ((4, 4), "float64", False),
    ((4, 4), "complex128", False),
    ((3, 5, 5), "float64", True),
    ((2, 3, 3), "complex128", True),
    ((3, 3), "float32", False),
    ((2, 4, 4), "complex64", False),
    ((1, 1), "float64", False),
    ((1, 1), "complex128", False),
]


def gauge_invariant_loss(values, vectors):
    """Depends on |V| and symmetrically on the eigenvalues: the same whatever phase or order LAPACK picks."""
    return (values.abs() ** 2).sum() + values.real.sum() + (vectors.abs() ** 3).sum() + values.imag.pow(2).sum()


@pytest.mark.parametrize("shape,dtype,noncontiguous", EIG_CASES)
def test_eig_matches_torch(shape, dtype, noncontiguous):
    x, y, A, B = pair(random_matrix(shape, dtype), noncontiguous)
    values, vectors = ndgrad.linalg.eig(A)
    t_values, t_vectors = torch.linalg.eig(B)
    assert str(values.dtype).split(".")[-1] == str(t_values.dtype).split(".")[-1]
    assert str(vectors.dtype).split(".")[-1] == str(t_vectors.dtype).split(".")[-1]
    assert tuple(values.shape) == tuple(t_values.shape) and tuple(vectors.shape) == tuple(t_vectors.shape)
    L, V, a = to_numpy(values), to_numpy(vectors), to_numpy(A)
    tol_dtype = "float32" if dtype in ("float32", "complex64") else "float64"
    assert_close(np.sort_complex(L.reshape(-1, shape[-1])), np.sort_complex(to_numpy(t_values).reshape(-1, shape[-1])),
                 tol_dtype, "sorted eigenvalues")
    assert_close(a @ V, V * L[..., None, :], tol_dtype, "A V = V diag(L)")
    assert_close(np.linalg.norm(V, axis=-2), np.ones(L.shape), tol_dtype, "unit eigenvectors")

    gauge_invariant_loss(values, vectors).backward()
    gauge_invariant_loss(t_values, t_vectors).backward()
    assert x.grad.dtype == x.dtype
    grad_tol = "float32" if dtype in ("float32", "complex64") else "float64"
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(y.grad),
                               **({"rtol": 2e-3, "atol": 2e-4} if grad_tol == "float32" else TOL[grad_tol]))


@pytest.mark.parametrize("shape,dtype", [((4, 4), "float64"), ((2, 3, 3), "complex128"), ((5, 5), "complex64")])
def test_eigvals_matches_torch(shape, dtype):
    x, y, _, _ = pair(random_matrix(shape, dtype))
    values, t_values = ndgrad.linalg.eigvals(x), torch.linalg.eigvals(y)
    assert str(values.dtype).split(".")[-1] == str(t_values.dtype).split(".")[-1]
    tol_dtype = "float32" if dtype == "complex64" else "float64"
    assert_close(np.sort_complex(to_numpy(values)), np.sort_complex(to_numpy(t_values)), tol_dtype)
    # a symmetric function of the eigenvalues: its gradient does not depend on their order
    for lib, v in ((ndgrad, values), (torch, t_values)):
        ((v * v).real.sum() + v.abs().pow(3).sum()).backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(y.grad),
                               **({"rtol": 2e-3, "atol": 2e-4} if tol_dtype == "float32" else TOL["float64"]))


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (0, 3, 3)])
def test_eig_empty(shape):
    for dtype in ("float32", "complex128"):
        values, vectors = ndgrad.linalg.eig(ndgrad.zeros(shape, dtype=getattr(ndgrad, dtype)))
        t_values, t_vectors = torch.linalg.eig(torch.zeros(shape, dtype=getattr(torch, dtype)))
        assert tuple(values.shape) == tuple(t_values.shape) and tuple(vectors.shape) == tuple(t_vectors.shape)
        assert str(values.dtype).split(".")[-1] == str(t_values.dtype).split(".")[-1]


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_eig_gradcheck(dtype):
    A = ndgrad.tensor(random_matrix((2, 3, 3), dtype), requires_grad=True)

    def fn(A):
        values, vectors = ndgrad.linalg.eig(A)
        return values.real, values.imag, vectors.abs()

    assert gradcheck(fn, (A,))
    assert gradcheck(lambda A: ndgrad.linalg.eigvals(A).abs(), (A,))


def test_eig_phase_dependent_loss_is_refused_like_torch():
    a = random_matrix((3, 3), "complex128")
    for lib, linalg in ((torch, torch.linalg), (ndgrad, ndgrad.linalg)):
        A = lib.tensor(a, requires_grad=True)
        _, vectors = linalg.eig(A)
        with pytest.raises(RuntimeError, match="specified up to multiplication by e\\^\\{i phi\\}"):
            vectors.real.sum().backward()


def test_eig_double_backward():
    a = random_matrix((3, 3), "float64")
    grads = []
    for lib in (ndgrad, torch):
        A = lib.tensor(a, requires_grad=True)
        values, vectors = lib.linalg.eig(A)
        loss = gauge_invariant_loss(values, vectors)
        (g,) = lib.autograd.grad(loss, A, create_graph=True)
        (g.pow(2).sum()).backward()
        grads.append(to_numpy(A.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-7, atol=1e-8)


def test_eig_errors():
    check_error(lambda: ndgrad.linalg.eig(ndgrad.ones(2, 3)), "square",
                torch_fn=lambda: torch.linalg.eig(torch.ones(2, 3)))
    check_error(lambda: ndgrad.linalg.eig(ndgrad.ones(3)), "at least 2 dimensions",
                torch_fn=lambda: torch.linalg.eig(torch.ones(3)))
    check_error(lambda: ndgrad.linalg.eigvals(ndgrad.ones(2, 2, dtype=ndgrad.int64)), "floating point or complex",
                torch_fn=lambda: torch.linalg.eigvals(torch.ones(2, 2, dtype=torch.int64)))
    bad = [[float("inf"), 0.0], [0.0, 1.0]]
    check_error(lambda: ndgrad.linalg.eig(ndgrad.tensor(bad)), "should not contain infs or NaNs",
                torch_fn=lambda: torch.linalg.eig(torch.tensor(bad)))


# -- eigh / eigvalsh on complex Hermitian matrices -------------------------------------------------

@pytest.mark.parametrize("shape,dtype,uplo", [((4, 4), "complex128", "L"), ((2, 3, 3), "complex128", "U"),
                                              ((3, 3), "complex64", "L")])
def test_complex_eigh_matches_torch(shape, dtype, uplo):
    # a general matrix: both libraries read only the triangle named by UPLO
    x, y, _, _ = pair(random_matrix(shape, dtype))
    values, vectors = ndgrad.linalg.eigh(x, UPLO=uplo)
    t_values, t_vectors = torch.linalg.eigh(y, UPLO=uplo)
    for mine, theirs in ((values, t_values), (vectors, t_vectors)):
        assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    tol = "float32" if dtype == "complex64" else "float64"
    assert_close(to_numpy(values), to_numpy(t_values), tol, "eigenvalues")
    assert_close(np.abs(to_numpy(vectors)), np.abs(to_numpy(t_vectors)), tol, "|eigenvectors|")
    for L, V in ((values, vectors), (t_values, t_vectors)):
        ((L ** 3).sum() + (V.abs() ** 3).sum()).backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(y.grad),
                               **({"rtol": 2e-3, "atol": 2e-4} if tol == "float32" else TOL["float64"]))
    w, t_w = ndgrad.linalg.eigvalsh(x.detach(), UPLO=uplo), torch.linalg.eigvalsh(y.detach(), UPLO=uplo)
    assert str(w.dtype).split(".")[-1] == str(t_w.dtype).split(".")[-1]
    assert_close(to_numpy(w), to_numpy(t_w), tol, "eigvalsh")


def test_complex_eigh_gradcheck():
    A = ndgrad.tensor(random_matrix((2, 3, 3), "complex128"), requires_grad=True)

    def fn(A):
        values, vectors = ndgrad.linalg.eigh(A + A.mH)   # Hermitian, so every entry of A is read
        return values, vectors.abs()

    assert gradcheck(fn, (A,))
    assert gradcheck(lambda A: ndgrad.linalg.eigvalsh(A + A.mH), (A,))


def test_complex_eigh_phase_dependent_loss_is_refused_like_torch():
    a = random_matrix((3, 3), "complex128")
    for lib in (torch, ndgrad):
        A = lib.tensor(a, requires_grad=True)
        _, vectors = lib.linalg.eigh(A)
        with pytest.raises(RuntimeError, match="linalg_eigh_backward: The eigenvectors in the complex case"):
            vectors.real.sum().backward()


# -- svd on complex matrices -----------------------------------------------------------------------

def svd_invariant_loss(U, S, Vh, weights):
    """Phase-invariant: the reconstruction U diag(S) Vh, the singular values, and |U|, |Vh|."""
    k = S.shape[-1]
    U, Vh = U[..., :, :k], Vh[..., :k, :]
    rebuilt = (U * S[..., None, :]) @ Vh
    return (rebuilt * weights).real.sum() + (S ** 3).sum() + ((U.abs() ** 2) @ (Vh.abs() ** 2)).sum()


@pytest.mark.parametrize("shape,dtype,full", [((4, 4), "complex128", False), ((5, 3), "complex128", True),
                                              ((2, 3, 5), "complex128", False), ((2, 3, 5), "complex128", True),
                                              ((4, 3), "complex64", False)])
def test_complex_svd_matches_torch(shape, dtype, full):
    x, y, _, _ = pair(random_matrix(shape, dtype))
    weights = random_matrix(shape, dtype)
    out, t_out = ndgrad.linalg.svd(x, full_matrices=full), torch.linalg.svd(y, full_matrices=full)
    for mine, theirs in zip(out, t_out):
        assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert tuple(mine.shape) == tuple(theirs.shape)
    tol = "float32" if dtype == "complex64" else "float64"
    assert_close(to_numpy(out.S), to_numpy(t_out.S), tol, "S")
    k = out.S.shape[-1]
    U, Vh = to_numpy(out.U)[..., :k], to_numpy(out.Vh)[..., :k, :]
    assert_close((U * to_numpy(out.S)[..., None, :]) @ Vh, to_numpy(x), tol, "U diag(S) Vh = A")
    svd_invariant_loss(*out, ndgrad.tensor(weights)).backward()
    svd_invariant_loss(*t_out, torch.tensor(weights)).backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(y.grad),
                               **({"rtol": 2e-3, "atol": 2e-4} if tol == "float32" else TOL["float64"]))


def test_complex_svd_gradcheck():
    A = ndgrad.tensor(random_matrix((2, 4, 3), "complex128"), requires_grad=True)

    def fn(A):
        U, S, Vh = ndgrad.linalg.svd(A, full_matrices=False)
        return S, U.abs(), (U * S[..., None, :]) @ Vh

    assert gradcheck(fn, (A,))


def test_complex_svd_phase_dependent_loss_is_refused_like_torch():
    a = random_matrix((3, 3), "complex128")
    for lib in (torch, ndgrad):
        A = lib.tensor(a, requires_grad=True)
        U, _, _ = lib.linalg.svd(A)
        with pytest.raises(RuntimeError, match="svd_backward: The singular vectors in the complex case"):
            U.real.sum().backward()


# -- inv, det, solve on complex matrices -----------------------------------------------------------

def weighted_loss(out, weights):
    """A real loss with a different complex weight per element (so every output entry gets its own grad)."""
    return (out * weights).real.sum() + (out.abs() ** 2).sum()


def compare_complex_op(nd_fn, torch_fn, shapes, dtype, noncontiguous=False, grads=True):
    arrays = [random_matrix(s, dtype) for s in shapes]
    nd_in = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    th_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    nd_args = [t.mT if noncontiguous else t for t in nd_in]
    th_args = [t.mT if noncontiguous else t for t in th_in]
    nd_out, th_out = nd_fn(*nd_args), torch_fn(*th_args)
    assert str(nd_out.dtype).split(".")[-1] == str(th_out.dtype).split(".")[-1]
    tol = "float32" if dtype == "complex64" else "float64"
    assert_close(to_numpy(nd_out), to_numpy(th_out), tol, "forward")
    if not grads:
        return
    weights = random_matrix(tuple(th_out.shape), dtype)
    weighted_loss(nd_out, ndgrad.tensor(weights)).backward()
    weighted_loss(th_out, torch.tensor(weights)).backward()
    for i, (a, b) in enumerate(zip(nd_in, th_in)):
        np.testing.assert_allclose(to_numpy(a.grad), to_numpy(b.grad), err_msg=f"grad {i}",
                                   **({"rtol": 1e-3, "atol": 1e-4} if tol == "float32" else TOL["float64"]))


SOLVER_CASES = [  # (name, ndgrad fn, torch fn, input shapes, noncontiguous)
    ("inv", ndgrad.linalg.inv, torch.linalg.inv, [(3, 3)], False),
    ("inv_batched_nc", ndgrad.linalg.inv, torch.linalg.inv, [(2, 4, 4)], True),
    ("inv_1x1", ndgrad.linalg.inv, torch.linalg.inv, [(1, 1)], False),
    ("inv_ex", lambda A: ndgrad.linalg.inv_ex(A).inverse, lambda A: torch.linalg.inv_ex(A).inverse, [(3, 3)], False),
    ("det", ndgrad.linalg.det, torch.linalg.det, [(3, 3)], False),
    ("det_batched_nc", ndgrad.linalg.det, torch.linalg.det, [(2, 3, 4, 4)], True),
    ("solve", ndgrad.linalg.solve, torch.linalg.solve, [(3, 3), (3, 2)], False),
    ("solve_vector", ndgrad.linalg.solve, torch.linalg.solve, [(3, 3), (3,)], False),
    ("solve_broadcast", ndgrad.linalg.solve, torch.linalg.solve, [(2, 3, 3), (1, 3, 4)], False),
    ("solve_right", lambda A, B: ndgrad.linalg.solve(A, B, left=False),
     lambda A, B: torch.linalg.solve(A, B, left=False), [(3, 3), (2, 3)], False),
    ("solve_ex", lambda A, B: ndgrad.linalg.solve_ex(A, B).result,
     lambda A, B: torch.linalg.solve_ex(A, B).result, [(4, 4), (4, 1)], False),
    # a well-conditioned triangle: the random matrix plus 4 I; only the triangle named by upper is read
    ("solve_triangular_upper", lambda A, B: ndgrad.linalg.solve_triangular(A + 4 * ndgrad.eye(3), B, upper=True),
     lambda A, B: torch.linalg.solve_triangular(A + 4 * torch.eye(3), B, upper=True), [(3, 3), (3, 2)], False),
    ("solve_triangular_lower_right_unit",
     lambda A, B: ndgrad.linalg.solve_triangular(A, B, upper=False, left=False, unitriangular=True),
     lambda A, B: torch.linalg.solve_triangular(A, B, upper=False, left=False, unitriangular=True),
     [(2, 3, 3), (2, 3, 4)], True),
    # Hermitian positive-definite inputs built from the random matrix: A A^H + I
    ("cholesky", lambda A: ndgrad.linalg.cholesky(A @ A.mH + ndgrad.eye(3)),
     lambda A: torch.linalg.cholesky(A @ A.mH + torch.eye(3)), [(3, 3)], False),
    ("cholesky_upper_batched", lambda A: ndgrad.linalg.cholesky(A @ A.mH + ndgrad.eye(4), upper=True),
     lambda A: torch.linalg.cholesky(A @ A.mH + torch.eye(4), upper=True), [(2, 4, 4)], True),
    ("cholesky_ex", lambda A: ndgrad.linalg.cholesky_ex(A @ A.mH + ndgrad.eye(3)).L,
     lambda A: torch.linalg.cholesky_ex(A @ A.mH + torch.eye(3)).L, [(3, 3)], False),
    ("matrix_power_neg", lambda A: ndgrad.linalg.matrix_power(A, -2),
     lambda A: torch.linalg.matrix_power(A, -2), [(2, 3, 3)], False),
    ("multi_dot", lambda A, B: ndgrad.linalg.multi_dot([A, B, A]), lambda A, B: torch.linalg.multi_dot([A, B, A]),
     [(3, 3), (3, 3)], False),
    ("tensorinv", lambda A: ndgrad.linalg.tensorinv(A.reshape(6, 2, 3), 1),
     lambda A: torch.linalg.tensorinv(A.reshape(6, 2, 3), 1), [(6, 6)], False),
    ("tensorsolve", lambda A, B: ndgrad.linalg.tensorsolve(A.reshape(2, 3, 6), B),
     lambda A, B: torch.linalg.tensorsolve(A.reshape(2, 3, 6), B), [(6, 6), (2, 3)], False),
]

QR_CASES = [  # (name, mode, shape, noncontiguous): Q and R are unique (R's diagonal is real), so compared directly
    ("qr_square", "reduced", (4, 4), False),
    ("qr_tall", "reduced", (5, 3), True),
    ("qr_wide", "reduced", (3, 5), False),
    ("qr_complete_wide_batched", "complete", (2, 3, 5), False),
    ("qr_complete_square", "complete", (4, 4), True),
]


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name,mode,shape,noncontiguous", QR_CASES, ids=[c[0] for c in QR_CASES])
def test_complex_qr_matches_torch(name, mode, shape, noncontiguous, dtype):
    for part in (0, 1):
        compare_complex_op(lambda A: ndgrad.linalg.qr(A, mode=mode)[part],
                           lambda A: torch.linalg.qr(A, mode=mode)[part], [shape], dtype, noncontiguous)


def test_complex_qr_gradcheck():
    for shape in ((4, 3), (3, 4)):
        A = ndgrad.tensor(random_matrix(shape, "complex128"), requires_grad=True)
        assert gradcheck(lambda A: tuple(ndgrad.linalg.qr(A)), (A,))


PSEUDO_CASES = [  # (name, ndgrad fn, torch fn, shapes)
    ("pinv_tall", ndgrad.linalg.pinv, torch.linalg.pinv, [(2, 4, 3)]),
    ("pinv_wide", ndgrad.linalg.pinv, torch.linalg.pinv, [(3, 5)]),
    ("pinv_hermitian", lambda A: ndgrad.linalg.pinv(A + A.mH, hermitian=True),
     lambda A: torch.linalg.pinv(A + A.mH, hermitian=True), [(3, 3)]),
    ("lstsq", lambda A, B: ndgrad.linalg.lstsq(A, B).solution, lambda A, B: torch.linalg.lstsq(A, B).solution,
     [(2, 4, 3), (2, 4, 2)]),
    ("lstsq_residuals", lambda A, B: ndgrad.linalg.lstsq(A, B, driver="gelsd").residuals,
     lambda A, B: torch.linalg.lstsq(A, B, driver="gelsd").residuals, [(5, 3), (5, 2)]),
]


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name,nd_fn,torch_fn,shapes", PSEUDO_CASES, ids=[c[0] for c in PSEUDO_CASES])
def test_complex_pseudo_inverse_and_lstsq_match_torch(name, nd_fn, torch_fn, shapes, dtype):
    compare_complex_op(nd_fn, torch_fn, shapes, dtype)


def test_complex_pinv_gradcheck():
    A = ndgrad.tensor(random_matrix((4, 3), "complex128"), requires_grad=True)
    assert gradcheck(ndgrad.linalg.pinv, (A,))


def test_complex_matrix_rank_matches_torch():
    low_rank = random_matrix((2, 4, 2), "complex128") @ random_matrix((2, 2, 5), "complex128")
    hermitian = random_matrix((3, 3), "complex128")
    hermitian = hermitian + hermitian.conj().T
    for args, kwargs in (((low_rank,), {}), ((hermitian,), {"hermitian": True}), ((low_rank,), {"atol": 1.0})):
        mine = ndgrad.linalg.matrix_rank(ndgrad.tensor(args[0]), **kwargs)
        theirs = torch.linalg.matrix_rank(torch.tensor(args[0]), **kwargs)
        assert mine.dtype == ndgrad.int64
        np.testing.assert_array_equal(to_numpy(mine), to_numpy(theirs))
    S = ndgrad.linalg.lstsq(ndgrad.tensor(low_rank), ndgrad.tensor(low_rank), driver="gelsd").singular_values
    assert S.dtype == ndgrad.float64   # real, like torch's


NORM_CASES = [  # real results from complex matrices
    ("fro", lambda L, A: L.linalg.matrix_norm(A)),
    ("one", lambda L, A: L.linalg.matrix_norm(A, 1)),
    ("minus_one_keepdim", lambda L, A: L.linalg.matrix_norm(A, -1, keepdim=True)),
    ("inf_dims", lambda L, A: L.linalg.matrix_norm(A, float("inf"), dim=(0, 2))),
    ("minus_inf", lambda L, A: L.linalg.matrix_norm(A, -float("inf"))),
    ("norm_fro", lambda L, A: L.linalg.norm(A[0], "fro")),
    ("two", lambda L, A: L.linalg.matrix_norm(A, 2)),
    ("minus_two", lambda L, A: L.linalg.matrix_norm(A, -2)),
    ("nuc_keepdim", lambda L, A: L.linalg.matrix_norm(A, "nuc", keepdim=True)),
    ("svdvals", lambda L, A: L.linalg.svdvals(A)),
    ("cond", lambda L, A: L.linalg.cond(A)),
    ("cond_nuc", lambda L, A: L.linalg.cond(A, "nuc")),
]
# torch 2.13 cannot differentiate cond of a complex matrix (it writes into inv_ex's output): values only
COND_CASES = [
    ("cond_fro", lambda L, A: L.linalg.cond(A, "fro")),
    ("cond_inf", lambda L, A: L.linalg.cond(A, float("inf"))),
    ("cond_minus_one", lambda L, A: L.linalg.cond(A, -1)),
]


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name,fn", NORM_CASES, ids=[c[0] for c in NORM_CASES])
def test_complex_matrix_norms_match_torch(name, fn, dtype):
    compare_complex_op(lambda A: fn(ndgrad, A), lambda A: fn(torch, A), [(2, 3, 3)], dtype)


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name,fn", COND_CASES, ids=[c[0] for c in COND_CASES])
def test_complex_cond_matches_torch(name, fn, dtype):
    compare_complex_op(lambda A: fn(ndgrad, A), lambda A: fn(torch, A), [(2, 3, 3)], dtype, grads=False)


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name,nd_fn,torch_fn,shapes,noncontiguous", SOLVER_CASES, ids=[c[0] for c in SOLVER_CASES])
def test_complex_solvers_match_torch(name, nd_fn, torch_fn, shapes, noncontiguous, dtype):
    compare_complex_op(nd_fn, torch_fn, shapes, dtype, noncontiguous)


@pytest.mark.parametrize("name,fn,shapes", [
    ("cholesky", lambda A: ndgrad.linalg.cholesky(A @ A.mH + ndgrad.eye(3)), [(3, 3)]),
    ("solve_triangular", lambda A, B: ndgrad.linalg.solve_triangular(A + 4 * ndgrad.eye(3), B, upper=True),
     [(3, 3), (3, 2)]),
    ("matrix_norm_fro", lambda A: ndgrad.linalg.matrix_norm(A), [(3, 3)]),
    ("cond_fro", lambda A: ndgrad.linalg.cond(A, "fro"), [(3, 3)]),   # torch cannot: checked here only
    ("inv", ndgrad.linalg.inv, [(3, 3)]),
    ("det", ndgrad.linalg.det, [(2, 3, 3)]),
    ("solve", ndgrad.linalg.solve, [(3, 3), (3, 2)]),
    ("solve_right", lambda A, B: ndgrad.linalg.solve(A, B, left=False), [(3, 3), (2, 3)]),
])
def test_complex_solvers_gradcheck(name, fn, shapes):
    inputs = [ndgrad.tensor(random_matrix(s, "complex128"), requires_grad=True) for s in shapes]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_complex_slogdet_matches_torch(dtype):
    x, y, _, _ = pair(random_matrix((2, 3, 3), dtype))
    weights = random_matrix((2,), dtype)
    out, t_out = ndgrad.linalg.slogdet(x), torch.linalg.slogdet(y)
    tol = "float32" if dtype == "complex64" else "float64"
    for mine, theirs in zip(out, t_out):
        assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert_close(to_numpy(mine), to_numpy(theirs), tol)
    # the complex sign (the phase of det) has a gradient too
    ((out.sign * ndgrad.tensor(weights)).real.sum() + (out.logabsdet ** 2).sum()).backward()
    ((t_out.sign * torch.tensor(weights)).real.sum() + (t_out.logabsdet ** 2).sum()).backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(y.grad),
                               **({"rtol": 1e-3, "atol": 1e-4} if tol == "float32" else TOL["float64"]))


def test_complex_slogdet_gradcheck():
    A = ndgrad.tensor(random_matrix((2, 3, 3), "complex128"), requires_grad=True)
    assert gradcheck(lambda A: tuple(ndgrad.linalg.slogdet(A)), (A,))


def test_complex_det_gradient_at_a_singular_matrix_is_the_adjugate():
    """torch returns 0 here; ndgrad gives the derivative itself, conj of the cofactor matrix (as for real A)."""
    a = random_matrix((3, 3), "complex128")
    a[1] = 0
    A = ndgrad.tensor(a, requires_grad=True)
    ndgrad.linalg.det(A).real.backward()
    minor = lambda i, j: np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))  # noqa: E731
    cofactors = np.array([[(-1) ** (i + j) * minor(i, j) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(to_numpy(A.grad), cofactors.conj(), **TOL["complex128"])
    assert gradcheck(lambda A: ndgrad.linalg.det(A), (ndgrad.tensor(a, requires_grad=True),))


@pytest.mark.parametrize("name", ["svd", "logdet"])
def test_complex_legacy_aliases_match_torch(name):
    """torch.svd returns V = Vh^H; torch.logdet of a complex matrix is the complex log of det."""
    if name == "svd":
        fn = lambda lib, A: (lambda U, S, V: (U * S[..., None, :]) @ V.mH + V.abs())(*lib.svd(A))  # noqa: E731
    else:
        fn = lambda lib, A: lib.logdet(A)  # noqa: E731
    compare_complex_op(lambda A: fn(ndgrad, A), lambda A: fn(torch, A), [(2, 3, 3)], "complex128")


def test_complex_real_mix_is_refused_like_torch():
    A = random_matrix((3, 3), "complex128")
    B = random_matrix((3, 1), "float64")
    check_error(lambda: ndgrad.linalg.solve(ndgrad.tensor(A), ndgrad.tensor(B)), "same dtype",
                torch_fn=lambda: torch.linalg.solve(torch.tensor(A), torch.tensor(B)))


# lu, ldl, householder_product, matrix_exp, cholesky_solve and svd_lowrank: tests/test_linalg_complex_more.py




"""The rest of ndgrad.linalg with complex numbers against torch: the LU family (lu_factor, lu, lu_unpack,
lu_solve, torch.lu, torch.lu_solve), ldl_factor / ldl_solve, householder_product (orgqr, ormqr),
matrix_exp, cholesky_solve, and the randomized svd_lowrank / pca_lowrank.

Each case is ``f(lib, *inputs)`` written once for both libraries. Forward values, dtypes and the gradient
of a real loss (a complex weight per output entry plus |out|^2) are compared with torch in complex64 and
complex128; every differentiable function also gets a complex128 gradcheck.
"""
import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import gradcheck
from oracle import check_error

# torch warns that its own legacy names (torch.lu, torch.lu_solve) are deprecated: torch talking, not ndgrad
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated:UserWarning")

rng = np.random.default_rng(2026)
TOL = {"complex64": dict(rtol=2e-4, atol=2e-5), "complex128": dict(rtol=1e-9, atol=1e-10)}
GRAD_TOL = {"complex64": dict(rtol=2e-3, atol=2e-4), "complex128": dict(rtol=1e-8, atol=1e-9)}


def random_matrix(shape, dtype="complex128"):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def to_numpy(t):
    t = t.detach()
    if isinstance(t, torch.Tensor):
        t = t.resolve_conj()
    return np.array(t.cpu().numpy(), copy=True)


def dtype_name(t):
    return str(t.dtype).split(".")[-1]


def eye(lib, x):
    return lib.eye(x.shape[-1], dtype=x.dtype)


def wc(lib, x):
    """Well-conditioned: x + 4 I."""
    return x + 4 * eye(lib, x)


def hpd(lib, x):
    """Hermitian positive-definite: x x^H + n I."""
    return x @ x.mH + x.shape[-1] * eye(lib, x)


def chol(lib, x, upper=False):
    return lib.linalg.cholesky(hpd(lib, x), upper=upper)


def as_tuple(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


def compare(fn, shapes, dtype, noncontiguous=False, grads=True):
    """fn(lib, *inputs) in both libraries: shapes, dtypes, values, and the gradient of a weighted real loss."""
    arrays = [random_matrix(s, dtype) for s in shapes]
    nd_in = [ndgrad.tensor(a, requires_grad=grads) for a in arrays]
    th_in = [torch.tensor(a, requires_grad=grads) for a in arrays]
    nd_args = [t.mT if noncontiguous and t.ndim >= 2 else t for t in nd_in]
    th_args = [t.mT if noncontiguous and t.ndim >= 2 else t for t in th_in]
    nd_out, th_out = as_tuple(fn(ndgrad, *nd_args)), as_tuple(fn(torch, *th_args))
    assert len(nd_out) == len(th_out)
    nd_loss = th_loss = 0
    for i, (mine, theirs) in enumerate(zip(nd_out, th_out)):
        assert dtype_name(mine) == dtype_name(theirs), f"output {i} dtype"
        assert tuple(mine.shape) == tuple(theirs.shape), f"output {i} shape"
        tol = TOL["complex64" if dtype_name(theirs) in ("complex64", "float32") else "complex128"]
        np.testing.assert_allclose(to_numpy(mine), to_numpy(theirs), err_msg=f"output {i}", **tol)
        assert mine.requires_grad == theirs.requires_grad, f"output {i} requires_grad"
        if theirs.requires_grad:
            w = random_matrix(tuple(theirs.shape), dtype)
            nd_loss = nd_loss + (mine * ndgrad.tensor(w)).real.sum() + (mine.abs() ** 2).sum()
            th_loss = th_loss + (theirs * torch.tensor(w)).real.sum() + (theirs.abs() ** 2).sum()
    if not grads:
        return
    nd_loss.backward()
    th_loss.backward()
    for i, (a, b) in enumerate(zip(nd_in, th_in)):
        assert (a.grad is None) == (b.grad is None), f"grad {i} presence"
        if b.grad is not None:
            assert dtype_name(a.grad) == dtype_name(b.grad)
            np.testing.assert_allclose(to_numpy(a.grad), to_numpy(b.grad), err_msg=f"grad {i}", **GRAD_TOL[dtype])


def lu_solve(lib, a, b, **kwargs):
    return lib.linalg.lu_solve(*lib.linalg.lu_factor(wc(lib, a)), b, **kwargs)


# name, input shapes, f(lib, *inputs), noncontiguous
CASES = [
    ("lu_factor", [(4, 4)], lambda lib, a: lib.linalg.lu_factor(a), False),
    ("lu_factor_batched_nc", [(2, 4, 4)], lambda lib, a: lib.linalg.lu_factor(a), True),
    ("lu_factor_tall", [(5, 3)], lambda lib, a: lib.linalg.lu_factor(a), False),
    ("lu_factor_wide_batched", [(2, 3, 5)], lambda lib, a: lib.linalg.lu_factor(a), False),
    ("lu_factor_1x1", [(1, 1)], lambda lib, a: lib.linalg.lu_factor(a), False),
    ("lu_factor_ex", [(3, 3)], lambda lib, a: lib.linalg.lu_factor_ex(a), False),
    ("lu", [(4, 4)], lambda lib, a: lib.linalg.lu(a), False),
    ("lu_tall_batched", [(2, 5, 3)], lambda lib, a: lib.linalg.lu(a), False),
    ("lu_wide_nc", [(5, 3)], lambda lib, a: lib.linalg.lu(a), True),
    ("lu_unpack", [(2, 3, 3)], lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)), False),
    ("lu_unpack_wide", [(3, 5)], lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)), False),
    ("lu_solve", [(3, 3), (3, 2)], lu_solve, False),
    ("lu_solve_batched_nc", [(2, 3, 3), (2, 3, 3)], lu_solve, True),
    ("lu_solve_broadcast", [(2, 3, 3), (3, 2)], lu_solve, False),
    ("lu_solve_adjoint", [(3, 3), (3, 2)], lambda lib, a, b: lu_solve(lib, a, b, adjoint=True), False),
    ("lu_solve_right", [(3, 3), (2, 3)], lambda lib, a, b: lu_solve(lib, a, b, left=False), False),
    ("lu_solve_right_adjoint", [(2, 3, 3), (2, 4, 3)],
     lambda lib, a, b: lu_solve(lib, a, b, left=False, adjoint=True), False),
    ("torch_lu", [(2, 3, 3)], lambda lib, a: lib.lu(a), False),
    ("torch_lu_infos_method", [(3, 3)], lambda lib, a: a.lu(get_infos=True), False),
    ("torch_lu_solve", [(3, 3), (3, 2)], lambda lib, a, b: lib.lu_solve(b, *lib.linalg.lu_factor(wc(lib, a))), False),
    ("lu_solve_method", [(2, 3, 3), (2, 3, 1)], lambda lib, a, b: b.lu_solve(*lib.linalg.lu_factor(wc(lib, a))),
     False),
    ("cholesky_solve", [(3, 3), (3, 2)], lambda lib, a, b: lib.cholesky_solve(b, chol(lib, a)), False),
    ("cholesky_solve_upper_batched", [(2, 3, 3), (2, 2, 3)],
     lambda lib, a, b: lib.cholesky_solve(b, chol(lib, a, upper=True), upper=True), True),
    ("cholesky_solve_method", [(4, 4), (4, 1)], lambda lib, a, b: b.cholesky_solve(chol(lib, a)), False),
    ("cholesky_inverse", [(3, 3)], lambda lib, a: lib.cholesky_inverse(chol(lib, a)), False),
    ("householder_product", [(4, 3), (3,)], lambda lib, a, t: lib.linalg.householder_product(a, t), False),
    ("householder_product_batched", [(2, 5, 3), (2, 2)], lambda lib, a, t: lib.linalg.householder_product(a, t),
     False),
    ("householder_product_nc", [(3, 4), (2,)], lambda lib, a, t: lib.linalg.householder_product(a, t), True),
    ("orgqr_method", [(4, 4), (4,)], lambda lib, a, t: a.orgqr(t), False),
    ("ormqr", [(4, 3), (3,), (4, 2)], lambda lib, a, t, c: lib.ormqr(a, t, c), False),
    ("ormqr_right_transpose", [(4, 3), (3,), (2, 4)],
     lambda lib, a, t, c: lib.ormqr(a, t, c, left=False, transpose=True), False),
    ("matrix_exp", [(3, 3)], lambda lib, a: lib.linalg.matrix_exp(a), False),
    ("matrix_exp_batched_nc", [(2, 4, 4)], lambda lib, a: lib.linalg.matrix_exp(a), True),
    ("matrix_exp_large_norm", [(3, 3)], lambda lib, a: lib.linalg.matrix_exp(3 * a), False),
    ("matrix_exp_1x1", [(1, 1)], lambda lib, a: lib.linalg.matrix_exp(a), False),
    ("matrix_exp_top_level", [(2, 2)], lambda lib, a: lib.matrix_exp(a), False),
    ("matrix_exp_method", [(2, 3, 3)], lambda lib, a: a.matrix_exp(), False),
]


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name,shapes,fn,noncontiguous", CASES, ids=[c[0] for c in CASES])
def test_complex_matches_torch(name, shapes, fn, noncontiguous, dtype):
    compare(fn, shapes, dtype, noncontiguous)


EMPTY_CASES = [
    ("lu_factor", [(0, 0)], lambda lib, a: lib.linalg.lu_factor(a)),
    ("lu_batched", [(0, 3, 3)], lambda lib, a: lib.linalg.lu(a)),
    ("lu_solve", [(2, 2), (2, 0)], lambda lib, a, b: lu_solve(lib, a, b)),
    ("matrix_exp", [(2, 0, 0)], lambda lib, a: lib.linalg.matrix_exp(a)),
    ("cholesky_solve", [(3, 3), (3, 0)], lambda lib, a, b: lib.cholesky_solve(b, chol(lib, a))),
]


@pytest.mark.parametrize("name,shapes,fn", EMPTY_CASES, ids=[c[0] for c in EMPTY_CASES])
def test_complex_size_zero_matches_torch(name, shapes, fn):
    compare(fn, shapes, "complex128", grads=False)


GRADCHECK_CASES = [  # name, input shapes, f(*inputs) with ndgrad
    ("lu_factor", [(3, 3)], lambda a: ndgrad.linalg.lu_factor(a).LU),
    ("lu_tall", [(2, 4, 2)], lambda a: tuple(ndgrad.linalg.lu(a))[1:]),
    ("lu_wide", [(2, 4)], lambda a: tuple(ndgrad.linalg.lu(a))[1:]),
    ("lu_solve", [(3, 3), (3, 2)], lambda a, b: lu_solve(ndgrad, a, b)),
    ("lu_solve_adjoint_right", [(3, 3), (2, 3)], lambda a, b: lu_solve(ndgrad, a, b, adjoint=True, left=False)),
    ("cholesky_solve", [(3, 3), (3, 2)], lambda a, b: ndgrad.cholesky_solve(b, chol(ndgrad, a))),
    ("cholesky_solve_upper", [(3, 3), (3, 2)],
     lambda a, b: ndgrad.cholesky_solve(b, chol(ndgrad, a, upper=True), upper=True)),
    ("householder_product", [(4, 3), (2,)], lambda a, t: ndgrad.linalg.householder_product(a, t)),
    ("matrix_exp", [(2, 3, 3)], lambda a: ndgrad.linalg.matrix_exp(a)),
]


@pytest.mark.parametrize("name,shapes,fn", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_complex_gradcheck(name, shapes, fn):
    inputs = [ndgrad.tensor(random_matrix(s), requires_grad=True) for s in shapes]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["lu_factor", "matrix_exp", "householder_product"])
def test_complex_double_backward_matches_torch(name):
    fn = {"lu_factor": lambda lib, a: lib.linalg.lu_factor(a).LU,
          "matrix_exp": lambda lib, a: lib.linalg.matrix_exp(a),
          "householder_product": lambda lib, a: lib.linalg.householder_product(a, a[..., 0, :2])}[name]
    a, w = random_matrix((3, 3)), random_matrix((3, 3))
    grads = []
    for lib in (ndgrad, torch):
        A = lib.tensor(a, requires_grad=True)
        out = fn(lib, A)
        out = out[..., :, :2] if name == "householder_product" else out
        (g,) = lib.autograd.grad((out * lib.tensor(w[:, :out.shape[-1]])).real.sum(), A, create_graph=True)
        (g.abs() ** 2).sum().backward()
        grads.append(to_numpy(A.grad))
    np.testing.assert_allclose(grads[0], grads[1], **GRAD_TOL["complex128"])


def test_complex_matrix_exp_taylor_fallback_matches_torch():
    # the GPU path when cupyx has no expm; checked here on NumPy
    from ndgrad.linalg.products import _expm_taylor
    a = 2 * random_matrix((2, 4, 4))
    np.testing.assert_allclose(_expm_taylor(np, a), torch.linalg.matrix_exp(torch.tensor(a)).numpy(),
                               rtol=1e-10, atol=1e-10)


# -- ldl: values only (neither library differentiates it) ---------------------------------------------

def symmetric(a, hermitian):
    return a + (np.conj(np.swapaxes(a, -1, -2)) if hermitian else np.swapaxes(a, -1, -2))


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("shape,hermitian", [((4, 4), False), ((4, 4), True), ((2, 3, 3), True),
                                             ((2, 5, 5), False), ((1, 1), True), ((0, 0), True)])
def test_complex_ldl_matches_torch(shape, hermitian, dtype):
    a = symmetric(random_matrix(shape, dtype), hermitian)
    b = random_matrix(shape[:-1] + (2,), dtype)
    results = []
    for lib in (ndgrad, torch):
        LD, pivots, info = lib.linalg.ldl_factor_ex(lib.tensor(a), hermitian=hermitian)
        LD2, pivots2 = lib.linalg.ldl_factor(lib.tensor(a), hermitian=hermitian)
        X = lib.linalg.ldl_solve(LD, pivots, lib.tensor(b), hermitian=hermitian)
        results.append((LD, pivots, info, LD2, pivots2, X))
    for i, (mine, theirs) in enumerate(zip(*results)):
        assert dtype_name(mine) == dtype_name(theirs) and tuple(mine.shape) == tuple(theirs.shape), f"output {i}"
        np.testing.assert_allclose(to_numpy(mine), to_numpy(theirs), err_msg=f"output {i}", **TOL[dtype])
    if a.size:   # the solution solves A X = B
        np.testing.assert_allclose(a @ to_numpy(results[0][-1]), b, **TOL[dtype])


def test_real_ldl_hermitian_flag_is_the_symmetric_factorization():
    a = rng.standard_normal((3, 4, 4))
    a = a + np.swapaxes(a, -1, -2)
    for hermitian in (False, True):
        LD, pivots = ndgrad.linalg.ldl_factor(ndgrad.tensor(a), hermitian=hermitian)
        t_LD, t_pivots = torch.linalg.ldl_factor(torch.tensor(a), hermitian=hermitian)
        np.testing.assert_allclose(to_numpy(LD), to_numpy(t_LD), **TOL["complex128"])
        np.testing.assert_array_equal(to_numpy(pivots), to_numpy(t_pivots))


def test_complex_ldl_has_no_derivative_like_torch():
    a = symmetric(random_matrix((3, 3)), True)
    for lib in (ndgrad, torch):
        A = lib.tensor(a, requires_grad=True)
        LD, pivots = lib.linalg.ldl_factor(A, hermitian=True)
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
            LD.abs().sum().backward()
        B = lib.tensor(random_matrix((3, 1)), requires_grad=True)
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not implemented"):
            lib.linalg.ldl_solve(LD.detach(), pivots, B, hermitian=True).abs().sum().backward()


# -- svd_lowrank / pca_lowrank: randomized, so only what does not depend on the random projection -----

@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("fn,shape,q,use_M", [("svd_lowrank", (8, 6), 3, False), ("svd_lowrank", (2, 5, 9), 3, False),
                                              ("svd_lowrank", (6, 6), 3, True), ("pca_lowrank", (10, 5), 3, False)],
                         ids=str)
def test_complex_lowrank_matches_torch(fn, shape, q, use_M, dtype):
    # exactly rank 3 (after centring for pca, after subtracting M): with q = 3 the approximation is exact,
    # and the gradient of S is the exact SVD's whatever projection was drawn
    a = random_matrix(shape[:-1] + (3,), dtype) @ random_matrix(shape[:-2] + (3, shape[-1]), dtype)
    m = random_matrix(shape, dtype) if use_M else None
    if use_M:
        a = a + m
    x, y = ndgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    mine = getattr(ndgrad, fn)(x, q=q, **({"M": ndgrad.tensor(m)} if use_M else {}))
    theirs = getattr(torch, fn)(y, q=q, **({"M": torch.tensor(m)} if use_M else {}))
    for part, t_part in zip(mine, theirs):
        assert dtype_name(part) == dtype_name(t_part) and tuple(part.shape) == tuple(t_part.shape)
    tol = TOL[dtype]
    np.testing.assert_allclose(to_numpy(mine[1]), to_numpy(theirs[1]), **tol)
    rebuilt = [to_numpy((U * S[..., None, :]) @ V.mH) for U, S, V in (mine, theirs)]
    np.testing.assert_allclose(rebuilt[0], rebuilt[1], **tol)
    for U, S, V in (mine, theirs):
        (S ** 2).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(y.grad), **GRAD_TOL[dtype])


@pytest.mark.parametrize("fn,shape", [("svd_lowrank", (2, 4, 3)), ("svd_lowrank", (2, 3)), ("pca_lowrank", (4, 3))])
def test_complex_lowrank_gradcheck(fn, shape):
    # the same random projection on every call (re-seeded), so the function is deterministic in A
    def lowrank(a):
        ndgrad.manual_seed(0)
        U, S, V = getattr(ndgrad, fn)(a, q=2)
        return S, (U * S[..., None, :]) @ V.mH

    assert gradcheck(lowrank, (ndgrad.tensor(random_matrix(shape), requires_grad=True),))


# -- errors: what torch refuses, refused the same way ---------------------------------------------------

def c128(*shape):
    return random_matrix(shape) + 3 * np.eye(*shape[-2:])


def test_complex_real_mixes_are_refused_like_torch():
    a, b = c128(3, 3), rng.standard_normal((3, 2))
    LU, piv = ndgrad.linalg.lu_factor(ndgrad.tensor(a))
    t_LU, t_piv = torch.linalg.lu_factor(torch.tensor(a))
    check_error(lambda: ndgrad.linalg.lu_solve(LU, piv, ndgrad.tensor(b)),
                "Expected LU and B to have the same dtype, but found LU of type ComplexDouble and B of type Double",
                torch_fn=lambda: torch.linalg.lu_solve(t_LU, t_piv, torch.tensor(b)))
    check_error(lambda: ndgrad.lu_solve(ndgrad.tensor(b), LU, piv), "same dtype",
                torch_fn=lambda: torch.lu_solve(torch.tensor(b), t_LU, t_piv))
    check_error(lambda: ndgrad.cholesky_solve(ndgrad.tensor(b), ndgrad.tensor(a)),
                "Expected b and A to have the same dtype, but found b of type Double and A of type ComplexDouble",
                torch_fn=lambda: torch.cholesky_solve(torch.tensor(b), torch.tensor(a)))
    check_error(lambda: ndgrad.cholesky_solve(ndgrad.tensor(b.astype(np.complex64)), ndgrad.tensor(a)),
                "found b of type ComplexFloat and A of type ComplexDouble",
                torch_fn=lambda: torch.cholesky_solve(torch.tensor(b.astype(np.complex64)), torch.tensor(a)))
    check_error(lambda: ndgrad.linalg.householder_product(ndgrad.tensor(a), ndgrad.tensor(b[:, 0])),
                "tau dtype Double does not match input dtype ComplexDouble",
                torch_fn=lambda: torch.linalg.householder_product(torch.tensor(a), torch.tensor(b[:, 0])))
    check_error(lambda: ndgrad.orgqr(ndgrad.tensor(a.astype(np.complex64)), ndgrad.tensor(a[0])),
                "tau dtype ComplexDouble does not match input dtype ComplexFloat",
                torch_fn=lambda: torch.orgqr(torch.tensor(a.astype(np.complex64)), torch.tensor(a[0])))
    LD, pivots = ndgrad.linalg.ldl_factor(ndgrad.tensor(a))
    t_LD, t_pivots = torch.linalg.ldl_factor(torch.tensor(a))
    check_error(lambda: ndgrad.linalg.ldl_solve(LD, pivots, ndgrad.tensor(b)),
                "Expected b and A to have the same dtype", torch_fn=lambda: torch.linalg.ldl_solve(t_LD, t_pivots, torch.tensor(b)))


def test_complex_geqrf_values_and_refused_gradient_like_torch():
    a = c128(2, 4, 3)
    mine, theirs = ndgrad.geqrf(ndgrad.tensor(a)), torch.geqrf(torch.tensor(a))
    for part, t_part in zip(mine, theirs):
        assert dtype_name(part) == dtype_name(t_part)
        np.testing.assert_allclose(to_numpy(part), to_numpy(t_part), **TOL["complex128"])
    check_error(lambda: ndgrad.geqrf(ndgrad.tensor(a, requires_grad=True)),
                "geqrf does not support automatic differentiation for outputs with complex dtype",
                torch_fn=lambda: torch.geqrf(torch.tensor(a, requires_grad=True)))
    with ndgrad.no_grad():
        assert ndgrad.geqrf(ndgrad.tensor(a, requires_grad=True)).a.dtype == ndgrad.complex128


def test_complex_singular_lu_factor_is_reported_like_torch():
    a = c128(2, 3, 3)
    a[1, :, 0] = 0
    with pytest.raises(RuntimeError) as t_info:
        torch.linalg.lu_factor(torch.tensor(a))
    error = check_error(lambda: ndgrad.linalg.lu_factor(ndgrad.tensor(a)), ["(Batch element 1)", "U\\[1,1\\] is zero"],
                        exc=RuntimeError)
    assert str(error) == str(t_info.value)
    info, t_info = ndgrad.linalg.lu_factor_ex(ndgrad.tensor(a)).info, torch.linalg.lu_factor_ex(torch.tensor(a)).info
    np.testing.assert_array_equal(to_numpy(info), to_numpy(t_info))
    # check_errors=True raises as lu_factor does; the legacy torch.lu never raises (infos say it)
    with pytest.raises(RuntimeError) as t_info:
        torch.linalg.lu_factor_ex(torch.tensor(a), check_errors=True)
    error = check_error(lambda: ndgrad.linalg.lu_factor_ex(ndgrad.tensor(a), check_errors=True), "lu_factor_ex")
    assert str(error) == str(t_info.value)
    mine, theirs = ndgrad.lu(ndgrad.tensor(a), get_infos=True), torch.lu(torch.tensor(a), get_infos=True)
    for part, t_part in zip(mine + ndgrad.lu(ndgrad.tensor(a)), theirs + torch.lu(torch.tensor(a))):
        np.testing.assert_allclose(to_numpy(part), to_numpy(t_part), **TOL["complex128"])

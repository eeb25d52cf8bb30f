"""The top-level linear-algebra names (torch.det, torch.svd, torch.qr, ...) and Tensor methods, against torch.

These keep PyTorch's legacy conventions: torch.svd returns V (not Vh) and takes some=/compute_uv=,
torch.qr takes some=, triangular_solve(b, A) has its arguments reversed, ...
"""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_op, random_array

# torch warns that its own legacy names are deprecated; that is torch talking, not ndgrad
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated:UserWarning")


def wc(lib, x):
    return x + 4 * lib.eye(x.shape[-1], dtype=x.dtype)


def spd(lib, x):
    return x @ x.mT + x.shape[-1] * lib.eye(x.shape[-1], dtype=x.dtype)


def svd_invariants(U, S, V):
    return S, U * U, V * V, (U * S[..., None, :]) @ V.mT


# name, input shapes, f(lib, *inputs)
CASES = [
    ("det", [(2, 3, 3)], lambda lib, x: lib.det(x)),
    ("det_method", [(3, 3)], lambda lib, x: x.det()),
    ("logdet", [(3, 3)], lambda lib, x: lib.logdet(wc(lib, x))),
    ("logdet_method_nan", [(2, 3, 3)], lambda lib, x: x.logdet()),
    ("slogdet", [(2, 3, 3)], lambda lib, x: lib.slogdet(x)),
    ("slogdet_method", [(3, 3)], lambda lib, x: x.slogdet()),
    ("inverse", [(2, 3, 3)], lambda lib, x: lib.inverse(wc(lib, x))),
    ("inverse_method", [(3, 3)], lambda lib, x: wc(lib, x).inverse()),
    ("pinverse", [(4, 3)], lambda lib, x: lib.pinverse(x)),
    ("pinverse_method_rcond", [(3, 4)], lambda lib, x: x.pinverse(rcond=0.1)),
    ("svd", [(4, 3)], lambda lib, x: svd_invariants(*lib.svd(x))),
    ("svd_method_wide", [(2, 3, 5)], lambda lib, x: svd_invariants(*x.svd())),
    ("svd_not_some", [(3, 3)], lambda lib, x: svd_invariants(*lib.svd(x, some=False))),
    ("svd_no_uv", [(4, 3)], lambda lib, x: lib.svd(x, compute_uv=False)),
    ("qr", [(4, 3)], lambda lib, x: lib.qr(x)),
    ("qr_method_not_some", [(3, 4)], lambda lib, x: x.qr(some=False)),
    ("cholesky", [(2, 3, 3)], lambda lib, x: lib.cholesky(spd(lib, x))),
    ("cholesky_method_upper", [(3, 3)], lambda lib, x: spd(lib, x).cholesky(upper=True)),
    ("cholesky_solve", [(3, 3), (3, 2)], lambda lib, a, b: lib.cholesky_solve(b, lib.linalg.cholesky(spd(lib, a)))),
    ("cholesky_solve_upper_method", [(2, 3, 3), (2, 3, 2)],
     lambda lib, a, b: b.cholesky_solve(lib.linalg.cholesky(spd(lib, a), upper=True), upper=True)),
    ("cholesky_inverse", [(3, 3)], lambda lib, x: lib.cholesky_inverse(lib.linalg.cholesky(spd(lib, x)))),
    ("cholesky_inverse_method_upper", [(3, 3)],
     lambda lib, x: lib.linalg.cholesky(spd(lib, x), upper=True).cholesky_inverse(upper=True)),
    ("lu", [(2, 3, 3)], lambda lib, x: lib.lu(x)),
    ("lu_method_infos", [(3, 3)], lambda lib, x: x.lu(get_infos=True)),
    ("lu_solve", [(2, 3, 3), (2, 3, 2)], lambda lib, a, b: lib.lu_solve(b, *lib.linalg.lu_factor(wc(lib, a)))),
    ("lu_solve_method", [(3, 3), (3, 1)], lambda lib, a, b: b.lu_solve(*lib.linalg.lu_factor(wc(lib, a)))),
    ("lu_unpack", [(2, 3, 3)], lambda lib, x: lib.lu_unpack(*lib.linalg.lu_factor(x))),
    ("lu_unpack_wide", [(3, 5)], lambda lib, x: lib.lu_unpack(*lib.linalg.lu_factor(x.detach()))),
    ("matrix_power", [(3, 3)], lambda lib, x: lib.matrix_power(x, 4)),
    ("matrix_power_method", [(2, 3, 3)], lambda lib, x: x.matrix_power(2)),
    ("matrix_exp", [(3, 3)], lambda lib, x: lib.matrix_exp(x)),
    ("matrix_exp_method", [(2, 2, 2)], lambda lib, x: x.matrix_exp()),
    ("triangular_solve", [(3, 2), (3, 3)], lambda lib, b, a: lib.triangular_solve(b, wc(lib, a))),
    ("triangular_solve_lower_transpose", [(2, 3, 2), (2, 3, 3)],
     lambda lib, b, a: lib.triangular_solve(b, wc(lib, a), upper=False, transpose=True)),
    ("triangular_solve_method_unit", [(3, 2), (3, 3)],
     lambda lib, b, a: b.triangular_solve(a, unitriangular=True)),
    ("chain_matmul", [(2, 3), (3, 4), (4, 2)], lambda lib, a, b, c: lib.chain_matmul(a, b, c)),
    ("orgqr", [(4, 3), (2,)], lambda lib, a, t: lib.orgqr(a, t)),
    ("orgqr_method", [(4, 3), (3,)], lambda lib, a, t: a.orgqr(t)),
    ("geqrf", [(2, 5, 3)], lambda lib, x: lib.geqrf(x.detach())),
    ("geqrf_wide_method", [(3, 4)], lambda lib, x: x.detach().geqrf()),
    ("ormqr", [(4, 3), (3,), (4, 2)], lambda lib, a, t, c: lib.ormqr(a, t, c)),
    ("ormqr_transpose_right", [(2, 4, 3), (2, 3), (2, 3, 4)],
     lambda lib, a, t, c: lib.ormqr(a, t, c, left=False, transpose=True)),
    ("ormqr_method", [(4, 4), (4,), (4, 1)], lambda lib, a, t, c: a.ormqr(t, c, transpose=True)),
]


@pytest.mark.parametrize("name,shapes,fn", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, shapes, fn):
    check_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(ndgrad, *xs))


VANDER = [((4,), {}), ((3,), {"N": 5, "increasing": True}), ((3,), {"N": 1}), ((3,), {"N": 0}), ((0,), {})]


@pytest.mark.parametrize("shape,kwargs", VANDER, ids=str)
def test_vander(shape, kwargs):
    # torch 2.13's vander cannot be differentiated (an in-place error in its backward): values here,
    # ndgrad's gradient by gradcheck below
    check_op([shape], lambda x: torch.vander(x, **kwargs), lambda x: ndgrad.vander(x, **kwargs), grad=False)


def test_vander_gradcheck():
    x = ndgrad.tensor(random_array((3,)), requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda t: ndgrad.vander(t, N=4), [x])


def test_geqrf_gradient_refused_like_torch():
    x = ndgrad.tensor(random_array((3, 3)), requires_grad=True)
    a, tau = ndgrad.geqrf(x)
    assert a.requires_grad and tau.requires_grad
    check_error(lambda: a.sum().backward(), "derivative for 'geqrf' is not implemented")


def _low_rank(shape, rank):
    return random_array(shape[:-1] + (rank,)) @ random_array(shape[:-2] + (rank, shape[-1]))


@pytest.mark.parametrize("fn,shape,q", [("svd_lowrank", (8, 6), 4), ("svd_lowrank", (2, 5, 9), 3),
                                        ("pca_lowrank", (10, 5), None)], ids=str)
def test_lowrank_recovers_low_rank_matrices(fn, shape, q):
    # randomized: ndgrad and torch draw different projections, so compare what does not depend on them
    a = _low_rank(shape, 3)
    kwargs = {} if q is None else {"q": q}
    t_U, t_S, t_V = getattr(torch, fn)(torch.tensor(a), **kwargs)
    x = ndgrad.tensor(a, requires_grad=True)
    U, S, V = getattr(ndgrad, fn)(x, **kwargs)
    for mine, theirs in ((U, t_U), (S, t_S), (V, t_V)):
        assert tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(S.detach().numpy()[..., :3], t_S.numpy()[..., :3], rtol=1e-8, atol=1e-10)
    top = (U[..., :3] * S[..., None, :3]) @ V[..., :3].mT
    want = (t_U[..., :3] * t_S[..., None, :3]) @ t_V[..., :3].mT
    np.testing.assert_allclose(top.detach().numpy(), want.numpy(), rtol=1e-8, atol=1e-9)
    S[..., :3].sum().backward()
    assert x.grad is not None and tuple(x.grad.shape) == shape


def test_vander_integers():
    check_op([(4,)], torch.vander, ndgrad.vander, dtype="int64", low=-3, high=4)


def test_result_types():
    A = ndgrad.randn(3, 3, dtype=ndgrad.float64)
    assert ndgrad.svd(A)._fields == ("U", "S", "V")
    assert type(ndgrad.svd(A)).__name__ == "svd"
    assert ndgrad.slogdet(A)._fields == ("sign", "logabsdet")
    assert ndgrad.qr(A)._fields == ("Q", "R")
    assert ndgrad.triangular_solve(A, A)._fields == ("solution", "cloned_coefficient")
    assert ndgrad.lu_unpack(*ndgrad.linalg.lu_factor(A))._fields == ("P", "L", "U")


def test_logdet_of_negative_and_singular_matrices():
    a = np.stack([-np.eye(3), np.zeros((3, 3))])
    check_op([a], torch.logdet, ndgrad.logdet, grad=False)


def test_errors():
    check_error(lambda: ndgrad.vander(ndgrad.ones(2, 2)), "one-dimensional",
                torch_fn=lambda: torch.vander(torch.ones(2, 2)))
    check_error(lambda: ndgrad.cholesky_solve(ndgrad.ones(4, 1), ndgrad.eye(3)), "Incompatible matrix sizes",
                torch_fn=lambda: torch.cholesky_solve(torch.ones(4, 1), torch.eye(3)))
    check_error(lambda: ndgrad.inverse(ndgrad.zeros(3, 3)), "singular", exc=ndgrad.linalg.LinAlgError,
                torch_fn=lambda: torch.inverse(torch.zeros(3, 3)))


def test_readme_style_program():
    x = random_array((4, 3))
    A_t = torch.tensor(x, requires_grad=True)
    A_n = ndgrad.tensor(x, requires_grad=True)
    for lib, A in ((torch, A_t), (ndgrad, A_n)):
        U, S, V = lib.svd(A)
        Q, R = lib.qr(A)
        loss = S.sum() + lib.det(R[:3, :3] @ R[:3, :3].mT).log() + A.pinverse().pow(2).sum()
        loss.backward()
    np.testing.assert_allclose(A_n.grad.numpy(), A_t.grad.numpy(), rtol=1e-7, atol=1e-9)


def test_out_argument():
    a = random_array((3, 3)) + 4 * np.eye(3)
    t_out, n_out = torch.empty(3, 3, dtype=torch.float64), ndgrad.empty(3, 3, dtype=ndgrad.float64)
    torch.inverse(torch.tensor(a), out=t_out)
    assert ndgrad.inverse(ndgrad.tensor(a), out=n_out) is n_out
    np.testing.assert_allclose(n_out.numpy(), t_out.numpy())
    t_s = [torch.empty(0, dtype=torch.float64) for _ in range(2)]
    n_s = [ndgrad.empty(0, dtype=ndgrad.float64) for _ in range(2)]
    torch.triangular_solve(torch.tensor(a[:, :1]), torch.tensor(a), out=tuple(t_s))
    ndgrad.triangular_solve(ndgrad.tensor(a[:, :1]), ndgrad.tensor(a), out=tuple(n_s))
    for n, t in zip(n_s, t_s):
        np.testing.assert_allclose(n.numpy(), t.numpy())


TOP_LEVEL = ["det", "logdet", "slogdet", "inverse", "pinverse", "svd", "qr", "cholesky", "cholesky_solve",
             "cholesky_inverse", "lu", "lu_solve", "lu_unpack", "matrix_power", "matrix_exp", "triangular_solve",
             "chain_matmul", "vander", "orgqr", "ormqr", "geqrf", "svd_lowrank", "pca_lowrank", "ger"]
METHODS = ["det", "logdet", "slogdet", "inverse", "pinverse", "svd", "qr", "cholesky", "cholesky_solve",
           "cholesky_inverse", "lu", "lu_solve", "matrix_power", "matrix_exp", "triangular_solve", "orgqr", "ormqr",
           "geqrf", "ger"]


def test_names_exist_where_torch_has_them():
    for name in TOP_LEVEL:
        assert hasattr(torch, name) and hasattr(ndgrad, name), name
    for name in METHODS:
        assert hasattr(torch.Tensor, name) and hasattr(ndgrad.Tensor, name), name


def test_gaussian_process_likelihood_program():
    # a typical GP fit step: kernel matrix, Cholesky, solve, log-determinant, gradients for the hyperparameters
    x, y = random_array((6, 2)), random_array((6, 1))
    grads = []
    for lib in (torch, ndgrad):
        log_scale = lib.tensor(0.3, dtype=lib.float64, requires_grad=True)
        noise = lib.tensor(0.1, dtype=lib.float64, requires_grad=True)
        X, Y = lib.tensor(x), lib.tensor(y)
        sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        K = lib.exp(-sq / (2 * lib.exp(log_scale) ** 2)) + (noise ** 2 + 1e-3) * lib.eye(6, dtype=lib.float64)
        L = lib.linalg.cholesky(K)
        alpha = lib.cholesky_solve(Y, L)
        nll = 0.5 * (Y * alpha).sum() + lib.log(lib.diagonal(L)).sum() + 0.5 * lib.logdet(K)
        nll.backward()
        grads.append([log_scale.grad.item(), noise.grad.item(), nll.item()])
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-9, atol=1e-12)

"""ndgrad.lobpcg against scipy.linalg.eigh (exact eigenpairs) and torch.lobpcg: values, eigenvectors,
gradients, float64 gradcheck (first and second order), sparse operands, the tracker, and errors.

LOBPCG is iterative: it stops once every wanted pair has the relative residual
||A x - e B x|| / (||x|| (|A| + |e| |B|)) < tol. The comparisons use the error bounds that residual implies
(never a hand-picked tolerance): an eigenvalue is within tol |B^-1| (|A| + |e|max |B|) of the true one, and
the eigenvector block (in the B-metric) within sqrt(2k) times that over the spectral gap (Davis-Kahan).
The test matrices have clear gaps at both ends of the spectrum so that both libraries converge.
Eigenvectors are defined up to sign: they are compared through projectors X X^T or X * X.
"""
import numpy as np
import pytest
import scipy.linalg
import torch

import ndgrad
from oracle import check_error, check_op

FEPS = {"float32": 1.2e-07, "float64": 2.23e-16}   # torch.lobpcg's epsilons: the default tol is feps ** 0.5


def gapped(m, batch=(), seed=0, spread=1.5):
    """Symmetric matrices with eigenvalues (1..m) ** spread in a random orthonormal basis."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal(batch + (m, m)))[0]
    return (Q * np.arange(1, m + 1) ** spread) @ np.swapaxes(Q, -1, -2)


def spd(m, batch=(), seed=1):
    """Symmetric positive definite B with eigenvalues in [1, 2]."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal(batch + (m, m)))[0]
    return (Q * rng.uniform(1, 2, m)) @ np.swapaxes(Q, -1, -2)


def as_numpy(t):
    return t.detach().numpy()   # torch and ndgrad tensors alike


def check_eigenpairs(E, X, A, B, k, largest, tol, dtype, orthonormal=True):
    """E (*, k), X (*, m, k) within the bounds that a relative residual below tol implies; with ``orthonormal``,
    also X^T B X = I to rounding (m eps: ndgrad's Rayleigh-Ritz keeps the block B-orthonormal)."""
    E, X = np.asarray(as_numpy(E), np.float64), np.asarray(as_numpy(X), np.float64)
    m = A.shape[-1]
    assert E.shape == A.shape[:-2] + (k,) and X.shape == A.shape[:-2] + (m, k)
    slack = tol + m * FEPS[dtype]   # the residual itself is computed in `dtype` arithmetic
    for index in np.ndindex(A.shape[:-2]):
        a = np.asarray(A[index], np.float64)
        b = np.eye(m) if B is None else np.asarray(B[index], np.float64)
        values, vectors = scipy.linalg.eigh(a, b)
        order = np.argsort(values)[::-1] if largest else np.argsort(values)
        wanted, rest = order[:k], order[k:]
        norm_a, norm_b, norm_b_inv = (np.linalg.norm(a, 2), np.linalg.norm(b, 2), 1 / np.linalg.eigvalsh(b)[0])
        value_bound = slack * norm_b_inv * (norm_a + np.abs(values).max() * norm_b)
        np.testing.assert_allclose(E[index], values[wanted], rtol=0, atol=value_bound)
        # eigenvectors: in the B-metric (y = L^T x with B = L L^T) they are orthonormal vectors of a
        # symmetric matrix, so Davis-Kahan bounds the distance of their projector from the exact one
        gap = np.abs(values[wanted][:, None] - values[rest][None, :]).min()
        L = np.linalg.cholesky(b)
        Y, Y_ref = L.T @ X[index], L.T @ vectors[:, wanted]
        if orthonormal:
            np.testing.assert_allclose(Y.T @ Y, np.eye(k), rtol=0, atol=m * FEPS[dtype])
        distance = np.linalg.norm(Y @ Y.T - Y_ref @ Y_ref.T)
        assert distance <= np.sqrt(2 * k) * value_bound / gap, (distance, value_bound, gap)


def run_both(A, kwargs, dtype, with_torch=True):
    """ndgrad.lobpcg (and torch.lobpcg) on the same numpy operands."""
    def convert(lib, value):
        return lib.tensor(value.astype(dtype)) if isinstance(value, np.ndarray) else value
    ndgrad.manual_seed(0)
    torch.manual_seed(0)
    ours = ndgrad.lobpcg(convert(ndgrad, A), **{k: convert(ndgrad, v) for k, v in kwargs.items()})
    theirs = torch.lobpcg(convert(torch, A), **{k: convert(torch, v) for k, v in kwargs.items()}) \
        if with_torch else None
    return ours, theirs


# name, A, keyword arguments (numpy arrays become tensors of the case's dtype), dtype
M = 24
CASES = [
    ("default_k1", gapped(M), {}, "float64"),
    ("largest_k3", gapped(M), {"k": 3}, "float64"),
    ("smallest_k3", gapped(M), {"k": 3, "largest": False}, "float64"),
    ("n_above_k", gapped(M), {"k": 2, "n": 4}, "float64"),
    ("generalized_largest", gapped(M), {"k": 2, "B": spd(M)}, "float64"),
    ("generalized_smallest", gapped(M), {"k": 2, "B": spd(M), "largest": False}, "float64"),
    ("batched", gapped(M, (2, 3)), {"k": 2}, "float64"),
    ("batched_generalized", gapped(M, (2,)), {"k": 2, "B": spd(M, (2,)), "largest": False}, "float64"),
    ("batch_of_one", gapped(M, (1,)), {"k": 2}, "float64"),
    ("initial_guess", gapped(M), {"X": np.random.default_rng(3).standard_normal((M, 3))}, "float64"),
    ("initial_guess_k", gapped(M), {"X": np.random.default_rng(3).standard_normal((M, 3)), "k": 2}, "float64"),
    ("batched_guess", gapped(M, (2,)), {"X": np.random.default_rng(3).standard_normal((2, M, 2))}, "float64"),
    ("tight_tol", gapped(M), {"k": 2, "tol": 1e-12}, "float64"),
    ("float32_largest", gapped(M), {"k": 2}, "float32"),
    ("float32_smallest", gapped(M), {"k": 2, "largest": False}, "float32"),
    ("float32_generalized", gapped(M), {"k": 2, "B": spd(M)}, "float32"),
    ("basic_largest", gapped(M), {"k": 3, "method": "basic"}, "float64"),
    ("basic_smallest", gapped(M), {"k": 3, "method": "basic", "largest": False}, "float64"),
    ("basic_float32", gapped(M), {"k": 2, "method": "basic"}, "float32"),
    ("ortho_params", gapped(M), {"k": 2, "ortho_iparams": {"ortho_i_max": 2}, "ortho_fparams": {"ortho_tol": 1e-9},
                                 "ortho_bparams": {"ortho_use_drop": True}}, "float64"),
]


@pytest.mark.parametrize("name,A,kwargs,dtype", CASES, ids=[c[0] for c in CASES])
def test_eigenpairs_against_eigh_and_torch(name, A, kwargs, dtype):
    (E, X), (Et, Xt) = run_both(A, kwargs, dtype)
    k = kwargs.get("k", kwargs["X"].shape[-1] if "X" in kwargs else 1)
    tol = kwargs.get("tol", FEPS[dtype] ** 0.5)
    largest = kwargs.get("largest", True)
    A_cast = A.astype(dtype)
    B = kwargs.get("B")
    B_cast = None if B is None else B.astype(dtype)
    assert E.dtype == getattr(ndgrad, dtype) and X.dtype == getattr(ndgrad, dtype)
    assert tuple(E.shape) == tuple(Et.shape) and tuple(X.shape) == tuple(Xt.shape)
    assert not E.requires_grad and not X.requires_grad
    check_eigenpairs(E, X, A_cast, B_cast, k, largest, tol, dtype)
    # the bounds are fair to torch too (its basic method leaves X^T X - I at up to 150 m eps)
    check_eigenpairs(Et, Xt, A_cast, B_cast, k, largest, tol, dtype, orthonormal=False)


# torch's basic method does not converge on this generalized problem (its docs: "may fail"); ndgrad's
# falls back to an orthonormal basis for a step whose Gram matrix is not positive definite
@pytest.mark.parametrize("largest", [True, False])
def test_basic_method_generalized(largest):
    A, B = gapped(M), spd(M)
    (E, X), _ = run_both(A, {"k": 2, "B": B, "method": "basic", "largest": largest}, "float64", with_torch=False)
    check_eigenpairs(E, X, A, B, 2, largest, FEPS["float64"] ** 0.5, "float64")


# After a fixed number of steps both libraries hold the Rayleigh-Ritz values of the same subspace
# (span X, then span [X, R], then [X, R, P]), so partial runs agree to rounding. (torch's ortho method
# returns zeros after one step: it does not store its first Ritz values, so niter=1 is compared for basic.)
@pytest.mark.parametrize("method,niter,largest", [("ortho", 2, True), ("ortho", 3, False), ("basic", 1, True),
                                                  ("basic", 2, False), ("basic", 3, True)])
def test_partial_runs_match_torch(method, niter, largest):
    A = gapped(30)
    X0 = np.random.default_rng(5).standard_normal((30, 3))
    (E, _), (Et, _) = run_both(A, {"X": X0, "niter": niter, "method": method, "largest": largest}, "float64")
    np.testing.assert_allclose(E.numpy(), Et.numpy(), rtol=1e-12, atol=0)


def test_one_step_is_rayleigh_ritz_of_the_guess():
    A = gapped(30)
    X0 = np.random.default_rng(6).standard_normal((30, 3))
    E, X = ndgrad.lobpcg(ndgrad.tensor(A), X=ndgrad.tensor(X0), niter=1)
    Q = np.linalg.qr(X0)[0]
    np.testing.assert_allclose(E.numpy(), np.linalg.eigvalsh(Q.T @ A @ Q)[::-1], rtol=1e-12)
    P = X.numpy() @ X.numpy().T
    np.testing.assert_allclose(P, Q @ Q.T, atol=1e-12)   # same span as the guess


def test_noncontiguous_operands():
    A, B = gapped(M), spd(M)
    A_view = ndgrad.tensor(np.ascontiguousarray(A.T)).mT   # the same matrix as a transposed view
    B_view = ndgrad.tensor(np.asfortranarray(B))
    X_view = ndgrad.tensor(np.random.default_rng(2).standard_normal((2, M))).mT
    assert not A_view.is_contiguous() and not X_view.is_contiguous()
    E, X = ndgrad.lobpcg(A_view, B=B_view, X=X_view, largest=False)
    check_eigenpairs(E, X, A, B, 2, False, FEPS["float64"] ** 0.5, "float64")


def test_empty_batch_and_shapes():
    E, X = ndgrad.lobpcg(ndgrad.zeros(0, 9, 9, dtype=ndgrad.float64), k=2)
    Et, Xt = torch.lobpcg(torch.zeros(0, 9, 9, dtype=torch.float64), k=2)
    assert tuple(E.shape) == tuple(Et.shape) == (0, 2) and tuple(X.shape) == tuple(Xt.shape) == (0, 9, 2)


# -- preconditioner ----------------------------------------------------------------------------------

def count_steps(A, **kwargs):
    steps = []
    ndgrad.manual_seed(0)
    E, X = ndgrad.lobpcg(A, tracker=lambda worker: steps.append(worker.ivars["istep"]), **kwargs)
    return E, X, len(steps)


@pytest.mark.parametrize("method", ["ortho", "basic"])
def test_preconditioner_is_used_and_speeds_up(method):
    # for the smallest eigenvalues, iK = A^-1 is the ideal preconditioner (inverse iteration)
    A = gapped(40, spread=2.0)
    iK = np.linalg.inv(A)
    _, _, plain = count_steps(ndgrad.tensor(A), k=3, largest=False, method=method)
    E, X, preconditioned = count_steps(ndgrad.tensor(A), k=3, largest=False, method=method, iK=ndgrad.tensor(iK))
    check_eigenpairs(E, X, A, None, 3, False, FEPS["float64"] ** 0.5, "float64")
    assert preconditioned < plain / 2, (preconditioned, plain)


def test_batched_preconditioner():
    A = gapped(M, (2,), spread=2.0)
    E, X = ndgrad.lobpcg(ndgrad.tensor(A), k=2, largest=False, iK=ndgrad.tensor(np.linalg.inv(A)))
    check_eigenpairs(E, X, A, None, 2, False, FEPS["float64"] ** 0.5, "float64")


# -- sparse operands ---------------------------------------------------------------------------------

def sparse_pair(array, dtype="float64"):
    dense = array.astype(dtype)
    return ndgrad.tensor(dense).to_sparse(), torch.tensor(dense).to_sparse()


@pytest.mark.parametrize("largest,dtype", [(True, "float64"), (False, "float64"), (True, "float32")])
def test_sparse_A(largest, dtype):
    # a banded matrix: the sparse case LOBPCG is for
    m = 60
    A = np.diag(np.arange(1.0, m + 1) ** 1.5) + np.diag(np.full(m - 1, 0.5), 1) + np.diag(np.full(m - 1, 0.5), -1)
    S, St = sparse_pair(A, dtype)
    ndgrad.manual_seed(0)
    E, X = ndgrad.lobpcg(S, k=3, largest=largest)
    Et, Xt = torch.lobpcg(St, k=3, largest=largest)
    tol = FEPS[dtype] ** 0.5
    check_eigenpairs(E, X, A.astype(dtype), None, 3, largest, tol, dtype)
    check_eigenpairs(Et, Xt, A.astype(dtype), None, 3, largest, tol, dtype, orthonormal=False)


def test_sparse_B_and_iK():
    A, B = gapped(M), spd(M)
    B_sparse, _ = sparse_pair(B)
    iK_sparse, _ = sparse_pair(np.linalg.inv(A))
    ndgrad.manual_seed(0)
    E, X = ndgrad.lobpcg(ndgrad.tensor(A), k=2, B=B_sparse, iK=iK_sparse, largest=False)
    check_eigenpairs(E, X, A, B, 2, False, FEPS["float64"] ** 0.5, "float64")


# -- gradients ---------------------------------------------------------------------------------------

X_GUESS = np.random.default_rng(11).standard_normal((M, 3))


def lob(lib, A, **kwargs):
    guess = lib.tensor(X_GUESS[:, :kwargs.pop("n", 2)])
    if A.ndim == 3:
        guess = guess.expand(A.shape[0], *guess.shape)
    return lib.lobpcg(A, X=guess, tol=1e-12, **kwargs)


def projector(X):
    return X @ X.mT


# name, A, f(lib, A): sign-invariant functions of the eigenpairs
GRAD_CASES = [
    ("values", gapped(M), lambda lib, A: lob(lib, A)[0]),
    ("projector", gapped(M), lambda lib, A: projector(lob(lib, A)[1])),
    ("values_and_squares", gapped(M), lambda lib, A: (lambda E, X: (E, X * X))(*lob(lib, A))),
    ("smallest", gapped(M), lambda lib, A: (lambda E, X: (E, projector(X)))(*lob(lib, A, largest=False))),
    ("n_above_k", gapped(M), lambda lib, A: (lambda E, X: (E, X * X))(*lob(lib, A, k=2, n=3))),
    ("batched", gapped(M, (2,)), lambda lib, A: (lambda E, X: (E, projector(X)))(*lob(lib, A))),
]


def forward_bound(tol=1e-12, k=3):
    """How far two converged runs' outputs may differ: twice (one per library) the Davis-Kahan bound
    sqrt(2k) tol (|A| + |e|max) / gap, doubled once more for X * X (|x^2 - v^2| <= 2 |x - v|)."""
    values = np.arange(1, M + 1) ** 1.5                       # the spectrum of gapped(M)
    gap = min(values[k] - values[k - 1], values[-k] - values[-k - 1])
    return 2 * 2 * np.sqrt(2 * k) * tol * 2 * values[-1] / gap


@pytest.mark.parametrize("name,A,fn", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_against_torch(name, A, fn):
    check_op([A], lambda a: fn(torch, a), lambda a: fn(ndgrad, a), atol=forward_bound(), rtol=0)


def test_gradients_noncontiguous():
    fn = GRAD_CASES[2][2]
    check_op([gapped(M)], lambda a: fn(torch, a), lambda a: fn(ndgrad, a), atol=forward_bound(), rtol=0,
             contiguous=False)


def test_gradient_is_symmetric_like_torch():
    A = ndgrad.tensor(gapped(M), requires_grad=True)
    E, X = lob(ndgrad, A)
    (E.sum() + (X[:, 0] * ndgrad.arange(M, dtype=ndgrad.float64)).abs().sum()).backward()
    np.testing.assert_allclose(A.grad.numpy(), A.grad.numpy().T, atol=1e-12)
    assert E.requires_grad and X.requires_grad and E.grad_fn is not None


# float64 gradcheck on a small matrix with well separated eigenvalues (m = 6 = 3 k)
SMALL = gapped(6, seed=4, spread=1.3)
SMALL_GUESS = np.random.default_rng(12).standard_normal((6, 2))


def small_pairs(a, largest):
    E, X = ndgrad.lobpcg(a, X=ndgrad.tensor(SMALL_GUESS), tol=1e-13, largest=largest)
    return E, X * X


@pytest.mark.parametrize("largest", [True, False])
def test_gradcheck(largest):
    A = ndgrad.tensor(SMALL, requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda a: small_pairs(a, largest), [A])


@pytest.mark.parametrize("largest", [True, False])
def test_gradcheck_second_order(largest):
    A = ndgrad.tensor(SMALL, requires_grad=True)
    weights = ndgrad.tensor(np.random.default_rng(13).uniform(-1, 1, (6, 2)))

    def gradient(a):
        with ndgrad.enable_grad():   # gradcheck's finite differences run under no_grad
            E, XX = small_pairs(a, largest)
            loss = (E * E).sum() + (XX * weights).sum()
            return ndgrad.autograd.grad(loss, a, create_graph=True)[0]
    assert ndgrad.autograd.gradcheck(gradient, [A])


def test_second_order_against_torch():
    weights = np.random.default_rng(14).uniform(-1, 1, (6, 6))
    results = []
    for lib in (torch, ndgrad):
        A = lib.tensor(SMALL, requires_grad=True)
        E, X = lib.lobpcg(A, X=lib.tensor(SMALL_GUESS), tol=1e-13, largest=False)
        (g,) = lib.autograd.grad((E * E).sum() + (X * X).sum(0).max(), A, create_graph=True)
        (gg,) = lib.autograd.grad((g * lib.tensor(weights)).sum(), A)
        results.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], atol=1e-9, rtol=1e-7)
    np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-9, rtol=1e-7)


def test_no_grad_for_guess_and_preconditioner():
    A = ndgrad.tensor(gapped(M), requires_grad=True)
    X0 = ndgrad.tensor(X_GUESS[:, :2], requires_grad=True)
    E, _ = ndgrad.lobpcg(A, X=X0, iK=ndgrad.eye(M, dtype=ndgrad.float64))
    E.sum().backward()
    assert X0.grad is None and A.grad is not None


# -- tracker -----------------------------------------------------------------------------------------

def test_tracker_sees_the_iteration_like_torch():
    A = gapped(M)
    seen = {}
    for lib in (torch, ndgrad):
        calls = []

        def tracker(worker):
            calls.append((worker.ivars["istep"], worker.ivars["converged_count"], tuple(worker.X.shape),
                          tuple(worker.E.shape), float(worker.tvars["rerr"].max())))
        lib.lobpcg(lib.tensor(A), X=lib.tensor(X_GUESS), k=2, niter=1, tracker=tracker)
        seen[lib.__name__] = calls
    assert len(seen["ndgrad"]) == len(seen["torch"]) == 1
    assert seen["ndgrad"][0][:4] == seen["torch"][0][:4] == (1, 0, (M, 3), (3,))


def test_tracker_force_stop_and_convergence():
    A = ndgrad.tensor(gapped(M))
    calls = []

    def stop_at_once(worker):
        calls.append(worker.ivars["istep"])
        worker.bvars["force_stop"] = True
    ndgrad.lobpcg(A, k=2, tracker=stop_at_once)
    assert calls == [1]
    history = []
    ndgrad.lobpcg(A, k=2, tracker=lambda w: history.append((w.ivars["converged_count"], w.fparams["tol"],
                                                            w.iparams["k"], w.bparams["largest"])))
    assert history[-1][0] >= 2 and all(h[0] < 2 for h in history[:-1])
    assert history[-1][1:] == (FEPS["float64"] ** 0.5, 2, True)


# -- errors ------------------------------------------------------------------------------------------

ERRORS = [
    ("not_square", lambda lib: lib.lobpcg(lib.zeros(9, 12, dtype=lib.float64)), AssertionError, "must be square", True),
    ("vector", lambda lib: lib.lobpcg(lib.zeros(9, dtype=lib.float64)), IndexError, "square matrix", True),
    ("too_small", lambda lib: lib.lobpcg(lib.eye(8, dtype=lib.float64), k=3), ValueError,
     r"not applicable when the number of A rows \(=8\) is smaller than 3 x .* \(=3\)", True),
    ("too_small_n", lambda lib: lib.lobpcg(lib.eye(11, dtype=lib.float64), k=2, n=4), ValueError,
     r"rows \(=11\).*\(=4\)", True),
    ("k_zero", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), k=0), ValueError, "k must be at least 1", True),
    ("n_below_k", lambda lib: lib.lobpcg(lib.eye(12, dtype=lib.float64), k=3, n=2), ValueError,
     r"n \(=2.*at least k \(=3\)", False),
    ("guess_below_k", lambda lib: lib.lobpcg(lib.eye(12, dtype=lib.float64), k=3,
                                             X=lib.ones(12, 2, dtype=lib.float64)), ValueError, r"n \(=2", False),
    ("B_shape", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), B=lib.eye(6, dtype=lib.float64)),
     AssertionError, r"same shape.*\(9, 9\) vs \(6, 6\)", True),
    ("X_shape", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), X=lib.ones(6, 2, dtype=lib.float64)),
     AssertionError, r"X shape mismatch.*\(6, 2\).*\(9, 2\)", True),
    ("X_dtype", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), X=lib.ones(9, 2)), RuntimeError,
     "expected X to have the dtype of A", True),
    ("integer_A", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.int64)), RuntimeError, "floating point", True),
    ("method", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), method="lanczos"), ValueError,
     "'ortho'.*'basic'", False),
    ("iK_shape", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), iK=lib.eye(6, dtype=lib.float64)),
     RuntimeError, r"iK must have shape \(9, 9\)", False),   # torch's ortho method never reads iK
    ("zero_guess", lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), X=lib.zeros(9, 1, dtype=lib.float64)),
     ValueError, "all zeros", True),
]


@pytest.mark.parametrize("name,fn,exc,match,torch_rejects", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name, fn, exc, match, torch_rejects):
    check_error(lambda: fn(ndgrad), [match, "lobpcg|LOBPCG"], exc, torch_fn=(lambda: fn(torch)) if torch_rejects
                else None)


def backward_with_B(lib):
    A = lib.tensor(gapped(M), requires_grad=True)
    E, _ = lib.lobpcg(A, k=2, B=lib.tensor(spd(M)))
    E.sum().backward()


def backward_sparse(lib):
    A = lib.tensor(gapped(M)).to_sparse().requires_grad_()
    E, _ = lib.lobpcg(A, k=2)
    E.sum().backward()


@pytest.mark.parametrize("fn,match", [(backward_with_B, r"B != I"), (backward_sparse, "sparse input")])
def test_backward_errors(fn, match):
    check_error(lambda: fn(ndgrad), match, ValueError, torch_fn=lambda: fn(torch))

"""ndgrad.special against torch.special: values, result dtypes, gradients, gradcheck, errors."""
import mpmath
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_higher_order, check_op, random_array

S, TS = ndgrad.special, torch.special


def test_every_public_torch_special_function_exists():
    wanted = {n for n in dir(TS) if not n.startswith("_") and callable(getattr(TS, n))} - {"Tensor"}
    missing = sorted(n for n in wanted if n not in S.__all__)
    assert not missing, f"missing from ndgrad.special: {missing}"
    assert all(callable(getattr(S, n)) for n in S.__all__)


# -- one argument, differentiable ------------------------------------------------------------------
# name, low, high, whether torch's CPU kernel takes float16 itself
DIFFERENTIABLE = [
    ("erf", -2, 2, True), ("erfc", -2, 2, True), ("erfinv", -0.9, 0.9, True), ("erfcx", -2, 3, False),
    ("expit", -3, 3, True), ("exp2", -2, 2, True), ("expm1", -2, 2, True), ("log1p", -0.5, 2, True),
    ("logit", 0.1, 0.9, True), ("gammaln", 0.2, 4, True), ("digamma", 0.3, 4, True), ("psi", 0.3, 4, True),
    ("i0", -3, 3, True), ("i0e", -3, 3, True), ("i1", -3, 3, True), ("i1e", -3, 3, True),
    ("ndtr", -3, 3, True), ("ndtri", 0.02, 0.98, False), ("log_ndtr", -8, 3, False), ("entr", 0.1, 3, True),
    ("sinc", -2, 2, True), ("round", -3, 3, True),
]
IDS = [d[0] for d in DIFFERENTIABLE]
SHAPES = [(3, 4), (), (0, 3), (1, 4), (2, 1, 3)]


@pytest.mark.parametrize("name,low,high,half", DIFFERENTIABLE, ids=IDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_differentiable_values_and_grads(name, low, high, half, dtype):
    for shape in SHAPES:
        check_op([shape], getattr(TS, name), getattr(S, name), dtype=dtype, low=low, high=high)
    check_op([(3, 4)], getattr(TS, name), getattr(S, name), dtype=dtype, low=low, high=high, contiguous=False)


@pytest.mark.parametrize("name,low,high,half", DIFFERENTIABLE, ids=IDS)
def test_differentiable_gradcheck(name, low, high, half):
    x = ndgrad.tensor(random_array((2, 3), "float64", low, high), requires_grad=True)
    assert ndgrad.autograd.gradcheck(getattr(S, name), (x,))


@pytest.mark.parametrize("name,low,high", [(d[0], d[1], d[2]) for d in DIFFERENTIABLE if d[0] != "round"],
                         ids=[d for d in IDS if d != "round"])
def test_differentiable_second_derivatives(name, low, high):
    check_higher_order([(2, 3)], getattr(TS, name), getattr(S, name), low=low, high=high)


@pytest.mark.parametrize("name,low,high,half", DIFFERENTIABLE, ids=IDS)
def test_half_precision_is_computed_in_float32(name, low, high, half):
    if half:  # torch takes float16 / bfloat16 itself (but has no float16 backward for i1 / i1e)
        check_op([(3, 4)], getattr(TS, name), getattr(S, name), dtype="float16", low=low, high=high,
                 grad=name not in ("i1", "i1e"))
    array = random_array((3, 4), "float32", low, high)
    for nd_dtype, t_dtype in [(ndgrad.float16, torch.float16), (ndgrad.bfloat16, torch.bfloat16)]:
        got = getattr(S, name)(ndgrad.tensor(array).to(nd_dtype))
        assert got.dtype == nd_dtype
        # torch's float32 result rounded to the small dtype (what torch computes where it has the kernel)
        want = getattr(TS, name)(torch.tensor(array).to(t_dtype).float()).to(t_dtype).float().numpy()
        np.testing.assert_allclose(got.float().numpy(), want, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("name", [d[0] for d in DIFFERENTIABLE if d[0] != "round"])
def test_integer_and_bool_inputs_promote_to_default_float(name):
    check_op([np.array([[0, 1, 2], [3, -1, 5]])], getattr(TS, name), getattr(S, name))
    check_op([np.array([True, False])], getattr(TS, name), getattr(S, name))


# -- one argument, no gradient in torch (Bessel, Airy) ---------------------------------------------
# name, low, high, the exact function (mpmath, 50 digits), the tolerance of torch's own kernel:
# torch's float64 j0/j1/y0/y1 are off the exact values by up to ~9e-7 absolute for |x| > 5, and its airy_ai by
# ~3e-6 near x = -2.1 (measured against mpmath), while SciPy's are at double precision. So values are held to float64
# tolerance against mpmath, and against torch only to torch's own accuracy.
_MP = mpmath.mp
NO_GRAD = [
    ("airy_ai", -6, 3, _MP.airyai, (1e-4, 1e-8)),
    ("bessel_j0", -10, 10, lambda x: _MP.besselj(0, x), (1e-6, 1e-6)),
    ("bessel_j1", -10, 10, lambda x: _MP.besselj(1, x), (1e-6, 1e-6)),
    ("bessel_y0", 0.1, 10, lambda x: _MP.bessely(0, x), (1e-6, 1e-6)),
    ("bessel_y1", 0.1, 10, lambda x: _MP.bessely(1, x), (1e-6, 1e-6)),
    ("modified_bessel_i0", -5, 5, lambda x: _MP.besseli(0, x), None),
    ("modified_bessel_i1", -5, 5, lambda x: _MP.besseli(1, x), None),
    ("modified_bessel_k0", 0.1, 5, lambda x: _MP.besselk(0, x), None),
    ("modified_bessel_k1", 0.1, 5, lambda x: _MP.besselk(1, x), None),
    ("scaled_modified_bessel_k0", 0.1, 20, lambda x: _MP.exp(x) * _MP.besselk(0, x), None),
    ("scaled_modified_bessel_k1", 0.1, 20, lambda x: _MP.exp(x) * _MP.besselk(1, x), None),
    ("spherical_bessel_j0", -12, 12, lambda x: _MP.sin(x) / x if x else _MP.mpf(1), None),
]


@pytest.mark.parametrize("name,low,high,exact,torch_tol", NO_GRAD, ids=[d[0] for d in NO_GRAD])
def test_bessel_family_values_against_exact(name, low, high, exact, torch_tol):
    x = np.concatenate([random_array((40,), "float64", low, high), [0.0] if low < 0 else []])
    got = getattr(S, name)(ndgrad.tensor(x)).numpy()
    with mpmath.workdps(50):
        want = np.array([float(exact(mpmath.mpf(float(v)))) for v in x])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,low,high,exact,torch_tol", NO_GRAD, ids=[d[0] for d in NO_GRAD])
def test_bessel_family_like_torch_without_gradient(name, low, high, exact, torch_tol):
    tol = {} if torch_tol is None else {"rtol": torch_tol[0], "atol": torch_tol[1]}
    for dtype, dtype_tol in (("float64", tol), ("float32", {})):  # float32 keeps its default tolerance
        for shape in SHAPES:
            # inputs require grad: the oracle checks that the result does not, as in torch
            check_op([shape], getattr(TS, name), getattr(S, name), dtype=dtype, low=low, high=high, **dtype_tol)
        check_op([(3, 4)], getattr(TS, name), getattr(S, name), dtype=dtype, low=low, high=high, contiguous=False,
                 **dtype_tol)
    check_op([np.array([0, 1, 2, -3, 7])], getattr(TS, name), getattr(S, name))  # integers -> default float32
    check_op([np.array([-1.0, 0.0, 1.0, np.inf, -np.inf, np.nan])], getattr(TS, name), getattr(S, name), **tol)
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    check_error(lambda: getattr(S, name)(x).sum().backward(), ["does not require grad"],
                torch_fn=lambda: getattr(TS, name)(torch.tensor([1.0, 2.0], requires_grad=True)).sum().backward())
    half = getattr(S, name)(ndgrad.tensor(random_array((5,), "float32", low, high)).half())
    assert half.dtype == ndgrad.float16


def test_bessel_family_rejects_numbers():
    check_error(lambda: S.bessel_j0(1.5), ["bessel_j0", "must be Tensor", "float"], TypeError,
                torch_fn=lambda: TS.bessel_j0(1.5))


# -- orthogonal polynomials ------------------------------------------------------------------------
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
               "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
               "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]


def _x_range(name):
    if name.startswith("shifted"):
        return -0.1, 1.1
    return (-0.5, 6) if name.startswith("laguerre") else (-1.2, 1.2)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_values_every_degree(name):
    low, high = _x_range(name)
    fn, t_fn = getattr(S, name), getattr(TS, name)
    # degrees past the switch to the trigonometric closed forms (torch: n > 6 or n > 8), and negative ones
    for n in [-2, 0, 1, 2, 3, 5, 7, 9, 12, 20, 33]:
        check_op([(3, 4), n], t_fn, fn, low=low, high=high)
    check_op([(3, 4), 2.7], t_fn, fn, low=low, high=high)  # degrees are truncated toward zero
    check_op([(3, 4), -0.5], t_fn, fn, low=low, high=high)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_broadcasting_dtypes_and_special_points(name):
    low, high = _x_range(name)
    fn, t_fn = getattr(S, name), getattr(TS, name)
    degrees = np.array([0, 1, 4, 8, 11, -1], dtype=np.int64)
    check_op([(3, 1), degrees], t_fn, fn, low=low, high=high)  # integer tensor n, broadcast
    check_op([(2, 6), degrees.astype(np.float64)], t_fn, fn, low=low, high=high)
    check_op([(3, 4), (4,)], lambda x, n: t_fn(x, (n * 10).floor()), lambda x, n: fn(x, (n * 10).floor()),
             low=0, high=1.5)
    check_op([0.3, degrees], t_fn, fn)  # a Python number as input
    check_op([(), 5], t_fn, fn, low=low, high=high)
    check_op([(0, 3), 5], t_fn, fn, low=low, high=high)
    check_op([(3, 4), 6], t_fn, fn, low=low, high=high, contiguous=False)
    check_op([(3, 4), 6], t_fn, fn, dtype="float32", low=low, high=high)
    check_op([np.array([0, 1, 2, -1]), 3], t_fn, fn)  # integer x -> default float
    # the endpoints and the origin, where torch uses exact values
    points = np.array([-1.0, 0.0, 1.0, 0.5, 2.0, -2.0, np.inf])[:, None]
    check_op([points, np.arange(-1, 14, dtype=np.float64)], t_fn, fn)
    # float32 x with float64 n promotes; float16 gives float16 (computed in float32)
    check_op([np.array([0.25, 0.5], dtype=np.float32), np.array([3.0, 4.0])], t_fn, fn)
    half = fn(ndgrad.tensor([0.25, 0.5]).half(), 3)
    assert half.dtype == ndgrad.float16
    want = t_fn(torch.tensor([0.25, 0.5]).half().float(), 3).half().float().numpy()
    np.testing.assert_allclose(half.float().numpy(), want, rtol=1e-3)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_no_gradient_and_errors(name):
    fn, t_fn = getattr(S, name), getattr(TS, name)
    x = ndgrad.tensor([0.2, 0.4], requires_grad=True)
    assert not fn(x, 3).requires_grad and not t_fn(torch.tensor([0.2, 0.4], requires_grad=True), 3).requires_grad
    check_error(lambda: fn(2, 3), [name, "Tensor", "int"], TypeError, torch_fn=lambda: t_fn(2, 3))


def _exact_polynomial(name, n, x):
    """The polynomial at one point in mpmath's arbitrary precision."""
    mp = mpmath.mp
    if name.startswith("shifted_"):
        name, x = name[len("shifted_"):], 2 * x - 1
    u = (lambda k: mp.chebyu(k, x) if k >= 0 else mp.mpf(0))
    return {"chebyshev_polynomial_t": lambda: mp.chebyt(n, x), "chebyshev_polynomial_u": lambda: u(n),
            "chebyshev_polynomial_v": lambda: u(n) - u(n - 1), "chebyshev_polynomial_w": lambda: u(n) + u(n - 1),
            "hermite_polynomial_h": lambda: mp.hermite(n, x),
            "hermite_polynomial_he": lambda: mp.hermite(n, x / mp.sqrt(2)) / mp.sqrt(2) ** n,
            "laguerre_polynomial_l": lambda: mp.laguerre(n, 0, x), "legendre_polynomial_p": lambda: mp.legendre(n, x),
            }[name]()


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_values_against_exact(name):
    low, high = _x_range(name)
    x = random_array((12,), "float64", low, high)
    for n in range(0, 16):
        got = getattr(S, name)(ndgrad.tensor(x), n).numpy()
        with mpmath.workdps(50):
            want = np.array([float(_exact_polynomial(name, n, mpmath.mpf(float(v)))) for v in x])
        # float64 evaluation: the error is relative to the size of the terms, not of a value near a root
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13 * max(1.0, np.abs(want).max()),
                                   err_msg=f"{name}, n = {n}")


def test_polynomial_nan_input_gives_nan():
    # torch returns NaN only for some families here (a torch bug: others give garbage); NaN is the right answer
    for name in POLYNOMIALS:
        out = getattr(S, name)(ndgrad.tensor([float("nan")] * 3), ndgrad.tensor([2.0, 5.0, 11.0]))
        assert np.isnan(out.numpy()).all(), name


# -- two arguments ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_family(name):
    fn, t_fn = getattr(S, name), getattr(TS, name)
    for inputs in ([(3, 4), (4,)], [(3, 1), (1, 4)], [(), (3,)], [(0, 2), (2,)], [(3, 4), 2.5], [1.5, (3, 4)]):
        check_op(inputs, t_fn, fn, low=0.1, high=2)
    check_op([(3, 4), (3, 4)], t_fn, fn, low=0.1, high=2, contiguous=False)
    check_op([(3, 4), (4,)], t_fn, fn, dtype="float32", low=0.1, high=2)
    check_op([(3, 4), (4,)], t_fn, fn, dtype=["float32", "float64"], low=0.1, high=2)
    check_op([(3, 4), (4,)], t_fn, fn, dtype="float16", low=0.1, high=2)
    check_op([np.array([0, 1, 2]), np.array([3, 0, 1])], t_fn, fn)  # integers -> default float
    check_op([np.array([0.0, 0.0, 1.0, 2.0]), np.array([-1.0, np.nan, 0.0, 0.5])], t_fn, fn)
    x = ndgrad.tensor(random_array((2, 3), "float64", 0.1, 2), requires_grad=True)
    y = ndgrad.tensor(random_array((2, 3), "float64", 0.1, 2), requires_grad=True)
    assert ndgrad.autograd.gradcheck(fn, (x, y))
    check_higher_order([(2, 3), (2, 3)], t_fn, fn, low=0.1, high=2)
    check_error(lambda: fn(1.0, 2.0), [name, "tensor"], TypeError, torch_fn=lambda: t_fn(1.0, 2.0))


def test_zeta_values_and_gradient_in_q_only():
    x = random_array((3, 4), "float64", 1.5, 5)
    q = random_array((4,), "float64", 0.3, 3)
    check_op([x, q], TS.zeta, S.zeta, grad=False)
    for t_fn, fn in [(lambda q: TS.zeta(torch.tensor(x), q), lambda q: S.zeta(ndgrad.tensor(x), q)),
                     (lambda q: TS.zeta(2.5, q), lambda q: S.zeta(2.5, q))]:
        check_op([(3, 4)], t_fn, fn, low=0.3, high=3)
        check_higher_order([(3, 4)], t_fn, fn, low=0.3, high=3)
    check_op([(3, 4), 1.5], TS.zeta, S.zeta, low=1.5, high=4, grad=False)
    check_op([np.array([2, 3]), np.array([1, 2])], TS.zeta, S.zeta)
    check_op([(3, 4), (4,)], TS.zeta, S.zeta, dtype="float32", low=1.5, high=4, grad=False)
    qq = ndgrad.tensor(random_array((2, 3), "float64", 0.3, 3), requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda t: S.zeta(ndgrad.tensor(x[:2, :3]), t), (qq,))
    xx = ndgrad.tensor([2.0, 3.0], requires_grad=True)
    check_error(lambda: S.zeta(xx, 1.5).sum().backward(), ["derivative for 'zeta' is not implemented"],
                NotImplementedError,
                torch_fn=lambda: TS.zeta(torch.tensor([2.0, 3.0], requires_grad=True), 1.5).sum().backward())


@pytest.mark.parametrize("name,kernel", [("gammainc", "igamma"), ("gammaincc", "igammac")])
def test_incomplete_gamma(name, kernel):
    fn, t_fn = getattr(S, name), getattr(TS, name)
    a = random_array((3, 4), "float64", 0.5, 3)
    check_op([a, (3, 4)], t_fn, fn, low=0.2, high=4, grad=False)
    check_op([(3, 4), (4,)], t_fn, fn, dtype="float32", low=0.5, high=3, grad=False)
    check_op([(3, 4), (4,)], t_fn, fn, dtype="float16", low=0.5, high=3, grad=False)
    check_op([(3, 4)], lambda x: t_fn(torch.tensor(a), x), lambda x: fn(ndgrad.tensor(a), x), low=0.2, high=4)
    check_higher_order([(3, 4)], lambda x: t_fn(torch.tensor(a), x), lambda x: fn(ndgrad.tensor(a), x),
                       low=0.2, high=4)
    x = ndgrad.tensor(random_array((4,), "float64", 0.2, 3), requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda t: fn(ndgrad.tensor(a[0]), t), (x,))
    aa = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    check_error(lambda: fn(aa, ndgrad.tensor([1.0, 1.0])).sum().backward(), [f"'{kernel}: input'", "not implemented"],
                NotImplementedError,
                torch_fn=lambda: t_fn(torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 1.0]))
                .sum().backward())
    check_error(lambda: fn(ndgrad.tensor([1.0]), 2.0), [name, "'other'", "must be Tensor"], TypeError,
                torch_fn=lambda: t_fn(torch.tensor([1.0]), 2.0))
    check_error(lambda: fn(2.0, ndgrad.tensor([1.0])), [name, "'input'", "must be Tensor"], TypeError,
                torch_fn=lambda: t_fn(2.0, torch.tensor([1.0])))


def test_polygamma_and_multigammaln():
    for n in (0, 1, 2, 3):
        check_op([(3, 4)], lambda x: TS.polygamma(n, x), lambda x: S.polygamma(n, x), low=0.5, high=3)
        x = ndgrad.tensor(random_array((2, 3), "float64", 0.5, 3), requires_grad=True)
        assert ndgrad.autograd.gradcheck(lambda t: S.polygamma(n, t), (x,))
    check_higher_order([(2, 3)], lambda x: TS.polygamma(1, x), lambda x: S.polygamma(1, x), low=0.5, high=3)
    for p in (1, 3, 5):
        check_op([(3, 4)], lambda x: TS.multigammaln(x, p), lambda x: S.multigammaln(x, p), low=2.5, high=5)
        x = ndgrad.tensor(random_array((2, 3), "float64", 2.5, 5), requires_grad=True)
        assert ndgrad.autograd.gradcheck(lambda t: S.multigammaln(t, p), (x,))
    check_error(lambda: S.multigammaln(ndgrad.tensor([3.0]), 0), ["p", "greater than or equal to 1"],
                torch_fn=lambda: TS.multigammaln(torch.tensor([3.0]), 0))


# -- softmax family, logit, round ------------------------------------------------------------------
def test_softmax_family_and_keyword_arguments():
    check_op([(3, 4)], lambda x: TS.softmax(x, 1), lambda x: S.softmax(x, 1))
    check_op([(3, 4)], lambda x: TS.softmax(x, dim=0, dtype=torch.float32),
             lambda x: S.softmax(x, dim=0, dtype=ndgrad.float32))
    check_op([(3, 4)], lambda x: TS.log_softmax(x, 0), lambda x: S.log_softmax(x, 0))
    check_op([(3, 4)], lambda x: TS.logsumexp(x, 1), lambda x: S.logsumexp(x, 1))
    check_op([(3, 4, 2)], lambda x: TS.logsumexp(x, (0, 2), keepdim=True),
             lambda x: S.logsumexp(x, (0, 2), keepdim=True))
    check_op([(3, 4)], lambda x: TS.logit(x, eps=0.2), lambda x: S.logit(x, eps=0.2), low=0.0, high=1.0)
    check_op([(3, 4)], lambda x: TS.round(x, decimals=1), lambda x: S.round(x, decimals=1))
    x = ndgrad.tensor(random_array((2, 3), "float64"), requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda t: S.log_softmax(t, 1), (x,))


def test_out_keyword():
    x = random_array((3, 4), "float64", 0.1, 0.9)
    for name, args in [("erf", ()), ("ndtri", ()), ("bessel_j0", ()), ("xlogy", (2.0,)), ("zeta", (1.5,)),
                       ("legendre_polynomial_p", (3,)), ("logsumexp", (1,)), ("polygamma", None)]:
        call = (lambda lib, t, **kw: lib.polygamma(1, t, **kw)) if args is None else \
            (lambda lib, t, **kw: getattr(lib, name)(t, *args, **kw))
        t_out, n_out = torch.empty(0, dtype=torch.float64), ndgrad.empty(0, dtype=ndgrad.float64)
        t_ret, n_ret = call(TS, torch.tensor(x), out=t_out), call(S, ndgrad.tensor(x), out=n_out)
        assert n_ret is n_out and t_ret is t_out
        np.testing.assert_allclose(n_out.numpy(), t_out.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)


# -- GPU (CuPy, cupyx.scipy.special): the same values and gradients as on the CPU ------------------
GPU_UNARY = [(d[0], d[1], d[2]) for d in DIFFERENTIABLE] + [(d[0], d[1], d[2]) for d in NO_GRAD] + [
    (f"{name}@5", *_x_range(name)) for name in POLYNOMIALS] + [(f"{name}@12", *_x_range(name)) for name in POLYNOMIALS]


def _gpu_fn(name):
    if "@" in name:  # a polynomial of the given degree
        name, degree = name.split("@")
        return lambda x: getattr(S, name)(x, int(degree))
    return getattr(S, name)


@pytest.mark.cuda
@pytest.mark.parametrize("name,low,high", GPU_UNARY, ids=[g[0] for g in GPU_UNARY])
def test_gpu_matches_cpu(name, low, high):
    array = random_array((3, 4), "float64", low, high)
    results = {}
    for device in ("cpu", "cuda"):
        x = ndgrad.tensor(array, device=device, requires_grad=True)
        out = _gpu_fn(name)(x)
        assert out.device.type == device and out.dtype == ndgrad.float64
        results[device] = [out.detach().cpu().numpy()]
        if out.requires_grad:
            w = ndgrad.tensor(np.linspace(-1, 1, 12).reshape(3, 4), device=device)
            (out * w).sum().backward()
            results[device].append(x.grad.cpu().numpy())
    assert len(results["cpu"]) == len(results["cuda"])
    for i, (c, g) in enumerate(zip(results["cpu"], results["cuda"])):
        np.testing.assert_allclose(g, c, atol=1e-9, rtol=1e-7, err_msg=f"{name}: output/grad {i}")


@pytest.mark.cuda
def test_gpu_binary_functions_match_cpu():
    x, q = random_array((3, 4), "float64", 1.5, 4), random_array((3, 4), "float64", 0.5, 3)
    results = {}
    for device in ("cpu", "cuda"):
        a, b = ndgrad.tensor(x, device=device), ndgrad.tensor(q, device=device, requires_grad=True)
        outs = [S.zeta(a, b), S.gammainc(a, b), S.gammaincc(a, b), S.xlog1py(a, b)]
        grads = ndgrad.autograd.grad(sum(o.sum() for o in outs), [b])
        results[device] = [o.detach().cpu().numpy() for o in outs] + [grads[0].cpu().numpy()]
    for i, (c, g) in enumerate(zip(results["cpu"], results["cuda"])):
        np.testing.assert_allclose(g, c, atol=1e-9, rtol=1e-7, err_msg=f"output/grad {i}")

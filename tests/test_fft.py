"""ndgrad.fft against torch.fft: values, result dtypes, gradients (real and complex inputs), gradcheck, errors."""
import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import gradcheck
import oracle
from oracle import check_error, check_higher_order, noncontiguous

ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
TWO_D = ["fft2", "ifft2", "rfft2", "irfft2", "hfft2", "ihfft2"]
N_D = ["fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn"]
REAL_ONLY = {"rfft", "ihfft", "rfft2", "ihfft2", "rfftn", "ihfftn"}
NORMS = [None, "ortho", "forward"]  # None means "backward"; test_explicit_backward_norm checks that


def _random(shape, kind="float64"):
    """A random numpy array; complex kinds get random real and imaginary parts."""
    rng = oracle.rng  # reseeded per test by conftest
    if kind.startswith("complex"):
        return np.asarray(rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(kind)
    return np.asarray(rng.standard_normal(shape)).astype(kind)


def _to_numpy(t):
    return t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else np.asarray(t._data)


def _assert_same(n, t, what, tol):
    got, want = _to_numpy(n), _to_numpy(t)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
    assert str(n.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], f"{what}: dtype {n.dtype} != {t.dtype}"
    assert got.dtype == want.dtype, f"{what}: raw dtype {got.dtype} != {want.dtype}"
    np.testing.assert_allclose(got, want, atol=tol, rtol=tol, err_msg=what)


def _real_loss(y, w_re, w_im):
    """A real loss that weights the real and imaginary parts of every output element on its own."""
    if y.is_complex():
        return (y.real * w_re + y.imag * w_im).sum()
    return (y * w_re).sum()


def compare(fn_name, array, contiguous=True, **kwargs):
    """Run ``fn_name`` in both libraries on ``array``; compare outputs and the gradients of a real loss."""
    single = array.dtype in (np.float32, np.complex64) or array.dtype.kind in "iub"  # ints -> float32
    tol = 1e-4 if single else 1e-9
    source = array if contiguous else noncontiguous(array)
    t_x = torch.from_numpy(source.copy() if contiguous else noncontiguous(array.copy()))
    n_x = ndgrad.from_numpy(source.copy() if contiguous else noncontiguous(array.copy()))
    differentiable = array.dtype.kind in "fc"
    t_x.requires_grad_(differentiable)
    n_x.requires_grad_(differentiable)
    t_y = getattr(torch.fft, fn_name)(t_x, **kwargs)
    n_y = getattr(ndgrad.fft, fn_name)(n_x, **kwargs)
    _assert_same(n_y, t_y, f"{fn_name}{kwargs} forward", tol)
    np.testing.assert_array_equal(_to_numpy(n_x), array, err_msg="the transform changed its input")
    if not differentiable:
        return
    w_re, w_im = (oracle.rng.uniform(-1, 1, tuple(t_y.shape)) for _ in range(2))
    _real_loss(t_y, torch.from_numpy(w_re), torch.from_numpy(w_im)).backward()
    _real_loss(n_y, ndgrad.from_numpy(w_re), ndgrad.from_numpy(w_im)).backward()
    _assert_same(n_x.grad, t_x.grad, f"{fn_name}{kwargs} gradient", tol)


# -- values and gradients against torch -------------------------------------------------------------

def _one_d_cases():
    for name in ONE_D:
        for norm in NORMS:
            for n in (None, 5, 11):
                yield name, norm, n


@pytest.mark.parametrize("name,norm,n", list(_one_d_cases()))
def test_one_d_real_input(name, norm, n):
    compare(name, _random((3, 8)), n=n, norm=norm)


@pytest.mark.parametrize("name", ONE_D)
def test_explicit_backward_norm_and_single_point(name):
    compare(name, _random((2, 4)), norm="backward")
    compare(name, _random((2, 4)), n=1)


@pytest.mark.parametrize("name,norm,n", [c for c in _one_d_cases() if c[0] not in REAL_ONLY])
def test_one_d_complex_input(name, norm, n):
    compare(name, _random((2, 6), "complex128"), n=n, norm=norm)


ONE_D_LAYOUTS = [  # (shape, dim, kind, contiguous)
    ((7,), -1, "float64", True),
    ((1,), 0, "float64", True),
    ((4, 1, 5), 1, "float64", True),
    ((4, 6), 0, "float64", False),
    ((3, 5), -1, "complex128", False),
    ((2, 3, 4), -2, "float32", True),
    ((2, 3, 4), 2, "complex64", True),
]


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("shape,dim,kind,contiguous", ONE_D_LAYOUTS)
def test_one_d_layouts_and_dtypes(name, shape, dim, kind, contiguous):
    if name in REAL_ONLY and kind.startswith("complex"):
        return  # the real-only transforms reject complex input: test_errors
    if name in ("irfft", "hfft") and shape[dim] == 1:
        compare(name, _random(shape, kind), contiguous=contiguous, dim=dim, n=4)
        return
    compare(name, _random(shape, kind), contiguous=contiguous, dim=dim)


N_D_ARGS = [  # kwargs for the n-d transforms
    {},
    {"s": (4, 5)},
    {"s": (2, 9)},
    {"s": (-1, 6)},
    {"dim": (0, 2)},
    {"dim": (2, 0)},
    {"dim": (-1,)},
    {"dim": 1},
    {"s": (3, 4), "dim": (0, 1)},
    {"s": (5,)},
    {"norm": "ortho"},
    {"norm": "forward", "s": (3, 3, 6)},
    {"norm": "backward", "dim": (1, 2)},
]


@pytest.mark.parametrize("name", N_D)
@pytest.mark.parametrize("kwargs", N_D_ARGS, ids=str)
def test_n_d(name, kwargs):
    compare(name, _random((3, 4, 6)), **kwargs)
    if name not in REAL_ONLY:
        compare(name, _random((3, 4, 6), "complex128"), **kwargs)


TWO_D_ARGS = [{}, {"s": (3, 8)}, {"dim": (0, 1)}, {"norm": "ortho"}, {"norm": "forward", "s": (5, 5)},
              {"dim": (-1, -3)}]


@pytest.mark.parametrize("name", TWO_D)
@pytest.mark.parametrize("kwargs", TWO_D_ARGS, ids=str)
def test_two_d(name, kwargs):
    compare(name, _random((2, 3, 6)), **kwargs)
    if name not in REAL_ONLY:
        compare(name, _random((2, 3, 6), "complex128"), contiguous=False, **kwargs)


@pytest.mark.parametrize("name", ["fftn", "ifftn", "fft2", "rfft2", "irfftn", "hfftn", "ihfft2"])
def test_n_d_float32_and_noncontiguous(name):
    compare(name, _random((4, 6), "float32"), contiguous=False)
    if name not in REAL_ONLY:
        compare(name, _random((4, 6), "complex64"), contiguous=False)


def test_zero_dim_fftn_is_a_complex_copy():
    compare("fftn", _random(()))
    compare("ifftn", _random((), "complex128"))


@pytest.mark.parametrize("name", ["fft", "rfft", "ihfft", "fftn", "rfft2", "irfft", "hfft"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integer_and_bool_input_promote_to_the_default_float(name, dtype):
    array = (oracle.rng.integers(-3, 4, (3, 4)) if dtype != "bool" else oracle.rng.random((3, 4)) < 0.5).astype(dtype)
    compare(name, array)


def test_empty_batch():
    # torch's MKL backend rejects a size-0 batch dim ("Inconsistent configuration parameters"); ndgrad
    # returns the empty result with the shape the non-empty rule gives, and an empty gradient
    x = ndgrad.zeros(0, 6, requires_grad=True)
    for name, size in [("fft", 6), ("rfft", 4), ("irfft", 10), ("hfft", 10), ("ihfft", 4)]:
        y = getattr(ndgrad.fft, name)(x)
        assert tuple(y.shape) == (0, size)
        y.abs().sum().backward()
        assert tuple(x.grad.shape) == (0, 6)


def test_result_dtypes():
    x32 = ndgrad.randn(8)
    assert ndgrad.fft.fft(x32).dtype == ndgrad.complex64
    assert ndgrad.fft.rfft(x32.double()).dtype == ndgrad.complex128
    assert ndgrad.fft.irfft(ndgrad.fft.rfft(x32)).dtype == ndgrad.float32
    assert ndgrad.fft.hfft(x32).dtype == ndgrad.float32
    assert ndgrad.fft.ihfft(x32).dtype == ndgrad.complex64


def test_round_trips():
    x = ndgrad.randn(4, 10, dtype=ndgrad.float64)
    for norm in NORMS:
        np.testing.assert_allclose(ndgrad.fft.irfft(ndgrad.fft.rfft(x, norm=norm), n=10, norm=norm)._data,
                                   x._data, atol=1e-12)
        np.testing.assert_allclose(ndgrad.fft.ifftn(ndgrad.fft.fftn(x, norm=norm), norm=norm).real._data,
                                   x._data, atol=1e-12)
        np.testing.assert_allclose(ndgrad.fft.hfft(ndgrad.fft.ihfft(x, norm=norm), n=10, norm=norm)._data,
                                   x._data, atol=1e-12)


def test_out_argument():
    x = ndgrad.randn(6)
    out = ndgrad.empty(4, dtype=ndgrad.complex64)
    result = ndgrad.fft.rfft(x, out=out)
    assert result is out
    np.testing.assert_allclose(out._data, torch.fft.rfft(torch.from_numpy(x._data)).numpy(), atol=1e-6)


# -- gradcheck (float64 central differences) --------------------------------------------------------

def _real_view(y):
    return ndgrad.view_as_real(y) if y.is_complex() else y


GRADCHECK_CASES = [  # (name, kwargs, input shape)
    ("fft", {}, (5,)), ("ifft", {"n": 7}, (5,)), ("rfft", {"norm": "ortho"}, (6,)),
    ("irfft", {"n": 7}, (4,)), ("irfft", {}, (5,)), ("hfft", {"norm": "forward"}, (4,)),
    ("ihfft", {"n": 5}, (6,)), ("fft2", {"s": (3, 4)}, (2, 3)), ("rfftn", {}, (3, 4)),
    ("irfftn", {"s": (3, 5)}, (2, 3)), ("hfftn", {"norm": "ortho"}, (3, 3)), ("ihfftn", {}, (2, 5)),
    ("ifft2", {"norm": "forward"}, (3, 2)), ("irfft2", {}, (3, 3)), ("hfft2", {"s": (2, 6)}, (2, 3)),
    ("ihfft2", {}, (3, 4)), ("fftn", {"dim": (0,)}, (3, 2)), ("ifftn", {"s": (4, 2)}, (3, 3)),
]


@pytest.mark.parametrize("name,kwargs,shape", GRADCHECK_CASES, ids=str)
def test_gradcheck_real_input(name, kwargs, shape):
    x = ndgrad.from_numpy(_random(shape)).requires_grad_(True)
    fn = getattr(ndgrad.fft, name)
    assert gradcheck(lambda t: _real_view(fn(t, **kwargs)), [x])


@pytest.mark.parametrize("name,kwargs,shape", GRADCHECK_CASES, ids=str)
def test_gradcheck_complex_outputs_directly(name, kwargs, shape):
    # gradcheck on complex outputs (and complex128 inputs where the transform accepts them)
    kind = "float64" if name in REAL_ONLY else "complex128"
    x = ndgrad.from_numpy(_random(shape, kind)).requires_grad_(True)
    fn = getattr(ndgrad.fft, name)
    assert gradcheck(lambda t: fn(t, **kwargs), [x])


@pytest.mark.parametrize("name,kwargs,shape", [c for c in GRADCHECK_CASES if c[0] not in REAL_ONLY], ids=str)
def test_gradcheck_complex_input(name, kwargs, shape):
    # complex inputs checked through their real and imaginary parts as two float64 leaves
    re = ndgrad.from_numpy(_random(shape)).requires_grad_(True)
    im = ndgrad.from_numpy(_random(shape)).requires_grad_(True)
    fn = getattr(ndgrad.fft, name)
    assert gradcheck(lambda a, b: _real_view(fn(ndgrad.complex(a, b), **kwargs)), [re, im])


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.fft.irfft(lib.fft.rfft(x) * lib.fft.rfft(x), n=6),
    lambda lib, x: lib.fft.hfft(lib.fft.ihfft(x * x), n=6),
    lambda lib, x: lib.view_as_real(lib.fft.fft2(x.reshape(2, 3) ** 2, norm="ortho")),
])
def test_second_order(fn):
    check_higher_order([(6,)], lambda x: fn(torch, x), lambda x: fn(ndgrad, x))


# -- frequencies and shifts ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("n,d", [(1, 1.0), (8, 1.0), (9, 0.1), (2, 3.0), (0, 1.0)])
def test_frequencies(name, n, d):
    want = getattr(torch.fft, name)(n, d)
    got = getattr(ndgrad.fft, name)(n, d)
    _assert_same(got, want, f"{name}({n}, {d})", 1e-6)
    want = getattr(torch.fft, name)(n, d=d, dtype=torch.float64, requires_grad=True)
    got = getattr(ndgrad.fft, name)(n, d=d, dtype=ndgrad.float64, requires_grad=True, device="cpu")
    _assert_same(got, want, f"{name}({n}, {d}, float64)", 1e-12)
    assert got.requires_grad and got.is_leaf


SHIFT_CASES = [((8,), None), ((7,), None), ((4, 5), None), ((4, 5), 0), ((4, 5), (1,)), ((3, 4, 5), (0, 2)),
               ((3, 4, 5), -1), ((1, 6), None)]


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("shape,dim", SHIFT_CASES, ids=str)
def test_shifts(name, shape, dim):
    compare(name, _random(shape), dim=dim)
    compare(name, _random(shape, "complex64"), dim=dim)


def test_shift_pair_undoes_itself():
    x = ndgrad.randn(5, 6)
    assert ndgrad.equal(ndgrad.fft.ifftshift(ndgrad.fft.fftshift(x)), x)


# -- errors -------------------------------------------------------------------------------------------

def test_errors():
    x, z = ndgrad.randn(4), ndgrad.randn(4, dtype=ndgrad.complex64)
    tx, tz = torch.randn(4), torch.randn(4, dtype=torch.complex64)
    check_error(lambda: ndgrad.fft.fft(x, norm="foo"), ["fft.fft", "Invalid normalization mode", "ortho"],
                RuntimeError, lambda: torch.fft.fft(tx, norm="foo"))
    check_error(lambda: ndgrad.fft.fft(x, n=0), ["Invalid number of data points \\(0\\)"], RuntimeError,
                lambda: torch.fft.fft(tx, n=0))
    check_error(lambda: ndgrad.fft.irfft(ndgrad.randn(1)), ["Invalid number of data points \\(0\\)"],
                RuntimeError, lambda: torch.fft.irfft(torch.randn(1)))
    check_error(lambda: ndgrad.fft.rfft(z), ["rfft expects a real input tensor", "complex64"], RuntimeError,
                lambda: torch.fft.rfft(tz))
    check_error(lambda: ndgrad.fft.ihfftn(z.reshape(2, 2)), ["real input"], RuntimeError,
                lambda: torch.fft.ihfftn(tz.reshape(2, 2)))
    check_error(lambda: ndgrad.fft.fft(x.half()), ["Unsupported dtype float16", r"\.float\(\)"], RuntimeError,
                lambda: torch.fft.fft(tx.half()))
    check_error(lambda: ndgrad.fft.fftn(x.reshape(2, 2), dim=(0, 0)), ["FFT dims must be unique"], RuntimeError,
                lambda: torch.fft.fftn(tx.reshape(2, 2), dim=(0, 0)))
    check_error(lambda: ndgrad.fft.fftn(x.reshape(2, 2), s=(2,), dim=(0, 1)), ["same length"], RuntimeError,
                lambda: torch.fft.fftn(tx.reshape(2, 2), s=(2,), dim=(0, 1)))
    check_error(lambda: ndgrad.fft.fftn(x, s=(2, 2)), ["Got shape with 2 values", "only has 1"], RuntimeError,
                lambda: torch.fft.fftn(tx, s=(2, 2)))
    check_error(lambda: ndgrad.fft.fft(x, dim=3), ["dim 3 is out of range"], IndexError,
                lambda: torch.fft.fft(tx, dim=3))
    check_error(lambda: ndgrad.fft.fft(ndgrad.tensor(1.0)), ["no dimensions"], IndexError,
                lambda: torch.fft.fft(torch.tensor(1.0)))
    check_error(lambda: ndgrad.fft.rfftn(ndgrad.tensor(1.0)), ["must transform at least one axis"],
                RuntimeError, lambda: torch.fft.rfftn(torch.tensor(1.0)))
    check_error(lambda: ndgrad.fft.fftshift(ndgrad.tensor(1.0)), ["fftshift", "no dimension to shift"], RuntimeError,
                lambda: torch.fft.fftshift(torch.tensor(1.0)))
    check_error(lambda: ndgrad.fft.ifftshift(x, dim=()), ["ifftshift", "no dimension to shift"], RuntimeError,
                lambda: torch.fft.ifftshift(tx, dim=()))
    check_error(lambda: ndgrad.fft.fftfreq(4, dtype=ndgrad.int64), ["floating point or complex dtype"],
                RuntimeError, lambda: torch.fft.fftfreq(4, dtype=torch.int64))


# -- the array API standard's fft extension -------------------------------------------------------------

def test_array_api_fft_extension():
    x = ndgrad.from_numpy(_random((4, 6)))
    xp = x.__array_namespace__()
    assert "fft" in xp.__all__
    t = torch.from_numpy(x._data.copy())
    _assert_same(xp.fft.rfftn(x, axes=(0, 1), norm="ortho"), torch.fft.rfftn(t, dim=(0, 1), norm="ortho"),
                 "array API rfftn", 1e-9)
    _assert_same(xp.fft.irfft(xp.fft.rfft(x, axis=0), n=4, axis=0), t, "array API rfft/irfft round trip", 1e-9)
    _assert_same(xp.fft.hfft(x, n=5), torch.fft.hfft(t, n=5), "array API hfft", 1e-9)
    _assert_same(xp.fft.fftshift(x, axes=(0,)), torch.fft.fftshift(t, dim=(0,)), "array API fftshift", 0)
    _assert_same(xp.fft.fftfreq(5, d=0.5, dtype=xp.float64), torch.fft.fftfreq(5, d=0.5, dtype=torch.float64),
                 "array API fftfreq", 1e-12)
    with pytest.raises(TypeError, match="expected an array"):
        xp.fft.fft([1.0, 2.0])

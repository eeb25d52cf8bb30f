"""Window functions, stft and istft against torch: values, gradients (signal and window), gradcheck, errors."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad
import oracle
from ndgrad.autograd import gradcheck
from oracle import check_error

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


def _numpy(t):
    return t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else np.asarray(t._data)


def _assert_same(n, t, what, tol=1e-9):
    got, want = _numpy(n), _numpy(t)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != torch {want.dtype}"
    np.testing.assert_allclose(got, want, atol=tol, rtol=tol, err_msg=what)


def _real_loss(y, w_re, w_im):
    if y.is_complex():
        return (y.real * w_re + y.imag * w_im).sum()
    return (y * w_re).sum()


def _backward_both(t_y, n_y):
    w_re, w_im = (oracle.rng.uniform(-1, 1, tuple(t_y.shape)) for _ in range(2))
    _real_loss(t_y, torch.from_numpy(w_re), torch.from_numpy(w_im)).backward()
    _real_loss(n_y, ndgrad.from_numpy(w_re), ndgrad.from_numpy(w_im)).backward()


def _pair(array, requires_grad=True):
    return (torch.from_numpy(array.copy()).requires_grad_(requires_grad),
            ndgrad.from_numpy(array.copy()).requires_grad_(requires_grad))


# -- windows ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("length", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows(name, length, periodic, dtype):
    want = getattr(torch, name)(length, periodic, dtype=getattr(torch, dtype))
    got = getattr(ndgrad, name)(length, periodic, dtype=getattr(ndgrad, dtype))
    _assert_same(got, want, f"{name}({length}, {periodic})", 1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("name,args", [
    ("hamming_window", (9, True, 0.5, 0.5)), ("hamming_window", (9, False, 0.6, 0.3)),
    ("kaiser_window", (9, True, 5.0)), ("kaiser_window", (10, False, 0.5)),
])
def test_window_parameters(name, args):
    _assert_same(getattr(ndgrad, name)(*args, dtype=ndgrad.float64),
                 getattr(torch, name)(*args, dtype=torch.float64), f"{name}{args}", 1e-12)


def test_window_options():
    w = ndgrad.hann_window(6, requires_grad=True, device="cpu")
    assert w.requires_grad and w.is_leaf and w.dtype == ndgrad.float32
    ndgrad.set_default_dtype(ndgrad.float64)
    try:
        assert ndgrad.blackman_window(4).dtype == ndgrad.float64
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)
    check_error(lambda: ndgrad.hann_window(4, dtype=ndgrad.int64), ["hann_window expects floating point dtypes"],
                RuntimeError, lambda: torch.hann_window(4, dtype=torch.int64))
    check_error(lambda: ndgrad.kaiser_window(-1), ["non-negative window_length"], RuntimeError,
                lambda: torch.kaiser_window(-1))


# -- stft -----------------------------------------------------------------------------------------------

STFT_CASES = [  # stft keyword arguments (n_fft first)
    {"n_fft": 8},
    {"n_fft": 8, "hop_length": 3},
    {"n_fft": 8, "win_length": 5, "hop_length": 2},
    {"n_fft": 7, "center": False},
    {"n_fft": 8, "normalized": True},
    {"n_fft": 8, "onesided": False},
    {"n_fft": 6, "pad_mode": "constant"},
    {"n_fft": 6, "pad_mode": "replicate", "hop_length": 1},
    {"n_fft": 8, "center": False, "win_length": 6, "align_to_window": True},
    {"n_fft": 8, "center": False, "win_length": 6, "align_to_window": False},
    {"n_fft": 16, "hop_length": 16},
]


@pytest.mark.parametrize("shape", [(20,), (2, 21)])
@pytest.mark.parametrize("kwargs", STFT_CASES, ids=str)
@pytest.mark.parametrize("with_window", [True, False])
def test_stft(shape, kwargs, with_window):
    t_x, n_x = _pair(oracle.rng.standard_normal(shape))
    t_w = n_w = None
    if with_window:
        t_w, n_w = _pair(oracle.rng.uniform(0.5, 1.0, kwargs.get("win_length", kwargs["n_fft"])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-window warning, checked in test_stft_warnings
        t_y = torch.stft(t_x, window=t_w, return_complex=True, **kwargs)
        n_y = ndgrad.stft(n_x, window=n_w, return_complex=True, **kwargs)
    _assert_same(n_y, t_y, f"stft{kwargs}")
    _backward_both(t_y, n_y)
    _assert_same(n_x.grad, t_x.grad, "gradient of the signal")
    if with_window:
        _assert_same(n_w.grad, t_w.grad, "gradient of the window")


def test_stft_float32_method_and_real_output():
    t_x, n_x = _pair(oracle.rng.standard_normal((3, 30)).astype("float32"))
    window = ndgrad.hann_window(10)
    n_y = n_x.stft(10, hop_length=4, window=window, return_complex=True)
    t_y = t_x.stft(10, hop_length=4, window=torch.hann_window(10), return_complex=True)
    _assert_same(n_y, t_y, "Tensor.stft float32", 1e-5)
    with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
        n_r = ndgrad.stft(n_x, 10, window=window, return_complex=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own deprecation warning
        t_r = torch.stft(t_x, 10, window=torch.hann_window(10), return_complex=False)
    _assert_same(n_r, t_r, "stft return_complex=False", 1e-5)
    _backward_both(t_r, n_r)
    _assert_same(n_x.grad, t_x.grad, "gradient through view_as_real", 1e-5)


def test_stft_complex_input_is_twosided():
    array = oracle.rng.standard_normal((2, 16)) + 1j * oracle.rng.standard_normal((2, 16))
    t_x, n_x = _pair(array)
    t_y = torch.stft(t_x, 8, window=torch.hann_window(8, dtype=torch.float64))
    n_y = ndgrad.stft(n_x, 8, window=ndgrad.hann_window(8, dtype=ndgrad.float64))
    _assert_same(n_y, t_y, "stft of complex input")
    _backward_both(t_y, n_y)
    _assert_same(n_x.grad, t_x.grad, "gradient of complex input")


def test_stft_gradcheck():
    x = ndgrad.from_numpy(oracle.rng.standard_normal(12)).requires_grad_(True)
    w = ndgrad.from_numpy(oracle.rng.uniform(0.5, 1, 6)).requires_grad_(True)
    assert gradcheck(lambda a, b: ndgrad.view_as_real(ndgrad.stft(a, 6, 2, window=b, return_complex=True)), [x, w])


def test_stft_warnings_and_errors():
    x, tx = ndgrad.randn(32), torch.randn(32)
    with pytest.warns(UserWarning, match="A window was not provided"):
        ndgrad.stft(x, 8, return_complex=True)
    check_error(lambda: ndgrad.stft(x, 8, window=ndgrad.ones(8)), ["requires the return_complex parameter"],
                RuntimeError, lambda: torch.stft(tx, 8, window=torch.ones(8)))
    check_error(lambda: ndgrad.stft(x.reshape(2, 2, 8), 4, window=ndgrad.ones(4), return_complex=True),
                ["expected a 1D or 2D tensor", "3D"], RuntimeError,
                lambda: torch.stft(tx.reshape(2, 2, 8), 4, window=torch.ones(4), return_complex=True))
    check_error(lambda: ndgrad.stft(x, 64, window=ndgrad.ones(64), center=False, return_complex=True),
                ["expected 0 < n_fft <= 32", "n_fft=64"], RuntimeError,
                lambda: torch.stft(tx, 64, window=torch.ones(64), center=False, return_complex=True))
    check_error(lambda: ndgrad.stft(x, 8, win_length=9, window=ndgrad.ones(9), return_complex=True),
                ["0 < win_length <= n_fft"], RuntimeError,
                lambda: torch.stft(tx, 8, win_length=9, window=torch.ones(9), return_complex=True))
    check_error(lambda: ndgrad.stft(x, 8, window=ndgrad.ones(7), return_complex=True),
                ["window tensor of size equal to win_length=8", r"\(7,\)"], RuntimeError,
                lambda: torch.stft(tx, 8, window=torch.ones(7), return_complex=True))
    check_error(lambda: ndgrad.stft(x, 8, hop_length=0, window=ndgrad.ones(8), return_complex=True),
                ["hop_length > 0"], RuntimeError,
                lambda: torch.stft(tx, 8, hop_length=0, window=torch.ones(8), return_complex=True))
    check_error(lambda: ndgrad.stft(ndgrad.arange(32), 8, window=ndgrad.ones(8), return_complex=True),
                ["expected a tensor of floating point or complex values", "int64"], RuntimeError,
                lambda: torch.stft(torch.arange(32), 8, window=torch.ones(8), return_complex=True))
    check_error(lambda: ndgrad.stft(x, 8, window=ndgrad.ones(8), return_complex=True, align_to_window=True),
                ["align_to_window should only be set when center = false"], RuntimeError,
                lambda: torch.stft(tx, 8, window=torch.ones(8), return_complex=True, align_to_window=True))


# -- istft ----------------------------------------------------------------------------------------------

ISTFT_CASES = [  # istft keyword arguments; the input is torch's stft with the same framing and a hann window
    {"n_fft": 8},
    {"n_fft": 8, "hop_length": 2},
    {"n_fft": 8, "win_length": 6, "hop_length": 2},
    {"n_fft": 8, "normalized": True},
    {"n_fft": 8, "length": 17},
    {"n_fft": 8, "length": 30},
    {"n_fft": 8, "onesided": False},
    {"n_fft": 8, "onesided": False, "return_complex": True},
    {"n_fft": 7, "hop_length": 3},
]


@pytest.mark.parametrize("shape", [(20,), (2, 21)])
@pytest.mark.parametrize("kwargs", ISTFT_CASES, ids=str)
def test_istft(shape, kwargs):
    win = kwargs.get("win_length", kwargs["n_fft"])
    t_window = torch.hann_window(win, dtype=torch.float64)
    n_window = ndgrad.hann_window(win, dtype=ndgrad.float64)
    framing = {k: v for k, v in kwargs.items() if k not in ("length", "return_complex")}
    spectrum = torch.stft(torch.from_numpy(oracle.rng.standard_normal(shape)), window=t_window,
                          return_complex=True, **framing).numpy()
    t_s, n_s = _pair(spectrum)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the zero-padding warning for a long `length`
        t_y = torch.istft(t_s, window=t_window, **kwargs)
        n_y = ndgrad.istft(n_s, window=n_window, **kwargs)
    _assert_same(n_y, t_y, f"istft{kwargs}")
    _backward_both(t_y, n_y)
    _assert_same(n_s.grad, t_s.grad, "gradient of the spectrum")


def test_istft_inverts_stft_and_differentiates_the_window():
    x = ndgrad.randn(2, 40, dtype=ndgrad.float64)
    window = ndgrad.hann_window(16, dtype=ndgrad.float64)
    spec = ndgrad.stft(x, 16, hop_length=4, window=window, return_complex=True)
    back = spec.istft(16, hop_length=4, window=window, length=40)
    np.testing.assert_allclose(back._data, x._data, atol=1e-12)
    t_w, n_w = _pair(oracle.rng.uniform(0.5, 1.0, 8))
    t_spec = torch.stft(torch.from_numpy(x._data), 8, 2, window=t_w.detach(), return_complex=True)
    t_y = torch.istft(t_spec, 8, 2, window=t_w)
    n_y = ndgrad.istft(ndgrad.from_numpy(t_spec.numpy()), 8, 2, window=n_w)
    _assert_same(n_y, t_y, "istft with a learnable window")
    _backward_both(t_y, n_y)
    _assert_same(n_w.grad, t_w.grad, "gradient of the istft window")


def test_istft_gradcheck_complex_input():
    window = ndgrad.hann_window(6, dtype=ndgrad.float64)
    for onesided in (True, False):
        spectrum = torch.stft(torch.randn(12, dtype=torch.float64), 6, 3, window=torch.hann_window(6).double(),
                              onesided=onesided, return_complex=True).numpy()
        # a contiguous copy: gradcheck perturbs the input's memory in place
        spec = ndgrad.from_numpy(np.ascontiguousarray(spectrum)).requires_grad_(True)
        assert gradcheck(lambda s: ndgrad.istft(s, 6, 3, window=window, onesided=onesided,
                                                return_complex=not onesided), [spec])


def test_istft_gradcheck():
    spectrum = torch.stft(torch.randn(12, dtype=torch.float64), 6, 2, window=torch.hann_window(6).double(),
                          return_complex=True).numpy()
    re = ndgrad.from_numpy(spectrum.real.copy()).requires_grad_(True)
    im = ndgrad.from_numpy(spectrum.imag.copy()).requires_grad_(True)
    window = ndgrad.hann_window(6, dtype=ndgrad.float64)
    assert gradcheck(lambda a, b: ndgrad.istft(ndgrad.complex(a, b), 6, 2, window=window), [re, im])


def test_istft_errors():
    spec = ndgrad.stft(ndgrad.randn(32), 8, window=ndgrad.hann_window(8), return_complex=True)
    t_spec = torch.stft(torch.randn(32), 8, window=torch.hann_window(8), return_complex=True)
    check_error(lambda: ndgrad.istft(spec.real, 8, window=ndgrad.hann_window(8)),
                ["istft requires a complex-valued input"], RuntimeError,
                lambda: torch.istft(t_spec.real, 8, window=torch.hann_window(8)))
    check_error(lambda: ndgrad.istft(spec, 8, hop_length=2, window=ndgrad.hann_window(8), center=False),
                ["window overlap add min", "NOLA"], RuntimeError,
                lambda: torch.istft(t_spec, 8, hop_length=2, window=torch.hann_window(8), center=False))
    check_error(lambda: ndgrad.istft(spec, 10, window=ndgrad.hann_window(10), onesided=True),
                ["match n_fft / 2 \\+ 1 when onesided=True", "got 5"], RuntimeError,
                lambda: torch.istft(t_spec, 10, window=torch.hann_window(10), onesided=True))
    check_error(lambda: ndgrad.istft(spec, 8, window=ndgrad.hann_window(8), return_complex=True),
                ["Cannot have onesided output"], RuntimeError,
                lambda: torch.istft(t_spec, 8, window=torch.hann_window(8), return_complex=True))


# -- ndgrad.signal.windows ------------------------------------------------------------------------------

SIGNAL_WINDOWS = [  # (name, keyword options)
    ("bartlett", {}), ("blackman", {}), ("cosine", {}), ("hamming", {}), ("hann", {}), ("nuttall", {}),
    ("kaiser", {}), ("kaiser", {"beta": 3.0}), ("gaussian", {}), ("gaussian", {"std": 2.5}),
    ("exponential", {}), ("exponential", {"tau": 2.0}), ("general_hamming", {"alpha": 0.6}),
    ("general_cosine", {"a": [0.5, 0.3, 0.2]}),
]


@pytest.mark.parametrize("name,options", SIGNAL_WINDOWS, ids=str)
@pytest.mark.parametrize("M", [0, 1, 2, 7])
@pytest.mark.parametrize("sym", [True, False])
def test_signal_windows(name, options, M, sym):
    import torch.signal.windows as torch_windows
    want = getattr(torch_windows, name)(M, sym=sym, dtype=torch.float64, **options)
    got = getattr(ndgrad.signal.windows, name)(M, sym=sym, dtype=ndgrad.float64, **options)
    _assert_same(got, want, f"signal.windows.{name}({M}, sym={sym}, {options})", 1e-12)


def test_signal_windows_options_and_errors():
    import torch.signal.windows as torch_windows
    _assert_same(ndgrad.signal.windows.exponential(5, center=1.5, sym=False),
                 torch_windows.exponential(5, center=1.5, sym=False), "exponential with a centre", 1e-6)
    _assert_same(ndgrad.signal.windows.exponential(1, center=1.5, sym=False),
                 torch_windows.exponential(1, center=1.5, sym=False), "one-sample exponential", 1e-6)
    assert ndgrad.signal.windows.hann(4, requires_grad=True).requires_grad
    for fn, match, torch_fn in [
        (lambda: ndgrad.signal.windows.hann(-1), "non-negative", lambda: torch_windows.hann(-1)),
        (lambda: ndgrad.signal.windows.hann(4, dtype=ndgrad.float16), "float32 or float64",
         lambda: torch_windows.hann(4, dtype=torch.float16)),
        (lambda: ndgrad.signal.windows.gaussian(4, std=0.0), "Standard deviation must be positive",
         lambda: torch_windows.gaussian(4, std=0.0)),
        (lambda: ndgrad.signal.windows.exponential(4, center=1.0), "Center must be None for symmetric",
         lambda: torch_windows.exponential(4, center=1.0)),
        (lambda: ndgrad.signal.windows.kaiser(4, beta=-1.0), "beta must be non-negative",
         lambda: torch_windows.kaiser(4, beta=-1.0)),
        (lambda: ndgrad.signal.windows.general_cosine(4, a=[]), "Coefficients cannot be empty",
         lambda: torch_windows.general_cosine(4, a=[])),
    ]:
        check_error(fn, match, ValueError, torch_fn)

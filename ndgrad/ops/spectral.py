"""Window functions and the short-time Fourier transform (``stft`` / ``istft``), as in torch.

The windows are computed in float64 with ``xp`` on the target device and cast to the requested dtype.
``stft`` frames the (centre-padded) signal with ``Tensor.unfold``, multiplies by the window and runs the
FFT nodes of ``ndgrad.fft``, so it is differentiable in the signal and the window. ``istft`` inverts it
by weighted overlap-add (``OverlapAdd``, whose adjoint is framing again).
"""
import math
import operator
import warnings

from .. import dtypes
from ..autograd.node import Node
from ..tensor import Tensor, strided

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window", "stft",
           "istft"]


# -- windows ----------------------------------------------------------------------------------------

def _window(op, window_length, periodic, values, dtype, layout, device, requires_grad, one_is_one=True):
    """A window of ``window_length`` samples; periodic windows are the symmetric one of length+1, cut.

    A one-sample window is [1] unless ``one_is_one`` is False (then ``values`` decides, with m = 1).
    """
    from ..creation import _check_layout, get_device
    from ..backend import namespace
    _check_layout(layout, op)
    if isinstance(window_length, bool) or not hasattr(window_length, "__index__"):
        raise TypeError(f"{op}(): argument 'window_length' must be an int, not {type(window_length).__name__}")
    n = operator.index(window_length)
    if n < 0:
        raise RuntimeError(f"{op} requires non-negative window_length, got window_length={n}")
    dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if not dtype.is_floating_point:
        raise RuntimeError(f"{op} expects floating point dtypes, got: {dtype}; pass e.g. dtype=ndgrad.float32")
    device = get_device(device)
    xp = namespace(device)
    if n == 0 or (n == 1 and one_is_one):
        arr = xp.ones((n,), dtype=dtype.np)
    else:
        m = n + 1 if periodic and n > 1 else n  # the symmetric window's length
        k = xp.arange(m, dtype="float64")
        arr = values(xp, k, m)[:n].astype(dtype.np)
    t = Tensor._wrap(arr, device)
    return t.requires_grad_(True) if requires_grad else t


def _cosine_sum(coefficients):
    """a0 - a1 cos(2 pi k / (m-1)) + a2 cos(4 pi k / (m-1)) - ...: the hann/hamming/blackman family."""
    def values(xp, k, m):
        out = xp.zeros(k.shape, dtype="float64")
        for j, a in enumerate(coefficients):
            out += (-1) ** j * a * xp.cos(2 * math.pi * j * k / (m - 1))
        return out
    return values


def hann_window(window_length, periodic=True, *, dtype=None, layout=strided, device=None, requires_grad=False,
                pin_memory=False):
    """The Hann window 0.5 - 0.5 cos(2 pi k / (N-1)) (periodic: N = window_length + 1, last sample dropped)."""
    return _window("hann_window", window_length, periodic, _cosine_sum((0.5, 0.5)), dtype, layout, device,
                   requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=strided,
                   device=None, requires_grad=False, pin_memory=False):
    """The Hamming window alpha - beta cos(2 pi k / (N-1))."""
    return _window("hamming_window", window_length, periodic, _cosine_sum((alpha, beta)), dtype, layout, device,
                   requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=strided, device=None, requires_grad=False,
                    pin_memory=False):
    """The Blackman window 0.42 - 0.5 cos(2 pi k / (N-1)) + 0.08 cos(4 pi k / (N-1))."""
    return _window("blackman_window", window_length, periodic, _cosine_sum((0.42, 0.5, 0.08)), dtype, layout,
                   device, requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=strided, device=None, requires_grad=False,
                    pin_memory=False):
    """The triangular Bartlett window 1 - |2k / (N-1) - 1|."""
    return _window("bartlett_window", window_length, periodic,
                   lambda xp, k, m: 1 - xp.abs(2 * k / (m - 1) - 1), dtype, layout, device, requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=strided, device=None,
                  requires_grad=False, pin_memory=False):
    """The Kaiser window I0(beta sqrt(1 - (2k/(N-1) - 1)^2)) / I0(beta)."""
    def values(xp, k, m):
        ratio = 2 * k / (m - 1) - 1
        return xp.i0(beta * xp.sqrt(xp.maximum(1 - ratio * ratio, 0))) / xp.i0(xp.asarray(float(beta)))
    return _window("kaiser_window", window_length, periodic, values, dtype, layout, device, requires_grad)


# -- stft / istft -----------------------------------------------------------------------------------

def _frame_args(op, n_fft, hop_length, win_length, window, signal_len=None):
    n_fft = operator.index(n_fft)
    hop = n_fft // 4 if hop_length is None else operator.index(hop_length)
    win = n_fft if win_length is None else operator.index(win_length)
    if signal_len is not None and not 0 < n_fft <= signal_len:
        raise RuntimeError(f"{op}: expected 0 < n_fft <= {signal_len} (the signal length after padding), but got "
                           f"n_fft={n_fft}")
    if n_fft <= 0:
        raise RuntimeError(f"{op}: expected 0 < n_fft, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"{op}: expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{op}: expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(f"{op}: expected a 1D window tensor of size equal to win_length={win}, but got window "
                           f"with size {tuple(window.shape)}")
    return n_fft, hop, win


def _full_window(window, n_fft, win, like, op):
    """The window zero-padded (centred) to n_fft samples; ones when none is given."""
    from ..nn import functional as F
    if window is None:
        from ..creation import ones
        window = ones(win, dtype=dtypes.dtype_of(like._data.real), device=like.device)
    elif window.device != like.device:
        raise RuntimeError(f"{op}: the window is on {window.device} but the input is on {like.device}; move it "
                           f"with .to(device)")
    if win < n_fft:
        left = (n_fft - win) // 2
        window = F.pad(window, (left, n_fft - win - left))
    return window


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """The short-time Fourier transform: (B?, L) -> (B?, n_fft//2 + 1 (onesided) or n_fft, frames), complex."""
    from .. import fft as _fft
    from ..fft._nodes import is_complex
    from ..nn import functional as F
    op = "stft"
    if input.ndim not in (1, 2):
        raise RuntimeError(f"{op}: expected a 1D or 2D tensor (signal, or batch x signal), but got "
                           f"{input.ndim}D tensor of shape {tuple(input.shape)}")
    complex_input = is_complex(input) or (window is not None and is_complex(window))
    if return_complex is None:
        if not complex_input:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will "
                      "return complex tensors for all inputs, and return_complex=False will raise an error. "
                      "Note: you can still call ndgrad.view_as_real on the complex output to recover the old "
                      "return format.", UserWarning, stacklevel=2)
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied, which is known to cause "
                      "spectral leakage. Other windows such as ndgrad.hann_window or ndgrad.hamming_window are "
                      "recommended to reduce spectral leakage. To suppress this warning and use a rectangular "
                      "window, explicitly set `window=ndgrad.ones(n_fft, device=<device>)`.", UserWarning,
                      stacklevel=2)
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: expected a tensor of floating point or complex values, got "
                           f"{input._data.dtype.name}; convert the signal first, e.g. x.float()")
    x = input
    n_fft_i = operator.index(n_fft)
    if center:
        pad = n_fft_i // 2
        extended = (1,) * (3 - x.ndim) + tuple(x.shape)
        padded = F.pad(x.reshape(extended), [pad, pad], pad_mode)
        x = padded.reshape(tuple(x.shape[:-1]) + (x.shape[-1] + 2 * pad,))
    n_fft, hop, win = _frame_args(op, n_fft, hop_length, win_length, window, x.shape[-1])
    full_window = _full_window(window, n_fft, win, x, op)
    if align_to_window and win < n_fft:
        # frames are placed so the window (not the n_fft block around it) starts at t * hop: zero-pad
        # both ends by the window's margins
        left = (n_fft - win) // 2
        x = F.pad(x, (left, n_fft - win - left))
    frames = x.unfold(-1, n_fft, hop) * full_window  # (B?, frames, n_fft)
    if onesided is None:
        onesided = not complex_input
    if onesided and complex_input:
        raise RuntimeError(f"{op}: Cannot have onesided output if window or input is complex; pass "
                           f"onesided=False")
    norm = "ortho" if normalized else "backward"
    spectrum = _fft.rfft(frames, dim=-1, norm=norm) if onesided else _fft.fft(frames, dim=-1, norm=norm)
    spectrum = spectrum.transpose(-1, -2)
    if not return_complex:
        from .complex_ops import view_as_real
        return view_as_real(spectrum)
    return spectrum


class OverlapAdd(Node):
    """Sum frames (..., frames, n_fft) hop apart into a signal (..., n_fft + hop * (frames - 1))."""

    __slots__ = ("hop",)

    def __init__(self, hop):
        self.hop = hop

    def forward(self, frames):
        hop, xp = self.hop, self.xp
        *lead, count, n_fft = frames.shape
        blocks = -(-n_fft // hop)  # each frame spans this many hop-sized blocks
        out = xp.zeros((*lead, (count + blocks) * hop), dtype=frames.dtype)
        # block j of every frame lands in consecutive hop-sized slots starting at slot j: one
        # vectorised add per block instead of one per frame
        for j in range(blocks):
            width = min(hop, n_fft - j * hop)
            target = out[..., j * hop:(j + count) * hop].reshape(*lead, count, hop)
            target[..., :width] += frames[..., j * hop:j * hop + width]
        return out[..., :n_fft + hop * (count - 1)]

    def backward(self, grad):
        n_fft = self.inputs[0].shape[-1]
        return grad.unfold(-1, n_fft, self.hop)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """The inverse of ``stft`` by weighted overlap-add: (B?, freq, frames) complex -> (B?, length)."""
    from .. import fft as _fft
    from ..fft._nodes import is_complex
    from ..nn import functional as F
    op = "istft"
    if not is_complex(input):
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected a tensor with 2 or 3 dimensions of complex dtype (B?, freq, frames), "
                           f"but got shape {tuple(input.shape)}")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied. Please provide the same "
                      "window used by stft to make the inversion lossless. To suppress this warning and use a "
                      "rectangular window, explicitly set `window=ndgrad.ones(n_fft, device=<device>)`.",
                      UserWarning, stacklevel=2)
    n_fft, hop, win = _frame_args(op, n_fft, hop_length, win_length, window)
    fft_size, count = input.shape[-2], input.shape[-1]
    if onesided is None:
        onesided = fft_size != n_fft
    if onesided and fft_size != n_fft // 2 + 1:
        raise RuntimeError(f"{op} expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft / 2 + 1 when onesided=True, but got {fft_size}")
    if not onesided and fft_size != n_fft:
        raise RuntimeError(f"{op} expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft when onesided=False, but got {fft_size}")
    if count == 0:
        raise RuntimeError(f"{op}: input tensor cannot be empty (it has 0 frames)")
    full_window = _full_window(window, n_fft, win, input, op)
    norm = "ortho" if normalized else "backward"
    spectra = input.transpose(-1, -2)  # (B?, frames, freq)
    if return_complex:
        if onesided:
            raise RuntimeError(f"{op}: Cannot have onesided output if window or input is complex; pass "
                               f"onesided=False with return_complex=True")
        frames = _fft.ifft(spectra, dim=-1, norm=norm)
    else:
        if is_complex(full_window):
            raise RuntimeError(f"{op}: Complex windows are incompatible with return_complex=False")
        if not onesided:
            spectra = spectra[..., :n_fft // 2 + 1]
        frames = _fft.irfft(spectra, n=n_fft, dim=-1, norm=norm)
    signal = OverlapAdd(hop).apply(frames * full_window)
    envelope = OverlapAdd(hop).apply((full_window * full_window).expand(count, n_fft))
    expected = n_fft + hop * (count - 1)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + operator.index(length)
    else:
        end = expected - n_fft // 2 if center else expected
    signal, envelope = signal[..., start:end], envelope[..., start:end]
    if envelope.numel() and float(envelope.abs().min()) < 1e-11:
        raise RuntimeError(f"{op}: window overlap add min: {float(envelope.abs().min()):.3g} is below 1e-11 (the "
                           f"window does not satisfy the NOLA condition for hop_length={hop}); use a window whose "
                           f"squares overlap-add to nonzero values, or a smaller hop_length")
    signal = signal / envelope
    if end > expected:
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with "
                      "zeros in the tail. Please check your center and hop_length settings.", UserWarning,
                      stacklevel=2)
        signal = F.pad(signal, (0, end - expected))
    return signal


METHODS = {"stft": stft, "istft": istft}

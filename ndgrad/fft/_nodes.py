"""The recorded FFT ops: forward on raw arrays with ``xp.fft``, backward as adjoint transforms.

Gradients follow PyTorch's convention for complex autograd (the conjugate Wirtinger derivative): for a
linear map ``y = A x`` the gradient of a real loss is ``A^H grad``. A scaled DFT ``c F`` has the adjoint
``c F^H``, and ``F^H`` is the unnormalised inverse transform, so every backward is the opposite
transform with the *dual* norm mode ("backward" <-> "forward", "ortho" stays). Each backward is built
from these same nodes, so higher-order gradients come for free.
"""
from ..autograd.node import Node
from ..backend import np

# The norm mode whose scale is the adjoint of a transform's scale in the opposite direction.
DUAL_NORM = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def complex_of(dtype):
    """complex64 for float32 (and complex64), complex128 for float64 (and complex128)."""
    return np.dtype(np.complex64) if dtype in (np.float32, np.complex64) else np.dtype(np.complex128)


def real_of(dtype):
    """float32 for complex64 / float32, float64 otherwise."""
    return np.dtype(np.float32) if dtype in (np.float32, np.complex64) else np.dtype(np.float64)


def is_complex(t):
    return t._data.dtype.kind == "c"


class FFTC2C(Node):
    """``fftn`` / ``ifftn`` over ``dims``, each first cut or zero-padded to ``sizes`` (None: unchanged)."""

    __slots__ = ("dims", "sizes", "norm", "inverse", "in_sizes", "real_input")

    def __init__(self, dims, sizes, norm, inverse):
        self.dims, self.sizes, self.norm, self.inverse = tuple(dims), sizes, norm, inverse

    def forward(self, x):
        self.real_input = x.dtype.kind != "c"
        self.in_sizes = tuple(x.shape[d] for d in self.dims)
        out_dtype = complex_of(x.dtype)
        if not self.dims:
            return x.astype(out_dtype)
        transform = self.xp.fft.ifftn if self.inverse else self.xp.fft.fftn
        return transform(x, s=self.sizes, axes=self.dims, norm=self.norm).astype(out_dtype, copy=False)

    def backward(self, grad):
        g = FFTC2C(self.dims, None, DUAL_NORM[self.norm], not self.inverse).apply(as_complex(grad))
        g = resize(g, self.dims, self.in_sizes)
        return real(g) if self.real_input else g


class FFTR2C(Node):
    """``rfft`` along one dim: a real signal cut or zero-padded to ``n``, the onesided half spectrum."""

    __slots__ = ("dim", "n", "norm", "in_size")

    def __init__(self, dim, n, norm):
        self.dim, self.n, self.norm = dim, n, norm

    def forward(self, x):
        self.in_size = x.shape[self.dim]
        out = self.xp.fft.rfft(x, n=self.n, axis=self.dim, norm=self.norm)
        return out.astype(complex_of(x.dtype), copy=False)

    def backward(self, grad):
        # Adjoint of "keep the first n//2+1 bins of the full DFT": zero-fill the other bins, apply the
        # adjoint DFT, keep the real part (the input was real).
        g = resize(as_complex(grad), (self.dim,), (self.n,))
        g = FFTC2C((self.dim,), None, DUAL_NORM[self.norm], True).apply(g)
        return resize(real(g), (self.dim,), (self.in_size,))


class FFTC2R(Node):
    """``irfft`` along one dim: a onesided spectrum (cut or zero-padded to n//2+1) to ``n`` real samples."""

    __slots__ = ("dim", "n", "norm", "in_size", "real_input")

    def __init__(self, dim, n, norm):
        self.dim, self.n, self.norm = dim, n, norm

    def forward(self, x):
        self.in_size = x.shape[self.dim]
        self.real_input = x.dtype.kind != "c"
        out = self.xp.fft.irfft(x, n=self.n, axis=self.dim, norm=self.norm)
        return out.astype(real_of(x.dtype), copy=False)

    def backward(self, grad):
        # irfft = (fill the missing half by conjugate symmetry) then inverse DFT then real part. Its adjoint
        # is the forward rfft, with the bins whose mirror image lies outside the onesided half counted
        # twice: bins 1 .. n - (n//2 + 1).
        g = FFTR2C(self.dim, None, DUAL_NORM[self.norm]).apply(grad)
        half = self.n // 2 + 1
        doubled = self.n - half
        if doubled > 0:
            shape = [1] * g.ndim
            shape[self.dim] = half
            mask = np.ones(half, dtype=g._data.real.dtype)
            mask[1:1 + doubled] = 2
            xp = self.xp
            g = Scale(xp.asarray(mask.reshape(shape))).apply(g)
        g = resize(g, (self.dim,), (self.in_size,))
        return real(g) if self.real_input else g


class Resize(Node):
    """Cut each of ``dims`` to ``sizes`` or zero-pad it at the end (what ``n=``/``s=`` do to an FFT input)."""

    __slots__ = ("dims", "sizes", "in_sizes")

    def __init__(self, dims, sizes):
        self.dims, self.sizes = dims, sizes

    def forward(self, x):
        self.in_sizes = tuple(x.shape[d] for d in self.dims)
        out_shape = list(x.shape)
        for d, s in zip(self.dims, self.sizes):
            out_shape[d] = s
        out = self.xp.zeros(out_shape, dtype=x.dtype)
        common = [slice(None)] * x.ndim
        for d, s, old in zip(self.dims, self.sizes, self.in_sizes):
            common[d] = slice(0, min(s, old))
        common = tuple(common)
        out[common] = x[common]
        return out

    def backward(self, grad):
        return Resize(self.dims, self.in_sizes).apply(grad)


def resize(t, dims, sizes):
    """``t`` with ``dims`` cut / zero-padded to ``sizes``; ``t`` itself when nothing changes."""
    dims, sizes = tuple(dims), tuple(sizes)
    if all(t.shape[d] == s for d, s in zip(dims, sizes)):
        return t
    return Resize(dims, sizes).apply(t)


class Scale(Node):
    """Multiply by a constant real array (broadcast); its own adjoint."""

    __slots__ = ("factor",)

    def __init__(self, factor):
        self.factor = factor

    def forward(self, x):
        return x * self.factor.astype(x.real.dtype, copy=False)

    def backward(self, grad):
        return Scale(self.factor).apply(grad)


class Conj(Node):
    """Complex conjugate; the gradient of a real loss conjugates back."""

    def forward(self, x):
        return self.xp.conj(x)

    def backward(self, grad):
        return Conj().apply(as_complex(grad))


class Real(Node):
    """Real part of a complex array (a copy); the gradient is the real gradient as a complex array."""

    def forward(self, x):
        return self.xp.ascontiguousarray(x.real)

    def backward(self, grad):
        return ToComplex().apply(grad)


class ToComplex(Node):
    """A real array as complex with zero imaginary part; the gradient keeps the real part."""

    def forward(self, x):
        return x.astype(complex_of(x.dtype))

    def backward(self, grad):
        return real(grad)


def conj(t):
    return Conj().apply(t) if is_complex(t) else t


def real(t):
    return Real().apply(t) if is_complex(t) else t


def as_complex(t):
    return t if is_complex(t) else ToComplex().apply(t)

"""Complex numbers: real/imag/angle/conj, view_as_real/view_as_complex, complex/polar, and complex autograd.

Gradients follow PyTorch's convention: for a real loss L of z = x + iy the gradient stored is
dL/dx + i dL/dy. A holomorphic op f then has the backward ``grad * conj(f'(z))``; the real-valued
rules in elementwise.py compute ``grad * f'(z)``, so ``holomorphic(cls)`` wraps one as
``conj(rule(conj(grad)))``, which is the same thing and stays differentiable (conj is an op).
Non-holomorphic ops (abs, angle, sgn, real, imag, conj) have their own rules here.
"""
import builtins

from .. import dtypes
from ..autograd.node import Node
from ..tensor import Tensor

__all__ = ["real", "imag", "conj", "conj_physical", "conj_physical_", "resolve_conj", "resolve_neg", "angle", "sgn",
           "view_as_real", "view_as_complex", "view_as_real_copy", "view_as_complex_copy", "complex", "polar",
           "is_complex", "is_conj", "is_neg", "isreal", "adjoint"]


def _check_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): expected a Tensor, got {type(x).__name__}")


# -- the conjugate-Wirtinger wrappers used by elementwise.py ------------------------------------
_HOLOMORPHIC = {}


def holomorphic(cls):
    """``cls`` with its backward conjugated around: ``grad * conj(f'(z))`` for complex inputs."""
    wrapped = _HOLOMORPHIC.get(cls)
    if wrapped is None:
        def backward(self, grad):
            grads = cls.backward(self, conj(grad))
            if isinstance(grads, tuple):
                return tuple(None if g is None else conj(g) for g in grads)
            return None if grads is None else conj(grads)
        wrapped = type(cls.__name__, (cls,), {"__slots__": (), "backward": backward})
        _HOLOMORPHIC[cls] = wrapped
    return wrapped


def _not_for_complex(name):
    def refuse(input):
        raise NotImplementedError(f"{name} is not supported for complex inputs (dtype {input.dtype}); apply it "
                                  f"to .real, .imag or .abs() instead")
    return refuse


def complex_unary(cls, input):
    """Run the elementwise op ``cls`` on a complex tensor (called only when input's dtype is complex)."""
    special = _COMPLEX_UNARY.get(cls.__name__)
    if special is not None:
        return special(input)
    return holomorphic(cls)().apply(input)


# -- conj ----------------------------------------------------------------------------------------
class Conj(Node):
    def forward(self, x):
        return self.xp.conj(x)

    def backward(self, grad):
        return conj(grad)


def conj(input):
    """The complex conjugate (computed eagerly; ``is_conj()`` reports that it came from conj())."""
    _check_tensor(input, "conj")
    if input._data.dtype.kind != "c":
        return input  # as torch: conj of a real tensor is the tensor itself
    out = Conj().apply(input)
    out._extra = {"conj": True}
    return out


def conj_physical(input):
    _check_tensor(input, "conj_physical")
    if input._data.dtype.kind != "c":
        return input
    return Conj().apply(input)


def conj_physical_(input):
    """Conjugate in place (a no-op for real tensors, as torch)."""
    _check_tensor(input, "conj_physical_")
    if input._data.dtype.kind != "c":
        return input
    from .inplace import _inplace
    return _inplace(input, "conj_physical_", conj_physical)


def adjoint(input):
    """The conjugate transpose of the last two dimensions (``input.mH``)."""
    return input.mH


def view_as_real_copy(input):
    return view_as_real(input).clone()


def view_as_complex_copy(input):
    return view_as_complex(input).clone()


def is_neg(input):
    """False: ndgrad never keeps a lazily negated view (torch's neg bit), so there is nothing to resolve."""
    return False


def is_conj(input):
    return input._extra is not None and input._extra.get("conj", False)


def resolve_conj(input):
    """A tensor with the conjugation materialised: here it always is, so a copy only for conj() results."""
    return input.clone() if is_conj(input) else input


def resolve_neg(input):
    return input


def is_complex(input):
    return input._data.dtype.kind == "c"


def isreal(input):
    """True where the imaginary part is 0 (everywhere, for real tensors)."""
    xp = input.xp
    if input._data.dtype.kind != "c":
        return Tensor._wrap(xp.ones(input._data.shape, dtype=bool), input._device)
    return Tensor._wrap(xp.asarray(input._data.imag == 0), input._device)


# -- real / imag: views of the same memory ------------------------------------------------------------
class _PartView(Node):
    """The real or imaginary part as a view (NumPy's ``.real``/``.imag`` of a complex array share memory)."""
    __slots__ = ()

    def apply(self, x):
        out = Node.apply(self, x)
        out._base = x if x._base is None else x._base  # shares memory and the version counter
        return out


class Real(_PartView):
    def forward(self, x):
        return x.real

    def backward(self, grad):
        return grad  # a real gradient: the engine widens it to the input's complex dtype (imaginary part 0)


class Imag(_PartView):
    def forward(self, x):
        return x.imag

    def backward(self, grad):
        return grad * 1j


def real(input):
    _check_tensor(input, "real")
    if input._data.dtype.kind != "c":
        return input
    return Real().apply(input)


def imag(input):
    _check_tensor(input, "imag")
    if input._data.dtype.kind != "c":
        raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes (got {input.dtype}); "
                           f"convert first, e.g. x.to(ndgrad.complex64)")
    return Imag().apply(input)


def _set_part(which):
    def setter(self, value):
        if self._data.dtype.kind != "c":
            if which == "imag":
                raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes ({self.dtype})")
            self.copy_(value if isinstance(value, Tensor) else _scalar_like(value, self))
            return
        part = getattr(self, which)
        part.copy_(value if isinstance(value, Tensor) else _scalar_like(value, part))
    return setter


def _scalar_like(value, like):
    from ..creation import full_like
    return full_like(like, value)


# -- angle, sgn, abs ------------------------------------------------------------------------------------
class Angle(Node):
    def forward(self, x):
        if x.dtype.kind == "c":
            return self.xp.angle(x)
        if x.dtype.kind in "iub":
            x = x.astype(dtypes.get_default_dtype().np)
        # torch: pi for negative numbers, 0 otherwise, NaN stays NaN
        return self.xp.where(x < 0, x.dtype.type(3.141592653589793), x * 0)

    def backward(self, grad):
        z = self.input(0)
        if z._data.dtype.kind != "c":
            return grad * 0.0
        # d angle = (x dy - y dx) / |z|^2, so the gradient is grad * (-y + i x) / |z|^2 = grad * i z / |z|^2
        mag2 = (z * conj(z)).real
        return grad * (z * 1j) / mag2


def angle(input):
    _check_tensor(input, "angle")
    return Angle().apply(input)


class Sgn(Node):
    needs_output = True

    def forward(self, x):
        if x.dtype.kind != "c":
            return self.xp.sign(x)
        mag = self.xp.abs(x)
        safe = self.xp.where(mag == 0, 1, mag).astype(mag.dtype, copy=False)
        return self.xp.where(mag == 0, 0, x / safe).astype(x.dtype, copy=False)

    def backward(self, grad):
        z = self.input(0)
        if z._data.dtype.kind != "c":
            return grad * 0.0
        # s = z / |z|: ds/dz = 1 / (2|z|), ds/dconj(z) = -s^2 / (2|z|); 0 at z = 0 (torch's choice)
        s = self.output()
        mag = abs(z)
        safe = mag + (mag == 0).to(mag.dtype)
        g = (grad - conj(grad) * s * s) / (2.0 * safe)
        return g * (mag != 0).to(mag.dtype)


def sgn(input):
    _check_tensor(input, "sgn")
    if input._data.dtype.kind != "c":
        from .elementwise import sign
        return sign(input)
    return Sgn().apply(input)


class AbsComplex(Node):
    def forward(self, x):
        return self.xp.abs(x)

    def backward(self, grad):
        return grad * sgn(self.input(0))


def abs(input):
    return AbsComplex().apply(input)


class SigmoidComplex(Node):
    needs_output = True

    def forward(self, x):
        return 1 / (1 + self.xp.exp(-x))

    def backward(self, grad):
        out = self.output()
        return grad * conj(out * (1.0 - out))


# -- view_as_real / view_as_complex -------------------------------------------------------------------
class ViewAsReal(Node):
    is_view = True

    def forward(self, x):
        return x[..., None].view(x.real.dtype)

    def backward(self, grad):
        return view_as_complex(grad.contiguous())


class ViewAsComplex(Node):
    is_view = True

    def forward(self, x):
        if x.size == 0:
            return self.xp.empty(x.shape[:-1], dtype=dtypes.dtype_of(x).to_complex().np)
        return x.view(dtypes.dtype_of(x).to_complex().np)[..., 0]

    def backward(self, grad):
        return view_as_real(grad)


def view_as_real(input):
    """The complex tensor's memory seen as real numbers with a last dimension of 2 (real, imag)."""
    _check_tensor(input, "view_as_real")
    if input._data.dtype.kind != "c":
        raise RuntimeError(f"view_as_real is only supported for complex tensors (got {input.dtype})")
    return ViewAsReal().apply(input)


def view_as_complex(input):
    """A float tensor whose last dimension is 2 (real, imag) seen as complex numbers, sharing its memory."""
    _check_tensor(input, "view_as_complex")
    data = input._data
    if input.dtype not in (dtypes.float32, dtypes.float64):
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, but got a tensor "
                           f"of scalar type: {input.dtype}")
    if data.ndim == 0 or data.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: Tensor must have a last dimension of size 2 (got shape "
                           f"{tuple(data.shape)})")
    if data.size == 0:  # no memory to reinterpret: any strides will do
        return ViewAsComplex().apply(input)
    if data.strides[-1] != data.itemsize:
        raise RuntimeError("view_as_complex: Tensor must have a last dimension with stride 1; call .contiguous()")
    if any(s % (2 * data.itemsize) for s in data.strides[:-1]):
        raise RuntimeError("view_as_complex: Tensor must have a stride divisible by 2 for all but last dimension; "
                           "call .contiguous()")
    return ViewAsComplex().apply(input)


# -- building complex tensors -------------------------------------------------------------------------
def complex(real, imag, *, out=None):
    """``real + i * imag`` from two float tensors of the same dtype (float16 is refused: no complex32)."""
    _check_tensor(real, "complex")
    _check_tensor(imag, "complex")
    for t in (real, imag):
        if t.dtype not in (dtypes.float32, dtypes.float64):
            raise RuntimeError(f"complex: Expected both inputs to be Float or Double tensors but got "
                               f"{real.dtype} and {imag.dtype} (ndgrad has no complex32, so no Half)")
    if real.dtype is not imag.dtype:
        raise RuntimeError(f"complex: Expected object of scalar type {real.dtype} but got scalar type "
                           f"{imag.dtype} for second argument; convert one of them first")
    from .shape import broadcast_tensors, stack
    real, imag = broadcast_tensors(real, imag)
    # the two parts laid side by side and seen as complex: keeps signed zeros and infinities exactly
    # (real + imag * 1j would turn 0 * inf into NaN and lose -0.0)
    result = view_as_complex(stack([real, imag], -1))
    if out is not None:
        out.copy_(result)
        return out
    return result


def polar(abs, angle, *, out=None):
    """``abs * (cos(angle) + i sin(angle))``."""
    from .elementwise import cos, sin
    return complex(abs * cos(angle), abs * sin(angle), out=out)


def _refuse_sign(input):
    raise NotImplementedError(f"Unlike NumPy, ndgrad.sign (like torch.sign) is not intended to support complex "
                              f"numbers (dtype {input.dtype}). Please use ndgrad.sgn instead.")


_COMPLEX_UNARY = {
    "Abs": abs,
    "Sigmoid": lambda x: SigmoidComplex().apply(x),
    "Sign": _refuse_sign,
    "Relu": _not_for_complex("relu"), "Clamp": _not_for_complex("clamp"), "Floor": _not_for_complex("floor"),
    "Ceil": _not_for_complex("ceil"), "Trunc": _not_for_complex("trunc"), "Round": _not_for_complex("round"),
}


def _real_prop(self):
    return real(self)


def _imag_prop(self):
    return imag(self)


Tensor.real = property(_real_prop, _set_part("real"), doc="The real part (a view of complex tensors).")
Tensor.imag = property(_imag_prop, _set_part("imag"), doc="The imaginary part (a view; complex tensors only).")

METHODS = {
    "conj": conj, "conj_physical": conj_physical, "resolve_conj": resolve_conj, "resolve_neg": resolve_neg,
    "is_conj": is_conj, "angle": angle, "sgn": sgn, "is_complex": is_complex, "isreal": isreal,
    "conj_physical_": conj_physical_, "is_neg": is_neg,
    "cfloat": lambda self, memory_format=None: self.to(dtypes.complex64),
    "cdouble": lambda self, memory_format=None: self.to(dtypes.complex128),
    "__complex__": lambda self: builtins.complex(self.item()),
}

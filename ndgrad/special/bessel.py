"""Bessel and Airy functions. torch records no gradient for these: the result never requires grad."""
from .. import dtypes
from ..backend import np
from ..ops.math_extra import _quiet
from ..tensor import Tensor
from ._kernels import kernel


def _float_input(name, input):
    """The raw array to compute on and the dtype of the result (integers become the default float)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"special.{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}; wrap numbers with ndgrad.tensor(...)")
    x = input._data
    if x.dtype.kind == "c":
        raise NotImplementedError(f"special.{name} is not implemented for complex tensors (got {input.dtype})")
    out_dtype = dtypes.get_default_dtype().np if x.dtype.kind in "iub" else x.dtype
    # SciPy has no float16/bfloat16 kernels: compute those in float32 and round back
    wide = np.float32 if np.dtype(out_dtype).itemsize < 4 else out_dtype
    return x.astype(wide, copy=False), out_dtype


def _no_grad_unary(name, compute, doc):
    """A function of one tensor whose result has no gradient; ``compute(xp, x)`` on the raw array."""
    def op(input):
        x, out_dtype = _float_input(name, input)
        xp = input.xp
        with _quiet(xp):
            out = compute(xp, x)
        return Tensor._wrap(xp.asarray(out).astype(out_dtype, copy=False), input._device)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _scipy(name):
    return lambda xp, x: kernel(xp, name)(x)


def _spherical_j0(xp, x):
    safe = xp.where((x == 0) | xp.isinf(x), x.dtype.type(1), x)
    out = xp.where(x == 0, x.dtype.type(1), xp.sin(safe) / safe)
    return xp.where(xp.isinf(x), x.dtype.type(0), out)  # sin(x) / x -> 0 as |x| -> inf


airy_ai = _no_grad_unary("airy_ai", lambda xp, x: kernel(xp, "airy")(x)[0], "The Airy function Ai(x).")
bessel_j0 = _no_grad_unary("bessel_j0", _scipy("j0"), "Bessel function of the first kind, order 0.")
bessel_j1 = _no_grad_unary("bessel_j1", _scipy("j1"), "Bessel function of the first kind, order 1.")
bessel_y0 = _no_grad_unary("bessel_y0", _scipy("y0"), "Bessel function of the second kind, order 0.")
bessel_y1 = _no_grad_unary("bessel_y1", _scipy("y1"), "Bessel function of the second kind, order 1.")
modified_bessel_i0 = _no_grad_unary("modified_bessel_i0", _scipy("i0"),
                                    "Modified Bessel function of the first kind, order 0.")
modified_bessel_i1 = _no_grad_unary("modified_bessel_i1", _scipy("i1"),
                                    "Modified Bessel function of the first kind, order 1.")
modified_bessel_k0 = _no_grad_unary("modified_bessel_k0", _scipy("k0"),
                                    "Modified Bessel function of the second kind, order 0.")
modified_bessel_k1 = _no_grad_unary("modified_bessel_k1", _scipy("k1"),
                                    "Modified Bessel function of the second kind, order 1.")
scaled_modified_bessel_k0 = _no_grad_unary("scaled_modified_bessel_k0", _scipy("k0e"),
                                           "exp(x) * modified_bessel_k0(x).")
scaled_modified_bessel_k1 = _no_grad_unary("scaled_modified_bessel_k1", _scipy("k1e"),
                                           "exp(x) * modified_bessel_k1(x).")
spherical_bessel_j0 = _no_grad_unary("spherical_bessel_j0", _spherical_j0,
                                     "Spherical Bessel function of the first kind, order 0: sin(x) / x (1 at 0).")

"""``ndgrad.special``: every function of torch.special, on scipy.special (CPU) / cupyx.scipy.special (GPU).

Gradients exist exactly where torch has them: the error-function, gamma and logistic families are
differentiable (``zeta``, ``gammainc`` and ``gammaincc`` in their second argument only); the Bessel and
Airy functions and the orthogonal polynomials return results that do not require grad, as in torch.
"""
from ..ops import elementwise as _ew
from ..ops import math_extra as _mx
from .bessel import (airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1, modified_bessel_i0, modified_bessel_i1,
                     modified_bessel_k0, modified_bessel_k1, scaled_modified_bessel_k0, scaled_modified_bessel_k1,
                     spherical_bessel_j0)
from .differentiable import (entr, erfcx, gammainc, gammaincc, i0e, i1e, log_ndtr, multigammaln, ndtr, ndtri,
                             round, xlog1py, zeta)
from .polynomials import (chebyshev_polynomial_t, chebyshev_polynomial_u, chebyshev_polynomial_v,
                          chebyshev_polynomial_w, hermite_polynomial_h, hermite_polynomial_he,
                          laguerre_polynomial_l, legendre_polynomial_p, shifted_chebyshev_polynomial_t,
                          shifted_chebyshev_polynomial_u, shifted_chebyshev_polynomial_v,
                          shifted_chebyshev_polynomial_w)


def softmax(input, dim, *, dtype=None):
    return _ndgrad().softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _ndgrad().log_softmax(input, dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False):
    return _ndgrad().logsumexp(input, dim, keepdim)


def _ndgrad():
    import ndgrad  # the softmax family lives in ops files loaded with the package
    return ndgrad


erf, erfc, erfinv, i0, i1, logit, sinc, xlogy, polygamma = (
    _mx.erf, _mx.erfc, _mx.erfinv, _mx.i0, _mx.i1, _mx.logit, _mx.sinc, _mx.xlogy, _mx.polygamma)
digamma = psi = _mx.digamma
gammaln = _mx.lgamma
expit = _ew.sigmoid
exp2, expm1, log1p = _ew.exp2, _ew.expm1, _ew.log1p

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t", "chebyshev_polynomial_u",
    "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2",
    "expit", "expm1", "gammainc", "gammaincc", "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0",
    "i0e", "i1", "i1e", "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax",
    "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
    "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0",
    "xlog1py", "xlogy", "zeta",
]


def _with_out(fn):
    """torch's keyword-only ``out=``: the result is written into the given tensor (resized if needed)."""
    def op(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        from ..creation import _write_out
        return _write_out(result, out, f"special.{fn.__name__}")
    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = fn.__doc__
    op.__wrapped__ = fn
    return op


# every torch.special function takes out= except softmax and log_softmax
for _name in __all__:
    if _name not in ("softmax", "log_softmax"):
        globals()[_name] = _with_out(globals()[_name])
del _name
psi = digamma

"""Classical orthogonal polynomials p_n(x) of torch.special (Chebyshev, Hermite, Laguerre, Legendre).

``n`` is truncated to an integer per element (n < 0 or non-finite gives 0). Values come from each family's
three-term recurrence; where torch switches to a closed trigonometric form (Chebyshev, |x| < 1, large n) or to
exact endpoint values, so do we, so results agree to rounding. torch records no gradient for these.
"""
from ..ops.math_extra import _float_pair, _quiet
from ..tensor import Tensor


def _recurrence(xp, x, deg, p0, p1, step, todo):
    """Run p_{k+1} = step(k, x, p_{k-1}, p_k) and pick p_deg per element (only where ``todo``)."""
    out = xp.where(deg == 0, p0, p1)
    active = todo & (deg >= 2)
    if not bool(active.any()):
        return out
    top = int(deg[active].max())
    prev, cur = p0, p1
    for k in range(1, top):
        prev, cur = cur, step(k, x, prev, cur)
        out = xp.where(deg == k + 1, cur, out)
    return out


def _chebyshev_step(k, x, prev, cur):
    return (x + x) * cur - prev


def _chebyshev(kind):
    """T, U, V, W: the same recurrence, different p_1; closed forms through theta = acos(x)."""
    def evaluate(xp, x, deg):
        one = xp.ones_like(x)
        p1 = {"t": x, "u": x + x, "v": x + x - 1, "w": x + x + 1}[kind]
        odd = (deg % 2) == 1
        sign = xp.where(odd, -one, one)
        twice = (deg + deg + 1).astype(x.dtype)
        inside = xp.abs(x) < 1
        trig = inside & (deg > (6 if kind == "t" else 8))
        theta = xp.arccos(xp.where(inside, x, 0))
        n = deg.astype(x.dtype)
        if kind == "t":
            closed = xp.cos(n * theta)
            at_plus, at_minus = one, sign
        elif kind == "u":
            closed = xp.sin((n + 1) * theta) / xp.sin(theta)
            at_plus, at_minus = n + 1, sign * (n + 1)
        elif kind == "v":
            closed = xp.cos((n + 0.5) * theta) / xp.cos(theta / 2)
            at_plus, at_minus = one, sign * twice
        else:
            closed = xp.sin((n + 0.5) * theta) / xp.sin(theta / 2)
            at_plus, at_minus = twice, sign
        out = _recurrence(xp, x, deg, one, p1, _chebyshev_step, ~trig & (xp.abs(x) != 1))
        out = xp.where(trig, closed, out)
        return xp.where(x == 1, at_plus, xp.where(x == -1, at_minus, out))
    return evaluate


def _hermite_h(xp, x, deg):
    return _recurrence(xp, x, deg, xp.ones_like(x), x + x, lambda k, x, p, c: (x + x) * c - (k + k) * p,
                       deg >= 0)


def _hermite_he(xp, x, deg):
    return _recurrence(xp, x, deg, xp.ones_like(x), x, lambda k, x, p, c: x * c - k * p, deg >= 0)


def _laguerre(xp, x, deg):
    out = _recurrence(xp, x, deg, xp.ones_like(x), 1 - x,
                      lambda k, x, p, c: ((k + k + 1 - x) * c - k * p) / (k + 1), x != 0)
    return xp.where(x == 0, 1, out)


def _legendre(xp, x, deg):
    out = _recurrence(xp, x, deg, xp.ones_like(x), x,
                      lambda k, x, p, c: ((k + k + 1) * x * c - k * p) / (k + 1), xp.abs(x) != 1)
    sign = xp.where((deg % 2) == 1, -1.0, 1.0)
    return xp.where(x == 1, 1, xp.where(x == -1, sign, out))


def _polynomial(name, evaluate, shifted=False):
    def op(input, n):
        if not isinstance(input, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"special.{name}(): expected `input` or `n` to be a Tensor, got "
                            f"{type(input).__name__} and {type(n).__name__}")
        a, b, cast = _float_pair(input, n, name)
        if a._device != b._device:
            raise RuntimeError(f"special.{name}: expected both tensors on the same device, got {a._device} and "
                               f"{b._device}; move them with .to(device) first")
        xp = a.xp
        x, degree = a._data, b._data
        if cast is not None:
            x, degree = x.astype(cast, copy=False), degree.astype(cast, copy=False)
        out_dtype = x.dtype
        if x.dtype.kind == "c":
            raise NotImplementedError(f"special.{name} is not implemented for complex tensors (got {a.dtype})")
        if out_dtype.itemsize < 4:  # float16/bfloat16: compute in float32 and round back
            x, degree = x.astype(xp.float32), degree.astype(xp.float32)
        x, degree = xp.broadcast_arrays(x, degree)
        # n is truncated toward zero; NaN / inf degrees count as negative, whose value is 0
        deg = xp.where(xp.isfinite(degree), xp.trunc(xp.where(xp.isfinite(degree), degree, -1)), -1)
        deg = deg.astype(xp.int64)
        with _quiet(xp):
            y = (x + x - 1) if shifted else x
            out = evaluate(xp, y, deg)
        out = xp.where(deg < 0, 0, out).astype(out_dtype, copy=False)
        return Tensor._wrap(out, a._device)
    op.__name__ = op.__qualname__ = name
    family = name.replace("shifted_", "shifted ").replace("_polynomial_", " polynomial ").replace("_", " ")
    op.__doc__ = f"The {family} of degree ``n`` at ``input`` (not differentiable, as in torch)."
    return op


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", _chebyshev("t"))
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", _chebyshev("u"))
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", _chebyshev("v"))
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", _chebyshev("w"))
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", _chebyshev("t"), shifted=True)
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", _chebyshev("u"), shifted=True)
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", _chebyshev("v"), shifted=True)
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", _chebyshev("w"), shifted=True)
hermite_polynomial_h = _polynomial("hermite_polynomial_h", _hermite_h)
hermite_polynomial_he = _polynomial("hermite_polynomial_he", _hermite_he)
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", _laguerre)
legendre_polynomial_p = _polynomial("legendre_polynomial_p", _legendre)

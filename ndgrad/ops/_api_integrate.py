"""Numerical integration and differentiation of sampled values: trapezoid, cumulative_trapezoid, gradient.

All three are compositions of differentiable Tensor ops (narrow, diff, sums), so their gradients,
and gradients of gradients, come for free.
"""
from .. import dtypes
from ..tensor import Tensor
from .shape import narrow


def _as_float(y):
    return y if y.dtype.is_floating_point else y.to(dtypes.get_default_dtype())


def _dim(dim, ndim, op):
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % max(ndim, 1)


def _spacings(y, x, dx, dim, op):
    """The distances between neighbouring samples along ``dim``: a number, or a tensor that broadcasts."""
    if x is not None and dx is not None:
        raise TypeError(f"{op}(): pass the sample points x or the constant spacing dx, not both")
    if x is None:
        return 1 if dx is None else dx
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): x must be a Tensor of sample points (for a constant spacing use dx=), "
                        f"got {type(x).__name__}")
    if x.ndim == 1:
        if x.shape[0] != y.shape[dim]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point: x has {x.shape[0]} "
                               f"values, y has {y.shape[dim]} along dim {dim}")
        shape = [1] * y.ndim
        shape[dim] = x.shape[0] - 1
        return _as_float(x).diff().reshape(shape) if x.shape[0] > 0 else None
    x = _as_float(x)
    return x.diff(dim=dim - y.ndim) if x.shape[dim - y.ndim] > 0 else None


def _check_y(y, op):
    if not isinstance(y, Tensor):
        raise TypeError(f"{op}(): y must be a Tensor, got {type(y).__name__}")
    if y.ndim == 0:
        raise IndexError(f"{op}: y is 0-dimensional; it needs at least one dimension of samples")


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of ``y`` along ``dim`` by the trapezoidal rule (samples at ``x``, or ``dx`` apart)."""
    _check_y(y, "trapezoid")
    dim = _dim(dim, y.ndim, "trapezoid")
    y = _as_float(y)
    n = y.shape[dim]
    if n == 0:  # nothing to integrate: zeros, outside the graph (as torch)
        from ..creation import zeros
        return zeros(y.shape[:dim] + y.shape[dim + 1:], dtype=y.dtype, device=y.device)
    spacing = _spacings(y, x, dx, dim, "trapezoid")
    pair_sums = narrow(y, dim, 1, n - 1) + narrow(y, dim, 0, n - 1)
    return (pair_sums * spacing).sum(dim) / 2


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of :func:`trapezoid` (the older name)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoidal integrals of ``y`` along ``dim``: one fewer element than ``y`` there."""
    _check_y(y, "cumulative_trapezoid")
    dim = _dim(dim, y.ndim, "cumulative_trapezoid")
    y = _as_float(y)
    n = y.shape[dim]
    if n <= 1:
        return narrow(y, dim, 0, 0) * 1
    spacing = _spacings(y, x, dx, dim, "cumulative_trapezoid")
    pair_sums = narrow(y, dim, 1, n - 1) + narrow(y, dim, 0, n - 1)
    return (pair_sums * spacing / 2).cumsum(dim)


# -- gradient -------------------------------------------------------------------------------------------

def _gradient_dims(input, dim):
    if dim is None:
        return list(range(input.ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    out = [_dim(d, input.ndim, "gradient") for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"gradient: dim {dims} appears multiple times in the list of dims")
    return out


def _gradient_spacing(spacing, dims, op="gradient"):
    """One spacing per differentiated dim: a number (uniform) or a 1-D coordinate tensor."""
    if isinstance(spacing, (int, float)) or (isinstance(spacing, Tensor) and spacing.ndim == 0):
        return [spacing.item() if isinstance(spacing, Tensor) else spacing] * len(dims)
    spacing = list(spacing)
    if len(spacing) == 1 and len(dims) > 1 and not isinstance(spacing[0], Tensor):
        return spacing * len(dims)
    if len(spacing) != len(dims):
        raise RuntimeError(f"{op}: expected spacing to be unspecified, a scalar, or a list of length equal "
                           f"to the number of dims ({len(dims)}), but got a list of length {len(spacing)}")
    return [s.item() if isinstance(s, Tensor) and s.ndim == 0 else s for s in spacing]


def _shaped(t, dim, ndim):
    shape = [1] * ndim
    shape[dim] = t.shape[0]
    return t.reshape(shape)


def _gradient_along(f, dim, h, edge_order):
    """Second-order central differences inside, one-sided differences of ``edge_order`` at both ends."""
    n = f.shape[dim]
    part = lambda start, length: narrow(f, dim, start, length)  # noqa: E731
    if isinstance(h, Tensor):  # sample coordinates: spacings may differ
        d = _as_float(h).diff()
        dx1, dx2 = _shaped(d[:-1], dim, f.ndim), _shaped(d[1:], dim, f.ndim)
        first, last = d[0], d[-1]
    else:
        dx1 = dx2 = first = last = h
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    interior = a * part(0, n - 2) + b * part(1, n - 2) + c * part(2, n - 2)
    if edge_order == 1:
        left = (part(1, 1) - part(0, 1)) / first
        right = (part(n - 1, 1) - part(n - 2, 1)) / last
    else:
        if isinstance(h, Tensor):
            l1, l2, r1, r2 = d[0], d[1], d[-2], d[-1]
        else:
            l1 = l2 = r1 = r2 = h
        left = (-(2 * l1 + l2) / (l1 * (l1 + l2)) * part(0, 1) + (l1 + l2) / (l1 * l2) * part(1, 1)
                - l1 / (l2 * (l1 + l2)) * part(2, 1))
        right = (r2 / (r1 * (r1 + r2)) * part(n - 3, 1) - (r2 + r1) / (r1 * r2) * part(n - 2, 1)
                 + (2 * r2 + r1) / (r2 * (r1 + r2)) * part(n - 1, 1))
    from .shape import cat
    return cat([left, interior, right], dim)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimate the derivative of sampled values along each of ``dims``: a tuple with one tensor per dim."""
    if edge_order not in (1, 2):
        raise RuntimeError(f"gradient only supports edge_order=1 and edge_order=2, got {edge_order}")
    dims = _gradient_dims(input, dim)
    spacings = _gradient_spacing(spacing, dims)
    f = _as_float(input)
    results = []
    for d, h in zip(dims, spacings):
        if f.shape[d] < edge_order + 1:
            raise RuntimeError(f"gradient expected each dimension size to be at least edge_order+1 "
                               f"(dim {d} has size {f.shape[d]}, edge_order={edge_order})")
        if isinstance(h, Tensor) and (h.ndim != 1 or h.shape[0] != f.shape[d]):
            raise RuntimeError(f"gradient expected each tensor to be on the same device and the coordinates "
                               f"for dim {d} to have {f.shape[d]} values, got shape {tuple(h.shape)}")
        results.append(_gradient_along(f, d, h, edge_order))
    return tuple(results)

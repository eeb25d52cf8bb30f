"""Reductions: sum, mean, var, prod, max/min, logsumexp, cumsum, norm; and their inverses for broadcasting."""
import builtins
import math
from collections import namedtuple

from .. import dtypes
from ..backend import host_sync
from ..autograd.node import Node
from ..autograd.grad_mode import state as _grad_state
from ..tensor import Tensor, _check_dim, _new_tensor
from . import elementwise as ew
from . import shape as shape_ops

_sum, _int = builtins.sum, builtins.int
values_indices = namedtuple("values_indices", ["values", "indices"])


# -- argument handling ----------------------------------------------------------------------------
def _resolve(dim, axis, keepdim, keepdims):
    """PyTorch's dim/keepdim and the array API's axis/keepdims are the same arguments."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass either dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def _check_dim_type(d, op):
    # a float, string or tensor of floats as a dim is a bug in the caller: say so instead of failing inside
    if isinstance(d, bool) or not (isinstance(d, _int) or hasattr(d, "__index__")):
        raise TypeError(f"{op}(): dim must be an int or a tuple of ints, got {type(d).__name__} {d!r}")
    return d


def normalize_dims(dim, ndim, op):
    """dim as a sorted tuple of non-negative axes (None = every axis)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = tuple(_check_dim_type(d, op) for d in dim)
    else:
        dims = (_check_dim_type(dim, op),)
    if len(dims) == 0:
        return tuple(range(ndim))
    out = tuple(sorted({_check_dim(_int(d), ndim, op) for d in dims}))
    if len(out) != len(dims):
        raise RuntimeError(f"{op}: dim {dims} names a dimension more than once")
    return out if ndim else ()


def _keep_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _reduced_shape(shape, dims, keepdim):
    if keepdim:
        return _keep_shape(shape, dims)
    return tuple(s for i, s in enumerate(shape) if i not in dims)


# -- 16-bit floats: accumulate in float32, return the input's dtype (as PyTorch does) ----------------
def is_half(array):
    """True for float16 and bfloat16 arrays (ml_dtypes' bfloat16 has kind 'V')."""
    return array.dtype.itemsize == 2 and array.dtype.kind in "fV"


def in_float32(fn, input, *args, **kwargs):
    """``fn`` computed on ``input`` upcast to float32, each tensor result cast back to the input's dtype.

    float16 overflows at 65504 and keeps 11 bits: a sum, variance or norm of ordinary values
    accumulated in it is inf or wrong, so reductions run in float32 and only the result is rounded.
    """
    out = fn(ew.cast(input, dtypes.float32), *args, **kwargs)
    if isinstance(out, tuple):
        return type(out)(*(ew.cast(o, input.dtype) for o in out)) if hasattr(out, "_fields") \
            else tuple(ew.cast(o, input.dtype) for o in out)
    return ew.cast(out, input.dtype)


# -- sum, and sum_to_size (the engine undoes broadcasting with it) -----------------------------------
class Sum(Node):
    __slots__ = ("dims", "keepdim", "dtype")

    def __init__(self, dims, keepdim, dtype=None):
        self.dims, self.keepdim, self.dtype = dims, keepdim, dtype

    def forward(self, x):
        if self.dtype is None and is_half(x):  # accumulate in float32, round once
            return self.xp.sum(x, axis=self.dims, keepdims=self.keepdim, dtype=dtypes.float32.np).astype(x.dtype)
        dt = self.dtype.np if self.dtype is not None else (
            dtypes.int64.np if x.dtype.kind in "iub" else None)
        return self.xp.sum(x, axis=self.dims, keepdims=self.keepdim, dtype=dt)  # Node.apply makes scalars arrays

    def backward(self, grad):
        shape = self.inputs[0]._data.shape
        keep = _keep_shape(shape, self.dims)
        if not _grad_state.enabled:  # first order: a broadcast view of the raw gradient
            return _new_tensor(self.xp.broadcast_to(grad._data.reshape(keep), shape), grad._device)
        # the engine sums Expand's gradient back over the broadcast dims: Sum's rule, one level up
        return shape_ops.broadcast_to(shape_ops.reshape(grad, keep), shape)


def broadcast_dims(src, shape):
    """The axes of ``src`` to sum (keeping dims) so that it reshapes to ``shape``."""
    lead = len(src) - len(shape)
    if lead < 0 or builtins.any(s != 1 and s != src[lead + i] for i, s in enumerate(shape)):
        raise ValueError(f"sum_to_size: shape {tuple(src)} cannot be summed to {tuple(shape)}")
    return tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and src[lead + i] != 1)


def sum_to_size(x, *size):
    """Sum broadcast dimensions away so that ``x`` gets ``size`` (the inverse of broadcasting)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    src = x._data.shape
    if src == shape:
        return x
    dims = broadcast_dims(src, shape)
    out = Sum(dims, True).apply(x) if dims else x
    return shape_ops.reshape(out, shape) if out._data.shape != shape else out


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    dims = normalize_dims(dim, input.ndim, "sum")
    return Sum(dims, keepdim, dtypes.to_dtype(dtype)).apply(input)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    if not (input.dtype.is_floating_point or input.dtype.is_complex) and dtype is None:
        raise RuntimeError(f"mean: expected a floating-point input, got {input.dtype}; "
                           f"use x.float().mean() or pass dtype=ndgrad.float32")
    dims = normalize_dims(dim, input.ndim, "mean")
    if dtype is None and is_half(input._data):
        return in_float32(mean, input, dims, keepdim)
    n = _count(input.shape, dims)
    total = Sum(dims, keepdim, dtypes.to_dtype(dtype)).apply(input)
    return total / n if n else total * float("nan")


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    if isinstance(dim, bool):  # var(x, False): the old positional unbiased argument
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = normalize_dims(dim, input.ndim, "var")
    if is_half(input._data):
        return in_float32(var, input, dims, keepdim=keepdim, correction=correction)
    if input.dtype.is_complex:  # torch: the mean of |x - mean|^2, a real result
        centered = input - mean(input, dims, keepdim=True)
        dof = _count(input.shape, dims) - correction
        return sum((centered * centered.conj()).real, dims, keepdim) / (dof if dof > 0 else float("nan"))
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"var: expected a floating-point input, got {input.dtype}; use x.float().var()")
    return Var(dims, keepdim, correction).apply(input)


class Var(Node):
    """Variance over dims with PyTorch's gradient 2 (x - mean) / (n - correction).

    Composed of mean and square, the gradient would also flow through the mean, a path that is zero
    in exact arithmetic but inf - inf = nan as soon as one input is infinite.
    """
    __slots__ = ("dims", "keepdim", "correction")

    def __init__(self, dims, keepdim, correction):
        self.dims, self.keepdim, self.correction = dims, keepdim, correction

    def forward(self, x):
        xp = self.xp
        dof = _count(x.shape, self.dims) - self.correction
        centered = x - x.mean(axis=self.dims, keepdims=True) if x.size else x  # mean of nothing: no warning
        ss = xp.sum(centered * centered, axis=self.dims, keepdims=self.keepdim)
        return xp.asarray(ss / dof if dof > 0 else ss * float("nan")).astype(x.dtype, copy=False)

    def backward(self, grad):
        x = self.input(0)
        if not self.keepdim:
            grad = grad.reshape(_keep_shape(x.shape, self.dims))
        dof = _count(x.shape, self.dims) - self.correction
        m = mean(x, self.dims, keepdim=True)
        if dof <= 0:  # PyTorch: 2 / 0 = inf times (x - mean): nan where x equals the mean, else inf
            return grad * ew.where(x == m.detach(), float("nan"), float("inf"))
        return grad * ((x - m) * (2.0 / dof))


class StdFromVar(Node):
    """sqrt of a variance, with gradient 0 (not inf * 0 = nan) where the standard deviation is 0."""
    __slots__ = ()
    needs_output = True

    def forward(self, v):
        return self.xp.sqrt(v)

    def backward(self, grad):
        out = self.output()
        return ew.where(out == 0, 0.0, grad / (2.0 * ew.where(out == 0, 1.0, out)))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    normalize_dims(dim if axis is None else axis, input.ndim, "std")  # errors name std, not var
    if is_half(input._data):  # the variance of 16-bit values can overflow where its root does not
        return in_float32(std, input, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    return StdFromVar().apply(var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
                                  keepdims=keepdims))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


# -- prod: exact with zeros --------------------------------------------------------------------------
class ProdOthers(Node):
    """For each element along the last axis, the product of all the *other* elements.

    Exclusive cumulative products from both sides give it without dividing, so
    zeros (one or many) are handled exactly. It is prod's gradient, and its own
    gradient is built from itself one dimension up, so prod is differentiable
    to any order.
    """

    def forward(self, x):
        xp = self.xp
        if x.shape[-1] == 0:  # nothing to multiply; the concatenation below would add a column
            return xp.empty_like(x)
        ones = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(x, -1)[..., :-1]], axis=-1), axis=-1), -1)
        return left * right

    def backward(self, grad):
        # d po_i / d x_k = prod_{j not in {i, k}} x_j: ProdOthers of rows where x_i was replaced by 1.
        x = self.input(0)
        n = x.shape[-1]
        from ..creation import eye
        diag = eye(n, dtype=dtypes.bool_, device=x.device)
        rows = ew.where(diag, 1.0, x.unsqueeze(-2).expand(*x.shape[:-1], n, n))
        pairwise = ProdOthers().apply(rows)
        return sum(ew.where(diag, 0.0, grad.unsqueeze(-1) * pairwise), -2)


def prod(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    if dtype is not None:
        input = ew.cast(input, dtype)
    elif input._data.dtype.kind in "iub":
        input = ew.cast(input, dtypes.int64)
    if not input.requires_grad:
        xp = input.xp
        axes = None if dim is None else normalize_dims(dim, input.ndim, "prod")
        out = xp.prod(input._data, axis=axes, keepdims=keepdim and axes is not None)
        return Tensor._wrap(xp.asarray(out), input._device)
    if input.ndim == 0:  # the product of one number is itself, gradient 1 (also at inf / NaN, as PyTorch)
        if dim is not None:
            _check_dim(dim, 0, "prod")
        return input.clone()
    prod_node = Prod
    if input._data.dtype.kind == "c":  # conjugate-Wirtinger rule: grad * conj(product of the others)
        from .complex_ops import holomorphic
        prod_node = holomorphic(Prod)
    if dim is None:
        return prod_node(0, False).apply(input.reshape(-1))
    dim = _check_dim(dim, input.ndim, "prod")
    return prod_node(dim, keepdim).apply(input)


class Prod(Node):
    """The product along one dim; its gradient is grad * (product of the other elements).

    As PyTorch: without any zero in the input that product is result / x (so inf and NaN propagate
    the way PyTorch's do); with zeros, exclusive products from both sides (exact, no division).
    """
    __slots__ = ("dim", "keepdim")
    needs_output = True

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        return self.xp.prod(x, axis=self.dim, keepdims=self.keepdim)

    def backward(self, grad):
        x = self.input(0)
        # out / x where no input is 0; on a GPU the exact product of the others always runs (no read)
        if not host_sync.on_device(x._data) and not bool((x._data == 0).any()):
            out = self.output()
            g, out = (grad, out) if self.keepdim else (grad.unsqueeze(self.dim), out.unsqueeze(self.dim))
            return g * (out / x)
        moved = x.movedim(self.dim, -1)
        others = ProdOthers().apply(moved).movedim(-1, self.dim)
        g = grad if self.keepdim else grad.unsqueeze(self.dim)
        return g * others


# -- max / min ---------------------------------------------------------------------------------------
class Amax(Node):
    """amax/amin over dims; the gradient is split evenly among tied extremes (PyTorch's rule).

    ``nan_ties``: max()/min() without a dim count NaN inputs as the extreme when the result is NaN
    (PyTorch's rule for the full reduction); amax/amin compare with == and so give NaN gradients.
    """
    __slots__ = ("dims", "keepdim", "is_min", "nan_ties")
    needs_output = True

    def __init__(self, dims, keepdim, is_min=False, nan_ties=False):
        self.dims, self.keepdim, self.is_min, self.nan_ties = dims, keepdim, is_min, nan_ties

    def forward(self, x):
        if x.size == 0 and builtins.any(x.shape[d] == 0 for d in self.dims):
            raise IndexError(f"{'amin' if self.is_min else 'amax'}: cannot reduce over a zero-size dimension "
                             f"(shape {x.shape}, dims {self.dims}); there is no identity for max/min")
        f = self.xp.amin if self.is_min else self.xp.amax
        return f(x, axis=self.dims, keepdims=self.keepdim)

    def backward(self, grad):
        x = self.input(0)
        shape = x.shape
        keep = _keep_shape(shape, self.dims)
        out = self.output()
        if not self.keepdim:
            out, grad = out.reshape(keep), grad.reshape(keep)
        mask = (x == out.detach())
        if self.nan_ties:  # max()/min(): PyTorch fills the gradient in (a NaN one stays off the others)
            mask = mask | (ew.isnan(x) & ew.isnan(out.detach()))
            count = sum(mask.to(grad.dtype), self.dims, keepdim=True)
            return ew.where(mask, grad / count, 0.0)
        mask_f = mask.to(grad.dtype)
        count = sum(mask_f, self.dims, keepdim=True)
        return mask_f * (grad / count)


class MaxDim(Node):
    """max/min along one dim with indices; the gradient goes to the returned index only."""
    __slots__ = ("dim", "keepdim", "is_min", "indices")

    def __init__(self, dim, keepdim, is_min):
        self.dim, self.keepdim, self.is_min = dim, keepdim, is_min

    def forward(self, x):
        xp = self.xp
        if x.shape[self.dim] == 0:
            raise IndexError(f"{'min' if self.is_min else 'max'}(dim={self.dim}): the dimension has size 0 "
                             f"(shape {x.shape}); there is no extreme to return")
        arg = (xp.argmin if self.is_min else xp.argmax)(x, axis=self.dim)
        idx = xp.expand_dims(arg, self.dim)
        self.indices = arg if not self.keepdim else idx
        values = xp.take_along_axis(x, idx, axis=self.dim)
        return values if self.keepdim else xp.squeeze(values, self.dim)

    def backward(self, grad):
        x = self.input(0)
        xp = self.xp
        idx = self.indices if self.keepdim else xp.expand_dims(self.indices, self.dim)
        positions = xp.arange(x.shape[self.dim]).reshape((-1,) + (1,) * (x.ndim - 1 - self.dim))
        mask = Tensor._wrap(positions == idx, x.device)
        g = grad if self.keepdim else grad.unsqueeze(self.dim)
        return ew.where(mask, g, 0.0)  # a select, as PyTorch's scatter: NaN grads stay at their index


def _extreme(input, dim, keepdim, is_min, name):
    if dim is None:
        return Amax(tuple(range(input.ndim)), False, is_min, nan_ties=True).apply(input)
    d = _check_dim(dim, input.ndim, name)
    if input.ndim == 0:
        return values_indices(input, Tensor._wrap(input.xp.zeros((), dtype=dtypes.int64.np), input.device))
    op = MaxDim(d, keepdim, is_min)
    values = op.apply(input)
    indices = Tensor._wrap(op.indices.astype(dtypes.int64.np, copy=False), input.device)
    return values_indices(values, indices)


def _no_complex(input, name):
    if input._data.dtype.kind == "c":
        raise RuntimeError(f"{name}(): does not support complex input (dtype {input.dtype}): complex numbers "
                           f"have no order; reduce .abs() or .real instead")


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    _no_complex(input, "max")
    if isinstance(dim, Tensor):
        return ew.maximum(input, dim)
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    return _extreme(input, dim, keepdim, False, "max")


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    _no_complex(input, "min")
    if isinstance(dim, Tensor):
        return ew.minimum(input, dim)
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    return _extreme(input, dim, keepdim, True, "min")


def amax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    _no_complex(input, "amax")
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    return Amax(normalize_dims(dim, input.ndim, "amax"), keepdim, False).apply(input)


def amin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    _no_complex(input, "amin")
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    return Amax(normalize_dims(dim, input.ndim, "amin"), keepdim, True).apply(input)


def _arg(input, dim, keepdim, fn, name):
    _no_complex(input, name)
    xp = input.xp
    if input._data.size == 0:
        if dim is None:
            raise IndexError(f"{name}(): expected reduction dim to be specified for an input with no elements "
                             f"(shape {tuple(input.shape)})")
        d = _check_dim(dim, input.ndim, name)
        if input.ndim and input.shape[d] == 0:
            raise IndexError(f"{name}(): expected reduction dim {d} to have non-zero size "
                             f"(input shape {tuple(input.shape)}); there is no position to return")
    if dim is None:
        out = fn(input._data.reshape(-1))
        out = xp.asarray(out).reshape((1,) * input.ndim if keepdim else ())
    else:
        d = _check_dim(dim, input.ndim, name)
        if input.ndim == 0:
            out = xp.zeros((), dtype=xp.int64)
        else:
            out = fn(input._data, axis=d)
            if keepdim:
                out = xp.expand_dims(out, d)
    return Tensor._wrap(xp.asarray(out).astype(dtypes.int64.np, copy=False), input.device)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    return _arg(input, dim, keepdim, input.xp.argmax, "argmax")


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    return _arg(input, dim, keepdim, input.xp.argmin, "argmin")


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    axes = None if dim is None else normalize_dims(dim, input.ndim, "all")
    out = input.xp.all(input._data, axis=axes, keepdims=keepdim if axes is not None else False)
    return Tensor._wrap(input.xp.asarray(out), input.device)


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    axes = None if dim is None else normalize_dims(dim, input.ndim, "any")
    out = input.xp.any(input._data, axis=axes, keepdims=keepdim if axes is not None else False)
    return Tensor._wrap(input.xp.asarray(out), input.device)


def count_nonzero(input, dim=None):
    axes = None if dim is None else normalize_dims(dim, input.ndim, "count_nonzero")
    out = input.xp.count_nonzero(input._data, axis=axes)
    return Tensor._wrap(input.xp.asarray(out).astype(dtypes.int64.np), input.device)


# -- logsumexp, cumsum, norm -------------------------------------------------------------------------
def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, axis, keepdim, keepdims)
    dims = normalize_dims(dim, input.ndim, "logsumexp")
    if is_half(input._data):
        return in_float32(logsumexp, input, dims, keepdim)
    if not input.dtype.is_floating_point:
        input = ew.cast(input, dtypes.get_default_dtype())
    # Shift by the (constant) maximum so exp never overflows; a -inf/inf max is replaced by 0.
    m = Tensor._wrap(input.xp.amax(input._data, axis=dims, keepdims=True), input.device) if input.numel() \
        else Tensor._wrap(input.xp.zeros(_keep_shape(input.shape, dims), input._data.dtype), input.device)
    m = ew.where(ew.isfinite(m), m, 0.0)
    out = ew.log(sum(ew.exp(input - m), dims, keepdim=True)) + m
    return out if keepdim else out.reshape(_reduced_shape(input.shape, dims, False))


class Cumsum(Node):
    __slots__ = ("dim", "reverse")

    def __init__(self, dim, reverse=False):
        self.dim, self.reverse = dim, reverse

    def forward(self, x):
        xp = self.xp
        if x.dtype.kind in "ub" or (x.dtype.kind == "i" and x.dtype.itemsize < 8):
            x = x.astype(dtypes.int64.np)
        if self.reverse:
            return xp.flip(xp.cumsum(xp.flip(x, self.dim), axis=self.dim), self.dim)
        return xp.cumsum(x, axis=self.dim)

    def backward(self, grad):
        return Cumsum(self.dim, not self.reverse).apply(grad)


def cumsum(input, dim, *, dtype=None, axis=None):
    if axis is not None:
        dim = axis
    if dtype is not None:
        input = ew.cast(input, dtype)
    if input.ndim == 0:
        return input * 1
    return Cumsum(_check_dim(dim, input.ndim, "cumsum")).apply(input)


def cumprod(input, dim, *, dtype=None):
    if dtype is not None:
        input = ew.cast(input, dtype)
    d = _check_dim(dim, input.ndim, "cumprod")
    if not input.requires_grad:
        return Tensor._wrap(input.xp.cumprod(input._data, axis=d), input.device)
    # exp(cumsum(log)) loses exactness at zeros; build it from prefix products instead (n small in practice)
    parts = [input.narrow(d, 0, 1)]
    for i in range(1, input.shape[d]):
        parts.append(parts[-1] * input.narrow(d, i, 1))
    from .shape import cat
    return cat(parts, d)


class Norm2(Node):
    """The Euclidean norm; its gradient x / ||x|| is 0 (not nan) at x = 0, like PyTorch."""
    __slots__ = ("dims", "keepdim")
    needs_output = True

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        return self.xp.sqrt(self.xp.sum(x * x, axis=self.dims, keepdims=self.keepdim))

    def backward(self, grad):
        x = self.input(0)
        out = self.output()
        if not self.keepdim:
            keep = _keep_shape(x.shape, self.dims)
            out, grad = out.reshape(keep), grad.reshape(keep)
        scale = ew.where(out == 0, 0.0, grad / ew.where(out == 0, 1.0, out))
        return x * scale


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = ew.cast(input, dtype)
    if input.dtype.is_complex:  # the norm of complex numbers is the norm of their magnitudes
        return norm(ew.abs(input), p, dim, keepdim)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"norm: expected a floating-point input, got {input.dtype}")
    dims = normalize_dims(dim, input.ndim, "norm")
    if is_half(input._data):
        return in_float32(norm, input, p, dims, keepdim)
    if p in ("fro", 2, 2.0, None):
        return Norm2(dims, keepdim).apply(input)
    if p == "nuc":
        raise NotImplementedError("norm: the nuclear norm needs an SVD, which ndgrad does not provide")
    a = ew.abs(input)
    if p in (float("inf"), "inf"):
        return amax(a, dims, keepdim)
    if p in (float("-inf"), "-inf"):
        return amin(a, dims, keepdim)
    if p == 0:
        return sum(ew.ne(input, 0).to(input.dtype), dims, keepdim)
    if p == 1:
        return sum(a, dims, keepdim)
    total = sum(ew.pow(a, p), dims, keepdim)
    # s ** (1/p) has an infinite slope at s = 0; PyTorch defines the norm's gradient there as 0
    zero = ew.eq(total, 0)
    return ew.where(zero, 0.0, ew.pow(ew.where(zero, 1.0, total), 1.0 / p))


def dist(input, other, p=2):
    return norm(input - other, p)


__all__ = ["sum", "mean", "var", "std", "var_mean", "std_mean", "prod", "max", "min", "amax", "amin",
           "argmax", "argmin", "all", "any", "count_nonzero", "logsumexp", "cumsum", "cumprod", "norm", "dist",
           "sum_to_size"]

METHODS = {name: globals()[name] for name in __all__ if name not in ("dist",)}
METHODS["dist"] = dist

"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits, draws, lazy properties."""
from numbers import Number

import ndgrad
from ndgrad.backend import np
from ndgrad.tensor import Tensor, Size

__all__ = ["broadcast_all", "probs_to_logits", "logits_to_probs", "clamp_probs", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]


def broadcast_all(*values):
    """Tensors of one broadcast shape; Python numbers take the dtype/device of the first tensor (or the default)."""
    if not all(isinstance(v, (Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number or ndgrad.Tensor, got "
                         + ", ".join(type(v).__name__ for v in values))
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        dtype, device = ndgrad.get_default_dtype(), None
    else:
        dtype, device = like.dtype, like.device
    tensors = [v if isinstance(v, Tensor) else ndgrad.tensor(v, dtype=dtype, device=device) for v in values]
    return tuple(ndgrad.broadcast_tensors(*tensors))


def finfo(dtype):
    """numpy's finfo of an ndgrad dtype (eps, tiny, min, max)."""
    return np.finfo(dtype.np)


def clamp_probs(probs):
    """Probabilities clamped to [eps, 1 - eps] so their logs stay finite."""
    eps = float(finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    clamped = clamp_probs(probs)
    if is_binary:
        return ndgrad.log(clamped) - ndgrad.log1p(-clamped)
    return ndgrad.log(clamped)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return ndgrad.sigmoid(logits)
    return ndgrad.softmax(logits, dim=-1)


class lazy_property:
    """A property computed on first access and then stored on the instance (probs from logits, etc.)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with ndgrad.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def quiet_nan(fn):
    """Run ``fn`` without NumPy's invalid/divide warnings: branches later masked by ``where`` (inf KL where the
    supports differ, the unused half of a piecewise formula) may take logs of negatives, as torch does silently."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(invalid="ignore", divide="ignore"):
            return fn(*args, **kwargs)
    return wrapper


def as_size(shape):
    if isinstance(shape, int):
        return Size((shape,))
    return Size(tuple(shape))


# -- draws (never differentiable; rsample adds the reparameterised path on top) -----------------------------
def _generator(device):
    from ndgrad.random import generator
    return generator(device)


def device_draw(device, method, *args):
    """``generator.<method>(*args)`` on ``device``; when that device's generator lacks the method (CuPy's
    Generator has fewer distributions than NumPy's), draw on the host from the CPU generator and move."""
    from ndgrad.backend import CPU, to_device
    draw = getattr(_generator(device), method, None)
    if draw is not None:
        return draw(*args)
    host = [to_device(a, CPU) if hasattr(a, "shape") else a for a in args]
    return to_device(getattr(_generator(CPU), method)(*host), device)


def _wrap_draw(array, like):
    return Tensor._wrap(array.astype(like.dtype.np, copy=False), device=like.device)


def standard_normal(shape, like):
    return _wrap_draw(_generator(like.device).standard_normal(size=tuple(shape)), like)


def standard_uniform(shape, like):
    return _wrap_draw(_generator(like.device).random(size=tuple(shape)), like)


def open_uniform(shape, like, low, high):
    """Uniform draws strictly inside (low, high) in ``like``'s dtype (no endpoint can come back)."""
    xp = like.xp
    draws = _generator(like.device).random(size=tuple(shape))
    draws = (low + draws * (high - low)).astype(like.dtype.np)
    tiny = finfo(like.dtype).eps
    return Tensor._wrap(xp.clip(draws, low + tiny, high - tiny).astype(like.dtype.np), device=like.device)


def standard_gamma_draw(concentration):
    """Gamma(concentration, 1) draws with the shape of ``concentration`` (raw, not differentiable)."""
    conc = concentration._data.astype("float64")
    return _wrap_draw(device_draw(concentration.device, "standard_gamma", conc), concentration)


def poisson_draw(rate):
    return _wrap_draw(device_draw(rate.device, "poisson", rate._data.astype("float64")), rate)


def binomial_draw(total_count, probs):
    xp = probs.xp
    n = total_count._data.astype("int64")
    p = xp.clip(probs._data.astype("float64"), 0.0, 1.0)
    return _wrap_draw(device_draw(probs.device, "binomial", n, p), probs)


def categorical_draw(probs, sample_shape):
    """Category indices (int64) of shape sample_shape + probs.shape[:-1], by inverting the cumulative sums."""
    xp = probs.xp
    p = probs._data.astype("float64")
    cdf = xp.cumsum(p, axis=-1)
    cdf = cdf / cdf[..., -1:]
    shape = tuple(sample_shape) + p.shape[:-1]
    u = _generator(probs.device).random(size=shape + (1,))
    index = (cdf < u).sum(axis=-1)
    index = xp.minimum(index, p.shape[-1] - 1).astype("int64")
    return Tensor._wrap(index, device=probs.device)


# -- lower-triangular packing (for LKJ and transforms) ----------------------------------------------------------
def tril_matrix_to_vec(mat, diag=0):
    n = mat.shape[-1]
    rows, cols = np.tril_indices(n, k=diag)
    return mat[..., ndgrad.tensor(rows, device=mat.device), ndgrad.tensor(cols, device=mat.device)]


def vec_to_tril_matrix(vec, diag=0):
    import math
    size = vec.shape[-1]
    n = int(round((-(1 + 2 * diag) + math.sqrt((1 + 2 * diag) ** 2 + 8 * size + 4 * abs(diag) * (diag + 1))) / 2))
    rows, cols = np.tril_indices(n, k=diag)
    flat = ndgrad.zeros(vec.shape[:-1] + (n * n,), dtype=vec.dtype, device=vec.device)
    index = ndgrad.tensor(rows * n + cols, device=vec.device).expand(vec.shape)
    return flat.scatter(-1, index, vec).reshape(vec.shape[:-1] + (n, n))

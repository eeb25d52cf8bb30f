"""Random sampling: bernoulli, multinomial, poisson, normal, and the in-place fills (uniform_, normal_ ...).

Every draw comes from ``ndgrad.random.rng_for(device, generator)``: the device's global generator
(seeded by ``ndgrad.manual_seed``) or the ``ndgrad.Generator`` passed as ``generator=``. Draws are
made in float64 on the tensor's device and cast to its dtype. Samples are not differentiable.
"""
import math

from .. import dtypes, random as _random
from ..backend import get_device, host_sync, namespace
from ..tensor import Tensor
from . import inplace as _inplace_ops


def _rng(device, generator):
    return _random.rng_for(device, generator)


def _wrap(array, device):
    return Tensor._wrap(namespace(device).asarray(array), device)


def _values(x):
    return x._data if isinstance(x, Tensor) else x


# -- sampling functions ---------------------------------------------------------------------------
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 draws: each element is 1 with probability ``input`` (or ``p`` when given); ``input``'s dtype."""
    probs = input._data if p is None else p
    if p is None:
        _check_probabilities(input._data, input.xp, "bernoulli")
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli: expected 0 <= p <= 1, got p={p}")
    rng = _rng(input._device, generator)
    draws = (rng.random(input.shape) < probs).astype(input._data.dtype)
    return _finish(_wrap(draws, input._device), out)


def _check_probabilities(probs, xp, op):
    if probs.size and not bool(((probs >= 0) & (probs <= 1)).all()):
        raise RuntimeError(f"{op}: expected all probabilities in [0, 1], got values outside (min "
                           f"{float(probs.min())}, max {float(probs.max())})")


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from the categories in the last dim of ``input`` (1-d or 2-d; rows need not sum to 1)."""
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(input.shape)}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"multinomial: only supports floating-point dtypes for input, got {input.dtype}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    xp = input.xp
    probs = input._data.reshape(-1, input.shape[-1]).astype(xp.float64)
    categories = probs.shape[1]
    if not replacement and num_samples > categories:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                           f"replacement (n_sample={num_samples}, {categories} categories); pass "
                           f"replacement=True or draw fewer")
    if probs.size and not bool((xp.isfinite(probs) & (probs >= 0)).all()):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    totals = probs.sum(axis=1)
    if probs.shape[0] and not bool((totals > 0).all()):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _rng(input._device, generator)
    if replacement:
        cdf = xp.cumsum(probs, axis=1)
        u = rng.random((probs.shape[0], num_samples)) * cdf[:, -1:]
        picks = xp.stack([xp.searchsorted(cdf[r], u[r], side="right") for r in range(probs.shape[0])]) \
            if probs.shape[0] else xp.zeros((0, num_samples), dtype=xp.int64)
        # a category of probability 0 at the end of the row has cdf == total: never pick past the last positive
        picks = xp.minimum(picks, categories - 1)
    else:
        # exponential race: the first num_samples arrivals of Exp(p_i) clocks are a draw without
        # replacement (categories of probability 0 come last, in index order, as in torch)
        with _quiet(xp):
            clocks = -xp.log(rng.random(probs.shape)) / probs
        order = xp.argsort(clocks, axis=1, kind="stable") if xp.__name__ == "numpy" \
            else xp.argsort(clocks, axis=1)  # cupy's argsort is stable already
        picks = order[:, :num_samples]
    picks = picks.astype(xp.int64)
    if input.ndim == 1:
        picks = picks.reshape(num_samples)
    return _finish(_wrap(picks, input._device), out)


def poisson(input, generator=None):
    """Poisson draws with rates ``input`` (same shape and dtype)."""
    host_sync.check("poisson", input._data < 0, input._data, "poisson: expected all rates >= 0", RuntimeError)
    rates = input._data.astype(input.xp.float64)
    if host_sync.on_device(rates):   # the check fails later: until then draw from valid rates
        rates = input.xp.maximum(rates, 0)
    rng = _rng(input._device, generator)
    return _wrap(rng.poisson(rates).astype(input._data.dtype), input._device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           pin_memory=False, requires_grad=False):
    """Normal draws: ``normal(mean, std, size)`` with numbers, or tensors ``mean``/``std`` (broadcast)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        if isinstance(std, Tensor):
            host_sync.check("normal", std._data < 0, std._data, "normal: expected all std >= 0.0", RuntimeError)
        elif std < 0:
            raise RuntimeError(f"normal: expected std >= 0.0, but found std {std}")
        xp = ref.xp
        shape = xp.broadcast_shapes(xp.shape(_values(mean)), xp.shape(_values(std))) \
            if hasattr(xp, "broadcast_shapes") else xp.broadcast(_values(mean), _values(std)).shape
        dt = (mean.dtype if isinstance(mean, Tensor) and mean.dtype.is_floating_point else
              std.dtype if isinstance(std, Tensor) and std.dtype.is_floating_point else dtypes.get_default_dtype())
        if isinstance(mean, Tensor) and not mean.dtype.is_floating_point or \
                isinstance(std, Tensor) and not std.dtype.is_floating_point:
            raise RuntimeError("normal: expected floating-point mean and std tensors")
        draws = _rng(ref._device, generator).standard_normal(shape) * _values(std) + _values(mean)
        return _finish(_wrap(draws.astype(dt.np), ref._device), out)
    if std < 0:
        raise RuntimeError(f"normal: expected std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal(): with a number mean and std, the size argument is required, e.g. "
                        "normal(0.0, 1.0, size=(3, 4))")
    from ..creation import _shape
    dt = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    dev = get_device(device)
    draws = _rng(dev, generator).standard_normal(_shape((size,))) * std + mean
    t = _finish(_wrap(draws.astype(dt.np), dev), out)
    return t.requires_grad_(True) if requires_grad else t


def _finish(result, out):
    """torch's ``out=``: the draws land in ``out`` (resized when its shape differs)."""
    if out is None:
        return result
    from ..creation import _write_out
    return _write_out(result, out, "random sampling")


def _quiet(xp):
    if hasattr(xp, "errstate"):
        return xp.errstate(divide="ignore")
    import contextlib
    return contextlib.nullcontext()


# -- in-place fills ---------------------------------------------------------------------------------------
def _fill(self, name, draw, generator):
    """Overwrite ``self`` with ``draw(rng, shape)`` (float64 or int64 values), cast to its dtype."""
    self._check_inplace(name)
    no_overlap = getattr(_inplace_ops, "_check_no_overlap", None)
    if no_overlap is not None:  # an expand()ed view: one memory cell would get several draws
        no_overlap(self, name)
    rng = _rng(self._device, generator)
    self._data[...] = draw(rng, self.shape).astype(self._data.dtype, copy=False)
    self._bump_version()
    return self


def _float_only(self, name):
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"{name}: expects a floating-point tensor, got {self.dtype}; convert it first "
                           f"(e.g. x = x.float())")


def uniform_(self, a=0.0, b=1.0, *, generator=None, **kwargs):
    a, b = kwargs.pop("from", a), kwargs.pop("to", b)
    _no_extra(kwargs, "uniform_")
    _float_only(self, "uniform_")
    if a > b:
        raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found from={a} > to={b}")
    return _fill(self, "uniform_", lambda g, s: g.random(s) * (b - a) + a, generator)


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    _float_only(self, "normal_")
    if std < 0:
        raise RuntimeError(f"normal_: expects std >= 0.0, but found std {std}")
    return _fill(self, "normal_", lambda g, s: g.standard_normal(s) * std + mean, generator)


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _float_only(self, "log_normal_")
    if std <= 0:
        raise RuntimeError(f"log_normal_: expects std > 0.0, but found std={std}")
    return _fill(self, "log_normal_", lambda g, s: namespace(self._device).exp(g.standard_normal(s) * std + mean),
                 generator)


def exponential_(self, lambd=1.0, *, generator=None):
    _float_only(self, "exponential_")
    if lambd <= 0:
        raise RuntimeError(f"exponential_: expects lambda > 0.0, but found lambda={lambd}")
    return _fill(self, "exponential_", lambda g, s: g.standard_exponential(s) / lambd, generator)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    _float_only(self, "cauchy_")
    if sigma <= 0:
        raise RuntimeError(f"cauchy_: expects sigma > 0.0, but found sigma={sigma}")
    xp = namespace(self._device)
    return _fill(self, "cauchy_", lambda g, s: median + sigma * xp.tan(math.pi * (g.random(s) - 0.5)), generator)


def geometric_(self, p, *, generator=None):
    """Number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_: expects p to be in (0, 1), but got p={p}")
    xp = namespace(self._device)
    # inverse CDF: ceil(log(1 - u) / log(1 - p)), at least 1
    return _fill(self, "geometric_",
                 lambda g, s: xp.maximum(xp.ceil(xp.log1p(-g.random(s)) / math.log1p(-p)), 1.0), generator)


def bernoulli_(self, p=0.5, *, generator=None):
    if isinstance(p, Tensor):
        _check_probabilities(p._data, p.xp, "bernoulli_")
        probs = p._data.astype(p.xp.float64) if p._device == self._device else p.to(self._device)._data
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_: expected 0 <= p <= 1, got p={p}")
        probs = p
    return _fill(self, "bernoulli_", lambda g, s: g.random(s) < probs, generator)


def random_(self, *args, generator=None, **kwargs):
    """Integers uniform on [from, to - 1]; ``random_(to)`` means [0, to - 1]; no bound: the dtype's range."""
    low, high = kwargs.pop("from", None), kwargs.pop("to", None)
    _no_extra(kwargs, "random_")
    if len(args) == 1:
        low, high = (0, args[0]) if low is None else (low, args[0])
    elif len(args) == 2:
        low, high = args
    elif len(args) > 2:
        raise TypeError(f"random_() takes at most 2 positional arguments (from, to), got {len(args)}")
    low = 0 if low is None else int(low)
    if high is None:
        high = _dtype_span(self.dtype)
    high = int(high)
    if low >= high:
        raise RuntimeError(f"random_: expects 'from' to be less than 'to', but got from={low} >= to={high}")
    span = _dtype_span(self.dtype)
    if self.dtype.name != "bool" and (low < _dtype_low(self.dtype) or high - 1 > span):
        raise RuntimeError(f"random_: the range [{low}, {high}) does not fit dtype {self.dtype}")
    xp = namespace(self._device)
    return _fill(self, "random_", lambda g, s: g.integers(low, high, size=s, dtype=xp.int64), generator)


def _dtype_span(dtype):
    """The exclusive upper bound of random_() without ``to``: 2**mantissa for floats, max + 1 for integers."""
    if dtype.is_floating_point:
        return {"float16": 2 ** 11, "bfloat16": 2 ** 8, "float32": 2 ** 24}.get(dtype.name, 2 ** 53) + 1
    if dtype.name == "bool":
        return 2
    from ..backend import np
    return int(np.iinfo(dtype.np).max) + 1 if dtype.name != "int64" else 2 ** 63 - 1


def _dtype_low(dtype):
    from ..backend import np
    return int(np.iinfo(dtype.np).min) if dtype.np.kind in "iu" else -(2 ** 53)


def _no_extra(kwargs, name):
    if kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kwargs))!r}")


def _bernoulli_method(self, p=None, *, generator=None):
    return bernoulli(self, p, generator=generator)


def _multinomial_method(self, num_samples, replacement=False, *, generator=None):
    return multinomial(self, num_samples, replacement, generator=generator)


__all__ = ["bernoulli", "multinomial", "poisson", "normal"]
METHODS = {
    "bernoulli": _bernoulli_method, "multinomial": _multinomial_method, "bernoulli_": bernoulli_,
    "uniform_": uniform_, "normal_": normal_, "log_normal_": log_normal_, "exponential_": exponential_,
    "cauchy_": cauchy_, "geometric_": geometric_, "random_": random_,
}

"""Discrete distributions: Bernoulli, Categorical, OneHotCategorical, Binomial, Multinomial, Poisson,
Geometric, NegativeBinomial. Each takes ``probs`` or ``logits`` (exactly one) where torch does."""
import math

import ndgrad
import ndgrad.nn.functional as F
from ndgrad.tensor import Size, Tensor

from . import constraints
from ._params import (BinaryProbsLogits, CategoricalView, GivenParamShape, expand_params, expand_probs_or_logits,
                      require_exactly_one, set_probs_or_logits)
from .distribution import Distribution, ExponentialFamily
from .utils import (broadcast_all, finfo, lazy_property, logits_to_probs, probs_to_logits, standard_uniform,
                    binomial_draw, categorical_draw, poisson_draw)

__all__ = ["Bernoulli", "Binomial", "Categorical", "Geometric", "Multinomial", "NegativeBinomial",
           "OneHotCategorical", "OneHotCategoricalStraightThrough", "Poisson"]


def _enumerate(values, batch_shape, expand):
    """Support values of shape (n,) laid out as (n, 1, ..., 1) and optionally expanded to (n, *batch_shape)."""
    values = values.reshape((-1,) + (1,) * len(batch_shape))
    if expand:
        values = values.expand((-1,) + tuple(batch_shape))
    return values


class Bernoulli(BinaryProbsLogits, GivenParamShape, ExponentialFamily):
    """0/1 outcomes with success probability ``probs`` (or log-odds ``logits``)."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        set_probs_or_logits(self, probs, logits)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_probs_or_logits(self, Bernoulli, batch_shape, _instance)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return ndgrad.where(self.probs == 0.5, math.nan, mode).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with ndgrad.no_grad():
            probs = self.probs.expand(shape)
            return (standard_uniform(shape, probs) < probs).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = ndgrad.arange(2, dtype=self._param.dtype, device=self._param.device)
        return _enumerate(values, self._batch_shape, expand)

    @property
    def _natural_params(self):
        return (ndgrad.logit(self.probs),)

    def _log_normalizer(self, x):
        return ndgrad.log1p(ndgrad.exp(x))


class Categorical(GivenParamShape, Distribution):
    """One of K categories (the last dim of ``probs``/``logits``); samples are int64 indices."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        require_exactly_one(probs, logits)
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = self._param.shape[:-1] if self._param.dim() > 1 else Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = Size(tuple(batch_shape))
        param_shape = tuple(batch_shape) + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(param_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(param_shape)
            new._param = new.logits
        new._num_events = self._num_events
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def mean(self):
        return ndgrad.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return ndgrad.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    def sample(self, sample_shape=Size()):
        sample_shape = Size(tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,))
        probs = self.probs.detach().expand(tuple(self._batch_shape) + (self._num_events,))
        return categorical_draw(probs, sample_shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = ndgrad.broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self):
        min_real = float(finfo(self.logits.dtype).min)
        logits = ndgrad.clamp(self.logits, min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = ndgrad.arange(self._num_events, dtype=ndgrad.int64, device=self._param.device)
        return _enumerate(values, self._batch_shape, expand)


class OneHotCategorical(CategoricalView, Distribution):
    """Categorical whose samples are one-hot vectors (the event is the last dim)."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(OneHotCategorical, _instance)
        batch_shape = Size(tuple(batch_shape))
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _param(self):
        return self._categorical._param

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)

    @property
    def variance(self):
        return self._categorical.probs * (1 - self._categorical.probs)

    def sample(self, sample_shape=Size()):
        sample_shape = Size(tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,))
        probs = self._categorical.probs
        num_events = self._categorical._num_events
        indices = self._categorical.sample(sample_shape)
        return F.one_hot(indices, num_events).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        indices = value.max(-1)[1]
        return self._categorical.log_prob(indices)

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self.event_shape[0]
        values = ndgrad.eye(n, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((n,) + (1,) * len(self.batch_shape) + (n,))
        if expand:
            values = values.expand((n,) + tuple(self.batch_shape) + (n,))
        return values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical whose rsample passes gradients straight through to ``probs`` (value stays one-hot)."""
    has_rsample = True

    def rsample(self, sample_shape=Size()):
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())


def _clamp_by_zero(x):
    # max(x, 0) whose gradient at 0 is 1/2, as torch's Binomial uses
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(BinaryProbsLogits, GivenParamShape, Distribution):
    """Number of successes in ``total_count`` trials of success probability ``probs``."""
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        (self.total_count,) = set_probs_or_logits(self, probs, logits, total_count)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_probs_or_logits(self, Binomial, batch_shape, _instance, companions=("total_count",))

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with ndgrad.no_grad():
            return binomial_draw(self.total_count.expand(shape), self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_factorial_n = ndgrad.lgamma(self.total_count + 1)
        log_factorial_k = ndgrad.lgamma(value + 1)
        log_factorial_nmk = ndgrad.lgamma(self.total_count - value + 1)
        # n * log(1 + exp(logits)) written so that large |logits| neither overflow nor lose precision
        normalize_term = (self.total_count * _clamp_by_zero(self.logits)
                          + self.total_count * ndgrad.log1p(ndgrad.exp(-ndgrad.abs(self.logits)))
                          - log_factorial_n)
        return value * self.logits - log_factorial_k - log_factorial_nmk - normalize_term

    def _homogeneous_count(self, what):
        total_count = int(self.total_count.max())
        if not total_count == int(self.total_count.min()):
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return total_count

    def entropy(self):
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(ndgrad.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        total_count = self._homogeneous_count("enumerate_support")
        values = ndgrad.arange(1 + total_count, dtype=self._param.dtype, device=self._param.device)
        return _enumerate(values, self._batch_shape, expand)


class Multinomial(CategoricalView, Distribution):
    """Counts over K categories in ``total_count`` draws from ``probs``/``logits`` (the event is the last dim)."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = Size(tuple(batch_shape))
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        sample_shape = Size(tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,))
        indices = self._categorical.sample(Size((self.total_count,)) + sample_shape)
        xp = indices.xp
        k = self._categorical._num_events
        counts = (indices._data[..., None] == xp.arange(k)).sum(axis=0)
        return Tensor._wrap(counts.astype(self.probs.dtype.np), device=indices.device)

    def entropy(self):
        # an integer tensor: lgamma(n + 1) comes out in the default float dtype, as torch computes it
        n = ndgrad.tensor(self.total_count, device=self.probs.device)
        multinomial_term = n * self._categorical.entropy() - ndgrad.lgamma(n + 1)
        # E[sum_k log x_k!] from each count's binomial marginal (x_k = 0 adds log 0! = 0, so start at 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = ndgrad.exp(self._binomial.log_prob(support))
        weights = ndgrad.lgamma(support + 1)
        return multinomial_term + (binomial_probs * weights).sum((0, -1))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = ndgrad.lgamma(value.sum(-1) + 1)
        log_factorial_xs = ndgrad.lgamma(value + 1).sum(-1)
        # a category of probability 0 seen 0 times contributes 0 (not 0 * -inf)
        logits = ndgrad.where((value == 0) & (logits == -math.inf), 0.0, logits).to(logits.dtype)
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers


class Poisson(ExponentialFamily):
    """Counts with mean ``rate``."""
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(self, Poisson, batch_shape, ("rate",), _instance)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with ndgrad.no_grad():
            return poisson_draw(self.rate.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return ndgrad.xlogy(value, rate) - rate - ndgrad.lgamma(value + 1)

    @property
    def _natural_params(self):
        return (ndgrad.log(self.rate),)

    def _log_normalizer(self, x):
        return ndgrad.exp(x)


class Geometric(BinaryProbsLogits, Distribution):
    """Number of failures before the first success, success probability ``probs``."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        set_probs_or_logits(self, probs, logits)
        super().__init__(self._param.shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            value = self.probs.detach()
            invalid = value <= 0
            if bool(invalid.any()):
                raise ValueError(f"Expected parameter probs ({type(value).__name__} of shape {tuple(value.shape)}) "
                                 f"of distribution {self!r} to satisfy the constraint "
                                 f"{constraints.interval(0.0, 1.0)!r}, but found invalid values:\n{value[invalid]}")

    def expand(self, batch_shape, _instance=None):
        return expand_probs_or_logits(self, Geometric, batch_shape, _instance)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return ndgrad.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with ndgrad.no_grad():
            probs = self.probs.expand(shape)
            tiny = float(finfo(probs.dtype).tiny)
            u = tiny + standard_uniform(shape, probs) * (1 - tiny)
            return (u.log() / (-probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = ndgrad.where((probs == 1) & (value == 0), 0.0, probs).to(probs.dtype)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs


class NegativeBinomial(BinaryProbsLogits, GivenParamShape, Distribution):
    """Number of successes before ``total_count`` failures, success probability ``probs``."""
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        (self.total_count,) = set_probs_or_logits(self, probs, logits, total_count)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_probs_or_logits(self, NegativeBinomial, batch_shape, _instance, companions=("total_count",))

    @property
    def mean(self):
        return self.total_count * ndgrad.exp(self.logits)

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / ndgrad.sigmoid(-self.logits)

    @lazy_property
    def _gamma(self):
        from .gamma import Gamma
        return Gamma(concentration=self.total_count, rate=ndgrad.exp(-self.logits), validate_args=False)

    def sample(self, sample_shape=Size()):
        with ndgrad.no_grad():
            rate = self._gamma.sample(sample_shape=sample_shape)
            return poisson_draw(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized_prob = (self.total_count * F.logsigmoid(-self.logits) + value * F.logsigmoid(self.logits))
        log_normalization = (-ndgrad.lgamma(self.total_count + value) + ndgrad.lgamma(1.0 + value)
                             + ndgrad.lgamma(self.total_count))
        # total_count + value == 0 only when both are 0: that outcome has probability 1
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0, 0.0)
        return log_unnormalized_prob - log_normalization

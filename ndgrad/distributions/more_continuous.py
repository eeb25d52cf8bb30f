"""More continuous families: ContinuousBernoulli, VonMises, FisherSnedecor, Kumaraswamy, InverseGamma."""
import math

import ndgrad
import ndgrad.nn.functional as F
from ndgrad.tensor import Size, Tensor

from . import constraints
from ._params import (BinaryProbsLogits, CenteredAtLoc, GivenParamShape, expand_params, expand_probs_or_logits,
                      set_probs_or_logits)
from .continuous import Uniform
from .distribution import Distribution, ExponentialFamily
from .gamma import Gamma
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .utils import (quiet_nan, broadcast_all, clamp_probs, finfo, lazy_property, logits_to_probs,
                    standard_uniform, _generator)

__all__ = ["ContinuousBernoulli", "FisherSnedecor", "GeneralizedPareto", "InverseGamma", "Kumaraswamy", "VonMises"]

_EULER_GAMMA = 0.57721566490153286060


class ContinuousBernoulli(BinaryProbsLogits, GivenParamShape, ExponentialFamily):
    """The continuous Bernoulli on [0, 1] (Loaiza-Ganem & Cunningham 2019), density ∝ p^x (1-p)^(1-x).

    Near probs = 0.5 the normalizer is 0/0; inside ``lims`` Taylor expansions replace the closed forms.
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        set_probs_or_logits(self, probs, logits)
        if probs is not None:
            if validate_args is not None and not bool(self.arg_constraints["probs"].check(self.probs).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = self._param = clamp_probs(self.probs)
        self._lims = lims
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = expand_probs_or_logits(self, ContinuousBernoulli, batch_shape, _instance)
        new._lims = self._lims
        return new

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        return ndgrad.where(self._outside_unstable_region(), self.probs, self._lims[0] * ndgrad.ones_like(self.probs))

    def _cont_bern_log_norm(self):
        """log C(p), C(p) = 2 atanh(1 - 2p) / (1 - 2p)."""
        cut = self._cut_probs()
        below = ndgrad.where(cut <= 0.5, cut, ndgrad.zeros_like(cut))
        above = ndgrad.where(cut >= 0.5, cut, ndgrad.ones_like(cut))
        log_norm = (ndgrad.log(ndgrad.abs(ndgrad.log1p(-cut) - ndgrad.log(cut)))
                    - ndgrad.where(cut <= 0.5, ndgrad.log1p(-2.0 * below), ndgrad.log(2.0 * above - 1.0)))
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return ndgrad.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / (ndgrad.log1p(-cut) - ndgrad.log(cut))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return ndgrad.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return ndgrad.sqrt(self.variance)

    @property
    def variance(self):
        cut = self._cut_probs()
        variances = (cut * (cut - 1.0) / (1.0 - 2.0 * cut).pow(2)
                     + 1.0 / (ndgrad.log1p(-cut) - ndgrad.log(cut)).pow(2))
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return ndgrad.where(self._outside_unstable_region(), variances, taylor)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    def sample(self, sample_shape=Size()):
        with ndgrad.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        return self.icdf(standard_uniform(shape, self.probs))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none") + self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut.pow(value) * (1.0 - cut).pow(1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = ndgrad.where(self._outside_unstable_region(), cdfs, value)
        return ndgrad.where(value <= 0.0, ndgrad.zeros_like(value),
                            ndgrad.where(value >= 1.0, ndgrad.ones_like(value), unbounded))

    def icdf(self, value):
        cut = self._cut_probs()
        closed = ((ndgrad.log1p(-cut + value * (2.0 * cut - 1.0)) - ndgrad.log1p(-cut))
                  / (ndgrad.log(cut) - ndgrad.log1p(-cut)))
        return ndgrad.where(self._outside_unstable_region(), closed, value)

    def entropy(self):
        log_probs0 = ndgrad.log1p(-self.probs)
        log_probs1 = ndgrad.log(self.probs)
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        unstable = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = ndgrad.where(unstable, x, (self._lims[0] - 0.5) * ndgrad.ones_like(x))
        log_norm = ndgrad.log(ndgrad.abs(ndgrad.expm1(cut))) - ndgrad.log(ndgrad.abs(cut))
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return ndgrad.where(unstable, log_norm, taylor)


# Polynomial approximations of log I0 and log I1 (Abramowitz & Stegun 9.8.1-9.8.4), the ones torch uses.
_I0_SMALL = [1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.0360768, 0.0045813]
_I0_LARGE = [0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706, 0.02635537, -0.01647633,
             0.00392377]
_I1_SMALL = [0.5, 0.87890594, 0.51498869, 0.15084934, 0.02658733, 0.00301532, 0.00032411]
_I1_LARGE = [0.39894228, -0.03988024, -0.00362018, 0.00163801, -0.01031555, 0.02282967, -0.02895312, 0.01787654,
             -0.00420059]


def _horner(y, coefficients):
    result = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        result = c + y * result
    return result


@quiet_nan
def _log_modified_bessel(x, order=0):
    """log I_order(x) for order 0 or 1, x > 0."""
    if order not in (0, 1):
        raise ValueError(f"_log_modified_bessel: order must be 0 or 1, got {order}")
    y = (x / 3.75) ** 2
    small = _horner(y, _I0_SMALL if order == 0 else _I1_SMALL)
    if order == 1:
        small = x.abs() * small
    small = small.log()
    large = x - 0.5 * x.log() + _horner(3.75 / x, _I0_LARGE if order == 0 else _I1_LARGE).log()
    return ndgrad.where(x < 3.75, small, large)


class VonMises(CenteredAtLoc, Distribution):
    """Circular normal on [-pi, pi) with mean direction ``loc`` and ``concentration`` kappa."""
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, Size(), validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(self, VonMises, batch_shape, ("loc", "concentration"), _instance)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.concentration * ndgrad.cos(value - self.loc)
        return log_prob - math.log(2 * math.pi) - _log_modified_bessel(self.concentration, order=0)

    def sample(self, sample_shape=Size()):
        """Best & Fisher's (1979) rejection sampler, in float64 on raw arrays."""
        shape = tuple(self._extended_shape(sample_shape))
        xp = self.loc.xp
        rng = _generator(self.loc.device)
        loc = xp.broadcast_to(self.loc.detach()._data.astype("float64"), shape)
        kappa = xp.broadcast_to(self.concentration.detach()._data.astype("float64"), shape)
        tau = 1 + xp.sqrt(1 + 4 * kappa ** 2)
        rho = (tau - xp.sqrt(2 * tau)) / (2 * kappa)
        proposal_r = xp.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))
        x = xp.zeros(shape)
        done = xp.zeros(shape, dtype=bool)
        while not bool(done.all()):
            u1, u2, u3 = rng.random((3,) + shape)
            z = xp.cos(math.pi * u1)
            f = (1 + proposal_r * z) / (proposal_r + z)
            c = kappa * (proposal_r - f)
            with xp.errstate(divide="ignore", invalid="ignore") if hasattr(xp, "errstate") else _nullcontext():
                accept = (c * (2 - c) - u2 > 0) | (xp.log(c / u2) + 1 - c >= 0)
            accept &= ~done
            x = xp.where(accept, xp.sign(u3 - 0.5) * xp.arccos(xp.clip(f, -1, 1)), x)
            done |= accept
        angles = (x + math.pi + loc) % (2 * math.pi) - math.pi
        return Tensor._wrap(angles.astype(self.loc.dtype.np), device=self.loc.device)

    @lazy_property
    def variance(self):
        """Circular variance 1 - I1(kappa) / I0(kappa)."""
        return 1 - (_log_modified_bessel(self.concentration, order=1)
                    - _log_modified_bessel(self.concentration, order=0)).exp()


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FisherSnedecor(Distribution):
    """F distribution with ``df1`` and ``df2``: (X1 / df1) / (X2 / df2) for chi-squared X1, X2."""
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        super().__init__(self.df1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = expand_params(self, FisherSnedecor, batch_shape, ("df1", "df2"), _instance)
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        return new

    @property
    def mean(self):
        df2 = ndgrad.where(self.df2 <= 2, math.nan, self.df2).to(self.df2.dtype)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return ndgrad.where(self.df1 <= 2, math.nan, mode).to(mode.dtype)

    @property
    def variance(self):
        df2 = ndgrad.where(self.df2 <= 4, math.nan, self.df2).to(self.df2.dtype)
        return 2 * df2.pow(2) * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        tiny = float(finfo(self.df1.dtype).tiny)
        x1 = self._gamma1.rsample(sample_shape).reshape(shape)
        x2 = self._gamma2.rsample(sample_shape).reshape(shape).clamp(min=tiny)
        return (x1 / x2).clamp(min=tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        ct1 = self.df1 * 0.5
        ct2 = self.df2 * 0.5
        ct3 = self.df1 / self.df2
        t1 = (ct1 + ct2).lgamma() - ct1.lgamma() - ct2.lgamma()
        t2 = ct1 * ct3.log() + (ct1 - 1) * ndgrad.log(value)
        t3 = (ct1 + ct2) * ndgrad.log1p(ct3 * value)
        return t1 + t2 - t3


def _kumaraswamy_moment(a, b, n):
    """E[X^n] = b B(1 + n / a, b)."""
    arg1 = 1 + n / a
    log_value = ndgrad.lgamma(arg1) + ndgrad.lgamma(b) - ndgrad.lgamma(arg1 + b)
    return b * ndgrad.exp(log_value)


class Kumaraswamy(TransformedDistribution):
    """Kumaraswamy on (0, 1): (1 - U^(1/b))^(1/a), a Beta look-alike with a closed-form cdf."""
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base_dist = Uniform(ndgrad.full_like(self.concentration0, 0), ndgrad.full_like(self.concentration0, 1),
                            validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()), AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Kumaraswamy, _instance)
        new.concentration1 = self.concentration1.expand(batch_shape)
        new.concentration0 = self.concentration0.expand(batch_shape)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        log_mode = b.reciprocal() * (-b).log1p() - (-b * a).log1p()
        return ndgrad.where((b < 1) | (a < 1), math.nan, log_mode).to(log_mode.dtype).exp()

    @property
    def variance(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 2) - self.mean.pow(2)

    def entropy(self):
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        h0 = ndgrad.digamma(self.concentration0 + 1) + _EULER_GAMMA
        return t0 + t1 * h0 - ndgrad.log(self.concentration1) - ndgrad.log(self.concentration0)


class InverseGamma(TransformedDistribution):
    """1 / X for X ~ Gamma(concentration, rate)."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        base_dist = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -base_dist.rate.new_ones(())
        super().__init__(base_dist, PowerTransform(neg_one), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(InverseGamma, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        result = self.rate / (self.concentration - 1)
        return ndgrad.where(self.concentration > 1, result, math.inf).to(result.dtype)

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        result = self.rate.square() / ((self.concentration - 1).square() * (self.concentration - 2))
        return ndgrad.where(self.concentration > 2, result, math.inf).to(result.dtype)

    def entropy(self):
        return (self.concentration + self.rate.log() + self.concentration.lgamma()
                - (1 + self.concentration) * self.concentration.digamma())


class GeneralizedPareto(Distribution):
    """Generalized Pareto with ``loc``, ``scale`` and shape ``concentration`` (xi); xi = 0 is the exponential."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(self, GeneralizedPareto, batch_shape, ("loc", "scale", "concentration"), _instance)

    def _zero_and_safe_concentration(self):
        """(xi == 0 mask, xi with the zeros replaced by 1) so both branches of each formula stay finite."""
        eq_zero = self.concentration.abs() <= 1e-8
        return eq_zero, ndgrad.where(eq_zero, ndgrad.ones_like(self.concentration), self.concentration)

    def _z(self, x):
        return (x - self.loc) / self.scale

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        return self.icdf(standard_uniform(shape, self.loc))

    @quiet_nan
    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe = self._zero_and_safe_concentration()
        y = 1 / safe + ndgrad.ones_like(z)
        where_nonzero = ndgrad.where(y == 0, y, y * ndgrad.log1p(safe * z))
        return -self.scale.log() - ndgrad.where(eq_zero, z, where_nonzero)

    @quiet_nan
    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe = self._zero_and_safe_concentration()
        return ndgrad.where(eq_zero, -z, -ndgrad.log1p(safe * z) / safe)

    def log_cdf(self, value):
        return ndgrad.log1p(-ndgrad.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return ndgrad.exp(self.log_cdf(value))

    def icdf(self, value):
        eq_zero, safe = self._zero_and_safe_concentration()
        logu = ndgrad.log1p(-value)
        where_nonzero = self.loc + self.scale / safe * ndgrad.expm1(-safe * logu)
        return ndgrad.where(eq_zero, self.loc - self.scale * logu, where_nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        safe = ndgrad.where(valid, self.concentration, 0.5).to(self.concentration.dtype)
        result = self.loc + self.scale / (1 - safe)
        return ndgrad.where(valid, result, math.nan).to(result.dtype)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        safe = ndgrad.where(valid, self.concentration, 0.25).to(self.concentration.dtype)
        result = self.scale ** 2 / ((1 - safe) ** 2 * (1 - 2 * safe))
        return ndgrad.where(valid, result, math.nan).to(result.dtype)

    def entropy(self):
        return (ndgrad.log(self.scale) + self.concentration + 1).broadcast_to(tuple(self._batch_shape))

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = ndgrad.where(self.concentration < 0, lower - self.scale / self.concentration, math.inf)
        return constraints.interval(lower, upper.to(lower.dtype))

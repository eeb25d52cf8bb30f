"""The gamma family: Gamma, Chi2, Beta, Dirichlet, with implicit reparameterisation gradients.

A Gamma(alpha, 1) draw x has no closed-form inverse cdf, so rsample differentiates it implicitly:
dx/dalpha = -(dF/dalpha)(x; alpha) / f(x; alpha), with F the regularized lower incomplete gamma.
Beta and Dirichlet draws are normalized gamma draws and inherit that gradient.
"""
import ndgrad
from ndgrad.autograd.node import Node
from ndgrad.tensor import Size, Tensor

from . import constraints
from ._params import expand_params
from .distribution import Distribution, ExponentialFamily
from .utils import broadcast_all, device_draw, finfo

__all__ = ["Gamma", "Chi2", "Beta", "Dirichlet"]


def _special(xp):
    """scipy.special on the CPU, cupyx.scipy.special on a GPU (imported on first use)."""
    if xp.__name__ == "numpy":
        try:
            import scipy.special as special
        except ImportError:
            raise ImportError("Gamma/Beta/Dirichlet rsample and Gamma.cdf need SciPy: pip install scipy") from None
        return special
    import cupyx.scipy.special as special
    return special


def standard_gamma_grad(alpha, x):
    """dx/dalpha for x ~ Gamma(alpha, 1) held at fixed cdf value (raw float64 arrays in and out).

    dF/dalpha comes from a central difference of the regularized incomplete gamma; in the upper tail the
    complement Q = 1 - F is differenced instead, so cancellation near F = 1 does not eat the digits.
    """
    xp = ndgrad.backend.xp_of(alpha)
    special = _special(xp)
    h = 1e-5 * xp.maximum(alpha, 1e-3)
    upper = special.gammainc(alpha, x) > 0.5
    lower_diff = (special.gammainc(alpha + h, x) - special.gammainc(alpha - h, x)) / (2 * h)
    upper_diff = -(special.gammaincc(alpha + h, x) - special.gammaincc(alpha - h, x)) / (2 * h)
    dcdf = xp.where(upper, upper_diff, lower_diff)
    log_pdf = (alpha - 1) * xp.log(x) - x - special.gammaln(alpha)
    return -dcdf * xp.exp(-log_pdf)


class _StandardGamma(Node):
    """Gamma(concentration, 1) draws; backward is the implicit reparameterisation gradient."""
    needs_output = True

    def forward(self, concentration):
        xp = self.xp
        alpha = concentration.astype("float64")
        draws = device_draw(self.device, "standard_gamma", alpha)
        tiny = float(finfo(ndgrad.dtypes.dtype_of(concentration)).tiny)
        return xp.maximum(draws, tiny).astype(concentration.dtype)

    def backward(self, grad):
        alpha = self.input(0)._data.astype("float64")
        x = self.output_array().astype("float64")
        dx_dalpha = standard_gamma_grad(alpha, x).astype(grad._data.dtype)
        return grad * Tensor._wrap(dx_dalpha, device=grad.device)


def standard_gamma(concentration):
    return _StandardGamma().apply(concentration)


class _RegularizedGammaLower(Node):
    """P(a, x) = gammainc(a, x); differentiable in x only (like torch.special.gammainc)."""

    def forward(self, a, x):
        special = _special(self.xp)
        return special.gammainc(a, x).astype(x.dtype)

    def backward(self, grad):
        if self.needs_input_grad[0]:
            raise RuntimeError("Gamma.cdf: the derivative with respect to the concentration (gammainc's first "
                               "argument) is not implemented, as in torch; detach the concentration to differentiate "
                               "with respect to the value and rate only")
        a, x = self.input(0), self.input(1)
        density = ndgrad.exp((a - 1) * ndgrad.log(x) - x - ndgrad.lgamma(a))
        return None, grad * density


class Gamma(ExponentialFamily):
    """Gamma with shape ``concentration`` and ``rate`` (mean concentration / rate)."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(self, Gamma, batch_shape, ("concentration", "rate"), _instance)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        value = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return value.clamp(min=float(finfo(value.dtype).tiny))

    def log_prob(self, value):
        value = ndgrad.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (ndgrad.xlogy(self.concentration, self.rate) + ndgrad.xlogy(self.concentration - 1, value)
                - self.rate * value - ndgrad.lgamma(self.concentration))

    def entropy(self):
        return (self.concentration - ndgrad.log(self.rate) + ndgrad.lgamma(self.concentration)
                + (1.0 - self.concentration) * ndgrad.digamma(self.concentration))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        x = self.rate * value
        a, x = ndgrad.broadcast_tensors(self.concentration, x)
        return _RegularizedGammaLower().apply(a, x)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return ndgrad.lgamma(x + 1) + (x + 1) * ndgrad.log(-y.reciprocal())


class Chi2(Gamma):
    """Chi-squared with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self):
        return self.concentration * 2


class Dirichlet(ExponentialFamily):
    """Dirichlet over the simplex with ``concentration`` (the last dim is the event)."""
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        batch_shape, event_shape = concentration.shape[:-1], concentration.shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = Size(tuple(batch_shape))
        new.concentration = self.concentration.expand(tuple(batch_shape) + tuple(self.event_shape))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        gammas = standard_gamma(self.concentration.expand(shape))
        return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (ndgrad.xlogy(self.concentration - 1.0, value).sum(-1)
                + ndgrad.lgamma(self.concentration.sum(-1)) - ndgrad.lgamma(self.concentration).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        concm1 = (self.concentration - 1).clamp(min=0.0)
        mode = concm1 / concm1.sum(-1, keepdim=True)
        # Every concentration below 1: the density peaks at a vertex, the one of the largest concentration.
        all_below_one = (self.concentration < 1).all(-1, keepdim=True)
        vertex = ndgrad.nn.functional.one_hot(mode.argmax(-1), concm1.shape[-1]).to(mode.dtype)
        return ndgrad.where(all_below_one, vertex, mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        k = self.concentration.shape[-1]
        a0 = self.concentration.sum(-1)
        return (ndgrad.lgamma(self.concentration).sum(-1) - ndgrad.lgamma(a0) - (k - a0) * ndgrad.digamma(a0)
                - ((self.concentration - 1.0) * ndgrad.digamma(self.concentration)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return ndgrad.lgamma(x).sum(-1) - ndgrad.lgamma(x.sum(-1))


class Beta(ExponentialFamily):
    """Beta on [0, 1] with ``concentration1`` (alpha) and ``concentration0`` (beta)."""
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        if isinstance(concentration1, (int, float)) and isinstance(concentration0, (int, float)):
            pair = ndgrad.tensor([float(concentration1), float(concentration0)])
        else:
            concentration1, concentration0 = broadcast_all(concentration1, concentration0)
            pair = ndgrad.stack([concentration1, concentration0], -1)
        self._dirichlet = Dirichlet(pair, validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = Size(tuple(batch_shape))
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        heads_tails = ndgrad.stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(heads_tails)

    def entropy(self):
        return self._dirichlet.entropy()

    @property
    def concentration1(self):
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return ndgrad.lgamma(x) + ndgrad.lgamma(y) - ndgrad.lgamma(x + y)

"""Distributions over matrices: LKJCholesky (Cholesky factors of correlation matrices) and Wishart."""
import math
import warnings
from numbers import Number

import ndgrad
from ndgrad.linalg import slogdet
from ndgrad.tensor import Size

from . import constraints
from ._linalg import cholesky_inverse
from .distribution import Distribution, ExponentialFamily
from .gamma import Beta, Chi2
from .multivariate_normal import ScaleTrilMatrices, _scale_tril_of
from .utils import broadcast_all, finfo, standard_normal

__all__ = ["LKJCholesky", "Wishart"]

_LOG_2 = math.log(2)


def _cholesky_solve(b, low):
    """(L L^T)^-1 B; like torch.cholesky_solve, the gradient reaches every entry of L (not just its triangle)."""
    return cholesky_inverse(low) @ b


class LKJCholesky(Distribution):
    """LKJ prior over D x D correlation matrices, on their lower Cholesky factors (onion-method sampling)."""
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.shape
        # Onion method (Lewandowski, Kurowicka & Joe 2009): row i >= 1 of the factor has squared off-diagonal norm
        # y_i ~ Beta(i / 2, conc + (D - 1 - i) / 2); row 0 has no off-diagonal entries (its draw is unused).
        # torch 2.13 uses Beta(i - 1/2, ...) for rows i >= 2, which skews the correlations of later rows (their
        # marginal variance differs from the LKJ marginal 1 / (2 conc + D - 1)); ndgrad samples the LKJ law.
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = ndgrad.arange(self.dim - 1, dtype=self.concentration.dtype, device=self.concentration.device)
        offset = ndgrad.cat([offset.new_zeros((1,)), offset])
        self._beta = Beta(0.5 * offset + 0.5, marginal_conc.unsqueeze(-1) - 0.5 * offset)
        super().__init__(batch_shape, Size((dim, dim)), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = Size(tuple(batch_shape))
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(tuple(batch_shape) + (self.dim,))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=Size()):
        with ndgrad.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            shape = self._extended_shape(sample_shape)
            u_normal = standard_normal(shape, y).tril(-1)
            norm = (u_normal ** 2).sum(-1, keepdim=True).sqrt()
            u_sphere = u_normal / ndgrad.where(norm > 0, norm, ndgrad.ones_like(norm))  # row 0 is all zeros
            w = ndgrad.sqrt(y) * u_sphere
            tiny = float(finfo(w.dtype).tiny)
            diag = ndgrad.clamp(1 - (w ** 2).sum(-1), min=tiny).sqrt()
            return w + ndgrad.diag_embed(diag)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = ndgrad.arange(2, self.dim + 1, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = (order * diag_elems.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = ndgrad.lgamma(alpha) * dm1
        numerator = ndgrad.mvlgamma(alpha - 0.5, dm1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)
        return unnormalized_log_pdf - (pi_constant + numerator - denominator)


def _mvdigamma(x, p):
    """Multivariate digamma: sum_i digamma(x - i / 2), i < p."""
    if not bool((x > (p - 1) / 2).all()):
        raise ValueError(f"Wrong domain for multivariate digamma function: need x > {(p - 1) / 2}")
    steps = ndgrad.arange(p, dtype=x.dtype, device=x.device) / 2
    return ndgrad.digamma(x.unsqueeze(-1) - steps.expand(tuple(x.shape) + (-1,))).sum(-1)


class Wishart(ScaleTrilMatrices, ExponentialFamily):
    """Wishart over positive-definite matrices with ``df`` and one of covariance / precision / scale_tril."""
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self):
        return {"covariance_matrix": constraints.positive_definite, "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky, "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        param = given[0]
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, Number):
            batch_shape = tuple(param.shape[:-2])
            self.df = ndgrad.tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = tuple(ndgrad.broadcast_shapes(tuple(param.shape[:-2]), tuple(df.shape)))
            self.df = df.expand(batch_shape)
        event_shape = tuple(param.shape[-2:])
        if bool((self.df <= event_shape[-1] - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {event_shape[-1] - 1}.")
        if scale_tril is not None:
            self.scale_tril = param.expand(batch_shape + (-1, -1))
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(batch_shape + (-1, -1))
        else:
            self.precision_matrix = param.expand(batch_shape + (-1, -1))
        if bool((self.df < event_shape[-1]).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for ndim - 1 < df < "
                          "ndim.")
        super().__init__(Size(batch_shape), Size(event_shape), validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        self._unbroadcasted_scale_tril = _scale_tril_of(scale_tril, covariance_matrix, precision_matrix)
        self._dist_chi2 = self._bartlett_chi2(self.df, batch_shape)

    def _bartlett_chi2(self, df, batch_shape):
        """Chi2(df - i) for the squared diagonal of the Bartlett factor."""
        steps = ndgrad.arange(self._event_shape[-1], dtype=self._unbroadcasted_scale_tril.dtype,
                              device=self._unbroadcasted_scale_tril.device)
        return Chi2(df=df.unsqueeze(-1) - steps.expand(tuple(batch_shape) + (-1,)))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = Size(tuple(batch_shape))
        cov_shape = tuple(batch_shape) + tuple(self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._dist_chi2 = new._bartlett_chi2(new.df, batch_shape)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape)

    @property
    def mean(self):
        return self.df.reshape(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = ndgrad.where(factor <= 0, math.nan, factor).to(factor.dtype)
        return factor.reshape(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        cov = self.covariance_matrix
        diag = cov.diagonal(dim1=-2, dim2=-1)
        return self.df.reshape(tuple(self._batch_shape) + (1, 1)) * (cov.pow(2) + diag.unsqueeze(-1) * diag.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape=Size()):
        """L A A^T L^T with A lower triangular: sqrt(chi2) on the diagonal, standard normals below."""
        p = self._event_shape[-1]
        eps = float(finfo(self.df.dtype).eps)
        diag = self._dist_chi2.rsample(sample_shape).sqrt().clamp(min=eps)
        shape = tuple(sample_shape) + tuple(self._batch_shape) + (p, p)
        below = standard_normal(shape, diag).tril(-1)
        factor = self._unbroadcasted_scale_tril @ (below + ndgrad.diag_embed(diag))
        return factor @ factor.mT

    def rsample(self, sample_shape=Size(), max_try_correction=None):
        sample_shape = Size(tuple(sample_shape))
        return self._bartlett_sampling(sample_shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        trace = _cholesky_solve(value, self._unbroadcasted_scale_tril).diagonal(dim1=-2, dim2=-1).sum(-1)
        return (-nu * (p * _LOG_2 / 2 + half_log_det) - ndgrad.mvlgamma(nu / 2, p)
                + (nu - p - 1) / 2 * slogdet(value).logabsdet - trace / 2)

    def entropy(self):
        nu = self.df
        p = self._event_shape[-1]
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return ((p + 1) * (p * _LOG_2 / 2 + half_log_det) + ndgrad.mvlgamma(nu / 2, p)
                - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p) + nu * p / 2)

    @property
    def _natural_params(self):
        p = self._event_shape[-1]
        return (-self.precision_matrix / 2, (self.df - p - 1) / 2)

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        return ((y + (p + 1) / 2) * (-slogdet(-2 * x).logabsdet + _LOG_2 * p) + ndgrad.mvlgamma(y + (p + 1) / 2, p))

"""ndgrad.distributions: torch.distributions on ndgrad tensors (sample, rsample, log_prob, entropy, kl)."""
import sys

from . import _torch_paths, constraints, transforms
from .distribution import Distribution, ExponentialFamily
from .continuous import Cauchy, Exponential, Laplace, Normal, StudentT, Uniform
from .discrete import (Bernoulli, Binomial, Categorical, Geometric, Multinomial, NegativeBinomial,
                       OneHotCategorical, OneHotCategoricalStraightThrough, Poisson)
from .gamma import Beta, Chi2, Dirichlet, Gamma
from .independent import Independent
from .transformed_distribution import TransformedDistribution
from .transformed_families import Gumbel, HalfCauchy, HalfNormal, LogNormal, Pareto, Weibull
from .multivariate_normal import LowRankMultivariateNormal, MultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli, LogisticNormal, RelaxedBernoulli,
                      RelaxedOneHotCategorical)
from .more_continuous import (ContinuousBernoulli, FisherSnedecor, GeneralizedPareto, InverseGamma, Kumaraswamy,
                              VonMises)
from .matrix import LKJCholesky, Wishart
from .transforms import *  # noqa: F401,F403
from .kl import kl_divergence, register_kl
from .constraint_registry import biject_to, transform_to

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli",
           "Dirichlet", "Distribution", "Exponential", "ExponentialFamily", "ExpRelaxedCategorical",
           "FisherSnedecor", "Gamma", "GeneralizedPareto", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal",
           "Independent", "InverseGamma", "Kumaraswamy", "Laplace", "LKJCholesky", "LogisticNormal",
           "LogitRelaxedBernoulli", "LogNormal", "LowRankMultivariateNormal", "MixtureSameFamily",
           "Multinomial", "MultivariateNormal", "NegativeBinomial", "Normal", "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "Pareto", "Poisson", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "StudentT", "TransformedDistribution", "Uniform", "VonMises",
           "Weibull", "Wishart", "biject_to", "constraints", "kl_divergence", "register_kl", "transform_to",
           "transforms"] + transforms.__all__

_torch_paths.install(sys.modules[__name__])  # torch's submodule paths: ndgrad.distributions.normal, ...

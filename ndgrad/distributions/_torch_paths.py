"""torch.distributions' submodule paths (``from torch.distributions.normal import Normal``) as aliases.

ndgrad groups families into fewer files; each torch submodule name points at the ndgrad module that
defines its classes, registered in sys.modules so that both ``import`` forms and attribute access work.
"""
import importlib
import sys

# torch submodule name -> ndgrad.distributions module that holds its class(es)
TORCH_SUBMODULES = {
    "bernoulli": "discrete", "binomial": "discrete", "categorical": "discrete", "geometric": "discrete",
    "multinomial": "discrete", "negative_binomial": "discrete", "one_hot_categorical": "discrete",
    "poisson": "discrete", "normal": "continuous", "uniform": "continuous", "exponential": "continuous",
    "laplace": "continuous", "cauchy": "continuous", "studentT": "continuous", "beta": "gamma", "chi2": "gamma",
    "dirichlet": "gamma", "exp_family": "distribution", "log_normal": "transformed_families",
    "half_normal": "transformed_families", "half_cauchy": "transformed_families", "gumbel": "transformed_families",
    "weibull": "transformed_families", "pareto": "transformed_families",
    "lowrank_multivariate_normal": "multivariate_normal", "relaxed_bernoulli": "relaxed",
    "relaxed_categorical": "relaxed", "logistic_normal": "relaxed", "continuous_bernoulli": "more_continuous",
    "von_mises": "more_continuous", "fishersnedecor": "more_continuous", "kumaraswamy": "more_continuous",
    "inverse_gamma": "more_continuous", "generalized_pareto": "more_continuous", "lkj_cholesky": "matrix",
    "wishart": "matrix",
}


def install(package):
    """Register every alias under ``package`` (the ndgrad.distributions module object)."""
    for alias, target in TORCH_SUBMODULES.items():
        module = importlib.import_module(f"{package.__name__}.{target}")
        sys.modules.setdefault(f"{package.__name__}.{alias}", module)
        setattr(package, alias, module)

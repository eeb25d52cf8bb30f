"""ndgrad.distributions against torch: kl_divergence, MultivariateNormal, LowRankMultivariateNormal,
Independent, TransformedDistribution and MixtureSameFamily."""
import numpy as np
import pytest
import torch.distributions as TD

import ndgrad
import ndgrad.distributions as ND
from oracle import check_op, random_array
from test_distributions import KL_MAKERS, _by_name, _params, _spd, _tril, check_method


# -- kl_divergence ------------------------------------------------------------------------------------------
KL_PAIRS = [
    ("Normal", "Normal"), ("Bernoulli", "Bernoulli"), ("BernoulliLogits", "Bernoulli"), ("Beta", "Beta"),
    ("Binomial", "Binomial"), ("Categorical", "Categorical"), ("CategoricalLogits", "Categorical"),
    ("OneHotCategorical", "OneHotCategorical"), ("Dirichlet", "Dirichlet"), ("Exponential", "Exponential"),
    ("Gamma", "Gamma"), ("Chi2", "Chi2"), ("Gumbel", "Gumbel"), ("Geometric", "Geometric"),
    ("HalfNormal", "HalfNormal"), ("Laplace", "Laplace"), ("Pareto", "Pareto"), ("Poisson", "Poisson"),
    ("Uniform", "Uniform"), ("Cauchy", "Cauchy"), ("LogNormal", "LogNormal"), ("Bernoulli", "Poisson"),
    ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"), ("Beta", "Uniform"), ("Beta", "Pareto"),
    ("Exponential", "Gamma"), ("Exponential", "Gumbel"), ("Exponential", "Normal"), ("Exponential", "Beta"),
    ("Gamma", "Exponential"), ("Gamma", "Gumbel"), ("Gamma", "Normal"), ("Gumbel", "Normal"),
    ("Laplace", "Normal"), ("Normal", "Gumbel"), ("Normal", "Laplace"), ("Normal", "Uniform"),
    ("Pareto", "Exponential"), ("Pareto", "Gamma"), ("Pareto", "Normal"), ("Poisson", "Binomial"),
    ("Uniform", "Beta"), ("Uniform", "Exponential"), ("Uniform", "Gamma"), ("Uniform", "Gumbel"),
    ("Uniform", "Normal"), ("Uniform", "Pareto"),
]


@pytest.mark.parametrize("p_name,q_name", KL_PAIRS, ids=[f"{p}-{q}" for p, q in KL_PAIRS])
@pytest.mark.parametrize("shape", [(3,), (2, 4)], ids=str)
def test_kl_divergence_against_torch(p_name, q_name, shape):
    if (p_name, q_name) == ("Uniform", "Beta"):
        p_name = "UniformUnit"
    p_make, p_kinds = KL_MAKERS[p_name] if p_name in KL_MAKERS else _by_name(p_name)[:2]
    q_make, q_kinds = _by_name(q_name)[:2]
    p_arrays = _params(p_kinds, [shape] * len(p_kinds))
    q_arrays = _params(q_kinds, [shape] * len(q_kinds))
    if p_name == "Binomial":  # KL(Binomial || Binomial) needs equal total counts
        q_arrays[0] = p_arrays[0].copy()
    n_p = len(p_arrays)

    def run(D, *inputs):
        return D.kl_divergence(p_make(D, *inputs[:n_p]), q_make(D, *inputs[n_p:]))
    check_op(p_arrays + q_arrays, lambda *t: run(TD, *t), lambda *n: run(ND, *n))


MVN_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (2, 3))]


MVN_MAKERS = {
    "covariance": (lambda D, m, c: D.MultivariateNormal(m, covariance_matrix=c), _spd),
    "precision": (lambda D, m, c: D.MultivariateNormal(m, precision_matrix=c), _spd),
    "scale_tril": (lambda D, m, c: D.MultivariateNormal(m, scale_tril=c), _tril),
}


@pytest.mark.parametrize("kind", list(MVN_MAKERS))
@pytest.mark.parametrize("loc_shape,cov_batch", [((3,), ()), ((2, 3), ()), ((3,), (2,)), ((2, 1, 3), (4,))],
                         ids=str)
@pytest.mark.parametrize("method", ["log_prob", "entropy", "mean", "variance", "covariance_matrix",
                                    "precision_matrix", "scale_tril"])
def test_multivariate_normal_against_torch(kind, loc_shape, cov_batch, method):
    make, matrix = MVN_MAKERS[kind]
    loc = random_array(loc_shape)
    cov = matrix(cov_batch, loc_shape[-1])
    check_method(make, [loc, cov], method, random_array((2,) + loc_shape))


def _lowrank(D, m, w, d):
    return D.LowRankMultivariateNormal(m, w, d)


@pytest.mark.parametrize("method", ["log_prob", "entropy", "variance", "covariance_matrix", "precision_matrix",
                                    "scale_tril"])
@pytest.mark.parametrize("batch", [(), (2,)], ids=str)
def test_lowrank_multivariate_normal_against_torch(method, batch):
    loc, w, d = random_array(batch + (4,)), random_array((4, 2)), random_array(batch + (4,), low=0.5, high=2)
    value = random_array((3,) + batch + (4,)) if method == "log_prob" else None
    check_method(_lowrank, [loc, w, d], method, value)


@pytest.mark.parametrize("pair", ["mvn-mvn", "lowrank-lowrank", "mvn-lowrank", "lowrank-mvn"])
@pytest.mark.parametrize("batch", [(), (2,)], ids=str)
def test_multivariate_normal_kl_against_torch(pair, batch):
    inputs, makers = [], []
    for side in pair.split("-"):
        if side == "mvn":
            inputs += [random_array(batch + (3,)), _tril(batch, 3)]
            makers.append((2, lambda D, m, c: D.MultivariateNormal(m, scale_tril=c)))
        else:
            inputs += [random_array(batch + (3,)), random_array((3, 2)), random_array(batch + (3,), low=0.5, high=2)]
            makers.append((3, _lowrank))
    n_p = makers[0][0]

    def run(D, *x):
        return D.kl_divergence(makers[0][1](D, *x[:n_p]), makers[1][1](D, *x[n_p:]))
    check_op(inputs, lambda *t: run(TD, *t), lambda *n: run(ND, *n))


def test_independent_and_transformed_against_torch():
    loc, scale, value = random_array((2, 3)), random_array((2, 3), low=0.5, high=2), random_array((4, 2, 3))
    check_op([loc, scale, value], lambda m, s, x: TD.Independent(TD.Normal(m, s), 1).log_prob(x),
             lambda m, s, x: ND.Independent(ND.Normal(m, s), 1).log_prob(x))
    check_op([loc, scale], lambda m, s: TD.Independent(TD.Normal(m, s), 2).entropy(),
             lambda m, s: ND.Independent(ND.Normal(m, s), 2).entropy())
    check_op([loc, scale, loc[::-1].copy(), scale[::-1].copy()],
             lambda a, b, c, d: TD.kl_divergence(TD.Independent(TD.Normal(a, b), 1),
                                                 TD.Independent(TD.Normal(c, d), 1)),
             lambda a, b, c, d: ND.kl_divergence(ND.Independent(ND.Normal(a, b), 1),
                                                 ND.Independent(ND.Normal(c, d), 1)))

    def tanh_normal(D, T, m, s, x):
        dist = D.TransformedDistribution(D.Normal(m, s), [T.AffineTransform(0.5, 2.0), T.TanhTransform()])
        return dist.log_prob(x)
    squashed = np.tanh(random_array((4, 2, 3)))
    check_op([loc, scale, squashed], lambda *t: tanh_normal(TD, TD.transforms, *t),
             lambda *n: tanh_normal(ND, ND.transforms, *n))


def test_mixture_same_family_against_torch():
    logits, loc, scale = random_array((2, 3)), random_array((2, 3)), random_array((2, 3), low=0.5, high=2)
    value = random_array((4, 2))

    def make(D, lg, m, s):
        return D.MixtureSameFamily(D.Categorical(logits=lg), D.Normal(m, s))
    for method in ("mean", "variance"):
        check_op([logits, loc, scale], lambda *t: getattr(make(TD, *t), method),
                 lambda *n: getattr(make(ND, *n), method))
    check_op([logits, loc, scale, value], lambda a, b, c, x: make(TD, a, b, c).log_prob(x),
             lambda a, b, c, x: make(ND, a, b, c).log_prob(x))
    check_op([logits, loc, scale, value], lambda a, b, c, x: make(TD, a, b, c).cdf(x),
             lambda a, b, c, x: make(ND, a, b, c).cdf(x))

    def make_mvn(D, lg, m, s):
        return D.MixtureSameFamily(D.Categorical(logits=lg), D.Independent(D.Normal(m, s), 1))
    loc3, scale3, value3 = random_array((2, 3, 4)), random_array((2, 3, 4), low=0.5, high=2), random_array((5, 2, 4))
    check_op([logits, loc3, scale3, value3], lambda a, b, c, x: make_mvn(TD, a, b, c).log_prob(x),
             lambda a, b, c, x: make_mvn(ND, a, b, c).log_prob(x))
    mix = make_mvn(ND, *[ndgrad.tensor(a) for a in (logits, loc3, scale3)])
    assert tuple(mix.sample((7,)).shape) == (7, 2, 4)

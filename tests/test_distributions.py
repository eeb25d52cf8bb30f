"""ndgrad.distributions against torch.distributions: log_prob, cdf, icdf, entropy, moments and their
gradients on the same parameters; samples checked statistically (moments within bounds from the sample size)."""
import math

import numpy as np
import pytest
import torch
import torch.distributions as TD

import ndgrad
import ndgrad.distributions as ND
from ndgrad.autograd import gradcheck
from oracle import check_error, check_op, random_array

# How to draw each kind of parameter (float64 numpy arrays of a given shape).
KINDS = {
    "real": lambda s: random_array(s, low=-2, high=2),
    "pos": lambda s: random_array(s, low=0.5, high=2.5),
    "big": lambda s: random_array(s, low=2.5, high=6.0),
    "unit": lambda s: random_array(s, low=0.1, high=0.9),
    "simplex": lambda s: _normalized(random_array(s, low=0.1, high=1.0)),
    "count": lambda s: np.asarray(np.floor(random_array(s, low=1, high=8))),
}


def _normalized(a):
    return a / a.sum(-1, keepdims=True)


# name: (constructor from (module, *params), parameter kinds, methods to compare with torch)
UNIVARIATE = "log_prob entropy mean variance stddev mode"
CASES = {
    "Normal": (lambda D, a, b: D.Normal(a, b), ("real", "pos"), UNIVARIATE + " cdf icdf"),
    "Uniform": (lambda D, a, b: D.Uniform(a, a + b), ("real", "pos"), "log_prob entropy mean variance stddev cdf icdf"),
    "Exponential": (lambda D, a: D.Exponential(a), ("pos",), UNIVARIATE + " cdf icdf"),
    "Laplace": (lambda D, a, b: D.Laplace(a, b), ("real", "pos"), UNIVARIATE + " cdf icdf"),
    "Cauchy": (lambda D, a, b: D.Cauchy(a, b), ("real", "pos"), "log_prob entropy mode cdf icdf"),
    "StudentT": (lambda D, a, b, c: D.StudentT(a, b, c), ("big", "real", "pos"), UNIVARIATE),
    "Gamma": (lambda D, a, b: D.Gamma(a, b), ("pos", "pos"), UNIVARIATE),
    "Chi2": (lambda D, a: D.Chi2(a), ("big",), UNIVARIATE),
    "Beta": (lambda D, a, b: D.Beta(a, b), ("big", "big"), UNIVARIATE),
    "LogNormal": (lambda D, a, b: D.LogNormal(a, b), ("real", "pos"), UNIVARIATE + " cdf icdf"),
    "HalfNormal": (lambda D, a: D.HalfNormal(a), ("pos",), UNIVARIATE + " cdf icdf"),
    "HalfCauchy": (lambda D, a: D.HalfCauchy(a), ("pos",), "log_prob entropy mode cdf icdf"),
    "Gumbel": (lambda D, a, b: D.Gumbel(a, b), ("real", "pos"), UNIVARIATE + " cdf icdf"),
    "Weibull": (lambda D, a, b: D.Weibull(a, b), ("pos", "big"), UNIVARIATE + " cdf icdf"),
    "Pareto": (lambda D, a, b: D.Pareto(a, b), ("pos", "big"), UNIVARIATE + " cdf icdf"),
    "Bernoulli": (lambda D, p: D.Bernoulli(probs=p), ("unit",), "log_prob entropy mean variance"),
    "BernoulliLogits": (lambda D, a: D.Bernoulli(logits=a), ("real",), "log_prob entropy mean variance"),
    "Binomial": (lambda D, n, p: D.Binomial(n, probs=p), ("count", "unit"), "log_prob mean variance mode"),
    "BinomialLogits": (lambda D, a: D.Binomial(5, logits=a), ("real",), "log_prob entropy mean variance"),
    "Poisson": (lambda D, a: D.Poisson(a), ("big",), "log_prob mean variance mode"),
    "Geometric": (lambda D, p: D.Geometric(probs=p), ("unit",), "log_prob entropy mean variance mode"),
    "GeometricLogits": (lambda D, a: D.Geometric(logits=a), ("real",), "log_prob entropy mean variance"),
    "NegativeBinomial": (lambda D, n, p: D.NegativeBinomial(n, probs=p), ("big", "unit"),
                         "log_prob mean variance mode"),
    "NegativeBinomialLogits": (lambda D, n, a: D.NegativeBinomial(n, logits=a), ("big", "real"),
                               "log_prob mean variance"),
}

# Multivariate families: the parameter's last dim is the event (or the category count).
EVENT_CASES = {
    "Categorical": (lambda D, p: D.Categorical(probs=p), ("simplex",), "log_prob entropy"),
    "CategoricalLogits": (lambda D, a: D.Categorical(logits=a), ("real",), "log_prob entropy"),
    "OneHotCategorical": (lambda D, p: D.OneHotCategorical(probs=p), ("simplex",), "log_prob entropy mean variance"),
    "Multinomial": (lambda D, p: D.Multinomial(6, probs=p), ("simplex",), "log_prob entropy mean variance"),
    "MultinomialLogits": (lambda D, a: D.Multinomial(4, logits=a), ("real",), "log_prob mean variance"),
    "Dirichlet": (lambda D, a: D.Dirichlet(a), ("pos",), "log_prob entropy mean variance mode"),
}

BATCH_SHAPES = [(3,), (2, 3), (), (0, 2), (1, 4)]
DISCRETE_VALUES = {"Bernoulli", "BernoulliLogits", "Binomial", "BinomialLogits", "Poisson", "Geometric",
                   "GeometricLogits", "NegativeBinomial", "NegativeBinomialLogits", "Categorical",
                   "CategoricalLogits", "OneHotCategorical", "Multinomial", "MultinomialLogits"}


def _params(kinds, shapes):
    return [KINDS[k](s) for k, s in zip(kinds, shapes)]


def _value(make, arrays, sample_shape=(2,)):
    """A value in the support, drawn by torch from the torch distribution (used as a fixed input)."""
    torch.manual_seed(0)
    with torch.no_grad():
        dist = make(TD, *[torch.from_numpy(a) for a in arrays])
        return dist.sample(sample_shape).numpy()


def _compare(name, make, arrays, method, shape_note=""):
    discrete = name in DISCRETE_VALUES
    if method in ("log_prob", "cdf"):
        value = _value(make, arrays)
        if discrete:
            value = value.astype(np.int64 if name.startswith("Categorical") else np.float64)
        if method == "cdf" and name in ("Uniform",):
            value = np.clip(value, arrays[0], arrays[0] + arrays[1] - 1e-9)

        def run(D, *inputs):
            return getattr(make(D, *inputs[:-1]), method)(inputs[-1])
        inputs = arrays + [value]
    elif method == "icdf":
        probs = random_array(np.broadcast_shapes(*[a.shape for a in arrays]), low=0.05, high=0.95)

        def run(D, *inputs):
            return make(D, *inputs[:-1]).icdf(inputs[-1])
        inputs = arrays + [probs]
    elif method == "entropy":
        def run(D, *inputs):
            return make(D, *inputs).entropy()
        inputs = arrays
    else:
        def run(D, *inputs):
            return getattr(make(D, *inputs), method)
        inputs = arrays
    check_op(inputs, lambda *t: run(TD, *t), lambda *n: run(ND, *n))


def check_method(make, arrays, method, value=None):
    """make(TD, *arrays) against make(ND, *arrays): ``log_prob(value)``, ``entropy()`` or the property ``method``."""
    if method == "log_prob":
        check_op(arrays + [value], lambda *t: make(TD, *t[:-1]).log_prob(t[-1]),
                 lambda *n: make(ND, *n[:-1]).log_prob(n[-1]))
    elif method == "entropy":
        check_op(arrays, lambda *t: make(TD, *t).entropy(), lambda *n: make(ND, *n).entropy())
    else:
        check_op(arrays, lambda *t: getattr(make(TD, *t), method), lambda *n: getattr(make(ND, *n), method))


# torch itself fails on these (size-0 batches meet a reshape(..., -1) in its constraint checks or a max())
TORCH_FAILS_ON_EMPTY = {"Beta", "BinomialLogits"}


def _table(cases, shapes):
    rows = []
    for name, (make, kinds, methods) in cases.items():
        for method in methods.split():
            for shape in shapes:
                if 0 in shape and name in TORCH_FAILS_ON_EMPTY:
                    continue
                rows.append(pytest.param(name, method, shape, id=f"{name}-{method}-{shape}"))
    return rows


@pytest.mark.parametrize("name,method,shape", _table(CASES, BATCH_SHAPES))
def test_univariate_against_torch(name, method, shape):
    make, kinds, _ = CASES[name]
    _compare(name, make, _params(kinds, [shape] * len(kinds)), method)


@pytest.mark.parametrize("name", ["Normal", "Gamma", "Laplace", "StudentT", "Binomial", "Pareto"])
def test_parameters_broadcast(name):
    make, kinds, _ = CASES[name]
    shapes = [(2, 1), (3,), (1,)][:len(kinds)]
    arrays = _params(kinds, shapes)
    _compare(name, make, arrays, "log_prob")
    _compare(name, make, arrays, "mean")


def test_python_number_parameters():
    for make in (lambda D: D.Normal(0.5, 2.0), lambda D: D.Gamma(2.0, 3.0), lambda D: D.Bernoulli(0.3),
                 lambda D: D.Beta(2.0, 3.0), lambda D: D.Uniform(-1.0, 2.0), lambda D: D.Poisson(2.0)):
        t, n = make(TD), make(ND)
        assert tuple(n.batch_shape) == tuple(t.batch_shape) == ()
        np.testing.assert_allclose(n.mean.numpy(), t.mean.numpy(), rtol=1e-6)
        assert n.mean.dtype == ndgrad.float32


@pytest.mark.parametrize("name,method,shape", _table(EVENT_CASES, [(3,), (2, 4), (1, 3)]))
def test_event_families_against_torch(name, method, shape):
    make, kinds, _ = EVENT_CASES[name]
    _compare(name, make, _params(kinds, [shape] * len(kinds)), method)


def test_noncontiguous_parameters():
    loc = random_array((3, 4))
    scale = random_array((4, 3), low=0.5, high=2)
    value = random_array((3, 4))
    check_op([loc, scale, value], lambda a, b, x: TD.Normal(a, b.T).log_prob(x),
             lambda a, b, x: ND.Normal(a, b.T).log_prob(x))


def _by_name(name):
    return CASES[name] if name in CASES else EVENT_CASES[name]


def _spd(batch, n):
    a = random_array(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _tril(batch, n):
    return np.linalg.cholesky(_spd(batch, n))


# Uniform against Beta needs [low, high) inside [0, 1]: a Uniform on sub-intervals of (0, 1)
KL_MAKERS = {"UniformUnit": (lambda D, a, b: D.Uniform(a * 0.5, a * 0.5 + b * 0.5), ("unit", "unit"))}


# -- sampling: shapes, seeds, moments -------------------------------------------------------------------------
N_DRAWS = 20000

# (name, constructor on ndgrad, whether the variance is finite)
SAMPLED = [
    ("Normal", lambda: ND.Normal(ndgrad.tensor([0.5, -1.0]), ndgrad.tensor([1.0, 2.0]))),
    ("Uniform", lambda: ND.Uniform(ndgrad.tensor([0.0, -1.0]), ndgrad.tensor([1.0, 3.0]))),
    ("Exponential", lambda: ND.Exponential(ndgrad.tensor([0.5, 3.0]))),
    ("Laplace", lambda: ND.Laplace(ndgrad.tensor([0.5, -1.0]), ndgrad.tensor([1.0, 0.3]))),
    ("StudentT", lambda: ND.StudentT(ndgrad.tensor([5.0, 9.0]), 1.0, 2.0)),
    ("Gamma", lambda: ND.Gamma(ndgrad.tensor([0.3, 4.0]), ndgrad.tensor([1.0, 2.0]))),
    ("Chi2", lambda: ND.Chi2(ndgrad.tensor([1.0, 6.0]))),
    ("Beta", lambda: ND.Beta(ndgrad.tensor([0.5, 3.0]), ndgrad.tensor([2.0, 1.5]))),
    ("Dirichlet", lambda: ND.Dirichlet(ndgrad.tensor([0.5, 2.0, 4.0]))),
    ("LogNormal", lambda: ND.LogNormal(ndgrad.tensor([0.0, 0.5]), ndgrad.tensor([0.3, 0.5]))),
    ("HalfNormal", lambda: ND.HalfNormal(ndgrad.tensor([1.0, 2.0]))),
    ("Gumbel", lambda: ND.Gumbel(ndgrad.tensor([1.0, -2.0]), ndgrad.tensor([2.0, 0.5]))),
    ("Weibull", lambda: ND.Weibull(ndgrad.tensor([1.0, 2.0]), ndgrad.tensor([1.5, 3.0]))),
    ("Pareto", lambda: ND.Pareto(ndgrad.tensor([1.0, 2.0]), ndgrad.tensor([5.0, 6.0]))),
    ("Bernoulli", lambda: ND.Bernoulli(ndgrad.tensor([0.2, 0.9]))),
    ("Binomial", lambda: ND.Binomial(ndgrad.tensor([10.0, 3.0]), ndgrad.tensor([0.2, 0.7]))),
    ("Poisson", lambda: ND.Poisson(ndgrad.tensor([0.5, 7.0]))),
    ("Geometric", lambda: ND.Geometric(ndgrad.tensor([0.2, 0.7]))),
    ("NegativeBinomial", lambda: ND.NegativeBinomial(ndgrad.tensor([3.0, 10.0]), ndgrad.tensor([0.3, 0.6]))),
    ("OneHotCategorical", lambda: ND.OneHotCategorical(ndgrad.tensor([0.2, 0.5, 0.3]))),
    ("Multinomial", lambda: ND.Multinomial(7, ndgrad.tensor([0.2, 0.5, 0.3]))),
    ("MultivariateNormal", lambda: ND.MultivariateNormal(ndgrad.tensor([1.0, -1.0]),
                                                         ndgrad.tensor([[2.0, 0.5], [0.5, 1.0]]))),
    ("LowRankMultivariateNormal", lambda: ND.LowRankMultivariateNormal(
        ndgrad.tensor([1.0, -1.0, 0.0]), ndgrad.tensor([[1.0], [0.5], [-1.0]]), ndgrad.tensor([0.5, 1.0, 2.0]))),
    ("MixtureSameFamily", lambda: ND.MixtureSameFamily(ND.Categorical(ndgrad.tensor([0.3, 0.7])),
                                                       ND.Normal(ndgrad.tensor([-2.0, 3.0]), ndgrad.tensor([1.0, 0.5])))),
]


@pytest.mark.parametrize("name,make", SAMPLED, ids=[s[0] for s in SAMPLED])
def test_sample_moments(name, make):
    """Sample mean within 5 standard errors of .mean; sample variance within 5 of its own standard errors."""
    ndgrad.manual_seed(1)
    dist = make()
    draws = dist.sample((N_DRAWS,))
    assert tuple(draws.shape) == (N_DRAWS,) + tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert draws.dtype == dist.mean.dtype
    x = draws.numpy().astype(np.float64)
    mean, var = dist.mean.detach().numpy(), dist.variance.detach().numpy()
    assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / N_DRAWS) + 1e-12), (x.mean(0), mean)
    centered = (x - x.mean(0)) ** 2
    var_se = np.sqrt(centered.var(0) / N_DRAWS)
    assert np.all(np.abs(x.var(0) - var) < 5 * var_se + 1e-12), (x.var(0), var)
    assert bool(dist.support.check(draws).all())


def test_categorical_sample_frequencies():
    ndgrad.manual_seed(2)
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    draws = ND.Categorical(ndgrad.tensor(probs)).sample((N_DRAWS,))
    assert draws.dtype == ndgrad.int64 and tuple(draws.shape) == (N_DRAWS, 2)
    freq = np.stack([(draws.numpy() == k).mean(0) for k in range(3)], -1)
    assert np.all(np.abs(freq - probs) < 5 * np.sqrt(probs * (1 - probs) / N_DRAWS))


def test_manual_seed_makes_draws_repeatable():
    dist = ND.Gamma(ndgrad.tensor([0.5, 2.0]), 1.0)
    ndgrad.manual_seed(7)
    first = dist.sample((5,)).numpy()
    ndgrad.manual_seed(7)
    np.testing.assert_array_equal(dist.sample((5,)).numpy(), first)


def test_sample_is_detached_and_rsample_is_not():
    loc = ndgrad.tensor([0.0, 1.0], requires_grad=True)
    dist = ND.Normal(loc, 1.0)
    assert not dist.sample().requires_grad
    assert dist.rsample((3,)).requires_grad
    assert not ND.Bernoulli(0.3).has_rsample and ND.Normal(0.0, 1.0).has_rsample
    with pytest.raises(NotImplementedError):
        ND.Poisson(2.0).rsample()


# -- rsample gradients ----------------------------------------------------------------------------------------
def test_normal_rsample_gradient_is_the_analytic_one():
    loc = ndgrad.tensor([0.5, -1.0], requires_grad=True)
    scale = ndgrad.tensor([2.0, 0.5], requires_grad=True)
    x = ND.Normal(loc, scale).rsample((100,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [100.0, 100.0])
    eps = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-5)


# (name, make(params...), parameter values): per-draw gradients of a reparameterised draw average to the
# gradient of the mean (pathwise derivative), checked within 5 standard errors.
RSAMPLE = [
    ("Normal", lambda a, b: ND.Normal(a, b), (0.5, 2.0)),
    ("Uniform", lambda a, b: ND.Uniform(a, b), (-1.0, 2.0)),
    ("Exponential", lambda a: ND.Exponential(a), (1.5,)),
    ("Laplace", lambda a, b: ND.Laplace(a, b), (0.5, 1.5)),
    ("Gamma", lambda a, b: ND.Gamma(a, b), (0.4, 2.0)),
    ("GammaLarge", lambda a, b: ND.Gamma(a, b), (5.0, 0.5)),
    ("Chi2", lambda a: ND.Chi2(a), (3.0,)),
    ("Beta", lambda a, b: ND.Beta(a, b), (0.7, 2.5)),
    ("StudentT", lambda a, b, c: ND.StudentT(a, b, c), (6.0, 1.0, 2.0)),
    ("LogNormal", lambda a, b: ND.LogNormal(a, b), (0.2, 0.4)),
    ("HalfNormal", lambda a: ND.HalfNormal(a), (1.5,)),
    ("Weibull", lambda a, b: ND.Weibull(a, b), (1.5, 2.0)),
    ("Pareto", lambda a, b: ND.Pareto(a, b), (1.5, 5.0)),
]


@pytest.mark.parametrize("name,make,values", RSAMPLE, ids=[r[0] for r in RSAMPLE])
def test_rsample_gradient_matches_the_gradient_of_the_mean(name, make, values):
    ndgrad.manual_seed(3)
    n = 20000
    params = [ndgrad.full((n,), v, dtype=ndgrad.float64, requires_grad=True) for v in values]
    make(*params).rsample().sum().backward()
    scalars = [ndgrad.tensor(v, dtype=ndgrad.float64, requires_grad=True) for v in values]
    expected = ndgrad.autograd.grad(make(*scalars).mean, scalars, allow_unused=True)
    for p, e in zip(params, expected):
        e = 0.0 if e is None else e  # the mean does not depend on this parameter (a scale, say)
        g = p.grad.numpy()
        assert abs(g.mean() - float(e)) < 5 * g.std() / math.sqrt(n) + 1e-9, (name, g.mean(), float(e))


def test_dirichlet_rsample_gradient_matches_the_gradient_of_the_mean():
    ndgrad.manual_seed(4)
    n = 20000
    conc = ndgrad.tensor(np.tile([0.6, 2.0, 3.0], (n, 1)), requires_grad=True)
    weights = ndgrad.tensor([1.0, -2.0, 0.5], dtype=ndgrad.float64)
    (ND.Dirichlet(conc).rsample() * weights).sum().backward()
    scalar = ndgrad.tensor([0.6, 2.0, 3.0], dtype=ndgrad.float64, requires_grad=True)
    (expected,) = ndgrad.autograd.grad((ND.Dirichlet(scalar).mean * weights).sum(), [scalar])
    g = conc.grad.numpy()
    assert np.all(np.abs(g.mean(0) - expected.numpy()) < 5 * g.std(0) / math.sqrt(n))


def test_gamma_implicit_gradient_against_inverse_cdf():
    """dx/dalpha at fixed u = F(x; alpha): finite differences of scipy's inverse incomplete gamma agree."""
    from scipy.special import gammainc, gammaincinv
    from ndgrad.distributions.gamma import standard_gamma_grad
    alpha = np.array([0.05, 0.3, 1.0, 2.5, 10.0, 80.0])
    x = np.array([1e-6, 0.02, 0.7, 4.0, 9.0, 95.0])
    u = gammainc(alpha, x)
    h = 1e-6 * alpha
    reference = (gammaincinv(alpha + h, u) - gammaincinv(alpha - h, u)) / (2 * h)
    np.testing.assert_allclose(standard_gamma_grad(alpha, x), reference, rtol=1e-5)
    expected_torch = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x)).numpy()
    np.testing.assert_allclose(standard_gamma_grad(alpha, x), expected_torch, rtol=1e-3)


# -- gradcheck of the private backward rules ------------------------------------------------------------------
def test_gradcheck_linalg_helpers():
    from ndgrad.distributions import _linalg
    a = ndgrad.tensor(_spd((2,), 3), requires_grad=True)
    assert gradcheck(lambda m: _linalg.cholesky((m + m.mT) / 2), (a,))
    low = ndgrad.tensor(_tril((2,), 3), requires_grad=True)
    b = ndgrad.tensor(random_array((2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda l, r: _linalg.solve_triangular(l, r, upper=False), (low, b))
    assert gradcheck(lambda l, r: _linalg.solve_triangular(l.mT, r, upper=True), (low, b))
    assert gradcheck(lambda m: _linalg.inverse(m), (a,))


def test_gradcheck_log_probs_float64():
    f64 = ndgrad.float64
    loc = ndgrad.tensor(random_array((3,)), requires_grad=True)
    scale = ndgrad.tensor([0.5, 1.0, 2.0], dtype=f64, requires_grad=True)
    value = ndgrad.tensor(random_array((3,)))
    assert gradcheck(lambda m, s: ND.Normal(m, s).log_prob(value), (loc, scale))
    conc = ndgrad.tensor([0.7, 1.5, 3.0], dtype=f64, requires_grad=True)
    assert gradcheck(lambda c, r: ND.Gamma(c, r).log_prob(value.abs() + 0.1), (conc, scale))
    assert gradcheck(lambda c: ND.Dirichlet(c).entropy(), (conc,))
    x = ndgrad.tensor([0.5, 1.0, 2.5], dtype=f64, requires_grad=True)
    assert gradcheck(lambda v: ND.Gamma(conc.detach(), 1.5).cdf(v), (x,))
    low = ndgrad.tensor(_tril((), 3), requires_grad=True)
    assert gradcheck(lambda m, l: ND.MultivariateNormal(m, scale_tril=l.tril()).log_prob(value), (loc, low))

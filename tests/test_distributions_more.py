"""ndgrad.distributions against torch: the less common families (ContinuousBernoulli, VonMises, FisherSnedecor,
Kumaraswamy, InverseGamma, the relaxed families, LogisticNormal, LKJCholesky, Wishart)."""
import numpy as np
import pytest
import torch
import torch.distributions as TD

import ndgrad
import ndgrad.distributions as ND
from oracle import check_op, random_array
from test_distributions import (CASES, KINDS, KL_MAKERS, N_DRAWS, _compare, _params, _spd, _table, _tril,
                                check_method)


# -- the rest of the families ----------------------------------------------------------------------------------
MORE_CASES = {
    "ContinuousBernoulli": (lambda D, p: D.ContinuousBernoulli(probs=p), ("unit",),
                            "log_prob entropy mean variance cdf icdf"),
    "ContinuousBernoulliLogits": (lambda D, a: D.ContinuousBernoulli(logits=a), ("real",), "log_prob entropy mean"),
    "VonMises": (lambda D, a, b: D.VonMises(a, b), ("real", "big"), "log_prob mean variance"),
    "VonMisesSmall": (lambda D, a, b: D.VonMises(a, b), ("real", "pos"), "log_prob variance"),
    "FisherSnedecor": (lambda D, a, b: D.FisherSnedecor(a, b * 2), ("big", "big"), "log_prob mean variance mode"),
    "Kumaraswamy": (lambda D, a, b: D.Kumaraswamy(a, b), ("big", "pos"), "log_prob entropy mean variance cdf"),
    "InverseGamma": (lambda D, a, b: D.InverseGamma(a, b), ("big", "pos"), "log_prob entropy mean variance mode"),
    "RelaxedBernoulli": (lambda D, t, p: D.RelaxedBernoulli(t, probs=p), ("pos", "unit"), "log_prob"),
    "RelaxedBernoulliLogits": (lambda D, t, a: D.RelaxedBernoulli(t, logits=a), ("pos", "real"), "log_prob"),
    "LogisticNormal": (lambda D, a, b: D.LogisticNormal(a, b), ("real", "pos"), "log_prob"),
    "GeneralizedPareto": (lambda D, a, b, c: D.GeneralizedPareto(a, b, c * 0.2), ("real", "pos", "real"),
                          "entropy mean variance icdf"),
    "GeneralizedParetoZero": (lambda D, a, b, c: D.GeneralizedPareto(a, b, c * 0.0), ("real", "pos", "real"),
                              "icdf"),
}
MORE_EVENT_CASES = {
    "RelaxedOneHotCategorical": (lambda D, t, p: D.RelaxedOneHotCategorical(t[..., 0], probs=p), ("pos", "simplex"),
                                 "log_prob"),
}


@pytest.mark.parametrize("name,method,shape", _table(MORE_CASES, [(3,), (2, 3), ()]))
def test_more_families_against_torch(name, method, shape):
    make, kinds, _ = MORE_CASES[name]
    _compare(name, make, _params(kinds, [shape] * len(kinds)), method)


@pytest.mark.parametrize("name", ["GeneralizedPareto", "GeneralizedParetoZero"])
@pytest.mark.parametrize("method", ["log_prob", "cdf"])
def test_generalized_pareto_float32_against_torch(name, method):
    """float32 only: torch's log_prob/cdf compare concentration with a float32 zero and fail on float64."""
    make, kinds, _ = MORE_CASES[name]
    _compare(name, make, [a.astype(np.float32) for a in _params(kinds, [(3,)] * 3)], method)


def test_relaxed_one_hot_categorical_against_torch():
    make = MORE_EVENT_CASES["RelaxedOneHotCategorical"][0]
    _compare("RelaxedOneHotCategorical", make, [KINDS["pos"]((1,)), KINDS["simplex"]((2, 4))], "log_prob")


def test_lkj_cholesky_against_torch():
    conc = random_array((2,), low=0.5, high=3)
    ndgrad.manual_seed(5)
    value = ND.LKJCholesky(4, ndgrad.tensor(conc)).sample((3,)).numpy()
    check_op([conc, value], lambda c, x: TD.LKJCholesky(4, c).log_prob(x),
             lambda c, x: ND.LKJCholesky(4, c).log_prob(x))


@pytest.mark.parametrize("kind", ["covariance_matrix", "precision_matrix", "scale_tril"])
@pytest.mark.parametrize("method", ["log_prob", "entropy", "mean", "variance", "mode"])
def test_wishart_against_torch(kind, method):
    df = random_array((2,), low=5, high=8)
    matrix = _tril((2,), 3) if kind == "scale_tril" else _spd((2,), 3)

    def make(D, d, m):
        return D.Wishart(d, **{kind: m})
    value = None
    if method == "log_prob":
        ndgrad.manual_seed(6)
        value = make(ND, ndgrad.tensor(df), ndgrad.tensor(matrix)).sample((2,)).numpy()
    check_method(make, [df, matrix], method, value)


MORE_KL = [("ContinuousBernoulli", "ContinuousBernoulli"), ("Beta", "ContinuousBernoulli"),
           ("ContinuousBernoulli", "Exponential"), ("ContinuousBernoulli", "Normal"),
           ("ContinuousBernoulli", "Uniform"), ("Normal", "ContinuousBernoulli"), ("Uniform", "ContinuousBernoulli")]


@pytest.mark.parametrize("p_name,q_name", MORE_KL, ids=[f"{p}-{q}" for p, q in MORE_KL])
def test_continuous_bernoulli_kl_against_torch(p_name, q_name):
    makers = dict(CASES, **MORE_CASES, UniformUnit=KL_MAKERS["UniformUnit"])
    if (p_name, q_name) == ("Uniform", "ContinuousBernoulli"):
        p_name = "UniformUnit"
    (p_make, p_kinds), (q_make, q_kinds) = makers[p_name][:2], makers[q_name][:2]
    p_arrays, q_arrays = _params(p_kinds, [(3,)] * len(p_kinds)), _params(q_kinds, [(3,)] * len(q_kinds))
    n_p = len(p_arrays)

    def run(D, *x):
        return D.kl_divergence(p_make(D, *x[:n_p]), q_make(D, *x[n_p:]))
    check_op(p_arrays + q_arrays, lambda *t: run(TD, *t), lambda *n: run(ND, *n))


MORE_SAMPLED = [
    ("ContinuousBernoulli", lambda: ND.ContinuousBernoulli(ndgrad.tensor([0.2, 0.5, 0.8]))),
    ("FisherSnedecor", lambda: ND.FisherSnedecor(ndgrad.tensor([5.0, 8.0]), ndgrad.tensor([12.0, 15.0]))),
    ("Kumaraswamy", lambda: ND.Kumaraswamy(ndgrad.tensor([2.0, 0.7]), ndgrad.tensor([3.0, 1.5]))),
    ("InverseGamma", lambda: ND.InverseGamma(ndgrad.tensor([5.0, 7.0]), ndgrad.tensor([1.0, 2.0]))),
    ("GeneralizedPareto", lambda: ND.GeneralizedPareto(ndgrad.tensor([0.0, 1.0]), ndgrad.tensor([1.0, 2.0]),
                                                       ndgrad.tensor([0.1, -0.3]))),
    ("VonMisesMean", lambda: ND.VonMises(ndgrad.tensor([0.5, -1.0]), ndgrad.tensor([4.0, 10.0]))),
]


@pytest.mark.parametrize("name,make", MORE_SAMPLED, ids=[s[0] for s in MORE_SAMPLED])
def test_more_sample_moments(name, make):
    ndgrad.manual_seed(8)
    dist = make()
    x = dist.sample((N_DRAWS,)).numpy().astype(np.float64)
    if name == "VonMisesMean":  # circular: the mean direction and the circular variance
        direction = np.arctan2(np.sin(x).mean(0), np.cos(x).mean(0))
        circular_var = 1 - np.hypot(np.sin(x).mean(0), np.cos(x).mean(0))
        assert np.all(np.abs(direction - dist.mean.numpy()) < 0.02)
        assert np.all(np.abs(circular_var - dist.variance.numpy()) < 0.01)
        return
    mean, var = dist.mean.detach().numpy(), dist.variance.detach().numpy()
    assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / N_DRAWS))


def test_relaxed_samples_approach_discrete_at_low_temperature():
    ndgrad.manual_seed(9)
    probs = ndgrad.tensor([0.2, 0.7])
    draws = ND.RelaxedBernoulli(ndgrad.tensor(0.05), probs=probs).rsample((N_DRAWS,)).numpy()
    assert np.all(np.abs((draws > 0.5).mean(0) - probs.numpy()) < 5 * np.sqrt(0.25 / N_DRAWS))
    onehot = ND.RelaxedOneHotCategorical(ndgrad.tensor(0.05), probs=ndgrad.tensor([0.1, 0.3, 0.6])).rsample((N_DRAWS,))
    np.testing.assert_allclose(onehot.numpy().sum(-1), 1.0, rtol=1e-5)
    freq = np.bincount(onehot.numpy().argmax(-1), minlength=3) / N_DRAWS
    assert np.all(np.abs(freq - [0.1, 0.3, 0.6]) < 5 * np.sqrt(0.25 / N_DRAWS))


def test_straight_through_passes_gradients_to_probs():
    """The value is a one-hot draw; the gradient is that of the (normalised) probs, whatever was drawn."""
    weights = [1.0, 2.0, 3.0]
    grads = []
    for D, lib in ((ND, ndgrad), (TD, torch)):
        probs = lib.tensor([0.2, 0.3, 0.6], requires_grad=True)
        sample = D.OneHotCategoricalStraightThrough(probs=probs).rsample((4,))
        assert bool(((sample == 0) | (sample == 1)).all()) and bool((sample.sum(-1) == 1).all())
        (sample * lib.tensor(weights)).sum().backward()
        grads.append(probs.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_wishart_and_lkj_sample_moments():
    ndgrad.manual_seed(10)
    cov = np.array([[2.0, 0.3], [0.3, 0.5]])
    wishart = ND.Wishart(ndgrad.tensor(6.0, dtype=ndgrad.float64), covariance_matrix=ndgrad.tensor(cov))
    draws = wishart.sample((N_DRAWS,)).numpy()
    se = np.sqrt(wishart.variance.numpy() / N_DRAWS)
    assert np.all(np.abs(draws.mean(0) - wishart.mean.numpy()) < 5 * se)
    assert bool(ND.constraints.positive_definite.check(ndgrad.tensor(draws[:50])).all())
    for dim, eta in ((3, 2.0), (4, 0.7)):
        lkj = ND.LKJCholesky(dim, ndgrad.tensor(eta, dtype=ndgrad.float64))
        factors = lkj.sample((N_DRAWS,)).numpy()
        corr = factors @ np.swapaxes(factors, -1, -2)
        np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, rtol=1e-12)
        # every LKJ(eta) correlation has (r + 1) / 2 ~ Beta(eta - 1 + d / 2, same): E r = 0, Var r = 1 / (2 eta + d - 1)
        rows, cols = np.tril_indices(dim, -1)
        off = corr[:, rows, cols]
        var = 1 / (2 * eta + dim - 1)
        assert np.all(np.abs(off.mean(0)) < 5 * np.sqrt(var / N_DRAWS))
        var_se = np.sqrt(((off - off.mean(0)) ** 2).var(0) / N_DRAWS)
        assert np.all(np.abs(off.var(0) - var) < 5 * var_se), (dim, off.var(0), var)


def test_gamma_cdf_gradient_with_respect_to_concentration_is_refused_like_torch():
    for D, lib in ((TD, torch), (ND, ndgrad)):
        conc = lib.tensor([1.5, 2.0], dtype=lib.float64, requires_grad=True)
        cdf = D.Gamma(conc, 1.0).cdf(lib.tensor([0.5, 1.0], dtype=lib.float64))
        with pytest.raises(RuntimeError, match="not implemented"):
            cdf.sum().backward()


def test_wishart_kl_by_bregman_divergence_against_torch():
    """No closed form is registered: both libraries fall back to the exponential-family Bregman rule."""
    def run(D, df_p, cov_p, df_q, cov_q):
        return D.kl_divergence(D.Wishart(df_p, covariance_matrix=cov_p), D.Wishart(df_q, covariance_matrix=cov_q))
    inputs = [random_array((2,), low=4, high=7), _spd((2,), 3), random_array((2,), low=4, high=7), _spd((2,), 3)]
    check_op(inputs, lambda *t: run(TD, *t), lambda *n: run(ND, *n))

"""ndgrad.distributions against torch: transforms, constraints, biject_to / transform_to, argument and sample
validation (the errors), expand, enumerate_support and the other shared Distribution machinery."""
import warnings

import numpy as np
import pytest
import torch
import torch.distributions as TD

import ndgrad
import ndgrad.distributions as ND
from oracle import check_error, check_op, random_array
from test_distributions import _tril

# name, transform from (transforms module, library), input kind, input shape
TRANSFORMS = [
    ("Exp", lambda T, L: T.ExpTransform(), "real", (2, 3)),
    ("Affine", lambda T, L: T.AffineTransform(0.5, -2.0), "real", (2, 3)),
    ("AffineTensor", lambda T, L: T.AffineTransform(L.tensor([1.0, 2.0, 3.0]), L.tensor([0.5, -1.0, 2.0])),
     "real", (2, 3)),
    ("AffineEvent", lambda T, L: T.AffineTransform(L.tensor([1.0, 2.0, 3.0]), L.tensor([0.5, -1.0, 2.0]),
                                                   event_dim=1), "real", (2, 3)),
    ("Sigmoid", lambda T, L: T.SigmoidTransform(), "real", (2, 3)),
    ("Tanh", lambda T, L: T.TanhTransform(), "real", (2, 3)),
    ("Softplus", lambda T, L: T.SoftplusTransform(), "real", (2, 3)),
    ("Power", lambda T, L: T.PowerTransform(L.tensor(2.5, dtype=L.float64)), "pos", (2, 3)),
    ("StickBreaking", lambda T, L: T.StickBreakingTransform(), "real", (2, 3)),
    ("LowerCholesky", lambda T, L: T.LowerCholeskyTransform(), "real", (2, 3, 3)),
    ("CorrCholesky", lambda T, L: T.CorrCholeskyTransform(), "real", (2, 3)),
    ("Compose", lambda T, L: T.ComposeTransform([T.AffineTransform(0.0, 2.0), T.ExpTransform()]), "real", (2, 3)),
    ("Independent", lambda T, L: T.IndependentTransform(T.ExpTransform(), 1), "real", (2, 3)),
    ("Reshape", lambda T, L: T.ReshapeTransform((3,), (3, 1)), "real", (2, 3)),
    ("Inverse", lambda T, L: T.ExpTransform().inv, "pos", (2, 3)),
    ("ComposeInverse", lambda T, L: T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 3.0)]).inv,
     "big", (2, 3)),
]
RANGES = {"real": (-2, 2), "pos": (0.5, 2.5), "big": (2.5, 6)}


def _lib(D):
    return torch if D is TD else ndgrad


@pytest.mark.parametrize("name,make,kind,shape", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transform_forward_inverse_and_log_det_against_torch(name, make, kind, shape):
    low, high = RANGES[kind]
    x = random_array(shape, low=low, high=high)

    def forward(D, x):
        return make(D.transforms, _lib(D))(x)

    def log_det(D, x):
        t = make(D.transforms, _lib(D))
        return t.log_abs_det_jacobian(x, t(x))

    def round_trip(D, x):
        t = make(D.transforms, _lib(D))
        return t.inv(t(x))
    check_op([x], lambda v: forward(TD, v), lambda v: forward(ND, v))
    if name != "LowerCholesky":  # torch defines no log-det for it (not bijective on its domain)
        check_op([x], lambda v: log_det(TD, v), lambda v: log_det(ND, v))
    check_op([x], lambda v: round_trip(TD, v), lambda v: round_trip(ND, v))
    t, n = make(TD.transforms, torch), make(ND.transforms, ndgrad)
    assert repr(n.domain) == repr(t.domain) and repr(n.codomain) == repr(t.codomain)
    assert n.bijective == t.bijective
    assert tuple(n.forward_shape(shape)) == tuple(t.forward_shape(shape))


def test_softmax_and_abs_transforms():
    x = random_array((2, 4))
    check_op([x], lambda v: TD.transforms.SoftmaxTransform()(v), lambda v: ND.transforms.SoftmaxTransform()(v))
    check_op([x], lambda v: TD.transforms.AbsTransform()(v), lambda v: ND.transforms.AbsTransform()(v))


def test_transform_cache_and_inverse_identity():
    t = ND.transforms.ExpTransform(cache_size=1)
    x = ndgrad.tensor([0.5, 1.0])
    y = t(x)
    assert t.inv(y) is x  # the cached pair: the inverse of a value just produced is exact
    assert t.inv.inv is t
    assert ND.transforms.ExpTransform() == ND.transforms.ExpTransform()
    check_error(lambda: ND.transforms.ExpTransform(cache_size=2), "cache_size must be 0 or 1", ValueError)
    check_error(lambda: ND.transforms.ReshapeTransform((2, 3), (4,)), "different numbers of elements", ValueError)


CONSTRAINTS = [
    ("real", lambda C: C.real, [[0.0, float("nan"), 3.0]]),
    ("positive", lambda C: C.positive, [[0.5, 0.0, -1.0]]),
    ("nonnegative", lambda C: C.nonnegative, [[0.5, 0.0, -1.0]]),
    ("unit_interval", lambda C: C.unit_interval, [[0.0, 1.0, 1.5]]),
    ("interval", lambda C: C.interval(-1.0, 2.0), [[-1.0, 2.0, 2.5]]),
    ("half_open", lambda C: C.half_open_interval(-1.0, 2.0), [[-1.0, 2.0, 1.9]]),
    ("greater_than", lambda C: C.greater_than(1.0), [[1.0, 1.5, 0.0]]),
    ("less_than", lambda C: C.less_than(1.0), [[1.0, 0.5, 3.0]]),
    ("boolean", lambda C: C.boolean, [[0.0, 1.0, 0.5]]),
    ("integer_interval", lambda C: C.integer_interval(0, 3), [[0.0, 3.0, 1.5, 4.0]]),
    ("nonnegative_integer", lambda C: C.nonnegative_integer, [[0.0, 2.0, -1.0, 0.5]]),
    ("simplex", lambda C: C.simplex, [[0.2, 0.8], [0.5, 0.6], [-0.1, 1.1]]),
    ("one_hot", lambda C: C.one_hot, [[0.0, 1.0], [1.0, 1.0]]),
    ("real_vector", lambda C: C.real_vector, [[0.0, float("nan")], [1.0, 2.0]]),
    ("lower_cholesky", lambda C: C.lower_cholesky, [[[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.1], [0.5, 2.0]]]),
    ("lower_triangular", lambda C: C.lower_triangular, [[[1.0, 0.0], [0.5, -2.0]], [[1.0, 0.1], [0.5, 2.0]]]),
    ("positive_definite", lambda C: C.positive_definite, [[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]),
    ("positive_semidefinite", lambda C: C.positive_semidefinite, [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]),
    ("symmetric", lambda C: C.symmetric, [[[1.0, 2.0], [2.0, 1.0]], [[1.0, 2.0], [0.0, 1.0]]]),
    ("corr_cholesky", lambda C: C.corr_cholesky, [[[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.6, 0.9]]]),
    ("independent", lambda C: C.independent(C.positive, 1), [[1.0, 2.0], [1.0, -2.0]]),
    ("multinomial", lambda C: C.multinomial(3), [[1.0, 2.0], [2.0, 2.0]]),
]


@pytest.mark.parametrize("name,make,values", CONSTRAINTS, ids=[c[0] for c in CONSTRAINTS])
def test_constraint_check_against_torch(name, make, values):
    t, n = make(TD.constraints), make(ND.constraints)
    expected = t.check(torch.tensor(values, dtype=torch.float64))
    actual = n.check(ndgrad.tensor(values, dtype=ndgrad.float64))
    np.testing.assert_array_equal(actual.numpy(), expected.numpy())
    assert repr(n) == repr(t)
    assert (n.event_dim, n.is_discrete) == (t.event_dim, t.is_discrete)


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name", ["real", "positive", "nonnegative", "unit_interval", "simplex", "real_vector",
                                  "corr_cholesky", "lower_cholesky", "positive_definite"])
def test_biject_to_and_transform_to_land_in_the_constraint(registry, name):
    t_constraint, n_constraint = getattr(TD.constraints, name), getattr(ND.constraints, name)
    try:
        t_transform = getattr(TD, registry)(t_constraint)
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match="Cannot transform"):
            getattr(ND, registry)(n_constraint)
        return
    n_transform = getattr(ND, registry)(n_constraint)
    assert repr(n_transform).replace(" ", "") == repr(t_transform).replace(" ", "")
    shape = {"corr_cholesky": (2, 3), "lower_cholesky": (2, 3, 3), "positive_definite": (2, 3, 3)}.get(name, (2, 3))
    x = random_array(shape)
    check_op([x], lambda v: t_transform(v), lambda v: n_transform(v))
    assert bool(n_constraint.check(n_transform(ndgrad.tensor(x))).all())


def test_biject_to_interval_with_tensor_bounds():
    low, high = ndgrad.tensor([0.0, -1.0]), ndgrad.tensor([2.0, 5.0])
    y = ND.biject_to(ND.constraints.interval(low, high))(ndgrad.tensor([[-3.0, 0.0], [3.0, 1.0]]))
    assert bool(((y >= low) & (y <= high)).all())


# -- validation: clear errors, as torch raises them -------------------------------------------------------------
ERRORS = [
    (lambda D, L: D.Normal(L.tensor([0.0]), L.tensor([-1.0])), "scale.*GreaterThan", ValueError),
    (lambda D, L: D.Bernoulli(probs=L.tensor([1.5])), "probs.*Interval", ValueError),
    (lambda D, L: D.Bernoulli(probs=0.3, logits=0.1), "Either `probs` or `logits`", ValueError),
    (lambda D, L: D.Categorical(L.tensor(0.5)), "at least one-dimensional", ValueError),
    (lambda D, L: D.Categorical(probs=L.tensor([0.5, -0.5])), "Simplex", ValueError),
    (lambda D, L: D.Uniform(L.tensor(2.0), L.tensor(1.0)), "LessThan", ValueError),
    (lambda D, L: D.Dirichlet(L.tensor(1.0)), "at least one-dimensional", ValueError),
    (lambda D, L: D.Gamma(L.tensor([1.0]), L.tensor([0.0])), "rate.*GreaterThan", ValueError),
    (lambda D, L: D.Normal(0.0, 1.0).log_prob(0.5), "must be a Tensor", ValueError),
    (lambda D, L: D.Exponential(L.tensor([1.0])).log_prob(L.tensor([-1.0])), "within the support", ValueError),
    (lambda D, L: D.Poisson(L.tensor([1.0])).log_prob(L.tensor([0.5])), "within the support", ValueError),
    (lambda D, L: D.Normal(L.zeros(3), 1.0).log_prob(L.zeros(2)), "broadcastable", ValueError),
    (lambda D, L: D.MultivariateNormal(L.zeros(2), L.eye(2), scale_tril=L.eye(2)), "Exactly one", ValueError),
    (lambda D, L: D.MultivariateNormal(L.tensor(0.0), L.eye(2)), "loc must be at least one-dimensional", ValueError),
    (lambda D, L: D.Multinomial(L.tensor(3), L.ones(2)), "inhomogeneous total_count", NotImplementedError),
    (lambda D, L: D.Independent(D.Normal(L.zeros(2), 1.0), 2), "reinterpreted_batch_ndims", ValueError),
    (lambda D, L: D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(0.5)), "cross KL", NotImplementedError),
    (lambda D, L: D.kl_divergence(D.Normal(0.0, 1.0), D.Cauchy(0.0, 1.0)), "No KL.*Normal.*Cauchy",
     NotImplementedError),
    (lambda D, L: D.Poisson(2.0).enumerate_support(), "", NotImplementedError),
    (lambda D, L: D.Normal(0.0, 1.0).mode.foo, "", AttributeError),
    (lambda D, L: D.LKJCholesky(1), "greater than or equal to 2", ValueError),
    (lambda D, L: D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(L.zeros(2), 1.0)), "Categorical", ValueError),
    (lambda D, L: D.Binomial(L.tensor([2.0, 3.0]), L.tensor([0.5, 0.5])).entropy(), "Inhomogeneous total count",
     NotImplementedError),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_bad_arguments_raise_like_torch(case):
    make, match, exc = ERRORS[case]
    check_error(lambda: make(ND, ndgrad), match, exc, torch_fn=lambda: make(TD, torch))


def test_error_message_names_parameter_shape_and_distribution():
    check_error(lambda: ND.Normal(ndgrad.zeros(2), ndgrad.tensor([1.0, -1.0])),
                [r"Expected parameter scale", r"shape \(2,\)", "Normal", "GreaterThan"], ValueError)


def test_validate_args_switches():
    ND.Normal(0.0, -1.0, validate_args=False)  # no check when asked
    ND.Exponential(1.0, validate_args=False).log_prob(ndgrad.tensor(-1.0))
    ND.Distribution.set_default_validate_args(False)
    try:
        assert ND.Normal(0.0, -1.0).scale.item() == -1.0
    finally:
        ND.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        ND.Normal(0.0, -1.0)
    check_error(lambda: ND.Distribution.set_default_validate_args(2), "True or False", ValueError)


# -- shapes, expand, enumerate_support, repr --------------------------------------------------------------------
SHAPED = [
    ("Normal", lambda D, L: D.Normal(L.zeros(2, 1), L.ones(3))),
    ("Bernoulli", lambda D, L: D.Bernoulli(logits=L.zeros(3))),
    ("Categorical", lambda D, L: D.Categorical(logits=L.zeros(2, 4))),
    ("OneHotCategorical", lambda D, L: D.OneHotCategorical(logits=L.zeros(2, 4))),
    ("Dirichlet", lambda D, L: D.Dirichlet(L.ones(2, 3))),
    ("MultivariateNormal", lambda D, L: D.MultivariateNormal(L.zeros(2, 3), L.eye(3))),
    ("LowRankMultivariateNormal", lambda D, L: D.LowRankMultivariateNormal(L.zeros(2, 3), L.ones(3, 1), L.ones(3))),
    ("Independent", lambda D, L: D.Independent(D.Normal(L.zeros(2, 3), 1.0), 1)),
    ("LogNormal", lambda D, L: D.LogNormal(L.zeros(3), 1.0)),
    ("Gumbel", lambda D, L: D.Gumbel(L.zeros(3), 1.0)),
    ("Beta", lambda D, L: D.Beta(L.ones(3), 2.0)),
    ("Binomial", lambda D, L: D.Binomial(4, L.full((3,), 0.5))),
    ("Multinomial", lambda D, L: D.Multinomial(4, L.ones(2, 3))),
    ("StudentT", lambda D, L: D.StudentT(L.full((3,), 4.0))),
    ("MixtureSameFamily", lambda D, L: D.MixtureSameFamily(D.Categorical(L.ones(2, 3)),
                                                           D.Normal(L.zeros(2, 3), 1.0))),
    ("Wishart", lambda D, L: D.Wishart(L.tensor(4.0), L.eye(2))),
    ("LKJCholesky", lambda D, L: D.LKJCholesky(3, L.ones(2))),
    ("RelaxedOneHotCategorical", lambda D, L: D.RelaxedOneHotCategorical(L.tensor(0.5), L.ones(2, 3))),
    ("Poisson", lambda D, L: D.Poisson(L.ones(3))),
    ("Geometric", lambda D, L: D.Geometric(L.full((3,), 0.3))),
    ("NegativeBinomial", lambda D, L: D.NegativeBinomial(L.full((3,), 2.0), L.full((3,), 0.3))),
    ("VonMises", lambda D, L: D.VonMises(L.zeros(3), 2.0)),
    ("ContinuousBernoulli", lambda D, L: D.ContinuousBernoulli(L.full((3,), 0.3))),
    ("LogisticNormal", lambda D, L: D.LogisticNormal(L.zeros(2, 3), 1.0)),
    ("Weibull", lambda D, L: D.Weibull(L.ones(3), 2.0)),
    ("Pareto", lambda D, L: D.Pareto(L.ones(3), 3.0)),
    ("HalfCauchy", lambda D, L: D.HalfCauchy(L.ones(3))),
    ("Kumaraswamy", lambda D, L: D.Kumaraswamy(L.ones(3), 2.0)),
    ("FisherSnedecor", lambda D, L: D.FisherSnedecor(L.ones(3) * 5, 7.0)),
    ("InverseGamma", lambda D, L: D.InverseGamma(L.ones(3) * 3, 2.0)),
]


@pytest.mark.parametrize("name,make", SHAPED, ids=[s[0] for s in SHAPED])
def test_shapes_expand_and_repr_like_torch(name, make):
    t, n = make(TD, torch), make(ND, ndgrad)
    assert (tuple(n.batch_shape), tuple(n.event_shape)) == (tuple(t.batch_shape), tuple(t.event_shape))
    n_draws, t_draws = n.sample((5,)), t.sample((5,))
    assert tuple(n_draws.shape) == tuple(t_draws.shape)
    assert n_draws.dtype.name == str(t_draws.dtype).replace("torch.", "")
    assert n.has_rsample == t.has_rsample and n.has_enumerate_support == t.has_enumerate_support
    assert repr(n).replace("ndgrad.", "").replace("torch.", "") == repr(t).replace("torch.", "")
    assert repr(n.support) == repr(t.support)
    assert set(n.arg_constraints) == set(t.arg_constraints)
    new_batch = (4,) + tuple(t.batch_shape)
    te, ne = t.expand(new_batch), n.expand(new_batch)
    assert type(ne) is type(n)
    assert (tuple(ne.batch_shape), tuple(ne.event_shape)) == (tuple(te.batch_shape), tuple(te.event_shape))
    assert tuple(ne.sample((2,)).shape) == tuple(te.sample((2,)).shape)
    value = te.sample()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(ne.log_prob(ndgrad.tensor(value.numpy())).numpy(), te.log_prob(value).numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda D, L: D.Bernoulli(L.tensor([0.2, 0.7])),
    lambda D, L: D.Categorical(L.tensor([[0.2, 0.8, 0.0], [0.3, 0.3, 0.4]])),
    lambda D, L: D.OneHotCategorical(L.tensor([0.2, 0.5, 0.3])),
    lambda D, L: D.Binomial(3, L.tensor([0.2, 0.7])),
    lambda D, L: D.Independent(D.Bernoulli(L.tensor([[0.2, 0.7]])), 0),
])
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support_like_torch(make, expand):
    t, n = make(TD, torch), make(ND, ndgrad)
    support = n.enumerate_support(expand)
    np.testing.assert_array_equal(support.numpy(), t.enumerate_support(expand).numpy())
    assert support.dtype.name == str(t.enumerate_support(expand).dtype).replace("torch.", "")
    np.testing.assert_allclose(n.log_prob(support).exp().sum(0).numpy(), 1.0, rtol=1e-6)


def test_mixture_broadcasts_a_shared_mixing_distribution():
    """torch's sample fails here (gather needs equal ranks); ndgrad broadcasts the mixture choice."""
    mix = ND.MixtureSameFamily(ND.Categorical(ndgrad.tensor([0.5, 0.5, 0.0])),
                               ND.Normal(ndgrad.tensor([[0.0, 10.0, 99.0], [5.0, 20.0, 99.0]]), 0.01))
    draws = mix.sample((1000,)).numpy()
    assert draws.shape == (1000, 2) and np.all(draws < 50)


def test_perplexity_stddev_and_lazy_probs():
    logits = random_array((3,))
    check_op([logits], lambda a: TD.Bernoulli(logits=a).perplexity(), lambda a: ND.Bernoulli(logits=a).perplexity())
    check_op([logits], lambda a: TD.Categorical(logits=a).probs, lambda a: ND.Categorical(logits=a).probs)
    check_op([logits], lambda a: TD.Geometric(logits=a).probs, lambda a: ND.Geometric(logits=a).probs)
    check_op([random_array((3,), low=0.1, high=0.9)], lambda p: TD.Binomial(5, p).logits,
             lambda p: ND.Binomial(5, p).logits)


def test_register_kl_dispatches_to_the_most_specific_rule():
    class MyNormal(ND.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), ND.Normal(1.0, 2.0)
    np.testing.assert_allclose(ND.kl_divergence(p, q).item(), ND.kl_divergence(ND.Normal(0.0, 1.0), q).item())

    @ND.register_kl(MyNormal, ND.Normal)
    def _constant(p, q):
        return ndgrad.tensor(42.0)
    try:
        assert ND.kl_divergence(p, q).item() == 42.0
        assert ND.kl_divergence(q, q).item() == 0.0
    finally:
        del ND.kl._KL_REGISTRY[MyNormal, ND.Normal]
        ND.kl._KL_MEMOIZE.clear()
    check_error(lambda: ND.register_kl(int, ND.Normal), "Distribution subclass", TypeError)


def test_multivariate_normal_rsample_is_differentiable_and_cholesky_errors_are_clear():
    loc = ndgrad.zeros(2, dtype=ndgrad.float64, requires_grad=True)
    tril = ndgrad.tensor(_tril((), 2), requires_grad=True)
    ND.MultivariateNormal(loc, scale_tril=tril).rsample((3,)).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [3.0, 3.0])
    assert tril.grad is not None
    check_error(lambda: ND.MultivariateNormal(ndgrad.zeros(2), ndgrad.tensor([[1.0, 2.0], [2.0, 1.0]]),
                                              validate_args=False), "positive-definite", ValueError)


# -- second derivatives (Hessian-vector products through log_prob, entropy and KL) ------------------------------
def test_second_derivatives_against_torch():
    from oracle import check_higher_order
    from test_distributions import _spd
    x = random_array((4, 3))
    check_higher_order([(3,), random_array((3,), low=0.5, high=2)],
                       lambda m, s: TD.Normal(m, s).log_prob(torch.from_numpy(x)),
                       lambda m, s: ND.Normal(m, s).log_prob(ndgrad.from_numpy(x)))
    check_higher_order([random_array((3,), low=0.5, high=3), random_array((3,), low=0.5, high=3)],
                       lambda a, b: TD.kl_divergence(TD.Gamma(a, b), TD.Gamma(b, a)),
                       lambda a, b: ND.kl_divergence(ND.Gamma(a, b), ND.Gamma(b, a)))
    check_higher_order([(3,), _spd((), 3)],
                       lambda m, c: TD.MultivariateNormal(m, c).log_prob(torch.from_numpy(x)),
                       lambda m, c: ND.MultivariateNormal(m, c).log_prob(ndgrad.from_numpy(x)))
    check_higher_order([(3,), _spd((), 3)],
                       lambda m, c: TD.MultivariateNormal(m, precision_matrix=c).entropy(),
                       lambda m, c: ND.MultivariateNormal(m, precision_matrix=c).entropy())


def test_gradcheck_log_abs_det():
    # Wishart's log|det| (ndgrad.linalg.slogdet's logabsdet), on the batched SPD matrices it meets
    from ndgrad.autograd import gradcheck
    from test_distributions import _spd
    a = ndgrad.tensor(_spd((2,), 3), requires_grad=True)
    assert gradcheck(lambda m: ndgrad.linalg.slogdet(m).logabsdet, (a,))


def test_cat_stack_and_cdf_transforms_against_torch():
    x = random_array((4, 3))

    def cat(D, v):
        T = D.transforms
        return T.CatTransform([T.ExpTransform(), T.SigmoidTransform()], dim=-1, lengths=[1, 2])(v)

    def stack(D, v):
        T = D.transforms
        t = T.StackTransform([T.ExpTransform(), T.TanhTransform(), T.AffineTransform(1.0, 2.0)], dim=-1)
        return t.log_abs_det_jacobian(v, t(v))

    def cdf(D, m, v):
        return D.transforms.CumulativeDistributionTransform(D.Normal(m, 1.0))(v)
    check_op([x], lambda v: cat(TD, v), lambda v: cat(ND, v))
    check_op([x], lambda v: stack(TD, v), lambda v: stack(ND, v))
    check_op([(3,), x], lambda m, v: cdf(TD, m, v), lambda m, v: cdf(ND, m, v))


@pytest.mark.parametrize("name", ["Normal", "Gamma", "Beta", "Bernoulli", "BinomialLogits", "StudentT", "LogNormal",
                                  "Categorical", "Dirichlet"])
def test_float32_parameters_keep_float32(name):
    from test_distributions import CASES, EVENT_CASES, _compare, _params
    make, kinds, _ = CASES[name] if name in CASES else EVENT_CASES[name]
    shape = (2, 3) if name in EVENT_CASES else (3,)
    arrays = [a.astype(np.float32) for a in _params(kinds, [shape] * len(kinds))]
    _compare(name, make, arrays, "log_prob")
    _compare(name, make, arrays, "entropy")


def test_torch_submodule_paths_import():
    import importlib
    import pkgutil
    for info in pkgutil.iter_modules(TD.__path__):
        torch_module = importlib.import_module(f"torch.distributions.{info.name}")
        ours = importlib.import_module(f"ndgrad.distributions.{info.name}")
        for name in getattr(torch_module, "__all__", []):
            assert hasattr(ours, name), f"ndgrad.distributions.{info.name} lacks {name}"
    from ndgrad.distributions.normal import Normal
    from ndgrad.distributions.kl import kl_divergence
    assert Normal is ND.Normal and kl_divergence is ND.kl_divergence


def test_utils_against_torch():
    import torch.distributions.utils as TU
    import ndgrad.distributions.utils as NU
    p = random_array((2, 3), low=0.05, high=0.95)
    for is_binary in (False, True):
        check_op([p], lambda v: TU.probs_to_logits(v, is_binary), lambda v: NU.probs_to_logits(v, is_binary))
        check_op([p], lambda v: TU.logits_to_probs(v, is_binary), lambda v: NU.logits_to_probs(v, is_binary))
    check_op([np.array([0.0, 0.5, 1.0])], TU.clamp_probs, NU.clamp_probs)
    for diag in (0, -1):
        check_op([(2, 4, 4)], lambda m: TU.tril_matrix_to_vec(m, diag), lambda m: NU.tril_matrix_to_vec(m, diag))
        size = 10 if diag == 0 else 6
        check_op([(2, size)], lambda v: TU.vec_to_tril_matrix(v, diag), lambda v: NU.vec_to_tril_matrix(v, diag))
    a, b = NU.broadcast_all(ndgrad.zeros(2, 1, dtype=ndgrad.float64), 3.0)
    assert tuple(b.shape) == (2, 1) and b.dtype == ndgrad.float64
    check_error(lambda: NU.broadcast_all("x", 1.0), "numbers.Number or ndgrad.Tensor", ValueError)

"""Random sampling (ndgrad/ops/random_ops.py): distributions checked statistically, shapes, dtypes, seeds, errors.

Bounds are computed from the sample size: a sample mean must lie within 6 standard errors of the true
mean (a false alarm about once in 10**8 runs), a sample variance within 6 standard errors of the variance.
"""
import math

import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error

N = 200_000


def assert_mean(sample, mean, var, n=None):
    n = sample.size if n is None else n
    bound = 6 * math.sqrt(var / n)
    assert abs(sample.mean() - mean) < bound, f"mean {sample.mean()} is not within {bound} of {mean}"


def assert_var(sample, var, fourth_moment):
    """The sample variance's standard error is sqrt((mu4 - var**2) / n)."""
    bound = 6 * math.sqrt((fourth_moment - var ** 2) / sample.size)
    assert abs(sample.var() - var) < bound, f"variance {sample.var()} is not within {bound} of {var}"


def values(t):
    return np.asarray(t.numpy(), dtype=np.float64).ravel()


# -- in-place fills ---------------------------------------------------------------------------------
def test_uniform_():
    x = values(ndgrad.empty(N, dtype=ndgrad.float64).uniform_(-1.0, 3.0))
    assert x.min() >= -1.0 and x.max() < 3.0
    assert_mean(x, 1.0, 16 / 12)
    assert_var(x, 16 / 12, 4 ** 4 / 80)
    y = ndgrad.empty(3, 4).uniform_()
    assert y.dtype == ndgrad.float32 and tuple(y.shape) == (3, 4)
    assert values(ndgrad.empty(10).uniform_(**{"from": 2.0, "to": 2.5})).min() >= 2.0


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (3.0, 0.5), (-2.0, 4.0)])
def test_normal_(mean, std):
    x = values(ndgrad.empty(N, dtype=ndgrad.float64).normal_(mean, std))
    assert_mean(x, mean, std ** 2)
    assert_var(x, std ** 2, 3 * std ** 4)


@pytest.mark.parametrize("lambd", [1.0, 0.25, 5.0])
def test_exponential_(lambd):
    x = values(ndgrad.empty(N, dtype=ndgrad.float64).exponential_(lambd))
    assert x.min() >= 0
    assert_mean(x, 1 / lambd, 1 / lambd ** 2)
    assert_var(x, 1 / lambd ** 2, 9 / lambd ** 4)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_geometric_(p):
    x = values(ndgrad.empty(N).geometric_(p))
    assert x.min() >= 1 and np.all(x == np.round(x))
    assert_mean(x, 1 / p, (1 - p) / p ** 2)
    assert abs((x == 1).mean() - p) < 6 * math.sqrt(p * (1 - p) / N)


@pytest.mark.parametrize("mean,std", [(1.0, 2.0), (0.0, 0.5)])
def test_log_normal_(mean, std):
    x = values(ndgrad.empty(N, dtype=ndgrad.float64).log_normal_(mean, std))
    logs = np.log(x)
    assert_mean(logs, mean, std ** 2)
    assert_var(logs, std ** 2, 3 * std ** 4)
    assert values(ndgrad.empty(5).log_normal_()).min() > 0


def test_cauchy_():
    median, sigma = 1.5, 2.0
    x = values(ndgrad.empty(N, dtype=ndgrad.float64).cauchy_(median, sigma))
    # the Cauchy law has no mean: check its quartiles, median +- sigma (binomial standard errors)
    for q, where in [(0.25, median - sigma), (0.5, median), (0.75, median + sigma)]:
        assert abs((x < where).mean() - q) < 6 * math.sqrt(q * (1 - q) / N)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_bernoulli_(p):
    x = values(ndgrad.empty(N).bernoulli_(p))
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert_mean(x, p, max(p * (1 - p), 1e-12))


def test_bernoulli_tensor_p_and_int_dtype():
    probs = ndgrad.tensor([0.0, 1.0, 0.25]).expand(N // 10, 3)
    x = ndgrad.empty(N // 10, 3, dtype=ndgrad.int64).bernoulli_(probs)
    assert x.dtype == ndgrad.int64
    v = x.numpy()
    assert v[:, 0].sum() == 0 and v[:, 1].min() == 1
    assert_mean(v[:, 2].astype(float), 0.25, 0.25 * 0.75)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "int8", "bool"])
def test_random_(dtype):
    x = ndgrad.empty(N, dtype=getattr(ndgrad, dtype))
    x.random_(0, 2) if dtype == "bool" else x.random_(3, 9)
    v = values(x)
    low, high = (0, 2) if dtype == "bool" else (3, 9)
    assert v.min() >= low and v.max() < high and np.all(v == np.round(v))
    assert len(np.unique(v)) == high - low
    assert_mean(v, (low + high - 1) / 2, ((high - low) ** 2 - 1) / 12)
    assert x.dtype == getattr(ndgrad, dtype)


def test_random_one_bound_and_default_range():
    v = values(ndgrad.empty(N).random_(5))
    assert v.min() == 0 and v.max() == 4
    big = values(ndgrad.empty(N).random_())
    assert big.min() >= 0 and big.max() <= 2 ** 24 and big.max() > 2 ** 23
    small = values(ndgrad.empty(N, dtype=ndgrad.uint8).random_())
    assert small.min() == 0 and small.max() == 255


def test_fills_on_views_write_the_base():
    base = ndgrad.zeros(4, 5)
    base[1:3].normal_()
    v = base.numpy()
    assert np.all(v[0] == 0) and np.all(v[3] == 0) and np.all(v[1:3] != 0)
    version = base._version
    base.uniform_()
    assert base._version > version


def test_fill_errors():
    check_error(lambda: ndgrad.ones(3, requires_grad=True).normal_(), "leaf",
                torch_fn=lambda: torch.ones(3, requires_grad=True).normal_())
    check_error(lambda: ndgrad.empty(3).normal_(0, -1), ["normal_", "std"],
                torch_fn=lambda: torch.empty(3).normal_(0, -1))
    check_error(lambda: ndgrad.empty(3).uniform_(2, 1), ["uniform_", "from"],
                torch_fn=lambda: torch.empty(3).uniform_(2, 1))
    check_error(lambda: ndgrad.empty(3).exponential_(-1.0), ["exponential_", "lambda"],
                torch_fn=lambda: torch.empty(3).exponential_(-1.0))
    check_error(lambda: ndgrad.empty(3).geometric_(1.5), ["geometric_", "p"],
                torch_fn=lambda: torch.empty(3).geometric_(1.5))
    check_error(lambda: ndgrad.empty(3).random_(5, 2), ["random_", "from"],
                torch_fn=lambda: torch.empty(3).random_(5, 2))
    check_error(lambda: ndgrad.empty(3).bernoulli_(1.5), ["bernoulli_", "p"],
                torch_fn=lambda: torch.empty(3).bernoulli_(1.5))
    check_error(lambda: ndgrad.empty(3, dtype=ndgrad.int64).normal_(), ["normal_", "floating"],
                torch_fn=lambda: torch.empty(3, dtype=torch.int64).normal_())
    with ndgrad.no_grad():
        w = ndgrad.ones(3, requires_grad=True)
        w.uniform_()
    assert w.requires_grad


# -- sampling functions ----------------------------------------------------------------------------
def test_bernoulli_function():
    probs = ndgrad.rand(N // 4, 4, dtype=ndgrad.float64)
    x = ndgrad.bernoulli(probs)
    assert x.dtype == ndgrad.float64 and tuple(x.shape) == (N // 4, 4)
    residual = x.numpy() - probs.numpy()  # mean 0, variance E[p(1-p)] = 1/6 for p ~ U(0, 1)
    assert_mean(residual.ravel(), 0.0, 1 / 6)
    y = ndgrad.bernoulli(ndgrad.empty(N), p=0.75)
    assert_mean(values(y), 0.75, 0.75 * 0.25)
    assert_mean(values(ndgrad.full((N,), 0.1).bernoulli()), 0.1, 0.09)
    check_error(lambda: ndgrad.bernoulli(ndgrad.tensor([0.5, 1.5])), ["bernoulli", r"\[0, 1\]"],
                torch_fn=lambda: torch.bernoulli(torch.tensor([0.5, 1.5])))


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_frequencies(replacement):
    weights = np.array([1.0, 0.0, 3.0, 6.0])  # need not sum to 1
    p = weights / weights.sum()
    rows = N // 2 if replacement else N // 4
    probs = ndgrad.tensor(np.tile(weights, (rows, 1)))
    draws = ndgrad.multinomial(probs, 1, replacement=replacement).numpy().ravel()
    assert draws.dtype == np.int64
    for k in range(4):
        assert abs((draws == k).mean() - p[k]) < 6 * math.sqrt(max(p[k] * (1 - p[k]), 1e-12) / rows)


def test_multinomial_with_replacement_many_samples():
    probs = ndgrad.tensor([0.2, 0.3, 0.5])
    draws = probs.multinomial(N, replacement=True).numpy()
    assert draws.shape == (N,)
    for k, pk in enumerate([0.2, 0.3, 0.5]):
        assert abs((draws == k).mean() - pk) < 6 * math.sqrt(pk * (1 - pk) / N)


def test_multinomial_without_replacement_second_pick():
    # the second pick, given the first was category 0, follows the renormalised remaining weights
    weights = ndgrad.tensor(np.tile([0.5, 0.25, 0.25], (N // 4, 1)))
    draws = ndgrad.multinomial(weights, 3).numpy()
    assert np.all(np.sort(draws, axis=1) == [0, 1, 2])  # every row is a permutation
    first = draws[:, 0]
    assert abs((first == 0).mean() - 0.5) < 6 * math.sqrt(0.25 / len(first))
    after0 = draws[first == 0, 1]
    assert abs((after0 == 1).mean() - 0.5) < 6 * math.sqrt(0.25 / len(after0))


def test_multinomial_shapes_and_errors():
    assert tuple(ndgrad.multinomial(ndgrad.ones(2, 5), 3).shape) == (2, 3)
    assert tuple(ndgrad.multinomial(ndgrad.ones(5), 5).shape) == (5,)
    t5 = torch.ones(5)
    check_error(lambda: ndgrad.multinomial(ndgrad.ones(5), 6), ["multinomial", "without replacement"],
                torch_fn=lambda: torch.multinomial(t5, 6))
    check_error(lambda: ndgrad.multinomial(ndgrad.tensor([1.0, -1.0]), 1), ["multinomial", "< 0"],
                torch_fn=lambda: torch.multinomial(torch.tensor([1.0, -1.0]), 1))
    check_error(lambda: ndgrad.multinomial(ndgrad.zeros(3), 1), ["multinomial", "sum of probabilities"],
                torch_fn=lambda: torch.multinomial(torch.zeros(3), 1))
    check_error(lambda: ndgrad.multinomial(ndgrad.ones(2, 2, 2), 1), ["multinomial", "1 or 2 dim"],
                torch_fn=lambda: torch.multinomial(torch.ones(2, 2, 2), 1))
    # torch fills up with the categories of probability 0, in index order, once the others are used
    assert ndgrad.multinomial(ndgrad.tensor([0.0, 1.0, 0.0]), 3).tolist() == [1, 0, 2]


@pytest.mark.parametrize("rate", [0.5, 4.0, 30.0])
def test_poisson(rate):
    x = ndgrad.poisson(ndgrad.full((N,), rate, dtype=ndgrad.float64))
    assert x.dtype == ndgrad.float64
    v = values(x)
    assert_mean(v, rate, rate)
    assert_var(v, rate, rate + 3 * rate ** 2)
    assert values(ndgrad.poisson(ndgrad.zeros(4))).sum() == 0


@pytest.mark.parametrize("form", ["tensor-tensor", "tensor-float", "float-tensor", "float-float"])
def test_normal_forms(form):
    mean_t = ndgrad.full((N // 4, 4), 2.0, dtype=ndgrad.float64)
    std_t = ndgrad.full((4,), 3.0, dtype=ndgrad.float64)
    args = {"tensor-tensor": (mean_t, std_t), "tensor-float": (mean_t, 3.0),
            "float-tensor": (2.0, ndgrad.full((N,), 3.0, dtype=ndgrad.float64)),
            "float-float": (2.0, 3.0, (N,))}[form]
    x = ndgrad.normal(*args)
    want = {"tensor-tensor": (N // 4, 4), "tensor-float": (N // 4, 4), "float-tensor": (N,), "float-float": (N,)}
    assert tuple(x.shape) == want[form]
    v = values(x)
    assert_mean(v, 2.0, 9.0)
    assert_var(v, 9.0, 3 * 81.0)
    assert not x.requires_grad


def test_normal_keywords_and_errors():
    x = ndgrad.normal(0.0, 1.0, size=(2, 3), dtype=ndgrad.float64, requires_grad=True)
    assert x.dtype == ndgrad.float64 and x.requires_grad and tuple(x.shape) == (2, 3)
    check_error(lambda: ndgrad.normal(0.0, -1.0, (3,)), ["normal", "std"],
                torch_fn=lambda: torch.normal(0.0, -1.0, (3,)))
    check_error(lambda: ndgrad.normal(ndgrad.zeros(3), -1.0), ["normal", "std"],
                torch_fn=lambda: torch.normal(torch.zeros(3), -1.0))


# -- seeds and generators -----------------------------------------------------------------------------
SAMPLERS = [
    ("rand", lambda g: ndgrad.rand(5, generator=g)), ("randn", lambda g: ndgrad.randn(5, generator=g)),
    ("randint", lambda g: ndgrad.randint(0, 100, (5,), generator=g)),
    ("randperm", lambda g: ndgrad.randperm(7, generator=g)),
    ("bernoulli", lambda g: ndgrad.bernoulli(ndgrad.full((20,), 0.5), generator=g)),
    ("multinomial", lambda g: ndgrad.multinomial(ndgrad.ones(3, 6), 4, generator=g)),
    ("multinomial-r", lambda g: ndgrad.multinomial(ndgrad.ones(6), 9, True, generator=g)),
    ("poisson", lambda g: ndgrad.poisson(ndgrad.full((8,), 3.0), generator=g)),
    ("normal", lambda g: ndgrad.normal(ndgrad.zeros(5), 1.0, generator=g)),
    ("uniform_", lambda g: ndgrad.empty(5).uniform_(generator=g)),
    ("normal_", lambda g: ndgrad.empty(5).normal_(generator=g)),
    ("exponential_", lambda g: ndgrad.empty(5).exponential_(generator=g)),
    ("geometric_", lambda g: ndgrad.empty(5).geometric_(0.3, generator=g)),
    ("log_normal_", lambda g: ndgrad.empty(5).log_normal_(generator=g)),
    ("cauchy_", lambda g: ndgrad.empty(5).cauchy_(generator=g)),
    ("bernoulli_", lambda g: ndgrad.empty(20).bernoulli_(0.5, generator=g)),
    ("random_", lambda g: ndgrad.empty(5).random_(0, 1000, generator=g)),
    ("rand_like", lambda g: ndgrad.rand_like(ndgrad.ones(5), generator=g)),
    ("randint_like", lambda g: ndgrad.randint_like(ndgrad.ones(5), 1000, generator=g)),
]


@pytest.mark.parametrize("name,draw", SAMPLERS, ids=[s[0] for s in SAMPLERS])
def test_manual_seed_and_generator_repeat(name, draw):
    ndgrad.manual_seed(123)
    a = draw(None).numpy()
    b = draw(None).numpy()
    ndgrad.manual_seed(123)
    assert np.array_equal(draw(None).numpy(), a)
    assert not np.array_equal(a, b) or name in ("bernoulli", "bernoulli_")  # 20 coin flips may repeat, rarely
    g1, g2 = ndgrad.Generator().manual_seed(7), ndgrad.Generator().manual_seed(7)
    ndgrad.manual_seed(0)
    first = draw(g1).numpy()
    ndgrad.manual_seed(99)  # the global seed must not matter when a generator is given
    assert np.array_equal(draw(g2).numpy(), first)


def test_like_functions_keep_shape_dtype_device():
    x = ndgrad.ones(2, 3, dtype=ndgrad.float64)
    for fn in (ndgrad.rand_like, ndgrad.randn_like):
        y = fn(x)
        assert tuple(y.shape) == (2, 3) and y.dtype == ndgrad.float64 and y.device == x.device
        assert fn(x, dtype=ndgrad.float32).dtype == ndgrad.float32
    r = ndgrad.randint_like(x, 3, 7)
    assert r.dtype == ndgrad.float64 and values(r).min() >= 3 and values(r).max() < 7
    assert ndgrad.randint_like(ndgrad.ones(4, dtype=ndgrad.int32), 5).dtype == ndgrad.int32


@pytest.mark.parametrize("fill", ["uniform_", "normal_", "exponential_", "bernoulli_", "random_"])
def test_fills_refuse_expanded_views(fill):
    base = ndgrad.ones(1, 3)
    check_error(lambda: getattr(base.expand(2, 3), fill)(), [fill, "more than one element"],
                torch_fn=lambda: getattr(torch.ones(1, 3).expand(2, 3), fill)())
    assert base.tolist() == [[1.0, 1.0, 1.0]]


@pytest.mark.cuda
def test_gpu_sampling():
    n = N
    x = ndgrad.empty(n, dtype=ndgrad.float64, device="cuda")
    for fill, args, mean, var in [("uniform_", (-1.0, 3.0), 1.0, 16 / 12), ("normal_", (2.0, 0.5), 2.0, 0.25),
                                  ("exponential_", (2.0,), 0.5, 0.25), ("bernoulli_", (0.3,), 0.3, 0.21),
                                  ("geometric_", (0.5,), 2.0, 2.0), ("random_", (0, 10), 4.5, 99 / 12)]:
        getattr(x, fill)(*args)
        assert x.device.type == "cuda"
        assert_mean(x.cpu().numpy(), mean, var)
    probs = ndgrad.tensor([[0.2, 0.3, 0.5]] * 4, device="cuda")
    for replacement in (True, False):
        draws = ndgrad.multinomial(probs, 2, replacement=replacement)
        assert draws.device.type == "cuda" and draws.dtype == ndgrad.int64 and tuple(draws.shape) == (4, 2)
    counts = ndgrad.poisson(ndgrad.full((n,), 3.0, device="cuda"))
    assert_mean(counts.cpu().numpy(), 3.0, 3.0)
    assert ndgrad.bernoulli(ndgrad.full((5,), 0.5, device="cuda")).device.type == "cuda"
    assert ndgrad.normal(ndgrad.zeros(3, device="cuda"), 1.0).device.type == "cuda"
    ndgrad.manual_seed(5)
    a = ndgrad.rand(4, device="cuda").cpu().numpy()
    ndgrad.manual_seed(5)
    assert np.array_equal(ndgrad.rand(4, device="cuda").cpu().numpy(), a)

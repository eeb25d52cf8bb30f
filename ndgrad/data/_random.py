"""Turn the ``generator=`` argument of the data utilities into a NumPy generator."""
from ndgrad.backend import np


def global_seed():
    """A fresh seed drawn from ndgrad's global CPU generator (so ``ndgrad.manual_seed`` repeats it)."""
    from ndgrad import random as ndgrad_random
    return int(ndgrad_random.generator().integers(0, 2**63 - 1))


def as_numpy_generator(generator):
    """Accepts None (ndgrad's global seed), an int seed, a ``numpy.random.Generator``,
    or an object that wraps one (an ndgrad generator)."""
    if generator is None:
        return np.random.default_rng(global_seed())
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    for attr in ("numpy_generator", "_generator", "generator", "_rng", "rng"):
        inner = getattr(generator, attr, None)
        if isinstance(inner, np.random.Generator):
            return inner
    raise TypeError(
        f"generator must be None, an int seed or a numpy.random.Generator, got {type(generator).__name__}")

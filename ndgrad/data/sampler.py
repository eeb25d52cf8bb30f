"""Samplers: which indices a DataLoader visits, and how they are grouped into batches."""
from ndgrad.data._random import as_numpy_generator, global_seed
from ndgrad.backend import np


class Sampler:
    """Iterates over dataset indices."""

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each epoch (or ``num_samples`` draws with replacement).

    With ``generator=None`` each epoch draws its seed from ndgrad's global generator,
    so ``ndgrad.manual_seed(n)`` makes the order repeatable; with an int or a NumPy
    generator the sequence of epochs is repeatable on its own.
    """

    _CHUNK = 32  # draws with replacement come in small chunks: num_samples may be huge (10**10)

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        self.replacement = replacement
        self._num_samples = num_samples
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            empty = " (the dataset is empty)" if num_samples is None else ""
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples!r}{empty}")
        self.generator = None if generator is None else as_numpy_generator(generator)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        rng = self.generator if self.generator is not None else np.random.default_rng(global_seed())
        n = len(self.data_source)
        if n == 0:
            raise ValueError("RandomSampler: the dataset is empty, there is nothing to sample")
        total = self.num_samples
        if self.replacement:
            for _ in range(total // self._CHUNK):
                yield from rng.integers(0, n, size=self._CHUNK).tolist()
            yield from rng.integers(0, n, size=total % self._CHUNK).tolist()
            return
        for _ in range(total // n):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[:total % n].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices, generator=None):
        self.indices = list(indices)
        self.generator = None if generator is None else as_numpy_generator(generator)

    def __iter__(self):
        rng = self.generator if self.generator is not None else np.random.default_rng(global_seed())
        return iter([self.indices[i] for i in rng.permutation(len(self.indices))])

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))``, index ``i`` drawn with probability proportional to
    ``weights[i]`` (with replacement by default; without it each index appears at most once).

    Draws with replacement come in chunks from one cumulative table, so a huge ``num_samples``
    never builds its index list up front.
    """

    _CHUNK = 1024

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but got "
                             f"replacement={replacement!r}")
        host = weights.numpy() if hasattr(weights, "numpy") and hasattr(weights, "_data") else weights
        self._weights = np.asarray(host, dtype=np.float64)
        if self._weights.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have "
                             f"shape {tuple(self._weights.shape)}")
        from ndgrad.creation import tensor
        self.weights = tensor(self._weights)  # as torch: the weights as a float64 tensor
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = None if generator is None else as_numpy_generator(generator)

    def _check_weights(self):
        w = self._weights
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution (weights must be finite "
                               f"and non-negative, got {w.size} weights)")
        if w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution (sum of weights <= 0)")
        if not self.replacement and w.size < self.num_samples:
            raise RuntimeError(f"WeightedRandomSampler: cannot sample {self.num_samples} samples without "
                               f"replacement from {w.size} weights; lower num_samples or pass replacement=True")

    def __iter__(self):
        self._check_weights()
        rng = self.generator if self.generator is not None else np.random.default_rng(global_seed())
        w = self._weights
        if not self.replacement:
            # successive weighted draws in one sort: the smallest Exp(1) / w come first; zero weights
            # come last, in random order, once the others are used up (as torch.multinomial)
            with np.errstate(divide="ignore"):
                keys = rng.exponential(size=w.size) / w
            order = np.lexsort((rng.random(w.size), keys))
            yield from order[:self.num_samples].tolist()
            return
        cdf = np.cumsum(w)
        total, last = cdf[-1], w.size - 1
        left = self.num_samples
        while left:
            n = min(left, self._CHUNK)
            draws = np.searchsorted(cdf, rng.random(n) * total, side="right")
            yield from np.minimum(draws, last).tolist()  # guards u * total == total by rounding
            left -= n

    def __len__(self):
        return self.num_samples

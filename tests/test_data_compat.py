"""torch.utils.data behaviours that real programs hit: lazy RandomSampler, empty datasets, import paths,
ChainDataset / StackDataset, get_worker_info, and utils.checkpoint. Compared with torch."""
import itertools
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ndgrad
import ndgrad.utils.data as ndata
from oracle import check_error, to_numpy


def test_random_sampler_with_a_huge_num_samples_is_lazy():
    start = time.perf_counter()
    sampler = ndata.RandomSampler(range(10), replacement=True, num_samples=10 ** 10)
    first = list(itertools.islice(iter(sampler), 100))
    assert time.perf_counter() - start < 1.0  # drawn in chunks, not 10**10 indices up front
    assert len(sampler) == len(tdata.RandomSampler(range(10), replacement=True, num_samples=10 ** 10))
    assert len(first) == 100 and all(0 <= i < 10 for i in first)


@pytest.mark.parametrize("n,num_samples,replacement", [(5, None, False), (5, 7, False), (5, 12, False),
                                                       (5, 31, True), (5, 32, True), (5, 70, True),
                                                       (1, 3, True), (3, 1, False)])
def test_random_sampler_counts_and_ranges_match_torch(n, num_samples, replacement):
    ours = list(ndata.RandomSampler(range(n), replacement=replacement, num_samples=num_samples))
    theirs = list(tdata.RandomSampler(range(n), replacement=replacement, num_samples=num_samples))
    assert len(ours) == len(theirs)
    assert all(isinstance(i, int) and 0 <= i < n for i in ours)
    if not replacement:  # every full pass is a permutation
        for k in range(len(ours) // n):
            assert sorted(ours[k * n:(k + 1) * n]) == list(range(n))


def test_random_sampler_is_repeatable_under_manual_seed():
    ndgrad.manual_seed(3)
    a = list(ndata.RandomSampler(range(50), replacement=True, num_samples=100))
    ndgrad.manual_seed(3)
    b = list(ndata.RandomSampler(range(50), replacement=True, num_samples=100))
    assert a == b


def test_empty_dataset_with_shuffle_is_a_clear_error_not_a_zero_division():
    check_error(lambda: ndata.DataLoader([], batch_size=2, shuffle=True), "num_samples=0", ValueError,
                torch_fn=lambda: tdata.DataLoader([], batch_size=2, shuffle=True))
    loader = ndata.DataLoader([], batch_size=2)  # without shuffle: an empty loader, as in torch
    assert list(loader) == list(tdata.DataLoader([], batch_size=2)) == [] and len(loader) == 0


def test_random_sampler_arguments_are_checked_like_torch():
    check_error(lambda: ndata.RandomSampler(range(5), replacement=1), "boolean", TypeError,
                torch_fn=lambda: tdata.RandomSampler(range(5), replacement=1))
    check_error(lambda: ndata.RandomSampler(range(5), num_samples=0), "positive integer", ValueError,
                torch_fn=lambda: tdata.RandomSampler(range(5), num_samples=0))


def test_torch_utils_data_submodule_paths_are_the_same_modules():
    from ndgrad.utils.data.dataloader import DataLoader
    from ndgrad.utils.data.dataset import Dataset, TensorDataset
    from ndgrad.utils.data.sampler import RandomSampler, Sampler
    import ndgrad.data
    import ndgrad.utils.data.dataloader as via_utils
    assert via_utils is ndgrad.data.dataloader and via_utils.__name__ == "ndgrad.data.dataloader"
    assert DataLoader is ndgrad.data.DataLoader and RandomSampler is ndgrad.data.RandomSampler
    assert Dataset is ndgrad.data.Dataset and TensorDataset is ndgrad.data.TensorDataset
    assert Sampler is ndgrad.data.Sampler and ndgrad.utils.data is ndgrad.data
    with pytest.raises(ImportError):
        __import__("ndgrad.utils.data.no_such_module")


class Stream(ndata.IterableDataset):
    def __init__(self, values):
        self.values = values

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)


def test_chain_and_stack_datasets_match_torch():
    chained = Stream([1, 2]) + Stream([3])
    assert isinstance(chained, ndata.ChainDataset) and list(chained) == [1, 2, 3] and len(chained) == 3
    a = np.arange(3)
    ours = ndata.StackDataset(ndgrad.tensor(a), ndgrad.tensor(a * 2))
    theirs = tdata.StackDataset(torch.tensor(a), torch.tensor(a * 2))
    assert len(ours) == len(theirs) and [x.item() for x in ours[1]] == [x.item() for x in theirs[1]]
    named = ndata.StackDataset(x=ndgrad.tensor(a), y=ndgrad.tensor(a * 2))
    assert set(named[2]) == {"x", "y"} and named[2]["y"].item() == 4
    batch = next(iter(ndata.DataLoader(named, batch_size=3)))
    t_batch = next(iter(tdata.DataLoader(tdata.StackDataset(x=torch.tensor(a), y=torch.tensor(a * 2)),
                                         batch_size=3)))
    np.testing.assert_array_equal(to_numpy(batch["y"]), t_batch["y"].numpy())
    check_error(lambda: ndata.StackDataset(ndgrad.zeros(3), ndgrad.zeros(2)), "Size mismatch", ValueError,
                torch_fn=lambda: tdata.StackDataset(torch.zeros(3), torch.zeros(2)))
    check_error(lambda: ndata.StackDataset(), "At least one dataset", ValueError,
                torch_fn=lambda: tdata.StackDataset())


def test_get_worker_info_in_the_main_process():
    assert ndata.get_worker_info() is None and tdata.get_worker_info() is None


def test_checkpoint_gives_the_same_values_and_gradients():
    from ndgrad.utils.checkpoint import checkpoint, checkpoint_sequential
    layer = ndgrad.nn.Linear(3, 3)
    x = ndgrad.randn(2, 3, requires_grad=True)
    out = checkpoint(layer, x, use_reentrant=False)
    out.sum().backward()
    g = x.grad
    x.grad = None
    layer(x).sum().backward()
    np.testing.assert_array_equal(to_numpy(g), to_numpy(x.grad))
    seq = ndgrad.nn.Sequential(ndgrad.nn.Linear(3, 3), ndgrad.nn.ReLU())
    np.testing.assert_array_equal(to_numpy(checkpoint_sequential(seq, 2, x)), to_numpy(seq(x)))

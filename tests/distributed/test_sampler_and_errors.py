"""DistributedSampler coverage across real ranks, and the errors collectives give on bad input."""
import numpy as np
import pytest

import ndgrad
import ndgrad.distributed as dist
from ndgrad.utils.data import DataLoader, TensorDataset
from ndgrad.utils.data.distributed import DistributedSampler


@pytest.mark.parametrize("length", [10, 11, 12, 1])
@pytest.mark.parametrize("shuffle", [True, False])
def test_each_index_once_per_epoch(length, shuffle):
    n = dist.get_world_size()
    sampler = DistributedSampler(range(length), shuffle=shuffle, drop_last=False)
    seen_per_epoch = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        everyone = [None] * n
        dist.all_gather_object(everyone, list(sampler))
        assert len({len(e) for e in everyone}) == 1  # equal shares: nobody waits in a collective
        flat = [i for e in everyone for i in e]
        assert set(flat) == set(range(length)) and len(flat) == -(-length // n) * n
        if length % n == 0:
            assert sorted(flat) == list(range(length))
        seen_per_epoch.append(flat)
    if shuffle and length > 3:
        assert seen_per_epoch[0] != seen_per_epoch[1]


def test_drop_last_and_dataloader():
    rank, n = dist.get_rank(), dist.get_world_size()
    data = TensorDataset(ndgrad.arange(11))
    sampler = DistributedSampler(data, drop_last=True, shuffle=False)
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    mine = [int(v) for (b,) in loader for v in b]
    everyone = [None] * n
    dist.all_gather_object(everyone, mine)
    flat = [i for e in everyone for i in e]
    assert len(flat) == len(set(flat)) == (11 // n) * n


def test_mismatched_shapes_and_dtypes_name_the_ranks():
    rank = dist.get_rank()
    with pytest.raises(RuntimeError, match=r"rank 0: float32 \(2,\), rank 1: float32 \(3,\)"):
        dist.all_reduce(ndgrad.zeros(2 + min(rank, 1)))
    with pytest.raises(RuntimeError, match="different shapes or dtypes"):
        dist.broadcast(ndgrad.zeros(2, dtype=ndgrad.float64 if rank else ndgrad.float32), src=0)
    with pytest.raises(RuntimeError, match="disagree on the source"):
        dist.broadcast(ndgrad.zeros(2), src=min(rank, 1))
    with pytest.raises(RuntimeError, match="different reduce ops"):
        dist.all_reduce(ndgrad.zeros(2), op=dist.ReduceOp.SUM if rank else dist.ReduceOp.MAX)
    dist.barrier()


def test_bad_arguments():
    n = dist.get_world_size()
    with pytest.raises(ValueError, match=f"list of {n} tensors"):
        dist.all_gather([ndgrad.zeros(2)] * (n + 1), ndgrad.zeros(2))
    with pytest.raises(ValueError, match="not part of the group"):
        dist.broadcast(ndgrad.zeros(2), src=n + 5)
    with pytest.raises(TypeError, match="never pickles"):
        dist.all_gather_object([None] * n, object())
    with pytest.raises(TypeError, match="must be an ndgrad Tensor"):
        dist.all_reduce(np.zeros(2))
    with pytest.raises(ValueError, match="ReduceOp.AVG is not defined for bool"):
        dist.all_reduce(ndgrad.zeros(2, dtype=ndgrad.bool), op=dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("gloo")


def test_recv_size_mismatch_is_clear():
    rank, n = dist.get_rank(), dist.get_world_size()
    if rank == 0:
        dist.send(ndgrad.zeros(4), dst=1)
    elif rank == 1:
        with pytest.raises(RuntimeError, match="sent 16 bytes but the receiving tensor"):
            dist.recv(ndgrad.zeros(3), src=0)
        dist.recv(ndgrad.zeros(4), src=0)  # take the message after all
    dist.barrier()

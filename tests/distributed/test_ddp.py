"""DistributedDataParallel and SyncBatchNorm under mpiexec: same results as one process on the global batch."""
import numpy as np
import pytest

import ndgrad
import ndgrad.distributed as dist
from ndgrad import nn
from ndgrad.nn.parallel import DistributedDataParallel as DDP


def world():
    return dist.get_rank(), dist.get_world_size()


def mlp(seed):
    ndgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def batch(step, n_per_rank, world_size):
    rng = np.random.default_rng(100 + step)
    x = rng.standard_normal((n_per_rank * world_size, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=n_per_rank * world_size)
    return ndgrad.tensor(x), ndgrad.tensor(y)


class PreHookDDP(DDP):
    _post_accumulate_hooks = False  # the register_hook path, for engines without post-accumulate hooks


def params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("wrapper", [DDP, PreHookDDP])
@pytest.mark.parametrize("bucket_cap_mb", [25, 0.0005])  # one bucket; several small ones
def test_ddp_matches_single_process_training(bucket_cap_mb, wrapper):
    rank, n = world()
    ddp = wrapper(mlp(seed=0), bucket_cap_mb=bucket_cap_mb)
    if bucket_cap_mb < 1:
        assert len(ddp._buckets) > 1
    reference = mlp(seed=0)
    opt = ndgrad.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = ndgrad.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(4):
        x, y = batch(step, 4, n)
        mine = slice(4 * rank, 4 * rank + 4)
        opt.zero_grad()
        loss_fn(ddp(x[mine]), y[mine]).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(reference(x), y).backward()
        ref_opt.step()
    for got, expected in zip(params(ddp.module), params(reference)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_ranks_start_from_different_weights_and_stay_in_sync():
    rank, n = world()
    ddp = DDP(mlp(seed=rank + 10))  # different on purpose: rank 0's weights are broadcast
    opt = ndgrad.optim.Adam(ddp.parameters(), lr=0.01)
    for step in range(3):
        x, y = batch(step + rank * 50, 5, 1)  # different data per rank
        opt.zero_grad()
        nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()
    everyone = [None] * n
    dist.all_gather_object(everyone, [p.tolist() for p in params(ddp.module)])
    for other in everyone[1:]:
        for a, b in zip(everyone[0], other):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("wrapper", [DDP, PreHookDDP])
def test_no_sync_accumulates_then_averages_the_total(wrapper):
    rank, n = world()
    ddp = wrapper(mlp(seed=1))
    reference = mlp(seed=1)
    x, y = batch(0, 6, n)
    halves = [slice(6 * rank, 6 * rank + 3), slice(6 * rank + 3, 6 * rank + 6)]
    with ddp.no_sync():
        nn.functional.cross_entropy(ddp(x[halves[0]]), y[halves[0]]).backward()
    local = [p.grad.numpy().copy() for p in ddp.module.parameters()]
    nn.functional.cross_entropy(ddp(x[halves[1]]), y[halves[1]]).backward()
    # the reference: sum over the two half-batches of the mean over ranks
    for part in range(2):
        rows = np.concatenate([np.arange(6 * r + 3 * part, 6 * r + 3 * part + 3) for r in range(n)])
        (nn.functional.cross_entropy(reference(x[ndgrad.tensor(rows)]), y[ndgrad.tensor(rows)])).backward()
    for p, q, before in zip(ddp.module.parameters(), reference.parameters(), local):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(b, p.grad.numpy()) for b, p in zip(local, ddp.module.parameters()))


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.head_a = nn.Linear(4, 1)
        self.head_b = nn.Linear(4, 1)
        self.never_used = nn.Linear(4, 1)

    def forward(self, x, use_b):
        h = self.body(x)
        return self.head_b(h) if use_b else self.head_a(h)


@pytest.mark.parametrize("wrapper", [DDP, PreHookDDP])
def test_find_unused_parameters(wrapper):
    rank, n = world()
    ndgrad.manual_seed(3)
    ddp = wrapper(TwoHeads(), find_unused_parameters=True)
    x = ndgrad.ones(2, 4) * (rank + 1)
    ddp(x, use_b=(rank == 1)).sum().backward()  # rank 1 uses head_b, every other rank head_a
    assert ddp.module.head_a.weight.grad is not None
    if n > 1:
        assert ddp.module.head_b.weight.grad is not None  # used on rank 1: averaged everywhere
    assert ddp.module.never_used.weight.grad is None  # used by no rank: left alone, as in PyTorch
    everyone = [None] * n
    dist.all_gather_object(everyone, ddp.module.body.weight.grad.tolist())
    assert all(e == everyone[0] for e in everyone)


def test_unused_parameter_without_find_unused_is_a_clear_error():
    ndgrad.manual_seed(3)
    ddp = DDP(TwoHeads())
    ddp(ndgrad.ones(2, 4), use_b=False).sum().backward()
    with pytest.raises(RuntimeError, match="find_unused_parameters=True"):
        ddp(ndgrad.ones(2, 4), use_b=False)


def test_state_dict_prefix_and_checkpoint_from_rank_0(tmp_path):
    rank, n = world()
    ddp = DDP(mlp(seed=rank))
    assert all(k.startswith("module.") for k in ddp.state_dict())
    assert list(ddp.module.state_dict()) == [k[len("module."):] for k in ddp.state_dict()]
    path = [str(tmp_path / "ckpt.pt")]
    dist.broadcast_object_list(path, src=0)  # rank 0's folder, shared by every rank on this machine
    if rank == 0:
        ndgrad.save(ddp.module.state_dict(), path[0])
    dist.barrier()
    fresh = mlp(seed=99)
    fresh.load_state_dict(ndgrad.load(path[0]))
    for a, b in zip(params(fresh), params(ddp.module)):
        np.testing.assert_array_equal(a, b)
    dist.barrier()  # rank 0's tmp folder must outlive the other ranks' reads


def test_buffers_broadcast_and_sync_batchnorm_matches_global_batchnorm():
    rank, n = world()
    rng = np.random.default_rng(5)
    x_all = rng.standard_normal((2 * n, 3, 4, 4)).astype(np.float64)
    w_out = rng.standard_normal((2 * n, 3, 4, 4))
    ndgrad.manual_seed(0)
    bn = nn.BatchNorm2d(3).double()
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3))).double()
    assert isinstance(sync[0], nn.SyncBatchNorm)
    x_ref = ndgrad.tensor(x_all, requires_grad=True)
    ref_out = bn(x_ref)
    (ref_out * ndgrad.tensor(w_out)).sum().backward()
    mine = slice(2 * rank, 2 * rank + 2)
    x = ndgrad.tensor(x_all[mine], requires_grad=True)
    out = sync(x)
    (out * ndgrad.tensor(w_out[mine])).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy()[mine], atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), x_ref.grad.numpy()[mine], atol=1e-10)
    np.testing.assert_allclose(sync[0].running_var.numpy(), bn.running_var.numpy(), atol=1e-10)
    weight_grad = sync[0].weight.grad.clone()
    dist.all_reduce(weight_grad)  # DDP would average; the sum over ranks is the global gradient
    np.testing.assert_allclose(weight_grad.numpy(), bn.weight.grad.numpy(), atol=1e-10)


def test_different_models_on_the_ranks_are_a_clear_error():
    rank, n = world()
    with pytest.raises(RuntimeError, match="wrap models with different parameters"):
        DDP(nn.Linear(3, 2 + rank))
    dist.barrier()


def test_ddp_with_sync_batchnorm_matches_one_process():
    rank, n = world()

    def net():
        ndgrad.manual_seed(4)
        return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2))
    ddp = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(net()))
    reference = net()
    opt = ndgrad.optim.SGD(ddp.parameters(), lr=0.05)
    ref_opt = ndgrad.optim.SGD(reference.parameters(), lr=0.05)
    rng = np.random.default_rng(9)
    for step in range(3):
        x = ndgrad.tensor(rng.standard_normal((3 * n, 2, 4, 4)).astype(np.float32))
        y = ndgrad.tensor(rng.integers(0, 2, size=3 * n))
        mine = slice(3 * rank, 3 * rank + 3)
        opt.zero_grad()
        nn.functional.cross_entropy(ddp(x[mine]), y[mine]).backward()
        opt.step()
        ref_opt.zero_grad()
        nn.functional.cross_entropy(reference(x), y).backward()
        ref_opt.step()
    for a, b in zip(ddp.module.state_dict().values(), reference.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)

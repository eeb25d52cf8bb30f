"""Every collective against its NumPy definition, for float32 / float64 / int64, under mpiexec."""
import numpy as np
import pytest

import ndgrad
import ndgrad.distributed as dist
from ndgrad.distributed import ReduceOp

DTYPES = ["float32", "float64", "int64"]
SHAPES = [(3,), (2, 3), ()]


def world():
    return dist.get_rank(), dist.get_world_size()


def data(rank, shape, dtype, salt=0):
    """Rank ``rank``'s input: every rank can compute every other rank's (same seed recipe)."""
    rng = np.random.default_rng(1000 * salt + rank)
    return (rng.integers(-5, 6, size=shape) if dtype == "int64" else rng.standard_normal(shape)).astype(dtype)


def tensor(array):
    return ndgrad.tensor(array)


def assert_close(t, expected):
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert t.numpy().dtype == np.asarray(expected).dtype


REDUCTIONS = [(ReduceOp.SUM, lambda a: a.sum(0)), (ReduceOp.PRODUCT, lambda a: a.prod(0)),
              (ReduceOp.MIN, lambda a: a.min(0)), (ReduceOp.MAX, lambda a: a.max(0))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op,fn", REDUCTIONS)
def test_all_reduce(dtype, shape, op, fn):
    rank, n = world()
    t = tensor(data(rank, shape, dtype))
    assert dist.all_reduce(t, op=op) is None
    assert_close(t, fn(np.stack([data(r, shape, dtype) for r in range(n)])).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_reduce_avg(dtype):
    rank, n = world()
    t = tensor(data(rank, (4,), dtype))
    dist.all_reduce(t, op=ReduceOp.AVG)
    total = np.stack([data(r, (4,), dtype) for r in range(n)]).sum(0)
    assert_close(t, (total / n if dtype != "int64" else total // n).astype(dtype))


def test_all_reduce_non_contiguous_and_async():
    rank, n = world()
    base = tensor(np.arange(12.0).reshape(3, 4) + rank)
    view = base.t()  # non-contiguous: written back into base's memory
    work = dist.all_reduce(view, async_op=True)
    assert work.wait() is True and work.is_completed() and work.result()[0] is view
    expected = sum(np.arange(12.0).reshape(3, 4) + r for r in range(n))
    np.testing.assert_allclose(base.numpy(), expected)


def test_all_reduce_bool_and_bitwise():
    rank, n = world()
    flags = tensor(np.array([rank == 0, True, False]))
    dist.all_reduce(flags, op=ReduceOp.MAX)
    assert flags.tolist() == [True, True, False]
    bits = tensor(np.array([1 << rank, 7], dtype=np.int64))
    dist.all_reduce(bits, op=ReduceOp.BOR)
    assert bits.tolist() == [(1 << n) - 1, 7]


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast(dtype):
    rank, n = world()
    src = n - 1
    t = tensor(data(rank, (2, 3), dtype))
    dist.broadcast(t, src=src)
    assert_close(t, data(src, (2, 3), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce(dtype):
    rank, n = world()
    t = tensor(data(rank, (5,), dtype))
    dist.reduce(t, dst=0, op=ReduceOp.SUM)
    expected = sum(data(r, (5,), dtype) for r in range(n)) if rank == 0 else data(rank, (5,), dtype)
    assert_close(t, expected.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_all_gather(dtype, shape):
    rank, n = world()
    out = [ndgrad.zeros(shape, dtype=getattr(ndgrad, dtype)) for _ in range(n)]
    dist.all_gather(out, tensor(data(rank, shape, dtype)))
    for r in range(n):
        assert_close(out[r], data(r, shape, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_gather_into_tensor(dtype):
    rank, n = world()
    out = ndgrad.zeros((n * 2, 3), dtype=getattr(ndgrad, dtype))
    work = dist.all_gather_into_tensor(out, tensor(data(rank, (2, 3), dtype)), async_op=True)
    work.wait()
    assert_close(out, np.concatenate([data(r, (2, 3), dtype) for r in range(n)]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather(dtype):
    rank, n = world()
    dst = n - 1
    out = [ndgrad.zeros(4, dtype=getattr(ndgrad, dtype)) for _ in range(n)] if rank == dst else None
    dist.gather(tensor(data(rank, (4,), dtype)), out, dst=dst)
    if rank == dst:
        for r in range(n):
            assert_close(out[r], data(r, (4,), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter(dtype):
    rank, n = world()
    t = ndgrad.zeros((2, 2), dtype=getattr(ndgrad, dtype))
    pieces = [tensor(data(r, (2, 2), dtype, salt=7)) for r in range(n)] if rank == 0 else None
    dist.scatter(t, pieces, src=0)
    assert_close(t, data(rank, (2, 2), dtype, salt=7))


@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_scatter(dtype):
    rank, n = world()
    out = ndgrad.zeros(3, dtype=getattr(ndgrad, dtype))
    inputs = [tensor(data(rank, (3,), dtype, salt=j + 1)) for j in range(n)]
    dist.reduce_scatter(out, inputs)
    assert_close(out, sum(data(r, (3,), dtype, salt=rank + 1) for r in range(n)).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_scatter_tensor(dtype):
    rank, n = world()
    out = ndgrad.zeros(2, dtype=getattr(ndgrad, dtype))
    dist.reduce_scatter_tensor(out, tensor(data(rank, (2 * n,), dtype)), op=ReduceOp.MAX)
    full = np.stack([data(r, (2 * n,), dtype) for r in range(n)]).max(0)
    assert_close(out, full[2 * rank:2 * rank + 2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_to_all_uneven(dtype):
    rank, n = world()
    # rank i sends j+1 values to rank j, built from (i, j) so the receiver knows what to expect
    inputs = [tensor(np.full(j + 1, 10 * rank + j, dtype=dtype)) for j in range(n)]
    outputs = [ndgrad.zeros(rank + 1, dtype=getattr(ndgrad, dtype)) for _ in range(n)]
    dist.all_to_all(outputs, inputs)
    for i in range(n):
        assert_close(outputs[i], np.full(rank + 1, 10 * i + rank, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_to_all_single(dtype):
    rank, n = world()
    inp = tensor((np.arange(2 * n) + 100 * rank).astype(dtype))
    out = ndgrad.zeros(2 * n, dtype=getattr(ndgrad, dtype))
    dist.all_to_all_single(out, inp)
    expected = np.concatenate([(np.arange(2 * rank, 2 * rank + 2) + 100 * i) for i in range(n)]).astype(dtype)
    assert_close(out, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_send_recv_ring(dtype):
    rank, n = world()
    right, left = (rank + 1) % n, (rank - 1) % n
    out = ndgrad.zeros(3, dtype=getattr(ndgrad, dtype))
    work = dist.isend(tensor(data(rank, (3,), dtype)), dst=right)
    assert dist.recv(out, src=left) == left
    work.wait()
    assert_close(out, data(left, (3,), dtype))
    works = dist.batch_isend_irecv([dist.P2POp(dist.isend, tensor(data(rank, (3,), dtype, 2)), right),
                                    dist.P2POp(dist.irecv, out, left)])
    for w in works:
        w.wait()
    assert_close(out, data(left, (3,), dtype, 2))


def test_barrier_and_async_handles():
    work = dist.barrier(async_op=True)
    assert work.wait()
    assert dist.barrier() is None


def test_object_collectives():
    rank, n = world()
    gathered = [None] * n
    dist.all_gather_object(gathered, {"rank": rank, "pair": (rank, "x"), 3: [1.5, None]})
    assert gathered == [{"rank": r, "pair": (r, "x"), 3: [1.5, None]} for r in range(n)]
    objects = [{"lr": 0.1}, (1, 2), "s"] if rank == 0 else [None, None, None]
    dist.broadcast_object_list(objects, src=0)
    assert objects == [{"lr": 0.1}, (1, 2), "s"]
    out = [None] * n if rank == 0 else None
    dist.gather_object(rank * 2, out, dst=0)
    if rank == 0:
        assert out == [2 * r for r in range(n)]
    mine = [None]
    dist.scatter_object_list(mine, [f"to {r}" for r in range(n)] if rank == 0 else None, src=0)
    assert mine == [f"to {rank}"]


def test_new_group_subset():
    rank, n = world()
    sub = dist.new_group([0, 1])
    if rank > 1:
        assert sub is dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_rank(sub) == -1
        return
    assert dist.get_world_size(sub) == 2 and dist.get_rank(sub) == rank
    t = tensor(np.array([rank + 1.0]))
    dist.all_reduce(t, group=sub)
    assert t.tolist() == [3.0]
    assert dist.get_process_group_ranks(sub) == [0, 1]


def test_query_functions():
    rank, n = world()
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    assert dist.get_rank() == rank and dist.get_world_size() == n
    assert dist.group.WORLD is not None

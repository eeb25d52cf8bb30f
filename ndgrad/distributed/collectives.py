"""Tensor collectives and point-to-point messages (PyTorch's names, arguments and in-place semantics).

Each call starts one non-blocking MPI operation on the group's communicator and either waits for it
(with the group's timeout) or returns a ``Work`` handle (``async_op=True``). Before it, the ranks
compare what they pass (operation, dtype, shape, root, reduce op; one small all-gather), so a
mismatch is a clear error on every rank instead of a hang or garbage.
Set ``NDGRAD_DISTRIBUTED_CHECKS=0`` to skip that comparison where latency matters.
"""
import os

from ndgrad.backend import np
from ndgrad.distributed import _buffers as B
from ndgrad.distributed.process_group import Work, _mpi, _state, resolve, wait_requests
from ndgrad.distributed.reduce_op import ReduceOp

__all__ = ["broadcast", "all_reduce", "reduce", "all_gather", "all_gather_into_tensor", "gather", "scatter",
           "reduce_scatter", "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "send", "recv", "isend",
           "irecv", "barrier", "monitored_barrier", "P2POp", "batch_isend_irecv"]

_CHECKS = os.environ.get("NDGRAD_DISTRIBUTED_CHECKS", "1") != "0"
_OPS = ["broadcast", "all_reduce", "reduce", "all_gather", "all_gather_into_tensor", "gather", "scatter",
        "reduce_scatter", "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "barrier",
        "monitored_barrier", "broadcast_object_list", "all_gather_object", "gather_object",
        "scatter_object_list"]
_DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
           "complex64", "complex128", "uint16", "uint32", "uint64"]
_SIG = 16  # int64 fields each rank contributes to the check


# -- helpers -----------------------------------------------------------------------------------------------

def _tensor(t, op, name="tensor"):
    from ndgrad.tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be an ndgrad Tensor, got {type(t).__name__}")
    return t


def _describe(row):
    """'float32 (2, 3)' from a signature row."""
    code, ndim = int(row[1]), int(row[2])
    dtype = _DTYPES[code - 1] if 0 < code <= len(_DTYPES) else "other dtype"
    shape = tuple(int(d) for d in row[3:3 + min(ndim, 8)])
    return f"{dtype} {shape}" + (" ..." if ndim > 8 else "")


def check_same(pg, op, tensor=None, root=-1, reduce_op=None):
    """Every rank of ``pg`` must pass the same op, dtype, shape, root and reduce op: else a clear error."""
    if not _CHECKS or pg.size() == 1:
        return
    sig = np.zeros(_SIG, dtype=np.int64)
    sig[0] = _OPS.index(op)
    if tensor is not None:
        shape = tuple(tensor._data.shape)
        name = tensor._data.dtype.name
        sig[1] = _DTYPES.index(name) + 1 if name in _DTYPES else 99
        sig[2] = len(shape)
        sig[3:3 + min(len(shape), 8)] = shape[:8]
        sig[11] = hash(shape) & 0x7FFFFFFFFFFF  # int tuples hash alike in every process
    sig[12] = root
    sig[13] = -1 if reduce_op is None else reduce_op.value
    rows = np.empty((pg.size(), _SIG), dtype=np.int64)
    wait_requests([pg.comm.Iallgather(sig, rows)], pg.timeout, f"{op} (comparing arguments across ranks)")
    if (rows == rows[0]).all():
        return
    me, ranks = _state.rank, pg.ranks
    if (rows[:, 0] != rows[0, 0]).any():
        calls = ", ".join(f"rank {ranks[i]}: {_OPS[int(r[0])]}" for i, r in enumerate(rows))
        raise RuntimeError(f"[rank {me}] collective mismatch: the ranks called different collectives ({calls}). "
                           f"Fix: every rank of the group must call the same collectives in the same order")
    if (rows[:, 1:12] != rows[0, 1:12]).any():
        what = ", ".join(f"rank {ranks[i]}: {_describe(r)}" for i, r in enumerate(rows))
        raise RuntimeError(f"[rank {me}] {op}: the ranks passed tensors of different shapes or dtypes ({what}). "
                           f"Fix: every rank must pass a tensor of the same shape and dtype")
    if (rows[:, 12] != rows[0, 12]).any():
        roots = ", ".join(f"rank {ranks[i]}: {ranks[int(r[12])]}" for i, r in enumerate(rows))
        raise RuntimeError(f"[rank {me}] {op}: the ranks disagree on the source/destination rank ({roots}). "
                           f"Fix: pass the same src/dst on every rank")
    ops = ", ".join(f"rank {ranks[i]}: {ReduceOp.RedOpType(int(r[13])).name}" for i, r in enumerate(rows))
    raise RuntimeError(f"[rank {me}] {op}: the ranks passed different reduce ops ({ops}). Fix: pass the same op")


def _root(pg, global_rank, group_rank, op, name):
    """The group rank of a src/dst given either as a global rank or as ``group_src``/``group_dst``."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError(f"{op}: pass either {name} or group_{name}, not both")
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"{op}: group_{name}={group_rank} is not a rank of the group of size {pg.size()}")
        return int(group_rank)
    return pg.group_rank(0 if global_rank is None else global_rank, op)


def mpi_op(op, dtype, what):
    """The MPI reduction for ``op`` on ``dtype`` (bools reduce logically, as PyTorch's do)."""
    if not isinstance(op, ReduceOp.RedOpType):
        raise TypeError(f"{what}: op must be a dist.ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR), "
                        f"got {op!r}")
    MPI = _mpi()
    kind = np.dtype(dtype).kind
    if kind == "b":
        if op is ReduceOp.AVG:
            raise ValueError(f"{what}: ReduceOp.AVG is not defined for bool tensors. Fix: convert to a float dtype")
        return {"SUM": MPI.LOR, "MAX": MPI.LOR, "BOR": MPI.LOR, "PRODUCT": MPI.LAND, "MIN": MPI.LAND,
                "BAND": MPI.LAND, "BXOR": MPI.LXOR}[op.name]
    if op.name in ("BAND", "BOR", "BXOR") and kind not in "iu":
        raise ValueError(f"{what}: ReduceOp.{op.name} needs an integer or bool tensor, got dtype {dtype}")
    if op.name in ("MIN", "MAX") and kind == "c":
        raise ValueError(f"{what}: ReduceOp.{op.name} is not defined for complex tensors")
    return {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN, "MAX": MPI.MAX,
            "BAND": MPI.BAND, "BOR": MPI.BOR, "BXOR": MPI.BXOR}[op.name]


def _average(array, op, size):
    if op is ReduceOp.AVG:
        if array.dtype.kind in "fc":
            np.divide(array, size, out=array)
        else:
            np.floor_divide(array, size, out=array)


def _start(pg, op, requests, finish=None, async_op=False, result=None):
    work = Work(f"{op} on a group of {pg.size()} rank(s)", requests, pg.timeout, finish, result)
    if async_op:
        return work
    work.wait()
    return None


def _list_of(tensors, count, like, op, name):
    """``tensors`` must be a list of ``count`` tensors shaped and typed like ``like``."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != count:
        got = f"{len(tensors)} tensors" if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"[rank {_state.rank}] {op}: {name} must be a list of {count} tensors (one per rank of "
                         f"the group), got {got}")
    for t in tensors:
        _tensor(t, op, name + " entries")
        if t.shape != like.shape or t.dtype != like.dtype:
            raise ValueError(f"[rank {_state.rank}] {op}: every tensor in {name} must have shape "
                             f"{tuple(like.shape)} and dtype {like.dtype} like the input, got {tuple(t.shape)} "
                             f"{t.dtype}")
    return tensors


def _nccl(pg, op):
    from ndgrad.distributed import nccl
    fn = getattr(nccl, op, None)
    if fn is None:
        raise NotImplementedError(f"{op} is not implemented for the 'nccl' backend in ndgrad. Fix: create a "
                                  f"group with new_group(backend='gloo') for it and pass CPU tensors")
    return fn


# -- collectives -------------------------------------------------------------------------------------------

def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every rank."""
    pg = resolve(group, "broadcast")
    if pg is None:
        return None
    _tensor(tensor, "broadcast")
    root = _root(pg, src, group_src, "broadcast", "src")
    if pg.nccl is not None:
        return _nccl(pg, "broadcast")(pg, tensor, root, async_op)
    check_same(pg, "broadcast", tensor, root)
    if pg.rank() == root:
        return _start(pg, "broadcast", [pg.comm.Ibcast(B.host_array(tensor), root=root)], async_op=async_op,
                      result=[tensor])
    buf = B.output_array(tensor, keep_values=False)
    return _start(pg, "broadcast", [pg.comm.Ibcast(buf, root=root)], lambda: B.store(tensor, buf), async_op,
                  [tensor])


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks with ``op``; every rank receives the result in place."""
    pg = resolve(group, "all_reduce")
    if pg is None:
        return None
    _tensor(tensor, "all_reduce")
    if pg.nccl is not None:
        return _nccl(pg, "all_reduce")(pg, tensor, op, async_op)
    buf = B.output_array(tensor, keep_values=True)
    mop = mpi_op(op, buf.dtype, "all_reduce")
    check_same(pg, "all_reduce", tensor, reduce_op=op)

    def finish():
        _average(buf, op, pg.size())
        B.store(tensor, buf)
    return _start(pg, "all_reduce", [pg.comm.Iallreduce(_mpi().IN_PLACE, buf, mop)], finish, async_op, [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` over all ranks into ``tensor`` on rank ``dst`` (others keep theirs)."""
    pg = resolve(group, "reduce")
    if pg is None:
        return None
    _tensor(tensor, "reduce")
    root = _root(pg, dst, group_dst, "reduce", "dst")
    if pg.nccl is not None:
        return _nccl(pg, "reduce")(pg, tensor, root, op, async_op)
    MPI = _mpi()
    if pg.rank() != root:
        send = B.host_array(tensor)
        mop = mpi_op(op, send.dtype, "reduce")
        check_same(pg, "reduce", tensor, root, op)
        return _start(pg, "reduce", [pg.comm.Ireduce(send, None, mop, root=root)], async_op=async_op)
    buf = B.output_array(tensor, keep_values=True)
    mop = mpi_op(op, buf.dtype, "reduce")
    check_same(pg, "reduce", tensor, root, op)

    def finish():
        _average(buf, op, pg.size())
        B.store(tensor, buf)
    return _start(pg, "reduce", [pg.comm.Ireduce(MPI.IN_PLACE, buf, mop, root=root)], finish, async_op, [tensor])


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[i]`` receives rank i's ``tensor`` on every rank."""
    pg = resolve(group, "all_gather")
    if pg is None:
        return None
    _tensor(tensor, "all_gather")
    _list_of(tensor_list, pg.size(), tensor, "all_gather", "tensor_list")
    if pg.nccl is not None:
        return _nccl(pg, "all_gather")(pg, tensor_list, tensor, async_op)
    check_same(pg, "all_gather", tensor)
    send = B.host_array(tensor)
    recv = np.empty((pg.size(),) + send.shape, dtype=send.dtype)

    def finish():
        for t, part in zip(tensor_list, recv):
            B.store(t, part)
    return _start(pg, "all_gather", [pg.comm.Iallgather(send, recv)], finish, async_op, tensor_list)


def _check_holds_world(pg, op, whole, whole_name, part, part_name):
    """The flat collectives: ``whole`` holds world_size ``part``s, element for element, of ``part``'s dtype."""
    if whole.numel() != pg.size() * part.numel() or whole.dtype != part.dtype:
        raise ValueError(f"[rank {_state.rank}] {op}: {whole_name} must hold world_size ({pg.size()}) x "
                         f"{part_name}'s {part.numel()} elements of dtype {part.dtype}, got shape "
                         f"{tuple(whole.shape)} {whole.dtype}")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Rank i's ``input_tensor`` fills the i-th slice of ``output_tensor`` (concatenated or stacked on dim 0)."""
    pg = resolve(group, "all_gather_into_tensor")
    if pg is None:
        return None
    _tensor(output_tensor, "all_gather_into_tensor", "output_tensor")
    _tensor(input_tensor, "all_gather_into_tensor", "input_tensor")
    _check_holds_world(pg, "all_gather_into_tensor", output_tensor, "output_tensor", input_tensor, "input_tensor")
    if pg.nccl is not None:
        return _nccl(pg, "all_gather_into_tensor")(pg, output_tensor, input_tensor, async_op)
    check_same(pg, "all_gather_into_tensor", input_tensor)
    recv = B.output_array(output_tensor, keep_values=False)
    return _start(pg, "all_gather_into_tensor", [pg.comm.Iallgather(B.host_array(input_tensor), recv)],
                  lambda: B.store(output_tensor, recv), async_op, [output_tensor])


def _rooted_list_args(pg, op, tensor, tensors, list_name, global_rank, group_rank, root_name):
    """Check gather's / scatter's arguments; returns the root's group rank. Only the root (``dst`` / ``src``)
    passes a list, of one tensor like ``tensor`` per rank; the other ranks pass none."""
    _tensor(tensor, op)
    root = _root(pg, global_rank, group_rank, op, root_name)
    if pg.rank() == root:
        _list_of(tensors, pg.size(), tensor, op, list_name)
    elif tensors:
        role = "destination" if root_name == "dst" else "source"
        raise ValueError(f"Argument ``{list_name}`` must NOT be specified on non-{role} ranks.")
    return root


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Rank ``dst`` receives every rank's ``tensor`` in ``gather_list``."""
    pg = resolve(group, "gather")
    if pg is None:
        return None
    root = _rooted_list_args(pg, "gather", tensor, gather_list, "gather_list", dst, group_dst, "dst")
    if pg.nccl is not None:
        return _nccl(pg, "gather")(pg, tensor, gather_list, root, async_op)
    check_same(pg, "gather", tensor, root)
    send = B.host_array(tensor)
    if pg.rank() != root:
        return _start(pg, "gather", [pg.comm.Igather(send, None, root=root)], async_op=async_op)
    recv = np.empty((pg.size(),) + send.shape, dtype=send.dtype)

    def finish():
        for t, part in zip(gather_list, recv):
            B.store(t, part)
    return _start(pg, "gather", [pg.comm.Igather(send, recv, root=root)], finish, async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank i receives ``scatter_list[i]`` of rank ``src`` into ``tensor``."""
    pg = resolve(group, "scatter")
    if pg is None:
        return None
    root = _rooted_list_args(pg, "scatter", tensor, scatter_list, "scatter_list", src, group_src, "src")
    if pg.nccl is not None:
        return _nccl(pg, "scatter")(pg, tensor, scatter_list, root, async_op)
    check_same(pg, "scatter", tensor, root)
    recv = B.output_array(tensor, keep_values=False)
    send = np.stack([B.host_array(t) for t in scatter_list]) if pg.rank() == root else None
    return _start(pg, "scatter", [pg.comm.Iscatter(send, recv, root=root)], lambda: B.store(tensor, recv),
                  async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` on rank i receives the reduction over ranks of their ``input_list[i]``."""
    pg = resolve(group, "reduce_scatter")
    if pg is None:
        return None
    _tensor(output, "reduce_scatter", "output")
    _list_of(input_list, pg.size(), output, "reduce_scatter", "input_list")
    send = np.stack([B.host_array(t) for t in input_list])
    return _reduce_scatter(pg, "reduce_scatter", output, send, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank i's ``output`` receives the reduction of slice i of every rank's ``input``."""
    pg = resolve(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    _tensor(output, "reduce_scatter_tensor", "output")
    _tensor(input, "reduce_scatter_tensor", "input")
    _check_holds_world(pg, "reduce_scatter_tensor", input, "input", output, "output")
    if pg.nccl is not None:
        return _nccl(pg, "reduce_scatter_tensor")(pg, output, input, op, async_op)
    return _reduce_scatter(pg, "reduce_scatter_tensor", output, B.host_array(input), op, async_op)


def _reduce_scatter(pg, name, output, send, op, async_op):
    recv = B.output_array(output, keep_values=False)
    mop = mpi_op(op, recv.dtype, name)
    check_same(pg, name, output, reduce_op=op)

    def finish():
        _average(recv, op, pg.size())
        B.store(output, recv)
    return _start(pg, name, [pg.comm.Ireduce_scatter_block(send, recv, mop)], finish, async_op, [output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank i sends ``input_tensor_list[j]`` to rank j, which receives it in ``output_tensor_list[i]``."""
    pg = resolve(group, "all_to_all")
    if pg is None:
        return None
    n = pg.size()
    for name, tensors in (("output_tensor_list", output_tensor_list), ("input_tensor_list", input_tensor_list)):
        if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
            raise ValueError(f"[rank {_state.rank}] all_to_all: {name} must be a list of {n} tensors (one per "
                             f"rank of the group)")
        for t in tensors:
            _tensor(t, "all_to_all", name + " entries")
    dtypes = {t.dtype for t in list(output_tensor_list) + list(input_tensor_list)}
    if len(dtypes) > 1:
        raise ValueError(f"[rank {_state.rank}] all_to_all: all tensors must have one dtype, got "
                         f"{sorted(map(str, dtypes))}")
    send = np.concatenate([B.host_array(t).ravel() for t in input_tensor_list]) if n else None
    outputs = [B.output_array(t, keep_values=False) for t in output_tensor_list]
    recv = np.empty(sum(o.size for o in outputs), dtype=send.dtype)
    send_counts = [t.numel() for t in input_tensor_list]
    recv_counts = [o.size for o in outputs]

    def finish():
        offset = 0
        for t, o in zip(output_tensor_list, outputs):
            B.store(t, recv[offset:offset + o.size])
            offset += o.size
    return _alltoallv(pg, "all_to_all", send, send_counts, recv, recv_counts, finish, async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Split ``input`` along dim 0 (equally, or by ``input_split_sizes``) and exchange the pieces."""
    pg = resolve(group, "all_to_all_single")
    if pg is None:
        return None
    _tensor(output, "all_to_all_single", "output")
    _tensor(input, "all_to_all_single", "input")
    if output.dtype != input.dtype:
        raise ValueError(f"all_to_all_single: output ({output.dtype}) and input ({input.dtype}) dtypes differ")
    send_counts = _split_counts(input, input_split_sizes, pg.size(), "input")
    recv_counts = _split_counts(output, output_split_sizes, pg.size(), "output")
    send = B.host_array(input).reshape(-1)
    recv = B.output_array(output, keep_values=False)
    return _alltoallv(pg, "all_to_all_single", send, send_counts, recv.reshape(-1), recv_counts,
                      lambda: B.store(output, recv), async_op)


def _split_counts(t, splits, n, name):
    rows = t.shape[0] if t.dim() else 1
    per_row = t.numel() // rows if rows else 0
    if splits is None or len(splits) == 0:
        if rows % n:
            raise ValueError(f"[rank {_state.rank}] all_to_all_single: {name} has {rows} rows on dim 0, which does "
                             f"not split evenly over {n} ranks. Fix: pass {name}_split_sizes")
        splits = [rows // n] * n
    if len(splits) != n or sum(splits) != rows:
        raise ValueError(f"[rank {_state.rank}] all_to_all_single: {name}_split_sizes={list(splits)} must have "
                         f"{n} entries summing to {name}.shape[0]={rows}")
    return [int(s) * per_row for s in splits]


def _alltoallv(pg, name, send, send_counts, recv, recv_counts, finish, async_op):
    from mpi4py.util.dtlib import from_numpy_dtype
    if _CHECKS and pg.size() > 1:  # rank i's send count to j must equal j's receive count from i
        check_same(pg, name)
        table = np.empty((pg.size(), 2, pg.size()), dtype=np.int64)
        mine = np.array([send_counts, recv_counts], dtype=np.int64)
        wait_requests([pg.comm.Iallgather(mine, table)], pg.timeout, f"{name} (comparing split sizes)")
        if (table[:, 0, :] != table[:, 1, :].T).any():
            raise RuntimeError(f"[rank {_state.rank}] {name}: the ranks' split sizes do not match (rank i must "
                               f"send rank j as many elements as rank j expects from rank i); send counts "
                               f"{table[:, 0, :].tolist()}, receive counts {table[:, 1, :].tolist()}")
    mpi_type = from_numpy_dtype(send.dtype)
    send_displs = np.concatenate([[0], np.cumsum(send_counts)[:-1]]).astype(int).tolist()
    recv_displs = np.concatenate([[0], np.cumsum(recv_counts)[:-1]]).astype(int).tolist()
    request = pg.comm.Ialltoallv([send, (send_counts, send_displs), mpi_type],
                                [recv, (recv_counts, recv_displs), mpi_type])
    return _start(pg, name, [request], finish, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group reached the barrier (or the group's timeout passed)."""
    pg = resolve(group, "barrier")
    if pg is None:
        return None
    return _start(pg, "barrier", [pg.comm.Ibarrier()], async_op=async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    pg = resolve(group, "monitored_barrier")
    if pg is None:
        return None
    from ndgrad.distributed.process_group import _seconds
    seconds = pg.timeout if timeout is None else _seconds(timeout)
    wait_requests([pg.comm.Ibarrier()], seconds, "monitored_barrier")


# -- point to point ----------------------------------------------------------------------------------------

def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` without waiting; returns a Work."""
    pg = resolve(group, "isend")
    if pg is None:
        return None
    _tensor(tensor, "isend")
    peer = _root(pg, dst, group_dst, "isend", "dst")
    if pg.nccl is not None:
        return _nccl(pg, "send")(pg, tensor, peer, True)
    buf = B.host_array(tensor)
    return _start(pg, f"isend to rank {pg.ranks[peer]}", [pg.comm.Isend(buf, dest=peer, tag=tag)], async_op=True,
                  result=[tensor])


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` and wait until it left."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when None) without waiting; returns a Work."""
    pg = resolve(group, "irecv")
    if pg is None:
        return None
    _tensor(tensor, "irecv")
    MPI = _mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src, "irecv", "src")
    if pg.nccl is not None:
        return _nccl(pg, "recv")(pg, tensor, peer, True)
    buf = B.output_array(tensor, keep_values=False)
    return _start(pg, "irecv", [pg.comm.Irecv(buf, source=peer, tag=tag)], lambda: B.store(tensor, buf),
                  async_op=True, result=[tensor])


class _Probe:
    """Request-like: Test() is true once a matching message waits (so a recv can time out and check sizes)."""

    def __init__(self, comm, source, tag):
        self.comm, self.source, self.tag = comm, source, tag
        self.status = _mpi().Status()

    def Test(self):
        return self.comm.Iprobe(source=self.source, tag=self.tag, status=self.status)


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender's global rank."""
    pg = resolve(group, "recv")
    if pg is None:
        return -1
    _tensor(tensor, "recv")
    MPI = _mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src, "recv", "src")
    if pg.nccl is not None:
        _nccl(pg, "recv")(pg, tensor, peer, False)
        return pg.ranks[peer]
    probe = _Probe(pg.comm, peer, tag)
    wait_requests([probe], pg.timeout, "recv")
    sender = probe.status.Get_source()
    buf = B.output_array(tensor, keep_values=False)
    if probe.status.Get_count(MPI.BYTE) != buf.nbytes:
        raise RuntimeError(f"[rank {_state.rank}] recv: rank {pg.ranks[sender]} sent "
                           f"{probe.status.Get_count(MPI.BYTE)} bytes but the receiving tensor (shape "
                           f"{tuple(tensor.shape)}, {tensor.dtype}) holds {buf.nbytes}. Fix: receive into a "
                           f"tensor of the sent tensor's shape and dtype")
    pg.comm.Recv(buf, source=sender, tag=tag)
    B.store(tensor, buf)
    return pg.ranks[sender]


class P2POp:
    """``P2POp(dist.isend or dist.irecv, tensor, peer, group=None, tag=0)`` for ``batch_isend_irecv``."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``ndgrad.distributed.isend`` or "
                             "``ndgrad.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group, self.tag, self.group_peer = \
            op, tensor, peer, group, tag, group_peer


def batch_isend_irecv(p2p_op_list):
    """Start every send and receive of the list; returns their Work handles."""
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``P2POp``.")
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]

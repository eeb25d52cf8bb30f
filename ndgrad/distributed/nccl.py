"""The ``"nccl"`` backend: collectives on CUDA tensors through ``cupy.cuda.nccl``.

The NCCL unique id is made on group rank 0 and sent to the others over the group's MPI
communicator (as JSON bytes), so MPI still starts the job and carries object collectives.
Each process drives one GPU: ``device_id``, else ``LOCAL_RANK`` modulo the number of GPUs.
Operations run on the current CuPy stream; ``Work.wait()`` synchronises with it.

Written against CuPy's NCCL API; this repository's CI has no GPU, so it is untested here
(multi-GPU was not available to test).
"""
import json
import os

from ndgrad.backend import np
from ndgrad.distributed.process_group import Work, _state
from ndgrad.distributed.reduce_op import ReduceOp

_FIX = "Fix: use backend='gloo' (or 'mpi') for CPU tensors, or run on a machine with an NVIDIA GPU and CuPy"


def _cupy():
    try:
        import cupy
        from cupy.cuda import nccl
    except Exception as e:
        raise RuntimeError(f"[rank {_state.rank}] backend='nccl' needs CuPy with NCCL (pip install "
                           f"\"ndgrad[cuda]\" nvidia-nccl-cu12) and an NVIDIA GPU; importing them failed: {e}. "
                           f"{_FIX}") from None
    return cupy, nccl


def attach(pg, device_id=None):
    """Give ``pg`` a NCCL communicator over the same ranks (collective over the group's MPI comm)."""
    cupy, nccl = _cupy()
    me = pg.comm.Get_rank()
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:
        count = 0
    if count == 0:
        raise RuntimeError(f"[rank {_state.rank}] backend='nccl' needs an NVIDIA GPU, but this process sees none. "
                           f"{_FIX}")
    if device_id is None:
        device_id = int(os.environ.get("LOCAL_RANK", me)) % count
    elif not isinstance(device_id, int):
        device_id = getattr(device_id, "index", None) or 0
    cupy.cuda.Device(device_id).use()
    payload = json.dumps(list(nccl.get_unique_id()) if me == 0 else None).encode()
    size = np.array([len(payload)], dtype=np.int64)
    pg.comm.Bcast(size, root=0)
    buf = np.frombuffer(payload, dtype=np.uint8).copy() if me == 0 else np.empty(int(size[0]), dtype=np.uint8)
    pg.comm.Bcast(buf, root=0)
    unique_id = tuple(json.loads(buf.tobytes().decode()))
    pg.nccl = nccl.NcclCommunicator(pg.size(), unique_id, me)
    pg.nccl_device = device_id


class _EventRequest:
    """Request-like view of a CUDA event recorded after the NCCL call."""

    def __init__(self, event):
        self.event = event

    def Test(self):
        return self.event.done


def _args(tensor, what):
    cupy, nccl = _cupy()
    data = tensor._data
    if not isinstance(data, cupy.ndarray):
        raise RuntimeError(f"[rank {_state.rank}] {what}: the 'nccl' backend works on CUDA tensors, got a tensor on "
                           f"{tensor.device}. Fix: move it with .cuda(), or use a 'gloo' group for CPU tensors")
    types = {"float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64, "float16": nccl.NCCL_FLOAT16,
             "int64": nccl.NCCL_INT64, "int32": nccl.NCCL_INT32, "int8": nccl.NCCL_INT8, "uint8": nccl.NCCL_UINT8}
    if data.dtype.name not in types:
        raise TypeError(f"[rank {_state.rank}] {what}: the 'nccl' backend has no dtype {data.dtype.name}")
    if not data.flags.c_contiguous:
        raise ValueError(f"[rank {_state.rank}] {what}: tensors must be contiguous. Fix: tensor.contiguous()")
    return cupy, nccl, data, types[data.dtype.name]


def _op(nccl, op, what):
    table = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.AVG: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD,
             ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.MAX: nccl.NCCL_MAX}
    if op not in table:
        raise ValueError(f"{what}: the 'nccl' backend supports SUM, AVG, PRODUCT, MIN, MAX, got {op}")
    return table[op]


def _finish(pg, what, cupy, async_op, after=None, tensors=()):
    event = cupy.cuda.Event(block=False, disable_timing=True)
    event.record()

    def finish():
        if after is not None:
            after()
        for t in tensors:
            t._bump_version()
    work = Work(f"{what} (nccl) on a group of {pg.size()}", [_EventRequest(event)], pg.timeout, finish)
    if async_op:
        return work
    work.wait()
    return None


def _average(data, op, size):
    if op is ReduceOp.AVG:
        if data.dtype.kind == "f":
            data /= size
        else:
            data //= size


def all_reduce(pg, tensor, op, async_op):
    cupy, nccl, data, dtype = _args(tensor, "all_reduce")
    stream = cupy.cuda.get_current_stream().ptr
    pg.nccl.allReduce(data.data.ptr, data.data.ptr, data.size, dtype, _op(nccl, op, "all_reduce"), stream)
    return _finish(pg, "all_reduce", cupy, async_op, lambda: _average(data, op, pg.size()), [tensor])


def broadcast(pg, tensor, root, async_op):
    cupy, nccl, data, dtype = _args(tensor, "broadcast")
    pg.nccl.bcast(data.data.ptr, data.size, dtype, root, cupy.cuda.get_current_stream().ptr)
    return _finish(pg, "broadcast", cupy, async_op, tensors=[tensor])


def reduce(pg, tensor, root, op, async_op):
    cupy, nccl, data, dtype = _args(tensor, "reduce")
    pg.nccl.reduce(data.data.ptr, data.data.ptr, data.size, dtype, _op(nccl, op, "reduce"), root,
                   cupy.cuda.get_current_stream().ptr)
    after = (lambda: _average(data, op, pg.size())) if pg.rank() == root else None
    return _finish(pg, "reduce", cupy, async_op, after, [tensor])


def all_gather_into_tensor(pg, output, input, async_op):
    cupy, nccl, src, dtype = _args(input, "all_gather_into_tensor")
    _, _, out, _ = _args(output, "all_gather_into_tensor")
    pg.nccl.allGather(src.data.ptr, out.data.ptr, src.size, dtype, cupy.cuda.get_current_stream().ptr)
    return _finish(pg, "all_gather_into_tensor", cupy, async_op, tensors=[output])


def all_gather(pg, tensor_list, tensor, async_op):
    cupy, _, src, _ = _args(tensor, "all_gather")
    import ndgrad
    stacked = ndgrad.empty((pg.size(),) + tuple(tensor.shape), dtype=tensor.dtype, device=tensor.device)
    all_gather_into_tensor(pg, stacked, tensor, False)
    for i, t in enumerate(tensor_list):
        t._data[...] = stacked._data[i]
        t._bump_version()
    return _finish(pg, "all_gather", cupy, async_op)


def reduce_scatter_tensor(pg, output, input, op, async_op):
    cupy, nccl, src, dtype = _args(input, "reduce_scatter_tensor")
    _, _, out, _ = _args(output, "reduce_scatter_tensor")
    pg.nccl.reduceScatter(src.data.ptr, out.data.ptr, out.size, dtype, _op(nccl, op, "reduce_scatter_tensor"),
                          cupy.cuda.get_current_stream().ptr)
    return _finish(pg, "reduce_scatter_tensor", cupy, async_op, lambda: _average(out, op, pg.size()), [output])


def send(pg, tensor, peer, async_op):
    cupy, nccl, data, dtype = _args(tensor, "send")
    pg.nccl.send(data.data.ptr, data.size, dtype, peer, cupy.cuda.get_current_stream().ptr)
    return _finish(pg, "send", cupy, async_op)


def recv(pg, tensor, peer, async_op):
    if peer < 0:
        raise ValueError(f"[rank {_state.rank}] recv: the 'nccl' backend needs an explicit src rank")
    cupy, nccl, data, dtype = _args(tensor, "recv")
    pg.nccl.recv(data.data.ptr, data.size, dtype, peer, cupy.cuda.get_current_stream().ptr)
    return _finish(pg, "recv", cupy, async_op, tensors=[tensor])


"""``ndgrad.distributed``: PyTorch's ``torch.distributed`` API on MPI (CPU, one or many machines) and NCCL (GPUs).

Start a program on N processes with ``ndgrad run -n N script.py`` (or ``mpiexec -n N python script.py``);
in it, ``init_process_group("gloo")`` (or ``"mpi"``; ``"nccl"`` for CUDA tensors) joins them.
"""
from ndgrad.distributed.reduce_op import Backend, ReduceOp, reduce_op
from ndgrad.distributed.process_group import (
    DistBackendError, DistError, DistNetworkError, DistStoreError, GroupMember, ProcessGroup, Work,
    default_pg_timeout, destroy_process_group, get_backend, get_global_rank, get_group_rank,
    get_process_group_ranks, get_rank, get_world_size, group, init_process_group, is_available,
    is_gloo_available, is_initialized, is_mpi_available, is_nccl_available, is_torchelastic_launched, new_group)
from ndgrad.distributed.collectives import (
    P2POp, all_gather, all_gather_into_tensor, all_reduce, all_to_all, all_to_all_single, barrier,
    batch_isend_irecv, broadcast, gather, irecv, isend, monitored_barrier, recv, reduce, reduce_scatter,
    reduce_scatter_tensor, scatter, send)
from ndgrad.distributed.objects import all_gather_object, broadcast_object_list, gather_object, scatter_object_list

__all__ = [
    "Backend", "ReduceOp", "reduce_op", "DistBackendError", "DistError", "DistNetworkError", "DistStoreError",
    "GroupMember", "ProcessGroup", "Work", "default_pg_timeout", "destroy_process_group", "get_backend",
    "get_global_rank", "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "is_available", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "new_group", "P2POp", "all_gather", "all_gather_into_tensor",
    "all_reduce", "all_to_all", "all_to_all_single", "barrier", "batch_isend_irecv", "broadcast", "gather",
    "irecv", "isend", "monitored_barrier", "recv", "reduce", "reduce_scatter", "reduce_scatter_tensor", "scatter",
    "send", "all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list",
]

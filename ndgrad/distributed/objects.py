"""Object collectives: Python data travels as JSON bytes, never as pickles.

PyTorch pickles objects, and unpickling bytes from the network runs arbitrary code. ndgrad sends
JSON instead: dicts, lists, tuples, str, int, float, bool and None (tuples, non-string dict keys and
NumPy scalars come back as they went). Anything else is a TypeError naming the object.
"""
import json

from ndgrad.backend import np
from ndgrad.distributed.collectives import _root, check_same
from ndgrad.distributed.process_group import _state, resolve, wait_requests

__all__ = ["broadcast_object_list", "all_gather_object", "gather_object", "scatter_object_list"]


def _tag(obj, op):
    """JSON-able form of ``obj``: tuples and dicts with non-string keys tagged so they come back whole."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, list):
        return [_tag(o, op) for o in obj]
    if isinstance(obj, tuple):
        return {"__tuple__": [_tag(o, op) for o in obj]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and "__tuple__" not in obj and "__items__" not in obj:
            return {k: _tag(v, op) for k, v in obj.items()}
        return {"__items__": [[_tag(k, op), _tag(v, op)] for k, v in obj.items()]}
    raise TypeError(f"[rank {_state.rank}] {op}: cannot send an object of type {type(obj).__name__}: ndgrad sends "
                    f"objects as JSON (dict, list, tuple, str, int, float, bool, None), never pickles. Fix: send "
                    f"tensors with the tensor collectives, or convert the object (e.g. tensor.tolist())")


def _untag(obj):
    if isinstance(obj, list):
        return [_untag(o) for o in obj]
    if isinstance(obj, dict):
        if "__tuple__" in obj and len(obj) == 1:
            return tuple(_untag(o) for o in obj["__tuple__"])
        if "__items__" in obj and len(obj) == 1:
            return {_hashable(_untag(k)): _untag(v) for k, v in obj["__items__"]}
        return {k: _untag(v) for k, v in obj.items()}
    return obj


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


def encode(obj, op):
    return np.frombuffer(json.dumps(_tag(obj, op), allow_nan=True).encode(), dtype=np.uint8)


def decode(array):
    return _untag(json.loads(array.tobytes().decode()))


def _wait(pg, request, op):
    wait_requests([request], pg.timeout, op)


def _gather_bytes(pg, payload, op, root=None):
    """Every rank's bytes, to every rank (root None) or to ``root`` only (others get None)."""
    size = np.array([payload.size], dtype=np.int64)
    sizes = np.empty(pg.size(), dtype=np.int64)
    _wait(pg, pg.comm.Iallgather(size, sizes), op)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    everything = np.empty(int(sizes.sum()), dtype=np.uint8)
    spec = [everything, (sizes.tolist(), displs)]
    if root is None:
        _wait(pg, pg.comm.Iallgatherv(payload, spec), op)
    else:
        _wait(pg, pg.comm.Igatherv(payload, spec if pg.rank() == root else None, root=root), op)
        if pg.rank() != root:
            return None
    return [everything[d:d + s] for d, s in zip(displs, sizes.tolist())]


def _broadcast_bytes(pg, payload, root, op):
    size = np.array([payload.size if payload is not None else 0], dtype=np.int64)
    _wait(pg, pg.comm.Ibcast(size, root=root), op)
    buf = payload if pg.rank() == root else np.empty(int(size[0]), dtype=np.uint8)
    _wait(pg, pg.comm.Ibcast(buf, root=root), op)
    return buf


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Fill ``object_list`` on every rank with rank ``src``'s entries."""
    pg = resolve(group, "broadcast_object_list")
    if pg is None:
        return
    root = _root(pg, src, group_src, "broadcast_object_list", "src")
    check_same(pg, "broadcast_object_list", root=root)
    payload = encode(list(object_list), "broadcast_object_list") if pg.rank() == root else None
    received = decode(_broadcast_bytes(pg, payload, root, "broadcast_object_list"))
    if pg.rank() != root:
        if len(received) != len(object_list):
            raise ValueError(f"[rank {_state.rank}] broadcast_object_list: rank {pg.ranks[root]} sent "
                             f"{len(received)} objects but this rank's object_list has {len(object_list)} slots. "
                             f"Fix: pass lists of the same length on every rank")
        object_list[:] = received


def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` receives rank i's ``obj`` on every rank."""
    pg = resolve(group, "all_gather_object")
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"[rank {_state.rank}] all_gather_object: object_list must have one slot per rank "
                         f"({pg.size()}), got {len(object_list)}. Fix: [None] * dist.get_world_size()")
    check_same(pg, "all_gather_object")
    parts = _gather_bytes(pg, encode(obj, "all_gather_object"), "all_gather_object")
    object_list[:] = [decode(p) for p in parts]


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Rank ``dst`` receives every rank's ``obj`` in ``object_gather_list``."""
    pg = resolve(group, "gather_object")
    if pg is None:
        return
    root = _root(pg, dst, group_dst, "gather_object", "dst")
    if pg.rank() == root and (object_gather_list is None or len(object_gather_list) != pg.size()):
        raise ValueError(f"[rank {_state.rank}] gather_object: object_gather_list must have one slot per rank "
                         f"({pg.size()}) on the destination rank")
    check_same(pg, "gather_object", root=root)
    parts = _gather_bytes(pg, encode(obj, "gather_object"), "gather_object", root)
    if parts is not None:
        object_gather_list[:] = [decode(p) for p in parts]


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """``scatter_object_output_list[0]`` on rank i receives ``scatter_object_input_list[i]`` of rank ``src``."""
    pg = resolve(group, "scatter_object_list")
    if pg is None:
        return
    root = _root(pg, src, group_src, "scatter_object_list", "src")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    if pg.rank() == root and (scatter_object_input_list is None or len(scatter_object_input_list) != pg.size()):
        raise ValueError(f"[rank {_state.rank}] scatter_object_list: scatter_object_input_list must have one "
                         f"object per rank ({pg.size()}) on the source rank")
    check_same(pg, "scatter_object_list", root=root)
    payload = encode(list(scatter_object_input_list), "scatter_object_list") if pg.rank() == root else None
    everything = decode(_broadcast_bytes(pg, payload, root, "scatter_object_list"))
    scatter_object_output_list[0] = everything[pg.rank()]

"""DistributedDataParallel: one model replica per process, gradients averaged over the processes.

At construction rank 0's parameters and buffers are broadcast, so every replica starts equal. Each
backward pass then averages the gradients with bucketed, non-blocking all-reduces: parameters are
packed (in reverse registration order, roughly the order their gradients arrive) into buckets of
``bucket_cap_mb``; a gradient hook copies each gradient into its bucket, and a bucket's all-reduce
starts as soon as its last gradient arrived (buckets start in order, as MPI needs every rank to
issue collectives in one order), while later gradients are still being packed. The hook of the
last parameter waits for the buckets and sets every ``.grad`` to the average.

The hooks are ``register_post_accumulate_grad_hook`` (or, where that is missing, ``register_hook``).
ndgrad's engine calls a leaf's hooks once per backward with its summed gradient, as soon as the last op
that used the leaf has run its backward, so a bucket's all-reduce overlaps the rest of the backward pass.
"""
import contextlib
import zlib

import ndgrad
from ndgrad.backend import host as _host, np
from ndgrad.nn.module import Module
from ndgrad.tensor import Tensor

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1 << 20  # PyTorch's small first bucket: its all-reduce starts early


class _Bucket:
    __slots__ = ("params", "offsets", "dtype", "size", "array", "ready", "request")

    def __init__(self, params, dtype):
        self.params = params
        self.dtype = dtype
        self.offsets, total = [], 0
        for p in params:
            self.offsets.append(total)
            total += p.numel()
        self.size = total
        self.array = self.request = None
        self.ready = 0


def _tensors_in(obj, found):
    """Every Tensor inside nested tuples / lists / dicts (a module's output)."""
    if isinstance(obj, Tensor):
        found.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _tensors_in(o, found)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, found)
    return found


def _reachable_leaves(outputs):
    """ids of the leaf tensors the outputs' graph reaches (the parameters this forward used)."""
    from ndgrad.autograd.node import Node
    leaves, seen = set(), set()
    stack = []
    for out in outputs:
        if out.grad_fn is not None:
            stack.append(out.grad_fn)
        elif out.requires_grad:
            leaves.add(id(out))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for parent in node.next_functions or ():
            if isinstance(parent, Node):
                stack.append(parent)
            elif parent is not None:
                leaves.add(id(parent))
    return leaves


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, device_ids=None, ..., process_group=None, bucket_cap_mb=None,
    find_unused_parameters=False, ...)``: ``module``'s gradients averaged over the group's processes."""

    _post_accumulate_hooks = True  # False: the register_hook path (tests run both)

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None, skip_all_reduce_unused_params=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        from ndgrad.distributed.process_group import resolve
        group = resolve(process_group, "DistributedDataParallel")
        if group is None:
            raise ValueError("DistributedDataParallel: this rank is not a member of process_group")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.process_group = group
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._names = {id(p): n for n, p in named}
        self._params = [p for _, p in named]
        # A communicator of our own: the buckets' all-reduces never interleave with the program's collectives.
        from ndgrad.distributed.process_group import _duplicate
        self._comm = _duplicate(group.comm, group.timeout)
        self._world = group.size()
        self._verify_same_parameters()
        if init_sync:
            self._broadcast_coalesced([p for p in module.parameters()] + [b for b in module.buffers()])
        self._buckets = self._make_buckets()
        self._active = False
        self._hooked = 0
        self._used = None
        # A post-accumulate hook runs once .grad holds this backward's total.
        if self._post_accumulate_hooks and hasattr(self._params[0], "register_post_accumulate_grad_hook"):
            self._handles = [p.register_post_accumulate_grad_hook(self._make_post_hook(p)) for p in self._params]
        else:  # a gradient hook: sees the incoming gradient before it is added to .grad
            self._handles = [p.register_hook(self._make_hook(p)) for p in self._params]

    # -- construction -------------------------------------------------------------------------------------
    def _verify_same_parameters(self):
        """Every rank must wrap the same architecture: compare the parameters' shapes and dtypes."""
        if self._world == 1:
            return
        described = ";".join(f"{n}:{tuple(p.shape)}:{p.dtype}" for n, p in self.module.named_parameters())
        mine = np.array([len(self._params), sum(p.numel() for p in self._params),
                         zlib.crc32(described.encode())], dtype=np.int64)
        rows = np.empty((self._world, 3), dtype=np.int64)
        self._wait([self._comm.Iallgather(mine, rows)], "DistributedDataParallel (comparing parameters)")
        if (rows != rows[0]).any():
            from ndgrad.distributed.process_group import _state
            counts = ", ".join(f"rank {self.process_group.ranks[i]}: {r[0]} tensors / {r[1]} values"
                               for i, r in enumerate(rows))
            raise RuntimeError(f"[rank {_state.rank}] DistributedDataParallel: the ranks wrap models with different "
                               f"parameters ({counts}). Fix: build the same model on every rank")

    def _broadcast_coalesced(self, tensors):
        """Rank 0's values into ``tensors`` on every rank, one broadcast per dtype."""
        if self._world == 1 or not tensors:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(np.dtype(t._data.dtype).str, []).append(t)
        from ndgrad.distributed import _buffers as B
        for group in by_dtype.values():
            flat = np.concatenate([B.host_array(t).reshape(-1) for t in group])
            self._wait([self._comm.Ibcast(flat, root=0)], "DistributedDataParallel (broadcasting rank 0's state)")
            offset = 0
            with ndgrad.no_grad():
                for t in group:
                    n = t.numel()
                    B.store(t, flat[offset:offset + n])
                    offset += n

    def _make_buckets(self):
        buckets, current, current_bytes = [], [], 0
        cap = min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)
        for p in reversed(self._params):  # gradients of the last layers arrive first
            if current and (p.dtype != current[0].dtype or p.device != current[0].device
                            or current_bytes + p.numel() * p.element_size() > cap):
                buckets.append(_Bucket(current, current[0]._data.dtype))
                current, current_bytes, cap = [], 0, self.bucket_bytes_cap
            current.append(p)
            current_bytes += p.numel() * p.element_size()
        if current:
            buckets.append(_Bucket(current, current[0]._data.dtype))
        self._slot = {id(p): (b, i) for b in buckets for i, p in enumerate(b.params)}
        return buckets

    # -- forward ------------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._active and self._hooked:
            missing = [self._names[id(p)] for b in self._buckets for p in b.params if not self._is_ready(p)]
            self._active = False
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`ndgrad.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                f"participate in calculating loss. Parameters that did not receive a gradient: {missing}")
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = [b for b in self.module.buffers()]
            if buffers:
                self._broadcast_coalesced(buffers)
        output = self.module(*inputs, **kwargs)
        if ndgrad.is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare(output)
        else:
            self._active = False
        return output

    def _prepare(self, output):
        for b in self._buckets:
            b.array = b.request = None
            b.ready = 0
        self._ready_ids = set()
        self._next = 0
        self._hooked = 0
        self._active = True
        self._expected = len(self._params)
        self._used = None
        if self.find_unused_parameters:
            reached = _reachable_leaves(_tensors_in(output, []))
            self._used = np.array([id(p) in reached for p in self._params], dtype=np.int32)
            for p in self._params:
                if id(p) not in reached:  # will get no hook: contributes what it has (zeros or accumulated)
                    self._expected -= 1
                    self._pack(p, None)
            if self._expected == 0:
                self._active = False

    # -- backward -----------------------------------------------------------------------------------------
    def _make_hook(self, p):
        def hook(grad):
            if not self._active or id(p) in self._ready_ids:
                return None
            self._hooked += 1
            self._pack(p, grad._data)
            if self._hooked == self._expected:
                return self._finish(p)
            return None
        return hook

    def _make_post_hook(self, p):
        def hook(param):
            if not self._active or id(p) in self._ready_ids:
                return
            self._hooked += 1
            self._pack(p, None)
            if self._hooked == self._expected:
                self._finish(None)
        return hook

    def _is_ready(self, p):
        return id(p) in self._ready_ids

    def _pack(self, p, grad):
        """Copy p's gradient (what .grad holds after this backward: ``.grad`` plus ``grad`` when given)."""
        bucket, i = self._slot[id(p)]
        if bucket.array is None:
            bucket.array = np.zeros(bucket.size, dtype=np.dtype(bucket.dtype))
        total = grad
        if p.grad is not None:
            total = p.grad._data if grad is None else p.grad._data + grad
        if total is not None:
            start = bucket.offsets[i]
            bucket.array[start:start + p.numel()] = _host(total).reshape(-1)
        self._ready_ids.add(id(p))
        bucket.ready += 1
        if bucket.ready == len(bucket.params):
            self._launch_ready()

    def _launch_ready(self):
        """Start the all-reduce of every full bucket, in bucket order (the same order on every rank)."""
        from mpi4py import MPI
        while self._next < len(self._buckets) and self._buckets[self._next].ready == \
                len(self._buckets[self._next].params):
            bucket = self._buckets[self._next]
            if self._world > 1:
                if bucket.array.dtype.kind in "fc":
                    np.divide(bucket.array, self._world, out=bucket.array)  # averaging: divide, then sum
                bucket.request = self._comm.Iallreduce(MPI.IN_PLACE, bucket.array, MPI.SUM)
            self._next += 1

    def _finish(self, current):
        """Wait for every bucket and set each parameter's .grad to the average; with a gradient (pre-accumulation)
        hook, the ``current`` parameter's average is returned for the engine to store."""
        from mpi4py import MPI
        self._active = False
        requests = [b.request for b in self._buckets if b.request is not None]
        used = None
        if self._used is not None and self._world > 1:
            used = self._used.copy()
            requests.append(self._comm.Iallreduce(MPI.IN_PLACE, used, MPI.MAX))
        self._wait(requests, "DistributedDataParallel gradient all-reduce")
        if used is None:
            used = self._used
        index = {id(p): k for k, p in enumerate(self._params)}
        result = None
        for bucket in self._buckets:
            for p, start in zip(bucket.params, bucket.offsets):
                if used is not None and not used[index[id(p)]]:
                    continue  # no rank used it: its .grad stays as it was, as in PyTorch
                values = bucket.array[start:start + p.numel()].reshape(p._data.shape)
                grad = Tensor._wrap(values if type(p._data) is np.ndarray else
                                    ndgrad.backend.to_device(values, p.device))
                if p is current:
                    result = grad
                else:
                    p.grad = grad
        if result is not None:
            current.grad = None  # the engine stores the returned (averaged) gradient as .grad
        return result

    def _wait(self, requests, what):
        from ndgrad.distributed.process_group import wait_requests
        wait_requests(requests, self.process_group.timeout, what)

    # -- user API -----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward passes only accumulate local gradients; the next synced backward averages them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self):
        return f"world_size={self._world}, buckets={len(self._buckets)}"

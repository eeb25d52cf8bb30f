"""CUDA graphs with PyTorch's API: capture a whole step once, replay it with one launch.

A graph records the kernels queued on a stream (CuPy's stream capture) and replays them on the same
memory: inputs are *static* tensors the program copies new data into, outputs are overwritten in place.
Memory allocated during capture comes from a private pool (a CuPy ``MemoryPool``) that the graph keeps
alive, so nothing else can reuse the addresses the graph reads and writes. ``graph_pool_handle()`` lets
several graphs share one pool when they are replayed in the order they were captured.

What cannot be captured fails by name: a read of a GPU value on the host (``.item()``, a check, a
copy to the CPU) and a copy of a CPU array to the GPU raise during capture (see backend/host_sync.py).
ndgrad's value checks captured in a graph are re-armed after every replay and raised at the next sync.
"""
import gc

from ..backend import cuda as _backend
from ..backend import host_sync as _host_sync
from .streams import Stream, StreamContext, _cupy

_CAPTURE_MODES = ("global", "thread_local", "relaxed")


class _MemoryPool:
    """A private memory pool for graph captures (what ``graph_pool_handle()`` returns)."""

    def __init__(self):
        self.pool = _cupy("graph_pool_handle").cuda.MemoryPool()

    def malloc(self, size):
        return self.pool.malloc(size)

    def __repr__(self):
        return f"<ndgrad.cuda graph memory pool: {self.pool.total_bytes() / 2**20:.1f} MiB>"


def graph_pool_handle():
    """A memory pool that graphs can share: ``graph(g, pool=handle)`` / ``capture_begin(pool=handle)``."""
    return _MemoryPool()


def is_current_stream_capturing():
    """True while the current stream is being captured into a CUDA graph."""
    if not _backend.is_available():
        return False
    return bool(_backend.xp().cuda.get_current_stream().is_capturing())


class CUDAGraph:
    """A captured CUDA graph: ``capture_begin()``, the work, ``capture_end()``, then ``replay()``."""

    def __init__(self, keep_graph=False):
        _cupy("CUDAGraph")
        self._graph = None
        self._pool = None
        self._stream = None
        self._checks = []
        self._undo = []

    def capture_begin(self, pool=None, capture_error_mode="relaxed"):
        """Start capturing the current stream (which must not be the default stream).

        The default mode is CUDA's "relaxed" (CuPy's default, where PyTorch's is "global"): CuPy's memory
        pool calls cudaMalloc when it grows, which "global" and "thread_local" refuse during a capture.
        ndgrad refuses its own host reads during capture in every mode."""
        cp = _cupy("CUDAGraph.capture_begin")
        if capture_error_mode not in _CAPTURE_MODES:
            raise ValueError(f"CUDAGraph.capture_begin: capture_error_mode must be one of {_CAPTURE_MODES}, "
                             f"got {capture_error_mode!r}")
        if self._graph is not None or self._stream is not None:
            raise RuntimeError("CUDAGraph.capture_begin: this graph was already captured; call reset() first "
                               "or make a new CUDAGraph")
        stream = cp.cuda.get_current_stream()
        if stream.ptr == 0:
            raise RuntimeError(
                "CUDAGraph.capture_begin: cannot capture the default stream; use `with ndgrad.cuda.graph(g):` "
                "(it captures on a side stream), or capture inside `with ndgrad.cuda.stream(ndgrad.cuda.Stream()):`")
        _host_sync.read("CUDAGraph.capture_begin")   # checks queued before capture are raised now, not in it
        stream.synchronize()
        self._pool = pool if pool is not None else _MemoryPool()
        allocator = cp.cuda.using_allocator(self._pool.malloc)
        capturing = _host_sync.capturing("CUDA graph capture in progress")
        mode = {"global": cp.cuda.runtime.streamCaptureModeGlobal,
                "thread_local": cp.cuda.runtime.streamCaptureModeThreadLocal,
                "relaxed": cp.cuda.runtime.streamCaptureModeRelaxed}[capture_error_mode]
        allocator.__enter__()
        self._undo = [allocator]
        try:
            stream.begin_capture(mode)
        except BaseException:
            self._exit_contexts()
            raise
        capturing.__enter__()
        self._undo.append(capturing)
        self._stream = stream

    def _exit_contexts(self):
        while self._undo:
            self._undo.pop().__exit__(None, None, None)

    def capture_end(self):
        """Finish the capture; the graph is ready to ``replay()``."""
        if self._stream is None:
            raise RuntimeError("CUDAGraph.capture_end: no capture is in progress (call capture_begin first)")
        stream, self._stream = self._stream, None
        try:
            graph = stream.end_capture()
        finally:
            self._exit_contexts()
            self._checks = _host_sync.take_pending()   # captured, not run: re-armed after each replay
        self._graph = graph

    def _abort_capture(self):
        """End a capture that failed midway, leaving the stream usable (the error is the caller's to raise)."""
        stream, self._stream = self._stream, None
        try:
            if stream is not None and stream.is_capturing():
                stream.end_capture()
        except Exception:   # an invalidated capture reports its own error; the user's error is the one to see
            pass
        finally:
            self._exit_contexts()
            _host_sync.take_pending()
            self._graph, self._pool = None, None

    def replay(self):
        """Run the captured work again on the current stream, on the same memory."""
        if self._graph is None:
            raise RuntimeError("CUDAGraph.replay: nothing was captured (capture first with "
                               "`with ndgrad.cuda.graph(g): ...`)")
        self._graph.launch(_backend.xp().cuda.get_current_stream())
        if self._checks:
            _host_sync.add_pending(self._checks)

    def instantiate(self):
        """Kept for PyTorch's API: CuPy instantiates the graph when capture ends."""
        if self._graph is None:
            raise RuntimeError("CUDAGraph.instantiate: nothing was captured")

    def reset(self):
        """Drop the graph and its reference to the memory pool."""
        self._graph, self._pool, self._checks = None, None, []

    def pool(self):
        """The memory pool of this graph (pass it to another capture to share memory)."""
        if self._pool is None:
            raise RuntimeError("CUDAGraph.pool: the graph has no pool until capture_begin is called")
        return self._pool

    def enable_debug_mode(self):
        pass

    def debug_dump(self, path):
        raise RuntimeError("CUDAGraph.debug_dump: CuPy does not keep the captured cudaGraph_t after it is "
                           "instantiated, so ndgrad cannot write it out")


class graph:
    """``with ndgrad.cuda.graph(g): ...`` captures the block into ``g`` on a side stream (``torch.cuda.graph``).

    Warm the captured code up first (a few eager iterations on a side stream), so that lazily created
    state (optimizer buffers, compiled kernels, cuBLAS workspaces) exists before capture.
    """
    default_capture_stream = None

    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode="relaxed"):
        if stream is None:
            if graph.default_capture_stream is None:
                graph.default_capture_stream = Stream()
            stream = graph.default_capture_stream
        self.cuda_graph = cuda_graph
        self.pool = pool
        self.capture_stream = stream
        self.capture_error_mode = capture_error_mode
        self.stream_context = StreamContext(stream)

    def __enter__(self):
        from . import synchronize
        synchronize()
        gc.collect()   # arrays waiting to be freed would otherwise be freed (and reused) during capture
        self.stream_context.__enter__()
        try:
            self.cuda_graph.capture_begin(pool=self.pool, capture_error_mode=self.capture_error_mode)
        except BaseException:
            self.stream_context.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.cuda_graph.capture_end()
            else:
                self.cuda_graph._abort_capture()
        finally:
            self.stream_context.__exit__(None, None, None)
        return False


from .graphed_callables import make_graphed_callables  # noqa: E402  (it builds on CUDAGraph and graph)

__all__ = ["CUDAGraph", "graph", "graph_pool_handle", "make_graphed_callables", "is_current_stream_capturing"]

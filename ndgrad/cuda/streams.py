"""CUDA streams and events with PyTorch's API (``torch.cuda.Stream``, ``Event``, ``stream(...)``), on CuPy's.

ndgrad's GPU work is queued on CuPy's current stream, so ``with ndgrad.cuda.stream(s):`` sends every op in
the block to ``s``: that is how a side stream warms up a model before CUDA-graph capture.
"""
from ..backend import cuda as _backend
from ..backend import host_sync as _host_sync


def _cupy(op):
    if not _backend.is_available():
        raise RuntimeError(f"ndgrad.cuda.{op}: needs an NVIDIA GPU, and ndgrad.cuda.is_available() is False "
                           f"(CuPy missing or no GPU found); {_backend.INSTALL_HINT}")
    return _backend.xp()


class Stream:
    """A CUDA stream (non-blocking with respect to the default stream), ``torch.cuda.Stream``."""

    def __init__(self, device=None, priority=0, **kwargs):
        cp = _cupy("Stream")
        from . import _index
        index = _index(device, "Stream")
        with cp.cuda.Device(index):
            if not priority:
                self._stream = cp.cuda.Stream(non_blocking=True)
            else:   # CUDA's convention, as PyTorch's argument: lower numbers run first
                try:
                    self._stream = cp.cuda.Stream(non_blocking=True, priority=priority)
                except TypeError:
                    raise RuntimeError(f"ndgrad.cuda.Stream(priority={priority}): this CuPy "
                                       f"({cp.__version__}) cannot create streams with a priority; "
                                       f"leave priority at 0 or upgrade CuPy") from None
        self._device_index = index

    @classmethod
    def _wrap(cls, cupy_stream, index):
        stream = cls.__new__(cls)
        stream._stream, stream._device_index = cupy_stream, index
        return stream

    @property
    def cuda_stream(self):
        """The ``cudaStream_t`` as an int (0 for the legacy default stream)."""
        return self._stream.ptr

    @property
    def device(self):
        from ..backend import get_device
        return get_device(f"cuda:{self._device_index}")

    @property
    def priority(self):
        return getattr(self._stream, "priority", 0)

    def wait_event(self, event):
        """Work queued on this stream after now waits until ``event`` completes (no host wait)."""
        self._stream.wait_event(event._event_for_wait())

    def wait_stream(self, stream):
        """Work queued on this stream after now waits for everything queued on ``stream`` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def query(self):
        """True when all work queued on this stream has finished (does not wait)."""
        return self._stream.done

    def synchronize(self):
        _host_sync.read("Stream.synchronize()")
        self._stream.synchronize()

    def __enter__(self):
        self._context = StreamContext(self)
        return self._context.__enter__()

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def __eq__(self, other):
        return isinstance(other, Stream) and self.cuda_stream == other.cuda_stream \
            and self._device_index == other._device_index

    def __hash__(self):
        return hash((self.cuda_stream, self._device_index))

    def __repr__(self):
        return f"<ndgrad.cuda.Stream device=cuda:{self._device_index} cuda_stream={self.cuda_stream:#x}>"


class ExternalStream(Stream):
    """A stream made elsewhere (another library), given as its ``cudaStream_t`` pointer."""

    def __init__(self, stream_ptr, device=None):
        cp = _cupy("ExternalStream")
        from . import _index
        self._device_index = _index(device, "ExternalStream")
        self._stream = cp.cuda.ExternalStream(int(stream_ptr), self._device_index)


class Event:
    """A CUDA event: a marker in a stream to wait for or to time (``torch.cuda.Event``)."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        cp = _cupy("Event")
        self.enable_timing = enable_timing
        self._event = cp.cuda.Event(block=blocking, disable_timing=not enable_timing, interprocess=interprocess)
        self._recorded = False

    def record(self, stream=None):
        """Mark the current point of ``stream`` (default: the current stream)."""
        stream = current_stream() if stream is None else stream
        self._event.record(stream._stream)
        self._recorded = True

    def wait(self, stream=None):
        """Make ``stream`` (default: the current stream) wait for this event."""
        stream = current_stream() if stream is None else stream
        stream.wait_event(self)

    def _event_for_wait(self):
        return self._event

    def query(self):
        """True when the work before the recorded point has finished (does not wait)."""
        return self._event.done

    def synchronize(self):
        _host_sync.read("Event.synchronize()")
        self._event.synchronize()

    def elapsed_time(self, end_event):
        """Milliseconds between this event and ``end_event`` (both recorded with enable_timing=True)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Event.elapsed_time: both events must be created with enable_timing=True")
        if not (self._recorded and end_event._recorded):
            raise RuntimeError("Event.elapsed_time: both events must be recorded before reading the time "
                               "between them (call event.record() first)")
        end_event.synchronize()
        return float(_backend.xp().cuda.get_elapsed_time(self._event, end_event._event))

    def __repr__(self):
        return f"<ndgrad.cuda.Event enable_timing={self.enable_timing}>"


def current_stream(device=None):
    """The stream ndgrad's ops on ``device`` are queued on now."""
    cp = _cupy("current_stream")
    from . import _index
    index = _index(device, "current_stream")
    with cp.cuda.Device(index):
        return Stream._wrap(cp.cuda.get_current_stream(), index)


def default_stream(device=None):
    cp = _cupy("default_stream")
    from . import _index
    return Stream._wrap(cp.cuda.Stream.null, _index(device, "default_stream"))


def set_stream(stream):
    """Queue ndgrad's ops on ``stream`` from now on (``None`` does nothing)."""
    if stream is not None:
        stream._stream.use()


class StreamContext:
    """``with ndgrad.cuda.stream(s):``: the block's ops go to ``s``; the previous stream comes back after."""

    def __init__(self, stream):
        self.stream = stream
        self._previous = None

    def __enter__(self):
        if self.stream is None:
            return None
        self._previous = _backend.xp().cuda.get_current_stream()
        self.stream._stream.use()
        return self.stream

    def __exit__(self, *exc):
        if self._previous is not None:
            self._previous.use()
            self._previous = None
        return False


def stream(stream):
    """``with ndgrad.cuda.stream(s): ...`` (``None``: no change), as ``torch.cuda.stream``."""
    return StreamContext(stream)

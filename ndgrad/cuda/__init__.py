"""``ndgrad.cuda``: devices, memory, streams and events, CUDA graphs and the sync debug mode (CuPy underneath).

Everything here answers without a GPU where PyTorch's CPU-only build does (``is_available()`` is False,
``device_count()`` is 0, ``synchronize()`` does nothing) and raises a clear error where it needs one.
"""
from ..backend import cuda as _backend
from ..backend import host_sync as _host_sync
from ..errors import OutOfMemoryError  # noqa: F401  torch.cuda.OutOfMemoryError is torch.OutOfMemoryError
from .streams import Stream, ExternalStream, Event, StreamContext, current_stream, default_stream, set_stream, \
    stream, _cupy as _need_gpu
from . import amp  # noqa: F401  (ndgrad.cuda.amp)
from .graphs import CUDAGraph, graph, graph_pool_handle, make_graphed_callables, is_current_stream_capturing

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all", "current_device",
           "set_device", "device", "get_device_name", "get_device_properties", "get_device_capability",
           "is_bf16_supported", "memory_allocated", "memory_reserved", "mem_get_info", "empty_cache",
           "Stream", "ExternalStream", "Event", "StreamContext", "current_stream", "default_stream",
           "set_stream", "stream", "CUDAGraph", "graph", "graph_pool_handle", "make_graphed_callables",
           "is_current_stream_capturing", "set_sync_debug_mode", "get_sync_debug_mode",
           "set_device_checks", "device_checks_enabled"]


def is_available():
    """True when CuPy imports and sees at least one NVIDIA GPU."""
    return _backend.is_available()


def is_initialized():
    return is_available()


def device_count():
    return _backend.device_count()


def current_device():
    return _backend.current_index()


def _index(device, op):
    """The GPU index of ``device`` (None: the current one; an int, 'cuda:N' or a Device)."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from ..backend import Device
    dev = Device(device) if isinstance(device, str) else device
    if getattr(dev, "type", None) != "cuda":
        raise ValueError(f"ndgrad.cuda.{op}: expected a CUDA device, got {device!r}")
    return dev.index


def synchronize(device=None):
    """Wait for all queued GPU work (use before reading a timer). Raises a failed device-side check here."""
    if not is_available():
        if _host_sync.stand_in_active():
            _host_sync.read("ndgrad.cuda.synchronize()")
        return
    _host_sync.read("ndgrad.cuda.synchronize()")   # counts the wait, and raises a failed device-side check
    _backend.synchronize(None if device is None else _index(device, "synchronize"))


def set_device(device):
    """Make GPU ``device`` current (a negative index does nothing, as in PyTorch)."""
    index = _index(device, "set_device")
    if index < 0:
        return
    cp = _need_gpu("set_device")
    _backend.check_device(index)
    cp.cuda.Device(index).use()


class device:
    """``with ndgrad.cuda.device(i):`` runs the block with GPU ``i`` current."""

    def __init__(self, device):
        self.index = -1 if device is None else _index(device, "device")
        self.previous = -1

    def __enter__(self):
        if self.index >= 0:
            self.previous = current_device()
            set_device(self.index)
        return self

    def __exit__(self, *exc):
        if self.previous >= 0:
            set_device(self.previous)
        return False


def manual_seed(seed):
    """Seed the GPU generators (ndgrad.manual_seed seeds these too)."""
    from .. import random
    random.manual_seed(seed)


manual_seed_all = manual_seed


class _DeviceProperties:
    """What ``get_device_properties`` reports (the fields PyTorch programs read)."""

    def __init__(self, props):
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else name
        self.total_memory = int(props["totalGlobalMem"])
        self.major, self.minor = int(props["major"]), int(props["minor"])
        self.multi_processor_count = int(props["multiProcessorCount"])
        self.warp_size = int(props.get("warpSize", 32))

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2**20}MB, multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None):
    cp = _need_gpu("get_device_properties")
    return _DeviceProperties(cp.cuda.runtime.getDeviceProperties(_index(device, "get_device_properties")))


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    props = get_device_properties(device)
    return props.major, props.minor


def is_bf16_supported(including_emulation=True):
    return is_available() and get_device_capability()[0] >= 8


def memory_allocated(device=None):
    """Bytes held by live arrays in ndgrad's (CuPy's) memory pool."""
    return _need_gpu("memory_allocated").get_default_memory_pool().used_bytes()


def memory_reserved(device=None):
    """Bytes the memory pool holds from the GPU (live arrays and cached free blocks)."""
    return _need_gpu("memory_reserved").get_default_memory_pool().total_bytes()


def mem_get_info(device=None):
    """(free, total) bytes on the GPU, as the driver reports them."""
    cp = _need_gpu("mem_get_info")
    with cp.cuda.Device(_index(device, "mem_get_info")):
        return cp.cuda.runtime.memGetInfo()


def empty_cache():
    """Give cached free blocks of the memory pool back to the GPU."""
    if is_available():
        _backend.xp().get_default_memory_pool().free_all_blocks()


def set_sync_debug_mode(debug_mode):
    """``'default'``/0: nothing; ``'warn'``/1: warn at every device-to-host read; ``'error'``/2: raise there."""
    _host_sync.set_mode(debug_mode)


def get_sync_debug_mode():
    return _host_sync.get_mode()


def set_device_checks(enabled):
    """ndgrad's value checks on the GPU (class and embedding indices in range) run on the device and are
    raised at the next sync; ``set_device_checks(False)`` skips them (a bad index is then undefined
    behaviour, as in a CUDA kernel)."""
    _host_sync.set_checks(enabled)


def device_checks_enabled():
    return _host_sync.checks_enabled()

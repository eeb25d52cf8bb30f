"""``ndgrad.accelerator``: the device-generic API of ``torch.accelerator``; ndgrad's accelerator is CUDA.

On a machine without a usable GPU (no CuPy, or no NVIDIA GPU) it reports no accelerator, as PyTorch does
on a CPU-only build: ``current_accelerator()`` is None and ``is_available()`` is False.
"""
from . import cuda as _cuda
from .backend import Device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "current_device_idx",
           "set_device_index", "set_device_idx", "device_index", "synchronize", "empty_cache",
           "memory_allocated"]


def is_available():
    """True when a GPU can be used now (CuPy imports and sees one)."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """``device(type='cuda', index=current)`` when a GPU is usable, else None (a machine without a GPU
    has no accelerator, as with PyTorch's CUDA build there: ``check_available`` changes nothing)."""
    if is_available():
        return Device("cuda", _cuda.current_device())
    return None


def device_count():
    return _cuda.device_count()


def _need_accelerator(op):
    if not is_available():
        raise RuntimeError(f"accelerator.{op}: Cannot access accelerator device when none is available "
                           f"(ndgrad found no usable NVIDIA GPU through CuPy)")


def current_device_index():
    _need_accelerator("current_device_index")
    return _cuda.current_device()


current_device_idx = current_device_index


def _index_of(device):
    if isinstance(device, int):
        return device
    dev = Device(device) if isinstance(device, str) else device
    if dev.type != "cuda":
        raise ValueError(f"accelerator: expected a cuda device or an index, got {device!r}")
    return dev.index or 0


def set_device_index(device):
    """Make GPU ``device`` (index, 'cuda:N' or a device) the current one."""
    _need_accelerator("set_device_index")
    index = _index_of(device)
    if not 0 <= index < device_count():
        raise RuntimeError(f"accelerator.set_device_index: index {index} is out of range: this machine has "
                           f"{device_count()} GPU(s)")
    from .backend import cuda as _backend_cuda
    _backend_cuda.xp().cuda.Device(index).use()


set_device_idx = set_device_index


class device_index:
    """``with ndgrad.accelerator.device_index(i):`` runs the block with GPU i current (None: no change)."""

    def __init__(self, device):
        self.index = device

    def __enter__(self):
        self.previous = None
        if self.index is not None:
            self.previous = current_device_index()
            set_device_index(self.index)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            set_device_index(self.previous)


def synchronize(device=None):
    """Wait for the GPU's queued work (nothing to wait for on the CPU)."""
    _need_accelerator("synchronize")
    _cuda.synchronize(device)


def empty_cache():
    _need_accelerator("empty_cache")
    if is_available():
        from .backend import cuda as _backend_cuda
        _backend_cuda.xp().get_default_memory_pool().free_all_blocks()


def memory_allocated(device=None):
    _need_accelerator("memory_allocated")
    return _cuda.memory_allocated(device)

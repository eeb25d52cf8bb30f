"""``ndgrad.cuda``: is_available, device_count, synchronize, manual_seed (CuPy under the hood)."""
from .backend import cuda as _backend
from .errors import OutOfMemoryError  # noqa: F401  torch.cuda.OutOfMemoryError is torch.OutOfMemoryError

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all", "current_device"]


def is_available():
    """True when CuPy imports and sees at least one NVIDIA GPU."""
    return _backend.is_available()


def device_count():
    return _backend.device_count()


def current_device():
    return _backend.current_index()


def synchronize(device=None):
    """Wait for all queued GPU work (use before reading a timer)."""
    if not is_available():
        return
    index = None
    if device is not None:
        from .backend import get_device
        index = get_device(device).index
    _backend.synchronize(index)


def manual_seed(seed):
    """Seed the GPU generators (ndgrad.manual_seed seeds these too)."""
    from . import random
    random.manual_seed(seed)


manual_seed_all = manual_seed


def get_device_name(device=None):
    cp = _backend.xp()
    index = 0 if device is None else (device if isinstance(device, int) else int(str(device).split(":")[-1] or 0))
    props = cp.cuda.runtime.getDeviceProperties(index)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else name


def memory_allocated(device=None):
    return _backend.xp().get_default_memory_pool().used_bytes()

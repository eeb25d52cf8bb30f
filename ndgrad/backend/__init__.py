"""Devices and array namespaces.

This package is the only place that imports numpy or cupy. Everything above it
asks for the namespace of an array (`xp_of`) or of a device (`namespace`) and
writes one code path against it.
"""
import numpy as np

from . import cpu
from . import host_sync
from . import cuda as _cuda  # cheap: CuPy itself is imported only when a GPU is asked for

__all__ = ["np", "Device", "get_device", "namespace", "xp_of", "device_of", "to_device", "host", "CPU"]


class Device:
    """Where a tensor's memory lives: ``Device("cpu")`` or ``Device("cuda:0")``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, Device):
            type, index = type.type, type.index
        elif isinstance(type, str) and ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise ValueError(f"invalid device string {type}:{idx!r}; expected 'cpu', 'cuda' or 'cuda:N'")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {type!r}; ndgrad knows 'cpu' and 'cuda' (or 'cuda:N')")
        if type == "cuda" and index is None:
            index = _current_cuda_index()
        self.type = type
        self.index = index if type == "cuda" else None

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except (ValueError, RuntimeError):
                return False
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))


CPU = Device("cpu")


def _current_cuda_index():
    return _cuda.current_index()


_CUDA_DEVICES = {}  # index -> the one Device object for that GPU, so `a._device is b._device` holds


def _cuda_device(index):
    dev = _CUDA_DEVICES.get(index)
    if dev is None:
        dev = _CUDA_DEVICES[index] = Device("cuda", index)
    return dev


def get_device(spec=None):
    """Parse ``None`` / ``"cpu"`` / ``"cuda:1"`` / ``Device`` into a Device (checking the GPU exists)."""
    if spec is None or spec is CPU:
        return CPU
    if isinstance(spec, Device):
        dev = spec
    elif isinstance(spec, int):
        dev = Device("cuda", spec)
    else:
        dev = Device(str(spec))
    if dev.type == "cpu":
        return CPU
    if dev.index not in _CUDA_DEVICES:  # checked once per GPU, not on every tensor creation
        _cuda.check_device(dev.index)
    return _cuda_device(dev.index)


def namespace(device):
    """The array namespace (numpy or cupy) that holds arrays on ``device``."""
    if device.type == "cpu":
        return np
    return _cuda.xp()


def xp_of(array):
    """The array namespace of a raw array."""
    if type(array) is np.ndarray or not _cuda.is_cupy_array(array):
        return np
    return _cuda.xp()


def device_of(array):
    """The Device of a raw array."""
    if type(array) is np.ndarray or not _cuda.is_cupy_array(array):
        return CPU
    return _cuda_device(array.device.id)


def host(array):
    """``array`` as a NumPy array on the host: CuPy arrays are copied over, anything else is taken as is."""
    return array.get() if hasattr(array, "get") else np.asarray(array)


def to_device(array, device):
    """Copy a raw array to ``device`` (no copy when it is already there)."""
    src = device_of(array)
    if src == device:
        return array
    if device.type == "cpu":
        host_sync.read("a copy from the GPU to the CPU")
        return _cuda.to_host(array)
    if host_sync.capture_active():
        raise RuntimeError(
            f"copying a {src.type} array of shape {tuple(array.shape)} to {device} during CUDA graph capture: a "
            f"copy from host memory cannot be captured; make the tensor on the GPU before capture (a static "
            f"tensor) and copy_ new values into it between replays")
    return _cuda.to_gpu(array, device.index)

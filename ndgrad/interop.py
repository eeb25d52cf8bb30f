"""Zero-copy exchange with other array libraries: DLPack (``__dlpack__``, ``from_dlpack``) and the hook
into the Python array API standard (``__array_namespace__``).

NumPy and CuPy already speak DLPack, so a tensor exports its raw array's capsule and imports through
``numpy.from_dlpack`` / ``cupy.from_dlpack``: ndgrad builds no capsule itself. The one exception is bfloat16
on the CPU, which NumPy's DLPack has no dtype code for: ``_dlpack_bfloat16`` rewrites the dtype field of
NumPy's (or the producer's) capsule between uint16 and bfloat16, sharing the memory as for any other dtype.
Importing this module attaches the protocol methods to ``Tensor``.
"""
import enum
import functools

from . import _dlpack_bfloat16, dtypes
from .backend import CPU, Device, device_of, get_device, np, to_device
from .backend import cuda as _cuda
from .tensor import Tensor

__all__ = ["from_dlpack", "DLDeviceType"]

__array_api_version__ = "2024.12"


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes (the ones ndgrad can meet)."""
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLCUDAManaged = 13


def _dlpack_device(self):
    """``(device type, index)`` of the tensor's memory, as the DLPack protocol asks."""
    if self._device.type == "cpu":
        return (DLDeviceType.kDLCPU, 0)
    return (DLDeviceType.kDLCUDA, self._device.index or 0)


def _dlpack(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    """Export the tensor as a DLPack capsule that shares its memory (unless ``copy=True``).

    Arguments are the protocol's: ``stream`` (CUDA stream the consumer will use), ``max_version``
    (highest DLPack version the consumer understands; None means a legacy unversioned capsule),
    ``dl_device`` (where the consumer wants the data) and ``copy`` (True: always copy, False: never).
    """
    if self.requires_grad:
        # PyTorch's wording: a consumer would silently lose the graph.
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    data = self._data
    if dl_device is not None and tuple(dl_device) != tuple(_dlpack_device(self)):
        if copy is False:
            raise BufferError(f"__dlpack__: the tensor is on {self._device} but dl_device={tuple(dl_device)} was "
                              f"asked with copy=False; allow a copy (copy=None or True) or move the tensor first")
        data = to_device(data, _device_from_dlpack(dl_device))  # moved: the array below is already there
        dl_device = None
    if any(s < 0 for s in data.strides):
        # Negative strides are legal DLPack, but some consumers (PyTorch) abort the process on them.
        if copy is False:
            raise BufferError(f"__dlpack__: a tensor with negative strides {data.strides} cannot be shared "
                              f"without a copy; call .contiguous() first or allow copy=None/True")
        data = data.copy()
    if max_version is None and self._device is CPU and not data.flags.writeable and copy is not False:
        # A legacy capsule cannot say "read-only", so NumPy refuses to export one (ndgrad's expand() views
        # are read-only NumPy arrays); hand over a copy instead, as a consumer could not write there anyway.
        data = data.copy()
    export = functools.partial(_export_array, stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)
    if self.dtype.name == "bfloat16" and self._device is CPU:
        return _dlpack_bfloat16.export_bfloat16(data, export)  # NumPy has no bfloat16 code: relabel uint16
    return export(data)


def _export_array(data, *, stream, max_version, dl_device, copy):
    """The raw array's own ``__dlpack__`` capsule, passing only the arguments that were given."""
    kwargs = {"stream": stream}
    if max_version is not None:
        kwargs["max_version"] = max_version
    if dl_device is not None:
        kwargs["dl_device"] = dl_device
    if copy is not None:
        kwargs["copy"] = copy
    try:
        return data.__dlpack__(**kwargs)
    except TypeError:
        if len(kwargs) == 1 or copy:  # an older exporter (CuPy < 13) knows only ``stream``
            raise
        return data.__dlpack__(stream=stream)


def _device_from_dlpack(dl_device):
    kind, index = int(dl_device[0]), int(dl_device[1])
    if kind in (DLDeviceType.kDLCPU, DLDeviceType.kDLCUDAHost):
        return CPU
    if kind in (DLDeviceType.kDLCUDA, DLDeviceType.kDLCUDAManaged):
        return get_device(Device("cuda", index))
    raise BufferError(f"DLPack device type {kind} is not supported by ndgrad (it knows CPU and CUDA)")


class _Capsule:
    """Lets a bare legacy capsule (``torch.utils.dlpack.to_dlpack(t)``) go through ``numpy.from_dlpack``,
    which wants an object with ``__dlpack__``; a bare capsule holds CPU memory as far as ndgrad can tell."""

    __slots__ = ("capsule",)

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (DLDeviceType.kDLCPU, 0)


def from_dlpack(ext_tensor, *, device=None, copy=None):
    """A tensor that shares the memory of ``ext_tensor`` (any object with ``__dlpack__``, or a capsule).

    ``device``: where the result must live (a copy is made when that differs, unless ``copy=False``);
    ``copy``: True always copies, False never does (raises if it would have to), None copies only if needed.
    The result does not require grad, like PyTorch's.
    """
    if isinstance(ext_tensor, Tensor):  # our own tensors: the same array, no capsule needed
        if ext_tensor.requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        src = ext_tensor
        if copy:
            src = Tensor._wrap(src._data.copy(), src._device)
        return src.detach() if device is None else _move(src.detach(), get_device(device), copy)
    if not hasattr(ext_tensor, "__dlpack__"):
        if type(ext_tensor).__name__ != "PyCapsule":
            raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a NumPy/CuPy array, a PyTorch or "
                            f"JAX tensor, ...) or a DLPack capsule, got {type(ext_tensor).__name__}")
        ext_tensor = _Capsule(ext_tensor)
    kind, index = ext_tensor.__dlpack_device__() if hasattr(ext_tensor, "__dlpack_device__") else (1, 0)
    source = _device_from_dlpack((kind, index))
    if source is CPU:
        array = _import_on_cpu(ext_tensor, copy)
    else:
        cupy = _cuda.xp()
        with cupy.cuda.Device(source.index):
            array = cupy.from_dlpack(ext_tensor) if copy is None else cupy.from_dlpack(ext_tensor, copy=copy)
    try:
        dtypes.dtype_of(array)
    except TypeError:
        raise TypeError(f"from_dlpack: ndgrad has no dtype for {array.dtype} data (it has bool, uint8-uint64, int8-int64, "
                        f"float16/32/64, bfloat16 and complex64/128); convert it in the producing library first") from None
    result = Tensor._wrap(array, device_of(array))
    return result if device is None else _move(result, get_device(device), copy)


def _import_on_cpu(ext_tensor, copy):
    """``numpy.from_dlpack``, also for bfloat16 capsules (relabelled uint16 for NumPy, then viewed back)."""
    importer = _dlpack_bfloat16.BFloat16Importer(ext_tensor)
    try:
        array = np.from_dlpack(importer, copy=copy)
    except RuntimeError as err:  # NumPy's "Unsupported dtype in DLTensor." names neither the dtype nor a fix
        if importer.dl_dtype is None or "dtype" not in str(err):
            raise
        raise TypeError(f"from_dlpack: ndgrad has no dtype for {_dlpack_bfloat16.dtype_name(*importer.dl_dtype)} "
                        f"data (NumPy cannot hold it); convert it in the producing library first") from None
    if not importer.relabelled:
        return array
    if dtypes.bfloat16 is None:
        raise TypeError("from_dlpack: bfloat16 data needs the ml_dtypes package (pip install ml_dtypes), which "
                        "is not installed; or convert it in the producing library first, e.g. .float()")
    return array.view(dtypes.bfloat16.np)


def _move(tensor, device, copy):
    if tensor._device == device:
        return tensor
    if copy is False:
        raise BufferError(f"from_dlpack: the data is on {tensor._device} but device={device} was asked with "
                          f"copy=False; pass copy=None to allow the copy")
    return Tensor._wrap(to_device(tensor._data, device), device)


def _array_namespace(self, /, *, api_version=None):
    """The array API standard namespace for this tensor (``ndgrad.array_api``); see that module for how it
    differs from the PyTorch-flavoured ``ndgrad`` namespace."""
    from . import array_api
    return array_api._namespace_for(api_version)


def __array_namespace_info__():
    from . import array_api
    return array_api.__array_namespace_info__()


Tensor.__dlpack__ = _dlpack
Tensor.__dlpack_device__ = _dlpack_device
Tensor.__array_namespace__ = _array_namespace

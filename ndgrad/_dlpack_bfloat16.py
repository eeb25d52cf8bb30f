"""bfloat16 across DLPack on the CPU, without a copy.

Why this exists: NumPy's DLPack knows no bfloat16 dtype code, so it refuses to export an ``ml_dtypes.bfloat16``
array and to import a capsule whose dtype is ``(kDLBfloat, 16 bits, 1 lane)``. The bytes are plain 16-bit
words either way, so the fix is a relabel of the capsule's ``DLDataType``, never a copy:

- export: NumPy exports the same memory viewed as uint16, and the capsule's code becomes kDLBfloat;
- import: a bfloat16 capsule's code becomes kDLUInt before NumPy reads it, and the result is viewed as bfloat16.

Only a fresh capsule (named ``dltensor`` or ``dltensor_versioned``, not yet consumed) whose dtype is exactly the
16-bit, 1-lane one being relabelled is touched; every other capsule is left as it came.
The structs mirror dlpack.h (DLPack 0.8 legacy and 1.x versioned layouts). The dtype read here also lets
``from_dlpack`` name a dtype NumPy refuses (complex32, float8) instead of NumPy's bare "Unsupported dtype".
"""
import ctypes

from .backend import np

KDL_UINT = 1    # DLDataTypeCode kDLUInt
KDL_BFLOAT = 4  # DLDataTypeCode kDLBfloat


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("dtype", _DLDataType), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):  # the legacy capsule, named "dltensor"
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class _DLManagedTensorVersioned(ctypes.Structure):  # DLPack >= 1.0, named "dltensor_versioned"
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p), ("flags", ctypes.c_uint64), ("dl_tensor", _DLTensor)]


_LAYOUTS = {b"dltensor": _DLManagedTensor, b"dltensor_versioned": _DLManagedTensorVersioned}

# Private prototypes (not ctypes.pythonapi's shared attributes, whose argtypes other code may set differently).
# PYFUNCTYPE keeps the GIL and turns a Python error set by the call into an exception.
_capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


def _is_capsule(obj):
    return type(obj).__name__ == "PyCapsule"


def capsule_dtype(capsule):
    """The ``DLDataType`` inside a fresh DLPack capsule (a ctypes view: writing it writes the capsule), or
    None when ``capsule`` is not an unconsumed DLPack capsule."""
    if not _is_capsule(capsule):
        return None
    name = _capsule_name(capsule)
    layout = _LAYOUTS.get(name)
    if layout is None:  # consumed ("used_dltensor...") or not DLPack at all
        return None
    address = _capsule_pointer(capsule, name)
    return layout.from_address(address).dl_tensor.dtype if address else None


def relabel(capsule, old_code, new_code):
    """Rewrite a 16-bit, 1-lane capsule dtype from ``old_code`` to ``new_code``; True if it was rewritten."""
    dtype = capsule_dtype(capsule)
    if dtype is None or (dtype.code, dtype.bits, dtype.lanes) != (old_code, 16, 1):
        return False
    dtype.code = new_code
    return True


def export_bfloat16(data, dlpack_of):
    """A capsule of the bfloat16 NumPy array ``data``: ``dlpack_of`` (the exporter, called on an array)
    exports the same memory viewed as uint16, then the capsule is relabelled kDLBfloat."""
    capsule = dlpack_of(data.view(np.uint16))
    if not relabel(capsule, KDL_UINT, KDL_BFLOAT):  # NumPy always gives a fresh (kDLUInt, 16, 1) capsule here
        raise BufferError("__dlpack__: could not relabel NumPy's uint16 capsule as bfloat16 (unexpected capsule "
                          "layout); convert first, e.g. tensor.float()")
    return capsule


_CODE_NAMES = {0: "int", 1: "uint", 2: "float", 4: "bfloat", 5: "complex", 6: "bool"}


def dtype_name(code, bits, lanes):
    """A readable name for a DLPack dtype, for error messages: (5, 32, 1) -> 'complex32'."""
    name = f"{_CODE_NAMES[code]}{bits}" if code in _CODE_NAMES else f"DLPack type code {code} with {bits} bits"
    return name if lanes == 1 else f"{name} x {lanes} lanes"


class BFloat16Importer:
    """Stands between a DLPack producer and ``numpy.from_dlpack``: forwards the protocol calls unchanged and,
    when the producer hands over a bfloat16 capsule, relabels it uint16 so NumPy takes it; ``relabelled``
    then tells the caller to view NumPy's result as bfloat16. ``dl_dtype`` keeps the capsule's
    ``(code, bits, lanes)`` as it came (None if unread), for an error message should NumPy refuse it."""

    __slots__ = ("producer", "relabelled", "dl_dtype")

    def __init__(self, producer):
        self.producer = producer
        self.relabelled = False
        self.dl_dtype = None

    def __dlpack__(self, **kwargs):
        producer = self.producer
        if isinstance(producer, np.ndarray) and producer.dtype.name == "bfloat16":
            # An ml_dtypes array, which NumPy refuses to export: hand over its uint16 view directly.
            self.relabelled = True
            return producer.view(np.uint16).__dlpack__(**kwargs)
        capsule = producer.__dlpack__(**kwargs)
        dtype = capsule_dtype(capsule)
        self.dl_dtype = None if dtype is None else (dtype.code, dtype.bits, dtype.lanes)
        self.relabelled = relabel(capsule, KDL_BFLOAT, KDL_UINT)
        return capsule

    def __dlpack_device__(self):
        device = getattr(self.producer, "__dlpack_device__", None)
        return device() if device is not None else (1, 0)  # kDLCPU: a producer without it is a host one

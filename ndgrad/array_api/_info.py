"""``__array_namespace_info__()``: what this namespace supports (devices, dtypes, defaults, capabilities)."""
import ndgrad as _nd

from .. import dtypes as _dt
from ..backend import CPU, get_device
from ..backend import cuda as _cuda

__all__ = ["__array_namespace_info__"]

_SIGNED = ["int8", "int16", "int32", "int64"]
_UNSIGNED = ["uint8", "uint16", "uint32", "uint64"]
_REAL, _COMPLEX = ["float32", "float64"], ["complex64", "complex128"]
_ORDER = ["bool", *_SIGNED, *_UNSIGNED, *_REAL, *_COMPLEX]
_KINDS = {
    "bool": ["bool"], "signed integer": _SIGNED, "unsigned integer": _UNSIGNED, "integral": _SIGNED + _UNSIGNED,
    "real floating": _REAL, "complex floating": _COMPLEX, "numeric": _SIGNED + _UNSIGNED + _REAL + _COMPLEX,
}


class Info:
    """The inspection object of the standard (``capabilities``, ``default_device``, ``default_dtypes``,
    ``devices``, ``dtypes``)."""

    def capabilities(self):
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self):
        return CPU

    def default_dtypes(self, *, device=None):
        get_device(device)  # an unknown device is an error here too
        return {"real floating": _nd.get_default_dtype(), "complex floating": _nd.get_default_dtype().to_complex(),
                "integral": _dt.int64, "indexing": _dt.int64}

    def devices(self):
        found = [CPU]
        if _cuda.is_available():
            found += [get_device(f"cuda:{i}") for i in range(_cuda.device_count())]
        return found

    def dtypes(self, *, device=None, kind=None):
        get_device(device)
        if kind is None:
            names = _ORDER
        else:
            names = []
            for k in (kind if isinstance(kind, tuple) else (kind,)):
                if isinstance(k, _dt.DType):
                    names += [k.name] if k.name in _ORDER else []
                elif k in _KINDS:
                    names += _KINDS[k]
                else:
                    raise ValueError(f"dtypes: unknown kind {k!r}; expected a dtype or one of {sorted(_KINDS)}")
        return {n: _dt.to_dtype(n) for n in _ORDER if n in names}


def __array_namespace_info__():
    return Info()

"""The differentiable primitives, grouped by kind; their functions become ``ndgrad.<name>`` and methods."""
import importlib

from ..tensor import Tensor

_MODULES = ["elementwise", "reduce", "shape", "index", "linalg", "activation", "nn", "inplace",
            "sorting", "scatter", "shape_extra", "math_extra", "random_ops", "tensor_new", "inplace_twins", "activation_extra", "linalg_aliases",
            "api_aliases", "complex_ops", "spectral", "hashing"]

exported = {}
for _name in _MODULES:
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # a kind of op not written yet: the rest still works
        if exc.name != f"{__name__}.{_name}":
            raise
        continue
    for _fn_name in getattr(_mod, "__all__", ()):
        exported[_fn_name] = getattr(_mod, _fn_name)
    for _meth, _fn in getattr(_mod, "METHODS", {}).items():
        setattr(Tensor, _meth, _fn)


def _T(self):
    return self.permute(*reversed(range(self.ndim))) if self.ndim > 1 else self


def _mT(self):
    if self.ndim < 2:
        raise RuntimeError(f"mT: expected a tensor of at least 2 dimensions, got shape {tuple(self.shape)}")
    return self.transpose(-2, -1)


Tensor.T = property(_T)
Tensor.mT = property(_mT)


def _H(self):
    return _T(self).conj() if self._data.dtype.kind == "c" else _T(self)


def _mH(self):
    return _mT(self).conj() if self._data.dtype.kind == "c" else _mT(self)


Tensor.H = property(_H)  # conjugate transposes: the plain transpose for real tensors
Tensor.mH = property(_mH)
Tensor.adjoint = _mH

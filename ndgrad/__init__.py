"""ndgrad: n-dimensional tensors that differentiate themselves, on NumPy (CPU) and CuPy (GPU).

The API follows PyTorch: ``import ndgrad as torch`` ports most code.
"""
__version__ = "0.1.0"

from . import dtypes
from .dtypes import (bfloat16, bool_ as bool, float16, float32, float64, int8, int16, int32, int64, uint8,
                     get_default_dtype, set_default_dtype, result_type, promote_types)
from .dtypes import DType as dtype
from .backend import Device as device
from .tensor import Tensor, Size
from . import ops as _ops
from .creation import *  # noqa: F401,F403  tensor, zeros, ones, arange, rand, ...
from .random import manual_seed, seed, initial_seed, Generator
from .autograd.grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode
from . import autograd, func, cuda, random, amp
from .amp import autocast

half, float, double, long, int, short = float16, float32, float64, int64, int32, int16
uint8 = uint8
bool_ = bool

globals().update(_ops.exported)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def __getattr__(name):
    # Heavier submodules load on first use, so `import ndgrad` stays fast.
    import importlib
    if name in ("nn", "optim", "data", "io", "viz", "models", "bench", "utils"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load"):
        from . import io
        return getattr(io, name)
    raise AttributeError(f"module 'ndgrad' has no attribute {name!r}")

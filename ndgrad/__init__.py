"""ndgrad: n-dimensional tensors that differentiate themselves, on NumPy (CPU) and CuPy (GPU).

The API follows PyTorch: ``import ndgrad as torch`` ports most code.
"""
__version__ = "0.1.0"

from . import dtypes
from .dtypes import (bfloat16, bool_ as bool, float16, float32, float64, int8, int16, int32, int64, uint8,
                     complex64, complex128, get_default_dtype, set_default_dtype, result_type, promote_types)
from .dtypes import DType as dtype
from .dtypes import uint16, uint32, uint64  # PyTorch's limited-support unsigned dtypes
from .backend import Device as device
from .tensor import Tensor, Size, layout, strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc
from .tensor_types import *  # noqa: F401,F403  FloatTensor, LongTensor, ... (legacy constructors)
from .tensor_types import set_default_tensor_type, typename, is_storage
from . import ops as _ops
from .creation import *  # noqa: F401,F403  tensor, zeros, ones, arange, rand, ...
from .random import manual_seed, seed, initial_seed, Generator
from .autograd.grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode
from . import autograd, func, cuda, random, amp
from .amp import autocast
from .tensor_types import CUDA_TYPES as _CUDA_TYPES
for _name, _cls in _CUDA_TYPES.items():  # ndgrad.cuda.FloatTensor & co. (legacy GPU tensor types)
    setattr(cuda, _name, _cls)
from .interop import from_dlpack, __array_api_version__, __array_namespace_info__  # noqa: E402,F401  DLPack, array API

half, float, double, long, int, short = float16, float32, float64, int64, int32, int16
cfloat, cdouble = complex64, complex128  # no chalf/complex32: NumPy has no complex32
uint8 = uint8
bool_ = bool

globals().update(_ops.exported)

from .jit import compile  # noqa: E402  (eager: returns the model)
from .backends._global import (  # noqa: E402
    use_deterministic_algorithms, are_deterministic_algorithms_enabled,
    is_deterministic_algorithms_warn_only_enabled, set_deterministic_debug_mode, get_deterministic_debug_mode,
    set_float32_matmul_precision, get_float32_matmul_precision, get_num_threads, set_num_threads,
    get_num_interop_threads, set_num_interop_threads)


def trace(input, *args, **kwargs):
    """``trace(matrix)``: the sum of its diagonal (torch.trace). ``trace(fn, *example_args)``: run ``fn``
    once and return the graph of the ops it executed (an ``ndgrad.onnx.Graph``; see ndgrad.onnx)."""
    if isinstance(input, Tensor) or not callable(input):
        return _ops.exported["trace"](input, *args, **kwargs)
    from .onnx.tracer import trace as trace_graph
    return trace_graph(input, *args, **kwargs)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def __getattr__(name):
    # Heavier submodules load on first use, so `import ndgrad` stays fast.
    import importlib
    if name in ("nn", "optim", "data", "io", "viz", "models", "bench", "utils", "jit", "accelerator", "backends",
                "serialization", "sparse", "special", "linalg", "distributions", "onnx",
                "distributed", "fft", "signal"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load"):
        from . import io
        return getattr(io, name)
    raise AttributeError(f"module 'ndgrad' has no attribute {name!r}")

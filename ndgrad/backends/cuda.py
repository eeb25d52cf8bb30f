"""``ndgrad.backends.cuda``: matmul precision switches (recorded) and whether the CUDA backend exists."""
import importlib.util


class _MatmulSettings:
    """``backends.cuda.matmul.allow_tf32`` and friends: recorded; CuPy's cuBLAS calls use full float32."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True
        self.allow_fp16_accumulation = False

    def __repr__(self):
        return f"<ndgrad.backends.cuda.matmul allow_tf32={self.allow_tf32}>"


matmul = _MatmulSettings()
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built():
    """True when CuPy (ndgrad's CUDA backend) is installed."""
    return importlib.util.find_spec("cupy") is not None


def preferred_linalg_library(backend=None):
    return "default"


def preferred_blas_library(backend=None):
    return "cublas"


def _sdp_switch(kind):
    def enable(value):
        _sdp[kind] = bool(value)

    def enabled():
        return _sdp[kind]
    return enable, enabled


enable_flash_sdp, flash_sdp_enabled = _sdp_switch("flash")
enable_mem_efficient_sdp, mem_efficient_sdp_enabled = _sdp_switch("mem_efficient")
enable_math_sdp, math_sdp_enabled = _sdp_switch("math")
enable_cudnn_sdp, cudnn_sdp_enabled = _sdp_switch("cudnn")

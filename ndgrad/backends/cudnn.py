"""``ndgrad.backends.cudnn``: cuDNN for GPU convolutions, batch norm and attention (optional), as in PyTorch.

With NVIDIA's cuDNN frontend and cuDNN 9 installed (``pip install ndgrad[cudnn]``; see
ndgrad/backend/cudnn_frontend.py), GPU convolutions, batch norm and float16/bfloat16 attention run
through cuDNN; ``is_available()`` and ``version()`` then report the library (``version()`` as an int,
90100 for 9.1.0, like PyTorch). Without it they are False and None, and the GPU runs ndgrad's own
im2col + cuBLAS kernels. ``enabled = False`` sends everything back to those. ``allow_tf32`` lets float32
convolutions use TF32 tensor cores (PyTorch's default, True); ``deterministic = True`` keeps only
cuDNN's deterministic algorithms. ``benchmark`` is recorded: cuDNN's heuristics pick the algorithm.
"""
enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True
fp32_precision = "none"
depthwise_kernel = "auto"


def is_available():
    """Whether cuDNN (through its frontend) is installed and loads here."""
    from ndgrad.backend import cudnn_frontend
    return cudnn_frontend.available()


def version():
    """cuDNN's version as an int (90100 for 9.1.0), or None when it is not available."""
    from ndgrad.backend import cudnn_frontend
    return cudnn_frontend.version()


def is_acceptable(tensor):
    """Whether cuDNN would take an op on ``tensor``: enabled, available, a GPU tensor of a dtype it runs."""
    from ndgrad.backend import cudnn_frontend
    return bool(enabled) and cudnn_frontend.takes(tensor._data)


from ._flags import install as _install  # noqa: E402
_install(__name__, {"enabled": False, "benchmark": False, "benchmark_limit": 10, "deterministic": False,
                    "allow_tf32": True, "fp32_precision": "none", "depthwise_kernel": "auto"})

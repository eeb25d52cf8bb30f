"""``ndgrad.backends.cudnn``: ndgrad has no cuDNN (convolutions are im2col + cuBLAS on the GPU).

The switches are accepted and recorded so programs that set them run; ``is_available()`` is False and
``version()`` is None, as PyTorch reports on a build without cuDNN. ``deterministic`` is honoured trivially:
ndgrad's kernels give the same result on every run.
"""
enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True
fp32_precision = "none"
depthwise_kernel = "auto"


def is_available():
    return False


def version():
    return None


def is_acceptable(tensor):
    return False


from ._flags import install as _install  # noqa: E402
_install(__name__, {"enabled": False, "benchmark": False, "benchmark_limit": 10, "deterministic": False,
                    "allow_tf32": True, "fp32_precision": "none", "depthwise_kernel": "auto"})

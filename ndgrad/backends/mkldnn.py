"""``ndgrad.backends.mkldnn``: oneDNN is not used by ndgrad (NumPy's BLAS does the CPU matmuls)."""
enabled = True
deterministic = False
allow_tf32 = True
fp32_precision = "none"


def is_available():
    return False


from ._flags import install as _install  # noqa: E402
_install(__name__, {"enabled": False, "deterministic": False, "allow_tf32": True, "fp32_precision": "none"})

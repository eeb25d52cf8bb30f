"""``ndgrad.backends.mkldnn``: oneDNN (formerly MKL-DNN) for CPU convolutions, as in PyTorch.

ndgrad runs float32 convolutions on the CPU through oneDNN when Intel's ``onednn-cpu-gomp`` wheel is
installed (``pip install ndgrad[cpu]``; see ndgrad/backend/onednn.py); ``enabled = False`` sends them
back to ndgrad's own im2col + BLAS path. Matrix products stay with NumPy's BLAS.
"""
enabled = True
deterministic = False
allow_tf32 = True
fp32_precision = "none"


def is_available():
    """Whether oneDNN's library is installed and loads here."""
    from ndgrad.backend import onednn
    return onednn.available()


from ._flags import install as _install  # noqa: E402
_install(__name__, {"enabled": False, "deterministic": False, "allow_tf32": True, "fp32_precision": "none"})

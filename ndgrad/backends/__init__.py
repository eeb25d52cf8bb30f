"""``ndgrad.backends``: PyTorch's per-backend switches (``torch.backends.cudnn.benchmark = True`` ...).

ndgrad computes with NumPy on the CPU and CuPy (cuBLAS, no cuDNN) on the GPU, so most switches are
recorded settings that programs may set and read; ``is_available()`` answers truthfully for ndgrad.
"""
from . import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp"]

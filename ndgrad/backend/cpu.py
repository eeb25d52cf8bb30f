"""The CPU backend: NumPy arrays, BLAS through NumPy, and the random generator."""
import ctypes
import os
import warnings

import numpy as np

xp = np

# NumPy warns when a float op meets a zero divisor, inf - inf, overflow...; PyTorch returns inf and
# nan silently. Silence exactly those warnings, and only where ndgrad's own code ran the op (the
# user's NumPy code keeps its warnings, and no per-op errstate costs anything on the hot path).
warnings.filterwarnings("ignore", message=r"(divide by zero|invalid value|overflow) encountered",
                        category=RuntimeWarning, module=r"ndgrad(\.|$)")


def new_generator(seed=None):
    return np.random.default_rng(seed)


def _keep_freed_memory_for_reuse():
    """Ask glibc to keep freed activation buffers instead of returning them to the OS every step.

    A training step frees and re-allocates the same large arrays each iteration; by default glibc
    unmaps big blocks on free, so every step pays page faults again (measured: 3-4 ms of a 40 ms
    CNN step). Raising the mmap and trim thresholds lets the allocator reuse them. Opt out with
    NDGRAD_MALLOC_TUNING=0. No effect where the C library is not glibc.
    """
    if os.environ.get("NDGRAD_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok_mmap = libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's largest allowed value
        ok_trim = libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
        return bool(ok_mmap and ok_trim)
    except (OSError, AttributeError):
        return False


MALLOC_TUNED = _keep_freed_memory_for_reuse()

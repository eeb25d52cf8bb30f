"""Process-wide switches that PyTorch keeps at the top level: determinism, matmul precision, threads."""
import os

_state = {"deterministic": False, "warn_only": False, "matmul_precision": "highest", "threads": None,
          "interop_threads": None, "limiter": None}
_PRECISIONS = ("highest", "high", "medium")


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Recorded: ndgrad's CPU and GPU kernels already give the same result on every run."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {type(mode).__name__}")
    _state["deterministic"] = mode
    _state["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    levels = {"default": 0, "warn": 1, "error": 2}
    level = levels.get(debug_mode, debug_mode)
    if level not in (0, 1, 2):
        raise RuntimeError(f"set_deterministic_debug_mode: expected 'default', 'warn', 'error' or 0, 1, 2, "
                           f"got {debug_mode!r}")
    use_deterministic_algorithms(level > 0, warn_only=level == 1)


def get_deterministic_debug_mode():
    if not _state["deterministic"]:
        return 0
    return 1 if _state["warn_only"] else 2


def set_float32_matmul_precision(precision):
    """Recorded (float32 matmuls always run in full float32 here); 'highest', 'high' or 'medium'."""
    if precision not in _PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: {precision!r} is not one of 'highest', 'high' or "
                         f"'medium'")
    _state["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _state["matmul_precision"]


def set_num_threads(n):
    """Threads of the BLAS under NumPy (through threadpoolctl when installed; otherwise recorded)."""
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    _state["threads"] = n
    from ndgrad.backend import onednn
    onednn.set_num_threads(n)   # oneDNN's OpenMP threads (convolutions), now or once it is loaded
    try:
        import threadpoolctl
    except ImportError:
        return
    from ndgrad.backend import np  # noqa: F401  (load NumPy's BLAS so the limit reaches it)
    _state["limiter"] = threadpoolctl.threadpool_limits(limits=n)


def get_num_threads():
    if _state["threads"] is not None:
        return _state["threads"]
    try:
        import threadpoolctl
        from ndgrad.backend import np  # noqa: F401
        counts = [info["num_threads"] for info in threadpoolctl.threadpool_info()]
        if counts:
            return max(counts)
    except ImportError:
        pass
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_num_interop_threads(n):
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise RuntimeError(f"set_num_interop_threads expects a positive integer, got {n!r}")
    _state["interop_threads"] = n


def get_num_interop_threads():
    return _state["interop_threads"] or get_num_threads()

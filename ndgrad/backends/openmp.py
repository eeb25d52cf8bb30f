"""``ndgrad.backends.openmp``: whether the BLAS under NumPy runs OpenMP threads."""


def is_available():
    try:
        import threadpoolctl
    except ImportError:
        return False
    return any(info.get("user_api") == "openmp" or info.get("threading_layer") == "openmp"
               for info in threadpoolctl.threadpool_info())

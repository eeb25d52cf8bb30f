"""``ndgrad.backends.mkl``: whether NumPy's BLAS is Intel MKL."""


def is_available():
    try:
        from ndgrad.backend import np
        config = np.show_config(mode="dicts")
        return "mkl" in str(config.get("Build Dependencies", {}).get("blas", {})).lower()
    except Exception:
        return False

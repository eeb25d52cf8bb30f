"""The CUDA backend: CuPy arrays, cuBLAS through CuPy, fused elementwise kernels.

CuPy is optional (``pip install ndgrad[cuda]``). Nothing here imports it until a
GPU is asked for, so ``import ndgrad`` stays fast and works without it.
"""
_cupy = None
_import_error = None

INSTALL_HINT = ("install CuPy for your CUDA version, e.g. `pip install ndgrad[cuda]` "
                "(cupy-cuda12x) or `pip install cupy-cuda13x`")


def _load():
    global _cupy, _import_error
    if _cupy is None and _import_error is None:
        try:
            import cupy
            _cupy = cupy
        except Exception as exc:  # ImportError, or a CUDA runtime that fails to load
            _import_error = exc
    return _cupy


def xp():
    cp = _load()
    if cp is None:
        raise RuntimeError(f"device 'cuda' needs CuPy, which could not be imported ({_import_error}); {INSTALL_HINT}")
    return cp


def is_cupy_array(array):
    return _cupy is not None and isinstance(array, _cupy.ndarray)


def is_available():
    cp = _load()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def device_count():
    if not is_available():
        return 0
    return _cupy.cuda.runtime.getDeviceCount()


def current_index():
    return xp().cuda.Device().id if is_available() else 0


def check_device(index):
    cp = xp()
    count = device_count()
    if count == 0:
        raise RuntimeError("device 'cuda' was asked for, but CuPy finds no NVIDIA GPU on this machine; "
                           "use device='cpu'")
    if not 0 <= index < count:
        found = ", ".join(f"cuda:{i}" for i in range(count))
        raise RuntimeError(f"device cuda:{index} does not exist; this machine has {count} GPU(s): {found}")
    return cp


def to_host(array):
    return xp().asnumpy(array)


def to_gpu(array, index):
    cp = xp()
    with cp.cuda.Device(index):
        try:
            return cp.asarray(array)
        except cp.cuda.memory.OutOfMemoryError as exc:
            raise out_of_memory(exc, array.nbytes) from None


def out_of_memory(exc, asked_bytes=None, op=None):
    """A MemoryError that says how much was asked for and how much the GPU has free."""
    cp = xp()
    free, total = cp.cuda.runtime.memGetInfo()
    pool = cp.get_default_memory_pool()
    asked = f"{asked_bytes / 2**20:.1f} MiB" if asked_bytes else "an allocation"
    where = f"{op}: " if op else ""
    from ..errors import OutOfMemoryError  # a RuntimeError and a MemoryError, as torch.OutOfMemoryError
    return OutOfMemoryError(f"{where}CUDA out of memory: asked for {asked}; the GPU has {free / 2**20:.1f} MiB free "
                       f"of {total / 2**20:.1f} MiB and ndgrad's memory pool holds "
                       f"{pool.total_bytes() / 2**20:.1f} MiB. Use a smaller batch, or drop references to "
                       f"tensors you no longer need ({exc})")


def synchronize(index=None):
    cp = xp()
    if index is None:
        cp.cuda.get_current_stream().synchronize()
    else:
        with cp.cuda.Device(index):
            cp.cuda.get_current_stream().synchronize()


def new_generator(seed=None, index=0):
    cp = xp()
    with cp.cuda.Device(index):
        return cp.random.default_rng(seed)

"""The SciPy kernel behind each function, for NumPy or CuPy arrays."""
from ..ops.math_extra import _special


def kernel(xp, name):
    """``scipy.special.<name>`` (CPU) or ``cupyx.scipy.special.<name>`` (GPU).

    A few kernels (``airy`` for one) are missing from some CuPy versions: those run on the host through
    SciPy and come back to the device, which is slower but gives the same values.
    """
    module = _special(xp)
    fn = getattr(module, name, None)
    if fn is not None:
        return fn
    try:
        import scipy.special as host
    except ImportError as exc:
        raise ImportError(f"ndgrad.special needs SciPy for '{name}' on this device: pip install scipy") from exc

    def on_host(*arrays):
        out = getattr(host, name)(*(xp.asnumpy(a) for a in arrays))
        return tuple(xp.asarray(o) for o in out) if isinstance(out, tuple) else xp.asarray(out)
    return on_host

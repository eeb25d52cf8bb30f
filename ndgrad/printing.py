"""A PyTorch-like repr: values, then dtype/device/grad information when it is not the default."""
from . import dtypes
from .backend import np

_DEFAULT_SHOWN_FREE = ("int64", "bool")


def tensor_repr(t):
    arr = t._host()
    if arr.dtype.name == "bfloat16" or arr.dtype == np.float16:  # by name: no ml_dtypes import
        arr = arr.astype(np.float32)
    prefix = "tensor("
    if arr.size == 0:
        body = f"[], size={tuple(arr.shape)}" if arr.ndim > 1 else "[]"
    else:
        # PyTorch's look: integral floats as "1.", others with 4 fixed decimals ("-0.0750")
        finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
        integral = arr.dtype.kind != "f" or finite.size == 0 or bool(np.all(finite == np.round(finite)))
        body = np.array2string(arr, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                               precision=4, suppress_small=False,
                               floatmode="maxprec" if integral else "fixed")
    extras = []
    if t._device.type != "cpu":
        extras.append(f"device='{t._device}'")
    dt = t.dtype
    if dt is not dtypes.get_default_dtype() and dt.name not in _DEFAULT_SHOWN_FREE:
        extras.append(f"dtype={dt!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}Backward>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"

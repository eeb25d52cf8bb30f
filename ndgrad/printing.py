"""A PyTorch-like repr: values, then dtype/device/grad information when it is not the default."""
import sys

from . import dtypes
from .backend import np

_DEFAULT_SHOWN_FREE = ("int64", "bool")

# ndgrad.set_printoptions changes these; linewidth None keeps NumPy's wrapping
_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=None),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=None),
             "full": dict(precision=4, threshold=sys.maxsize, edgeitems=3, linewidth=None)}
_options = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """How tensors print: digits after the point, how many elements before summarising with ``...``,
    items shown at each edge, line width, a ``profile`` ("default", "short", "full") and
    ``sci_mode`` (True: always scientific, False: never, None: automatic)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        _options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            _options[name] = min(int(value), sys.maxsize) if value != float("inf") else sys.maxsize
    _options["sci_mode"] = sci_mode


def _shown(arr, edgeitems):
    """The elements a summarised print shows (``edgeitems`` at each end of every dimension)."""
    for axis in range(arr.ndim):
        n = arr.shape[axis]
        if n > 2 * edgeitems:
            keep = list(range(edgeitems)) + list(range(n - edgeitems, n))
            arr = np.take(arr, keep, axis=axis)
    return arr


def _part_formatter(values):
    """How torch prints one part (real or imaginary) of complex numbers: a function value -> text."""
    opts = _options
    p = opts["precision"]
    finite = values[np.isfinite(values)]
    magnitudes = np.abs(finite[finite != 0]).astype(np.float64)
    integral = bool(np.all(finite == np.round(finite)))
    wide = magnitudes.size > 0 and (magnitudes.max() / magnitudes.min() > 1000 or magnitudes.max() > 1e8)
    small = magnitudes.size > 0 and magnitudes.min() < 1e-4
    if opts["sci_mode"] or (opts["sci_mode"] is None and (wide or (small and not integral))):
        return lambda v: f"{v:.{p}e}" if np.isfinite(v) else f"{v}"
    if integral:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"
    return lambda v: f"{v:.{p}f}" if np.isfinite(v) else f"{v}"


def _complex_body(arr, prefix):
    """torch's complex look: each part formatted on its own, real parts padded, e.g. ``[1.+2.j, 3.-1.j]``."""
    opts = _options
    shown = _shown(arr, opts["edgeitems"]) if arr.size > opts["threshold"] else arr
    fmt_re, fmt_im = _part_formatter(shown.real.ravel()), _part_formatter(shown.imag.ravel())
    reals = shown.real.ravel()
    counted = reals[np.isfinite(reals) & (reals != 0)]  # torch sizes the column from finite nonzero values
    width = max(len(fmt_re(v)) for v in (counted if counted.size else reals))

    def element(z):
        im = fmt_im(z.imag)
        return fmt_re(z.real).rjust(width) + (im if im[0] in "+-" else "+" + im) + "j"
    return np.array2string(arr, separator=", ", prefix=prefix, threshold=opts["threshold"],
                           edgeitems=opts["edgeitems"], max_line_width=opts["linewidth"],
                           formatter={"complex_kind": element})


def tensor_repr(t):
    arr = t._host()
    if arr.dtype.name == "bfloat16" or arr.dtype == np.float16:  # by name: no ml_dtypes import
        arr = arr.astype(np.float32)
    prefix = "tensor("
    if arr.size and arr.dtype.kind == "c":
        body = _complex_body(arr, prefix)
    elif arr.size == 0:
        body = f"[], size={tuple(arr.shape)}" if arr.ndim > 1 else "[]"
    else:
        # PyTorch's look: integral floats as "1.", others with 4 fixed decimals ("-0.0750")
        finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
        integral = arr.dtype.kind != "f" or finite.size == 0 or bool(np.all(finite == np.round(finite)))
        opts, formatter = _options, None
        if arr.dtype.kind == "f" and opts["sci_mode"] is not False:
            shown = _shown(arr, opts["edgeitems"]) if arr.size > opts["threshold"] else arr
            shown = shown[np.isfinite(shown)]
            magnitudes = np.abs(shown[shown != 0]).astype(np.float64)
            # torch's rule: integral values go scientific, with all the precision digits, only when they
            # span more than 1000x or pass 1e8 (numpy's "maxprec" would trim those digits)
            wide = magnitudes.size > 0 and (magnitudes.max() / magnitudes.min() > 1000 or magnitudes.max() > 1e8)
            if opts["sci_mode"] or (integral and wide):
                formatter = {"float_kind": lambda v, p=opts["precision"]: f"{v:.{p}e}"}
        body = np.array2string(arr, separator=", ", prefix=prefix, threshold=opts["threshold"],
                               edgeitems=opts["edgeitems"], precision=opts["precision"],
                               suppress_small=opts["sci_mode"] is False, max_line_width=opts["linewidth"],
                               floatmode="maxprec" if integral else "fixed", formatter=formatter)
    extras = []
    if t._device.type != "cpu":
        extras.append(f"device='{t._device}'")
    dt = t.dtype
    if dt is not dtypes.get_default_dtype() and dt.name not in _DEFAULT_SHOWN_FREE and \
            dt is not dtypes.get_default_dtype().to_complex():
        extras.append(f"dtype={dt!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}Backward>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"

"""Mixed precision: ``autocast`` runs matmul/linear/conv in float16 (or bfloat16); ``GradScaler`` keeps
float16 gradients from underflowing by scaling the loss and unscaling before the optimizer step."""
from . import dtypes


class _AutocastState:
    enabled = False
    dtype = None
    device_type = None


state = _AutocastState()
# the dtype autocast uses per device type when none is given (ndgrad.set_autocast_dtype changes it)
_default_dtypes = {"cuda": dtypes.float16, "cpu": dtypes.bfloat16}


def _device_type(device_type, op):
    if device_type not in _default_dtypes:
        raise RuntimeError(f"{op}: unsupported device type {device_type!r}; expected 'cuda' or 'cpu'")
    return device_type


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for ``device_type`` (no argument: cuda, as torch's legacy form)."""
    device_type = _device_type("cuda" if device_type is None else device_type, "is_autocast_enabled")
    return bool(state.enabled) and state.device_type == device_type


def set_autocast_enabled(device_type, enabled=None):
    """Switch autocast on or off for ``device_type``; ``set_autocast_enabled(True)`` means cuda."""
    if enabled is None:  # legacy one-argument form
        device_type, enabled = "cuda", device_type
    device_type = _device_type(device_type, "set_autocast_enabled")
    if enabled:
        state.enabled, state.device_type = True, device_type
        state.dtype = state.dtype if state.dtype is not None and state.device_type == device_type \
            else _default_dtypes[device_type]
    elif state.device_type in (None, device_type):
        state.enabled = False


def get_autocast_dtype(device_type):
    device_type = _device_type(device_type, "get_autocast_dtype")
    if state.enabled and state.device_type == device_type and state.dtype is not None:
        return state.dtype
    return _default_dtypes[device_type]


def set_autocast_dtype(device_type, dtype):
    """The low-precision dtype autocast on ``device_type`` uses when none is given."""
    device_type = _device_type(device_type, "set_autocast_dtype")
    _default_dtypes[device_type] = dtypes.to_dtype(dtype)
    if state.device_type == device_type:
        state.dtype = _default_dtypes[device_type]


class autocast:
    """``with ndgrad.autocast("cuda"):`` matmul, linear and convolutions compute in float16.

    Other ops keep their inputs' dtype; results of the low-precision ops flow on in float16
    unless the next op promotes them, as in PyTorch.
    """

    def __init__(self, device_type="cuda", dtype=None, enabled=True):
        if device_type not in ("cuda", "cpu"):
            raise ValueError(f"autocast: device_type must be 'cuda' or 'cpu', not {device_type!r}")
        self.device_type = device_type
        self.dtype = dtypes.to_dtype(dtype) or _default_dtypes[device_type]
        if self.dtype is None:
            raise RuntimeError("autocast: bfloat16 needs the ml_dtypes package (pip install ml_dtypes)")
        self.enabled = enabled

    def __enter__(self):
        self.prev = (state.enabled, state.dtype, state.device_type)
        state.enabled, state.dtype, state.device_type = self.enabled, self.dtype, self.device_type
        return self

    def __exit__(self, *exc):
        state.enabled, state.dtype, state.device_type = self.prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.dtype, self.enabled):
                return fn(*args, **kwargs)
        return wrapper


def cast_inputs(*tensors):
    """What low-precision-friendly ops call on their inputs: cast floating tensors under autocast."""
    if not state.enabled:
        return tensors
    target = state.dtype
    out = []
    for t in tensors:
        if t is not None and t._device.type == state.device_type and t.dtype.is_floating_point \
                and t.dtype is not target:
            t = t.to(target)
        out.append(t)
    return tuple(out)


from .grad_scaler import GradScaler  # noqa: E402,F401  (ndgrad.amp.GradScaler; imported last: it needs Tensor)

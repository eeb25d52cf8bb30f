"""Switches for recording the graph: no_grad, enable_grad, set_grad_enabled."""
import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.enabled = True


state = _State()


def is_grad_enabled():
    return state.enabled


class _GradModeSwitch:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    mode = True

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False

    def __call__(self, fn):
        if isinstance(self, set_grad_enabled):
            state.enabled = self.prev  # used as a decorator: the mode applies inside calls only
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev
        return wrapper


class no_grad(_GradModeSwitch):
    """Ops inside record no graph: for evaluation and in-place parameter updates."""
    mode = False


class enable_grad(_GradModeSwitch):
    """Record the graph again inside a ``no_grad`` region."""
    mode = True


class inference_mode(no_grad):
    """Like ``no_grad`` (ndgrad has no separate inference tensors)."""

    def __init__(self, mode=True):
        self.mode = not mode

    def __enter__(self):  # also tracks the flag that ndgrad.is_inference_mode_enabled() reports
        self.prev_inference = getattr(state, "inference", False)
        state.inference = not self.mode
        super().__enter__()

    def __exit__(self, *exc):
        state.inference = self.prev_inference
        return super().__exit__(*exc)

    def __call__(self, fn):
        switch = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not switch.mode):
                return fn(*args, **kwargs)
        return wrapper


class set_grad_enabled(_GradModeSwitch):
    """``set_grad_enabled(False)`` works as a call, a context manager and a decorator."""

    def __init__(self, mode):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode  # takes effect as a plain call too, like PyTorch

    def __enter__(self):
        # the mode was already switched by __init__; keep the mode from before that call to restore on exit
        state.enabled = self.mode

"""``GradScaler``: loss scaling for float16 training, with PyTorch's API and without host syncs.

``scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()``. The scale, the growth tracker
and the found-inf flags are 0-d arrays on the device of the scaled loss, and ``update()`` computes the next
scale there, so a mixed-precision step on a GPU never waits for it. ``step`` skips the optimizer's update
when a gradient is not finite; optimizers that can undo an update on the device (all state on the
parameters' device, e.g. SGD, or Adam/AdamW with ``capturable=True``) skip it there too; others read the
flag once, as PyTorch does.
"""
import warnings

from .autograd import grad_mode
from .backend import device_of, host_sync, to_device, xp_of
from .tensor import Tensor

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _new_optimizer_state():
    return {"stage": _READY, "found_inf_per_device": {}}


class GradScaler:
    """Scale the loss up before backward, unscale the gradients before the step, skip steps with inf/NaN."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device)
        if enabled and self._device.startswith("cuda"):
            from . import cuda
            if not cuda.is_available():
                warnings.warn("ndgrad.amp.GradScaler is enabled, but CUDA is not available. Disabling.")
                enabled = False
        self._enabled = enabled
        if not enabled:
            return
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor should be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor should be in (0, 1), got {backoff_factor}")
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._scale = None            # 0-d float32 array on the device of the first scaled output
        self._growth_tracker = None   # 0-d int32 array beside it
        self._per_optimizer_states = {}

    # -- scaling --------------------------------------------------------------------------------------------
    def _lazy_init(self, like):
        xp = like.xp
        with _device_of(like):
            self._scale = xp.full((), self._init_scale, dtype=xp.float32)
            self._growth_tracker = xp.full((), self._init_growth_tracker, dtype=xp.int32)

    def scale(self, outputs):
        """``outputs`` times the scale (a tensor, or lists/tuples of them)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init(outputs)
            return outputs * Tensor._wrap(self._scale_on(outputs), outputs._device)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, map) or hasattr(outputs, "__iter__"):
            return map(self.scale, outputs)
        raise ValueError(f"GradScaler.scale: outputs must be a Tensor or an iterable of Tensors, got "
                         f"{type(outputs).__name__}")

    def _scale_on(self, like):
        if like._device == device_of(self._scale):
            return self._scale
        return to_device(self._scale, like._device)

    # -- unscaling and the optimizer step -------------------------------------------------------------------
    def _state(self, optimizer):
        return self._per_optimizer_states.setdefault(id(optimizer), _new_optimizer_state())

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale in place of a new grad, and note whether any is inf/NaN."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] is _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        if self._scale is None:
            raise RuntimeError("GradScaler.unscale_: call scaler.scale(loss) (and backward) before unscale_/step")
        state["found_inf_per_device"] = self._unscale_grads(optimizer)
        state["stage"] = _UNSCALED

    def _unscale_grads(self, optimizer):
        non_finite = {}   # device -> per-gradient flags, combined into one 0-d array per device below
        inverse = {}      # (device, dtype) -> 1 / scale, computed once (in float64, then rounded, as torch)
        with grad_mode.no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad._data
                    if g.dtype.name == "float16":
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    xp = p.grad.xp
                    key = (p.grad._device, g.dtype)
                    inv = inverse.get(key)
                    if inv is None:
                        inv = inverse[key] = (1.0 / self._scale_on(p.grad).astype(xp.float64)).astype(g.dtype)
                    non_finite.setdefault(p.grad._device, []).append(~xp.isfinite(g).all())
                    p.grad = Tensor._wrap(g * inv, p.grad._device)
        found = {}
        for device, flags in non_finite.items():
            xp = xp_of(flags[0])
            found[device] = xp.stack(flags).any().astype(xp.float32)
        return found

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if not done yet) and run ``optimizer.step`` unless a gradient was inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stage"] is _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        flags = list(state["found_inf_per_device"].values())
        if not flags:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        found = _combined(flags)
        result = self._maybe_step(optimizer, found, args, kwargs)
        state["stage"] = _STEPPED
        return result

    @staticmethod
    def _maybe_step(optimizer, found, args, kwargs):
        can_skip = getattr(optimizer, "_can_skip_on_device", None)   # ndgrad's optimizers; others read the flag
        if host_sync.on_device(found) and can_skip is not None and can_skip():
            return optimizer._step_unless(found, *args, **kwargs)   # decided on the device: no sync
        host_sync.read(f"GradScaler.step({type(optimizer).__name__}) reads the inf/NaN flag", found)
        if not float(found.item()):
            return optimizer.step(*args, **kwargs)
        return None

    # -- the scale's schedule -------------------------------------------------------------------------------
    def update(self, new_scale=None):
        """Back the scale off after a step with inf/NaN gradients, grow it after growth_interval clean steps."""
        if not self._enabled:
            return
        if self._scale is None:
            raise RuntimeError("GradScaler.update: nothing was scaled yet (call scaler.scale(loss) first)")
        xp = xp_of(self._scale)
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1 or new_scale.requires_grad or new_scale.dtype.name != "float32":
                    raise ValueError("GradScaler.update: new_scale should be a float or a 1-element "
                                     "torch.float32 tensor with requires_grad=False.")
                self._scale[...] = new_scale._data.reshape(())
            else:
                self._scale[...] = float(new_scale)
        else:
            flags = [f for s in self._per_optimizer_states.values() for f in s["found_inf_per_device"].values()]
            if not flags:
                raise AssertionError("No inf checks were recorded prior to update.")
            self._update_scale(xp, _combined(flags) > 0)
        self._per_optimizer_states = {}

    def _update_scale(self, xp, found):
        """PyTorch's _amp_update_scale_, written into the same two arrays (a CUDA graph keeps their memory)."""
        scale, tracker = self._scale, self._growth_tracker
        successful = tracker + 1
        grow = ~found & (successful >= self._growth_interval)
        grown = scale * xp.float32(self._growth_factor)
        new_scale = xp.where(found, scale * xp.float32(self._backoff_factor),
                             xp.where(grow & xp.isfinite(grown), grown, scale))
        tracker[...] = xp.where(found | grow, 0, successful)
        scale[...] = new_scale

    # -- accessors, PyTorch's names -------------------------------------------------------------------------
    def get_scale(self):
        """The current scale as a Python float (a read of the GPU: call it outside the hot loop)."""
        if not self._enabled:
            return 1.0
        if self._scale is None:
            return self._init_scale
        host_sync.read("GradScaler.get_scale()", self._scale)
        return float(self._scale.item())

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        if self._growth_tracker is None:
            return self._init_growth_tracker
        host_sync.read("GradScaler state", self._growth_tracker)
        return int(self._growth_tracker.item())

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._scale is not None:
            self._scale[...] = self._init_scale
            self._growth_tracker[...] = self._init_growth_tracker

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = state["_growth_tracker"] = None
            state["_per_optimizer_states"] = {}
        return state


def _combined(flags):
    """The sum of per-device flags, on the first flag's device (one device in practice)."""
    total = flags[0]
    for flag in flags[1:]:
        total = total + to_device(flag, device_of(total))
    return total


class _device_of:
    """``with _device_of(tensor):`` makes the tensor's GPU current while the scale is created (CPU: nothing)."""

    def __init__(self, tensor):
        self.index = tensor._device.index

    def __enter__(self):
        self.context = None
        if self.index is not None:
            from .backend import cuda
            self.context = cuda.xp().cuda.Device(self.index)
            self.context.__enter__()

    def __exit__(self, *exc):
        if self.context is not None:
            self.context.__exit__(*exc)
        return False

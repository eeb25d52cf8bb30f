"""Optimizer: the base class that holds param_groups and per-parameter state.

Subclasses implement ``step`` with the same formulas and operation order as
PyTorch's single-tensor (``foreach=False``) implementations. Updates are done
in place on the raw arrays (``p._data``) with ``out=`` arguments; temporaries
live in a small per-optimizer workspace that is reused across parameters and
steps, so a step allocates no parameter-sized arrays after the first one.
"""
import warnings
from collections import defaultdict

from ndgrad import dtypes
from ndgrad.backend import host_sync
from ndgrad.tensor import Tensor

from . import hooks as _hooks

_SMALL = 4096   # elements: below this an update's temporaries are fresh arrays, not workspace buffers

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]

register_optimizer_step_pre_hook = _hooks.register_optimizer_step_pre_hook
register_optimizer_step_post_hook = _hooks.register_optimizer_step_post_hook


def _check_non_negative(optimizer_name, label, value, option):
    """Raise ValueError('<Opt>: Invalid <label>: <value> ...') when ``value < 0``."""
    if not 0.0 <= value:
        raise ValueError(f"{optimizer_name}: Invalid {label}: {value} ({option} must be >= 0)")


def _check_betas(optimizer_name, betas):
    """The (beta1, beta2) pair as a tuple; ValueError unless it is a pair with each beta in [0, 1)."""
    betas = tuple(betas)
    if len(betas) != 2:
        raise ValueError(f"{optimizer_name}: betas must be a pair (beta1, beta2), got {betas}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{optimizer_name}: Invalid beta parameter at index {i}: {beta} "
                             f"(each beta must be in [0, 1))")
    return betas


def _check_adam_options(optimizer_name, lr, eps, betas, weight_decay):
    """The checks every Adam-family constructor runs, in torch's order; returns ``betas`` as a tuple."""
    _check_non_negative(optimizer_name, "learning rate", lr, "lr")
    _check_non_negative(optimizer_name, "epsilon value", eps, "eps")
    betas = _check_betas(optimizer_name, betas)
    _check_non_negative(optimizer_name, "weight_decay value", weight_decay, "weight_decay")
    return betas


def _check_unsupported(optimizer_name, **flags):
    """PyTorch-only execution modes are accepted as False/None (for portability) and refused when on."""
    for flag, value in flags.items():
        if value:
            raise ValueError(
                f"{optimizer_name}: {flag}=True is not supported by ndgrad (its updates always run the "
                f"single-tensor in-place path); leave {flag} unset")


def _zeros_state(p):
    """A zero-filled state tensor shaped like parameter ``p`` (running averages start here)."""
    return Tensor._wrap(p.xp.zeros_like(p._data))


class _RequiredParameter:
    """Singleton marking a hyperparameter that has no default."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _describe(t):
    return f"tensor of shape {tuple(t.shape)}"


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``).

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of
            dicts defining parameter groups (each with a ``"params"`` key).
        defaults: default values of the optimization options, used for every
            group that does not set them.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params argument given to the optimizer should be an iterable "
                f"of Tensors or dicts, but got a single Tensor; pass [tensor] or model.parameters()")
        # keyed by the parameter tensors themselves (Tensor hashes by identity, as in torch)
        self.state = defaultdict(dict)
        self.param_groups = []
        self._workspace = {}
        _hooks.init_hook_dicts(self)
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{type(self).__name__}: optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(dict(group))

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_runs_step_hooks", False):
            cls.step = _hooks.with_step_hooks(step)

    # -- hooks -----------------------------------------------------------------------------

    def register_step_pre_hook(self, hook):
        """Run ``hook(optimizer, args, kwargs)`` before each ``step``; it may return ``(new_args, new_kwargs)``."""
        return _hooks.add_hook(_hooks.hook_dict(self, "_optimizer_step_pre_hooks"), hook)

    def register_step_post_hook(self, hook):
        """Run ``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _hooks.add_hook(_hooks.hook_dict(self, "_optimizer_step_post_hooks"), hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Run ``hook(optimizer)`` before ``state_dict`` builds its result."""
        return _hooks.add_hook(_hooks.hook_dict(self, "_optimizer_state_dict_pre_hooks"), hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Run ``hook(optimizer, state_dict)`` after ``state_dict``; a non-None return replaces the result."""
        return _hooks.add_hook(_hooks.hook_dict(self, "_optimizer_state_dict_post_hooks"), hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Run ``hook(optimizer, state_dict)`` before loading; a non-None return is loaded instead."""
        return _hooks.add_hook(_hooks.hook_dict(self, "_optimizer_load_state_dict_pre_hooks"), hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Run ``hook(optimizer)`` after ``load_state_dict`` has loaded the state."""
        return _hooks.add_hook(_hooks.hook_dict(self, "_optimizer_load_state_dict_post_hooks"), hook, prepend)

    def _optimizer_step_code(self):
        """Entry point for profilers in torch; nothing to do here."""

    # -- parameter groups ------------------------------------------------------------------

    def add_param_group(self, param_group):
        """Add a param group (a dict with ``"params"`` and optional options) to ``param_groups``."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                f"{name}: optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)

        names = [p[0] for p in params if isinstance(p, tuple)]
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(tensors):
            raise ValueError(
                f"{name}: all optimizer params should be with/without names. Some param names are missing")
        param_group["params"] = tensors
        if names:
            param_group["param_names"] = names

        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__module__}.{type(p).__name__}")
            if p.grad_fn is not None and not p.retains_grad:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor ({_describe(p)}, made by "
                    f"{type(p.grad_fn).__name__}); optimize the leaf it was computed from, or make a "
                    "leaf with t.detach().requires_grad_() / ndgrad.nn.Parameter(t)")

        for key, default in self.defaults.items():
            if default is required and key not in param_group:
                raise ValueError(
                    f"{name}: parameter group didn't specify a value of required optimization "
                    f"parameter {key}")
            param_group.setdefault(key, default)

        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            # torch warns (and steps such a tensor twice); it plans to make this an error
            warnings.warn(
                f"{name}: optimizer contains a parameter group with duplicate parameters; "
                "each will be updated once per occurrence. List each parameter once.",
                stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    f"{name}: all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer")
        shared = [i for i, p in enumerate(tensors) if id(p) in seen]
        if shared:
            raise ValueError(
                f"{name}: some parameters appear in more than one parameter group "
                f"(params at positions {shared} of the new group, e.g. {_describe(tensors[shared[0]])}); "
                "put each parameter in exactly one group")
        self.param_groups.append(param_group)

    # -- gradients ---------------------------------------------------------------------------

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors (to None by default).

        With ``set_to_none=False`` each grad is replaced by a fresh zero tensor
        rather than zeroed in place: several leaves may share one grad tensor.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad._data
                    p.grad = Tensor._wrap(p.xp.zeros_like(g))

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    def _step_params(self, closure, update_param):
        """The loop every ``step`` runs: evaluate ``closure``, then ``update_param(p, group, lr)`` for each
        parameter that has a gradient. ``lr`` is a float (a 1-element tensor is accepted, like torch)."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p._data.dtype.kind == "c":
                    self._step_as_real(p, group, lr, update_param)
                else:
                    update_param(p, group, lr)
        return loss

    # optimizers whose update is not elementwise (Muon, Adafactor) set this False, as torch refuses them
    _supports_complex = True

    def _creates_state(self, group):
        """Whether the first update of a parameter in ``group`` creates state (SGD without momentum: no)."""
        return True

    def _can_skip_on_device(self):
        """Whether ``_step_unless`` can undo this step on the device: every parameter with a gradient already
        has all its state tensors on its own device (a host-side step counter could only be undone after
        reading the flag; state created by this step could not be removed)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if not state:
                    if self._creates_state(group):
                        return False
                    continue
                for value in state.values():
                    if isinstance(value, Tensor) and value._device != p._device:
                        return False
        return True

    def _step_unless(self, skip, *args, **kwargs):
        """``step()``, undone on the device wherever the 0-d array ``skip`` is nonzero: GradScaler's skipped
        step without a host sync. Costs a copy of the parameters and their state (two passes over them)."""
        saved = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p, {})
                keys = [k for k, v in state.items() if isinstance(v, Tensor)]
                saved.append((p, p._data.copy(), [(k, state[k]._data.copy()) for k in keys]))
        result = self.step(*args, **kwargs)
        flag = skip.astype(bool)
        for p, param_copy, state_copies in saved:
            xp = p.xp
            xp.copyto(p._data, param_copy, where=flag)
            state = self.state[p]
            for key, copy in state_copies:
                xp.copyto(state[key]._data, copy, where=flag)
        return result

    def _step_as_real(self, p, group, lr, update_param):
        """Update complex ``p`` as its ``view_as_real`` pair, like torch: the update runs on real views
        of the parameter, its grad and its state buffers (which stay complex in ``self.state``)."""
        if not self._supports_complex:
            raise RuntimeError(
                f"{type(self).__name__} does not support complex parameters (got a {p.dtype} parameter of "
                f"shape {tuple(p.shape)}); optimize torch.view_as_real(param) as a real parameter instead")
        real_p = _real_view(p)
        real_p.grad = _real_view(p.grad)
        complex_state = self.state.get(p)
        if complex_state:
            self.state[real_p] = {k: _real_view(v) if _is_complex_tensor(v) else v
                                  for k, v in complex_state.items()}
        try:
            update_param(real_p, group, lr)
        finally:
            real_state = self.state.pop(real_p, None)
        if real_state is not None:
            self.state[p] = {k: _as_complex_state(v, real_p, complex_state) for k, v in real_state.items()}

    def _lazy_state(self, p, *names):
        """``self.state[p]``, created on first use as a step counter and zero tensors named ``names``."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_counter()
            for name in names:
                state[name] = _zeros_state(p)
        return state

    def _evaluate_closure(self, closure):
        if closure is None:
            return None
        from ndgrad.autograd.grad_mode import enable_grad
        with enable_grad():
            return closure()

    # -- workspace for in-place updates ------------------------------------------------------

    def _scratch(self, p, slot):
        """A reusable raw array with ``p``'s shape and dtype, named ``slot``.

        One flat buffer per (slot, dtype, device) sized to the largest
        parameter seen; each call returns a reshaped view of its prefix.
        """
        data = p._data
        key = (slot, data.dtype.str, str(getattr(data, "device", "cpu")))
        buf = self._workspace.get(key)
        if buf is None or buf.size < data.size:
            buf = p.xp.empty(data.size, dtype=data.dtype)
            self._workspace[key] = buf
        return buf[: data.size].reshape(data.shape)

    def _grad_after_decay(self, p, maximize, weight_decay, lr, decoupled):
        """The gradient an Adam-family update uses. Decoupled (AdamW-style) decay shrinks the weights in place
        by ``1 - lr * weight_decay`` first; plain decay adds ``weight_decay * p`` to the gradient instead."""
        if weight_decay != 0 and decoupled:
            p.xp.multiply(p._data, 1 - lr * weight_decay, out=p._data)
            return self._grad_for_update(p, maximize, 0)
        return self._grad_for_update(p, maximize, weight_decay)

    def _grad_for_update(self, p, maximize, weight_decay):
        """The raw gradient the update uses: grad, -grad, plus ``weight_decay * p``.

        p.grad is never modified; when a new value is needed it goes into the
        "grad" workspace slot (``grad.add(param, alpha=weight_decay)`` in torch).
        """
        xp = p.xp
        grad = p.grad._data
        if not maximize and weight_decay == 0:
            return grad
        out = self._scratch(p, "grad")
        if weight_decay != 0:
            xp.multiply(p._data, weight_decay, out=out)
            if maximize:
                xp.subtract(out, grad, out=out)  # -grad + wd * p
            else:
                xp.add(grad, out, out=out)
        else:
            xp.negative(grad, out=out)
        return out

    def _add_scaled_(self, p, update, alpha):
        """``p += alpha * update`` in place (``param.add_(update, alpha=alpha)``)."""
        xp = p.xp
        if update.size <= _SMALL:   # a small temporary costs less than looking up the workspace buffer
            xp.add(p._data, xp.multiply(update, alpha), out=p._data)
            return
        scaled = self._scratch(p, "update")
        xp.multiply(update, alpha, out=scaled)
        xp.add(p._data, scaled, out=p._data)

    def _addcdiv_(self, p, numer, denom, value):
        """``p.addcdiv_(numer, denom, value=value)`` in place, as torch computes it: (numer * value) / denom."""
        xp = p.xp
        scaled = self._scratch(p, "update")
        xp.multiply(numer, value, out=scaled)
        xp.divide(scaled, denom, out=scaled)
        xp.add(p._data, scaled, out=p._data)

    @staticmethod
    def _update_square_avg_(xp, square_avg, grad, decay, tmp):
        """``square_avg.mul_(decay).addcmul_(grad, grad, value=1 - decay)``: the running mean of grad**2."""
        xp.multiply(square_avg, decay, out=square_avg)
        xp.multiply(grad, 1 - decay, out=tmp)
        xp.multiply(tmp, grad, out=tmp)
        xp.add(square_avg, tmp, out=square_avg)

    @staticmethod
    def _lerp_(xp, start, end, weight, tmp):
        """``start.lerp_(end, weight)`` with torch's formula (which side it is computed from depends on weight)."""
        xp.subtract(end, start, out=tmp)
        if weight < 0.5:
            xp.multiply(tmp, weight, out=tmp)
            xp.add(start, tmp, out=start)
        else:
            xp.multiply(tmp, 1 - weight, out=tmp)
            xp.subtract(end, tmp, out=start)

    @staticmethod
    def _step_counter():
        """A fresh 0-d ``step`` tensor (torch keeps it as a CPU float tensor in the state)."""
        import ndgrad
        dtype = ndgrad.float64 if ndgrad.get_default_dtype() == ndgrad.float64 else ndgrad.float32
        return ndgrad.zeros((), dtype=dtype)

    @staticmethod
    def _step_counter_at(value):
        counter = Optimizer._step_counter()
        counter._data[()] = value
        return counter

    def _count_step(self, p, group, state):
        """``state["step"] += 1``. With ``capturable=True`` the count lives on the parameter's device and is
        never read on the host (a CUDA graph replays the increment); otherwise returns the new count."""
        if not group.get("capturable"):
            if host_sync.capture_active():   # the host count would be frozen into the graph
                raise RuntimeError(
                    f"Attempting CUDA graph capture of step() for an instance of {type(self).__name__} but "
                    f"param_groups' capturable is False; create it with capturable=True")
            return self._increment(state["step"])
        step_t = state["step"]
        if step_t._device != p._device:   # made on the host (or loaded there): the count moves to the device
            step_t = state["step"] = step_t.to(p._device).to(step_t.dtype)
        p.xp.add(step_t._data, 1, out=step_t._data)
        step_t._bump_version()
        return None

    @staticmethod
    def _increment(step_t):
        """``step_t += 1`` in place; returns the new count as a python float."""
        data = step_t._data
        data += 1
        step_t._bump_version()
        return float(data)

    # -- state_dict ------------------------------------------------------------------------

    def state_dict(self):
        """The optimizer state in PyTorch's layout.

        ``{'state': {index: {...}}, 'param_groups': [{options..., 'params': [indices]}]}``;
        parameters are numbered in group order, the state holds tensors and numbers.
        """
        for pre_hook in _hooks.hook_dict(self, "_optimizer_state_dict_pre_hooks").values():
            pre_hook(self)
        index_of = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index_of.setdefault(id(p), i)
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {}
        for owner, value in self.state.items():
            key = index_of[id(owner)] if isinstance(owner, Tensor) else owner
            state[key] = value
        state_dict = {"state": state, "param_groups": groups}
        for post_hook in _hooks.hook_dict(self, "_optimizer_state_dict_post_hooks").values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a state from :meth:`state_dict` (ours, or one with PyTorch's layout).

        Tensors are copied onto each parameter's device (and dtype, except
        ``step``), so later steps never write into the loaded dict.
        """
        name = type(self).__name__
        for pre_hook in _hooks.hook_dict(self, "_optimizer_load_state_dict_pre_hooks").values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                "(as returned by optimizer.state_dict())")
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"{name}.load_state_dict: loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)}) than the optimizer ({len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: loaded state dict contains a parameter group that doesn't "
                    f"match the size of optimizer's group (group {i}: {len(s['params'])} saved params, "
                    f"{len(g['params'])} in the optimizer)")
        id_map = {}
        for g, s in zip(groups, saved_groups):
            for saved_index, p in zip(s["params"], g["params"]):
                id_map[saved_index] = p

        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(key)
            if param is None and isinstance(key, str) and key.isdigit():
                param = id_map.get(int(key))  # indices that went through a string-keyed format
            if param is None:
                state[key] = value
            else:
                state[param] = {k: _copy_state_value(param, k, v) for k, v in value.items()}

        new_groups = []
        for g, s in zip(groups, saved_groups):
            new_group = {k: _copy_option(v) for k, v in s.items() if k != "params"}
            new_group["params"] = g["params"]
            if "param_names" in g and "param_names" not in new_group:
                new_group["param_names"] = g["param_names"]
            new_groups.append(new_group)
        self.state = state
        self.param_groups = new_groups
        for post_hook in _hooks.hook_dict(self, "_optimizer_load_state_dict_post_hooks").values():
            post_hook(self)

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _is_complex_tensor(value):
    return isinstance(value, Tensor) and value._data.dtype.kind == "c"


def _real_view(t):
    """A temporary real view of complex tensor ``t`` (last dim 2); writes and version bumps reach ``t``."""
    data = t._data
    view = Tensor._wrap(data[..., None].view(data.real.dtype), t._device)
    view._base = t if t._base is None else t._base
    return view


def _as_complex_state(value, real_p, complex_state):
    """A state entry after a real-view step, back in the complex layout torch keeps.

    Views made by :func:`_real_view` return their complex tensor; new buffers shaped like the real
    view (created during the step) are reinterpreted as complex; anything else (counters) stays.
    """
    if not isinstance(value, Tensor):
        return value
    base = value._base
    if base is not None and complex_state is not None and any(base is v for v in complex_state.values()):
        return base
    data = value._data
    if data.shape != real_p._data.shape or data.dtype != real_p._data.dtype or data.ndim == 0:
        return value
    xp = real_p.xp
    data = xp.ascontiguousarray(data)
    complex_dtype = dtypes.dtype_of(data).to_complex().np
    if data.size == 0:
        return Tensor._wrap(xp.empty(data.shape[:-1], dtype=complex_dtype), real_p._device)
    return Tensor._wrap(data.view(complex_dtype)[..., 0], real_p._device)


def _copy_option(value):
    if isinstance(value, list):
        return [_copy_option(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_option(v) for v in value)
    if isinstance(value, Tensor):
        return Tensor._wrap(value._data.copy())
    return value


def _copy_state_value(param, key, value):
    """A copy of one state entry placed like ``param`` (torch casts all but ``step`` to the param dtype)."""
    if key == "step":
        # torch keeps the step count as a 0-d CPU tensor; accept a python number or a 1-element array too
        if isinstance(value, Tensor):
            return Tensor._wrap(value._data.reshape(()).copy(), value.device)
        if isinstance(value, (int, float)):
            return Optimizer._step_counter_at(value)
    if isinstance(value, Tensor):
        moved = value.to(param.device) if value.device != param.device else value
        data = moved._data
        if param.dtype.is_floating_point and data.dtype != param._data.dtype:
            return Tensor._wrap(data.astype(param._data.dtype))
        return Tensor._wrap(data.copy())
    if isinstance(value, dict):
        return {k: _copy_state_value(param, k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state_value(param, None, v) for v in value)
    return value

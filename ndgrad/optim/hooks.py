"""Optimizer hooks: step pre/post hooks (per optimizer and global) and state_dict hooks, like torch.optim.

Every subclass's ``step`` is wrapped once (in ``Optimizer.__init_subclass__``) so that
hooks run around it; a ``step`` that calls ``super().step()`` runs the hooks only once.
"""
import functools
from collections import OrderedDict
from itertools import chain

from ndgrad.nn.module import RemovableHandle

__all__ = ["register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()

HOOK_DICTS = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
              "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
              "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")


def init_hook_dicts(optimizer):
    for name in HOOK_DICTS:
        setattr(optimizer, name, OrderedDict())


def hook_dict(optimizer, name):
    """The optimizer's hooks named ``name`` (an empty dict for objects built without Optimizer.__init__)."""
    hooks = optimizer.__dict__.get(name)
    if hooks is None:
        hooks = OrderedDict()
        setattr(optimizer, name, hooks)
    return hooks


def add_hook(hooks, hook, prepend=False):
    """Store ``hook`` in ``hooks`` (first when ``prepend``) and return its RemovableHandle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's ``step``.

    It may return ``(new_args, new_kwargs)`` to replace the step's arguments.
    """
    return add_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's ``step``."""
    return add_hook(_global_optimizer_post_hooks, hook)


def with_step_hooks(step):
    """Wrap an optimizer's ``step`` so the global and per-optimizer step hooks run around it."""

    @functools.wraps(step)
    def hooked_step(*args, **kwargs):
        self = args[0]
        if self.__dict__.get("_inside_hooked_step"):
            return step(*args, **kwargs)  # a subclass's step calling super().step()
        for pre_hook in chain(_global_optimizer_pre_hooks.values(),
                              hook_dict(self, "_optimizer_step_pre_hooks").values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"{type(self).__name__}.step: a step pre-hook must return None or a tuple of "
                        f"(new_args, new_kwargs), but got {result!r}")
                args, kwargs = result
        self._inside_hooked_step = True
        try:
            out = step(*args, **kwargs)
        finally:
            self._inside_hooked_step = False
        for post_hook in chain(hook_dict(self, "_optimizer_step_post_hooks").values(),
                               _global_optimizer_post_hooks.values()):
            post_hook(self, args, kwargs)
        return out

    hooked_step._runs_step_hooks = True
    return hooked_step

"""``functional_call``: run a module with some parameters and buffers swapped for given tensors.

The module's own tensors are put back afterwards, even if the call raises. Gradients flow to the
tensors passed in, which is what ``ndgrad.func.grad`` over a model's parameters needs."""
import contextlib

__all__ = ["functional_call"]


def _owner(module, dotted):
    path, _, name = dotted.rpartition(".")
    return module.get_submodule(path), name


@contextlib.contextmanager
def _swapped(module, tensors, tie_weights, strict):
    """Within the block, each dotted name in ``tensors`` resolves to the given tensor."""
    entries = {}  # dotted name -> (owner module, registry dict, attribute name)
    for prefix, sub in module.named_modules(remove_duplicate=False):
        for registry in ("_parameters", "_buffers"):
            for name, value in getattr(sub, registry).items():
                key = f"{prefix}.{name}" if prefix else name
                entries[key] = (sub, getattr(sub, registry), name, value)
    if strict:
        missing = [k for k in entries if k not in tensors]
        unexpected = [k for k in tensors if k not in entries]
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
    replacements = dict(tensors)
    if tie_weights:
        # A tensor given under one name replaces it under every name it is tied to.
        by_id = {}
        for key, (_, _, _, value) in entries.items():
            if value is not None:
                by_id.setdefault(id(value), []).append(key)
        for key in list(tensors):
            if key in entries and entries[key][3] is not None:
                for tied in by_id[id(entries[key][3])]:
                    if tied in tensors and tensors[tied] is not tensors[key]:
                        raise ValueError(f"functional_call got multiple values for keys {[key, tied]}, which are "
                                         "tied. Consider using tie_weights=False")
                    replacements.setdefault(tied, tensors[key])
    saved = []
    try:
        for key, tensor in replacements.items():
            if key in entries:
                owner, registry, name, old = entries[key]
                saved.append((registry, name, old))
                registry[name] = tensor
            else:
                owner, name = _owner(module, key)
                saved.append((owner.__dict__, name, owner.__dict__.get(name, _MISSING)))
                owner.__dict__[name] = tensor
        yield
    finally:
        for registry, name, old in reversed(saved):
            if old is _MISSING:
                del registry[name]
            else:
                registry[name] = old


_MISSING = object()


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the parameters/buffers named in the dict(s) replaced by its tensors.

    parameter_and_buffer_dicts: one dict of dotted name -> tensor, or a sequence of dicts (keys must not
    repeat). Names not given keep the module's own tensors."""
    if isinstance(parameter_and_buffer_dicts, dict):
        tensors = parameter_and_buffer_dicts
    else:
        tensors = {}
        for d in parameter_and_buffer_dicts:
            for key, value in d.items():
                if key in tensors:
                    raise ValueError(f"{key} appeared in multiple dictionaries; behavior of functional call is "
                                     "ambiguous")
                tensors[key] = value
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    kwargs = {} if kwargs is None else kwargs
    with _swapped(module, tensors, tie_weights, strict):
        return module(*args, **kwargs)

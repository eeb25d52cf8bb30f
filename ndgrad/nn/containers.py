"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from collections import OrderedDict
import operator

from ndgrad.nn.module import Module
from ndgrad.nn.parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _normalize_index(idx, length, kind):
    idx = operator.index(idx)
    if not -length <= idx < length:
        raise IndexError(f"index {idx} is out of range for {kind} of length {length}")
    return idx % length


def _as_parameter(value):
    return value if isinstance(value, Parameter) else Parameter(value)


def _parameters_repr(module):
    return "\n".join(f"({k}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                     for k, p in module._parameters.items())


class _ModuleSequenceMethods:
    """What Sequential and ModuleList share: their modules sit in ``_modules`` under '0', '1', ..."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def _renumber(self, modules):
        # Indices stay 0..n-1 after a delete or insert, as in PyTorch.
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)


class _DictMethods:
    """The dict interface ModuleDict and ParameterDict share over one registry:
    ``_registry_name`` is '_modules' or '_parameters'; ``__setitem__`` is each class's own."""

    _registry_name = None

    @property
    def _registry(self):
        return getattr(self, self._registry_name)

    def __getitem__(self, key):
        return self._registry[key]

    def __delitem__(self, key):
        del self._registry[key]

    def __len__(self):
        return len(self._registry)

    def __iter__(self):
        return iter(self._registry)

    def __contains__(self, key):
        return key in self._registry

    def keys(self):
        return self._registry.keys()

    def items(self):
        return self._registry.items()

    def values(self):
        return self._registry.values()

    def _update_from(self, pairs):
        items = pairs.items() if hasattr(pairs, "items") else pairs
        for key, value in items:
            self[key] = value


class Sequential(_ModuleSequenceMethods, Module):
    """Modules applied in order: ``Sequential(m1, m2)`` or ``Sequential(OrderedDict(name=m))``."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_normalize_index(idx, len(keys), "Sequential")]]

    def __setitem__(self, idx, module):
        keys = list(self._modules)
        setattr(self, keys[_normalize_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        if isinstance(idx, slice):
            for key in keys[idx]:
                delattr(self, key)
        else:
            delattr(self, keys[_normalize_index(idx, len(keys), "Sequential")])
        self._renumber(list(self._modules.values()))

    def insert(self, index, module):
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range for Sequential of length {n}")
        index = index % (n + 1) if index < 0 else index
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)
        return self


class ModuleList(_ModuleSequenceMethods, Module):
    """A list of modules whose parameters are registered (``ModuleList([m1, m2])``)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_normalize_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module):
        setattr(self, str(_normalize_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        del items[idx]
        self._renumber(items)

    def __iadd__(self, modules):
        return self.extend(modules)

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call its modules")


class ModuleDict(_DictMethods, Module):
    """An ordered dict of modules whose parameters are registered."""

    _registry_name = "_modules"

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def update(self, modules):
        self._update_from(modules)

    def pop(self, key):
        return self._modules.pop(key)

    def clear(self):
        self._modules.clear()

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): index it and call its modules")


class ParameterList(Module):
    """A list of Parameters registered under '0', '1', ..."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._parameters.values())[idx])
        return self._parameters[str(_normalize_index(idx, len(self), "ParameterList"))]

    def __setitem__(self, idx, param):
        idx = _normalize_index(idx, len(self), "ParameterList")
        self.register_parameter(str(idx), _as_parameter(param))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, param):
        self.register_parameter(str(len(self)), _as_parameter(param))
        return self

    def extend(self, params):
        for p in params:
            self.append(p)
        return self

    extra_repr = _parameters_repr


class ParameterDict(_DictMethods, Module):
    """An ordered dict of Parameters."""

    _registry_name = "_parameters"

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key, param):
        self.register_parameter(key, _as_parameter(param))

    def update(self, parameters):
        self._update_from(parameters)

    extra_repr = _parameters_repr

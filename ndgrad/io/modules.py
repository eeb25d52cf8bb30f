"""Whole modules in checkpoints: ``ndgrad.save(model, f)`` / ``model = ndgrad.load(f)``, without pickle.

A module is stored as its class's import path plus its structure: parameters, buffers, submodules and
the plain attributes that JSON can hold (numbers, strings, tuples, dtypes, devices, ndgrad functions).
Loading never runs code from the file: the class must be ndgrad's own or allow-listed with
``ndgrad.serialization.add_safe_globals([MyNet])``; the object is then made without calling its
``__init__`` (as unpickling does) and filled in. The checkpoint's own hooks call ``encode_other`` and
``decode_other`` for values that are not tensors, numbers or containers.
"""
from ..backend import Device

_MODULE_PACKAGE = "ndgrad"


def _module_base():
    from ..nn.module import Module
    return Module


def _base_fields():
    """The attributes Module.__init__ creates (hooks, registries): rebuilt by it, never stored."""
    Module = _module_base()
    probe = object.__new__(Module)
    Module.__init__(probe)
    return set(vars(probe))


def path_of(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


# ----------------------------------------------------------------------------- save

def encode_other(writer, obj, path):
    """A structure node for a module, dtype, device or named global; None when ``obj`` is none of them."""
    from .. import dtypes
    if isinstance(obj, _module_base()):
        return _encode_module(writer, obj, path)
    if isinstance(obj, dtypes.DType):
        return {"dtype": obj.name}
    if isinstance(obj, Device):
        return {"device": str(obj)}
    if callable(obj) and hasattr(obj, "__qualname__") and hasattr(obj, "__module__"):
        name = path_of(obj)
        if _resolve_global(name, obj_hint=obj) is obj:
            return {"global": name}
    return None


def _encode_module(writer, module, path):
    seen = writer.__dict__.setdefault("_modules_seen", {})
    if id(module) in seen:  # the same module in two places (shared layers) is stored once
        return {"module_ref": seen[id(module)]}
    ref = len(seen)
    seen[id(module)] = ref
    writer.__dict__.setdefault("_modules_alive", []).append(module)  # so no id is reused during the save
    cls = type(module)
    if "<locals>" in cls.__qualname__:
        raise TypeError(f"ndgrad.save: the module class {path_of(cls)} is defined inside a function, so it "
                        f"cannot be found again when loading; define it at module level (or save "
                        f"model.state_dict() instead)")

    def entries(table):
        return [[name, None if value is None else writer.encode(value, path + (name,))]
                for name, value in table.items()]

    # Encoded in the order decode_module reads them back, so a module's first occurrence (the one that
    # carries it; later ones are references) is always read first.
    node = {"module": path_of(cls), "ref": ref, "training": bool(module.training),
            "parameters": entries(module._parameters), "buffers": entries(module._buffers),
            "non_persistent": sorted(module._non_persistent_buffers_set),
            "modules": entries(module._modules)}
    base = _base_fields()
    attrs = []
    for name, value in vars(module).items():
        if name in base:
            continue
        try:
            attrs.append([name, writer.encode(value, path + (name,))])
        except TypeError as e:
            raise TypeError(f"ndgrad.save: attribute '{name}' of {cls.__name__} (a {type(value).__name__}) "
                            f"cannot be stored without pickle; keep such values out of the module, or save "
                            f"model.state_dict() instead ({e})") from None
    node["attrs"] = attrs
    return node


# ----------------------------------------------------------------------------- load

def decode_other(reader, node):
    """The object for a node written by ``encode_other``; None when the node is not one of those."""
    from .. import dtypes
    if "module" in node:
        return _decode_module(reader, node)
    if "module_ref" in node:
        made = reader.__dict__.get("_modules_made", {})
        ref = node["module_ref"]
        if not isinstance(ref, int) or ref not in made:
            reader._corrupt(f"module reference {ref!r} points at no stored module")
        return made[ref]
    if "dtype" in node:
        try:
            return dtypes.to_dtype(str(node["dtype"]))
        except (TypeError, ValueError, KeyError):
            reader._corrupt(f"unknown dtype {node['dtype']!r}")
    if "device" in node:
        try:
            return Device(str(node["device"]))
        except (ValueError, RuntimeError):
            reader._corrupt(f"unknown device {node['device']!r}")
    if "global" in node:
        return _allowed(str(node["global"]), reader, kind="function or class")
    return None


def _decode_module(reader, node):
    Module = _module_base()
    cls = _allowed(str(node["module"]), reader, kind="module class")
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        reader._corrupt(f"'{node['module']}' is not an nn.Module class")
    ref = node.get("ref")
    non_persistent = node.get("non_persistent", [])
    if not isinstance(ref, int) or not isinstance(non_persistent, list):
        reader._corrupt(f"module {node['module']!r} has a malformed 'ref' or 'non_persistent' entry")
    module = object.__new__(cls)  # no __init__: nothing from the class runs, as with unpickling
    Module.__init__(module)
    reader.__dict__.setdefault("_modules_made", {})[ref] = module
    module.training = bool(node.get("training", True))
    for key, table in (("parameters", module._parameters), ("buffers", module._buffers),
                       ("modules", module._modules)):
        for name, value in _pairs(reader, node, key):
            table[name] = None if value is None else reader.decode(value)
    module._non_persistent_buffers_set.update(str(n) for n in non_persistent)
    for name, value in _pairs(reader, node, "attrs"):
        if name.startswith("__") and name.endswith("__"):  # __class__, __dict__: never from a file
            reader._corrupt(f"module {node.get('module')!r} has a special attribute {name!r}")
        object.__setattr__(module, name, reader.decode(value))
    _check_types(reader, module, cls)
    return module


def _pairs(reader, node, key):
    pairs = node.get(key, [])
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                              for p in pairs):
        reader._corrupt(f"the '{key}' of module {node.get('module')!r} is not a list of [name, value] pairs")
    return pairs


def _check_types(reader, module, cls):
    from ..nn import Parameter
    from ..tensor import Tensor
    for name, p in module._parameters.items():
        if p is not None and not isinstance(p, Parameter):
            reader._corrupt(f"parameter '{name}' of {cls.__name__} is not a Parameter")
    for name, b in module._buffers.items():
        if b is not None and not isinstance(b, Tensor):
            reader._corrupt(f"buffer '{name}' of {cls.__name__} is not a tensor")
    for name, m in module._modules.items():
        if m is not None and not isinstance(m, _module_base()):
            reader._corrupt(f"submodule '{name}' of {cls.__name__} is not a Module")


def _allowed(name, reader, kind):
    """The class/function named ``name`` if ndgrad's own or allow-listed; else a clear error."""
    from .. import serialization
    allowed = serialization._allow_list()
    if name in allowed:
        return allowed[name]
    obj = _resolve_global(name)
    if obj is None and kind == "module class" and getattr(reader, "trust_imported_classes", False):
        obj = _imported_module_class(name)
    if obj is None:
        short = name.rsplit(".", 1)[-1]
        raise serialization.UnsafeGlobalError(
            f"ndgrad.load: '{reader.name}' contains a {kind} '{name}', which is neither ndgrad's own nor "
            f"allow-listed, so it is not loaded (loading never imports or runs code named by a file). If you "
            f"trust the file, allow the class first: ndgrad.serialization.add_safe_globals([{short}]) "
            f"(or `with ndgrad.serialization.safe_globals([{short}]):` around ndgrad.load). Alternatively "
            f"save model.state_dict() and load it into a model you build in code.")
    return obj


def _resolve_global(name, obj_hint=None):
    """ndgrad's own class or function at ``name`` (importing only ndgrad's modules), or an allow-listed
    object; None otherwise."""
    from .. import serialization
    allowed = serialization._allow_list()
    if name in allowed:
        return allowed[name]
    if obj_hint is not None and any(o is obj_hint for o in allowed.values()):
        return obj_hint
    if name.split(".")[0] != _MODULE_PACKAGE:  # checked before any import machinery sees the name
        return None
    module_name, qual = _split(name)
    if module_name is None:
        return None
    import importlib
    try:
        obj = importlib.import_module(module_name)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    if not callable(obj) or getattr(obj, "__module__", "").split(".")[0] != _MODULE_PACKAGE:
        return None
    return obj


def _imported_module_class(name):
    """With ``weights_only=False``: the nn.Module subclass at ``name`` if its module is already imported by
    the program (``sys.modules``); nothing is imported and nothing from the file runs."""
    import sys
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        obj = sys.modules.get(".".join(parts[:i]))
        if obj is None:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part, None)
        Module = _module_base()
        return obj if isinstance(obj, type) and issubclass(obj, Module) else None
    return None


def _split(name):
    """('ndgrad.nn.layers.linear', 'Linear'): the longest importable module prefix of a dotted path and
    the attribute path inside it; (None, '') when there is none."""
    import importlib.util
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return None, ""
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            found = importlib.util.find_spec(module_name) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            return module_name, ".".join(parts[i:])
    return None, ""


# ----------------------------------------------------------------------------- map_location=fn

class _StorageProbe:
    """Stands in for the storage a PyTorch ``map_location(storage, location)`` function receives:
    records where the function sends it (``storage`` itself, ``.cpu()``, ``.cuda(i)``, ``.to(device)``)."""

    def __init__(self, device="cpu"):
        self.device = device

    def cpu(self):
        return _StorageProbe("cpu")

    def cuda(self, device=None, non_blocking=False, **kwargs):
        if device is None:
            return _StorageProbe("cuda")
        return _StorageProbe(f"cuda:{device}" if isinstance(device, int) else str(device))

    def to(self, device, *args, **kwargs):
        return _StorageProbe(str(device))


def location_function(fn):
    """A ``saved device -> target device`` function from PyTorch's ``map_location(storage, location)``.

    Tensors are read into host memory first (as PyTorch deserializes storages on the CPU), so a function
    that returns the storage unchanged (``lambda storage, loc: storage``) keeps them on the CPU."""
    def target(saved):
        result = fn(_StorageProbe("cpu"), saved)
        if not isinstance(result, _StorageProbe):
            raise TypeError(f"ndgrad.load: map_location function returned a {type(result).__name__}; expected "
                            f"the storage it was given, or storage.cpu() / storage.cuda(i) / storage.to(device)")
        return result.device
    return target

"""Lazy re-export: ``ndgrad.nn.modules.<file>.<Name>`` resolves ``Name`` in ndgrad.nn when it is asked for.

Layers are added to ndgrad.nn all the time, so nothing here lists what exists: each file names what
PyTorch's file of the same name defines (used for ``__all__`` / ``dir``, filtered to what exists now) and
looks any name up at access time, in ndgrad.nn and then in the layer files (for base classes such as
``_ConvNd`` or ``_BatchNorm`` that programs import for isinstance checks).
"""
import importlib
import sys


def lookup(name):
    """``name`` from ndgrad.nn, or from one of its layer/loss/module files; AttributeError if absent."""
    nn = importlib.import_module("ndgrad.nn")
    if hasattr(nn, name):
        return getattr(nn, name)
    from ndgrad.nn import layers
    places = list(layers.KINDS) + [importlib.import_module(f"ndgrad.nn.{m}")
                                   for m in ("module", "containers", "loss", "parameter")]
    for place in places:
        if name in vars(place):
            return vars(place)[name]
    raise AttributeError(name)


def install(module_name, torch_names):
    """Give module ``module_name`` a lazy ``__getattr__``, ``__dir__`` and ``__all__`` for ``torch_names``."""
    module = sys.modules[module_name]
    names = torch_names.split()
    short = module_name.rsplit(".", 1)[-1]

    def __getattr__(name):
        if name == "__all__":
            return [n for n in names if _exists(n)]
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return lookup(name)
        except AttributeError:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}: ndgrad.nn has no {name} "
                                 f"yet (torch.nn.modules.{short} path)") from None

    def __dir__():
        return sorted(set(vars(module)) | {n for n in names if _exists(n)})

    module.__getattr__ = __getattr__
    module.__dir__ = __dir__


def _exists(name):
    try:
        lookup(name)
        return True
    except AttributeError:
        return False

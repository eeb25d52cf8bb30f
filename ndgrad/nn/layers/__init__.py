"""The layers of ndgrad.nn, one file per kind; everything is re-exported by ndgrad.nn."""
import importlib
import pkgutil

# Every file in this folder is a kind of layer; its __all__ joins ndgrad.nn.
KINDS = [importlib.import_module(f"{__name__}.{info.name}")
         for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
__all__ = [name for kind in KINDS for name in kind.__all__]
globals().update({name: getattr(kind, name) for kind in KINDS for name in kind.__all__})

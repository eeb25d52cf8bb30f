"""``ndgrad.nn.parallel``: ``DataParallel`` (one device, pass-through), ``DistributedDataParallel``; every
file's ``__all__`` joins here."""
import importlib
import pkgutil

_FILES = [importlib.import_module(f"{__name__}.{info.name}")
          for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
__all__ = [name for f in _FILES for name in getattr(f, "__all__", ())]
globals().update({name: getattr(f, name) for f in _FILES for name in getattr(f, "__all__", ())})

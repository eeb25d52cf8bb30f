"""``ndgrad.utils``: ``utils.data`` is ``ndgrad.data`` (so ``torch.utils.data`` code ports by changing the
import), including its submodules: ``ndgrad.utils.data.dataloader`` *is* ``ndgrad.data.dataloader``."""
import importlib
import importlib.abc
import importlib.util
import sys

_ALIASES = {__name__ + ".data": "ndgrad.data"}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``ndgrad.utils.data.X`` as the already-importable ``ndgrad.data.X`` (one module, not two)."""

    def find_spec(self, fullname, path=None, target=None):
        for alias, real in _ALIASES.items():
            if fullname.startswith(alias + "."):
                real_name = real + fullname[len(alias):]
                if importlib.util.find_spec(real_name) is None:
                    return None
                return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        for alias, real in _ALIASES.items():
            if spec.name.startswith(alias + "."):
                module = importlib.import_module(real + spec.name[len(alias):])
                spec.loader_state = module.__spec__
                return module
        raise ImportError(spec.name)

    def exec_module(self, module):
        module.__spec__ = module.__spec__.loader_state  # keep the real module's own spec and name


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())

data = importlib.import_module("ndgrad.data")
sys.modules[__name__ + ".data"] = data


def __getattr__(name):
    if name in ("checkpoint", "dlpack"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'ndgrad.utils' has no attribute {name!r}")

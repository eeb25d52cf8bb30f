"""Backend modules whose settings can also be changed for a ``with`` block (``cudnn.flags(...)``)."""
import contextlib
import sys
import types


class FlagModule(types.ModuleType):
    """A module of plain settings plus ``flags(...)``: PyTorch's signature, every setting it names is set
    for the block (to the given value or PyTorch's default) and restored afterwards."""

    _FLAG_DEFAULTS = {}

    def flags(self, *args, **settings):
        names = list(self._FLAG_DEFAULTS)
        if len(args) > len(names):
            raise TypeError(f"{self.__name__}.flags takes at most {len(names)} positional arguments")
        unknown = [k for k in settings if k not in self._FLAG_DEFAULTS]
        if unknown:
            raise TypeError(f"{self.__name__}.flags: unknown setting(s) {unknown}; known: {names}")
        values = dict(self._FLAG_DEFAULTS)
        values.update(zip(names, args))
        values.update(settings)
        return self._switch(values)

    @contextlib.contextmanager
    def _switch(self, values):
        old = {k: getattr(self, k) for k in values}
        for k, v in values.items():
            setattr(self, k, v)
        try:
            yield
        finally:
            for k, v in old.items():
                setattr(self, k, v)


def install(module_name, defaults):
    """Make module ``module_name`` a FlagModule whose ``flags()`` takes ``defaults`` (name: default)."""
    module = sys.modules[module_name]
    module.__class__ = type("FlagModule", (FlagModule,), {"_FLAG_DEFAULTS": dict(defaults)})

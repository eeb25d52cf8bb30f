"""``ndgrad.serialization``: ``save``/``load`` and the allow-list of classes a checkpoint may rebuild.

``ndgrad.load`` never imports or runs code named by a file. A whole saved module is rebuilt only when
its class is ndgrad's own or was allow-listed here, as with ``torch.serialization``::

    ndgrad.serialization.add_safe_globals([MyNet])
    with ndgrad.serialization.safe_globals([MyNet]):
        model = ndgrad.load("model.pt")
"""
import contextlib

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals",
           "UnsafeGlobalError"]

_SAFE = []  # objects, or (object, "import.path") pairs, in the order they were added


class UnsafeGlobalError(RuntimeError):
    """A checkpoint names a class or function that is neither ndgrad's own nor allow-listed."""


def _check(entries):
    entries = list(entries)
    for e in entries:
        obj = e[0] if isinstance(e, tuple) else e
        if isinstance(e, tuple) and (len(e) != 2 or not isinstance(e[1], str)):
            raise TypeError(f"add_safe_globals: a tuple entry must be (object, 'import.path'), got {e!r}")
        if not callable(obj):
            raise TypeError(f"add_safe_globals: expected classes or functions, got {obj!r}")
    return entries


def add_safe_globals(safe_globals):
    """Allow checkpoints to rebuild these classes (and name these functions): ``[MyNet, (Cls, "a.b.Cls")]``."""
    _SAFE.extend(_check(safe_globals))


def get_safe_globals():
    return list(_SAFE)


def clear_safe_globals():
    _SAFE.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """Allow-list ``safe_globals`` for the ``with`` block only."""
    entries = _check(safe_globals)
    before = len(_SAFE)
    _SAFE.extend(entries)
    try:
        yield
    finally:
        del _SAFE[before:]


def _allow_list():
    """{import path: object} for the current allow-list (a tuple's own path wins)."""
    table = {}
    for e in _SAFE:
        if isinstance(e, tuple):
            table[e[1]] = e[0]
        else:
            table[f"{e.__module__}.{e.__qualname__}"] = e
    return table


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    from .io import save as _save
    return _save(obj, f)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    from .io import load as _load
    return _load(f, map_location=map_location, weights_only=weights_only, mmap=mmap)

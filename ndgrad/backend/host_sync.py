"""Host reads of device values (the syncs of a GPU program) and the checks that wait for one.

Reading a GPU value on the host (``.item()``, ``.tolist()``, ``bool(t)``, a copy to the CPU) waits for all
queued work; a training step needs none. So ndgrad's value checks on the GPU (class indices in range,
embedding rows that exist, ...) are computed on the device and read at the next sync the program makes
anyway (its ``loss.item()``, ``ndgrad.cuda.synchronize()``, a copy to the CPU): the error is raised there,
naming the op that failed. On the CPU nothing waits, so the same checks raise at once.

Every place in ndgrad that copies a device value to the host calls :func:`read` first. That is where syncs
are counted (:func:`counting`), where ``ndgrad.cuda.set_sync_debug_mode`` warns or raises, where a read
during CUDA-graph capture is refused by name, and where pending checks are raised.

:func:`stand_in` makes host (NumPy) arrays count as device arrays, so that tests on a machine without a GPU
run the device path of every check and count its syncs.
"""
import contextlib
import warnings

from . import cuda as _cuda

_MODES = {"default": 0, "warn": 1, "error": 2}

_state = {"mode": 0, "stand_in": 0, "capturing": None, "checks": True}
_counters = []     # active counting() objects
_pending = {}      # one entry per check site: [op, error type, message, device flag, offending value]


def on_device(array):
    """Whether reading ``array`` on the host would wait for a device (a CuPy array, or any under stand_in)."""
    return bool(_state["stand_in"]) or _cuda.is_cupy_array(array)


def read(op, array=None):
    """Call before ``op`` copies (part of) ``array`` to the host; ``array=None`` means a device value for sure.

    Counts the sync, applies the sync debug mode, refuses it during graph capture, and raises any check
    that failed on the device since the last sync.
    """
    if array is not None and not on_device(array):
        return
    for counter in _counters:
        counter.count += 1
        counter.ops.append(op)
    capturing = _state["capturing"]
    if capturing is not None:
        raise RuntimeError(
            f"{op}: reads a GPU value on the host, which waits for the GPU and cannot be part of a CUDA graph "
            f"({capturing}); move the read (e.g. loss.item()) after the captured region, or leave this "
            f"op out of the capture")
    if _state["mode"] == 2:
        raise RuntimeError(f"{op}: called a synchronizing CUDA operation (a device-to-host read) while "
                           f"ndgrad.cuda.set_sync_debug_mode('error') is set")
    if _state["mode"] == 1:
        warnings.warn(f"{op}: called a synchronizing CUDA operation (a device-to-host read)", UserWarning,
                      stacklevel=3)
    raise_pending()


def check(op, bad, values, message, error=IndexError):
    """Raise ``error(message.format(value=v))`` if any element of the boolean array ``bad`` is True.

    ``v`` is the element of ``values`` (same shape as ``bad``) at the first True. On the host this is
    immediate; on a device the test stays there and is raised at the next sync (see :func:`read`).
    """
    if not _state["checks"] or bad.size == 0:
        return
    flat_bad, flat_values = bad.reshape(-1), values.reshape(-1)
    if not on_device(bad):
        if flat_bad.any():
            raise error(message.format(value=flat_values[flat_bad.argmax()].item()))
        return
    flag = flat_bad.any()
    xp = _cuda.xp() if _cuda.is_cupy_array(flat_bad) else _numpy()
    value = xp.take(flat_values, flat_bad.argmax())   # take: indexing by a device scalar could read it
    key = (op, message)
    entry = _pending.get(key)
    if entry is None:
        _pending[key] = [op, error, message, flag, value]
    else:
        _fold(entry, flag, value)


def checked_indices(op, index, size, message, error=IndexError, values=None):
    """``index`` after checking that it lies in [0, size) (see :func:`check`; ``values`` are what the message
    shows, ``index`` by default). On a device the indices come back clipped into range: the check raises at
    the next sync, and until then the kernels that use them must stay in bounds."""
    check(op, (index < 0) | (index >= size), index if values is None else values, message, error)
    if index.size and on_device(index):
        xp = _cuda.xp() if _cuda.is_cupy_array(index) else _numpy()
        return xp.clip(index, 0, size - 1)
    return index


def _numpy():
    import numpy
    return numpy


def _fold(entry, flag, value):
    """Merge a new result into a site's earlier one on the device: the first failure wins, nothing is read."""
    xp = _cuda.xp() if _cuda.is_cupy_array(flag) else _numpy()
    entry[4] = xp.where(entry[3], entry[4], value)
    entry[3] = entry[3] | flag


def pending():
    """The checks waiting for a sync: a list of (op, device flag, value) (for graphs and tests)."""
    return [(entry[0], entry[3], entry[4]) for entry in _pending.values()]


def take_pending():
    """Remove and return the pending entries (a CUDA graph keeps those made during its capture)."""
    entries = list(_pending.items())
    _pending.clear()
    return entries


def add_pending(entries):
    """Put back entries from :func:`take_pending` (after a graph replay: its flags were just rewritten)."""
    for key, (op, error, message, flag, value) in entries:
        entry = _pending.get(key)
        if entry is None:   # copies: the next replay rewrites the graph's own arrays
            _pending[key] = [op, error, message, flag.copy(), value.copy()]
        else:
            _fold(entry, flag, value)


def raise_pending():
    """Read the pending checks' flags (the caller is syncing anyway) and raise the first that failed."""
    if not _pending:
        return
    entries = list(_pending.values())
    _pending.clear()
    for op, error, message, flag, value in entries:
        if bool(_host_value(flag)):
            raise error(f"{message.format(value=_host_value(value))} (found by a check on the device, "
                        f"raised at the next read of a device value)")


def _host_value(array):
    return array.get().item() if hasattr(array, "get") else array.item()


def stand_in_active():
    return bool(_state["stand_in"])


def set_mode(mode):
    """``'default'``/0, ``'warn'``/1 or ``'error'``/2, as ``torch.cuda.set_sync_debug_mode``."""
    if isinstance(mode, str):
        if mode not in _MODES:
            raise RuntimeError(f"set_sync_debug_mode: invalid value of debug_mode {mode!r}; expected "
                               f"'default', 'warn' or 'error' (or 0, 1, 2)")
        mode = _MODES[mode]
    if mode not in (0, 1, 2):
        raise RuntimeError(f"set_sync_debug_mode: invalid value of debug_mode {mode!r}; expected 0, 1 or 2")
    _state["mode"] = int(mode)


def get_mode():
    return _state["mode"]


def set_checks(enabled):
    """Turn ndgrad's device-side value checks on or off (off: out-of-range input is undefined, as in CUDA)."""
    _state["checks"] = bool(enabled)


def checks_enabled():
    return _state["checks"]


@contextlib.contextmanager
def capturing(description):
    """While a CUDA graph is captured: every host read raises, naming the op."""
    previous = _state["capturing"]
    _state["capturing"] = description
    try:
        yield
    finally:
        _state["capturing"] = previous


def capture_active():
    return _state["capturing"] is not None


class SyncCount:
    """How many device-to-host reads ran, and by which ops."""

    def __init__(self):
        self.count = 0
        self.ops = []

    def __repr__(self):
        return f"SyncCount({self.count}, ops={self.ops})"


@contextlib.contextmanager
def counting():
    """``with counting() as c: ...`` then ``c.count`` is the number of host reads inside."""
    counter = SyncCount()
    _counters.append(counter)
    try:
        yield counter
    finally:
        _counters.remove(counter)


@contextlib.contextmanager
def stand_in():
    """Treat host arrays as device arrays: checks wait for a read and reads count (tests without a GPU)."""
    _state["stand_in"] += 1
    try:
        yield
    finally:
        _state["stand_in"] -= 1
        if not _state["stand_in"]:
            _pending.clear()

"""``detect_anomaly`` / ``set_detect_anomaly``: PyTorch's debugging switch, recorded.

ndgrad's backward errors already name the op, shapes and what to change, so the switch changes nothing
else here; it exists so programs that turn it on (or read it) run unchanged.
"""
_state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled():
    return _state["enabled"]


def is_anomaly_check_nan_enabled():
    return _state["check_nan"]


class _Switch:
    def __init__(self, mode, check_nan=True):
        self.previous = (_state["enabled"], _state["check_nan"])
        _state["enabled"], _state["check_nan"] = bool(mode), bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state["enabled"], _state["check_nan"] = self.previous


class set_detect_anomaly(_Switch):
    """``set_detect_anomaly(True)`` sets the switch now; as a ``with`` block it restores it afterwards."""


class detect_anomaly(_Switch):
    """``with detect_anomaly():`` turns the switch on for the block."""

    def __init__(self, check_nan=True):
        self._check_nan = check_nan
        self.previous = None

    def __enter__(self):
        self.previous = (_state["enabled"], _state["check_nan"])
        _state["enabled"], _state["check_nan"] = True, bool(self._check_nan)
        return self

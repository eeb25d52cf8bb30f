"""``ndgrad.cpu``: the CPU's device module (what ``ndgrad.get_device_module("cpu")`` returns), as torch.cpu."""
from .backend import CPU


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """Nothing to wait for: CPU ops finish before they return."""


def set_device(device):
    """Accepted for symmetry with ndgrad.cuda; there is one CPU device."""


device = type(CPU)

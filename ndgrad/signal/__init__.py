"""ndgrad.signal: torch.signal's window functions (``ndgrad.signal.windows``)."""
from . import windows  # noqa: F401

__all__ = ["windows"]

"""Checkpoints in the safetensors format: ``ndgrad.save`` and ``ndgrad.load``.

Importing this package is cheap: the ``safetensors`` package is imported only
when a file is actually saved or loaded.
"""
from .checkpoint import CheckpointError, load, save

__all__ = ["save", "load", "CheckpointError"]

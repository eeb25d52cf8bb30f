"""Exception types that ndgrad raises and PyTorch programs catch by name."""


class OutOfMemoryError(RuntimeError, MemoryError):
    """A device ran out of memory (``torch.OutOfMemoryError``, also ``ndgrad.cuda.OutOfMemoryError``).

    A RuntimeError as in PyTorch, and a MemoryError too, so ``except MemoryError`` keeps working."""

"""``ndgrad.distributed.nn``: collectives that autograd differentiates (``functional.all_reduce``)."""
from ndgrad.distributed.nn import functional

__all__ = ["functional"]

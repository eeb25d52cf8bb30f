"""``torch.nn.utils.skip_init``."""
import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)`` whose parameters the caller will overwrite.

    PyTorch allocates on the meta device and then leaves the memory uninitialised; ndgrad builds the module
    normally (the values are simply not meant to be used). Like PyTorch, the class must take ``device``."""
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError('Module must support a "device" arg to skip initialization')
    return module_cls(*args, **kwargs)

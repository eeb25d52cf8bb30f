"""DataParallel on one device: calls the wrapped module directly, keeping ``.module`` and the
``module.`` prefix of state_dict keys, so checkpoints move between PyTorch and ndgrad unchanged.
With a GPU, inputs go to ``device_ids[0]`` first, as PyTorch's scatter puts them there.

ndgrad does not split a batch across GPUs (that is DistributedDataParallel's job, one process per GPU).
"""
from ndgrad.nn.module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``: runs ``module`` as it is."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected an nn.Module, got {type(module).__name__}")
        self.module = module
        from ndgrad import cuda
        count = cuda.device_count()
        if device_ids is None:  # one device: the current GPU, or none (the CPU)
            device_ids = [cuda.current_device()] if count else []
        self.device_ids = [_index(d) for d in device_ids]
        if len(self.device_ids) > 1:
            raise NotImplementedError(
                f"DataParallel: splitting a batch over {len(self.device_ids)} GPUs is not supported; use one "
                f"device (device_ids=[0]) or DistributedDataParallel with one process per GPU")
        self.dim = dim
        self.output_device = (self.device_ids[0] if self.device_ids else None) if output_device is None \
            else _index(output_device)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:  # no GPU: PyTorch calls the module as it is
            return self.module(*inputs, **kwargs)
        # One GPU: as PyTorch, the module must live on device_ids[0] and the inputs are moved there.
        device = f"cuda:{self.device_ids[0]}"
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            if t.device != device:
                raise RuntimeError(f"DataParallel: module must have its parameters and buffers on device "
                                   f"{device} (device_ids[0]) but found one of them on device: {t.device}. "
                                   f"Fix: model.to('{device}') before wrapping")
        return self.module(*_to(inputs, device), **_to(kwargs, device))


def _to(obj, device):
    """Tensors inside tuples / lists / dicts moved to ``device`` (what PyTorch's scatter does for one GPU)."""
    from ndgrad.tensor import Tensor
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple):
        return tuple(_to(o, device) for o in obj)
    if isinstance(obj, list):
        return [_to(o, device) for o in obj]
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


def _index(device):
    if isinstance(device, int):
        return device
    return getattr(device, "index", None) if not isinstance(device, str) else int(device.rpartition(":")[2] or 0)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """Functional form: ``module(*inputs, **module_kwargs)`` on the module's device."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))

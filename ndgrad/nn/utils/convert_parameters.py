"""Flat-vector views of parameters (``torch.nn.utils.convert_parameters``)."""
import ndgrad
from ndgrad.nn.utils.clip_grad import _as_list
from ndgrad.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-d Tensor (differentiable)."""
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    _check_same_device(params, "parameters_to_vector")
    return ndgrad.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-d ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, but got {type(vec).__name__}")
    params = _as_list(parameters)
    total = sum(p.numel() for p in params)
    if vec.dim() != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec has shape {tuple(vec.shape)} but the parameters "
                         f"hold {total} elements; expected shape ({total},)")
    _check_same_device(params, "vector_to_parameters")
    offset = 0
    with ndgrad.no_grad():
        for p in params:
            n = p.numel()
            p._data[...] = vec._data[offset:offset + n].reshape(tuple(p.shape)).astype(p._data.dtype, copy=False)
            p._bump_version()
            offset += n


def _check_same_device(params, fn):
    devices = {str(p.device) for p in params}
    if len(devices) > 1:
        raise TypeError(f"{fn}: found parameters on different devices {sorted(devices)}; move them to one device")

"""default_collate: a list of samples -> one batch of ndgrad tensors (PyTorch's rules)."""
import collections.abc

from ndgrad.backend import np


def _tensor_type():
    from ndgrad.tensor import Tensor
    return Tensor


def _wrap(array):
    return _tensor_type()._wrap(array)


def _check_numeric(array, where):
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"default_collate: {where} has dtype {array.dtype}, which cannot become a tensor; "
            "convert it to numbers in the dataset or pass a collate_fn")


def numpy_to_tensor(array):
    """A host NumPy array as an ndgrad tensor (no copy when it is already contiguous)."""
    array = np.asarray(array)
    _check_numeric(array, "a numpy array")
    return _wrap(np.ascontiguousarray(array))


def take_rows(data, indices):
    """Rows ``indices`` of a tensor or NumPy array, as a tensor (one fancy index, no per-row work)."""
    Tensor = _tensor_type()
    if isinstance(data, Tensor):
        if data.requires_grad:
            return data[indices]  # keep the graph, like stacking rows would
        xp = data.xp
        return Tensor._wrap(data._data[xp.asarray(indices, dtype=xp.int64)])
    return numpy_to_tensor(np.asarray(data)[np.asarray(indices, dtype=np.int64)])


def _stack_tensors(batch):
    Tensor = _tensor_type()
    shapes = {tuple(t.shape) for t in batch}
    if len(shapes) > 1:
        raise RuntimeError(
            "default_collate: stack expects each tensor to be equal size, but got shapes "
            f"{sorted(shapes)} in one batch; resize the samples in the dataset or pass a collate_fn")
    if any(t.requires_grad for t in batch):
        import ndgrad
        return ndgrad.stack(list(batch))
    xp = batch[0].xp
    return Tensor._wrap(xp.stack([t._data for t in batch]))


def default_collate(batch):
    """Stack a list of samples into a batch, following ``torch.utils.data.default_collate``:
    tensors and numpy arrays are stacked, Python floats become float64 tensors, ints int64,
    bools bool, strings stay a list, dicts/tuples/lists are collated field by field."""
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    Tensor = _tensor_type()
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        shapes = {a.shape for a in batch}
        if len(shapes) > 1:
            raise RuntimeError(
                "default_collate: stack expects each numpy array to be equal size, but got shapes "
                f"{sorted(shapes)} in one batch; resize the samples in the dataset or pass a collate_fn")
        _check_numeric(elem, "a numpy array")
        return _wrap(np.stack(batch))
    if isinstance(elem, np.generic):
        array = np.array(batch)
        _check_numeric(array, "a numpy scalar")
        return _wrap(array)
    if isinstance(elem, bool):
        return _wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return _wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, complex):
        return _wrap(np.array(batch, dtype=np.complex128))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        try:
            return type(elem)({key: default_collate([d[key] for d in batch]) for key in elem})
        except TypeError:
            return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError(
                "default_collate: each element in list of batch should be of equal size; got lengths "
                f"{sorted({len(s) for s in batch})}")
        transposed = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed  # PyTorch returns a list for tuples too
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}")


def default_convert(data):
    """Convert numpy arrays (also inside dicts/lists) to tensors without batching
    (the collate used when ``batch_size=None``)."""
    Tensor = _tensor_type()
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return numpy_to_tensor(data) if data.dtype.kind in "biufc" else data
    if isinstance(data, np.generic):
        return _wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data

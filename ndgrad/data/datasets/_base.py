"""ArrayDataset: a labelled dataset kept as two NumPy arrays (samples and integer targets)."""
from ndgrad.backend import np
from ndgrad.data.dataset import Dataset


class ArrayDataset(Dataset):
    """Samples ``data[i]`` (stored compactly, converted by ``_to_float``) with targets ``targets[i]``.

    ``__getitem__`` returns ``(tensor, int)`` like torchvision; with no transforms the
    DataLoader takes whole batches through ``_get_batch`` in one NumPy index.
    """

    classes = ()

    def __init__(self, data, targets, transform=None, target_transform=None):
        self.data = data
        self.targets = np.asarray(targets, dtype=np.int64)
        self.transform = transform
        self.target_transform = target_transform

    def _to_float(self, array):
        """Stored samples -> float32 array in the model's layout (override for uint8 storage)."""
        return np.ascontiguousarray(array, dtype=np.float32)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        from ndgrad.tensor import Tensor
        sample = Tensor._wrap(self._to_float(self.data[index]))
        target = int(self.targets[index])
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def _get_batch(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return NotImplemented
        from ndgrad.tensor import Tensor
        idx = np.asarray(indices, dtype=np.int64)
        return [Tensor._wrap(self._to_float(self.data[idx])), Tensor._wrap(self.targets[idx])]

    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def sample_shape(self):
        return tuple(self._to_float(self.data[:1]).shape[1:])

    def __repr__(self):
        return f"{type(self).__name__}(samples={len(self)}, shape={self.sample_shape}, classes={len(self.classes)})"

"""The drug-dosage data from StatQuest's neural-network videos: low, medium and high
dosages (0, 0.5, 1) have efficacy 0, 1 and 0, a bump that no straight line fits."""
from ndgrad.backend import np
from ndgrad.data.dataset import Dataset

DOSAGES = (0.0, 0.5, 1.0)
EFFICACY = (0.0, 1.0, 0.0)


class Dosage(Dataset):
    """Three samples ``(dosage, efficacy)``, each a float32 tensor of shape (1,)."""

    def __init__(self):
        self.dosages = np.array(DOSAGES, dtype=np.float32).reshape(-1, 1)
        self.efficacy = np.array(EFFICACY, dtype=np.float32).reshape(-1, 1)

    def __len__(self):
        return len(self.dosages)

    def __getitem__(self, index):
        from ndgrad.tensor import Tensor
        return Tensor._wrap(self.dosages[index].copy()), Tensor._wrap(self.efficacy[index].copy())

    def tensors(self):
        """All of it at once: inputs (3, 1) and targets (3, 1)."""
        from ndgrad.tensor import Tensor
        return Tensor._wrap(self.dosages.copy()), Tensor._wrap(self.efficacy.copy())

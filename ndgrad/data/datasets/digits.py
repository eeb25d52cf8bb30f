"""scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes) with a fixed train/test split."""
from ndgrad.backend import np
from ndgrad.data.datasets._base import ArrayDataset

SPLIT_SEED = 0
TEST_FRACTION = 0.2


def _load_sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "Digits needs scikit-learn, which ships the 8x8 digits images: "
            "pip install 'ndgrad[train]' (or pip install scikit-learn)") from exc
    bunch = load_digits()
    return bunch.images, bunch.target


def split_indices(n, test_fraction=TEST_FRACTION, seed=SPLIT_SEED):
    """The fixed, seeded split: (train indices, test indices), both sorted."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


class Digits(ArrayDataset):
    """Images as float32 tensors of shape (1, 8, 8) scaled to [0, 1]; targets 0-9.

    ``train=True`` gives the 1,438 training images, ``train=False`` the 359 test
    images; the split is the same on every machine (seeded permutation).
    """

    classes = tuple(str(d) for d in range(10))

    def __init__(self, root=None, train=True, transform=None, target_transform=None):
        images, targets = _load_sklearn_digits()
        if images.shape[1:] != (8, 8) or len(images) != len(targets):
            raise RuntimeError(f"Digits: scikit-learn returned images {images.shape} and "
                               f"targets {targets.shape}; expected (N, 8, 8) and (N,)")
        train_idx, test_idx = split_indices(len(images))
        idx = train_idx if train else test_idx
        # The pixel values are counts 0..16 of an 4x4 block of the original bitmap.
        data = (images[idx] / 16.0).astype(np.float32)[:, None, :, :]
        super().__init__(data, targets[idx], transform, target_transform)
        self.train = train

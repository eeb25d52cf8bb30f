"""ndgrad.data: DataLoader batching/shuffling/collation against torch.utils.data, random_split,
and every built-in dataset loader (MNIST from IDX files these tests write themselves)."""
import collections
import gzip
import os

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ndgrad
from ndgrad.data import (ConcatDataset, DataLoader, Dataset, IterableDataset, Subset, TensorDataset,
                         default_collate, random_split)
from ndgrad.data.datasets import Digits, Dosage, FashionMNIST, IDXError, MNIST, MovingShapes, read_idx


def as_np(x):
    return x._data if isinstance(x, ndgrad.Tensor) else x.numpy()


class Squares(Dataset):
    """Per-item dataset with no fast path: (i as float array, i*i int, {'i': i})."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i * i


# ----------------------------------------------------------------------------- DataLoader

@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (5, 8, False),
                                                     (5, 8, True), (1, 1, False)])
def test_sequential_batches_match_torch(n, batch_size, drop_last):
    x = np.random.default_rng(0).standard_normal((n, 2, 3)).astype(np.float32)
    y = np.arange(n)
    ours = DataLoader(TensorDataset(ndgrad.tensor(x), ndgrad.tensor(y)), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=batch_size,
                            drop_last=drop_last)
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want):
        np.testing.assert_array_equal(as_np(gx), wx.numpy())
        np.testing.assert_array_equal(as_np(gy), wy.numpy())
        assert gx.dtype == ndgrad.float32 and gy.dtype == ndgrad.int64


def test_fast_path_equals_per_item_collation():
    ds = TensorDataset(ndgrad.randn(7, 4), ndgrad.arange(7))
    fast = list(DataLoader(ds, batch_size=3))
    slow = list(DataLoader(ds, batch_size=3, collate_fn=lambda b: default_collate(b)))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(as_np(fx), as_np(sx))
        np.testing.assert_array_equal(as_np(fy), as_np(sy))


def test_shuffle_is_a_permutation_and_seeded():
    ds = TensorDataset(ndgrad.arange(50))
    ndgrad.manual_seed(3)
    first = [v for (b,) in DataLoader(ds, batch_size=8, shuffle=True) for v in b.tolist()]
    second = [v for (b,) in DataLoader(ds, batch_size=8, shuffle=True) for v in b.tolist()]
    ndgrad.manual_seed(3)
    again = [v for (b,) in DataLoader(ds, batch_size=8, shuffle=True) for v in b.tolist()]
    assert sorted(first) == list(range(50))
    assert first != list(range(50))
    assert first == again          # ndgrad.manual_seed repeats the order
    assert first != second         # the next epoch draws a new order


def test_shuffle_with_generator_repeats_across_epochs():
    ds = TensorDataset(ndgrad.arange(30))

    def epochs(gen):
        loader = DataLoader(ds, batch_size=4, shuffle=True, generator=gen)
        return [[v for (b,) in loader for v in b.tolist()] for _ in range(3)]

    a = epochs(np.random.default_rng(7))
    b = epochs(7)
    c = epochs(ndgrad.Generator().manual_seed(7))
    assert a == b == c
    assert a[0] != a[1] and sorted(a[1]) == list(range(30))
    assert epochs(8) != a


def test_drop_last_and_len_with_shuffle():
    loader = DataLoader(TensorDataset(ndgrad.arange(10)), batch_size=4, shuffle=True, drop_last=True, generator=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert all(len(b[0]) == 4 for b in batches)


def test_sampler_and_batch_sampler():
    ds = TensorDataset(ndgrad.arange(10) * 10)
    loader = DataLoader(ds, batch_size=2, sampler=[9, 1, 4])
    assert [b[0].tolist() for b in loader] == [[90, 10], [40]]
    loader = DataLoader(ds, batch_sampler=[[0, 2], [5]])
    assert [b[0].tolist() for b in loader] == [[0, 20], [50]]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=4)


def test_batch_size_none_converts_without_batching():
    out = list(DataLoader(Squares(3), batch_size=None))
    assert len(out) == 3
    assert isinstance(out[1][0], ndgrad.Tensor) and out[1][0].shape == (3,) and out[1][1] == 1


def test_per_item_dataset_collation_matches_torch():
    got = list(DataLoader(Squares(5), batch_size=2))
    want = list(tud.DataLoader(Squares(5), batch_size=2))
    for (gx, gy), (wx, wy) in zip(got, want):
        np.testing.assert_array_equal(as_np(gx), wx.numpy())
        np.testing.assert_array_equal(as_np(gy), wy.numpy())
        assert str(gy.dtype).split(".")[-1] == str(wy.dtype).split(".")[-1]


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    [1.5, 2.5],
    [1, 2, 3],
    [True, False],
    [np.float32(1), np.float32(2)],
    [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
    [np.ones((2, 2)), np.zeros((2, 2))],
    [{"a": 1.0, "b": np.zeros(2, np.float32)}, {"a": 2.0, "b": np.ones(2, np.float32)}],
    [(1, 2.0), (3, 4.0)],
    [[1, 2], [3, 4]],
    [Point(1, 2.0), Point(3, 4.0)],
    [("a", 1), ("b", 2)],
])
def test_default_collate_matches_torch(batch):
    got = default_collate(batch)
    want = tud.default_collate(batch)

    def compare(g, w):
        if isinstance(w, torch.Tensor):
            assert isinstance(g, ndgrad.Tensor)
            assert str(g.dtype).split(".")[-1] == str(w.dtype).split(".")[-1]
            np.testing.assert_array_equal(as_np(g), w.numpy())
        elif isinstance(w, dict):
            assert type(g) is type(w) and g.keys() == w.keys()
            for k in w:
                compare(g[k], w[k])
        elif isinstance(w, (list, tuple)):
            assert type(g) is type(w) and len(g) == len(w)
            for gi, wi in zip(g, w):
                compare(gi, wi)
        else:
            assert g == w

    compare(got, want)


def test_default_collate_stacks_tensors_and_keeps_graph():
    a = ndgrad.randn(3, requires_grad=True)
    b = ndgrad.randn(3, requires_grad=True)
    out = default_collate([a, b])
    assert out.shape == (2, 3)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad._data, np.ones(3))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size.*\(2,\).*\(3,\)"):
        default_collate([ndgrad.zeros(2), ndgrad.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_iterable_dataset_batches():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="IterableDataset.*shuffle"):
        DataLoader(Stream(3), shuffle=True)


# ----------------------------------------------------------------------------- datasets utilities

def test_tensor_dataset_checks_sizes():
    with pytest.raises(ValueError, match=r"same size in dimension 0.*\(3,\).*\(4,\)"):
        TensorDataset(ndgrad.zeros(3), ndgrad.zeros(4))


def test_subset_and_concat():
    ds = TensorDataset(ndgrad.arange(10))
    sub = Subset(ds, [7, 3, 5])
    assert len(sub) == 3 and sub[1][0].item() == 3
    assert [b[0].tolist() for b in DataLoader(sub, batch_size=2)] == [[7, 3], [5]]
    cat = ConcatDataset([sub, TensorDataset(ndgrad.arange(2) + 100)])
    assert len(cat) == 5 and cat[3][0].item() == 100 and cat[-1][0].item() == 101
    assert len(sub + sub) == 6


def test_random_split_lengths_and_fractions():
    ds = TensorDataset(ndgrad.arange(10))
    parts = random_split(ds, [3, 7], generator=0)
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    # Fractions: PyTorch's rule for the sizes (floor, then the remainder round-robin).
    for fractions, n in [([0.3, 0.7], 10), ([0.5, 0.5], 7), ([0.2, 0.3, 0.5], 11), ([1 / 3] * 3, 10)]:
        ours = [len(p) for p in random_split(range(n), fractions, generator=1)]
        theirs = [len(p) for p in tud.random_split(range(n), fractions, generator=torch.Generator().manual_seed(1))]
        assert ours == theirs
    a = random_split(ds, [0.5, 0.5], generator=np.random.default_rng(5))
    b = random_split(ds, [0.5, 0.5], generator=5)
    assert a[0].indices == b[0].indices
    assert random_split(ds, [0.5, 0.5], generator=6)[0].indices != a[0].indices
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\) does not equal.*\(10\)"):
        random_split(ds, [4, 5])


# ----------------------------------------------------------------------------- built-in datasets

def test_dosage():
    ds = Dosage()
    x, y = next(iter(DataLoader(ds, batch_size=3)))
    assert x.shape == (3, 1) and y.shape == (3, 1)
    assert x.reshape(-1).tolist() == [0.0, 0.5, 1.0] and y.reshape(-1).tolist() == [0.0, 1.0, 0.0]


def test_digits_split_scale_and_shape():
    sklearn = pytest.importorskip("sklearn.datasets")
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) + len(test) == 1797
    assert len(test) == round(0.2 * 1797)
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == ndgrad.float32 and isinstance(y, int)
    assert train.data.min() == 0.0 and train.data.max() == 1.0
    assert sorted(set(train.targets.tolist())) == list(range(10))
    # The same images as scikit-learn's, scaled, and the split disjoint and fixed.
    ref = sklearn.load_digits()
    all_images = np.concatenate([train.data, test.data])[:, 0]
    assert np.allclose(np.sort((ref.images / 16).reshape(1797, -1), axis=0),
                       np.sort(all_images.reshape(1797, -1), axis=0))
    assert np.array_equal(Digits(train=False).targets, test.targets)
    xb, yb = next(iter(DataLoader(test, batch_size=5)))
    assert xb.shape == (5, 1, 8, 8) and yb.tolist() == test.targets[:5].tolist()


def test_transforms_apply_per_sample():
    ds = MovingShapes(num_samples=6, seed=0, transform=lambda x: x * 2, target_transform=lambda y: y + 10)
    plain = MovingShapes(num_samples=6, seed=0)
    x, y = next(iter(DataLoader(ds, batch_size=6)))
    px, py = next(iter(DataLoader(plain, batch_size=6)))
    np.testing.assert_array_equal(x._data, 2 * px._data)
    assert y.tolist() == [v + 10 for v in py.tolist()]


def test_moving_shapes_labels_match_motion():
    ds = MovingShapes(num_samples=40, seed=1)
    assert len(ds) == 40 and ds[0][0].shape == (1, 8, 16, 16)
    for clip, label in (ds[i] for i in range(40)):
        frames = clip._data[0]
        rows, cols = np.nonzero(frames[0]), np.nonzero(frames[-1])
        d_row = np.mean(cols[0]) - np.mean(rows[0])
        d_col = np.mean(cols[1]) - np.mean(rows[1])
        direction = {(0, 7): 0, (0, -7): 1, (7, 0): 2, (-7, 0): 3}[(round(d_row), round(d_col))]
        assert direction == label
    assert np.array_equal(MovingShapes(num_samples=40, seed=1).data, ds.data)        # seeded
    assert not np.array_equal(MovingShapes(num_samples=40, seed=2).data, ds.data)
    assert not np.array_equal(MovingShapes(num_samples=40, seed=1, train=False).data, ds.data)
    noisy = MovingShapes(num_samples=5, seed=1, noise=0.1, frames=4, height=8, width=8, size=2)
    assert noisy[0][0].shape == (1, 4, 8, 8) and (noisy.data != 0).mean() > 0.9
    with pytest.raises(ValueError, match="at least 11 pixels"):
        MovingShapes(num_samples=1, height=8, width=8)


# ----------------------------------------------------------------------------- IDX files

def idx_bytes(array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype({0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}[code]).tobytes()


def write_mnist(folder, n_train=6, n_test=4, gz=False, size=28, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            data = idx_bytes(arr)
            path = os.path.join(folder, f"{prefix}-{kind}" + (".gz" if gz else ""))
            with open(path, "wb") as f:
                f.write(gzip.compress(data) if gz else data)
        out[prefix] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_mnist_reads_idx_files(tmp_path, gz, cls):
    written = write_mnist(str(tmp_path), gz=gz)
    train, test = cls(str(tmp_path), train=True), cls(str(tmp_path), train=False)
    assert len(train) == 6 and len(test) == 4
    x, y = train[2]
    assert x.shape == (1, 28, 28) and x.dtype == ndgrad.float32
    np.testing.assert_allclose(x._data[0], written["train"][0][2] / 255.0, rtol=1e-6)
    assert y == written["train"][1][2]
    xb, yb = next(iter(DataLoader(test, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28)
    np.testing.assert_allclose(xb._data[:, 0], written["t10k"][0] / 255.0, rtol=1e-6)
    assert yb.tolist() == written["t10k"][1].tolist()
    assert len(cls.classes) == 10


def test_mnist_torchvision_layout(tmp_path):
    write_mnist(str(tmp_path / "MNIST" / "raw"))
    write_mnist(str(tmp_path / "FashionMNIST" / "raw"), seed=1)
    assert len(MNIST(str(tmp_path))) == 6
    assert not np.array_equal(MNIST(str(tmp_path)).data, FashionMNIST(str(tmp_path)).data)


@pytest.mark.parametrize("code", [0x08, 0x0B, 0x0C, 0x0D])
def test_read_idx_types(tmp_path, code):
    arr = np.arange(24).reshape(2, 3, 4)
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(arr, code))
    np.testing.assert_array_equal(read_idx(str(path)), arr)


def test_missing_files_are_listed(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*looked for:(.|\n)*"
                                                r"train-labels-idx1-ubyte\.gz"):
        MNIST(str(tmp_path))
    write_mnist(str(tmp_path))
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    assert len(MNIST(str(tmp_path))) == 6
    with pytest.raises(FileNotFoundError, match=r"missing IDX file\(s\) t10k-labels-idx1-ubyte "):
        MNIST(str(tmp_path), train=False)


def corrupt(tmp_path, name, data):
    write_mnist(str(tmp_path))
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


def test_truncated_file_names_file_and_sizes(tmp_path):
    good = idx_bytes(np.zeros((6, 28, 28), np.uint8))
    path = corrupt(tmp_path, "train-images-idx3-ubyte", good[:-100])
    with pytest.raises(IDXError, match=rf"{path}: truncated: header says shape \(6, 28, 28\) \(4704 bytes.*"
                                       r"only 4604 bytes"):
        MNIST(str(tmp_path))


def test_extra_bytes_are_an_error(tmp_path):
    path = corrupt(tmp_path, "train-labels-idx1-ubyte", idx_bytes(np.zeros(6, np.uint8)) + b"\0\0")
    with pytest.raises(IDXError, match=rf"{path}: corrupt.*2 extra"):
        MNIST(str(tmp_path))


def test_bad_magic_and_wrong_kind(tmp_path):
    path = corrupt(tmp_path, "train-images-idx3-ubyte", b"PK\x03\x04" + bytes(100))
    with pytest.raises(IDXError, match=rf"{path}: bad magic number 0x504b0304"):
        MNIST(str(tmp_path))
    # Labels where images belong: the magic number says 1-d, not 3-d.
    path = corrupt(tmp_path, "train-images-idx3-ubyte", idx_bytes(np.zeros(6, np.uint8)))
    with pytest.raises(IDXError, match=rf"{path}: magic number 0x00000801 .*expected 0x00000803"):
        MNIST(str(tmp_path))
    path = corrupt(tmp_path, "train-images-idx3-ubyte", b"\0\0\x07\x03" + bytes(20))
    with pytest.raises(IDXError, match="unknown IDX data type code 0x07"):
        MNIST(str(tmp_path))
    path = corrupt(tmp_path, "train-images-idx3-ubyte", b"\0\0")
    with pytest.raises(IDXError, match=rf"{path}: file is 2 bytes long"):
        MNIST(str(tmp_path))


def test_shape_count_and_label_checks(tmp_path):
    path = corrupt(tmp_path, "train-images-idx3-ubyte", idx_bytes(np.zeros((6, 8, 8), np.uint8)))
    with pytest.raises(IDXError, match=rf"{path}: images are 8x8, MNIST images are 28x28"):
        MNIST(str(tmp_path))
    corrupt(tmp_path, "train-labels-idx1-ubyte", idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(IDXError, match="holds 6 images but .*train-labels-idx1-ubyte holds 5 labels"):
        MNIST(str(tmp_path))
    path = corrupt(tmp_path, "train-labels-idx1-ubyte", idx_bytes(np.array([0, 1, 2, 3, 4, 12], np.uint8)))
    with pytest.raises(IDXError, match=rf"{path}: label 12 out of range"):
        MNIST(str(tmp_path))


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((6, 28, 28), np.uint8)))
    path = corrupt(tmp_path, "train-images-idx3-ubyte.gz", data[: len(data) // 2])
    os.remove(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(IDXError, match=rf"{path}: corrupt or truncated gzip data"):
        MNIST(str(tmp_path))

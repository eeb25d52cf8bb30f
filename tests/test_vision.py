"""ndgrad.vision: torchvision's datasets, transforms and utils for programs that import them."""
import gzip

import numpy as np
import pytest
from PIL import Image

import ndgrad
from ndgrad.nn import functional as F
from ndgrad.vision import datasets, transforms, utils


def write_idx(path, array, compress=False):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.fixture
def mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 12), ("t10k", 5)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (count,), dtype=np.uint8), True)
    return tmp_path


def test_to_tensor_scales_uint8_images_to_unit_range():
    pixels = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = transforms.ToTensor()(Image.fromarray(pixels))
    assert out.shape == (3, 5, 7) and out.dtype == ndgrad.float32
    np.testing.assert_allclose(out.numpy(), pixels.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = transforms.ToTensor()(pixels[:, :, 0])
    assert gray.shape == (1, 5, 7)


def test_normalize_per_channel_and_its_errors():
    x = ndgrad.rand(3, 4, 4)
    out = transforms.Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.5))(x)
    expected = (x.numpy() - np.array([0.5, 0.4, 0.3])[:, None, None]) / np.array([0.2, 0.25, 0.5])[:, None, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="zero"):
        transforms.Normalize((0.5,), (0.0,))(ndgrad.rand(1, 2, 2))
    with pytest.raises(TypeError, match="ToTensor"):
        transforms.Normalize((0.5,), (0.5,))(np.zeros((2, 2)))


def test_resize_matches_the_shorter_side_and_keeps_the_aspect_ratio():
    image = Image.fromarray(np.zeros((70, 60, 3), dtype=np.uint8))
    assert transforms.Resize(30)(image).size == (30, 35)        # PIL sizes are (width, height)
    assert transforms.Resize((20, 10))(image).size == (10, 20)
    x = ndgrad.rand(3, 8, 6)
    out = transforms.Resize(12)(x)
    ref = F.interpolate(x.unsqueeze(0), size=(16, 12), mode="bilinear", align_corners=False).squeeze(0)
    np.testing.assert_allclose(out.numpy(), ref.numpy())


def test_center_crop_offsets_and_padding():
    pixels = np.arange(7 * 9, dtype=np.uint8).reshape(7, 9)
    out = np.asarray(transforms.CenterCrop(4)(Image.fromarray(pixels)))
    top, left = int(round((7 - 4) / 2.0)), int(round((9 - 4) / 2.0))
    np.testing.assert_array_equal(out, pixels[top:top + 4, left:left + 4])
    padded = transforms.CenterCrop((9, 9))(ndgrad.ones(1, 7, 9))
    assert padded.shape == (1, 9, 9) and padded.sum().item() == 63


def test_compose_lambda_and_flips():
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda x: ndgrad.flatten(x))])
    assert pipeline(np.zeros((4, 4), dtype=np.uint8)).shape == (16,)
    x = ndgrad.arange(6.0).view(1, 2, 3)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=1.0)(x).numpy(), x.numpy()[..., ::-1])
    np.testing.assert_array_equal(transforms.RandomVerticalFlip(p=0.0)(x).numpy(), x.numpy())
    with pytest.raises(TypeError, match="callable"):
        transforms.Lambda(3)


def test_make_grid_layout_and_save_image(tmp_path):
    batch = ndgrad.rand(5, 1, 4, 6)
    grid = utils.make_grid(batch, nrow=3, padding=2, pad_value=0.5)
    assert grid.shape == (3, 2 * (4 + 2) + 2, 3 * (6 + 2) + 2)
    g = grid.numpy()
    np.testing.assert_allclose(g[0, 2 + 6:2 + 6 + 4, 2 + 8:2 + 8 + 6], batch[4, 0].numpy())  # row 1, column 1
    assert np.all(g[:, 0, :] == 0.5)
    normalized = utils.make_grid(batch * 4 - 1, normalize=True)
    assert normalized.min().item() >= 0 and abs(normalized.max().item() - 1) < 1e-6
    path = tmp_path / "grid.png"
    utils.save_image(batch, path, nrow=3)
    saved = np.asarray(Image.open(path))
    assert saved.shape == (14, 26, 3)
    expected = np.clip(batch[0, 0].numpy() * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(saved[2:6, 2:8, 0], expected)


def test_mnist_reads_torchvision_layout(mnist_root):
    train = datasets.MNIST(str(mnist_root), train=True, download=True, transform=transforms.ToTensor())
    assert len(train) == 12 and train.data.shape == (12, 28, 28) and train.targets.dtype == ndgrad.int64
    image, target = train[3]
    assert image.shape == (1, 28, 28) and isinstance(target, int)
    np.testing.assert_allclose(image.numpy()[0], train.data[3].numpy() / 255.0, rtol=1e-6)
    raw_image, _ = datasets.MNIST(str(mnist_root), train=False)[0]
    assert isinstance(raw_image, Image.Image) and raw_image.size == (28, 28)
    loader = ndgrad.utils.data.DataLoader(train, batch_size=5)
    x, y = next(iter(loader))
    assert x.shape == (5, 1, 28, 28) and y.dtype == ndgrad.int64


def test_mnist_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        datasets.FashionMNIST(str(tmp_path), download=True)


def test_fake_data_is_the_same_image_on_every_access():
    data = datasets.FakeData(size=4, image_size=(3, 5, 6), num_classes=3, transform=transforms.ToTensor())
    a, ta = data[2]
    b, tb = data[2]
    assert a.shape == (3, 5, 6) and ta == tb and 0 <= ta < 3
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(IndexError, match="out of range"):
        data[4]


def test_image_folder_classes_from_sub_folders(tmp_path):
    for name, value in (("cats", 10), ("dogs", 200)):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((4, 4, 3), value, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    folder = datasets.ImageFolder(str(tmp_path), transform=transforms.ToTensor())
    assert folder.classes == ["cats", "dogs"] and len(folder) == 4 and folder.targets == [0, 0, 1, 1]
    image, target = folder[3]
    assert target == 1 and abs(image.mean().item() - 200 / 255) < 1e-6

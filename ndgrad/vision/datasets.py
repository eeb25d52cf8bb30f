"""torchvision.datasets' names for local data: MNIST, FashionMNIST, FakeData, ImageFolder, DatasetFolder.

Like torchvision, ``dataset[i]`` is ``(image, target)`` with the image a PIL image (an array without
Pillow) passed through ``transform``. ``download=True`` is accepted when the files are already there;
nothing is downloaded, so a missing file is an error that says where to put it.
"""
import os

from ndgrad.backend import np
from ndgrad.data.dataset import Dataset
from ndgrad.data.datasets import mnist as _idx
from ndgrad.vision import _image

__all__ = ["MNIST", "FashionMNIST", "FakeData", "DatasetFolder", "ImageFolder", "VisionDataset"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class VisionDataset(Dataset):
    """A dataset with torchvision's ``root``, ``transform`` and ``target_transform``."""

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        self.root = os.path.expanduser(str(root)) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = transforms

    def _apply(self, image, target):
        if self.transforms is not None:
            return self.transforms(image, target)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class MNIST(VisionDataset):
    """MNIST from its four IDX files under ``root/MNIST/raw`` (torchvision's layout) or ``root``."""

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    _folders = ("MNIST", "mnist")
    _source = "http://yann.lecun.com/exdb/mnist/ (or any mirror)"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        try:
            image_path, label_path = _idx.find_files(self.root, _idx.FILES[train], self._folders)
        except FileNotFoundError as exc:
            hint = " (download=True cannot fetch them: ndgrad never downloads)" if download else ""
            raise FileNotFoundError(f"{type(self).__name__}: {exc}\nPut the files there{hint}; get them from "
                                    f"{self._source}.") from None
        from ndgrad.creation import from_numpy
        images = _idx.read_idx(image_path, _idx.IMAGES_MAGIC)
        labels = _idx.read_idx(label_path, _idx.LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {image_path} holds {len(images)} images but {label_path} "
                             f"holds {len(labels)} labels")
        self.data = from_numpy(np.ascontiguousarray(images))
        self.targets = from_numpy(labels.astype(np.int64))

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image = _image.from_array(self.data._data[index])
        return self._apply(image, int(self.targets._data[index]))


class FashionMNIST(MNIST):
    """Fashion-MNIST: MNIST's file format and layout, ten kinds of clothing."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    _folders = ("FashionMNIST", "fashion-mnist", "fashion_mnist")
    _source = "https://github.com/zalandoresearch/fashion-mnist"


class FakeData(VisionDataset):
    """Random images with random labels; image ``i`` is the same on every access (seeded by its index)."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = int(size)
        self.image_size = tuple(image_size)
        self.num_classes = int(num_classes)
        self.random_offset = int(random_offset)

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if not -self.size <= index < self.size:
            raise IndexError(f"FakeData: index {index} out of range for a dataset of {self.size} images")
        rng = np.random.default_rng(index % self.size + self.random_offset)
        channels, height, width = self.image_size
        pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        return self._apply(_image.from_array(pixels), target)


class DatasetFolder(VisionDataset):
    """Samples in ``root/<class>/**/<file>``: classes are the sorted sub-folder names."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"{type(self).__name__}: {self.root!r} is not a folder; it should hold one "
                                    f"sub-folder of files per class")
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        if is_valid_file is None:
            exts = tuple(e.lower() for e in (extensions or ()))
            is_valid_file = lambda path: path.lower().endswith(exts)  # noqa: E731
        self.samples = []
        for name in self.classes:
            found = []
            for folder, _, files in sorted(os.walk(os.path.join(self.root, name), followlinks=True)):
                found.extend(os.path.join(folder, f) for f in sorted(files) if is_valid_file(os.path.join(folder, f)))
            if not found and not allow_empty:
                raise FileNotFoundError(f"{type(self).__name__}: no valid file in class folder "
                                        f"{os.path.join(self.root, name)!r} (extensions {extensions})")
            self.samples.extend((path, self.class_to_idx[name]) for path in found)
        self.imgs = self.samples
        self.targets = [target for _, target in self.samples]
        self.loader = loader
        self.extensions = extensions

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)


def default_loader(path):
    Image = _image.pil()
    if Image is None:
        raise ImportError("ImageFolder reads image files with Pillow: pip install pillow")
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


class ImageFolder(DatasetFolder):
    """Images in ``root/<class>/<file>`` read as RGB PIL images."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform,
                         target_transform, is_valid_file, allow_empty)

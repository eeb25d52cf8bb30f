"""MNIST and Fashion-MNIST from IDX files in a local folder (gzip-compressed or raw).

The IDX format: two zero bytes, a type code, the number of dimensions, then one
big-endian uint32 per dimension and the values, row-major. Every header field,
the data length, the counts and the label range are checked, and a bad file is
named in the error together with what was wrong.
"""
import gzip
import os
import zlib

from ndgrad.backend import np
from ndgrad.data.datasets._base import ArrayDataset

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IDXError(ValueError):
    """A file that is not a valid IDX file of the expected kind."""


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise IDXError(f"{path}: corrupt or truncated gzip data ({exc}); download the file again") from exc
    return raw


def parse_idx(raw, path="<bytes>"):
    """Decode IDX bytes into a NumPy array, checking the header and the data length."""
    if len(raw) < 4:
        raise IDXError(f"{path}: file is {len(raw)} bytes long, too short for an IDX header (4 bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{path}: bad magic number 0x{int.from_bytes(raw[:4], 'big'):08x}: an IDX file "
                       "starts with two zero bytes; this is not an IDX file (or it is corrupt)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        raise IDXError(f"{path}: unknown IDX data type code 0x{code:02x} (magic number "
                       f"0x{int.from_bytes(raw[:4], 'big'):08x}); known codes are "
                       + ", ".join(f"0x{c:02x}" for c in IDX_TYPES))
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated header: {ndim} dimensions need {header} header bytes, "
                       f"file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise IDXError(f"{path}: truncated: header says shape {shape} ({expected} bytes of data), "
                       f"but the file has only {found} bytes after the header")
    if found > expected:
        raise IDXError(f"{path}: corrupt: header says shape {shape} ({expected} bytes of data), "
                       f"but the file has {found} bytes after the header ({found - expected} extra)")
    return np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(shape)


def read_idx(path, magic=None):
    """Read an IDX file (gzip or raw); ``magic`` checks the type code and dimension count."""
    raw = _read_bytes(path)
    if magic is not None and len(raw) >= 4 and raw[0] == 0 and raw[1] == 0 and raw[2] in IDX_TYPES:
        found = int.from_bytes(raw[:4], "big")
        if found != magic:
            raise IDXError(f"{path}: magic number 0x{found:08x} ({raw[3]}-d, type 0x{raw[2]:02x}), expected "
                           f"0x{magic:08x} ({magic & 0xFF}-d unsigned bytes); is this the right file?")
    return parse_idx(raw, path)


def find_files(root, names, folders):
    """The path of each IDX file (name or name.gz) under root or root/<folder>[/raw];
    FileNotFoundError listing every path tried when one is missing."""
    root = os.path.expanduser(str(root))
    dirs = [root] + [os.path.join(root, f, sub) for f in folders for sub in ("raw", "")]
    found, tried = [], []
    for name in names:
        candidates = [os.path.join(d, name + ext) for d in dirs for ext in ("", ".gz")]
        hit = next((p for p in candidates if os.path.isfile(p)), None)
        if hit is None:
            tried.extend(candidates)
        found.append(hit)
    if tried:
        missing = [n for n, p in zip(names, found) if p is None]
        raise FileNotFoundError(
            f"missing IDX file(s) {', '.join(missing)} (raw or .gz) in {root!r}; looked for:\n  "
            + "\n  ".join(tried))
    return found


class MNIST(ArrayDataset):
    """MNIST from the four IDX files in ``root`` (or ``root/MNIST/raw``, torchvision's layout).

    Images are float32 tensors of shape (1, 28, 28) in [0, 1]; targets 0-9.
    Nothing is downloaded: get the files from the dataset's home page.
    """

    classes = tuple(f"{d} - {w}" for d, w in enumerate(
        "zero one two three four five six seven eight nine".split()))
    folders = ("MNIST", "mnist")
    image_size = (28, 28)
    source = "http://yann.lecun.com/exdb/mnist/ (or any mirror)"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        if download:
            raise RuntimeError(f"{type(self).__name__}: download is not supported; fetch the IDX files "
                               f"from {self.source} into {root!r}")
        self.root = root
        self.train = train
        try:
            image_path, label_path = find_files(root, FILES[train], self.folders)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{type(self).__name__} ({'train' if train else 'test'}): {exc}\n"
                                    f"Get them from {self.source}.") from None
        images = read_idx(image_path, IMAGES_MAGIC)
        labels = read_idx(label_path, LABELS_MAGIC)
        if images.shape[1:] != self.image_size:
            raise IDXError(f"{image_path}: images are {images.shape[1]}x{images.shape[2]}, "
                           f"{type(self).__name__} images are {self.image_size[0]}x{self.image_size[1]}")
        if len(images) != len(labels):
            raise IDXError(f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} "
                           "labels; the two files must come from the same split")
        if len(labels) and labels.max() >= len(self.classes):
            raise IDXError(f"{label_path}: label {int(labels.max())} out of range; "
                           f"{type(self).__name__} has {len(self.classes)} classes (0-{len(self.classes) - 1})")
        super().__init__(images, labels, transform, target_transform)

    def _to_float(self, array):
        # Stored as uint8 (47 MB for the training set); scaled per batch.
        return (array.astype(np.float32) * np.float32(1 / 255))[..., None, :, :]


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando's clothing images), the same IDX files and layout as MNIST."""

    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    folders = ("FashionMNIST", "fashion-mnist", "fashion_mnist")
    source = "https://github.com/zalandoresearch/fashion-mnist"

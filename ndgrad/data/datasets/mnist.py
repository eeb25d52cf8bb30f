"""MNIST and Fashion-MNIST from IDX files in a local folder (gzip-compressed or raw).

The IDX format: two zero bytes, a type code, the number of dimensions, then one
big-endian uint32 per dimension and the values, row-major. Every header field,
the data length, the counts and the label range are checked, and a bad file is
named in the error together with what was wrong.
"""
import gzip
import math
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


_CHUNK = 1 << 24          # read data in 16 MiB pieces: memory follows what the file really holds
_EXTRA_COUNT_LIMIT = 1 << 26  # trailing garbage is counted up to 64 MiB, then reported as "at least"
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def _open(path):
    """A binary stream of the file's IDX bytes, decompressing gzip on the fly (whatever the file is called)."""
    f = open(path, "rb")
    if f.read(2) == b"\x1f\x8b":
        f.seek(0)
        return gzip.GzipFile(fileobj=f, mode="rb"), f
    f.seek(0)
    return f, f


def _read_up_to(stream, n, path):
    """Up to ``n`` bytes, in chunks (never one allocation of a size that only the header claims)."""
    buf = bytearray()
    try:
        while len(buf) < n:
            chunk = stream.read(min(_CHUNK, n - len(buf)))
            if not chunk:
                break
            buf += chunk
    except _GZIP_ERRORS as exc:
        raise IDXError(f"{path}: corrupt or truncated gzip data ({exc}); download the file again") from exc
    return buf


def _count_rest(stream, path):
    """How many bytes are left (counted, not kept), and whether the count stopped at the limit."""
    total = 0
    try:
        while total < _EXTRA_COUNT_LIMIT:
            chunk = stream.read(_CHUNK)
            if not chunk:
                return total, False
            total += len(chunk)
    except _GZIP_ERRORS as exc:
        raise IDXError(f"{path}: corrupt or truncated gzip data ({exc}); download the file again") from exc
    return total, True


def _parse_header(head, path):
    """(dtype, shape, header length) from the first bytes of an IDX file; ``head`` must hold the whole header."""
    if len(head) < 4:
        raise IDXError(f"{path}: file is {len(head)} bytes long, too short for an IDX header (4 bytes)")
    if head[0] != 0 or head[1] != 0:
        raise IDXError(f"{path}: bad magic number 0x{int.from_bytes(head[:4], 'big'):08x}: an IDX file "
                       "starts with two zero bytes; this is not an IDX file (or it is corrupt)")
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        raise IDXError(f"{path}: unknown IDX data type code 0x{code:02x} (magic number "
                       f"0x{int.from_bytes(head[:4], 'big'):08x}); known codes are "
                       + ", ".join(f"0x{c:02x}" for c in IDX_TYPES))
    header = 4 + 4 * ndim
    if len(head) < header:
        raise IDXError(f"{path}: truncated header: {ndim} dimensions need {header} header bytes, "
                       f"file has {len(head)}")
    shape = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.dtype(IDX_TYPES[code]), shape, header


def _check_length(path, shape, expected, found, extra_is_lower_bound=False):
    # Python ints: 2**31 x 2**31 x 4 elements overflow int64, and must still give the right byte count
    if found < expected:
        raise IDXError(f"{path}: truncated: header says shape {shape} ({expected} bytes of data), "
                       f"but the file has only {found} bytes after the header")
    if found > expected:
        extra = found - expected
        what = f"at least {extra}" if extra_is_lower_bound else f"{extra}"
        raise IDXError(f"{path}: corrupt: header says shape {shape} ({expected} bytes of data), "
                       f"but the file has {'at least ' if extra_is_lower_bound else ''}{found} bytes after the "
                       f"header ({what} extra)")


def parse_idx(raw, path="<bytes>"):
    """Decode IDX bytes into a NumPy array, checking the header and the data length."""
    dtype, shape, header = _parse_header(raw[:4 + 4 * raw[3]] if len(raw) >= 4 else raw, path)
    expected = math.prod(shape) * dtype.itemsize
    _check_length(path, shape, expected, len(raw) - header)
    return np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(shape)


def read_idx(path, magic=None):
    """Read an IDX file (gzip or raw); ``magic`` checks the type code and dimension count.

    The file is streamed: the header is read and checked first, then exactly the bytes it
    announces (a small .gz that inflates to gigabytes is refused after reading what the
    header promised, not decompressed whole).
    """
    stream, f = _open(path)
    with f, stream:
        head = _read_up_to(stream, 4, path)
        if len(head) == 4:
            head += _read_up_to(stream, 4 * head[3], path)
        if magic is not None and len(head) >= 4 and head[0] == 0 and head[1] == 0 and head[2] in IDX_TYPES:
            found = int.from_bytes(head[:4], "big")
            if found != magic:
                raise IDXError(f"{path}: magic number 0x{found:08x} ({head[3]}-d, type 0x{head[2]:02x}), "
                               f"expected 0x{magic:08x} ({magic & 0xFF}-d unsigned bytes); is this the right "
                               f"file?")
        dtype, shape, header = _parse_header(head, path)
        expected = math.prod(shape) * dtype.itemsize
        data = _read_up_to(stream, expected, path)
        if len(data) < expected:
            _check_length(path, shape, expected, len(data))
        rest, capped = _count_rest(stream, path)
        if rest:
            _check_length(path, shape, expected, expected + rest, extra_is_lower_bound=capped)
    return np.frombuffer(data, dtype=dtype).reshape(shape)


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

"""Images as PIL images when Pillow is installed, as (H, W[, C]) uint8 NumPy arrays otherwise."""
from ndgrad.backend import np


def pil():
    """The PIL.Image module, or None without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def from_array(array):
    """An (H, W) or (H, W, C) uint8 array as the image type programs expect (PIL where available)."""
    Image = pil()
    if Image is None:
        return array
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(array))


def is_pil(image):
    Image = pil()
    return Image is not None and isinstance(image, Image.Image)


def to_array(image):
    """An image (PIL or array) as an (H, W, C) array of its own dtype."""
    array = np.asarray(image)
    return array[:, :, None] if array.ndim == 2 else array

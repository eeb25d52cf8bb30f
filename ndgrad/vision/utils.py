"""torchvision.utils' ``make_grid`` and ``save_image``: a batch of images as one picture."""
import math

from ndgrad.backend import np
from ndgrad.vision import _image

__all__ = ["make_grid", "save_image"]


def _host_batch(tensor):
    if isinstance(tensor, (list, tuple)):
        return np.stack([t.detach().cpu().numpy() for t in tensor])
    array = tensor.detach().cpu().numpy()
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        array = array[None] if array.shape[0] in (1, 3) else array[:, None]
    if array.ndim != 4:
        raise ValueError(f"make_grid: expected a (B, C, H, W), (C, H, W) or (H, W) tensor, got shape "
                         f"{tuple(tensor.shape)}")
    return array


def _normalize(array, value_range):
    low, high = value_range if value_range is not None else (array.min(), array.max())
    array = np.clip(array, low, high)
    return (array - low) / max(high - low, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile a batch of images into a (C, H', W') grid with ``nrow`` images per row."""
    from ndgrad.creation import from_numpy
    batch = _host_batch(tensor).astype(np.float32, copy=True)
    if batch.shape[1] == 1:
        batch = np.repeat(batch, 3, axis=1)
    if normalize:
        if scale_each:
            batch = np.stack([_normalize(image, value_range) for image in batch])
        else:
            batch = _normalize(batch, value_range)
    if batch.shape[0] == 1:
        return from_numpy(np.ascontiguousarray(batch[0]))
    count, channels, height, width = batch.shape
    columns = min(nrow, count)
    rows = int(math.ceil(count / columns))
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((channels, rows * cell_h + padding, columns * cell_w + padding), pad_value, dtype=np.float32)
    for k in range(count):
        y, x = divmod(k, columns)
        grid[:, y * cell_h + padding:y * cell_h + padding + height,
             x * cell_w + padding:x * cell_w + padding + width] = batch[k]
    return from_numpy(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Save a tensor (or batch, tiled by ``make_grid(**kwargs)``) with values in [0, 1] as an image file."""
    Image = _image.pil()
    if Image is None:
        raise ImportError("save_image writes image files with Pillow: pip install pillow")
    grid = make_grid(tensor, **kwargs).numpy()
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels).save(fp, format=format)

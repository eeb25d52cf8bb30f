"""torchvision.transforms' common transforms, on PIL images (or uint8 arrays) and on tensors.

``ToTensor`` turns an (H, W, C) uint8 image into a float32 (C, H, W) tensor in [0, 1]; the
geometric transforms work on PIL images, arrays and (..., H, W) tensors alike.
"""
import numbers

from ndgrad.backend import np
from ndgrad.vision import _image

__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "ConvertImageDtype", "Normalize", "Lambda",
           "Resize", "CenterCrop", "RandomCrop", "Pad", "RandomHorizontalFlip", "RandomVerticalFlip",
           "Grayscale", "InterpolationMode"]


def _tensor_type():
    from ndgrad.tensor import Tensor
    return Tensor


def _pair(size, name):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(f"{name}: size must be an int or a sequence of one or two ints, got {size!r}")
    return int(size[0]), int(size[1])


def _height_width(image):
    if isinstance(image, _tensor_type()):
        return image.shape[-2], image.shape[-1]
    if _image.is_pil(image):
        return image.size[1], image.size[0]
    return image.shape[0], image.shape[1]


class InterpolationMode:
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


class Compose:
    """Apply ``transforms`` one after another."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for t in self.transforms:
            image = t(image)
        return image

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """A PIL image or (H, W[, C]) array as a (C, H, W) tensor; uint8 values are scaled to [0, 1]."""

    def __call__(self, image):
        from ndgrad.creation import from_numpy
        array = _image.to_array(image)
        chw = np.ascontiguousarray(array.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return from_numpy(chw.astype(np.float32) / np.float32(255))
        return from_numpy(chw if chw.dtype != np.float64 else chw.astype(np.float32))

    def __repr__(self):
        return "ToTensor()"


class PILToTensor:
    """A PIL image or array as a (C, H, W) tensor of its own dtype (no scaling)."""

    def __call__(self, image):
        from ndgrad.creation import from_numpy
        return from_numpy(np.ascontiguousarray(_image.to_array(image).transpose(2, 0, 1)))


class ToPILImage:
    """A (C, H, W) tensor (floats in [0, 1] or uint8) or (H, W, C) array as a PIL image."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, picture):
        if isinstance(picture, _tensor_type()):
            array = picture.detach().cpu().numpy()
            if array.ndim == 2:
                array = array[None]
            array = array.transpose(1, 2, 0)
            if array.dtype != np.uint8:
                array = (array * 255).clip(0, 255).astype(np.uint8)
            picture = array
        Image = _image.pil()
        if Image is None:
            raise ImportError("ToPILImage needs Pillow: pip install pillow")
        image = _image.from_array(np.asarray(picture))
        return image.convert(self.mode) if self.mode else image


class ConvertImageDtype:
    """Convert a tensor image's dtype, rescaling between integer and float ranges as torchvision does."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __call__(self, image):
        if image.dtype.is_floating_point and self.dtype.is_floating_point:
            return image.to(self.dtype)
        if not image.dtype.is_floating_point and self.dtype.is_floating_point:
            return image.to(self.dtype) / float(np.iinfo(image.dtype.np).max)
        if image.dtype.is_floating_point:
            top = float(np.iinfo(self.dtype.np).max)
            return (image * (top + 1.0 - 0.001)).to(self.dtype)
        return image.to(self.dtype)


class Normalize:
    """(image - mean) / std per channel of a (..., C, H, W) float tensor."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = tuple(mean), tuple(std), inplace

    def __call__(self, tensor):
        if not isinstance(tensor, _tensor_type()) or not tensor.dtype.is_floating_point:
            raise TypeError(f"Normalize: expected a float tensor image (use ToTensor() first), got "
                            f"{type(tensor).__name__}{'' if not hasattr(tensor, 'dtype') else ' ' + str(tensor.dtype)}")
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} has a zero, which would divide by zero")
        from ndgrad.creation import tensor as make
        mean = make(self.mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        std = make(self.std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        if self.inplace:
            return tensor.sub_(mean).div_(std)
        return (tensor - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Apply a user function."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, image):
        return self.lambd(image)


def _resized_size(height, width, size, max_size):
    if isinstance(size, numbers.Number) or len(size) == 1:
        short = int(size if isinstance(size, numbers.Number) else size[0])
        if height <= width:
            new_h, new_w = short, int(short * width / height)
        else:
            new_h, new_w = int(short * height / width), short
        if max_size is not None and max(new_h, new_w) > max_size:
            scale = max_size / max(new_h, new_w)
            new_h, new_w = int(new_h * scale), int(new_w * scale)
        return new_h, new_w
    return int(size[0]), int(size[1])


class Resize:
    """Resize to ``size`` (an int matches the shorter side, keeping the aspect ratio)."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        self.size, self.interpolation, self.max_size, self.antialias = size, interpolation, max_size, antialias

    def __call__(self, image):
        height, width = _height_width(image)
        new_h, new_w = _resized_size(height, width, self.size, self.max_size)
        if (new_h, new_w) == (height, width):
            return image
        mode = getattr(self.interpolation, "value", self.interpolation)
        if isinstance(image, _tensor_type()):
            from ndgrad.nn import functional as F
            batched = image if image.ndim == 4 else image.unsqueeze(0)
            out = F.interpolate(batched.float() if not image.dtype.is_floating_point else batched,
                                size=(new_h, new_w), mode=mode,
                                align_corners=False if mode in ("bilinear", "bicubic") else None)
            out = out if image.ndim == 4 else out.squeeze(0)
            return out if image.dtype.is_floating_point else out.round().clamp(0, 255).to(image.dtype)
        Image = _image.pil()
        if Image is None:
            raise ImportError("Resize on images needs Pillow (pip install pillow); or resize tensors after ToTensor()")
        pil_image = image if _image.is_pil(image) else _image.from_array(image)
        resample = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[mode]
        return pil_image.resize((new_w, new_h), resample)


def _crop(image, top, left, height, width):
    if isinstance(image, _tensor_type()):
        return image[..., top:top + height, left:left + width]
    if _image.is_pil(image):
        return image.crop((left, top, left + width, top + height))
    return image[top:top + height, left:left + width]


def _pad(image, left, top, right, bottom, fill=0):
    if isinstance(image, _tensor_type()):
        from ndgrad.nn import functional as F
        return F.pad(image, (left, right, top, bottom), value=fill)
    array = _image.to_array(image)
    padded = np.pad(array, ((top, bottom), (left, right), (0, 0)), constant_values=fill)
    return _image.from_array(padded) if _image.is_pil(image) else padded[..., 0] if np.ndim(image) == 2 else padded


class CenterCrop:
    """Crop the centre ``size``; an image smaller than that is padded with zeros first."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, image):
        th, tw = self.size
        height, width = _height_width(image)
        if th > height or tw > width:
            pad_w, pad_h = max(tw - width, 0), max(th - height, 0)
            image = _pad(image, pad_w // 2, pad_h // 2, (pad_w + 1) // 2, (pad_h + 1) // 2)
            height, width = _height_width(image)
        top = int(round((height - th) / 2.0))
        left = int(round((width - tw) / 2.0))
        return _crop(image, top, left, th, tw)


class Pad:
    """Pad every side (an int), left/right and top/bottom (two), or each side (four)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        if padding_mode != "constant":
            raise ValueError(f"Pad: padding_mode {padding_mode!r} is not supported here; use 'constant' "
                             f"or F.pad on a tensor")
        if isinstance(padding, numbers.Number):
            padding = (padding,) * 4
        elif len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        self.padding, self.fill = tuple(int(p) for p in padding), fill

    def __call__(self, image):
        return _pad(image, *self.padding, fill=self.fill)


def _rand_int(high):
    import ndgrad
    return int(ndgrad.randint(0, high, (1,)).item())


def _rand():
    import ndgrad
    return float(ndgrad.rand(1).item())


class RandomCrop:
    """A crop of ``size`` at a random place (ndgrad's random generator), after optional padding."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _pair(size, "RandomCrop")
        self.pad = Pad(padding, fill, padding_mode) if padding is not None else None
        self.pad_if_needed, self.fill = pad_if_needed, fill

    def __call__(self, image):
        if self.pad is not None:
            image = self.pad(image)
        th, tw = self.size
        height, width = _height_width(image)
        if self.pad_if_needed and (height < th or width < tw):
            image = _pad(image, max(tw - width, 0), max(th - height, 0), max(tw - width, 0),
                         max(th - height, 0), self.fill)
            height, width = _height_width(image)
        if height < th or width < tw:
            raise ValueError(f"RandomCrop: crop size {(th, tw)} is larger than the image {(height, width)}")
        return _crop(image, _rand_int(height - th + 1), _rand_int(width - tw + 1), th, tw)


def _flip(image, axis):
    if isinstance(image, _tensor_type()):
        return image.flip(-1 if axis == 1 else -2)
    if _image.is_pil(image):
        Image = _image.pil()
        return image.transpose(Image.FLIP_LEFT_RIGHT if axis == 1 else Image.FLIP_TOP_BOTTOM)
    return np.ascontiguousarray(np.flip(image, axis))


class RandomHorizontalFlip:
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, image):
        return _flip(image, 1) if _rand() < self.p else image


class RandomVerticalFlip:
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, image):
        return _flip(image, 0) if _rand() < self.p else image


class Grayscale:
    """ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B), with 1 or 3 output channels."""

    def __init__(self, num_output_channels=1):
        self.num_output_channels = num_output_channels

    def __call__(self, image):
        if isinstance(image, _tensor_type()):
            r, g, b = image[..., 0, :, :], image[..., 1, :, :], image[..., 2, :, :]
            gray = (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)
            return gray.expand(*gray.shape[:-3], self.num_output_channels, *gray.shape[-2:]).contiguous()
        if _image.is_pil(image):
            gray = image.convert("L")
            return gray if self.num_output_channels == 1 else gray.convert("RGB")
        array = _image.to_array(image).astype(np.float32)
        gray = (array[..., 0] * 0.299 + array[..., 1] * 0.587 + array[..., 2] * 0.114).round().astype(np.uint8)
        return gray if self.num_output_channels == 1 else np.stack([gray] * 3, axis=-1)

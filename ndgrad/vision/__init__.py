"""The pieces of torchvision that training scripts use: ``datasets``, ``transforms`` and ``utils``.

Programs written for PyTorch port by changing ``from torchvision import datasets, transforms`` to
``from ndgrad.vision import datasets, transforms``. Images are PIL images where Pillow is installed
(as in torchvision) and NumPy arrays otherwise; nothing is ever downloaded.
"""
from ndgrad.vision import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]

"""Built-in datasets: ``Dosage``, ``Digits``, ``MNIST``, ``FashionMNIST``, ``MovingShapes``."""
from ndgrad.data.datasets.digits import Digits
from ndgrad.data.datasets.dosage import Dosage
from ndgrad.data.datasets.mnist import IDXError, MNIST, FashionMNIST, read_idx
from ndgrad.data.datasets.shapes import MovingShapes

__all__ = ["Digits", "Dosage", "MNIST", "FashionMNIST", "MovingShapes", "IDXError", "read_idx"]

"""``ndgrad.nn.modules``: PyTorch's import paths for the layers (``torch.nn.modules.conv.Conv2d`` ...).

Each file here re-exports, lazily, the ndgrad.nn names that PyTorch's file of the same name defines;
``ndgrad.nn.modules.<Name>`` resolves any ndgrad.nn layer. The layers themselves live in ndgrad/nn/layers.
"""
import importlib

from ndgrad.nn.modules._reexport import lookup

FILES = ("module", "container", "linear", "conv", "pooling", "normalization", "batchnorm", "instancenorm",
         "dropout", "sparse", "activation", "loss", "rnn", "transformer", "padding", "pixelshuffle",
         "upsampling", "fold", "flatten", "distance", "channelshuffle", "adaptive", "lazy", "utils")


def __getattr__(name):
    if name in FILES:
        return importlib.import_module(f"{__name__}.{name}")
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return lookup(name)
    except AttributeError:
        raise AttributeError(f"module 'ndgrad.nn.modules' has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(FILES))

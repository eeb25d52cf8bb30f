"""Small helpers shared by the layer files: n-tuples, parameter creation, input checks."""
import collections.abc
from itertools import repeat

import ndgrad
from ndgrad.nn.parameter import Parameter


def _ntuple(n, name="parse"):
    """A function that turns a value into an n-tuple (an iterable is kept as a tuple)."""
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")


def new_param(shape, dtype=None, device=None):
    """An uninitialised Parameter of ``shape`` (the layer initialises it next)."""
    return Parameter(ndgrad.empty(tuple(shape), dtype=dtype, device=device))


def register_weight_and_bias(layer, weight_shape, bias_shape, dtype=None, device=None):
    """Give ``layer`` an uninitialised ``weight`` and ``bias`` (``bias_shape=None``: bias is None)."""
    layer.weight = new_param(weight_shape, dtype, device)
    if bias_shape is None:
        layer.register_parameter("bias", None)
    else:
        layer.bias = new_param(bias_shape, dtype, device)


def shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def layer_error(layer, expected, input):
    """A RuntimeError that names the layer, what it expects and the shape it got."""
    return RuntimeError(f"{layer._short_repr()}: expected {expected}, "
                        f"but got input of shape {shape_str(input.shape)}")


def check_rank(layer, input, ranks, expected):
    if input.dim() not in ranks:
        raise layer_error(layer, expected, input)

"""All ONNX mappings by recorded op name: ``MAPPERS[name](ctx, op) -> output name(s)``."""
from . import (mapping_elementwise, mapping_losses, mapping_modules, mapping_nn,  # noqa: F401  (they register)
               mapping_nn_extra, mapping_shape)
from .mapping_elementwise import MAPPERS

MAPPERS.update(mapping_modules.MAPPERS)


def supported_ops():
    """The names of the recorded ops (Node classes and module types) that have an ONNX mapping."""
    return sorted(MAPPERS)

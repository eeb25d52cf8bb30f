"""All ONNX mappings by recorded op name: ``MAPPERS[name](ctx, op) -> output name(s)``."""
from . import mapping_elementwise, mapping_modules, mapping_nn, mapping_shape  # noqa: F401  (they register)
from .mapping_elementwise import MAPPERS

MAPPERS.update(mapping_modules.MAPPERS)


def supported_ops():
    """The names of the recorded ops (Node classes and module types) that have an ONNX mapping."""
    return sorted(MAPPERS)

"""Memory-format conversion (``torch.nn.utils.memory_format``): no-ops, since ndgrad keeps one layout."""

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def convert_conv2d_weight_memory_format(module, memory_format):
    """Returns ``module`` unchanged (ndgrad convolutions have no channels_last variant to convert to)."""
    return module


def convert_conv3d_weight_memory_format(module, memory_format):
    """Returns ``module`` unchanged (see convert_conv2d_weight_memory_format)."""
    return module

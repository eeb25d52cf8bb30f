"""``ndgrad.nn.utils``: gradient clipping, parameter vectors, packed sequences, parametrizations,
weight/spectral norm, BatchNorm fusion and ``functional_call`` (torch.nn.utils's names)."""
from ndgrad.nn.utils import parametrize, parametrizations, rnn, stateless, fusion, memory_format  # noqa: F401
from ndgrad.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                                       get_total_norm)
from ndgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from ndgrad.nn.utils.fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,
                                    fuse_linear_bn_weights)
from ndgrad.nn.utils.init import skip_init
from ndgrad.nn.utils.memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format
from ndgrad.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from ndgrad.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grads_with_norm_", "clip_grad_value_",
           "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format", "fuse_conv_bn_eval",
           "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights", "get_total_norm",
           "parameters_to_vector", "parametrizations", "parametrize", "remove_spectral_norm", "remove_weight_norm",
           "rnn", "skip_init", "spectral_norm", "stateless", "vector_to_parameters", "weight_norm"]

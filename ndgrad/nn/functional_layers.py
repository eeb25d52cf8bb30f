"""torch.nn.functional's padding, resampling, rearranging, pooling, normalisation, embedding-bag and
distance functions.

Most are compositions of differentiable Tensor ops over index tables from
``ndgrad.ops.nn_extra`` (interpolation taps, pooling windows), so gradients of
every order come for free; fold/unfold are linear nodes there. The code lives in
``ndgrad/nn/_functional_layers/``, one file per kind. The names in ``__all__`` join
``ndgrad.nn.functional`` (and replace ``pad``, ``interpolate`` and ``embedding`` there
with these fuller versions).
"""
from ._functional_layers.distance import pairwise_distance, pdist
from ._functional_layers.embeddings import embedding, embedding_bag
from ._functional_layers.norms import instance_norm, local_response_norm, rms_norm
from ._functional_layers.pooling import (
    adaptive_avg_pool3d, adaptive_max_pool1d, adaptive_max_pool1d_with_indices, adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices, adaptive_max_pool3d, adaptive_max_pool3d_with_indices, fractional_max_pool2d,
    fractional_max_pool2d_with_indices, fractional_max_pool3d, fractional_max_pool3d_with_indices, lp_pool1d,
    lp_pool2d, lp_pool3d, max_pool1d_with_indices, max_pool2d_with_indices, max_pool3d_with_indices, max_unpool1d,
    max_unpool2d, max_unpool3d)
from ._functional_layers.rearrange import channel_shuffle, fold, native_channel_shuffle, pixel_shuffle, \
    pixel_unshuffle, unfold
from ._functional_layers.resampling import affine_grid, grid_sample, interpolate, pad, upsample, upsample_bilinear, \
    upsample_nearest

__all__ = [
    "pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "grid_sample", "affine_grid",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "unfold", "fold",
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
    "instance_norm", "local_response_norm", "rms_norm",
    "embedding", "embedding_bag", "pairwise_distance", "pdist",
]

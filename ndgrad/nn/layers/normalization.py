"""BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm, CrossMapLRN2d."""
import numbers
import warnings

import ndgrad
from ndgrad.backend import host_sync
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import new_param, register_weight_and_bias, layer_error, shape_str

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "RMSNorm", "LocalResponseNorm", "CrossMapLRN2d"]


def _register_affine(module, affine, shape, bias, dtype, device):
    """Register ``weight`` and ``bias`` of ``shape`` (bias None when ``bias=False``; both None
    when not ``affine``): the per-feature scale and shift every norm layer has."""
    if affine:
        register_weight_and_bias(module, shape, shape if bias else None, dtype, device)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module, affine):
    """The identity transform: weight 1, bias 0."""
    if affine:
        init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)


class _BatchNorm(Module):
    _ranks = (4,)
    _expected = "(N, C, H, W)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _register_affine(self, affine, (num_features,), bias, dtype, device)
        if track_running_stats:
            stats = (ndgrad.zeros(num_features, dtype=dtype, device=device),
                     ndgrad.ones(num_features, dtype=dtype, device=device),
                     ndgrad.tensor(0, dtype=ndgrad.int64, device=device))
        else:
            stats = (None, None, None)
        for name, buffer in zip(("running_mean", "running_var", "num_batches_tracked"), stats):
            self.register_buffer(name, buffer)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            with ndgrad.no_grad():
                self.num_batches_tracked._data[...] = 0
                self.num_batches_tracked._bump_version()

    def reset_parameters(self):
        self.reset_running_stats()
        _reset_affine(self, self.affine)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _check_input(self, input):
        c = self.num_features
        expected = " or ".join(f"{r}-d input " + e.replace("C", str(c))
                               for r, e in zip(self._ranks, self._expected.split("|")))
        if input.dim() not in self._ranks or input.shape[1] != c:
            if input.dim() in self._ranks:
                expected += f" (num_features={c}, the input has {input.shape[1]} channels)"
            raise layer_error(self, expected, input)

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            nbt = self.num_batches_tracked
            nbt._data[...] = nbt._data + 1
            nbt._bump_version()
            if self.momentum is None:
                factor = cumulative_average_factor(nbt, self.running_mean)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_stats = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if use_stats else None,
                            self.running_var if use_stats else None, self.weight, self.bias,
                            bn_training, factor, self.eps)


def cumulative_average_factor(num_batches_tracked, running_stat):
    """1 / batches seen: momentum=None's equal-weight average over all batches. On a GPU it stays a 0-d device
    array in the running statistic's dtype (reading the count would make every training step wait)."""
    count = num_batches_tracked._data
    if host_sync.on_device(count):
        dtype = running_stat._data.dtype if running_stat is not None else count.dtype
        return (1.0 / count).astype(dtype)
    return 1.0 / float(count)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L)."""
    _ranks = (2, 3)
    _expected = "(N, C)|(N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), per channel."""
    _ranks = (4,)
    _expected = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    _ranks = (5,)
    _expected = "(N, C, D, H, W)"


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dimensions."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, elementwise_affine, self.normalized_shape, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self, self.elementwise_affine)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")

    def forward(self, input):
        n = len(self.normalized_shape)
        if input.dim() < n or tuple(input.shape[input.dim() - n:]) != self.normalized_shape:
            raise layer_error(self, f"input of shape (*, {shape_str(self.normalized_shape)[1:-1]})", input)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class GroupNorm(Module):
    """Normalises each of ``num_groups`` channel groups of (N, C, *)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _register_affine(self, affine, (num_channels,), bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self, self.affine)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")

    def forward(self, input):
        if input.dim() < 2 or input.shape[1] != self.num_channels:
            raise layer_error(self, f"input of shape (N, {self.num_channels}, *)", input)
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)


class _InstanceNorm(_BatchNorm):
    """Per-sample, per-channel normalisation over the spatial dims; running stats only when asked."""
    _spatial = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        name = type(self).__name__
        unbatched = self._spatial + 1
        if input.dim() not in (unbatched, unbatched + 1):
            raise ValueError(f"{name}: expected {unbatched}D or {unbatched + 1}D input (got {input.dim()}D input "
                             f"of shape {shape_str(input.shape)})")
        channel_dim = input.dim() - unbatched
        if input.shape[channel_dim] != self.num_features:
            message = (f"{name}: expected input's size at dim={channel_dim} to match num_features "
                       f"({self.num_features}), but got: {input.shape[channel_dim]}.")
            if self.affine:
                raise ValueError(message)
            warnings.warn(message + " The input is normalised without using running stats of that size.")
        x = input.unsqueeze(0) if input.dim() == unbatched else input
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if input.dim() == unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L)."""
    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W)."""
    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or unbatched (C, D, H, W)."""
    _spatial = 3


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times ``weight`` (ones)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = new_param(self.normalized_shape, dtype, device)
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)


class LocalResponseNorm(Module):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(LocalResponseNorm):
    """The legacy (Lua Torch) cross-channel LRN of (N, C, H, W), with its exact channel windows."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__(size, alpha, beta, k)

    def forward(self, input):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: expected input to be 4D, got {input.dim()}D instead "
                             f"(shape {shape_str(input.shape)})")
        squares = input * input
        channels = input.shape[1]
        # Lua Torch's running window: channel 0 sums the first (size - 1) // 2 + 1 squares; each next
        # channel adds one square ahead and, past the first pre_pad + 1 channels, drops one behind.
        pre_pad = int((self.size - 1) / 2 + 1)
        scale = squares.narrow(1, 0, min(pre_pad, channels)).sum(1, keepdim=True)
        scales = [scale]
        for c in range(1, channels):
            if c < channels - pre_pad + 1:
                scale = scale + squares.narrow(1, c + pre_pad - 1, 1)
            if c > pre_pad:
                scale = scale - squares.narrow(1, c - pre_pad, 1)
            scales.append(scale)
        total = ndgrad.cat(scales, 1)
        return input * (total * (self.alpha / self.size) + self.k).pow(-self.beta)

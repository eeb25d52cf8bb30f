"""BatchNorm1d/2d/3d, LayerNorm, GroupNorm."""
import numbers

import ndgrad
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import register_weight_and_bias, layer_error, shape_str

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm"]


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
            # momentum=None means a cumulative (equal-weight) average over all batches seen.
            factor = 1.0 / float(nbt._data) if self.momentum is None else self.momentum
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_stats = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if use_stats else None,
                            self.running_var if use_stats else None, self.weight, self.bias,
                            bn_training, factor, self.eps)


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

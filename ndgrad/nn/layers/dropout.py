"""Dropout layers: active in training mode, the identity in eval mode."""
import ndgrad
from ndgrad.nn import functional as F
from ndgrad.nn.layers._util import layer_error
from ndgrad.nn.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability p and scales the rest by 1/(1-p) while training."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class _ChannelDropout(_DropoutNd):
    """Zeroes whole channels: one keep/drop draw per (sample, channel), scaled by 1/(1-p)."""
    _spatial = 2

    def forward(self, input):
        n = self._spatial
        if input.dim() not in (n + 1, n + 2):
            raise layer_error(self, f"{n + 2}-d input (N, C, ...) or {n + 1}-d unbatched input (C, ...)", input)
        if not self.training or self.p == 0:
            return input
        # The mask comes from F.dropout on ones shaped (N, C, 1, ..., 1), so it uses the
        # same seeded generator and scaling as element-wise dropout.
        mask_shape = tuple(input.shape[:input.dim() - n]) + (1,) * n
        mask = F.dropout(ndgrad.ones(mask_shape, dtype=input.dtype, device=input.device), self.p, True)
        return input * mask


class Dropout1d(_ChannelDropout):
    """Zeroes whole channels of (N, C, L) with probability p while training."""
    _spatial = 1


class Dropout2d(_ChannelDropout):
    """Zeroes whole channels of (N, C, H, W) with probability p while training."""
    _spatial = 2


class Dropout3d(_ChannelDropout):
    """Zeroes whole channels of (N, C, D, H, W) with probability p while training."""
    _spatial = 3

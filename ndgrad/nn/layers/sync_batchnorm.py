"""SyncBatchNorm: batch normalisation whose statistics cover the whole batch across processes.

In training, with a process group of more than one rank, the per-channel sums are all-reduced
(differentiably, so the backward all-reduces the gradient sums too) and every rank normalises with
the global mean and variance; otherwise it is BatchNorm. Unlike PyTorch's, it also runs on the CPU.
"""
import ndgrad
from ndgrad.nn.layers.normalization import _BatchNorm, cumulative_average_factor

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """``SyncBatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
    process_group=None)`` over inputs (N, C, *)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")
        if input.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected {self.num_features} channels on dim 1 (num_features), got "
                             f"input of shape {tuple(input.shape)}")

    def _group_size(self):
        from ndgrad import distributed as dist
        if not dist.is_available() or not dist.is_initialized():
            return 1
        return dist.get_world_size(self.process_group)

    def forward(self, input):
        self._check_input(input)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        if not (bn_training and self.training) or self._group_size() <= 1:
            return super().forward(input)
        from ndgrad.distributed.nn.functional import all_reduce
        channels = self.num_features
        dims = [0] + list(range(2, input.dim()))
        shape = [1, channels] + [1] * (input.dim() - 2)
        count = ndgrad.full((1,), float(input.numel() // channels), dtype=input.dtype, device=input.device)
        totals = all_reduce(ndgrad.cat([input.sum(dim=dims), count]), group=self.process_group)
        n = totals[channels]
        mean = totals[:channels] / n
        centered = input - mean.reshape(shape)
        # Two passes (sum, then squared deviations): as accurate in float32 as one process's BatchNorm.
        var = all_reduce((centered * centered).sum(dim=dims), group=self.process_group) / n
        out = centered / (var.reshape(shape) + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running_stats(mean, var, float(n))
        return out

    def _update_running_stats(self, mean, var, n):
        with ndgrad.no_grad():
            self.num_batches_tracked._data[...] = self.num_batches_tracked._data + 1
            self.num_batches_tracked._bump_version()
            factor = self.momentum
            if factor is None:
                factor = cumulative_average_factor(self.num_batches_tracked, self.running_mean)
            unbiased = var * (n / max(n - 1.0, 1.0))
            for buffer, value in ((self.running_mean, mean), (self.running_var, unbiased)):
                buffer._data[...] = ((1 - factor) * buffer._data + factor * value._data).astype(buffer._data.dtype)
                buffer._bump_version()

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d replaced by a SyncBatchNorm holding the same state."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                      module.track_running_stats, process_group)
            if module.affine:
                with ndgrad.no_grad():
                    converted.weight = module.weight
                    converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted

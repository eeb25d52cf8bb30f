"""Pooling layers: max, average, adaptive, power-average, unpooling and fractional max
(thin wrappers over nn.functional)."""
from ndgrad.nn import functional as F
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import _ntuple, check_rank

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d", "FractionalMaxPool3d"]

_SHAPES = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)"),
           3: ("(N, C, D, H, W)", "(C, D, H, W)")}


def _check_pool_input(layer, input, n):
    batched, unbatched = _SHAPES[n]
    check_rank(layer, input, (n + 1, n + 2),
               f"{n + 2}-d input {batched} or {n + 1}-d unbatched input {unbatched}")


class _WindowPool(Module):
    """What max and average pooling share: a kernel_size window moved by stride (kernel_size by
    default) over the input padded by padding."""
    _dims = 2

    def __init__(self, kernel_size, stride, padding, ceil_mode):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _MaxPoolNd(_WindowPool):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def extra_repr(self):
        return f"{super().extra_repr()}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"

    def forward(self, input):
        _check_pool_input(self, input, self._dims)
        return type(self)._pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool1d(_MaxPoolNd):
    _dims = 1
    _pool = staticmethod(lambda *a, **k: F.max_pool1d(*a, **k))


class MaxPool2d(_MaxPoolNd):
    """Max over kernel_size windows of (N, C, H, W)."""
    _dims = 2
    _pool = staticmethod(lambda *a, **k: F.max_pool2d(*a, **k))


class MaxPool3d(_MaxPoolNd):
    _dims = 3
    _pool = staticmethod(lambda *a, **k: F.max_pool3d(*a, **k))


class AvgPool1d(_WindowPool):
    _dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, input):
        _check_pool_input(self, input, self._dims)
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class _AvgPoolNd(_WindowPool):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        _check_pool_input(self, input, self._dims)
        return type(self)._pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad, self.divisor_override)


class AvgPool2d(_AvgPoolNd):
    """Mean over kernel_size windows of (N, C, H, W)."""
    _dims = 2
    _pool = staticmethod(lambda *a: F.avg_pool2d(*a))


class AvgPool3d(_AvgPoolNd):
    _dims = 3
    _pool = staticmethod(lambda *a: F.avg_pool3d(*a))


class _AdaptivePool(Module):
    _dims = 2

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, input):
        _check_pool_input(self, input, self._dims)
        return type(self)._pool(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptivePool):
    _dims = 1
    _pool = staticmethod(lambda *a: F.adaptive_avg_pool1d(*a))


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average pooling to a fixed output_size (e.g. 1 for global average pooling)."""
    _dims = 2
    _pool = staticmethod(lambda *a: F.adaptive_avg_pool2d(*a))


class AdaptiveAvgPool3d(_AdaptivePool):
    """Average pooling of (N, C, D, H, W) to a fixed output_size."""
    _dims = 3
    _pool = staticmethod(lambda *a: F.adaptive_avg_pool3d(*a))


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        _check_pool_input(self, input, self._dims)
        return type(self)._pool(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Max pooling of (N, C, L) to a fixed output length."""
    _dims = 1
    _pool = staticmethod(lambda *a: F.adaptive_max_pool1d(*a))


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Max pooling of (N, C, H, W) to a fixed output_size."""
    _dims = 2
    _pool = staticmethod(lambda *a: F.adaptive_max_pool2d(*a))


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """Max pooling of (N, C, D, H, W) to a fixed output_size."""
    _dims = 3
    _pool = staticmethod(lambda *a: F.adaptive_max_pool3d(*a))


class _LPPool(Module):
    _dims = 2

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")

    def forward(self, input):
        _check_pool_input(self, input, self._dims)
        return type(self)._pool(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)


class LPPool1d(_LPPool):
    """Power-average pooling (sum of x^p over each window)^(1/p) of (N, C, L)."""
    _dims = 1
    _pool = staticmethod(lambda *a: F.lp_pool1d(*a))


class LPPool2d(_LPPool):
    """Power-average pooling of (N, C, H, W)."""
    _dims = 2
    _pool = staticmethod(lambda *a: F.lp_pool2d(*a))


class LPPool3d(_LPPool):
    """Power-average pooling of (N, C, D, H, W)."""
    _dims = 3
    _pool = staticmethod(lambda *a: F.lp_pool3d(*a))


class _MaxUnpool(Module):
    _dims = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        tup = _ntuple(self._dims)
        self.kernel_size = tup(kernel_size)
        self.stride = tup(stride if stride is not None else kernel_size)
        self.padding = tup(padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        return type(self)._unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool1d(_MaxUnpool):
    """Put max_pool1d's outputs back at their indices (zeros elsewhere)."""
    _dims = 1
    _unpool = staticmethod(lambda *a: F.max_unpool1d(*a))


class MaxUnpool2d(_MaxUnpool):
    """Put max_pool2d's outputs back at their indices (zeros elsewhere)."""
    _dims = 2
    _unpool = staticmethod(lambda *a: F.max_unpool2d(*a))


class MaxUnpool3d(_MaxUnpool):
    """Put max_pool3d's outputs back at their indices (zeros elsewhere)."""
    _dims = 3
    _unpool = staticmethod(lambda *a: F.max_unpool3d(*a))


class _FractionalMaxPool(Module):
    _dims = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name = type(self).__name__
        tup = _ntuple(self._dims)
        self.kernel_size = tup(kernel_size)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = tup(output_size) if output_size is not None else None
        self.output_ratio = tup(output_ratio) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError(f"{name}: only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"{name}: output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return type(self)._pool(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                                _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPool):
    """Max pooling of (N, C, H, W) over pseudo-random overlapping windows (Graham, 2014)."""
    _dims = 2
    _pool = staticmethod(lambda *a, **k: F.fractional_max_pool2d(*a, **k))


class FractionalMaxPool3d(_FractionalMaxPool):
    """Max pooling of (N, C, D, H, W) over pseudo-random overlapping windows."""
    _dims = 3
    _pool = staticmethod(lambda *a, **k: F.fractional_max_pool3d(*a, **k))

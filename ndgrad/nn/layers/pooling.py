"""Pooling layers: max, average and adaptive average (thin wrappers over nn.functional)."""
from ndgrad.nn import functional as F
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import check_rank

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]

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

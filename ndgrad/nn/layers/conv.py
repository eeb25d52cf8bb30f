"""Convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d (weights and defaults as PyTorch)."""
import math

from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import _single, _pair, _triple, register_weight_and_bias, layer_error

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}
_NTUPLES = {1: _single, 2: _pair, 3: _triple}
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _dims = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups != 0:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups != 0:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # [left, right] per spatial dim, last dim first, the order F.pad wants.
        if isinstance(padding, str):
            self._reversed_padding_repeated_twice = []
            if padding == "same":
                for d, k in zip(reversed(dilation), reversed(kernel_size)):
                    total = d * (k - 1)
                    left = total // 2
                    self._reversed_padding_repeated_twice += [left, total - left]
            else:
                self._reversed_padding_repeated_twice = [0, 0] * len(kernel_size)
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in range(2)]
        if transposed:
            shape = (in_channels, out_channels // groups) + tuple(kernel_size)
        else:
            shape = (out_channels, in_channels // groups) + tuple(kernel_size)
        register_weight_and_bias(self, shape, (out_channels,) if bias else None, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self.padding, str) or self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _check_input(self, input):
        """Accept (N, C_in, *spatial) or unbatched (C_in, *spatial); say exactly what is wrong otherwise.
        Returns True when the input is unbatched."""
        n = self._dims
        spatial = _SPATIAL_NAMES[n]
        c = self.in_channels
        expected = (f"{n + 2}-d input of shape (N, {c}, {spatial}) or {n + 1}-d unbatched input of shape "
                    f"({c}, {spatial})")
        rank = input.dim()
        if rank == n + 2 and input.shape[1] == c:
            return False
        if rank == n + 1 and input.shape[0] == c:
            return True
        if rank in (n + 1, n + 2):
            got_c = input.shape[1] if rank == n + 2 else input.shape[0]
            expected += f" (in_channels={c}, the input has {got_c} channels)"
        raise layer_error(self, expected, input)


class _Conv(_ConvNd):
    _conv = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        tup = _NTUPLES[self._dims]
        super().__init__(in_channels, out_channels, tup(kernel_size), tup(stride),
                         padding if isinstance(padding, str) else tup(padding), tup(dilation),
                         False, tup(0), groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        conv = type(self)._conv
        pads = self._reversed_padding_repeated_twice
        if self.padding_mode != "zeros":
            input = F.pad(input, pads, mode=self.padding_mode)
            padding = (0,) * self._dims
        elif isinstance(self.padding, str):
            if any(pads[i] != pads[i + 1] for i in range(0, len(pads), 2)):
                # Odd total padding: PyTorch puts the extra row/column on the right.
                input = F.pad(input, pads)
                padding = (0,) * self._dims
            else:
                padding = tuple(reversed(pads[0::2]))
        else:
            padding = self.padding
        return conv(input, weight, bias, self.stride, padding, self.dilation, self.groups)

    def forward(self, input):
        unbatched = self._check_input(input)
        if unbatched:
            input = input.unsqueeze(0)
        out = self._conv_forward(input, self.weight, self.bias)
        return out.squeeze(0) if unbatched else out


class Conv1d(_Conv):
    """1-d convolution over (N, C_in, L)."""
    _dims = 1
    _conv = staticmethod(lambda *a: F.conv1d(*a))


class Conv2d(_Conv):
    """2-d convolution over (N, C_in, H, W)."""
    _dims = 2
    _conv = staticmethod(lambda *a: F.conv2d(*a))


class Conv3d(_Conv):
    """3-d convolution over (N, C_in, D, H, W)."""
    _dims = 3
    _conv = staticmethod(lambda *a: F.conv3d(*a))


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: string padding {padding!r} is not supported")
        tup = _NTUPLES[self._dims]
        super().__init__(in_channels, out_channels, tup(kernel_size), tup(stride), tup(padding), tup(dilation),
                         True, tup(output_padding), groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        n = self._dims
        output_size = list(output_size)[-n:]
        if len(output_size) != n:
            raise ValueError(f"{type(self).__name__}: output_size must have {n} or {n + 2} elements, "
                             f"got {len(output_size)}")
        result = []
        for d in range(n):
            in_size = input.shape[d + input.dim() - n]
            min_size = ((in_size - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            max_size = min_size + self.stride[d] - 1
            if not min_size <= output_size[d] <= max_size:
                raise ValueError(f"{type(self).__name__}: requested an output size of {output_size}, "
                                 f"but valid sizes for dimension {d} range from {min_size} to {max_size}")
            result.append(output_size[d] - min_size)
        return tuple(result)

    def forward(self, input, output_size=None):
        unbatched = self._check_input(input)
        if unbatched:
            input = input.unsqueeze(0)
        output_padding = self._output_padding(input, output_size)
        out = type(self)._conv(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                               self.groups, self.dilation)
        return out.squeeze(0) if unbatched else out


class ConvTranspose1d(_ConvTranspose):
    _dims = 1
    _conv = staticmethod(lambda *a: F.conv_transpose1d(*a))


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-d convolution (the gradient of Conv2d with respect to its input)."""
    _dims = 2
    _conv = staticmethod(lambda *a: F.conv_transpose2d(*a))


class ConvTranspose3d(_ConvTranspose):
    _dims = 3
    _conv = staticmethod(lambda *a: F.conv_transpose3d(*a))

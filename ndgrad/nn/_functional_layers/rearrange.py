"""Pixel and channel shuffles (reshapes and permutes), fold and unfold (im2col nodes)."""
import math

from ...ops import nn_extra as _k
from ._common import _shape, _tuple


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle: expected an input of at least 3 dims (*, C, H, W), got "
                           f"{_shape(input)}")
    *lead, c, h, w = _shape(input)
    if r <= 0 or c % (r * r):
        raise RuntimeError(f"pixel_shuffle: the channel dim of input {_shape(input)} ({c}) must be divisible "
                           f"by the square of upscale_factor ({r} * {r})")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle: expected an input of at least 3 dims (*, C, H, W), got "
                           f"{_shape(input)}")
    *lead, c, h, w = _shape(input)
    if r <= 0 or h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle: the height {h} and width {w} of input {_shape(input)} must be "
                           f"divisible by downscale_factor {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """(N, C, *) with C = g * k: interleave the g channel groups."""
    g = int(groups)
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle: expected an input of at least 3 dims (N, C, *), got {_shape(input)}")
    if g <= 0 or input.shape[1] % g:
        raise RuntimeError(f"channel_shuffle: number of channels ({input.shape[1]}) must be divisible by "
                           f"groups ({g})")
    n, c = _shape(input)[:2]
    rest = _shape(input)[2:]
    return input.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


def _fold_args(kernel_size, dilation, padding, stride, op):
    return (_tuple(kernel_size, 2, "kernel_size", op), _tuple(dilation, 2, "dilation", op),
            _tuple(padding, 2, "padding", op), _tuple(stride, 2, "stride", op))


def _blocks(spatial, kernel, dilation, padding, stride):
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, d, p, s in zip(spatial, kernel, dilation, padding, stride))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of (N, C, H, W) as columns: (N, C * kh * kw, L)."""
    op = "unfold"
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"{op}: input must be 4-D (N, C, H, W) or 3-D unbatched (C, H, W), got "
                                  f"shape {_shape(input)}")
    kernel, dilation, padding, stride = _fold_args(kernel_size, dilation, padding, stride, op)
    x = input if input.ndim == 4 else input.unsqueeze(0)
    blocks = _blocks(_shape(x)[2:], kernel, dilation, padding, stride)
    if any(b <= 0 for b in blocks):
        raise RuntimeError(f"{op}: input of spatial size {_shape(x)[2:]} with kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding} gives {blocks} sliding blocks; each must be "
                           f"at least one")
    geo = _k.fold_geometry(_shape(x), kernel, stride, padding, dilation)
    y = _k.Unfold(geo).apply(x)
    return y if input.ndim == 4 else y.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C * kh * kw, L) back into (N, C, *output_size): unfold's adjoint."""
    op = "fold"
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"{op}: input must be 3-D (N, C * prod(kernel_size), L) or 2-D unbatched, "
                                  f"got shape {_shape(input)}")
    out = _tuple(output_size, 2, "output_size", op)
    kernel, dilation, padding, stride = _fold_args(kernel_size, dilation, padding, stride, op)
    x = input if input.ndim == 3 else input.unsqueeze(0)
    n, ck, length = _shape(x)
    per = math.prod(kernel)
    if ck % per:
        raise RuntimeError(f"{op}: expected size of input's dimension 1 ({ck}) to be divisible by the product "
                           f"of kernel_size {kernel} ({per})")
    blocks = _blocks(out, kernel, dilation, padding, stride)
    if math.prod(blocks) != length or any(b <= 0 for b in blocks):
        raise RuntimeError(f"{op}: output_size={out}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride} give {blocks} = {math.prod(blocks)} blocks, but "
                           f"input {_shape(input)} has {length} (its last dim)")
    geo = _k.fold_geometry((n, ck // per) + out, kernel, stride, padding, dilation)
    y = _k.Fold(geo).apply(x)
    return y if input.ndim == 3 else y.squeeze(0)

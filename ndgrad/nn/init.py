"""Weight initialisation (``torch.nn.init``): in place, under no_grad, from ndgrad's
seeded generator (``ndgrad.manual_seed`` makes them repeatable)."""
import math
import warnings

import ndgrad

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
           "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "sparse_"]


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (same table as PyTorch)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(got shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, array):
    """Write ``array`` into ``tensor`` in place (cast to its dtype) and record the change."""
    with ndgrad.no_grad():
        tensor._data[...] = array.astype(tensor._data.dtype, copy=False)
        tensor._bump_version()
    return tensor


def _gen(tensor, generator=None):
    """The numpy/cupy generator on the tensor's device: ``generator`` (an ndgrad.Generator) or
    the device's global seeded one."""
    return ndgrad.random.rng_for(tensor.device, generator)


def _check_float(tensor, fn):
    if not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        raise TypeError(f"nn.init.{fn}: expected a floating-point tensor, got {tensor.dtype}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    _check_float(tensor, "uniform_")
    u = _gen(tensor, generator).random(_draw_shape(tensor))
    return _fill(tensor, _as_complex_if(tensor, u * (b - a) + a))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    _check_float(tensor, "normal_")
    z = _gen(tensor, generator).standard_normal(_draw_shape(tensor))
    if tensor.dtype.is_complex:  # as torch: each part N(mean, std^2 / 2), so E|z - mean|^2 = std^2
        std = std * 0.5 ** 0.5
    return _fill(tensor, _as_complex_if(tensor, z * std + mean))


def _draw_shape(tensor):
    """Complex tensors draw their real and imaginary parts independently (a trailing pair), as torch."""
    return tuple(tensor.shape) + ((2,) if tensor.dtype.is_complex else ())


def _as_complex_if(tensor, draws):
    return draws[..., 0] + 1j * draws[..., 1] if tensor.dtype.is_complex else draws


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) restricted to [a, b] (rejection sampling)."""
    _check_float(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    gen = _gen(tensor, generator)
    xp = tensor.xp
    out = gen.standard_normal(tuple(tensor.shape)) * std + mean
    bad = (out < a) | (out > b)
    for _ in range(1000):
        n_bad = int(bad.sum())
        if n_bad == 0:
            break
        out[bad] = gen.standard_normal(n_bad) * std + mean
        bad = (out < a) | (out > b)
    else:  # the interval holds almost no mass: clip what is left
        out = xp.clip(out, a, b)
    return _fill(tensor, out)


def constant_(tensor, val):
    with ndgrad.no_grad():
        tensor._data[...] = val
        tensor._bump_version()
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    if tensor.dim() != 2:
        raise ValueError(f"eye_: only 2-d tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, tensor.xp.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    dims = tensor.dim()
    if dims not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4 or 5-d tensors are supported, got shape {tuple(tensor.shape)}")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 ({sizes[0]}) must be divisible by groups ({groups})")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    arr = tensor.xp.zeros(tuple(sizes))
    for g in range(groups):
        for d in range(min_dim):
            idx = (g * out_per_group + d, d) + tuple(s // 2 for s in sizes[2:])
            arr[idx] = 1
    return _fill(tensor, arr)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He initialisation: U(-bound, bound), bound = gain * sqrt(3 / fan)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix (the tensor is viewed as rows x rest)."""
    if tensor.dim() < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    xp = tensor.xp
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _gen(tensor, generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))  # makes the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _fill(tensor, (q * gain).reshape(tuple(tensor.shape)))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    if tensor.dim() != 2:
        raise ValueError(f"sparse_: only 2-d tensors are supported, got shape {tuple(tensor.shape)}")
    rows, cols = tensor.shape
    gen = _gen(tensor, generator)
    arr = gen.standard_normal((rows, cols)) * std
    num_zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        zero_rows = gen.permutation(rows)[:num_zeros]
        arr[zero_rows, c] = 0
    return _fill(tensor, arr)

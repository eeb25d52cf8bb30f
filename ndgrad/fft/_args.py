"""Argument checking shared by the transforms: input dtype, norm mode, ``n``/``s`` and ``dim``."""
import operator

from .. import dtypes
from ..ops.shape import normalize_dim

_NORMS = ("backward", "ortho", "forward")


def check_norm(norm, op):
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise RuntimeError(f'{op}: Invalid normalization mode: "{norm}"; use one of "backward" (the default), '
                           f'"ortho" or "forward"')
    return norm


def prepare_input(x, op, real_only=False):
    """``x`` as a float/complex tensor: integers and bools become the default float, like torch."""
    from ..tensor import Tensor
    from ..ops.elementwise import cast
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected an ndgrad.Tensor as input, got {type(x).__name__}")
    kind, name = x._data.dtype.kind, x._data.dtype.name
    if kind in "iub":
        return cast(x, dtypes.get_default_dtype())
    if name not in ("float32", "float64", "complex64", "complex128"):
        raise RuntimeError(f"{op}: Unsupported dtype {name}: FFTs run in float32/float64 (complex64/complex128); "
                           f"convert the input first, e.g. x.float()")
    if real_only and kind == "c":
        raise RuntimeError(f"{op} expects a real input tensor, but got {name}. Fix: use the complex transform "
                           f"(fft.fft / fft.fftn) or take .real first")
    return x


def check_points(n, op):
    n = operator.index(n)
    if n < 1:
        raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified; n must be at least 1")
    return n


def one_dim(x, dim, op):
    if x.ndim == 0:
        raise IndexError(f"{op}: Dimension specified as {dim} but tensor has no dimensions; FFTs need a tensor "
                         f"with at least one dimension (use x.reshape(1) for a single value)")
    return normalize_dim(dim, x.ndim, op)


def shape_and_dims(x, s, dim, op, c2r=False):
    """(sizes or None per dim, dims) as torch canonicalises them for the n-d transforms.

    dim=None means every dim, or the last len(s) dims when ``s`` is given; ``s`` entries of -1 keep
    the input's size. ``c2r``: the last dim is a onesided spectrum whose default output size is
    2 * (size - 1).
    """
    if s is not None:
        s = [operator.index(v) for v in ((s,) if isinstance(s, int) else s)]
    if dim is not None:
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [normalize_dim(d, max(x.ndim, 1), op) if x.ndim else _no_dims(op, d) for d in dims]
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: FFT dims must be unique, got dim={tuple(dim)}; list each dim once")
        if s is not None and len(s) != len(dims):
            raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same length "
                               f"(s={tuple(s)}, dim={tuple(dim)})")
    elif s is not None:
        if len(s) > x.ndim:
            raise RuntimeError(f"{op}: Got shape with {len(s)} values but input tensor only has {x.ndim} "
                               f"dimensions")
        dims = list(range(x.ndim - len(s), x.ndim))
    else:
        dims = list(range(x.ndim))
    if s is None:
        sizes = [x.shape[d] for d in dims]
    else:
        sizes = [x.shape[d] if v == -1 else v for d, v in zip(dims, s)]
    if c2r and dims and (s is None or s[-1] == -1):
        sizes[-1] = 2 * (x.shape[dims[-1]] - 1)
    for v in sizes:
        check_points(v, op)
    return sizes, dims


def _no_dims(op, d):
    raise IndexError(f"{op}: Dimension specified as {d} but tensor has no dimensions")

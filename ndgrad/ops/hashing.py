"""``hash_tensor``: an xor reduction over the 64-bit patterns of the elements, as ``torch.hash_tensor``.

Each element is widened to its 64-bit equivalent (floats to float64, signed ints to int64 by sign
extension, uint8 and bool to uint64) and the 64 bits are read as a uint64; the hash is the xor of
those words over the reduced dims. The result is always uint64 and never differentiable.
"""
from .. import dtypes
from ..tensor import Tensor
from .reduce import normalize_dims, _reduced_shape

__all__ = ["hash_tensor"]

_XOR_REDUCTION = 0  # the one mode PyTorch 2.13 defines
# dtypes PyTorch has no xor kernel for: the limited-support unsigned ones and complex
_UNHASHABLE = ("uint16", "uint32", "uint64", "complex64", "complex128")


def _as_uint64_words(array, dtype):
    """The elements widened to their 64-bit equivalent, the bits read as uint64."""
    if dtype.is_floating_point:
        if dtype.itemsize == 2:  # through float32, as PyTorch converts half types (this quiets signalling NaNs)
            array = array.astype("float32")
        return array.astype("float64").view("uint64")
    if dtype.is_signed:
        return array.astype("int64").view("uint64")
    return array.astype("uint64")  # bool, uint8: zero extension


def _xor_last_axis(words, xp):
    """xor over the last axis by pairwise folding (xp-generic: CuPy ufuncs have no ``reduce``)."""
    while words.shape[-1] > 1:
        half = words.shape[-1] // 2
        folded = xp.bitwise_xor(words[..., :half], words[..., half:2 * half])
        if words.shape[-1] % 2:
            folded = xp.concatenate([folded, words[..., 2 * half:]], axis=-1)
        words = folded
    return words[..., 0]


def _check_args(input, dims, dim_given, mode):
    if not isinstance(input, Tensor):
        raise TypeError(f"hash_tensor(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if mode != _XOR_REDUCTION:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode} (only mode=0, xor reduction, exists)")
    if input.dtype.name in _UNHASHABLE:
        fix = "ndgrad.view_as_real(x)" if input.dtype.is_complex else "x.to(ndgrad.int64)"
        raise NotImplementedError(f"hash_tensor: dtype {input.dtype} is not supported (as in PyTorch, which has "
                                  f"no xor kernel for it); hash {fix} instead")
    if not dim_given and input.numel() == 0:
        raise RuntimeError(f"hash_tensor: Expected reduction dim to be specified for input.numel() == 0 (input of "
                           f"shape {tuple(input.shape)}). Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if input.shape[d] == 0:
            raise IndexError(f"hash_tensor: Expected reduction dim {d} to have non-zero size (input of shape "
                             f"{tuple(input.shape)}).")


def hash_tensor(input, dim=(), *, keepdim=False, mode=0, out=None):
    """The xor of the elements' 64-bit patterns over ``dim`` (all dims when ``()``/``None``), as uint64."""
    dim_given = dim is not None and not (isinstance(dim, (tuple, list)) and len(dim) == 0)
    dims = normalize_dims(dim, input.ndim, "hash_tensor") if isinstance(input, Tensor) else ()
    _check_args(input, dims, dim_given, mode)
    xp = input.xp
    words = _as_uint64_words(input._data, input.dtype)
    kept = [i for i in range(words.ndim) if i not in dims]
    words = xp.transpose(words, kept + list(dims))
    reduced_size = 1
    for d in dims:
        reduced_size *= input.shape[d]
    words = words.reshape(words.shape[:len(kept)] + (reduced_size,))  # the reduced dims as one last axis
    hashed = xp.ascontiguousarray(_xor_last_axis(words, xp))
    result = Tensor._wrap(hashed.reshape(_reduced_shape(tuple(input.shape), dims, keepdim)), input.device)
    if out is not None:
        from ..creation import _write_out
        return _write_out(result, out, "hash_tensor")
    return result


METHODS = {"hash_tensor": hash_tensor}

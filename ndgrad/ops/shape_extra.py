"""More shape ops: unfold (sliding windows, a view), rot90, diff, tensor_split and h/v/dsplit,
block_diag, cartesian_prod, combinations, tril/triu_indices, broadcast_shapes, as_strided, the *_copy ops.

Most are compositions of the differentiable primitives in ops/shape.py (narrow,
flip, transpose, cat, pad), so their gradients come for free; ``Unfold`` is the
one new Node: a strided view whose gradient sums the overlapping windows back.
"""
import itertools
import math
import operator

from .. import dtypes
from ..autograd import grad_mode
from ..autograd import node as _node
from ..autograd.node import Node
from ..backend import get_device, namespace
from . import elementwise as ew
from .index import PutAddFlat, TakeFlat
from .shape import (Narrow, broadcast_shapes as _broadcast_shapes, cat, chunk, clone, diag, diagonal, flip,
                    meshgrid, narrow, normalize_dim, pad, permute, reshape, select, split, squeeze, stack, t,
                    transpose, unbind, unsqueeze, view, vstack)

_COPY_NAMES = ("diagonal_copy", "expand_copy", "permute_copy", "select_copy", "split_copy",
               "split_with_sizes_copy", "squeeze_copy", "transpose_copy", "unbind_copy", "unfold_copy",
               "unsqueeze_copy", "view_copy", "as_strided_copy", "t_copy", "detach_copy", "alias_copy")

__all__ = ["rot90", "diff", "tensor_split", "hsplit", "vsplit", "dsplit", "row_stack", "narrow_copy",
           "block_diag", "cartesian_prod", "combinations", "tril_indices", "triu_indices",
           "broadcast_shapes", "as_strided", "diagflat", "unravel_index", "split_with_sizes", "unsafe_split",
           "unsafe_split_with_sizes", "unsafe_chunk"] + sorted(_COPY_NAMES)


# -- unfold: sliding windows as a view --------------------------------------------------------------

def _window_view(xp, a, dim, size, step):
    """The windows of ``a`` along ``dim`` as a strided view: dim becomes the window count, plus a last dim."""
    if a.ndim == 0:
        a = a.reshape(1)
    shape, strides = list(a.shape), list(a.strides)
    count = (shape[dim] - size) // step + 1
    new_shape = shape[:dim] + [count] + shape[dim + 1:] + [size]
    new_strides = strides[:dim] + [strides[dim] * step] + strides[dim + 1:] + [strides[dim]]
    return xp.lib.stride_tricks.as_strided(a, shape=tuple(new_shape), strides=tuple(new_strides))


class Unfold(Node):
    """``x.unfold(dim, size, step)``: a view; the backward adds each window's gradient back in place."""
    __slots__ = ("dim", "size", "step", "in_shape")
    is_view = True

    def __init__(self, dim, size, step):
        self.dim, self.size, self.step = dim, size, step

    def forward(self, x):
        self.in_shape = x.shape
        return self._windows(x)

    def _windows(self, a):
        view = _window_view(self.xp, a, self.dim, self.size, self.step)
        return view.reshape(self.size) if a.ndim == 0 else view   # PyTorch: a 0-d input gives shape (size,)

    def backward(self, grad):
        xp = self.xp
        grid = xp.arange(math.prod(self.in_shape), dtype=xp.int64).reshape(self.in_shape)
        return PutAddFlat(self._windows(grid).copy(), self.in_shape).apply(grad)


def unfold(input, dimension, size, step):
    """All windows of ``size`` along ``dimension``, every ``step`` entries, as a new last dim (a view)."""
    d = normalize_dim(dimension, max(input.ndim, 1), "unfold")
    n = input.shape[d] if input.ndim else 1
    size, step = operator.index(size), operator.index(step)
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    if size < 0 or size > n:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size} "
                           f"(shape {tuple(input.shape)}); choose a window size <= {n}")
    return Unfold(d, size, step).apply(input)


class AsStrided(Node):
    """``as_strided(size, stride, storage_offset)`` over the input's own (C-contiguous) elements: a view."""
    __slots__ = ("size", "stride", "offset", "in_shape")
    is_view = True

    def __init__(self, size, stride, offset):
        self.size, self.stride, self.offset = size, stride, offset

    def forward(self, x):
        self.in_shape = x.shape
        return self._strided(x)

    def _strided(self, a):
        flat = a.reshape(-1)[self.offset:]
        item = flat.itemsize
        return self.xp.lib.stride_tricks.as_strided(flat, shape=self.size,
                                                    strides=tuple(s * item for s in self.stride))

    def backward(self, grad):
        return PutAddFlat(strided_positions(self.xp, self.in_shape, self.size, self.stride, self.offset),
                          self.in_shape).apply(grad)


def strided_positions(xp, shape, size, stride, offset):
    """The flat (C-order) positions in a tensor of ``shape`` that ``as_strided(size, stride, offset)`` reads."""
    positions = xp.full(tuple(size), offset, dtype=xp.int64)
    for d, (n, st) in enumerate(zip(size, stride)):
        positions = positions + xp.arange(n, dtype=xp.int64).reshape((-1,) + (1,) * (len(size) - d - 1)) * st
    return positions


def check_strided(input, size, stride, storage_offset, op):
    """(size, stride, offset) as int tuples, after checking they stay inside the input's elements."""
    size, stride = tuple(operator.index(n) for n in size), tuple(operator.index(s) for s in stride)
    offset = 0 if storage_offset is None else operator.index(storage_offset)
    if len(size) != len(stride):
        raise RuntimeError(f"{op}: mismatch in length of strides and shape: size {list(size)} has {len(size)} "
                           f"dims, stride {list(stride)} has {len(stride)}")
    if any(n < 0 for n in size) or any(s < 0 for s in stride) or offset < 0:
        raise RuntimeError(f"{op}: sizes, strides and storage offset must be non-negative, got size "
                           f"{list(size)}, stride {list(stride)}, storage offset {offset}")
    needed = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if needed > input.numel():
        raise RuntimeError(f"{op}: sizes {list(size)}, strides {list(stride)} and storage offset {offset} "
                           f"require {needed} elements, but the input (shape {tuple(input.shape)}) has "
                           f"{input.numel()}; ndgrad counts strides in the input's own C-order elements")
    return size, stride, offset


def as_strided(input, size, stride, storage_offset=None):
    """A view that reads the input's elements (in C order) with the given sizes and element strides.

    Unlike PyTorch, offsets and strides count in the input's own elements, not in a shared storage;
    a non-contiguous input is read as its contiguous copy (so the result is a view only of that)."""
    size, stride, offset = check_strided(input, size, stride, storage_offset, "as_strided")
    x = input if input._data.flags.c_contiguous else clone(input)
    return AsStrided(size, stride, offset).apply(x)


# -- rotations and differences -----------------------------------------------------------------------

def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first dim towards the second)."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim} "
                           f"(shape {tuple(input.shape)})")
    d0, d1 = normalize_dim(dims[0], input.ndim, "rot90"), normalize_dim(dims[1], input.ndim, "rot90")
    if d0 == d1:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k = k % 4
    if k == 1:
        return transpose(flip(input, [d1]), d0, d1)
    if k == 2:
        return flip(input, [d0, d1])
    if k == 3:
        return transpose(flip(input, [d0]), d0, d1)
    return clone(input)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (``!=`` for bool tensors), after optionally
    concatenating ``prepend`` / ``append``."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = normalize_dim(dim, input.ndim, "diff")
    parts = []
    for extra in (prepend, append):
        if extra is not None and extra.ndim != input.ndim:
            raise RuntimeError(f"diff expects prepend or append to be the same dimension as input: input has "
                               f"shape {tuple(input.shape)}, got {tuple(extra.shape)}")
    if prepend is not None:
        parts.append(prepend)
    parts.append(input)
    if append is not None:
        parts.append(append)
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        later, earlier = narrow(x, d, 1, length - 1), narrow(x, d, 0, length - 1)
        x = ew.ne(later, earlier) if x.dtype == dtypes.bool_ else later - earlier
    return x


# -- splitting -----------------------------------------------------------------------------------------

def tensor_split(input, indices_or_sections, dim=0):
    """Views along ``dim``: ``sections`` nearly equal pieces (the first ``size % sections`` one longer),
    or the pieces between the given indices (python slice rules)."""
    Tensor = _node.Tensor
    d = normalize_dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype.is_floating_point or spec.ndim > 1 or spec.dtype == dtypes.bool_:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor of dtype long, but got shape {tuple(spec.shape)} of "
                               f"dtype {spec.dtype}")
        spec = int(spec.item()) if spec.ndim == 0 else [int(v) for v in spec.tolist()]
    if isinstance(spec, (list, tuple)):
        bounds = [operator.index(i) for i in spec]
        pieces, prev = [], 0
        for stop in bounds + [None]:
            start, end, _ = slice(prev, stop).indices(n)
            pieces.append(Narrow(d, start, max(end - start, 0)).apply(input))
            prev = stop
        return tuple(pieces)
    sections = operator.index(spec)
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    small, extra = divmod(n, sections)
    pieces, start = [], 0
    for i in range(sections):
        length = small + (1 if i < extra else 0)
        pieces.append(Narrow(d, start, length).apply(input))
        start += length
    return tuple(pieces)


def _split_along(input, indices_or_sections, dim, op, min_ndim):
    if input.ndim < min_ndim:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_ndim} dimension, but got a tensor "
                           f"with {input.ndim} dimensions!")
    if isinstance(indices_or_sections, int):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {size} is not divisible by the split_size {indices_or_sections}!")
    return tensor_split(input, indices_or_sections, dim)


def hsplit(input, indices_or_sections):
    """Split along dim 1 (dim 0 for 1-d tensors); an int must divide the size evenly."""
    return _split_along(input, indices_or_sections, 1 if input.ndim > 1 else 0, "hsplit", 1)


def vsplit(input, indices_or_sections):
    """Split along dim 0 of a tensor with at least 2 dims."""
    return _split_along(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections):
    """Split along dim 2 of a tensor with at least 3 dims."""
    return _split_along(input, indices_or_sections, 2, "dsplit", 3)


def row_stack(tensors):
    """Alias of ``vstack``."""
    return vstack(tensors)


def narrow_copy(input, dim, start, length):
    """``narrow`` as a new tensor (no shared memory)."""
    return clone(narrow(input, dim, start, length))


def split_with_sizes(input, split_sizes, dim=0):
    """Views of the listed sizes along ``dim`` (they must add up to the dim's size)."""
    return split(input, list(split_sizes), dim)


def unsafe_split(input, split_size, dim=0):
    return split(input, split_size, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


def unsafe_chunk(input, chunks, dim=0):
    return chunk(input, chunks, dim)


def _copying(view_op, name):
    """The ``*_copy`` twin of a view op: the same values as a new tensor (no shared memory)."""
    def op(input, *args, **kwargs):
        out = view_op(input, *args, **kwargs)
        return tuple(clone(t) for t in out) if isinstance(out, (tuple, list)) else clone(out)
    op.__name__ = name
    op.__doc__ = f"``{view_op.__name__}`` as a new tensor (no shared memory)."
    return op


def _tensor_method(name):
    def call(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    call.__name__ = name
    return call


_COPIES = {f"{name}_copy": _copying(fn, f"{name}_copy") for name, fn in {
    "diagonal": diagonal, "expand": _tensor_method("expand"), "permute": permute, "select": select,
    "split": split, "split_with_sizes": split_with_sizes, "squeeze": squeeze, "transpose": transpose,
    "unbind": unbind, "unfold": unfold, "unsqueeze": unsqueeze, "view": view, "as_strided": as_strided,
    "t": t, "detach": _tensor_method("detach"), "alias": lambda x: x.view(tuple(x.shape)),
}.items()}
assert set(_COPIES) == set(_COPY_NAMES)
globals().update(_COPIES)


# -- in-place shape changes: x.unsqueeze_(0), x.t_() ------------------------------------------------------

def _reshaping_inplace(name, view_op):
    """``x.name_(...)``: x itself takes the shape (and history) of ``view_op(x, ...)``; memory is shared."""
    def op(self, *args, **kwargs):
        self._check_inplace(name)
        Tensor = _node.Tensor
        tracked = grad_mode.state.enabled and self.requires_grad
        # an alias that carries x's current history, so the view node's input is x as it was
        source = Tensor._wrap(self._data, self._device, requires_grad=tracked,
                              grad_fn=self.grad_fn if tracked else None)
        with grad_mode.set_grad_enabled(tracked):
            out = view_op(source, *args, **kwargs)
        self._data = out._data
        if tracked:
            self.grad_fn = out.grad_fn
        self._bump_version()
        return self
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"In-place ``{name[:-1]}``: the tensor itself changes shape (its memory is kept)."
    return op


_RESHAPING_INPLACE = {name + "_": _reshaping_inplace(name + "_", fn) for name, fn in {
    "squeeze": squeeze, "unsqueeze": unsqueeze, "transpose": transpose, "swapaxes": transpose,
    "swapdims": transpose, "t": t}.items()}


# -- building bigger tensors from small ones -------------------------------------------------------------

def block_diag(*tensors):
    """The tensors (0-, 1- or 2-d) as blocks along the diagonal of one 2-d tensor, zeros elsewhere."""
    from ..creation import zeros
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        return zeros(1, 0)
    blocks = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions (shape {tuple(t.shape)})")
        blocks.append(reshape(t, (1, 1)) if t.ndim == 0 else reshape(t, (1, -1)) if t.ndim == 1 else t)
    dtype = dtypes.result_type(*blocks)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        b = b.to(dtype) if b.dtype != dtype else b
        cols = b.shape[1]
        rows.append(pad(b, (left, width - left - cols)))
        left += cols
    return cat(rows, 0)


def cartesian_prod(*tensors):
    """All tuples with one entry from each 1-d tensor, as rows (like itertools.product)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if t.ndim != 1:
            raise RuntimeError(f"cartesian_prod: expect a 1D vector, but got shape {tuple(t.shape)} for tensor {i}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """All length-``r`` combinations of the entries of a 1-d tensor, as rows (like itertools)."""
    if input.ndim != 1:
        raise RuntimeError(f"combinations: Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"combinations: Expect a non-negative number, but got {r}")
    xp = input.xp
    if r == 0:   # PyTorch returns an empty 1-d tensor here (outside the graph), not shape (1, 0)
        return _node.Tensor._wrap(xp.zeros(0, dtype=input._data.dtype), input._device)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    return TakeFlat(xp.asarray(rows, dtype=xp.int64).reshape(len(rows), r)).apply(input)


def diagflat(input, offset=0):
    """A 2-d tensor with the flattened input on its ``offset`` diagonal."""
    return diag(reshape(input, (-1,)), offset)


def unravel_index(indices, shape):
    """The coordinates (a tuple of int64 tensors) of flat ``indices`` in a tensor of ``shape``
    (negative indices count from the end, as Python's floor division does)."""
    Tensor = _node.Tensor
    if not isinstance(indices, Tensor):
        raise TypeError(f"unravel_index: expected 'indices' to be a tensor, got {type(indices).__name__}")
    if indices.dtype.is_floating_point or indices.dtype == dtypes.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else tuple(shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    xp = indices.xp
    rest = indices._data.astype(xp.int64)
    coords = []
    for n in reversed(shape):
        coords.append(xp.remainder(rest, n) if n else xp.zeros_like(rest))
        rest = xp.floor_divide(rest, n) if n else rest
    return tuple(Tensor._wrap(c, indices._device) for c in reversed(coords))


def _triangle_indices(row, col, offset, upper, dtype, device, op):
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row must be non-negative, got{row}" if row < 0 else
                           f"{op}: col must be non-negative, got{col}")
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    if dtype.is_floating_point or dtype == dtypes.bool_:
        raise RuntimeError(f"{op}: expected an integer dtype for the indices, got {dtype}")
    device = get_device(device)
    xp = namespace(device)
    r = xp.arange(row).reshape(-1, 1)
    c = xp.arange(col).reshape(1, -1)
    keep = (c - r >= offset) if upper else (c - r <= offset)
    rows, cols = xp.nonzero(keep)   # row-major order, as PyTorch lists them
    return _node.Tensor._wrap(xp.stack([rows, cols]).astype(dtype.np), device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """A (2, N) tensor of the (row, col) coordinates of the lower triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, False, dtype, device, "tril_indices")


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """A (2, N) tensor of the (row, col) coordinates of the upper triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, True, dtype, device, "triu_indices")


def broadcast_shapes(*shapes):
    """The shape that tensors of the given shapes (tuples or ints) broadcast to."""
    from ..tensor import Size
    as_tuples = [(operator.index(s),) if not isinstance(s, (tuple, list)) else tuple(s) for s in shapes]
    for shape in as_tuples:
        if any(n < 0 for n in shape):
            raise RuntimeError(f"broadcast_shapes: Trying to create tensor with negative dimension: {shape}")
    return Size(_broadcast_shapes(*as_tuples, op="broadcast_shapes") if as_tuples else ())


METHODS = {
    "unfold": unfold, "rot90": rot90, "diff": diff, "tensor_split": tensor_split, "hsplit": hsplit,
    "vsplit": vsplit, "dsplit": dsplit, "narrow_copy": narrow_copy, "as_strided": as_strided,
    "diagflat": diagflat, "split_with_sizes": split_with_sizes, "unsafe_split": unsafe_split,
    "unsafe_split_with_sizes": unsafe_split_with_sizes, "unsafe_chunk": unsafe_chunk,
    **_RESHAPING_INPLACE,
}

"""Differentiable shape ops: views (reshape, permute, expand, narrow, ...) and copies (cat, flip, pad, ...).

View ops set ``is_view = True``: their output shares memory with input 0, and
``apply`` links it to that input for version counting. Each backward is the
adjoint shape op (reshape back, permute by the inverse, sum an expansion,
split a concatenation, pad by the negated amounts), written with Tensor ops so
that it can be differentiated again.
"""
import math
import operator

from ..autograd import node as _node
from ..autograd.node import Node

__all__ = [
    "reshape", "view", "view_as", "reshape_as", "flatten", "unflatten", "squeeze", "unsqueeze",
    "permute", "permute_dims", "transpose", "swapaxes", "swapdims", "t", "matrix_transpose", "movedim",
    "moveaxis", "expand_dims",
    "expand", "expand_as", "broadcast_to", "broadcast_tensors", "broadcast_arrays", "repeat", "tile",
    "cat", "concat", "concatenate", "stack", "split", "chunk", "unbind", "unstack", "narrow", "select",
    "flip", "fliplr", "flipud", "roll", "tril", "triu", "pad", "contiguous", "clone",
    "diagonal", "diag_embed", "diag", "trace", "ravel", "hstack", "vstack", "dstack", "column_stack",
    "atleast_1d", "atleast_2d", "atleast_3d", "meshgrid", "repeat_interleave",
]


# -- argument helpers (also used by index.py and linalg.py) -------------------------------------

def _tensor_type():
    return _node.Tensor


def normalize_dim(dim, ndim, op, extra=0):
    """``dim`` in ``[0, ndim + extra)``; negative dims count from the end, like PyTorch.

    ``extra=1`` is for ops that insert a dim (unsqueeze, stack). A 0-d tensor
    accepts dims 0 and -1, as in PyTorch.
    """
    try:
        dim = operator.index(dim)
    except TypeError:
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__} ({dim!r})") from None
    n = max(ndim + extra, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimension(s); "
                         f"expected a dim in [{-n}, {n - 1}] (negative dims count from the end)")
    return dim % n


def normalize_dims(dims, ndim, op):
    """A tuple of distinct normalized dims from an int or a sequence of ints."""
    if isinstance(dims, (list, tuple)):
        out = tuple(normalize_dim(d, ndim, op) for d in dims)
    else:
        out = (normalize_dim(dims, ndim, op),)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim {tuple(dims)} lists a dimension more than once; give each dim once")
    return out


def size_args(args, op, name="shape"):
    """``f(2, 3)`` and ``f((2, 3))`` / ``f([2, 3])`` both mean the tuple ``(2, 3)``."""
    if len(args) == 1 and not isinstance(args[0], int) and hasattr(args[0], "__iter__") \
            and getattr(args[0], "ndim", 1) != 0:
        args = tuple(args[0])
    try:
        return tuple(operator.index(s) for s in args)
    except TypeError:
        raise TypeError(f"{op}: {name} must be ints (as f(2, 3) or f((2, 3))), got {args!r}") from None


def _pick(value, alias, op, name, alias_name):
    """The value of an argument that PyTorch and the array API spell differently (dim / axis)."""
    if alias is not None:
        if value is not None:
            raise TypeError(f"{op}: pass either {name}= or {alias_name}=, not both")
        return alias
    return value


def infer_shape(shape, numel, op, in_shape):
    """Replace a single -1 in ``shape`` so that it holds ``numel`` elements; check the count."""
    fix = (f"the new shape must hold exactly {numel} elements (the input's shape is {tuple(in_shape)}); "
           f"use -1 for one dimension to have it inferred")
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"{op}: invalid shape dimension {s} in {list(shape)}; sizes must be >= 0 or -1")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}; {fix}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if math.prod(shape) != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}; {fix}")
    return tuple(shape)


def can_view(array, new_shape):
    """True when ``array`` can be reshaped to ``new_shape`` without copying (PyTorch's computeStride rule)."""
    old_shape = array.shape
    if array.size == 0 or not old_shape or old_shape == tuple(new_shape) or array.flags.c_contiguous:
        return True
    item = array.itemsize
    old_strides = [s // item for s in array.strides]
    view_d = len(new_shape) - 1
    chunk_base_stride = old_strides[-1]
    tensor_numel = view_numel = 1
    for tensor_d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[tensor_d]
        if tensor_d == 0 or (old_shape[tensor_d - 1] != 1
                             and old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return False
            if tensor_d > 0:
                chunk_base_stride = old_strides[tensor_d - 1]
                tensor_numel = view_numel = 1
    return view_d == -1


# -- reshape family ------------------------------------------------------------------------------

class View(Node):
    """Reshape that shares memory with its input (only used when the strides allow it)."""
    __slots__ = ("shape", "in_shape")
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, grad):
        return reshape(grad, self.in_shape)


class ReshapeCopy(View):
    """Reshape of a tensor whose strides do not allow a view: the output is a fresh copy."""
    __slots__ = ()
    is_view = False


def reshape(input, *shape):
    """A tensor with the same data and the given shape; a view when possible, else a copy."""
    shape = infer_shape(size_args(shape, "reshape"), input._data.size, "reshape", input.shape)
    if shape == input._data.shape:
        return View(shape).apply(input)
    return (View if can_view(input._data, shape) else ReshapeCopy)(shape).apply(input)


def view(input, *shape):
    """A view with the given shape; raises when the strides make that impossible (use reshape)."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and hasattr(shape[0], "np"):
        raise NotImplementedError("view(dtype) is not supported by ndgrad; use .to(dtype) to convert")
    shape = infer_shape(size_args(shape, "view"), input._data.size, "view", input.shape)
    if not can_view(input._data, shape):
        raise RuntimeError(
            f"view: view size is not compatible with input tensor's size and stride (input shape "
            f"{tuple(input.shape)}, requested {shape}): at least one dimension spans across two "
            f"contiguous subspaces. Use .reshape(...) instead (or call .contiguous() first).")
    return View(shape).apply(input)


def view_as(input, other):
    return view(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one (a 0-d input becomes 1-d)."""
    ndim = input.ndim
    if ndim == 0:
        return reshape(input, (1,))
    start = normalize_dim(start_dim, ndim, "flatten")
    end = normalize_dim(end_dim, ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    shape = input.shape
    if start == end:
        return input
    return reshape(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one entry may be -1)."""
    dim = normalize_dim(dim, input.ndim, "unflatten")
    sizes = size_args((sizes,), "unflatten", "sizes")
    if not sizes:
        raise ValueError("unflatten: sizes must be a non-empty tuple of ints")
    n = input.shape[dim]
    try:
        sizes = infer_shape(sizes, n, "unflatten", (n,))
    except RuntimeError:
        raise RuntimeError(f"unflatten: sizes {list(sizes)} do not multiply to the size {n} of dim {dim} "
                           f"(input shape {tuple(input.shape)}); fix the sizes or use -1 for one of them") from None
    return reshape(input, input.shape[:dim] + sizes + input.shape[dim + 1:])


def squeeze(input, dim=None, axis=None):
    """Remove size-1 dims (all of them, or those in ``dim``; a listed dim of another size stays)."""
    dim = _pick(dim, axis, "squeeze", "dim", "axis")
    shape = input.shape
    if dim is None:
        dims = range(len(shape))
    else:
        dims = normalize_dims(dim, len(shape), "squeeze")
        if not shape:
            dims = ()
    drop = {d for d in dims if shape[d] == 1}
    if not drop:
        return View(shape).apply(input)
    return View(tuple(s for d, s in enumerate(shape) if d not in drop)).apply(input)


def expand_dims(x, axis=0):
    """Array-API spelling of ``unsqueeze``."""
    return unsqueeze(x, axis)


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim`` (``-1`` appends)."""
    dim = normalize_dim(dim, input.ndim, "unsqueeze", extra=1)
    shape = input.shape
    return View(shape[:dim] + (1,) + shape[dim:]).apply(input)


# -- permutations --------------------------------------------------------------------------------

class Permute(Node):
    __slots__ = ("dims",)
    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, grad):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return Permute(tuple(inverse)).apply(grad)


def permute(input, *dims):
    """Reorder the dims: output dim i is input dim ``dims[i]`` (a view)."""
    dims = size_args(dims, "permute", "dims")
    ndim = input.ndim
    if len(dims) != ndim:
        raise RuntimeError(f"permute: the number of dims ({len(dims)}) must match the tensor's number of "
                           f"dimensions ({ndim}, shape {tuple(input.shape)}); list every dim once")
    dims = tuple(normalize_dim(d, ndim, "permute") for d in dims)
    if len(set(dims)) != ndim:
        raise RuntimeError(f"permute: dims {list(dims)} repeat a dimension; list every dim exactly once")
    return Permute(dims).apply(input)


def permute_dims(x, axes):
    """Array-API spelling of ``permute``."""
    return permute(x, axes)


def transpose(input, dim0, dim1):
    """Swap dims ``dim0`` and ``dim1`` (a view)."""
    ndim = input.ndim
    if ndim == 0:
        normalize_dim(dim0, 0, "transpose")
        normalize_dim(dim1, 0, "transpose")
        return View(()).apply(input)
    d0 = normalize_dim(dim0, ndim, "transpose")
    d1 = normalize_dim(dim1, ndim, "transpose")
    dims = list(range(ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute(tuple(dims)).apply(input)


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


swapdims = swapaxes


def t(input):
    """Transpose a tensor of at most 2 dims (0-d and 1-d tensors come back as they are)."""
    if input.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, but got shape {tuple(input.shape)} "
                           f"({input.ndim}-d); use transpose(dim0, dim1) or .mT for batches of matrices")
    if input.ndim < 2:
        return View(input.shape).apply(input)
    return Permute((1, 0)).apply(input)


def matrix_transpose(input):
    """Swap the last two dims (``.mT``)."""
    if input.ndim < 2:
        raise RuntimeError(f"mT: expects a tensor with at least 2 dimensions, got shape {tuple(input.shape)}")
    return transpose(input, -2, -1)


def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination`` (ints or sequences of ints); a view."""
    ndim = input.ndim
    src = normalize_dims(source, ndim, "movedim")
    dst = normalize_dims(destination, ndim, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must have the same "
                           f"number of dims")
    order = [d for d in range(ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute(tuple(order)).apply(input)


moveaxis = movedim


# -- broadcasting --------------------------------------------------------------------------------

class Expand(Node):
    """Broadcast to a larger shape without copying; the engine sums the gradient back."""
    __slots__ = ("shape",)
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return self.xp.broadcast_to(x, self.shape)

    def backward(self, grad):
        return grad


def _expanded_shape(in_shape, sizes, op):
    if len(sizes) < len(in_shape):
        raise RuntimeError(f"{op}: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(in_shape)}, shape {tuple(in_shape)})")
    lead = len(sizes) - len(in_shape)
    out = list(sizes[:lead])
    if any(s < 0 for s in out):
        raise RuntimeError(f"{op}: -1 is not allowed in a leading, new dimension (sizes {list(sizes)})")
    for i, (have, want) in enumerate(zip(in_shape, sizes[lead:])):
        if want == -1:
            want = have
        if have != want and have != 1:
            raise RuntimeError(
                f"{op}: the expanded size of the tensor ({want}) must match the existing size ({have}) at "
                f"non-singleton dimension {lead + i}. Target sizes: {list(sizes)}. Tensor sizes: "
                f"{list(in_shape)}. Only size-1 dims can be expanded; use repeat() to copy data instead")
        out.append(want)
    return tuple(out)


def expand(input, *sizes):
    """Broadcast size-1 dims (and new leading dims) to ``sizes``; ``-1`` keeps a dim. A view."""
    shape = _expanded_shape(input.shape, size_args(sizes, "expand", "sizes"), "expand")
    return Expand(shape).apply(input)


def expand_as(input, other):
    return expand(input, other.shape)


def broadcast_to(input, shape):
    """Broadcast ``input`` to ``shape`` (same rules as expand)."""
    return expand(input, size_args((shape,), "broadcast_to"))


def broadcast_shapes(*shapes, op="broadcast_shapes"):
    """The broadcast of several shapes, or a clear error naming both that disagree."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s):
            j = ndim - len(s) + i
            if n != out[j] and n != 1 and out[j] != 1:
                raise RuntimeError(f"{op}: shapes {' and '.join(str(tuple(x)) for x in shapes)} cannot be "
                                   f"broadcast together: size {out[j]} vs {n} at dim {j - ndim}")
            if n != 1:
                out[j] = n
    return tuple(out)


def broadcast_arrays(*arrays):
    """Array-API spelling of ``broadcast_tensors``."""
    return broadcast_tensors(*arrays)


def broadcast_tensors(*tensors):
    """Expand every tensor to the broadcast of their shapes."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[x.shape for x in tensors], op="broadcast_tensors")
    return tuple(expand(x, shape) for x in tensors)


# -- repetition ----------------------------------------------------------------------------------

class Repeat(Node):
    __slots__ = ("reps", "in_shape")

    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        x = x.reshape((1,) * (len(self.reps) - x.ndim) + x.shape)
        self.in_shape = x.shape
        return self.xp.tile(x, self.reps)

    def backward(self, grad):
        # The output, seen as (r0, s0, r1, s1, ...), sums over every copy r_i.
        split = []
        for r, s in zip(self.reps, self.in_shape):
            split += [r, s]
        summed = reshape(grad, tuple(split)).sum(dim=tuple(range(0, len(split), 2)))
        return summed


def repeat(input, *sizes):
    """Tile the data ``sizes[i]`` times along dim i (``sizes`` may add leading dims)."""
    reps = size_args(sizes, "repeat", "repeats")
    if len(reps) < input.ndim:
        raise RuntimeError(f"repeat: the number of repeat dims ({len(reps)}) can not be smaller than the "
                           f"number of dimensions of the tensor ({input.ndim}, shape {tuple(input.shape)})")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"repeat: repeats must be >= 0, got {list(reps)}")
    return Repeat(reps).apply(input)


def tile(input, *dims):
    """Like repeat, but a shorter ``dims`` is padded with leading 1s."""
    reps = size_args(dims, "tile", "dims")
    reps = (1,) * (input.ndim - len(reps)) + reps
    return repeat(input, reps)


# -- joining and splitting -----------------------------------------------------------------------

class Cat(Node):
    """Concatenation; inputs listed in ``skip`` are PyTorch's legacy 1-d empty tensors, left out."""
    __slots__ = ("dim", "sizes", "dtype", "skip")

    def __init__(self, dim, dtype, skip=()):
        self.dim, self.dtype, self.skip = dim, dtype, skip

    def forward(self, *arrays):
        kept = [a for i, a in enumerate(arrays) if i not in self.skip]
        self.sizes = [0 if i in self.skip else a.shape[self.dim] for i, a in enumerate(arrays)]
        return self.xp.concatenate(kept, axis=self.dim, dtype=self.dtype)

    def backward(self, grad):
        grads, start = [], 0
        for i, (size, needed) in enumerate(zip(self.sizes, self.needs_input_grad)):
            if not needed:
                grads.append(None)
            elif i in self.skip:
                grads.append(_node.Tensor._wrap(self.xp.zeros((0,), grad._data.dtype), self.device))
            else:
                grads.append(narrow(grad, self.dim, start, size))
            start += size
        return tuple(grads)


def _tensor_list(tensors, op):
    Tensor = _tensor_type()
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{op}: expected a sequence of tensors (e.g. {op}([a, b])), got "
                        f"{type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected tensors, but item {i} is a {type(x).__name__}")
    return tensors


def cat(tensors, dim=0, axis=None):
    """Concatenate tensors along an existing dim (dtypes promote, like PyTorch)."""
    from ..dtypes import result_type
    dim = _pick(dim if axis is None else None, axis, "cat", "dim", "axis")
    tensors = _tensor_list(tensors, "cat")
    # PyTorch's legacy rule: 1-d empty tensors are skipped whatever the other shapes.
    skip = tuple(i for i, x in enumerate(tensors) if x.ndim == 1 and x.shape[0] == 0)
    if len(skip) == len(tensors):
        skip = ()
    ref = next(x for i, x in enumerate(tensors) if i not in skip)
    if ref.ndim == 0:
        raise RuntimeError("cat: zero-dimensional tensor (at position 0) cannot be concatenated; "
                           "use stack() or unsqueeze it to 1-d first")
    d = normalize_dim(dim, ref.ndim, "cat")
    for i, x in enumerate(tensors):
        if i in skip:
            continue
        if x.ndim != ref.ndim:
            raise RuntimeError(
                f"cat: tensors must have the same number of dimensions: got shape {tuple(ref.shape)} "
                f"({ref.ndim}-d) and shape {tuple(x.shape)} ({x.ndim}-d) for tensor number {i} in the list; "
                f"unsqueeze/reshape them to the same rank")
        for j, (a, b) in enumerate(zip(ref.shape, x.shape)):
            if j != d and a != b:
                raise RuntimeError(
                    f"cat: sizes of tensors must match except in dimension {d}: expected size {a} but got "
                    f"size {b} for tensor number {i} in the list at dim {j} (shapes {tuple(ref.shape)} "
                    f"and {tuple(x.shape)}); make every dim but dim={d} agree")
    dtype = result_type(*tensors)
    return Cat(d, dtype.np, skip).apply(*tensors)


concat = concatenate = cat


def stack(tensors, dim=0, axis=None):
    """Join equally shaped tensors along a new dim."""
    dim = _pick(dim if axis is None else None, axis, "stack", "dim", "axis")
    tensors = _tensor_list(tensors, "stack")
    shape = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.shape != shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got {tuple(shape)} at entry 0 "
                               f"and {tuple(x.shape)} at entry {i}; reshape or pad them to one shape")
    d = normalize_dim(dim, len(shape), "stack", extra=1)
    return cat([unsqueeze(x, d) for x in tensors], d)


class Narrow(Node):
    """``input[..., start:start+length:step, ...]`` along one dim (a view)."""
    __slots__ = ("dim", "start", "length", "in_shape")
    is_view = True

    def __init__(self, dim, start, length):
        self.dim, self.start, self.length = dim, start, length

    def forward(self, x):
        self.in_shape = x.shape
        index = (slice(None),) * self.dim + (slice(self.start, self.start + self.length),)
        return x[index]

    def backward(self, grad):
        n = self.in_shape[self.dim]
        pads = [0, 0] * (len(self.in_shape) - self.dim - 1) + [self.start, n - self.start - self.length]
        return pad(grad, pads)


def narrow(input, dim, start, length):
    """The slice ``start:start+length`` of dim ``dim`` (a view); ``start`` may be negative."""
    dim = normalize_dim(dim, input.ndim, "narrow")
    n = input.shape[dim]
    start, length = operator.index(start), operator.index(length)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {n} "
                         f"(shape {tuple(input.shape)}); expected start in [{-n}, {n}]")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of dim "
                           f"{dim} (shape {tuple(input.shape)}); choose length <= {n - start}")
    return Narrow(dim, start, length).apply(input)


def select(input, dim, index):
    """``input`` at position ``index`` of ``dim``, with that dim removed (a view)."""
    dim = normalize_dim(dim, input.ndim, "select")
    n = input.shape[dim]
    index = operator.index(index)
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dimension {dim} with size {n}; "
                         f"valid indices are {-n}..{n - 1}")
    from .index import BasicIndex
    return BasicIndex((slice(None),) * dim + (index % n,)).apply(input)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or pieces of the listed sizes."""
    dim = normalize_dim(dim, tensor.ndim, "split")
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [operator.index(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split: split_sizes {sizes} must be >= 0 and sum to the size {n} of dim {dim} "
                               f"(shape {tuple(tensor.shape)}); adjust the sizes")
    else:
        size = operator.index(split_size_or_sections)
        if size <= 0 and not (size == 0 and n == 0):
            raise RuntimeError(f"split: split_size must be a positive integer, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    out, start = [], 0
    for s in sizes:
        out.append(Narrow(dim, start, s).apply(tensor))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of ``ceil(size / chunks)`` (there may be fewer pieces)."""
    chunks = operator.index(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}")
    d = normalize_dim(dim, input.ndim, "chunk")
    n = input.shape[d]
    if n == 0:
        return split(input, [0] * chunks, d)   # PyTorch gives `chunks` empty pieces
    return split(input, -(-n // chunks), d)


def unstack(x, axis=0):
    """Array-API spelling of ``unbind``."""
    return unbind(x, axis)


def unbind(input, dim=0, axis=None):
    """All slices along ``dim``, each without that dim (array API: ``unstack(x, axis)``)."""
    dim = dim if axis is None else axis
    d = normalize_dim(dim, input.ndim, "unbind")
    return tuple(select(input, d, i) for i in range(input.shape[d]))


# -- reordering copies ---------------------------------------------------------------------------

class Flip(Node):
    __slots__ = ("dims",)

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        # PyTorch's flip copies; a numpy view would let writes leak back into the input.
        return self.xp.flip(x, self.dims).copy()

    def backward(self, grad):
        return Flip(self.dims).apply(grad)


def flip(input, dims=None, axis=None):
    """Reverse the order of elements along ``dims`` (array API: ``axis``, None for every dim)."""
    dims = _pick(dims, axis, "flip", "dims", "axis")
    if dims is None:
        dims = tuple(range(input.ndim))
    dims = normalize_dims(dims, input.ndim, "flip") if input.ndim else ()
    return Flip(dims).apply(input)


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError(f"fliplr: input must be >= 2-d, got shape {tuple(input.shape)}")
    return flip(input, (1,))


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("flipud: input must be >= 1-d, got a 0-d tensor")
    return flip(input, (0,))


class Roll(Node):
    __slots__ = ("shifts", "dims")

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        return self.xp.roll(x, self.shifts, self.dims)

    def backward(self, grad):
        return Roll(tuple(-s for s in self.shifts), self.dims).apply(grad)


def roll(input, shifts, dims=None, axis=None):
    """Shift elements cyclically along ``dims`` (or over the flattened tensor when dims is None)."""
    dims = _pick(dims, axis, "roll", "dims", "axis")
    shift_t = tuple(shifts) if isinstance(shifts, (list, tuple)) else (shifts,)
    shift_t = tuple(operator.index(s) for s in shift_t)
    if dims is None:
        if len(shift_t) != 1:
            raise RuntimeError(f"roll: with dims=None, shifts must be one int, got {shifts}")
        flat = reshape(input, (-1,))
        return reshape(Roll(shift_t, (0,)).apply(flat), input.shape)
    dims_t = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    if len(dims_t) != len(shift_t):
        raise RuntimeError(f"roll: shifts and dims must have the same length, got shifts={shifts} dims={dims}")
    dims_t = tuple(normalize_dim(d, input.ndim, "roll") for d in dims_t)
    return Roll(shift_t, dims_t).apply(input)


class Triangle(Node):
    __slots__ = ("upper", "diagonal")

    def __init__(self, upper, diagonal):
        self.upper, self.diagonal = upper, diagonal

    def forward(self, x):
        return (self.xp.triu if self.upper else self.xp.tril)(x, self.diagonal)

    def backward(self, grad):
        return Triangle(self.upper, self.diagonal).apply(grad)


def _triangle(input, diagonal, upper):
    op = "triu" if upper else "tril"
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(input.shape)}")
    return Triangle(upper, operator.index(diagonal)).apply(input)


def tril(input, diagonal=0):
    """Keep the lower triangle (``j <= i + diagonal``) of the last two dims, zero the rest."""
    return _triangle(input, diagonal, upper=False)


def triu(input, diagonal=0):
    """Keep the upper triangle (``j >= i + diagonal``) of the last two dims, zero the rest."""
    return _triangle(input, diagonal, upper=True)


# -- diagonals ---------------------------------------------------------------------------------------

class Diagonal(Node):
    """The diagonal of dims (dim1, dim2) with ``offset``, appended as the last dim (a view)."""
    __slots__ = ("offset", "dim1", "dim2", "in_shape")
    is_view = True

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def forward(self, x):
        self.in_shape = x.shape
        # A strided view (xp.diagonal's is read-only), so in-place writes reach x as in PyTorch.
        from ..backend import kernels
        d1, d2, off = self.dim1, self.dim2, self.offset
        start = [slice(None)] * x.ndim
        start[d1] = slice(max(-off, 0), None)
        start[d2] = slice(max(off, 0), None)
        corner = x[tuple(start)]
        length = max(min(corner.shape[d1], corner.shape[d2]), 0)
        keep = [d for d in range(x.ndim) if d not in (d1, d2)]
        shape = tuple(corner.shape[d] for d in keep) + (length,)
        strides = tuple(corner.strides[d] for d in keep) + (corner.strides[d1] + corner.strides[d2],)
        return kernels.as_strided(self.xp, corner, shape, strides)

    def backward(self, grad):
        return DiagEmbed(self.offset, self.dim1, self.dim2, self.in_shape).apply(grad)


class DiagEmbed(Node):
    """Zeros of ``shape`` with the last dim of the input written on the (dim1, dim2) diagonal."""
    __slots__ = ("offset", "dim1", "dim2", "shape")

    def __init__(self, offset, dim1, dim2, shape):
        self.offset, self.dim1, self.dim2, self.shape = offset, dim1, dim2, shape

    def forward(self, x):
        xp = self.xp
        out = xp.zeros(self.shape, dtype=x.dtype)
        planes = xp.moveaxis(out, (self.dim1, self.dim2), (-2, -1))   # a writable view of out
        i = xp.arange(x.shape[-1])
        planes[..., i + max(-self.offset, 0), i + max(self.offset, 0)] = x
        return out

    def backward(self, grad):
        return Diagonal(self.offset, self.dim1, self.dim2).apply(grad)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes (``offset`` > 0 above the main diagonal), as the last dim."""
    d1 = normalize_dim(dim1, input.ndim, "diagonal")
    d2 = normalize_dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dim (both are {d1})")
    return Diagonal(operator.index(offset), d1, d2).apply(input)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (dim1, dim2) diagonals are the last dim of ``input`` (zeros elsewhere)."""
    ndim = input.ndim + 1
    d1 = normalize_dim(dim1, ndim, "diag_embed")
    d2 = normalize_dim(dim2, ndim, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: dim1 and dim2 cannot be the same dim (both are {d1})")
    offset = operator.index(offset)
    n = (input.shape[-1] if input.ndim else 1) + abs(offset)
    rest = iter(input.shape[:-1])
    shape = tuple(n if d in (d1, d2) else next(rest) for d in range(ndim))
    x = input if input.ndim else reshape(input, (1,))
    return DiagEmbed(offset, d1, d2, shape).apply(x)


def diag(input, diagonal=0):
    """1-d input: a square matrix with it on the ``diagonal``; 2-d input: that diagonal."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return Diagonal(operator.index(diagonal), 0, 1).apply(input)
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(input.shape)}; "
                       f"use diagonal() or diag_embed() for batches")


def trace(input):
    """Sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix (2-D), got shape {tuple(input.shape)}")
    return Diagonal(0, 0, 1).apply(input).sum()


# -- composites: stacking helpers, meshgrid, repeat_interleave -----------------------------------

def ravel(input):
    """The elements as a 1-d tensor (a view when possible)."""
    return reshape(input, (-1,))


def atleast_1d(*tensors):
    out = [x if x.ndim >= 1 else reshape(x, (1,)) for x in _flat_args(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    out = [x if x.ndim >= 2 else reshape(x, (1, -1) if x.ndim else (1, 1)) for x in _flat_args(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    def lift(x):
        if x.ndim == 0:
            return reshape(x, (1, 1, 1))
        if x.ndim == 1:
            return reshape(x, (1, -1, 1))
        return unsqueeze(x, -1) if x.ndim == 2 else x
    out = [lift(x) for x in _flat_args(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def _flat_args(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-d tensors)."""
    tensors = [atleast_1d(x) for x in _tensor_list(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0 after making every tensor at least 2-d."""
    return cat([atleast_2d(x) for x in _tensor_list(tensors, "vstack")], 0)


def dstack(tensors):
    """Concatenate along dim 2 after making every tensor at least 3-d."""
    return cat([atleast_3d(x) for x in _tensor_list(tensors, "dstack")], 2)


def column_stack(tensors):
    """Stack 0-d/1-d tensors as columns (2-d tensors are kept) and concatenate along dim 1."""
    cols = [reshape(x, (-1, 1)) if x.ndim <= 1 else x for x in _tensor_list(tensors, "column_stack")]
    return cat(cols, 1)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-d tensors; ``indexing`` is 'ij' (matrix) or 'xy' (Cartesian)."""
    tensors = _flat_args(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for i, x in enumerate(tensors):
        if x.ndim > 1:
            raise RuntimeError(f"meshgrid: expects 0-d or 1-d tensors, but tensor {i} has shape {tuple(x.shape)}")
    sizes = [x._data.size for x in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for i, x in enumerate(tensors):
        pos = (1 - i if i < 2 else i) if swap else i
        shape = [1] * len(tensors)
        shape[pos] = sizes[pos]
        grids.append(expand(reshape(x, tuple(shape)), tuple(sizes)))
    return tuple(grids)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times (an int, or one count per element) along ``dim``."""
    from .index import IndexSelect
    Tensor = _tensor_type()
    if repeats is None:   # repeat_interleave(counts): the indices 0..n-1, each repeated counts[i] times
        counts = input._data
        return Tensor._wrap(input.xp.repeat(input.xp.arange(counts.size), counts), input._device)
    if dim is None:
        input, dim = reshape(input, (-1,)), 0
    d = normalize_dim(dim, input.ndim, "repeat_interleave")
    xp = input.xp
    n = input.shape[d]
    if isinstance(repeats, Tensor):
        counts = repeats._data
        if counts.ndim > 1 or (counts.size != 1 and counts.size != n):
            raise RuntimeError(f"repeat_interleave: repeats must have {n} entries (one per element along dim "
                               f"{d}) or be a single number, got shape {tuple(counts.shape)}")
        counts = counts.reshape(-1)
        if counts.size == 1:
            counts = int(counts[0])
    else:
        counts = operator.index(repeats)
    return IndexSelect(d, xp.repeat(xp.arange(n), counts)).apply(input)


# -- padding and copies --------------------------------------------------------------------------

class ConstantPad(Node):
    __slots__ = ("pads", "value")

    def __init__(self, pads, value):
        self.pads, self.value = pads, value

    def forward(self, x):
        from ..backend import kernels
        out = kernels.pad_constant(self.xp, x, self.pads, self.value)
        return out.copy() if out is x else out   # pad always returns new memory, like PyTorch

    def backward(self, grad):
        # The adjoint of padding by (lo, hi) is cropping by (lo, hi): pad by the negated amounts.
        return ConstantPad(tuple((-lo, -hi) for lo, hi in self.pads), 0).apply(grad)


def pad(input, pad, mode="constant", value=None):
    """Pad with ``value``; ``pad`` lists (left, right) pairs starting from the LAST dim. Negative crops."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode={mode!r} is not supported by ndgrad.pad (only 'constant'); "
                                  f"use ndgrad.nn.functional.pad for reflect/replicate/circular padding")
    amounts = [operator.index(p) for p in pad]
    if len(amounts) % 2:
        raise ValueError(f"pad: the padding length must be even (left, right pairs), got {len(amounts)} values")
    if len(amounts) // 2 > input.ndim:
        raise ValueError(f"pad: padding {amounts} has {len(amounts) // 2} (left, right) pairs but the input "
                         f"has only {input.ndim} dims (shape {tuple(input.shape)})")
    pairs = [(amounts[i], amounts[i + 1]) for i in range(0, len(amounts), 2)][::-1]  # first dim first
    shape = input.shape[input.ndim - len(pairs):]
    for k, (n, (lo, hi)) in enumerate(zip(shape, pairs)):
        if n + lo + hi < 0:
            dim = input.ndim - len(pairs) + k
            raise RuntimeError(f"pad: padding ({lo}, {hi}) on dim {dim} of size {n} gives a negative size "
                               f"{n + lo + hi} (input shape {tuple(input.shape)}); crop less")
    return ConstantPad(tuple(pairs), 0 if value is None else value).apply(input)


class Clone(Node):
    __slots__ = ()

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


def clone(input, memory_format=None):
    """A copy of the data that stays in the graph (its gradient flows back to ``input``)."""
    return Clone().apply(input)


def contiguous(input, memory_format=None):
    """``input`` itself when already C-contiguous, else a contiguous copy."""
    if input._data.flags.c_contiguous:
        return input
    return Clone().apply(input)


METHODS = {
    "reshape": reshape, "view": view, "view_as": view_as, "reshape_as": reshape_as,
    "flatten": flatten, "unflatten": unflatten, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "permute": permute, "transpose": transpose, "swapaxes": swapaxes, "swapdims": swapdims, "t": t,
    "movedim": movedim, "moveaxis": moveaxis, "expand": expand, "expand_as": expand_as,
    "broadcast_to": broadcast_to, "repeat": repeat, "tile": tile, "split": split, "chunk": chunk,
    "unbind": unbind, "narrow": narrow, "select": select, "flip": flip, "fliplr": fliplr,
    "flipud": flipud, "roll": roll, "tril": tril, "triu": triu, "contiguous": contiguous, "clone": clone,
    "diagonal": diagonal, "diag_embed": diag_embed, "diag": diag, "trace": trace, "ravel": ravel,
    "repeat_interleave": repeat_interleave,
}

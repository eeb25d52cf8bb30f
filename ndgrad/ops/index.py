"""Differentiable indexing: getitem/setitem, gather/scatter, index_select, masked ops, nonzero.

Indexing follows PyTorch, which differs from NumPy in one place: integers are
applied first as plain selections, so ``x[0, :, [1, 2]]`` has shape
``(x.shape[1], 2)`` (NumPy gives ``(2, x.shape[1])``). ``getitem`` therefore
runs in two steps: a basic view (ints, slices, None) and then, if there are
index tensors, one advanced index into that view.

Gradients of gathers scatter-add into zeros, so repeated indices accumulate.
Each gather/scatter-add pair is written as two Functions that are each other's
backward, which makes every rule here twice differentiable.
"""
import math
import operator

from ..autograd import node as _node
from ..autograd import grad_mode
from ..autograd.node import Node
from ..backend import kernels, to_device, xp_of
from .shape import normalize_dim, broadcast_shapes, expand, reshape

__all__ = ["getitem", "setitem", "index_put", "index_put_", "gather", "scatter", "scatter_",
           "scatter_add", "scatter_add_", "index_select", "masked_fill", "masked_fill_", "masked_select",
           "take_along_dim", "take", "nonzero", "argwhere", "index_add", "index_fill", "index_copy"]


# -- index arrays --------------------------------------------------------------------------------

def _index_array(obj, x, op, subscript=False):
    """A raw int or bool array on x's device from a Tensor, list, range, or numpy/cupy array.

    subscript: for ``x[...]`` only, PyTorch's legacy rules: a uint8 index is a (deprecated) mask, and
    lists and NumPy arrays of floats are truncated to integers (Tensors of floats are an error)."""
    Tensor = _node.Tensor
    xp = x.xp
    if isinstance(obj, Tensor):
        arr = obj._data if obj._device == x._device else to_device(obj._data, x._device)
    elif isinstance(obj, (list, tuple, range)):
        try:
            arr = xp.asarray(_host_values(obj))
        except (TypeError, ValueError):
            raise IndexError(f"{op}: a list index must hold only ints or only bools, got {obj!r}") from None
        if arr.size == 0:
            arr = arr.astype(xp.int64)
    else:
        arr = to_device(obj, x._device)
    kind = arr.dtype.kind
    if subscript and kind == "f" and not isinstance(obj, Tensor) and hasattr(obj, "__len__"):  # no np scalar
        arr = arr.astype(xp.int64)  # PyTorch truncates float sequences / NumPy arrays used as indices
        kind = "i"
    if kind not in "biu":
        raise IndexError(f"{op}: tensors used as indices must be long, int or bool tensors, got dtype "
                         f"{arr.dtype}; convert the index with .long() (or .bool() for a mask)")
    if subscript and arr.dtype == xp.uint8:
        import warnings
        warnings.warn(f"{op}: indexing with dtype uint8 is now deprecated, please use a dtype bool instead "
                      f"(a uint8 index is read as a mask, as in PyTorch)", UserWarning, stacklevel=4)
        arr = arr.astype(bool)
    return arr


def _host_values(obj):
    """A nested list/tuple/range of ints, bools, 0-d tensors or arrays as plain Python values."""
    if isinstance(obj, range):
        return list(obj)
    if isinstance(obj, (list, tuple)):
        if all(type(o) is int or type(o) is bool for o in obj):
            return obj  # the common case: nothing to convert
        return [_host_values(o) for o in obj]
    if isinstance(obj, _node.Tensor):
        return obj.tolist()
    if hasattr(obj, "tolist"):  # numpy / cupy arrays and scalars
        return obj.tolist()
    return obj


def _sequence_as_tuple(index):
    """PyTorch's (NumPy's legacy) rule: a non-tuple sequence index shorter than 32 that holds a tensor, a
    sequence, a slice, None or ... is read as a tuple of indices (``x[[i, j]]`` with lists i, j)."""
    if not isinstance(index, (list, range)) or len(index) >= 32:
        return False
    return any(isinstance(o, (_node.Tensor, list, tuple, range, slice)) or o is None or o is Ellipsis
               or (hasattr(o, "shape") and hasattr(o, "__len__")) for o in index)


def _check_bounds(arr, size, dim, op, allow_negative=True):
    """Raise IndexError naming the dim, the bad index and the size; return arr with negatives wrapped."""
    if arr.size == 0:
        return arr
    lo, hi = int(arr.min()), int(arr.max())
    low_limit = -size if allow_negative else 0
    if lo < low_limit or hi >= size:
        bad = lo if lo < low_limit else hi
        valid = f"{-size}..{size - 1}" if allow_negative else f"0..{size - 1}"
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}; "
                         f"valid indices are {valid}" if size else
                         f"{op}: index {bad} is out of bounds for dimension {dim} with size 0 (the dim is empty)")
    if lo < 0:   # wrap negatives here so that every kernel below sees indices in [0, size)
        arr = xp_of(arr).where(arr < 0, arr + size, arr)
    return arr


def _is_index_like(obj):
    """A Tensor, a list, or a numpy/cupy array (or numpy integer)."""
    return isinstance(obj, (_node.Tensor, list)) or (hasattr(obj, "dtype") and hasattr(obj, "shape"))


def _parse_index(x, index, op):
    """Split ``index`` into (basic, advanced).

    basic: a full tuple of ints / slices / None for a view (None when it is the identity);
    advanced: a tuple of slices and index arrays to apply to that view, or None.
    """
    if _sequence_as_tuple(index):
        import warnings
        warnings.warn(f"{op}: Using a non-tuple sequence for multidimensional indexing is deprecated; use "
                      f"x[tuple(seq)] instead of x[seq] (read as a tuple, as PyTorch does)", UserWarning,
                      stacklevel=3)
        index = tuple(index)
    elif not isinstance(index, tuple):
        index = (index,)
    items = []
    for item in index:
        if item is None or item is Ellipsis or isinstance(item, slice):
            items.append(_check_slice(item, op) if isinstance(item, slice) else item)
        elif isinstance(item, bool):
            items.append(x.xp.asarray(item))
        elif isinstance(item, int):
            items.append(item)
        elif _is_index_like(item) or isinstance(item, range):
            arr = _index_array(item, x, op, subscript=True)
            items.append(int(arr) if arr.ndim == 0 and arr.dtype.kind != "b" else arr)
        else:
            try:
                items.append(operator.index(item))
            except TypeError:
                raise IndexError(f"{op}: only integers, slices (:), ellipsis (...), None and integer or "
                                 f"boolean tensors/lists are valid indices, got {type(item).__name__}") from None

    shape = x.shape
    ndim = len(shape)
    consumed = sum(_dims_used(it) for it in items)
    n_ellipsis = sum(1 for it in items if it is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    if consumed > ndim:
        raise IndexError(f"{op}: too many indices for tensor of dimension {ndim} (shape {tuple(shape)}): "
                         f"the index addresses {consumed} dims")
    if n_ellipsis:
        at = next(i for i, it in enumerate(items) if it is Ellipsis)
        items[at:at + 1] = [slice(None)] * (ndim - consumed)
    else:
        items += [slice(None)] * (ndim - consumed)

    basic, advanced = [], []
    has_advanced = False
    identity = True
    dim = 0
    for it in items:
        if it is None:
            basic.append(None)
            advanced.append(slice(None))
            identity = False
        elif isinstance(it, int):
            size = shape[dim]
            if not -size <= it < size:
                raise IndexError(f"{op}: index {it} is out of bounds for dimension {dim} with size {size}; "
                                 f"valid indices are {-size}..{size - 1}" if size else
                                 f"{op}: index {it} is out of bounds for dimension {dim} with size 0 "
                                 f"(the dim is empty)")
            basic.append(it)
            identity = False
            dim += 1
        elif isinstance(it, slice):
            basic.append(it)
            advanced.append(slice(None))
            identity = identity and it == slice(None)
            dim += 1
        elif it.dtype.kind == "b":
            k = it.ndim
            if tuple(it.shape) != tuple(shape[dim:dim + k]):
                raise IndexError(f"{op}: the shape of the mask {list(it.shape)} at index {dim} does not match "
                                 f"the shape of the indexed tensor {list(shape)} at index {dim}; a mask must "
                                 f"have the same sizes as the dims it indexes")
            basic += [slice(None)] * k
            advanced.append(it)
            has_advanced = True
            dim += k
        else:
            advanced.append(_check_bounds(it, shape[dim], dim, op))
            basic.append(slice(None))
            has_advanced = True
            dim += 1
    return (None if identity else tuple(basic)), (tuple(advanced) if has_advanced else None)


def _dims_used(item):
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, (int, slice)):
        return 1
    return item.ndim if item.dtype.kind == "b" else 1


def _check_slice(s, op):
    try:
        parts = [None if v is None else operator.index(v) for v in (s.start, s.stop, s.step)]
    except TypeError:
        raise IndexError(f"{op}: slice bounds must be integers or None, got {s}") from None
    if parts[2] is not None and parts[2] <= 0:
        raise ValueError(f"{op}: step must be greater than zero (got slice step {parts[2]}); "
                         f"use .flip(dim) to reverse a dim")
    return slice(*parts)


def _single_take_dim(advanced):
    """The dim of the one integer index array when all other entries are ':' (a take along that dim)."""
    found = None
    for d, it in enumerate(advanced):
        if isinstance(it, slice):
            continue
        if found is not None or it.dtype.kind == "b":
            return None
        found = d
    return found


# -- the gather / scatter-add pairs --------------------------------------------------------------

class BasicIndex(Node):
    """A view through ints, slices and None."""
    __slots__ = ("index", "in_shape")
    is_view = True

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.in_shape = x.shape
        return x[self.index + (Ellipsis,)]   # the Ellipsis keeps a 0-d result an array view

    def backward(self, grad):
        return BasicIndexBackward(self.index, self.in_shape).apply(grad)


class BasicIndexBackward(Node):
    """Zeros of the input shape with the gradient written into the indexed view."""
    __slots__ = ("index", "shape")

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, grad):
        out = self.xp.zeros(self.shape, dtype=grad.dtype)
        out[self.index + (Ellipsis,)] = grad
        return out

    def backward(self, grad):
        return BasicIndex(self.index).apply(grad)


class IndexSelect(Node):
    """``x`` taken at ``index`` (any shape) along ``dim``: output dims x[:dim] + index + x[dim+1:]."""
    __slots__ = ("dim", "index", "in_shape")

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        self.in_shape = x.shape
        return self.xp.take(x, self.index, axis=self.dim)

    def backward(self, grad):
        return IndexAddInto(self.dim, self.index, self.in_shape).apply(grad)


class IndexAddInto(Node):
    """Adjoint of IndexSelect: zeros of ``shape`` with the gradient added at ``index`` along ``dim``."""
    __slots__ = ("dim", "index", "shape")

    def __init__(self, dim, index, shape):
        self.dim, self.index, self.shape = dim, index, shape

    def forward(self, grad):
        out = self.xp.zeros(self.shape, dtype=grad.dtype)
        kernels.scatter_add(self.xp, out, (slice(None),) * self.dim + (self.index,), grad)
        return out

    def backward(self, grad):
        return IndexSelect(self.dim, self.index).apply(grad)


class TakeFlat(Node):
    """``x.flatten()[positions]``: every gather is this with precomputed flat positions."""
    __slots__ = ("positions", "in_shape")

    def __init__(self, positions):
        self.positions = positions

    def forward(self, x):
        self.in_shape = x.shape
        return self.xp.take(x, self.positions)   # take without axis reads the C-order flattening

    def backward(self, grad):
        return PutAddFlat(self.positions, self.in_shape).apply(grad)


class PutAddFlat(Node):
    """Adjoint of TakeFlat: zeros of ``shape`` with the gradient added at the flat positions."""
    __slots__ = ("positions", "shape")

    def __init__(self, positions, shape):
        self.positions, self.shape = positions, shape

    def forward(self, grad):
        out = self.xp.zeros(math.prod(self.shape), dtype=grad.dtype)
        kernels.scatter_add(self.xp, out, self.positions.reshape(-1),
                            self.xp.broadcast_to(grad, self.positions.shape).reshape(-1))
        return out.reshape(self.shape)

    def backward(self, grad):
        return TakeFlat(self.positions).apply(grad)


class AdvancedIndex(Node):
    """``x[index]`` with index arrays (a copy); the backward scatter-adds through flat positions."""
    __slots__ = ("index", "in_shape")

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.in_shape = x.shape
        return x[self.index]

    def backward(self, grad):
        xp = self.xp
        positions = xp.arange(math.prod(self.in_shape)).reshape(self.in_shape)[self.index]
        return PutAddFlat(positions, self.in_shape).apply(grad)


def _apply_advanced(x, advanced):
    dim = _single_take_dim(advanced)
    if dim is not None:
        return IndexSelect(dim, advanced[dim]).apply(x)
    return AdvancedIndex(advanced).apply(x)


def _apply_index(x, basic, advanced):
    if basic is not None:
        x = BasicIndex(basic).apply(x)
    if advanced is not None:
        x = _apply_advanced(x, advanced)
    return x


def getitem(input, index):
    """``input[index]``: ints, slices, None, ..., integer / bool tensors or lists, like PyTorch."""
    basic, advanced = _parse_index(input, index, "getitem")
    if basic is None and advanced is None:
        return BasicIndex(()).apply(input)
    return _apply_index(input, basic, advanced)


# -- writing through an index ----------------------------------------------------------------------

class IndexPut(Node):
    """``out = x; out[index] = value`` (or ``+=`` with accumulate), in place when ``inplace``.

    Inputs: (x, value) or just (x,) when the value is the Python number ``scalar``.
    """
    __slots__ = ("basic", "advanced", "accumulate", "inplace", "scalar", "value_ndim")

    def __init__(self, basic, advanced, accumulate=False, inplace=False, scalar=None):
        self.basic, self.advanced = basic, advanced
        self.accumulate, self.inplace, self.scalar = accumulate, inplace, scalar

    def forward(self, x, value=None):
        xp = self.xp
        out = x if self.inplace else x.copy()
        value = xp.asarray(self.scalar if value is None else value, dtype=out.dtype)
        self.value_ndim = value.ndim
        target = out if self.basic is None else out[self.basic + (Ellipsis,)]
        try:
            if self.advanced is None:
                if self.accumulate:
                    target += value
                else:
                    target[...] = value
            elif self.accumulate:
                shape = target[self.advanced].shape   # the indexed shape: checks value broadcasts first
                kernels.scatter_add(xp, target, self.advanced, xp.broadcast_to(value, shape))
            else:
                target[self.advanced] = value
        except ValueError as e:
            raise RuntimeError(f"setitem: a value of shape {tuple(value.shape)} cannot be broadcast to the "
                               f"indexed part of the tensor (shape {tuple(x.shape)}) ({e}); give a value "
                               f"whose shape broadcasts to the indexed shape") from None
        return out

    def backward(self, grad):
        grad_x = grad_value = None
        if self.needs_input_grad[0]:
            grad_x = grad if self.accumulate else \
                IndexPut(self.basic, self.advanced, scalar=0).apply(grad)
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            grad_value = _apply_index(grad, self.basic, self.advanced)
            if grad_value.ndim < self.value_ndim:   # the value had extra leading size-1 dims
                grad_value = reshape(grad_value, (1,) * (self.value_ndim - grad_value.ndim) + grad_value.shape)
        return (grad_x, grad_value) if len(self.needs_input_grad) > 1 else grad_x


def _value_operand(x, value, op):
    """(tensor or None, python scalar or None) for a value written into x."""
    Tensor = _node.Tensor
    if isinstance(value, Tensor):
        if value.dtype.np != x._data.dtype and value.requires_grad:
            value = value.to(x.dtype)   # keep the cast in the graph so the value's gradient flows
        return value, None
    if isinstance(value, (bool, int, float)):
        return None, value
    try:
        arr = x.xp.asarray(to_device(value, x._device) if hasattr(value, "shape") else value,
                           dtype=x._data.dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: the value must be a tensor, a number or an array-like, "
                        f"got {type(value).__name__}") from None
    return Tensor._wrap(arr, x._device), None


def _write_inplace(x, fn, value, op):
    """Run ``fn`` (an IndexPut-like Function with inplace=True) on ``x``'s memory and rebind x's history.

    The node's input is an alias of x with x's previous history, so the graph
    stays acyclic; x then becomes the node's output.
    """
    from .inplace import _is_view, _positions_in_base, _rebase_history  # inplace imports this module
    Tensor = _node.Tensor
    value_grad = value is not None and value.requires_grad
    track = grad_mode.state.enabled and (x.requires_grad or value_grad)
    view_of = None
    if track:
        x._check_inplace(op)
        if _is_view(x):  # x[0][1] = v: the base's history is rewritten too (CopySlices)
            view_of = x._base
            view_of._check_inplace(op + " (on a view of it)")
            positions = _positions_in_base(x, view_of, op)
        alias = Tensor._wrap(x._data, x._device, requires_grad=x.requires_grad, grad_fn=x.grad_fn)
    else:
        alias = Tensor._wrap(x._data, x._device)
        if value is not None:
            value = Tensor._wrap(value._data, value._device)
    if track:
        out = fn.apply(alias) if value is None else fn.apply(alias, value)
    else:
        with grad_mode.no_grad():
            out = fn.apply(alias) if value is None else fn.apply(alias, value)
    if out._data is not x._data:
        x._data[...] = out._data
    x._bump_version()
    if view_of is not None:
        _rebase_history(x, view_of, out, positions)
    elif track:
        x.grad_fn = out.grad_fn
        x.requires_grad = True
    return x


def setitem(input, index, value):
    """``input[index] = value`` (in place; differentiable w.r.t. input's history and the value)."""
    data = input._data
    if data.size and any(st == 0 and sh > 1 for st, sh in zip(data.strides, data.shape)):
        from .inplace import setitem_shared_memory  # an expanded view: write into its base, as PyTorch
        return setitem_shared_memory(input, index, value)
    basic, advanced = _parse_index(input, index, "setitem")
    value, scalar = _value_operand(input, value, "setitem")
    _write_inplace(input, IndexPut(basic, advanced, inplace=True, scalar=scalar), value, "setitem")


def _put_index(input, indices, op):
    Tensor = _node.Tensor
    if isinstance(indices, Tensor) or not isinstance(indices, (list, tuple)):
        raise TypeError(f"{op}: indices must be a tuple of index tensors, one per indexed dim, "
                        f"e.g. {op}((rows, cols), values)")
    return _parse_index(input, tuple(indices), op)


def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` written at ``indices`` (added, with accumulate=True)."""
    basic, advanced = _put_index(input, indices, "index_put")
    value, scalar = _value_operand(input, values, "index_put")
    fn = IndexPut(basic, advanced, accumulate=accumulate, scalar=scalar)
    return fn.apply(input) if value is None else fn.apply(input, value)


def index_put_(input, indices, values, accumulate=False):
    """In-place ``index_put``."""
    basic, advanced = _put_index(input, indices, "index_put_")
    value, scalar = _value_operand(input, values, "index_put_")
    return _write_inplace(input, IndexPut(basic, advanced, accumulate=accumulate, inplace=True,
                                          scalar=scalar), value, "index_put_")


# -- gather / scatter along a dim --------------------------------------------------------------------

def _dim_positions(xp, index, dim, shape):
    """Flat positions into a C-order array of ``shape`` for ``index`` used along ``dim``."""
    ndim = len(shape)
    strides = [1] * ndim
    for d in range(ndim - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    pos = index.astype(xp.int64) * (strides[dim] if ndim else 1)
    for d in range(ndim):
        if d != dim:
            coord = xp.arange(index.shape[d], dtype=xp.int64).reshape((-1,) + (1,) * (ndim - d - 1))
            pos = pos + coord * strides[d]
    return pos


def _check_gather_index(input, dim, index, op, other=None):
    """Normalize dim, convert index, check rank, sizes (index.size(d) <= input.size(d)) and bounds."""
    d = normalize_dim(dim, input.ndim, op)
    idx = _index_array(index, input, op)
    if idx.dtype.kind == "b":
        raise RuntimeError(f"{op}: expected an integer (int64) index tensor, got a bool tensor; "
                           f"use masked_select/masked_fill for masks")
    if idx.ndim != input.ndim and not (idx.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(f"{op}: index tensor must have the same number of dimensions as the input "
                           f"tensor: index shape {tuple(idx.shape)} vs input shape {tuple(input.shape)}")
    ishape = tuple(idx.shape) if idx.ndim == input.ndim else (idx.size,) * input.ndim
    for j in range(input.ndim):
        limits = [(input.shape[j], "input")] + ([(other.shape[j], "src")] if other is not None else [])
        for size, name in limits:
            if j != d and ishape[j] > size:
                raise RuntimeError(f"{op}: size of the index {ishape} must not exceed the size of {name} "
                                   f"({tuple(input.shape if name == 'input' else other.shape)}) at dimension "
                                   f"{j} (apart from dim={d})")
    idx = idx.reshape(ishape) if input.ndim else idx.reshape(())
    size = input.shape[d] if input.ndim else 1
    _check_bounds(idx, size, d, op, allow_negative=False)
    return d, idx


def gather(input, dim, index, sparse_grad=False):
    """``out[i][j] = input[index[i][j]][j]`` for dim=0 (and so on for every dim)."""
    d, idx = _check_gather_index(input, dim, index, "gather")
    return TakeFlat(_dim_positions(input.xp, idx, d, input.shape)).apply(input)


def take_along_dim(input, indices, dim=None):
    """Gather along ``dim`` after broadcasting input and indices in the other dims (negatives allowed)."""
    idx = _index_array(indices, input, "take_along_dim")
    if dim is None:
        flat_n = input._data.size
        idx = _check_bounds(idx.reshape(-1), flat_n, 0, "take_along_dim")
        return TakeFlat(idx).apply(input)
    d = normalize_dim(dim, input.ndim, "take_along_dim")
    if idx.ndim != input.ndim:
        raise RuntimeError(f"take_along_dim: input and indices should have the same number of dimensions, "
                           f"but got shapes {tuple(input.shape)} and {tuple(idx.shape)}")
    in_shape, idx_shape = list(input.shape), list(idx.shape)
    in_shape[d] = idx_shape[d] = 1
    common = list(broadcast_shapes(tuple(in_shape), tuple(idx_shape), op="take_along_dim"))
    x_shape, i_shape = common.copy(), common.copy()
    x_shape[d], i_shape[d] = input.shape[d], idx.shape[d]
    idx = _check_bounds(input.xp.broadcast_to(idx, tuple(i_shape)), input.shape[d], d, "take_along_dim")
    x = expand(input, tuple(x_shape)) if tuple(x_shape) != tuple(input.shape) else input
    return TakeFlat(_dim_positions(input.xp, idx, d, tuple(x_shape))).apply(x)


def take(input, index, axis=None):
    """``input.flatten()[index]`` (negative indices count from the end).

    With ``axis`` (the array-API form), the entries at ``index`` along that axis.
    """
    idx = _index_array(index, input, "take")
    if axis is not None:
        d = normalize_dim(axis, input.ndim, "take")
        return IndexSelect(d, _check_bounds(idx, input.shape[d], d, "take")).apply(input)
    return TakeFlat(_check_bounds(idx, input._data.size, 0, "take")).apply(input)


class ScatterFlat(Node):
    """A copy of x with the flat positions set to src (a tensor input) or to ``scalar``."""
    __slots__ = ("positions", "scalar", "accumulate")

    def __init__(self, positions, scalar=None, accumulate=False):
        self.positions, self.scalar, self.accumulate = positions, scalar, accumulate

    def forward(self, x, src=None):
        xp = self.xp
        out = x.copy()           # C-contiguous, so the reshape below is a view
        flat = out.reshape(-1)
        pos = self.positions.reshape(-1)
        values = xp.asarray(self.scalar, dtype=x.dtype) if src is None else src.astype(x.dtype, copy=False)
        values = xp.broadcast_to(values, self.positions.shape).reshape(-1)
        if self.accumulate:
            kernels.scatter_add(xp, flat, pos, values)
        else:
            flat[pos] = values
        return out

    def backward(self, grad):
        grad_x = grad_src = None
        if self.needs_input_grad[0]:
            grad_x = grad if self.accumulate else ScatterFlat(self.positions, scalar=0).apply(grad)
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            grad_src = TakeFlat(self.positions).apply(grad)
        return (grad_x, grad_src) if len(self.needs_input_grad) > 1 else grad_x


def _scatter_src(src, idx):
    """src cut to the index's shape (PyTorch reads only that corner of src)."""
    if tuple(src.shape) == tuple(idx.shape):
        return src
    return BasicIndex(tuple(slice(0, n) for n in idx.shape)).apply(src)


def _scatter(input, dim, index, src, value, reduce, op, accumulate):
    Tensor = _node.Tensor
    if reduce is not None:
        if reduce != "add":
            raise NotImplementedError(f"{op}: reduce={reduce!r} is not supported; use reduce='add' "
                                      f"(or scatter_add)")
        accumulate = True
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src   # scatter(input, dim, index, 1.5): a number is the value
    if src is None and value is None:
        raise TypeError(f"{op}: give either src (a tensor) or value (a number)")
    d, idx = _check_gather_index(input, dim, index, op, other=src)
    positions = _dim_positions(input.xp, idx, d, input.shape)
    if src is None:
        return ScatterFlat(positions, scalar=value, accumulate=accumulate), None
    if src.dtype.np != input._data.dtype:
        raise RuntimeError(f"{op}: expected self and src to have the same dtype, got {input.dtype} and "
                           f"{src.dtype}; convert src with .to({input.dtype})")
    return ScatterFlat(positions, accumulate=accumulate), _scatter_src(src, idx)


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """A copy of ``input`` with ``src`` (or ``value``) written at ``index`` along ``dim``."""
    fn, src = _scatter(input, dim, index, src, value, reduce, "scatter", False)
    return fn.apply(input) if src is None else fn.apply(input, src)


def scatter_(input, dim, index, src=None, value=None, reduce=None):
    fn, src = _scatter(input, dim, index, src, value, reduce, "scatter_", False)
    return _write_inplace(input, fn, src, "scatter_")


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    fn, src = _scatter(input, dim, index, src, None, None, "scatter_add", True)
    return fn.apply(input) if src is None else fn.apply(input, src)


def scatter_add_(input, dim, index, src):
    fn, src = _scatter(input, dim, index, src, None, None, "scatter_add_", True)
    return _write_inplace(input, fn, src, "scatter_add_")


def index_select(input, dim, index):
    """The entries at ``index`` (a 1-d int tensor) along ``dim``."""
    d = normalize_dim(dim, input.ndim, "index_select")
    idx = _index_array(index, input, "index_select")
    if idx.ndim > 1 or idx.dtype.kind == "b":
        raise IndexError(f"index_select: index must be a 1-d (or 0-d) integer tensor, got shape "
                         f"{tuple(idx.shape)} of dtype {idx.dtype}")
    idx = _check_bounds(idx.reshape(-1), input.shape[d] if input.ndim else 1, d, "index_select",
                        allow_negative=False)
    if input.ndim == 0:   # PyTorch treats a 0-d input as one element and returns a 0-d result
        return reshape(IndexSelect(0, idx).apply(reshape(input, (1,))), ())
    return IndexSelect(d, idx).apply(input)


def _index_along(input, dim, index, op):
    d = normalize_dim(dim, input.ndim, op) if input.ndim else normalize_dim(dim, 0, op)
    idx = _index_array(index, input, op)
    if idx.ndim > 1 or idx.dtype.kind == "b":
        raise IndexError(f"{op}: index must be a 1-d integer tensor, got shape {tuple(idx.shape)} of dtype "
                         f"{idx.dtype}")
    size = input.shape[d] if input.ndim else 1
    return d, _check_bounds(idx.reshape(-1), size, d, op)


def _check_source(input, d, idx, source, op):
    want = list(input.shape)
    if want:
        want[d] = idx.size
    if list(source.shape) != want and not (source.ndim == 0 and idx.size == 1):
        raise RuntimeError(f"{op}: source of shape {tuple(source.shape)} should have shape {tuple(want)}: the "
                           f"input's shape {tuple(input.shape)} with dim {d} of the index's length {idx.size}")
    if source.dtype.np != input._data.dtype:
        raise RuntimeError(f"{op}: self ({input.dtype}) and source ({source.dtype}) must have the same dtype; "
                           f"convert source with .to({input.dtype})")


def _dim_mask(input, d, idx):
    """A bool mask, broadcastable to input, that is True at the positions ``idx`` along dim ``d``."""
    xp = input.xp
    shape = [1] * input.ndim
    if shape:
        shape[d] = input.shape[d]
    mask = xp.zeros(max(input.shape[d], 1) if input.ndim else 1, dtype=bool)
    mask[idx] = True
    return mask.reshape(shape)


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` plus ``alpha * source`` added at ``index`` along ``dim`` (repeats accumulate)."""
    d, idx = _index_along(input, dim, index, "index_add")
    _check_source(input, d, idx, source, "index_add")
    if input.ndim == 0:
        return input + source.reshape(()) * alpha if alpha != 1 else input + source.reshape(())
    src = source if alpha == 1 else source * alpha
    return input + IndexAddInto(d, idx, tuple(input.shape)).apply(src)


def index_fill(input, dim, index, value):
    """``input`` with ``value`` at every position ``index`` along ``dim``."""
    d, idx = _index_along(input, dim, index, "index_fill")
    return masked_fill(input, _dim_mask(input, d, idx), value)


def index_copy(input, dim, index, source):
    """``input`` with the slices at ``index`` along ``dim`` replaced by those of ``source``."""
    d, idx = _index_along(input, dim, index, "index_copy")
    _check_source(input, d, idx, source, "index_copy")
    if input.ndim == 0:
        return source.reshape(()) * 1
    return masked_fill(input, _dim_mask(input, d, idx), 0) + IndexAddInto(d, idx, tuple(input.shape)).apply(source)


def _composite_inplace(name, fn):
    def op(self, *args, **kwargs):
        from .inplace import _inplace
        others = [a for a in args if isinstance(a, _node.Tensor)]
        return _inplace(self, name, lambda t: fn(t, *args, **kwargs), *others)
    op.__name__ = name
    return op


# -- masks ------------------------------------------------------------------------------------------

class MaskedFill(Node):
    """``where(mask, value, x)``; inputs are (x,) with a Python ``scalar`` or (x, value) with a 0-d value."""
    __slots__ = ("mask", "scalar")

    def __init__(self, mask, scalar=None):
        self.mask, self.scalar = mask, scalar

    def forward(self, x, value=None):
        fill = self.xp.asarray(self.scalar if value is None else value, dtype=x.dtype)
        return self.xp.where(self.mask, fill, x)

    def backward(self, grad):
        grad_x = grad_value = None
        if self.needs_input_grad[0]:
            grad_x = MaskedFill(self.mask, 0).apply(grad)
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            grad_value = MaskedFill(~self.mask, 0).apply(grad).sum()
        return (grad_x, grad_value) if len(self.needs_input_grad) > 1 else grad_x


def _mask_array(mask, x, op):
    dtype = getattr(mask, "dtype", None)
    if dtype is not None and getattr(dtype, "np", dtype).kind != "b":
        raise RuntimeError(f"{op}: expected a bool mask, got dtype {dtype}; build it with a comparison "
                           f"(x > 0) or convert it with .bool()")
    arr = _index_array(mask, x, op)
    if arr.dtype.kind != "b":
        raise RuntimeError(f"{op}: expected a bool mask, got dtype {arr.dtype}; build it with a comparison "
                           f"(x > 0) or convert it with .bool()")
    return arr


def _masked_fill_parts(input, mask, value, op):
    Tensor = _node.Tensor
    m = _mask_array(mask, input, op)
    broadcast_shapes(tuple(input.shape), tuple(m.shape), op=op)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{op}: only supports a 0-dimensional value tensor, but got a tensor with "
                               f"{value.ndim} dimension(s) (shape {tuple(value.shape)}); pass a number or a "
                               f"0-d tensor")
        return MaskedFill(m), value
    return MaskedFill(m, value), None


def masked_fill(input, mask, value):
    """``input`` with ``value`` where ``mask`` is True (mask broadcasts)."""
    fn, value = _masked_fill_parts(input, mask, value, "masked_fill")
    return fn.apply(input) if value is None else fn.apply(input, value)


def masked_fill_(input, mask, value):
    m = _mask_array(mask, input, "masked_fill_")
    out_shape = broadcast_shapes(tuple(input.shape), tuple(m.shape), op="masked_fill_")
    if out_shape != tuple(input.shape):
        raise RuntimeError(f"masked_fill_: the mask of shape {tuple(m.shape)} must broadcast to the tensor's "
                           f"shape {tuple(input.shape)} for an in-place fill")
    fn, value = _masked_fill_parts(input, mask, value, "masked_fill_")
    return _write_inplace(input, fn, value, "masked_fill_")


def masked_select(input, mask):
    """A 1-d tensor of the entries of ``input`` where ``mask`` (broadcast together) is True."""
    m = _mask_array(mask, input, "masked_select")
    shape = broadcast_shapes(tuple(input.shape), tuple(m.shape), op="masked_select")
    x = expand(input, shape) if shape != tuple(input.shape) else input
    m = input.xp.broadcast_to(m, shape)
    return AdvancedIndex((m,)).apply(x)


def nonzero(input, as_tuple=False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or a tuple of 1-d tensors."""
    Tensor = _node.Tensor
    xp = input.xp
    data = input._data
    if data.ndim == 0:
        found = xp.nonzero(data.reshape(1))[0]
        if as_tuple:
            return (Tensor._wrap(found.astype(xp.int64), input._device),)
        return Tensor._wrap(xp.zeros((found.size, 0), dtype=xp.int64), input._device)
    coords = [c.astype(xp.int64, copy=False) for c in xp.nonzero(data)]
    if as_tuple:
        return tuple(Tensor._wrap(c, input._device) for c in coords)
    return Tensor._wrap(xp.stack(coords, axis=1), input._device)


def argwhere(input):
    return nonzero(input)


METHODS = {
    "__getitem__": getitem, "__setitem__": setitem, "index_put": index_put, "index_put_": index_put_,
    "gather": gather, "scatter": scatter, "scatter_": scatter_, "scatter_add": scatter_add,
    "scatter_add_": scatter_add_, "index_select": index_select, "masked_fill": masked_fill,
    "masked_fill_": masked_fill_, "masked_select": masked_select, "take_along_dim": take_along_dim,
    "take": take, "nonzero": nonzero, "argwhere": argwhere,
    "index_add": index_add, "index_add_": _composite_inplace("index_add_", index_add),
    "index_fill": index_fill, "index_fill_": _composite_inplace("index_fill_", index_fill),
    "index_copy": index_copy, "index_copy_": _composite_inplace("index_copy_", index_copy),
}

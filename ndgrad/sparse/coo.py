"""The sparse COO tensor: integer ``indices`` (sparse_dim x nnz) and a dense ``values`` tensor (nnz, ...).

A ``SparseCOOTensor`` is an ``ndgrad.Tensor`` whose autograd identity is its values tensor: gradients
of anything computed from it (``to_dense()``, ``mm``) flow into the values, and from there into
whatever the values were made from. It has no dense array: dense ops on it raise a clear error that
asks for ``.to_dense()``.
"""
from .. import dtypes
from ..tensor import Size, Tensor, sparse_coo


class _NoDenseData:
    """Stands in for a sparse tensor's dense array: any use by a dense op fails with advice."""
    __slots__ = ("shape",)

    def __init__(self, shape):
        object.__setattr__(self, "shape", shape)

    def _refuse(self, *args, **kwargs):
        raise RuntimeError(f"a dense operation was given a sparse COO tensor of shape {tuple(self.shape)}; "
                           f"ndgrad's sparse tensors support to_dense(), coalesce(), indices(), values(), "
                           f"mm/matmul (sparse @ dense) and ndgrad.sparse.*: call .to_dense() first")

    def __getattr__(self, name):
        self._refuse()

    __array__ = __len__ = __getitem__ = __iter__ = __float__ = __index__ = _refuse


class SparseCOOTensor(Tensor):
    __slots__ = ("_indices_t", "_values_t", "_size", "_coalesced")

    def __init__(self, *args, **kwargs):
        raise TypeError("build sparse tensors with ndgrad.sparse_coo_tensor(indices, values, size) or "
                        "dense.to_sparse()")

    @classmethod
    def _make(cls, indices, values, size, coalesced=False):
        t = object.__new__(cls)
        t._indices_t, t._values_t, t._size, t._coalesced = indices, values, Size(size), coalesced
        t._data = _NoDenseData(tuple(size))
        t._device = values._device
        t._base = t._extra = None
        t._ver = 0
        return t

    # -- what it is ------------------------------------------------------------------------------
    @property
    def shape(self):
        return self._size

    def size(self, dim=None):
        return self._size if dim is None else self._size[dim]

    @property
    def ndim(self):
        return len(self._size)

    def dim(self):
        return len(self._size)

    ndimension = dim

    def numel(self):
        return self._size.numel()

    nelement = numel

    @property
    def dtype(self):
        return self._values_t.dtype

    @property
    def layout(self):
        return sparse_coo

    @property
    def is_sparse(self):
        return True

    def sparse_dim(self):
        return int(self._indices_t.shape[0])

    def dense_dim(self):
        return self._values_t.ndim - 1

    def _nnz(self):
        return int(self._indices_t.shape[1])

    def is_coalesced(self):
        return self._coalesced

    def is_contiguous(self, memory_format=None):
        raise RuntimeError("sparse COO tensors do not have is_contiguous")

    # -- autograd identity: the values tensor ----------------------------------------------------
    @property
    def requires_grad(self):
        return self._values_t.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self._values_t.requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self._values_t.requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._values_t.grad_fn

    @grad_fn.setter
    def grad_fn(self, value):
        self._values_t.grad_fn = value

    @property
    def grad(self):
        """The gradient of a leaf sparse tensor, as a sparse tensor with the same indices."""
        g = self._values_t.grad
        return None if g is None else SparseCOOTensor._make(self._indices_t, g, self._size, self._coalesced)

    @grad.setter
    def grad(self, value):
        if value is None:
            self._values_t.grad = None
        elif isinstance(value, SparseCOOTensor):
            self._values_t.grad = value._values_t
        else:
            raise RuntimeError("the grad of a sparse tensor must be a sparse tensor with the same indices")

    def detach(self):
        return SparseCOOTensor._make(self._indices_t, self._values_t.detach(), self._size, self._coalesced)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        raise RuntimeError("backward() on a sparse tensor: reduce it to a dense scalar first, e.g. "
                           "s.to_dense().sum().backward()")

    # -- parts ---------------------------------------------------------------------------------------
    def indices(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._indices_t

    def values(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._values_t

    def _indices(self):
        return self._indices_t

    def _values(self):
        return self._values_t

    def coalesce(self):
        """Sorted, unique indices; the values at repeated indices are summed (differentiably)."""
        if self._coalesced:
            return self
        xp = self._indices_t.xp
        idx = self._indices_t._data
        sparse_shape = tuple(self._size[:idx.shape[0]])
        if idx.shape[1] == 0:
            return SparseCOOTensor._make(self._indices_t, self._values_t, self._size, True)
        flat = xp.ravel_multi_index(tuple(idx), sparse_shape) if idx.shape[0] else xp.zeros(idx.shape[1], xp.int64)
        unique, inverse = xp.unique(flat, return_inverse=True)
        inverse = inverse.reshape(-1)
        coords = xp.stack(xp.unravel_index(unique, sparse_shape)) if idx.shape[0] else xp.zeros((0, 1), xp.int64)
        values = self._values_t
        summed = values.new_zeros((int(unique.shape[0]),) + tuple(values.shape[1:])).index_add(
            0, Tensor._wrap(inverse.astype(xp.int64), values._device), values)
        return SparseCOOTensor._make(Tensor._wrap(coords.astype(xp.int64), values._device), summed, self._size, True)

    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense tensor; differentiable in the values."""
        values = self._values_t if dtype is None else self._values_t.to(dtype)
        xp = self._indices_t.xp
        idx = self._indices_t._data
        sparse_shape = tuple(self._size[:idx.shape[0]])
        n_cells = 1
        for s in sparse_shape:
            n_cells *= s
        flat = xp.ravel_multi_index(tuple(idx), sparse_shape) if idx.shape[1] and idx.shape[0] \
            else xp.zeros(idx.shape[1], xp.int64)
        out = values.new_zeros((n_cells,) + tuple(values.shape[1:])).index_add(
            0, Tensor._wrap(xp.asarray(flat, dtype=xp.int64), values._device), values)
        return out.reshape(*self._size)

    def to_sparse(self, *args, **kwargs):
        return self

    def coalesce_(self):
        return self.coalesce()

    # -- conversions -----------------------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        for a in args:
            if isinstance(a, (str,)) or type(a).__name__ == "Device":
                device = a
            elif isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            else:
                dtype = a
        values = self._values_t.to(dtype=dtype, device=device)
        indices = self._indices_t.to(device=device) if device is not None else self._indices_t
        return SparseCOOTensor._make(indices, values, self._size, self._coalesced)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to(device or "cuda")

    def double(self):
        return self.to(dtypes.float64)

    def float(self):
        return self.to(dtypes.float32)

    def half(self):
        return self.to(dtypes.float16)

    def clone(self, memory_format=None):
        return SparseCOOTensor._make(self._indices_t.clone(), self._values_t.clone(), self._size, self._coalesced)

    # -- arithmetic that stays sparse ------------------------------------------------------------
    def t(self):
        if self.sparse_dim() != 2 or self.dense_dim() != 0:
            raise RuntimeError(f"t(): expects a 2-D sparse matrix, got shape {tuple(self._size)}")
        return self.transpose(0, 1)

    def transpose(self, dim0, dim1):
        n = self.sparse_dim()
        d0, d1 = dim0 % self.ndim, dim1 % self.ndim
        if d0 >= n or d1 >= n:
            raise RuntimeError("transpose of a sparse tensor: only its sparse dimensions can be swapped")
        order = list(range(n))
        order[d0], order[d1] = order[d1], order[d0]
        size = list(self._size)
        size[d0], size[d1] = size[d1], size[d0]
        indices = Tensor._wrap(self._indices_t._data[order], self._device)
        return SparseCOOTensor._make(indices, self._values_t, size, False)

    def __neg__(self):
        return SparseCOOTensor._make(self._indices_t, -self._values_t, self._size, self._coalesced)

    def mul(self, other):
        if isinstance(other, Tensor):
            if isinstance(other, SparseCOOTensor) or other.ndim:
                raise RuntimeError("sparse * tensor: only multiplication by a number or a 0-d tensor is supported; "
                                   "use to_dense() for elementwise products")
        return SparseCOOTensor._make(self._indices_t, self._values_t * other, self._size, self._coalesced)

    __mul__ = __rmul__ = mul

    def div(self, other):
        if isinstance(other, Tensor) and other.ndim:
            raise RuntimeError("sparse / tensor: only division by a number or a 0-d tensor is supported")
        return SparseCOOTensor._make(self._indices_t, self._values_t / other, self._size, self._coalesced)

    __truediv__ = div

    def add(self, other, *, alpha=1):
        if isinstance(other, SparseCOOTensor):
            if tuple(other._size) != tuple(self._size):
                raise RuntimeError(f"sparse add: sizes {tuple(self._size)} and {tuple(other._size)} differ")
            from ..ops.shape import cat
            indices = Tensor._wrap(self.xp_i.concatenate([self._indices_t._data, other._indices_t._data], 1),
                                   self._device)
            ov = other._values_t if alpha == 1 else other._values_t * alpha
            return SparseCOOTensor._make(indices, cat([self._values_t, ov.to(self._values_t.dtype)]), self._size,
                                         False)
        return self.to_dense() + (other if alpha == 1 else other * alpha)

    __add__ = add

    def __radd__(self, other):
        return self.add(other)

    @property
    def xp_i(self):
        return self._indices_t.xp

    def sum(self, dim=None, keepdim=False, dtype=None):
        from .ops import sum as sparse_sum
        return sparse_sum(self, dim, dtype=dtype) if not keepdim else self.to_dense().sum(dim, True, dtype=dtype)

    def mm(self, mat2):
        from .ops import mm
        return mm(self, mat2)

    def matmul(self, other):
        from .ops import matmul
        return matmul(self, other)

    __matmul__ = matmul

    def __rmatmul__(self, other):
        from .ops import matmul
        return matmul(other, self)

    def __repr__(self):
        return (f"tensor(indices={self._indices_t!r},\n       values={self._values_t!r},\n"
                f"       size={tuple(self._size)}, nnz={self._nnz()}, layout=ndgrad.sparse_coo)")

    __str__ = __repr__

    def __len__(self):
        return self._size[0]

    def __deepcopy__(self, memo):
        return self.clone()


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """A sparse COO tensor; ``values`` keep their autograd history (gradients reach them)."""
    from ..creation import tensor
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype, device=device)
    elif dtype is not None or device is not None:
        values = values.to(dtype=dtype, device=device)
    if not isinstance(indices, Tensor):
        indices = tensor(indices, dtype=dtypes.int64, device=values.device)
    if indices.dtype.is_floating_point or indices.dtype.name == "bool":
        raise RuntimeError(f"sparse_coo_tensor: indices must be an int64 tensor, got {indices.dtype}")
    if indices.device != values.device:
        indices = indices.to(values.device)
    idx = indices._data.astype(indices.xp.int64, copy=False)
    if idx.ndim == 1 and idx.size == 0:
        idx = idx.reshape(1, 0)
    if idx.ndim != 2:
        raise RuntimeError(f"sparse_coo_tensor: indices must be sparse_dim x nnz (2-D), got shape {tuple(idx.shape)}")
    if values.ndim == 0:
        raise RuntimeError("sparse_coo_tensor: values must have at least one dimension (nnz, ...), got a 0-d tensor")
    if idx.shape[1] != values.shape[0]:
        raise RuntimeError(f"sparse_coo_tensor: indices and values must have the same number of elements (nnz), "
                           f"but got {idx.shape[1]} indices and {values.shape[0]} values")
    sparse_dim, dense_shape = idx.shape[0], tuple(values.shape[1:])
    if size is None:
        seen = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.shape[1] else (0,) * sparse_dim
        size = seen + dense_shape
    else:
        size = tuple(int(s) for s in size)
        if len(size) != sparse_dim + len(dense_shape):
            raise RuntimeError(f"sparse_coo_tensor: number of dimensions must be sparse_dim ({sparse_dim}) + "
                               f"dense_dim ({len(dense_shape)}), but got {len(size)} (size {size})")
        if tuple(size[sparse_dim:]) != dense_shape:
            raise RuntimeError(f"sparse_coo_tensor: the dense dimensions of size {size} must match values' "
                               f"trailing shape {dense_shape}")
        if idx.shape[1]:
            high, low = idx.max(axis=1), idx.min(axis=1)
            for d in range(sparse_dim):
                if int(low[d]) < 0:
                    raise RuntimeError(f"sparse_coo_tensor: found negative index {int(low[d])} for dim {d}")
                if int(high[d]) >= size[d]:
                    raise RuntimeError(f"sparse_coo_tensor: size is inconsistent with indices: for dim {d}, size "
                                       f"is {size[d]} but found index {int(high[d])}")
    if requires_grad:
        values = values.detach().requires_grad_(True)
    coalesced = bool(is_coalesced) or idx.shape[1] <= 1  # nothing to merge or sort
    return SparseCOOTensor._make(Tensor._wrap(idx, values._device), values, size, coalesced)


def to_sparse(dense, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """A dense tensor's non-zeros as a coalesced sparse COO tensor (its values keep the gradient path)."""
    if layout is not None and layout is not sparse_coo:
        raise RuntimeError(f"to_sparse: only layout=ndgrad.sparse_coo is supported, got {layout}")
    if isinstance(dense, SparseCOOTensor):
        return dense
    n = dense.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 < n <= dense.ndim and not (n == 0 and dense.ndim == 0):
        raise RuntimeError(f"to_sparse: sparse_dim must be in [1, {dense.ndim}] for a tensor of shape "
                           f"{tuple(dense.shape)}, got {sparse_dim}")
    xp = dense.xp
    data = dense._data
    if dense.ndim == 0:
        return sparse_coo_tensor(xp.zeros((0, 1), xp.int64), dense.reshape(1), ())
    nonzero = data != 0
    if n < dense.ndim:
        nonzero = nonzero.any(axis=tuple(range(n, dense.ndim)))
    coords = xp.stack(xp.nonzero(nonzero)).astype(xp.int64)
    index = tuple(Tensor._wrap(c, dense._device) for c in coords)
    values = dense[index]
    return SparseCOOTensor._make(Tensor._wrap(coords, dense._device), values, tuple(dense.shape), True)


__all__ = ["SparseCOOTensor", "sparse_coo_tensor", "to_sparse"]

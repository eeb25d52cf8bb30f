"""Tensor methods PyTorch keeps for old code and for introspection: resize, new, as_subclass, apply_/map_,
grad hooks and grad_dtype, nonzero_static, and what sparse-only methods do on a dense tensor."""
import warnings

from .. import dtypes
from ..autograd import grad_mode
from ..backend import np
from ..tensor import Size, Tensor, _RemovableHandle


def _sizes(args, op):
    sizes = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list, Size)) else args
    sizes = tuple(int(s) for s in sizes)
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"{op}: negative dimension in size {list(sizes)}")
    return sizes


def _extra(t):
    if t._extra is None:
        t._extra = {}
    return t._extra


# -- hooks and grad dtype ---------------------------------------------------------------------------------

def register_post_accumulate_grad_hook(self, hook):
    """Call ``hook(tensor)`` after backward has added this leaf's gradient into ``tensor.grad``."""
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors "
                           f"(shape {tuple(self.shape)}); register it on the leaf the value came from")
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient; call "
                           ".requires_grad_() first")
    hooks = _extra(self).setdefault("post_accumulate_hooks", [])
    hooks.append(hook)
    return _RemovableHandle(hooks, hook)


def _get_grad_dtype(self):
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
    extra = self._extra
    if extra is not None and "grad_dtype" in extra:
        return extra["grad_dtype"]
    return self.dtype


def _set_grad_dtype(self, value):
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be set on leaf tensors.")
    _extra(self)["grad_dtype"] = None if value is None else dtypes.to_dtype(value)


# -- resizing --------------------------------------------------------------------------------------------

def resize_(self, *sizes, memory_format=None):
    """Give the tensor a new shape in place, keeping its first elements (new elements are zero)."""
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = _sizes(sizes, "resize_")
    n = int(np.prod(shape, dtype=np.int64))
    xp, flat = self.xp, self._data.reshape(-1)
    if n <= flat.size:
        data = flat[:n].reshape(shape)
    else:
        data = xp.zeros(n, dtype=flat.dtype)
        data[:flat.size] = flat
        data = data.reshape(shape)
    self._data = data
    self._bump_version()
    return self


def resize_as_(self, the_template, memory_format=None):
    return resize_(self, tuple(the_template.shape))


def _autograd_resize(self, shape, op):
    warnings.warn(f"non-inplace {op} is deprecated", UserWarning, stacklevel=3)
    n = int(np.prod(shape, dtype=np.int64))
    if n != self.numel():
        raise RuntimeError(f"{op}: requested resize to {'x'.join(map(str, shape))} ({n} elements in total), but "
                           f"the given tensor has a size of {'x'.join(map(str, self.shape))} ({self.numel()} "
                           f"elements). autograd's resize can only change the shape of a given tensor, while "
                           f"preserving the number of elements; use resize_ (no grad) or reshape")
    return self.reshape(shape)


def resize(self, *sizes):
    """Deprecated out-of-place resize: a reshape that keeps the number of elements."""
    return _autograd_resize(self, _sizes(sizes, "resize"), "resize")


def resize_as(self, tensor):
    return _autograd_resize(self, tuple(tensor.shape), "resize_as")


# -- construction ----------------------------------------------------------------------------------------

def new(self, *args, device=None):
    """Legacy constructor with this tensor's dtype: ``t.new(2, 3)`` (uninitialised), ``t.new([1, 2])``,
    ``t.new(other)`` (shares other's memory), ``t.new()`` (empty)."""
    from ..tensor_types import legacy_new
    device = self.device if device is None else device
    data, dev, base = legacy_new(args, self.dtype, device, "new")
    out = Tensor._wrap(data, dev)
    out._base = base
    return out


def as_subclass(self, cls):
    """This tensor's data as an instance of the Tensor subclass ``cls`` (still attached to the graph)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass: creating a Tensor subclass from {cls!r}, which does not inherit from "
                        f"ndgrad.Tensor, is not possible; make the class inherit from Tensor")
    alias = self.view_as(self) if self.requires_grad and grad_mode.state.enabled else self.detach()
    out = object.__new__(cls)  # cls.__new__ may want other arguments (Parameter): fill the slots directly
    for slot in ("_data", "_device", "requires_grad", "grad_fn", "_base", "_ver", "_extra"):
        setattr(out, slot, getattr(alias, slot))
    out.grad = None
    return out


def _host_only(self, op):
    if self._device.type != "cpu":
        raise TypeError(f"{op} is only implemented on CPU tensors (this one is on {self._device}); "
                        f"move it with .cpu() first")
    if self.requires_grad:
        raise RuntimeError(f"Can't call {op}() on a tensor that requires grad. Use t.detach().{op}() instead.")


def apply_(self, callable):
    """Replace every element ``v`` by ``callable(v)`` (a Python function; CPU tensors only, slow)."""
    _host_only(self, "apply_")
    data = self._data
    flat = [callable(v) for v in data.reshape(-1).tolist()]
    if flat:  # results are cast back to the tensor's dtype (floats truncate into integer tensors, as torch)
        data[...] = np.asarray(flat).astype(data.dtype, casting="unsafe").reshape(data.shape)
    self._bump_version()
    return self


def map_(self, tensor, callable):
    """Replace every element ``a`` by ``callable(a, b)`` with ``b`` from ``tensor`` broadcast to this shape."""
    _host_only(self, "map_")
    if tensor.dtype is not self.dtype:
        raise TypeError(f"map_: expected a tensor of dtype {self.dtype} for 'other' (got {tensor.dtype})")
    try:
        other = np.broadcast_to(tensor._host(), self._data.shape)
    except ValueError:
        raise RuntimeError(f"map_: the tensor of shape {tuple(tensor.shape)} cannot be expanded to this "
                           f"tensor's shape {tuple(self.shape)}") from None
    data = self._data
    flat = [callable(a, b) for a, b in zip(data.reshape(-1).tolist(), other.reshape(-1).tolist())]
    if flat:
        data[...] = np.asarray(flat).astype(data.dtype, casting="unsafe").reshape(data.shape)
    self._bump_version()
    return self


def nonzero_static(input, *, size, fill_value=-1):
    """``nonzero()`` with a fixed number of rows: truncated to ``size``, or padded with ``fill_value``."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size!r}")
    xp = input.xp
    found = xp.stack(xp.nonzero(input._data), axis=-1) if input.ndim else \
        xp.zeros((int(bool(input._data)), 0), dtype="int64")
    found = found.astype("int64")[:size]
    if found.shape[0] < size:
        pad = xp.full((size - found.shape[0], input.ndim), fill_value, dtype="int64")
        found = xp.concatenate([found, pad])
    return Tensor._wrap(found, input._device)


# -- legacy Variable attributes --------------------------------------------------------------------------

def _get_volatile(self):
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning, stacklevel=2)
    return False


def _set_volatile(self, value):
    warnings.warn("volatile was removed and now has no effect. Use `with ndgrad.no_grad():` instead.",
                  UserWarning, stacklevel=2)


def reinforce(self, reward):
    raise RuntimeError("reinforce() was removed. Use ndgrad.distributions instead: compute "
                       "-dist.log_prob(action) * reward and call backward() on it")


def const_data_ptr(self):
    return self.data_ptr()


def index(self, positions, dims):
    raise NotImplementedError("Tensor.index binds positional dimensions to first-class dimensions "
                              "(functorch.dim), which ndgrad does not have; index with t[...] instead")


# -- sparse methods on a dense (strided) tensor ----------------------------------------------------------

def _needs_sparse(op, what="sparse coordinate tensor"):
    def method(self, *args, **kwargs):
        raise RuntimeError(f"{op} expected {what} layout but got Strided (a dense tensor of shape "
                           f"{tuple(self.shape)}); make a sparse tensor with .to_sparse() first")
    method.__name__ = method.__qualname__ = op
    return method


def sparse_dim(self):
    return 0


def dense_dim(self):
    return self.ndim


def to_sparse_coo(self):
    return self.to_sparse()


def sparse_mask(self, mask):
    """This tensor's values at the positions of the sparse ``mask``'s entries, as a sparse COO tensor."""
    from ..sparse.coo import SparseCOOTensor
    if not isinstance(mask, SparseCOOTensor):
        raise RuntimeError(f"sparse_mask: expected mask to be a sparse COO tensor, got a dense tensor of shape "
                           f"{tuple(mask.shape)}; build the mask with .to_sparse()")
    if tuple(mask.shape) != tuple(self.shape):
        raise RuntimeError(f"sparse_mask: the mask has shape {tuple(mask.shape)} but the tensor has shape "
                           f"{tuple(self.shape)}; they must be equal")
    from ..sparse import sparse_coo_tensor
    mask = mask.coalesce()
    indices = mask.indices()
    values = self[tuple(indices[i] for i in range(indices.shape[0]))]
    return sparse_coo_tensor(indices, values, tuple(self.shape), is_coalesced=True)


PROPERTIES = {"grad_dtype": property(_get_grad_dtype, _set_grad_dtype),
              "volatile": property(_get_volatile, _set_volatile)}

METHODS = {
    "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook,
    "resize_": resize_, "resize_as_": resize_as_, "resize": resize, "resize_as": resize_as, "new": new,
    "as_subclass": as_subclass, "apply_": apply_, "map_": map_, "nonzero_static": nonzero_static,
    "reinforce": reinforce, "const_data_ptr": const_data_ptr, "index": index,
    "coalesce": _needs_sparse("coalesce"), "is_coalesced": _needs_sparse("is_coalesced"),
    "indices": _needs_sparse("indices"), "values": _needs_sparse("values", "sparse tensor"),
    "sparse_dim": sparse_dim, "dense_dim": dense_dim, "to_sparse_coo": to_sparse_coo, "sparse_mask": sparse_mask,
}

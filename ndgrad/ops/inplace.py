"""In-place ops (``add_``, ``mul_``, ``zero_`` …) with version counters.

Without a graph to record, an in-place op writes into the tensor's memory (views
see the change). With one, the op is recorded out of place and its result is
written back, and the tensor takes the new node as its ``grad_fn``; its version
goes up, so a backward rule that saved the old values notices they are gone.
"""
from ..autograd import grad_mode
from ..tensor import Tensor
from . import elementwise as ew
from .index import ScatterFlat, TakeFlat


_OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single "
            "memory location. Please clone() the tensor before performing the operation.")


def _has_internal_overlap(t):
    """True for expanded views: several elements share one memory location (a stride of 0)."""
    data = t._data
    return data.size > 0 and any(st == 0 and sh > 1 for st, sh in zip(data.strides, data.shape))


def _check_no_overlap(self, name):
    if _has_internal_overlap(self):
        raise RuntimeError(f"{name}: {_OVERLAP} (tensor of shape {tuple(self.shape)} with strides "
                           f"{self.stride()}, e.g. from expand())")


def _inplace(self, name, compute, *others):
    """Apply ``compute(tensor) -> Tensor`` to ``self`` in place."""
    self._check_inplace(name)
    _check_no_overlap(self, name)
    tracked = grad_mode.state.enabled and (
        self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others))
    view_of = self._base if tracked and _is_view(self) else None
    if view_of is not None:
        view_of._check_inplace(name + " (on a view of it)")
        positions = _positions_in_base(self, view_of, name)
    if tracked:
        # A copy: the op's backward may need the values from before the write-back below
        # (mul_(w) needs the old self for w's gradient), as PyTorch saves the original self.
        old = Tensor._wrap(self._data.copy(), self._device, requires_grad=self.requires_grad,
                           grad_fn=self.grad_fn)
        out = compute(old)
    else:
        with grad_mode.no_grad():
            out = compute(self)
    _check_result(self, out, name)
    if out._data is not self._data:
        self._data[...] = out._data
    if view_of is not None:
        _rebase_history(self, view_of, out, positions)
    elif tracked:
        self.grad_fn = out.grad_fn
        self.requires_grad = out.requires_grad
    self._bump_version()
    return self


# -- in-place ops on views: the base's history is rewritten (PyTorch's CopySlices) ---------------
def _is_view(t):
    return t._base is not None and t._extra is not None and t._extra.get("view", False)


def _positions_in_base(view, base, name):
    """For each element of ``view``, its position in ``base`` (C order), from the two arrays' strides."""
    xp = base.xp
    b, v = base._data, view._data
    logical = xp.empty_like(b, dtype=xp.int64)  # same memory layout as b when b is dense
    logical[...] = xp.arange(b.size, dtype=xp.int64).reshape(b.shape)
    item = b.itemsize
    same_layout = logical.strides == tuple(s // item * 8 for s in b.strides)
    offset = _address(v) - _address(b)
    if not same_layout or offset % item or any(s < 0 or s % item for s in b.strides + v.strides):
        raise RuntimeError(f"{name}: in-place change of a view (shape {tuple(view.shape)}) whose layout in its base "
                           f"(shape {tuple(base.shape)}) ndgrad cannot map; clone() the view first, or build "
                           f"the result out of place")
    memory = xp.lib.stride_tricks.as_strided(logical, shape=(b.size,), strides=(8,))  # int64 memory order
    start = memory[offset // item:]
    return xp.lib.stride_tricks.as_strided(start, shape=v.shape,
                                           strides=tuple(s // item * 8 for s in v.strides)).copy()


def _address(array):
    return array.ctypes.data if hasattr(array, "ctypes") else array.data.ptr


def _rebase_history(view, base, out, positions):
    """After ``view`` changed in place: base = old base with the view's region replaced by ``out``."""
    old_base = Tensor._wrap(base._data, base._device, requires_grad=base.requires_grad, grad_fn=base.grad_fn)
    node = CopySlices(positions)
    new_base = node.apply(old_base, out)
    base.grad_fn, base.requires_grad = new_base.grad_fn, True
    # the view now reads its gradient from the base's new history
    view.grad_fn, view.requires_grad = TakeFlat(positions).apply(base).grad_fn, True


class CopySlices(ScatterFlat):
    """The base after an in-place op on one of its views: old base outside the view, ``value`` inside.

    ScatterFlat's rule exactly; only the forward differs, because the op already wrote the new
    values through the view, so the base is returned as it is.
    """
    __slots__ = ()

    def forward(self, base, value):
        return base


def _check_result(self, out, name):
    if out._data.shape != self._data.shape:
        raise RuntimeError(f"{name}: the result has shape {tuple(out.shape)}, which doesn't match the shape "
                           f"{tuple(self.shape)} of the tensor changed in place; in-place ops can't broadcast "
                           f"the tensor itself (use the out-of-place op)")
    if out._data.dtype != self._data.dtype:
        src, dst = out.dtype, self.dtype
        if src.category > dst.category:
            raise RuntimeError(f"{name}: result type {src} can't be cast to the desired output type {dst} of "
                               f"the tensor changed in place; convert the tensor first (e.g. x = x.float())")


def _binary_inplace(fn, name):
    def op(self, other, *args, **kwargs):
        return _inplace(self, name, lambda t: fn(t, other, *args, **kwargs), other)
    op.__name__ = name
    return op


def _unary_inplace(fn, name):
    def op(self, *args, **kwargs):
        return _inplace(self, name, lambda t: fn(t, *args, **kwargs))
    op.__name__ = name
    return op


def _shared_memory_root(self, value, name, verb):
    """The dense base an expanded view is written through (checked for in-place use), or the error."""
    root = self._base
    if root is None or not root._data.flags.c_contiguous or (grad_mode.state.enabled and (
            self.requires_grad or isinstance(value, Tensor) and value.requires_grad)):
        raise RuntimeError(f"{name}: the tensor of shape {tuple(self.shape)} shares memory between its "
                           f"elements (expand()) and ndgrad can only {verb} it through a dense base without "
                           f"autograd history; clone() it first")
    root._check_inplace(name)
    return root


def _fill_shared_memory(self, value, name):
    """fill_/zero_ of an expanded view: every alias gets the same value, so write it into the base
    (PyTorch allows exactly these two on overlapping memory)."""
    root = _shared_memory_root(self, value, name, "fill")
    positions = _positions_in_base(self, root, name)
    if isinstance(value, Tensor):
        value = value.to(self.dtype)._data
    root._data.reshape(-1)[positions.reshape(-1)] = value
    root._bump_version()
    return self


def setitem_shared_memory(self, index, value):
    """``x[index] = value`` on an expanded view: PyTorch writes through to the base's memory when the
    indexed part itself has no aliased elements (``x[0] = v``), and refuses otherwise (``x[:, 1] = v``)."""
    root = _shared_memory_root(self, value, "setitem", "write")
    positions = Tensor._wrap(_positions_in_base(self, root, "setitem"), self._device)[index]._data
    if self.xp.unique(positions).size < positions.size:
        raise RuntimeError(f"setitem: {_OVERLAP} (the indexed part of a tensor of shape {tuple(self.shape)} "
                           f"with strides {self.stride()}, e.g. from expand())")
    values = value.to(self.dtype)._data if isinstance(value, Tensor) else value
    values = self.xp.broadcast_to(self.xp.asarray(values, dtype=self._data.dtype), positions.shape)
    root._data.reshape(-1)[positions.reshape(-1)] = values.reshape(-1)
    root._bump_version()
    return self


def _relu_(self):
    from .inplace_activations import relu_  # one pass, differentiated from the result (imports this file)
    return relu_(self)


def zero_(self):
    if _has_internal_overlap(self):
        return _fill_shared_memory(self, 0, "zero_")
    return _inplace(self, "zero_", lambda t: t * 0 if t.requires_grad else
                    Tensor._wrap(t.xp.zeros_like(t._data), t._device))


def fill_(self, value):
    if _has_internal_overlap(self):
        return _fill_shared_memory(self, value, "fill_")
    if isinstance(value, Tensor):
        return _inplace(self, "fill_", lambda t: t * 0 + value.to(t.dtype), value)
    return _inplace(self, "fill_", lambda t: t * 0 + value if t.requires_grad else
                    Tensor._wrap(t.xp.full_like(t._data, value), t._device))


def copy_(self, src, non_blocking=False):
    if not isinstance(src, Tensor):
        from ..creation import tensor
        src = tensor(src, dtype=self.dtype, device=self.device)
    if src.device != self.device:
        src = src.to(self.device)

    def compute(t):
        value = ew.cast(src, t.dtype) if src.dtype != t.dtype else src
        value = value.expand(*t.shape) if tuple(value.shape) != tuple(t.shape) else value
        if t.requires_grad or value.requires_grad:
            return t * 0 + value
        return Tensor._wrap(value._data, t._device)
    return _inplace(self, "copy_", compute, src)


METHODS = {
    "add_": _binary_inplace(ew.add, "add_"), "sub_": _binary_inplace(ew.sub, "sub_"),
    "subtract_": _binary_inplace(ew.sub, "sub_"),
    "mul_": _binary_inplace(ew.mul, "mul_"), "multiply_": _binary_inplace(ew.mul, "mul_"),
    "div_": _binary_inplace(ew.div, "div_"), "divide_": _binary_inplace(ew.div, "div_"),
    "pow_": _binary_inplace(ew.pow, "pow_"), "maximum_": _binary_inplace(ew.maximum, "maximum_"),
    "minimum_": _binary_inplace(ew.minimum, "minimum_"), "remainder_": _binary_inplace(ew.remainder, "remainder_"),
    "floor_divide_": _binary_inplace(ew.floor_divide, "floor_divide_"),
    "lerp_": lambda self, end, weight: _inplace(self, "lerp_", lambda t: ew.lerp(t, end, weight), end),
    "neg_": _unary_inplace(ew.neg, "neg_"), "exp_": _unary_inplace(ew.exp, "exp_"),
    "log_": _unary_inplace(ew.log, "log_"), "sqrt_": _unary_inplace(ew.sqrt, "sqrt_"),
    "abs_": _unary_inplace(ew.abs, "abs_"), "sigmoid_": _unary_inplace(ew.sigmoid, "sigmoid_"),
    "tanh_": _unary_inplace(ew.tanh, "tanh_"), "relu_": _relu_,
    "floor_": _unary_inplace(ew.floor, "floor_"), "ceil_": _unary_inplace(ew.ceil, "ceil_"),
    "round_": _unary_inplace(ew.round, "round_"), "trunc_": _unary_inplace(ew.trunc, "trunc_"),
    "sign_": _unary_inplace(ew.sign, "sign_"), "reciprocal_": _unary_inplace(ew.reciprocal, "reciprocal_"),
    "square_": _unary_inplace(ew.square, "square_"),
    "clamp_": _unary_inplace(ew.clamp, "clamp_"), "clip_": _unary_inplace(ew.clamp, "clamp_"),
    "zero_": zero_, "fill_": fill_, "copy_": copy_,  # uniform_/normal_/bernoulli_: ops/random_ops.py
}
METHODS.update({
    "__iadd__": METHODS["add_"], "__isub__": METHODS["sub_"], "__imul__": METHODS["mul_"],
    "__itruediv__": METHODS["div_"], "__ipow__": METHODS["pow_"],
})
__all__ = []

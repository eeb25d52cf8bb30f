"""Tensor: an n-d array on a device, plus what autograd needs to differentiate it.

The class is lean on purpose (``__slots__``, no copies on construction): small
networks pay Python overhead per op, so a tensor is a thin handle around a
NumPy or CuPy array. Operators and methods are attached from ``ndgrad/ops``.
"""
import weakref

from . import dtypes
from .autograd import node as _node
from .autograd import grad_mode
from .backend import CPU, np, device_of, get_device, namespace, to_device

_ndarray = np.ndarray


class Tensor:
    __slots__ = ("_data", "_device", "requires_grad", "grad_fn", "grad", "_base", "_ver", "_extra",
                 "__weakref__")

    # Let ``ndarray op tensor`` defer to Tensor's reflected operators instead of numpy broadcasting.
    __array_priority__ = 1000

    def __init__(self, data=None, *, dtype=None, device=None, requires_grad=False):
        """``Tensor(data)`` builds a tensor like ``ndgrad.tensor`` (float32 default for floats)."""
        from .creation import tensor as _tensor
        t = _tensor([] if data is None else data, dtype=dtype, device=device)
        self._data = t._data
        self._device = t._device
        self.requires_grad = False
        self.grad_fn = self.grad = self._base = self._extra = None
        self._ver = 0
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data, device=None, requires_grad=False, grad_fn=None):
        """Wrap a raw array without copying: the fast internal constructor."""
        t = object.__new__(cls)
        if device is None:
            if type(data) is not _ndarray:
                device = device_of(data)
                if device is CPU:
                    data = np.asarray(data)
            else:
                device = CPU
        t._data = data
        t._device = device
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        t.grad = None
        t._base = None
        t._ver = 0
        t._extra = None
        return t

    # -- what a tensor is ----------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_check_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return dtypes.dtype_of(self._data)

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def xp(self):
        return np if self._device is CPU else namespace(self._device)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        return self._ver if self._base is None else self._base._ver

    def _bump_version(self):
        root = self if self._base is None else self._base
        root._ver += 1

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def is_floating_point(self):
        return self._data.dtype.kind == "f" or self.dtype.is_floating_point

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_check_dim(dim, self.ndim, "stride")]

    def data_ptr(self):
        return self._data.ctypes.data if self._device is CPU else self._data.data.ptr

    @property
    def data(self):
        """The same memory, detached from the graph."""
        t = Tensor._wrap(self._data, self._device)
        t._base = self if self._base is None else self._base
        return t

    @data.setter
    def data(self, value):
        value = value if isinstance(value, Tensor) else Tensor(value)
        self._data = value._data
        self._device = value._device

    # -- conversion ------------------------------------------------------------------------------
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"item(): a Tensor with {self._data.size} elements (shape {tuple(self.shape)}) "
                               f"cannot be converted to a Python number; index one element or reduce first")
        return self._data.reshape(()).item() if self._device is CPU else self._data.item()

    def tolist(self):
        return self._host().tolist()

    def numpy(self, force=False):
        if self.requires_grad and not force:
            raise RuntimeError("numpy(): can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        if self._device is not CPU:
            if not force:
                raise TypeError(f"numpy(): the tensor is on {self._device}; use tensor.cpu().numpy() "
                                f"to copy it to host memory first")
            return self._host()
        return self._data

    def _host(self):
        return self._data if self._device is CPU else to_device(self._data, CPU)

    def __array__(self, dtype=None, copy=None):
        arr = self._host()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                               f"use .any() or .all()")
        return bool(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        from .printing import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __reduce_ex__(self, protocol):
        # Pickling (e.g. DataLoader workers, deepcopy) copies the values through host memory.
        return (_rebuild, (self._host(), str(self._device), self.requires_grad))

    def __deepcopy__(self, memo):
        t = Tensor._wrap(self._data.copy(), self._device, requires_grad=self.requires_grad)
        if type(self) is not Tensor:
            t = type(self)(t, requires_grad=self.requires_grad) if hasattr(type(self), "_from_tensor") \
                else t
        if self.grad is not None:
            t.grad = Tensor._wrap(self.grad._data.copy(), self._device)
        memo[id(self)] = t
        return t

    # -- devices and dtypes -----------------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, dtypes.DType) or a in (float, int, bool) or (
                    isinstance(a, str) and a.replace("torch.", "").replace("ndgrad.", "") in dtypes._BY_NAME):
                dtype = a
            else:
                device = a
        out = self
        if device is not None:
            device = get_device(device)
            if device != out._device:
                from .ops.elementwise import to_device_op
                out = to_device_op(out, device)
        if dtype is not None:
            dtype = dtypes.to_dtype(dtype)
            if dtype.np != out._data.dtype:
                from .ops.elementwise import cast
                out = cast(out, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def type(self, dtype=None):
        if dtype is None:
            return f"ndgrad.{self.dtype.name.capitalize()}Tensor"
        return self.to(dtype)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def bfloat16(self):
        return self.to(dtypes.bfloat16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def short(self):
        return self.to(dtypes.int16)

    def bool(self):
        return self.to(dtypes.bool_)

    def byte(self):
        return self.to(dtypes.uint8)

    def char(self):
        return self.to(dtypes.int8)

    def type_as(self, other):
        return self.to(other.dtype)

    # -- autograd --------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def detach(self):
        t = Tensor._wrap(self._data, self._device)
        t._base = self if self._base is None else self._base
        return t

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad and not self.is_floating_point():
            raise RuntimeError(f"requires_grad_: only floating-point tensors can require gradients, and this "
                               f"one is {self.dtype}; convert it first, e.g. x = x.float()")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False): you can only change requires_grad of leaf tensors; "
                               "use .detach() to get a tensor without history")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad(): can't retain_grad on a tensor that has requires_grad=False")
            return  # leaves keep their grad anyway
        self.grad_fn._retained = weakref.ref(self)

    @property
    def retains_grad(self):
        return self.grad_fn is not None and self.grad_fn._retained is not None \
            and self.grad_fn._retained() is self

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a new gradient."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require grad")
        if self.grad_fn is not None:
            self.grad_fn.register_prehook(hook)
            hooks = self.grad_fn._pre_hooks
        else:
            if self._extra is None:
                self._extra = {}
            hooks = self._extra.setdefault("hooks", [])
            hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    # -- in-place helpers ---------------------------------------------------------------------
    def _check_inplace(self, op):
        if grad_mode.state.enabled and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad (shape {tuple(self.shape)}) is being used in an "
                f"in-place operation, which would change what autograd differentiates. Fix: do the update "
                f"inside `with ndgrad.no_grad():` (as optimizers do), or use the out-of-place op.")


class Size(tuple):
    """A shape, like torch.Size: a tuple that prints as ndgrad.Size([...])."""

    __slots__ = ()

    def __repr__(self):
        return f"ndgrad.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _rebuild(array, device, requires_grad):
    t = Tensor._wrap(array)
    if device != "cpu":
        t = t.to(device)
    t.requires_grad = requires_grad
    return t


def _check_dim(dim, ndim, op):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension {dim} is out of range for a tensor of {ndim} dimensions "
                         f"(expected a value in [{-n}, {n - 1}])")
    return dim % n


def _new_tensor(data, device, _new=object.__new__):
    """The leanest constructor, for op outputs (data is already an ndarray on ``device``)."""
    t = _new(Tensor)
    t._data = data
    t._device = device
    t.requires_grad = False
    t.grad_fn = t.grad = t._base = t._extra = None
    t._ver = 0
    return t


_node.Tensor = Tensor
_node._new_tensor = _new_tensor

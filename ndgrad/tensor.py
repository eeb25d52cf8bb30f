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
from .backend import host_sync

_ndarray = np.ndarray


class Tensor:
    __slots__ = ("_data", "_device", "requires_grad", "grad_fn", "grad", "_base", "_ver", "_extra",
                 "__weakref__")

    # Let ``ndarray op tensor`` defer to Tensor's reflected operators instead of numpy broadcasting.
    __array_priority__ = 1000

    def __init__(self, *args, dtype=None, device=None, requires_grad=False, _legacy_name="Tensor"):
        """PyTorch's legacy constructor: ``Tensor(2, 3)`` is uninitialised, ``Tensor([1, 2])`` copies the
        data as the default dtype (float32), ``Tensor(t)`` shares t's memory, ``Tensor()`` is empty.
        ``dtype=`` (an ndgrad extension) fixes the dtype; ``ndgrad.tensor(...)`` is the modern spelling."""
        from .tensor_types import legacy_new
        data, dev, base = legacy_new(args, dtype, device, _legacy_name)
        self._data = data
        self._device = dev
        self.requires_grad = False
        self.grad_fn = self.grad = self._extra = None
        self._base = base
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
        elif device is CPU and type(data) is not _ndarray:
            data = np.asarray(data)  # numpy gives scalars for 0-d results; a tensor always holds an array
        t._data = data
        t._device = device
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        _set_grad_slot(t, None)  # the slot itself: the checked .grad property's setter is for users
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
    def is_cpu(self):
        return self._device.type == "cpu"

    @property
    def layout(self):
        return strided

    def get_device(self):
        """The GPU index, or -1 for a CPU tensor (as PyTorch)."""
        return -1 if self._device.type == "cpu" else (self._device.index or 0)

    def is_complex(self):
        return self._data.dtype.kind == "c"

    def is_signed(self):
        return self.dtype.is_signed

    def is_inference(self):
        return False  # inference_mode is no_grad here: there are no separate inference tensors

    def is_nonzero(self):
        if self._data.size != 1:
            what = "no values" if self._data.size == 0 else "more than one value"
            raise RuntimeError(f"is_nonzero: Boolean value of Tensor with {what} is ambiguous; use .any() "
                               f"or .all(), or index one element")
        return bool(self.item())

    def is_same_size(self, other):
        return tuple(self._data.shape) == tuple(other._data.shape)

    def is_set_to(self, other):
        return (self._data.shape == other._data.shape and self._data.strides == other._data.strides
                and self.data_ptr() == other.data_ptr())

    def storage_offset(self):
        """Elements between the start of the root tensor's memory and this view's first element."""
        if self._base is None or self._data.size == 0 or self._base._data.size == 0:
            return 0
        return (self.data_ptr() - self._base.data_ptr()) // self._data.itemsize

    def dim_order(self, *, ambiguity_check=False):
        strides = self.stride()
        return tuple(sorted(range(self.ndim), key=lambda d: -strides[d]))

    def pin_memory(self, device=None):
        return self  # host memory needs no pinning for NumPy / CuPy copies here

    def share_memory_(self):
        return self

    output_nr = 0
    name = None

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
        host_sync.read("Tensor.item()", self._data)
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
        if self._device is CPU:
            host_sync.read("a read of the tensor's values", self._data)   # counts only under stand_in
            return self._data
        return to_device(self._data, CPU)

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

    def type(self, dtype=None, non_blocking=False):
        """``type()`` names the legacy type (``ndgrad.FloatTensor``); ``type(ndgrad.LongTensor)`` casts."""
        from . import tensor_types
        if dtype is None:
            return tensor_types.type_name(self)
        dtype, device_type = tensor_types.resolve_type(dtype)
        out = self.to(dtype)
        if device_type is not None and device_type != out._device.type:
            out = out.to(device_type)
        return out

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
        if requires_grad and not (self.is_floating_point() or self._data.dtype.kind == "c"):
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


class NamedConstant:
    """A named singleton such as ``ndgrad.strided`` or ``ndgrad.channels_last``; each kind keeps a
    ``REGISTRY`` so that pickling and copying hand back the one object of that name."""

    __slots__ = ("name",)
    REGISTRY = None

    def __init__(self, name):
        self.name = name
        type(self).REGISTRY[name] = self

    def __repr__(self):
        return f"ndgrad.{self.name}"

    def __reduce__(self):
        return (_constant_by_name, (type(self), self.name))


def _constant_by_name(kind, name):
    return kind.REGISTRY[name]


class layout(NamedConstant):
    """A memory layout, as ``torch.layout``: ndgrad's dense tensors are all ``ndgrad.strided``."""

    __slots__ = ()
    REGISTRY = {}


strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc, _mkldnn = (
    layout(n) for n in ("strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
                        "_mkldnn"))


# Backends and tensor kinds ndgrad does not have: their flags are always False (a subclass, e.g. a sparse
# tensor, overrides its own).
for _flag in ("is_xpu", "is_mps", "is_meta", "is_sparse", "is_sparse_csr", "is_quantized", "is_mkldnn",
              "is_nested", "is_vulkan", "is_xla", "is_ipu", "is_maia", "is_mtia"):
    setattr(Tensor, _flag, property(lambda self: False, doc=f"Always False in ndgrad ({_flag})."))
for _flag in ("is_conj", "is_neg", "is_pinned", "is_shared", "is_distributed"):
    setattr(Tensor, _flag, lambda self, *args: False)


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
    t.grad_fn = t._base = t._extra = None
    _set_grad_slot(t, None)  # the slot itself, not the checked .grad property (a Python call per op)
    t._ver = 0
    return t


_node.Tensor = Tensor
_node._new_tensor = _new_tensor


# -- .grad: a checked property over the slot ------------------------------------------------------
# Assigning a gradient of the wrong shape, dtype or device would be broadcast by the optimizer or
# accumulated into by backward(), silently; PyTorch refuses it at the assignment, and so do we.
_grad_slot = Tensor.grad
_get_grad_slot, _set_grad_slot = _grad_slot.__get__, _grad_slot.__set__


def _set_grad(self, value):
    if value is not None:
        _check_grad_assignment(self, value)
    _set_grad_slot(self, value)


def _check_grad_assignment(self, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                        f"{type(value).__name__}")
    if value is self:
        raise RuntimeError("can't assign a tensor as its own grad")
    where = f"a tensor of shape {tuple(self._data.shape)}, {self.dtype} on {self._device}"
    extra = self._extra  # Tensor.grad_dtype (ops/_api_tensor.py) may allow another dtype, or any (None)
    allowed = extra["grad_dtype"] if extra is not None and "grad_dtype" in extra else self.dtype
    if allowed is not None and value._data.dtype != allowed.np:
        raise RuntimeError(f"attempting to assign a gradient with dtype {value.dtype} to {where}; the gradient "
                           f"must have the tensor's dtype: assign grad.to({self.dtype})")
    if value._device != self._device:
        raise RuntimeError(f"attempting to assign a gradient on {value._device} to {where}; move it with "
                           f".to('{self._device}') first")
    if value._data.shape != self._data.shape:
        raise RuntimeError(f"attempting to assign a gradient of size {list(value._data.shape)} to {where}. "
                           f"Please ensure that the gradient and the tensor are the same size")


Tensor.grad = property(_get_grad_slot, _set_grad,
                       doc="The gradient accumulated by backward() (None until then); assignments are checked.")

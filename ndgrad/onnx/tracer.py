"""Tracing: run a function once and record every op it executes, with the module that called it.

Differentiable ops are recorded where they all pass, ``Node.apply`` (a hook that
is one ``None`` check when not tracing). Ops that are never differentiable
(comparisons, logic, argmax) return plain tensors without a Node; while tracing,
their public entry points are wrapped for the duration of the trace. Reads of a
traced tensor's value (``item()``, ``bool(t)``, ``tolist()``) are warned about:
control flow that depends on them is frozen into the trace, as PyTorch's tracer does.
"""
import contextlib
import inspect
import itertools
import sys
import warnings

from ..autograd import node as _node_module
from ..backend import np
from .graph import Graph, Op, Value

_NODE_SLOTS = set(_node_module.Node.__slots__) | {"cast"}

# non-differentiable ops (no Node): public name -> recorded op name
_RAW_OPS = {
    "eq": "eq", "ne": "ne", "not_equal": "ne", "lt": "lt", "less": "lt", "le": "le", "less_equal": "le",
    "gt": "gt", "greater": "gt", "ge": "ge", "greater_equal": "ge",
    "logical_and": "logical_and", "logical_or": "logical_or", "logical_xor": "logical_xor",
    "logical_not": "logical_not", "bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or",
    "bitwise_xor": "bitwise_xor", "bitwise_not": "bitwise_not", "isnan": "isnan", "isinf": "isinf",
    "argmax": "argmax", "argmin": "argmin", "any": "any", "all": "all", "isfinite": "isfinite",
    "floor_divide": "floor_divide", "remainder": "remainder", "fmod": "fmod", "argsort": "argsort",
}
# composite functions that compute part of their result on raw arrays: recorded whole, as one op
_WHOLE_OPS = {"logsumexp": "logsumexp", "topk": "topk", "sort": "sort", "max": "max", "min": "min",
              "gather": "gather"}
# functional ops recorded whole, with every argument by name: they compute masks or targets on raw arrays
# (losses, one_hot, embedding_bag, unpooling) that the trace would freeze; mappers in mapping_losses / mapping_nn_extra
_WHOLE_FUNCTIONAL = ("cross_entropy", "nll_loss", "kl_div", "smooth_l1_loss", "huber_loss", "multi_margin_loss",
                     "multilabel_margin_loss", "one_hot", "embedding_bag", "max_unpool1d", "max_unpool2d",
                     "max_unpool3d", "grid_sample", "adaptive_max_pool1d_with_indices",
                     "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices")
# ... and these only when called with the argument named true (else their usual nodes are recorded)
_WHOLE_FUNCTIONAL_IF = {name: "return_indices" for name in ("max_pool1d", "max_pool2d", "max_pool3d",
                                                             "adaptive_max_pool1d", "adaptive_max_pool2d",
                                                             "adaptive_max_pool3d")}
_RAW_DUNDERS = {"__eq__": "eq", "__ne__": "ne", "__lt__": "lt", "__le__": "le", "__gt__": "gt",
                "__ge__": "ge", "__floordiv__": "floor_divide", "__mod__": "remainder", "__and__": "bitwise_and",
                "__or__": "bitwise_or", "__xor__": "bitwise_xor",
                "__invert__": "bitwise_not"}
_ARRAY_ARGS = ("idx", "index", "mask", "positions")  # node attributes that hold index/mask arrays
_VALUE_READS = ("item", "tolist", "__bool__", "__int__", "__float__", "__index__", "numpy")


class TracerWarning(UserWarning):
    """The trace read a tensor's value: control flow that depends on it is frozen into the graph."""


class _Recorder:
    def __init__(self, root, captured_modules):
        self.ops = []
        self.values = {}        # id(tensor) -> (Value, version when bound)
        self.tensors = {}       # id(Value) -> tensor (kept alive so ids stay unique)
        self.by_array = {}      # id(raw array) -> Value: detach() aliases, index arrays kept by nodes
        self.by_node = {}       # id(grad_fn Node) -> the Value it produced
        self.keep = []
        self.stack = []         # (path, module) of the modules being called
        self.suspended = 0      # > 0 inside a module captured as one op
        self.reading = False    # inside a value read (item() under bool())
        self.captured = captured_modules
        self.params = {}
        self.consts = []
        self.inputs = []
        self.warned = []
        self.counter = itertools.count()
        self.module_names = {}
        self.param_ids = {}
        if root is not None and hasattr(root, "named_modules"):
            self.module_names = {id(m): name for name, m in root.named_modules()}
            for name, p in itertools.chain(root.named_parameters(), root.named_buffers()):
                if p is not None:
                    self.param_ids[id(p)] = name

    # -- values ----------------------------------------------------------------------------------
    def _bind(self, tensor, value):
        self.values[id(tensor)] = (value, tensor._version)
        self.tensors[id(value)] = tensor
        self.by_array[id(tensor._data)] = value
        self.keep.append(tensor)
        return value

    def new_value(self, tensor, kind, name=None):
        data = tensor._data
        array = None
        if kind in ("param", "const"):
            array = np.asarray(data.get() if hasattr(data, "get") else data).copy()
        value = Value(name or f"t{next(self.counter)}", data.shape, np.dtype(str(data.dtype)), kind, array)
        return self._bind(tensor, value)

    def add_input(self, tensor, name):
        value = self.new_value(tensor, "input", name)
        if tensor.grad_fn is not None:
            self.by_node[id(tensor.grad_fn)] = value
        self.inputs.append(value)
        return value

    def value_of(self, t):
        entry = self.values.get(id(t))
        if entry is not None and entry[1] == t._version:
            return entry[0]
        made_by = self.by_node.get(id(t.grad_fn)) if t.grad_fn is not None else None
        if made_by is not None:   # e.g. the copy an in-place op makes of a tensor that requires grad
            self.values[id(t)] = (made_by, t._version)
            self.keep.append(t)
            return made_by
        if entry is not None:
            return self._after_inplace(t)
        value = self.by_array.get(id(t._data))
        if value is not None:
            return value
        name = self.param_ids.get(id(t))
        if name is not None:
            value = self.new_value(t, "param", name)
            self.params[name] = value
            return value
        value = self.new_value(t, "const", f"const{len(self.consts)}")
        self.consts.append(value)
        return value

    def _after_inplace(self, t):
        # An in-place op computed its result out of place (recorded) and copied it into t: find that result.
        for op in reversed(self.ops[-8:]):
            for v in op.outputs:
                src = self.tensors.get(id(v))
                if src is not None and src._data.shape == t._data.shape and bool((src._data == t._data).all()):
                    self.values[id(t)] = (v, t._version)
                    return v
        raise RuntimeError(f"trace: a tensor of shape {tuple(t.shape)} was changed in place in a way the trace "
                           f"cannot follow (in {self.where() or 'the top-level function'}); use the out-of-place "
                           f"op (x = x + y instead of x += y) in forward")

    # -- ops -------------------------------------------------------------------------------------
    def where(self):
        return self.stack[-1][0] if self.stack else ""

    def where_type(self):
        return type(self.stack[-1][1]).__name__ if self.stack else ""

    def on_node(self, node, inputs, result):
        if self.suspended:
            return
        ins = [self.value_of(t) for t in inputs]
        out = self.new_value(result, "op")
        self.by_node[id(node)] = out
        attrs = node_attrs(node)
        for name in _ARRAY_ARGS:
            self._note_arrays(attrs.get(name))
        self.ops.append(Op(node.name(), node, attrs, ins, [out], self.where(), self.where_type()))

    def _note_arrays(self, obj):
        """Index and mask arrays a node keeps: a traced tensor's memory, else a constant made in forward."""
        if isinstance(obj, tuple):
            for o in obj:
                self._note_arrays(o)
        elif hasattr(obj, "shape") and hasattr(obj, "dtype") and id(obj) not in self.by_array:
            host = np.asarray(obj.get() if hasattr(obj, "get") else obj).copy()
            value = Value(f"const{len(self.consts)}", host.shape, host.dtype, "const", host)
            self.by_array[id(obj)] = value
            self.keep.append(obj)
            self.consts.append(value)

    def on_raw(self, name, args, kwargs, result):
        from ..tensor import Tensor
        results = _tensors_in(result)   # one tensor, or (values, indices)
        if self.suspended or not results:
            return
        ins, attrs = [], dict(kwargs)
        for a in args:
            ins.append(self.value_of(a) if isinstance(a, Tensor) else a)
        outs = [self.new_value(t, "op") for t in results]
        self.ops.append(Op(name, None, attrs, ins, outs, self.where(), self.where_type()))

    def on_module(self, module, path, args, kwargs, result):
        ins = [self.value_of(t) for t in _tensors_in(args)]
        outs = [self.new_value(t, "op") for t in _tensors_in(result)]
        attrs = {k: v for k, v in kwargs.items() if not _tensors_in(v)}
        self.ops.append(Op(type(module).__name__, None, attrs, ins, outs, path, type(module).__name__,
                           extra={"module": module, "args": args, "result": result}))

    def on_value_read(self, t, how):
        entry = self.values.get(id(t))
        if entry is None or entry[0].kind not in ("op", "input") or self.suspended:
            return
        where = self.where() or "the top-level function"
        message = (f"trace: {how} read the value of a traced tensor (shape {tuple(t.shape)}) in {where}; "
                   f"the exported graph keeps the result this example gave (control flow that depends on "
                   f"data values is frozen into the trace, as in torch.onnx.export). Use tensor ops "
                   f"(e.g. torch.where) to keep it in the graph.")
        if message not in self.warned:
            self.warned.append(message)
            warnings.warn(message, TracerWarning, stacklevel=3)  # at the program's line


def node_attrs(node):
    """A Node's non-tensor arguments: its own slots and instance attributes."""
    attrs = {}
    for cls in type(node).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in _NODE_SLOTS and not name.startswith("_") and hasattr(node, name):
                attrs[name] = getattr(node, name)
    for name, v in getattr(node, "__dict__", {}).items():
        if not name.startswith("_") and name not in _NODE_SLOTS:
            attrs[name] = v
    return attrs


def _tensors_in(obj):
    from ..tensor import Tensor
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors_in(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors_in(o)]
    return []


@contextlib.contextmanager
def recording(recorder):
    """Install the recorder: the Node.apply hook, Module.__call__ bookkeeping and the wrapped raw ops."""
    import ndgrad
    from ..nn.module import Module
    from ..tensor import Tensor
    if _node_module._recorder is not None:
        raise RuntimeError("trace: already tracing; ndgrad.trace / onnx.export cannot be nested")
    saved = []

    def patch(owner, name, new):
        saved.append((owner, name, owner.__dict__.get(name, _MISSING) if isinstance(owner, type)
                      else getattr(owner, name, _MISSING)))
        setattr(owner, name, new)

    for name, op in _RAW_OPS.items():
        home = sys.modules.get(getattr(getattr(ndgrad, name, None), "__module__", ""), None)
        # the defining module too: other ops call these through its globals (remainder -> floor_divide)
        for owner in (ndgrad, Tensor) + ((home,) if home is not None and home is not ndgrad else ()):
            fn = getattr(owner, name, None)
            if fn is not None:
                patch(owner, name, _raw_wrapper(recorder, op, fn))
    for name, op in _RAW_DUNDERS.items():
        patch(Tensor, name, _raw_wrapper(recorder, op, getattr(Tensor, name)))
    from ..ops import elementwise
    # every dtype conversion (Tensor.to/long/float/...) passes elementwise.cast, looked up at call time;
    # float -> int casts return a plain tensor (no Node)
    patch(elementwise, "cast", _raw_wrapper(recorder, "cast", elementwise.cast, whole=True))
    for name, op in _WHOLE_OPS.items():
        for owner in (ndgrad, Tensor):
            fn = getattr(owner, name, None)
            if fn is not None:
                patch(owner, name, _raw_wrapper(recorder, op, fn, whole=True))
    from ..nn import functional as F
    for name in _WHOLE_FUNCTIONAL + tuple(_WHOLE_FUNCTIONAL_IF):
        fn = getattr(F, name)
        home = sys.modules.get(fn.__module__)
        for owner in {id(o): o for o in (F, ndgrad, Tensor, home) if o is not None}.values():
            if getattr(owner, name, None) is fn:
                patch(owner, name, _functional_wrapper(recorder, name, fn, _WHOLE_FUNCTIONAL_IF.get(name)))
    for name in _VALUE_READS:
        patch(Tensor, name, _read_wrapper(recorder, name, getattr(Tensor, name)))
    patch(Module, "__call__", _call_wrapper(recorder, Module.__call__))
    _node_module._recorder = recorder.on_node
    try:
        yield recorder
    finally:
        _node_module._recorder = None
        for owner, name, old in reversed(saved):
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)


_MISSING = object()


def _raw_wrapper(recorder, op, fn, whole=False):
    def wrapper(*args, **kwargs):
        if not whole or recorder.suspended:
            out = fn(*args, **kwargs)
        else:
            for t in _tensors_in((args, kwargs)):
                recorder.value_of(t)
            recorder.suspended += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                recorder.suspended -= 1
        recorder.on_raw(op, args, kwargs, out)
        return out
    wrapper.__name__ = getattr(fn, "__name__", op)
    wrapper.__wrapped__ = fn
    return wrapper


def _functional_wrapper(recorder, op, fn, only_if=None):
    """Record ``fn`` as one op whose attrs hold every argument by name (tensors as their Values); with
    ``only_if``, only calls where that argument is true."""
    from ..tensor import Tensor
    signature = inspect.signature(fn)

    def wrapper(*args, **kwargs):
        if recorder.suspended:
            return fn(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if only_if is not None and not bound.arguments.get(only_if):
            return fn(*args, **kwargs)
        attrs, ins = {}, []
        for name, v in bound.arguments.items():
            if isinstance(v, Tensor):
                v = recorder.value_of(v)
                ins.append(v)
            attrs[name] = v
        recorder.suspended += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            recorder.suspended -= 1
        outs = [recorder.new_value(t, "op") for t in _tensors_in(out)]
        if outs:
            recorder.ops.append(Op(op, None, attrs, ins, outs, recorder.where(), recorder.where_type()))
        return out
    wrapper.__name__ = getattr(fn, "__name__", op)
    wrapper.__wrapped__ = fn
    return wrapper


def _read_wrapper(recorder, name, fn):
    how = {"__bool__": "bool(tensor)", "__int__": "int(tensor)", "__float__": "float(tensor)",
           "__index__": "using a tensor as an index"}.get(name, f"tensor.{name}()")

    def wrapper(self, *args, **kwargs):
        if recorder.reading:   # bool(t) calls t.item(): one warning, for the read the program made
            return fn(self, *args, **kwargs)
        recorder.on_value_read(self, how)
        recorder.reading = True
        try:   # detached: traced inputs require grad only so that ops take their recorded path
            return fn(self.detach() if name == "numpy" else self, *args, **kwargs)
        finally:
            recorder.reading = False
    wrapper.__wrapped__ = fn
    return wrapper


def _call_wrapper(recorder, original):
    def __call__(module, *args, **kwargs):
        path = recorder.module_names.get(id(module), type(module).__name__)
        captured = not recorder.suspended and type(module) in recorder.captured
        if captured:
            for t in _tensors_in((args, kwargs)):
                recorder.value_of(t)  # bind inputs before the module's own ops are hidden
        recorder.stack.append((path, module))
        if captured:
            recorder.suspended += 1
        try:
            result = original(module, *args, **kwargs)
        finally:
            if captured:
                recorder.suspended -= 1
            recorder.stack.pop()
        if captured:
            recorder.on_module(module, path, args, kwargs, result)
        return result
    return __call__


def run_traced(fn, args, kwargs=None, *, root=None, captured_modules=(), input_names=None, quiet=False):
    """Run ``fn(*args, **kwargs)`` under a recorder; return (Graph, result)."""
    from ..tensor import Tensor
    kwargs = kwargs or {}
    if root is None and hasattr(fn, "named_modules"):
        root = fn
    recorder = _Recorder(root, set(captured_modules))
    # Inputs are traced as float tensors that require grad, under enable_grad: ops then take their
    # recorded (Node) path; some have a no-grad fast path on raw arrays that the trace would not see.
    args, kwargs = _requiring_grad((args, kwargs))
    flat = _tensors_in((args, kwargs))
    names = list(input_names or [])
    for i, t in enumerate(flat):
        recorder.add_input(t, names[i] if i < len(names) else f"input{i}" if len(flat) > 1 else "input")
    from ..autograd.grad_mode import enable_grad
    with recording(recorder), warnings.catch_warnings(), enable_grad():
        warnings.simplefilter("ignore" if quiet else "always", TracerWarning)
        result = fn(*args, **kwargs)
    outputs = []
    for t in _tensors_in(result):
        if not isinstance(t, Tensor):
            continue
        outputs.append(recorder.value_of(t))
    graph = Graph(recorder.inputs, recorder.params, recorder.consts, recorder.ops, outputs, recorder.warned)
    graph.recorder = recorder
    return graph, result


def _requiring_grad(obj):
    """The same structure with each float tensor replaced by a copy that requires grad."""
    from ..tensor import Tensor
    if isinstance(obj, Tensor):
        if obj._data.dtype.kind != "f" or obj.requires_grad:
            return obj
        from ..autograd.grad_mode import enable_grad
        from ..ops.shape import Clone
        with enable_grad():   # a non-leaf (a copy), so forward may still change it in place
            return Clone().apply(Tensor._wrap(obj._data, obj._device, requires_grad=True))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_requiring_grad(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _requiring_grad(v) for k, v in obj.items()}
    return obj


def trace(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` once and return the :class:`~ndgrad.onnx.graph.Graph` of ops it executed.

    ``fn`` is a function or an ``nn.Module``; parameters and buffers of a module
    appear by name. ``print(graph)`` lists each op with its inputs, output shape
    and dtype, and the module that called it; ``ndgrad.viz.draw_graph(graph)``
    draws it. The graph is the one ``ndgrad.onnx.export`` turns into ONNX.
    """
    from .mapping_modules import CAPTURED_MODULES
    graph, _ = run_traced(fn, args, kwargs, captured_modules=CAPTURED_MODULES())
    return graph

"""Custom autograd functions the PyTorch way: ``class F(ndgrad.autograd.Function)`` and ``F.apply(...)``.

A user writes ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` as staticmethods on Tensors (or the
newer ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``). ``F.apply`` runs forward with grad
mode off and, when some tensor input requires grad, records one graph node, ``FBackward``, that is also
the ``ctx`` the user saw: the engine calls its ``backward``, which calls the user's. So custom functions
need no engine of their own, and a backward written with differentiable Tensor ops is differentiated
again under ``create_graph=True``.

Several differentiable outputs: the engine gives a node one summed gradient, so each output gets a tiny
``_OutputOf`` node that tags its gradient with the output's position; the tags (``_OutputGrads``) add up
by position at the shared node, which then hands the user one gradient per output.
"""
import functools
import inspect

from . import grad_mode
from . import node as _node
from .node import Node

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "InplaceFunction", "once_differentiable"]


class FunctionCtx:
    """What ``forward``/``setup_context`` write into and ``backward`` reads (``ctx``)."""

    def save_for_backward(self, *tensors):
        """Keep tensors (or None) for backward; read them back with ``ctx.saved_tensors``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, _node.Tensor):
                raise TypeError(f"save_for_backward: argument {i} is a {type(t).__name__}; only Tensors (or "
                                f"None) can be saved. Store other values as attributes: ctx.value = ...")
        self.to_save = tensors

    def save_for_forward(self, *tensors):
        self.saved_for_forward = tensors

    @property
    def saved_tensors(self):
        saved = self.__dict__.get("_saved")
        if saved is None:
            if self.__dict__.get("_released"):
                raise RuntimeError(
                    f"{type(self).__name__}: trying to backward through the graph a second time (or to use "
                    f"saved tensors after they were freed). Fix: pass retain_graph=True to the first "
                    f"backward() if you need to go through the graph twice.")
            return tuple(self.__dict__.get("to_save", ()))  # still inside forward / setup_context
        for i, (t, version) in enumerate(saved):
            if t is not None and t._version != version:
                raise RuntimeError(
                    f"{type(self).__name__}: saved tensor {i} (shape {tuple(t.shape)}, {t.dtype}) was modified "
                    f"by an in-place operation: it is at version {t._version}, expected version {version}. "
                    f"Fix: use the out-of-place op, or .clone() the tensor before changing it.")
        return tuple(t for t, _ in saved)

    saved_variables = saved_tensors

    def mark_dirty(self, *tensors):
        """Declare inputs that forward modified in place (they must also be returned as outputs)."""
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        """Declare outputs that get no gradient (indices, masks): they never require grad."""
        self.non_differentiable = tensors

    def set_materialize_grads(self, value):
        """True (default): gradients of unused outputs reach backward as zeros; False: as None."""
        self.materialize_grads = bool(value)

    def mark_shared_storage(self, *pairs):
        raise RuntimeError("mark_shared_storage is deprecated in PyTorch and not supported; tensors that share "
                           "memory are tracked automatically")


class BackwardCFunction(Node, FunctionCtx):
    """The recorded node of one ``F.apply`` call, and the ``ctx`` its forward and backward receive."""

    _forward_cls = None  # the user's Function subclass (set on each per-class subclass)
    materialize_grads = True

    def name(self):  # printed as grad_fn=<FBackward>
        return self._forward_cls.__name__

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} object>"

    def apply(self, *grads):  # torch's spelling: ctx.apply(grads) calls the user's backward
        return self._forward_cls.backward(self, *grads)

    def release(self):
        Node.release(self)
        self._saved = None
        self._released = True

    def backward(self, grad):
        """The engine's call: hand the user one gradient per output, return one per tensor input."""
        grads = grad.grads if isinstance(grad, _OutputGrads) else {0: grad}
        per_output = []
        for i, (shape, dtype, device) in enumerate(self._output_metas):
            g = grads.get(i)
            if g is None and self.materialize_grads and shape is not None:
                g = _node._new_tensor(self.xp.zeros(shape, dtype), device)
            per_output.append(g)
        user_grads = self._forward_cls.backward(self, *per_output)
        return self._tensor_input_grads(user_grads)

    def _tensor_input_grads(self, user_grads):
        name = type(self).__name__
        if not isinstance(user_grads, tuple):
            user_grads = tuple(user_grads) if isinstance(user_grads, list) else (user_grads,)
        n_args = len(self._arg_is_tensor)
        if len(user_grads) > n_args and all(g is None for g in user_grads[n_args:]):
            user_grads = user_grads[:n_args]  # extra trailing Nones are allowed, as in PyTorch
        if len(user_grads) != n_args:
            raise RuntimeError(f"function {name} returned an incorrect number of gradients (expected {n_args}, "
                               f"got {len(user_grads)}): backward must return one gradient (or None) per "
                               f"argument of forward")
        result = []
        for position, (g, is_tensor) in enumerate(zip(user_grads, self._arg_is_tensor)):
            if not is_tensor:
                if g is not None:
                    raise RuntimeError(f"function {name} returned a gradient different than None at position "
                                       f"{position + 1}, but the corresponding forward input was not a Tensor")
                continue
            if g is not None and not isinstance(g, _node.Tensor):
                raise TypeError(f"function {name} returned a {type(g).__name__} as the gradient at position "
                                f"{position + 1}; expected a Tensor or None")
            k = len(result)
            if g is not None and self.needs_input_grad_tensors[k]:
                shape = self.inputs[k]._data.shape
                if tuple(g.shape) != tuple(shape) and not _expandable(shape, g.shape):
                    raise RuntimeError(f"Function {name} returned an invalid gradient at index {position} - got "
                                       f"{list(g.shape)} but expected shape compatible with {list(shape)}")
                result.append(g)
            else:
                result.append(None)
        return tuple(result)


def _expandable(shape, grad_shape):
    """Can a tensor of ``shape`` broadcast to ``grad_shape`` (so the engine may sum the gradient down)?"""
    if len(shape) > len(grad_shape):
        return False
    return all(s == 1 or s == g for s, g in zip(reversed(shape), reversed(grad_shape)))


class _OutputGrads:
    """The gradients of some outputs of one custom-function call, keyed by output position."""

    __slots__ = ("grads", "_data")

    def __init__(self, grads, anchor_data):
        self.grads = grads
        self._data = anchor_data  # lets the engine's shape/dtype check pass unchanged

    def __add__(self, other):
        merged = dict(self.grads)
        for i, g in other.grads.items():
            merged[i] = g if merged.get(i) is None else merged[i] + g
        return _OutputGrads(merged, self._data)


class _OutputOf(Node):
    """The grad_fn of output ``index`` of a multi-output custom function: tags its gradient."""

    __slots__ = ("index", "_fn_name")

    def name(self):
        return self._fn_name

    def backward(self, grad):
        return _OutputGrads({self.index: grad}, self.inputs[0]._data)


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(f"{name}Backward", (BackwardCFunction,),
                                 {"_forward_cls": cls, "__module__": cls.__module__})


class Function(FunctionCtx, metaclass=_FunctionMeta):
    """Base class for custom differentiable operations; subclass it and call ``F.apply(...)``."""

    def __init__(self, *args, **kwargs):
        import warnings
        warnings.warn(f"{type(self)} should not be instantiated: methods of autograd functions are static, "
                      f"call them on the class (F.apply(...))", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is not supported. Use a "
                           "Function with @staticmethod forward(ctx, ...) / backward(ctx, ...) and call "
                           "F.apply(...)")

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function "
                                  "(@staticmethod def forward(ctx, *args))")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("forward-mode AD (jvp) of custom Functions is not supported by ndgrad")

    @classmethod
    def apply(cls, *args, **kwargs):
        return _apply(cls, args, kwargs)


class InplaceFunction(Function):
    """A Function that may work in place (``inplace`` is recorded, as in PyTorch's legacy class)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


@functools.lru_cache(maxsize=None)
def _class_info(cls):
    """(uses setup_context, forward's signature without ctx or None, positional parameter count or None
    when forward takes *args): worked out once per Function class, not on every apply."""
    if inspect.getattr_static(cls, "forward") is inspect.getattr_static(Function, "forward"):
        raise NotImplementedError(f"You must implement the forward function for custom autograd.Function "
                                  f"{cls.__name__} (@staticmethod def forward(ctx, *args))")
    setup_form = inspect.getattr_static(cls, "setup_context") is not inspect.getattr_static(Function,
                                                                                             "setup_context")
    try:
        sig = inspect.signature(cls.forward)
    except (TypeError, ValueError):
        return setup_form, None, None
    params = list(sig.parameters.values())[0 if setup_form else 1:]
    sig = sig.replace(parameters=params)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return setup_form, sig, None
    return setup_form, sig, sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _bind(cls, sig, n_positional, args, kwargs):
    """(positional args with defaults filled in, keyword-only args), as PyTorch binds them: each
    positional parameter of forward gets one entry of needs_input_grad and one gradient."""
    if sig is None or (not kwargs and (n_positional is None or len(args) >= n_positional)):
        return args, kwargs  # nothing to fill in (the common case: no binding cost)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{cls.__name__}.apply: {e}") from None
    bound.apply_defaults()
    return bound.args, bound.kwargs


def _apply(cls, args, kwargs):
    Tensor = _node.Tensor
    setup_form, sig, n_positional = _class_info(cls)
    args, kwargs = _bind(cls, sig, n_positional, args, kwargs)
    is_tensor = tuple([isinstance(a, Tensor) for a in args])
    tensors = tuple([a for a, t in zip(args, is_tensor) if t])
    record = grad_mode.state.enabled and any(t.requires_grad for t in tensors)

    ctx = object.__new__(cls._backward_cls)
    ctx._arg_is_tensor = is_tensor
    ctx.needs_input_grad = tuple([bool(record and t and a.requires_grad) for a, t in zip(args, is_tensor)])
    with grad_mode.no_grad():
        if setup_form:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)

    single = not isinstance(output, tuple)
    outputs = (output,) if single else output
    dirty_list = ctx.__dict__.get("dirty_tensors", ())
    dirty = {id(t) for t in dirty_list}
    if dirty_list:
        output_ids = {id(o) for o in outputs}
        if any(id(t) not in output_ids for t in dirty_list):
            raise RuntimeError(f"{cls.__name__}.forward: tensors marked dirty with ctx.mark_dirty must be "
                               f"returned as outputs (the modified input is the output of an in-place op)")
    # An input returned unchanged becomes a new tensor sharing its memory (so the output can get a
    # grad_fn without rewriting the input's history), unless it was marked dirty (modified in place).
    input_ids = {id(t) for t in tensors}
    outputs = tuple([_alias(o) if id(o) in input_ids and id(o) not in dirty else o for o in outputs])
    if not record:
        return outputs[0] if single else outputs
    return _record(cls, ctx, tensors, outputs, dirty, single)


def _alias(t):
    out = _node.Tensor._wrap(t._data, t._device)
    out._base = t if t._base is None else t._base
    return out


def _record(cls, ctx, tensors, outputs, dirty, single):
    """Attach the graph: ctx becomes the node; each differentiable output gets it (or an _OutputOf)."""
    Tensor = _node.Tensor
    first = tensors[0]
    ctx.device = first._device
    ctx.xp = first.xp
    ctx.inputs = tensors
    ctx.needs_input_grad_tensors = tuple(t.requires_grad for t in tensors)
    ctx.next_functions = tuple((t.grad_fn or t) if t.requires_grad else None for t in tensors)
    ctx._pre_hooks = ctx._retained = None
    ctx._out = None

    non_diff = {id(t) for t in ctx.__dict__.get("non_differentiable", ())}
    metas, differentiable = [], []
    for i, o in enumerate(outputs):
        if isinstance(o, Tensor):
            metas.append((o._data.shape, o._data.dtype, o._device))
            if id(o) not in non_diff and (o.dtype.is_floating_point or o.dtype.is_complex):
                differentiable.append(i)
        else:
            metas.append((None, None, None))
    ctx._output_metas = metas
    tensor_outputs = [i for i, o in enumerate(outputs) if isinstance(o, Tensor)]
    direct = len(tensor_outputs) == 1 and differentiable == tensor_outputs

    for t in tensors:
        if id(t) in dirty and t.grad_fn is None and t.requires_grad:
            raise RuntimeError(f"{cls.__name__}: a leaf tensor that requires grad (shape {tuple(t.shape)}) was "
                               f"modified in place (ctx.mark_dirty). Fix: clone it before the call, or do "
                               f"the update under ndgrad.no_grad()")
    anchor = None
    for i in differentiable:
        o = outputs[i]
        if direct:
            fn = ctx
            ctx.out_meta = (o._data.shape, o._data.dtype)
        else:
            if anchor is None:
                anchor = Tensor._wrap(ctx.xp.zeros((), first._data.dtype), first._device,
                                      requires_grad=True, grad_fn=ctx)
                ctx.out_meta = ((), first._data.dtype)
            fn = _output_node(ctx, i, anchor, o)
        o.requires_grad = True
        o.grad_fn = fn
    for i in tensor_outputs:
        if i not in differentiable and id(outputs[i]) not in dirty:
            outputs[i].requires_grad = False
    # Versions are taken after forward: in-place changes made by forward itself are part of the op.
    ctx._versions = tuple(t._version for t in tensors)
    ctx._saved = tuple((t, None if t is None else t._version) for t in ctx.__dict__.pop("to_save", ()))
    return outputs[0] if single else outputs


def _output_node(ctx, index, anchor, output):
    node = object.__new__(_OutputOf)
    node.index = index
    node._fn_name = ctx.name()
    node.inputs = (anchor,)
    node.needs_input_grad = (True,)
    node.next_functions = (ctx,)
    node._versions = (anchor._ver,)
    node.device = ctx.device
    node.xp = ctx.xp
    node.out_meta = (output._data.shape, output._data.dtype)
    node._pre_hooks = node._retained = None
    node._out = None
    return node


# -- once_differentiable --------------------------------------------------------------------------------

class _DelayedError(Node):
    """Passes a gradient through, and refuses to be differentiated (a once_differentiable backward)."""

    __slots__ = ("message",)

    def __init__(self, message):
        self.message = message

    def forward(self, x, *grads_in):  # grads_in: the incoming gradients, so the node joins their graph
        return x.view()

    def backward(self, grad):
        raise RuntimeError(self.message)


def once_differentiable(backward):
    """Decorate a ``backward(ctx, *grads)`` that is not itself differentiable (e.g. written on raw arrays):
    it runs without recording, and differentiating its result (double backward) raises a clear error."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            outputs = backward(ctx, *grads)
        if not grad_mode.is_grad_enabled():
            return outputs
        if not any(isinstance(g, _node.Tensor) and g.requires_grad for g in grads):
            return outputs
        message = (f"trying to differentiate twice a function that was marked with @once_differentiable "
                   f"({type(ctx).__name__}); write its backward with differentiable Tensor ops to get "
                   f"higher-order gradients")
        single = not isinstance(outputs, tuple)
        sources = [g for g in grads if isinstance(g, _node.Tensor) and g.requires_grad]
        wrapped = tuple(_DelayedError(message).apply(g, *sources) if isinstance(g, _node.Tensor)
                        and g.dtype.is_floating_point else g
                        for g in ((outputs,) if single else outputs))
        return wrapped[0] if single else wrapped

    return wrapper

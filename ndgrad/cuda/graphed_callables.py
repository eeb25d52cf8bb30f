"""``make_graphed_callables``: a module's or function's forward and backward as two CUDA graphs each.

The returned callable copies its arguments into static inputs, replays the forward graph and returns the
static outputs through an autograd function whose backward copies the incoming gradients into static
gradient buffers and replays the backward graph. Parameters' gradients come out of that backward and are
accumulated into ``.grad`` by the autograd engine as usual.
"""
from .. import autograd
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from .graphs import CUDAGraph, graph, graph_pool_handle
from .streams import Stream, StreamContext, current_stream, _cupy


def _as_tensor_tuple(value, what):
    items = value if isinstance(value, (tuple, list)) else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise TypeError(f"make_graphed_callables: {what} must be Tensors (or tuples of Tensors); item {i} "
                            f"is a {type(item).__name__}")
    return tuple(items)


def _check_callable(fn, args):
    from ..nn import Module
    if isinstance(fn, Module):
        hooks = [name for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks")
                 if getattr(fn, name, None)]
        if hooks:
            raise RuntimeError(f"make_graphed_callables: the {type(fn).__name__} module has registered hooks "
                               f"({', '.join(hooks)}); graphing a module with hooks is not allowed, as in PyTorch")
        if any(b is not None and b.requires_grad for b in fn.buffers()):
            raise RuntimeError("make_graphed_callables: the module has buffers that require grad")
    for i, arg in enumerate(args):
        if arg.device.type != "cuda":
            raise RuntimeError(f"make_graphed_callables: sample argument {i} is on {arg.device}; graphs run "
                               f"on the GPU, so move it with .cuda() first")


class _Graphed:
    """One callable's captured forward and backward graphs and their static tensors."""

    def __init__(self, fn, sample_args, pool, warmup_iters, allow_unused_input):
        self.fn = fn
        self.sample_args = sample_args
        params = tuple(fn.parameters()) if hasattr(fn, "parameters") else ()
        self.params = params
        self.surfaces = sample_args + params          # everything a gradient may flow to
        self.pool = pool
        self.warmup_iters = warmup_iters
        self.allow_unused = allow_unused_input
        self.fwd_graph, self.bwd_graph = CUDAGraph(), CUDAGraph()

    def _grad_surfaces(self):
        return tuple(t for t in self.surfaces if t.requires_grad)

    def _backward_of(self, outputs, grad_outputs):
        """Gradients of ``outputs`` (weighted by ``grad_outputs``, aligned with them) for every surface that
        requires grad; outputs that do not require grad take no part."""
        wanted = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
        surfaces = self._grad_surfaces()
        if not wanted or not surfaces:
            return ()
        return autograd.grad([o for o, _ in wanted], surfaces, grad_outputs=[g for _, g in wanted],
                             allow_unused=self.allow_unused)

    def warm_up(self):
        for _ in range(self.warmup_iters):
            outputs = _as_tensor_tuple(self.fn(*self.sample_args), "the callable's outputs")
            self._backward_of(outputs, tuple(o.detach() * 0 + 1 for o in outputs))
            del outputs

    def capture_forward(self):
        with graph(self.fwd_graph, pool=self.pool):
            outputs = self.fn(*self.sample_args)
        self.single_output = isinstance(outputs, Tensor)
        self.static_outputs = _as_tensor_tuple(outputs, "the callable's outputs")

    def capture_backward(self):
        self.static_grad_outputs = tuple(o.detach().clone() if o.requires_grad else None
                                         for o in self.static_outputs)
        with graph(self.bwd_graph, pool=self.pool):
            grads = self._backward_of(self.static_outputs, self.static_grad_outputs)
        grads = iter(grads)   # one per surface that requires grad (None where unused, or if no output needs grad)
        self.static_grad_inputs = tuple(next(grads, None) if t.requires_grad else None for t in self.surfaces)

    def check_args(self, args):
        if len(args) != len(self.sample_args):
            raise TypeError(f"graphed callable: expected {len(self.sample_args)} tensor argument(s), as in "
                            f"sample_args, got {len(args)}")
        for i, (arg, sample) in enumerate(zip(args, self.sample_args)):
            if not isinstance(arg, Tensor) or arg.shape != sample.shape or arg.dtype != sample.dtype \
                    or arg.device != sample.device:
                got = (f"{type(arg).__name__}" if not isinstance(arg, Tensor)
                       else f"shape {tuple(arg.shape)}, {arg.dtype}, {arg.device}")
                raise RuntimeError(
                    f"graphed callable: argument {i} has {got}, but the graph was captured for shape "
                    f"{tuple(sample.shape)}, {sample.dtype}, {sample.device}; a CUDA graph replays fixed "
                    f"shapes, so graph one callable per input shape (or pad to the captured shape)")

    def replay_forward(self, args):
        with no_grad():
            for static, arg in zip(self.sample_args, args):
                if static.data_ptr() != arg.data_ptr():
                    static.copy_(arg)
        self.fwd_graph.replay()
        return tuple(o.detach() for o in self.static_outputs)

    def replay_backward(self, grads):
        with no_grad():
            for static, grad in zip(self.static_grad_outputs, grads):
                if static is None:
                    continue
                if grad is None:
                    static.zero_()
                elif static.data_ptr() != grad.data_ptr():
                    static.copy_(grad)
        self.bwd_graph.replay()
        return tuple(g.detach() if g is not None else None for g in self.static_grad_inputs)


def _autograd_function(graphed):
    class Graphed(Function):
        @staticmethod
        def forward(ctx, *inputs):
            return graphed.replay_forward(inputs[:len(graphed.sample_args)])

        @staticmethod
        def backward(ctx, *grads):
            return graphed.replay_backward(grads)

    def run(*args):
        graphed.check_args(args)
        outputs = Graphed.apply(*args, *graphed.params)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        return outputs[0] if graphed.single_output else outputs

    return run


def make_graphed_callables(callables, sample_args, num_warmup_iters=3, allow_unused_input=False, pool=None):
    """Graphed versions of ``callables`` (modules or functions): each runs its forward and its backward as
    one CUDA graph replay. ``sample_args`` gives each callable's tensor arguments (shapes, dtypes and
    ``requires_grad`` as at every later call). A module is returned with its ``forward`` replaced; it runs
    the graph while its ``training`` flag is what it was at capture and its eager forward otherwise."""
    _cupy("make_graphed_callables")
    just_one = not isinstance(callables, tuple)
    if just_one:
        callables, sample_args = (callables,), (sample_args,)
    if len(callables) != len(sample_args):
        raise ValueError(f"make_graphed_callables: got {len(callables)} callables but {len(sample_args)} "
                         f"sample_args tuples; give one tuple of sample arguments per callable")
    from ..amp import is_autocast_enabled
    if is_autocast_enabled("cuda"):
        raise RuntimeError("make_graphed_callables: call it outside autocast (autocast inside the callables "
                           "is captured as usual)")
    pool = graph_pool_handle() if pool is None else pool
    graphed = []
    for fn, args in zip(callables, sample_args):
        args = _as_tensor_tuple(args, "sample_args")
        _check_callable(fn, args)
        graphed.append(_Graphed(fn, args, pool, num_warmup_iters, allow_unused_input))

    from . import synchronize
    side = Stream()
    side.wait_stream(current_stream())
    with StreamContext(side):   # PyTorch's rule: warm up on a side stream, then capture
        for g in graphed:
            g.warm_up()
    current_stream().wait_stream(side)
    synchronize()
    for g in graphed:                       # forwards in order, backwards in reverse (as autograd runs them)
        g.capture_forward()
    for g in reversed(graphed):
        g.capture_backward()

    results = []
    for fn, g in zip(callables, graphed):
        run = _autograd_function(g)
        if hasattr(fn, "forward") and hasattr(fn, "training"):
            results.append(_replace_forward(fn, run))
        else:
            results.append(run)
    return results[0] if just_one else tuple(results)


def _replace_forward(module, run):
    captured_training = module.training
    eager_forward = module.forward

    def forward(*args):
        if module.training == captured_training:
            return run(*args)
        return eager_forward(*args)

    module.forward = forward
    return module

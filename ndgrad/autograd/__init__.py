"""Reverse-mode automatic differentiation: backward(), grad(), gradcheck."""
from .node import Node
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .engine import run_backward
from .gradcheck import gradcheck, gradgradcheck
from . import functional
from . import node as _node
from . import function
from .function import Function, FunctionCtx, InplaceFunction, once_differentiable
from .variable import Variable
from .anomaly_mode import (detect_anomaly, set_detect_anomaly, is_anomaly_enabled,  # noqa: F401
                           is_anomaly_check_nan_enabled)


def _new_tensor(data, device):
    return _node._new_tensor(data, device)

__all__ = ["Node", "Function", "FunctionCtx", "InplaceFunction", "Variable", "function", "graph",
           "detect_anomaly", "set_detect_anomaly", "backward", "grad", "gradcheck", "gradgradcheck", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode", "functional"]


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _make_grads(outputs, grad_outputs, op):
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs, but the output has shape "
                    f"{tuple(out.shape)}. Fix: reduce it first (e.g. out.sum().{op}()) or pass "
                    f"gradient=<a tensor of shape {tuple(out.shape)}> (the vector of the vector-Jacobian product).")
            if out._data.dtype.kind == "c":
                raise RuntimeError(f"{op}: grad can be implicitly created only for real scalar outputs, and this "
                                   f"one is {out.dtype}. Fix: take a real part first (e.g. out.abs() or out.real) "
                                   f"or pass gradient=")
            g = _new_tensor(out.xp.ones(out._data.shape, out._data.dtype), out._device)
        else:
            if not hasattr(g, "_data"):
                from ..creation import tensor
                g = tensor(g, dtype=out.dtype, device=out.device)
            if tuple(g.shape) != tuple(out.shape):
                raise RuntimeError(f"{op}: the gradient has shape {tuple(g.shape)} but the output has shape "
                                   f"{tuple(out.shape)}; pass a gradient with the output's shape")
            if g.device != out.device:
                raise RuntimeError(f"{op}: the gradient is on {g.device} but the output is on {out.device}")
        if not (out.dtype.is_floating_point or out.dtype.is_complex):
            raise RuntimeError(f"{op}: can't differentiate an output of dtype {out.dtype}; only floating-point "
                               f"tensors have gradients")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad``."""
    outputs = _as_tuple(tensors)
    grads = _make_grads(outputs, _as_tuple(grad_tensors), "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        results = grad(outputs, inputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                       allow_unused=True)
        for t, g in zip(inputs, results):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned (``.grad`` fields are left alone)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) does not require grad; create it with "
                               f"requires_grad=True")
    grads = _make_grads(outputs, _as_tuple(grad_outputs), "grad")
    if retain_graph is None:
        retain_graph = create_graph
    capture = {id(t): None for t in inputs}
    capture_nodes = {t.grad_fn: id(t) for t in inputs if t.grad_fn is not None}
    run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph, capture=capture,
                 capture_nodes=capture_nodes)
    results = []
    for i, t in enumerate(inputs):
        g = capture[id(t)]
        if g is None:
            if materialize_grads:
                from ..creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) was not used to compute the "
                                   f"outputs; pass allow_unused=True to get None for it")
        elif not create_graph:
            g = g.detach()
        results.append(g)
    return tuple(results)


def __getattr__(name):
    if name == "graph":  # torch.autograd.graph: loaded on first use
        import importlib
        return importlib.import_module(f"{__name__}.graph")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

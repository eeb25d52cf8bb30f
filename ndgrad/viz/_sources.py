"""Where each op came from (module path and source line), recorded only inside ``viz.record_sources()``.

Outside the context nothing is patched, so ordinary forward passes pay nothing.
Inside, ``Node.apply``'s recorder hook notes, per node, the module being called
(``DosageNet.hidden``) and the first line of user code on the stack, and
``Module.__call__`` is wrapped to keep the stack of modules and to name their
parameters (``hidden.weight``).
"""
import contextlib
import os
import sys
import weakref

_NDGRAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ALLOWED = (os.path.join(_NDGRAD_DIR, "viz", "explain_cli.py"),)  # the CLI's own model code counts as user code

_WHERE = weakref.WeakKeyDictionary()   # node -> ("DosageNet.output (Linear)", "/path/script.py", 12)
_PARAM_NAMES = {}                       # id(tensor) -> (weakref to it, "hidden.weight")


def where(node):
    """``DosageNet.output (Linear), train.py:12 `loss = ...``` or None when nothing was recorded."""
    found = _WHERE.get(node)
    if found is None:
        return None
    module, path, line = found
    parts = [module] if module else []
    if path is not None:
        import linecache
        code = linecache.getline(path, line).strip()
        parts.append(f"{os.path.basename(path)}:{line}" + (f" `{code}`" if code and len(code) <= 70 else ""))
    return ", ".join(parts) or None


def param_name(tensor):
    entry = _PARAM_NAMES.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        return entry[1]
    return None


def _user_line():
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if not path.startswith(_NDGRAD_DIR) or path in _ALLOWED:
            return path, frame.f_lineno
        frame = frame.f_back
    return None, None


@contextlib.contextmanager
def record_sources():
    """Record, for every op run inside, the module that called it and the user's source line.

    ``viz.explain`` then says where each step of the backward pass came from::

        with ndgrad.viz.record_sources():
            loss = ((model(x) - y) ** 2).sum()
        ndgrad.viz.explain(loss)
    """
    from ..autograd import node as node_module
    from ..nn.module import Module

    stack = []   # [(module, dotted path)] of the modules being called right now
    previous_recorder = node_module._recorder
    previous_call = Module.__dict__["__call__"]

    def on_node(node, inputs, result):
        if previous_recorder is not None:  # ndgrad.trace / onnx.export may be recording too
            previous_recorder(node, inputs, result)
        module_text = None
        if stack:
            module, dotted = stack[-1]
            module_text = f"{dotted} ({type(module).__name__})"
        try:  # the source text is looked up only when explain prints it
            _WHERE[node] = (module_text, *_user_line())
        except TypeError:  # a node type without __weakref__: just not recorded
            pass

    def call(module, *args, **kwargs):
        path = _child_path(stack, module)
        for name, p in module._parameters.items():
            if p is not None:
                _PARAM_NAMES[id(p)] = (weakref.ref(p), _strip_root(f"{path}.{name}"))
        stack.append((module, path))
        try:
            return previous_call(module, *args, **kwargs)
        finally:
            stack.pop()

    node_module._recorder = on_node
    Module.__call__ = call
    try:
        yield
    finally:
        Module.__call__ = previous_call
        node_module._recorder = previous_recorder


def _child_path(stack, module):
    if not stack:
        return type(module).__name__
    parent, parent_path = stack[-1]
    for name, child in parent._modules.items():
        if child is module:
            return f"{parent_path}.{name}"
    return f"{parent_path}.{type(module).__name__}"


def _strip_root(path):
    """``DosageNet.hidden.weight`` -> ``hidden.weight``, the name in ``named_parameters()``."""
    return path.partition(".")[2]

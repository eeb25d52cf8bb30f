"""``draw_graph``: the computation graph behind a tensor, as Graphviz DOT (and SVG/PNG with ``dot``).

The walk follows the autograd contract: ``tensor.grad_fn`` is the node that
made a tensor; ``node.next_functions[i]`` is where input i came from: another
node, a leaf Tensor that requires grad, or None (an input that needs no
gradient). ``node.inputs`` holds the input tensors until backward frees them,
and gives the shape and dtype on each edge.
"""
import os
import shutil
import subprocess
import warnings

from ..dtypes import to_dtype

_FORMATS = ("svg", "png", "pdf", "dot")
_COLORS = {"output": "#b7e4a6", "op": "#e8e8e8", "leaf": "#a9d3f5", "const": "#ffffff"}
_MAX_ARGS = 3  # op attributes shown in a node label (Sum(dim=1, keepdim=True)), so labels stay short


def draw_graph(tensor, path=None, show_grad_norms=False, format="svg", params=None, show_constants=True,
               notes=None):
    """Return the Graphviz DOT text of the graph that produced ``tensor``; optionally render it.

    ``tensor`` may also be a graph from ``ndgrad.trace(fn, *args)`` (ops in execution order, each with the
    module that called it).

    Op nodes (gray) show the op and its output shape and dtype; leaves that
    require grad (blue) show their name (from ``params``, a dict
    ``{'w': w}`` or ``dict(model.named_parameters())``), shape and dtype;
    inputs that need no gradient (white, dashed) show the same when
    ``show_constants``. The output is green. With ``show_grad_norms`` after
    ``backward()``, leaves (and tensors that called ``retain_grad()``) show
    the L2 norm of their gradient.

    ``path``: where to write the picture (its extension, or ``format``, picks
    svg/png/pdf). Rendering needs the Graphviz ``dot`` program; without it the
    DOT text is written to ``<path>.dot`` and a warning says so.

    ``notes``: extra label lines, ``{op node or tensor: "value 0.5\\ngrad 1.2"}`` or such pairs (``viz.explain`` uses it
    to show each node's value and gradient).
    """
    from ..tensor import Tensor
    if not isinstance(tensor, Tensor) and hasattr(tensor, "to_dot"):  # a traced graph (ndgrad.trace)
        text = tensor.to_dot()
        if path is not None:
            _render(text, os.fspath(path), format)
        return text
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected an ndgrad Tensor, got {type(tensor).__name__}")
    if format not in _FORMATS:
        raise ValueError(f"draw_graph: format={format!r} is not supported; use one of {', '.join(_FORMATS)}")
    names = _param_names(params)
    text = _GraphWriter(names, show_grad_norms, show_constants, notes).write(tensor)
    if path is not None:
        _render(text, os.fspath(path), format)
    return text


def _param_names(params):
    if params is None:
        return {}
    items = params.items() if hasattr(params, "items") else params
    names = {}
    for name, t in items:
        names[id(t)] = str(name)
    return names


class _GraphWriter:
    def __init__(self, names, show_grad_norms, show_constants, notes=None):
        self.names = names
        pairs = (notes.items() if hasattr(notes, "items") else notes) if notes else ()
        self.notes = {id(k): v for k, v in pairs}
        self.show_grad_norms = show_grad_norms
        self.show_constants = show_constants
        self.ids = {}    # id(object) -> DOT node id, in the order first met (deterministic output)
        self.keep = []   # the objects behind those ids, alive while we draw
        self.lines = []
        self.freed = False

    def write(self, root):
        out_id = self._new_id(root, "out")
        self._node(out_id, self._tensor_label(root, "output"), "output")
        if root.grad_fn is not None:
            self._walk(root.grad_fn, out_id, root)
        head = ["digraph ndgrad {",
                '  graph [rankdir=TB, fontname="Helvetica", fontsize=10];',
                '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
                '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
        if self.freed:
            head.append('  freed_note [shape=plaintext, style="", label="inner shapes are unknown: backward() '
                        'freed the graph (use backward(retain_graph=True) to keep them)"];')
        return "\n".join(head + self.lines + ["}"]) + "\n"

    def _walk(self, root_node, out_id, root):
        # Iterative depth-first walk: graphs thousands of ops deep must not hit Python's recursion limit.
        root_id = self._new_id(root_node, "op")
        self._op_node(root_node, root_id, root)
        self._edge(root_id, out_id)
        stack = [root_node]
        while stack:
            node = stack.pop()
            node_id = self.ids[id(node)]
            inputs = node.inputs  # None once backward freed the node
            for i, parent in enumerate(node.next_functions):
                given = inputs[i] if inputs is not None else None
                if parent is None:
                    if self.show_constants and given is not None:
                        self._leaf_or_const(given, node_id, "const")
                elif hasattr(parent, "next_functions"):  # another op node
                    if id(parent) not in self.ids:
                        pid = self._new_id(parent, "op")
                        self._op_node(parent, pid, given)
                        stack.append(parent)
                    self._edge(self.ids[id(parent)], node_id)
                else:  # a leaf tensor that requires grad
                    self._leaf_or_const(parent, node_id, "leaf")

    def _leaf_or_const(self, t, consumer_id, kind):
        if id(t) not in self.ids:
            tid = self._new_id(t, kind)
            name = self.names.get(id(t))
            if kind == "leaf":
                label = self._tensor_label(t, name or "leaf", extra="requires_grad")
            elif name is None and t.ndim == 0:  # a Python number an op turned into a tensor (x * 2)
                label = self._tensor_label(t, _number(t.item()))
            else:
                label = self._tensor_label(t, name or "input", extra="no grad")
            self._node(tid, label, kind)
        self._edge(self.ids[id(t)], consumer_id)

    def _op_node(self, node, node_id, output):
        lines = [_op_title(node)]
        meta = getattr(node, "out_meta", None)
        if output is not None:
            lines.append(f"{_shape(output)} {_dtype(output)}")
        elif meta is not None:  # the graph was freed by backward(), but each node kept its output's shape
            shape, dtype = meta
            lines.append(f"{_shape_of(shape)} {to_dtype(dtype).name}")
        else:
            lines.append("shape ?")
            self.freed = True
        if self.show_grad_norms:
            retained = getattr(node, "_retained", None)
            t = retained() if retained is not None else None
            if t is not None and t.grad is not None:
                lines.append(f"|grad| = {_norm(t.grad):.4g}")
        if id(node) in self.notes:
            lines.append(self.notes[id(node)])
        self._node(node_id, "\n".join(lines), "op")

    def _tensor_label(self, t, title, extra=None):
        name = self.names.get(id(t))
        lines = [name if name and title == "output" else title, f"{_shape(t)} {_dtype(t)}"]
        if extra:
            lines.append(extra)
        if self.show_grad_norms and t.grad is not None:
            lines.append(f"|grad| = {_norm(t.grad):.4g}")
        if id(t) in self.notes:
            lines.append(self.notes[id(t)])
        return "\n".join(lines)

    def _new_id(self, obj, prefix):
        node_id = f"{prefix}{len(self.ids)}"
        self.ids[id(obj)] = node_id
        self.keep.append(obj)
        return node_id

    def _node(self, node_id, label, kind):
        style = ', style="rounded,dashed"' if kind == "const" else ""
        self.lines.append(f'  {node_id} [label="{_escape(label)}", fillcolor="{_COLORS[kind]}"{style}];')

    def _edge(self, src, dst):
        self.lines.append(f"  {src} -> {dst};")


def _op_title(node):
    """``Sum(dim=1, keepdim=True)``: the op's name and its simple non-tensor settings."""
    name = node.name() if hasattr(node, "name") else type(node).__name__
    args = []
    for attr in _own_attributes(node):
        value = getattr(node, attr, None)
        if _is_simple(value):
            text = f"{attr}={value!r}"
            if len(text) <= 24:
                args.append(text)
        if len(args) == _MAX_ARGS:
            break
    return f"{name}({', '.join(args)})" if args else name


def _own_attributes(node):
    from ..autograd.node import Node
    names = []
    for cls in type(node).__mro__:
        if cls is Node or cls is object:
            break
        slots = cls.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    names.extend(getattr(node, "__dict__", {}))
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


def _is_simple(value):
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value is not None
    if isinstance(value, tuple) and len(value) <= 4:
        return all(isinstance(v, (bool, int, float)) for v in value)
    return False


def _number(value):
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _shape(t):
    return _shape_of(t.shape)


def _shape_of(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _dtype(t):
    return str(t.dtype).replace("ndgrad.", "")


def _norm(g):
    xp = g.xp
    data = g._data
    return float(xp.sqrt(xp.sum(xp.square(data.astype("float64")))))


def _escape(label):
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _render(text, path, format):
    base, ext = os.path.splitext(path)
    fmt = ext[1:].lower() if ext[1:].lower() in _FORMATS else format
    if ext[1:].lower() not in _FORMATS:
        base, path = path, f"{path}.{fmt}"
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    if fmt == "dot":
        with open(path, "w") as f:
            f.write(text)
        return path
    dot = shutil.which("dot")
    if dot is None:
        dot_path = f"{base}.dot"
        with open(dot_path, "w") as f:
            f.write(text)
        warnings.warn(f"draw_graph: the Graphviz 'dot' program was not found, so {path} was not drawn; "
                      f"the graph's DOT text is in {dot_path}. Install Graphviz (apt install graphviz, "
                      f"brew install graphviz) or paste the text into an online Graphviz viewer.",
                      RuntimeWarning, stacklevel=3)
        return dot_path
    done = subprocess.run([dot, f"-T{fmt}", "-o", path], input=text.encode(), capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"draw_graph: Graphviz 'dot' failed to draw {path}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return path

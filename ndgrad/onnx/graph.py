"""The traced graph: values (tensors seen by the trace) and the ops that made them, in execution order.

``ndgrad.trace(fn, *args)`` returns a :class:`Graph`; ``print(graph)`` reads like a
program, ``graph.to_dot()`` (and ``ndgrad.viz.draw_graph(graph)``) draws it, and
``ndgrad.onnx.export`` maps the same ops to ONNX nodes.
"""

_MAX_ATTR_TEXT = 40  # attribute values longer than this are shortened in printouts


class Value:
    """One tensor of the trace: a graph input, a parameter/buffer, a constant or an op's output."""
    __slots__ = ("name", "shape", "dtype", "kind", "array")

    def __init__(self, name, shape, dtype, kind, array=None):
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype          # a numpy dtype
        self.kind = kind            # "input", "param", "const" or "op"
        self.array = array          # the values, for params and constants (host copy)

    def type_text(self):
        return f"{self.dtype.name}[{', '.join(str(d) for d in self.shape)}]"

    def __repr__(self):
        return f"%{self.name}: {self.type_text()}"


class Op:
    """One recorded op: its name, the Node (or None for non-differentiable ops), inputs, outputs, caller."""
    __slots__ = ("op", "node", "attrs", "inputs", "outputs", "module", "module_type", "extra")

    def __init__(self, op, node, attrs, inputs, outputs, module, module_type, extra=None):
        self.op = op
        self.node = node
        self.attrs = attrs            # non-tensor arguments, by name
        self.inputs = inputs          # Values, or Python numbers for scalar arguments
        self.outputs = outputs        # Values
        self.module = module          # dotted path of the module that called the op ("" at top level)
        self.module_type = module_type
        self.extra = extra            # module ops: the module object itself

    def __repr__(self):
        ins = ", ".join(f"%{v.name}" if isinstance(v, Value) else repr(v) for v in self.inputs)
        attrs = ", ".join(f"{k}={_short(v)}" for k, v in display_attrs(self.attrs).items())
        outs = ", ".join(f"%{v.name}: {v.type_text()}" for v in self.outputs)
        where = f"  # {self.module} ({self.module_type})" if self.module else ""
        sep = ", " if ins and attrs else ""
        return f"{outs} = {self.op}({ins}{sep}{attrs}){where}"


_HIDDEN = {"in_shape", "x_shape", "cols", "xhat", "rstd", "mean", "var", "indices", "sizes", "arg", "rows"}


def display_attrs(attrs):
    """The attributes worth reading: geometry objects opened up, saved arrays and input shapes left out."""
    shown = {}
    for k, v in attrs.items():
        if k in _HIDDEN or v is None and k in ("weight", "dtype"):
            continue
        slots = getattr(type(v), "__slots__", None)
        if slots and not isinstance(v, (tuple, int, float, str)) and not hasattr(v, "dtype"):
            for name in slots:   # e.g. a convolution's geometry: kernel, stride, pads, dilation, groups
                if not name.startswith("_") and name not in _HIDDEN and hasattr(v, name):
                    shown[name] = getattr(v, name)
            continue
        shown[k] = v
    return shown


def _short(v):
    text = repr(v)
    if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, tuple):
        text = f"array{tuple(v.shape)}"
    return text if len(text) <= _MAX_ATTR_TEXT else text[:_MAX_ATTR_TEXT - 3] + "..."


class Graph:
    """What a traced function did: ``inputs``, ``params`` (name -> Value), ``consts``, ``ops``, ``outputs``."""

    def __init__(self, inputs, params, consts, ops, outputs, warnings=()):
        self.inputs = inputs
        self.params = params
        self.consts = consts
        self.ops = ops
        self.outputs = outputs
        self.warnings = list(warnings)

    def op_names(self):
        return [op.op for op in self.ops]

    def __len__(self):
        return len(self.ops)

    def __iter__(self):
        return iter(self.ops)

    def __repr__(self):
        head = ", ".join(repr(v) for v in self.inputs)
        lines = [f"graph({head}):"]
        for v in self.params.values():
            lines.append(f"  param {v!r}")
        lines += [f"  {op!r}" for op in self.ops]
        lines.append("  return " + ", ".join(f"%{v.name}" for v in self.outputs))
        return "\n".join(lines)

    __str__ = __repr__

    def to_dot(self):
        """Graphviz DOT text: inputs and parameters (blue), ops (gray, with output shape and module), outputs."""
        lines = ["digraph ndgrad_trace {",
                 '  graph [rankdir=TB, fontname="Helvetica", fontsize=10];',
                 '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];']
        producer = {}
        for v in list(self.inputs) + list(self.params.values()) + list(self.consts):
            color = "#a9d3f5" if v.kind != "const" else "#ffffff"
            lines.append(f'  "{v.name}" [label="{_esc(v.name)}\\n{v.type_text()}", fillcolor="{color}"];')
            producer[id(v)] = v.name
        for i, op in enumerate(self.ops):
            node_id = f"op{i}"
            where = f"\\n{_esc(op.module)}" if op.module else ""
            outs = ", ".join(v.type_text() for v in op.outputs)
            lines.append(f'  "{node_id}" [label="{_esc(op.op)}\\n{outs}{where}", fillcolor="#e8e8e8"];')
            for v in op.inputs:
                if hasattr(v, "name") and id(v) in producer:
                    lines.append(f'  "{producer[id(v)]}" -> "{node_id}";')
            for v in op.outputs:
                producer[id(v)] = node_id
        for k, v in enumerate(self.outputs):
            lines.append(f'  "output{k}" [label="output {k}\\n{v.type_text()}", fillcolor="#b7e4a6"];')
            if id(v) in producer:
                lines.append(f'  "{producer[id(v)]}" -> "output{k}";')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _esc(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"')

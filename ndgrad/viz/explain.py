"""``explain(loss)``: the backward pass told step by step, with the real numbers.

The walk runs every node's backward rule in the order ``ndgrad.autograd``'s
engine does (the same dependency counts and the same stack), on the user's
graph without freeing it (``retain_graph`` semantics) and without touching any
``.grad``: gradients are kept in local buffers. For each step it shows what the
op computed, where it came from (inside ``viz.record_sources()``), its input and
output values, the gradient arriving (a sum when a tensor feeds several ops),
the local derivative in plain words (``viz._templates``) and the chain-rule
product that flows on. The leaves' gradients at the end equal ``backward()``'s.
"""
import io
import sys

from . import _sources
from ._templates import fill, template_for

_FULL = 12     # tensors with at most this many entries are printed in full
_DIGITS = 4    # significant digits of every printed number


class Step:
    """One node of the backward pass: what ``explain`` printed for it, as data (for tests and tools)."""
    __slots__ = ("index", "node", "op", "where", "inputs", "output", "incoming", "grad", "outgoing", "shown")

    def __init__(self, index, node):
        self.index, self.node, self.op = index, node, node.name()
        self.where = _sources.where(node)
        self.inputs = []     # [(symbol, tensor or None, source text)]
        self.output = None   # the op's output value
        self.incoming = []   # [(from step index, gradient)]: summed into grad
        self.grad = None     # dL/d(output): the total gradient arriving
        self.outgoing = []   # [(input index, local derivative or None, gradient sent, target)]
        self.shown = True


class Explanation:
    """What ``explain`` found: ``text`` (as printed), ``steps`` and ``gradients`` ({name: tensor})."""

    def __init__(self, text, steps, gradients, output=None, names=None, output_name="L"):
        self.text, self.steps, self.gradients = text, steps, gradients
        self.output, self._names, self._L = output, names or {}, output_name

    def notes(self):
        """(op node or leaf tensor, label text) pairs: each node's value and gradient, for ``draw_graph``."""
        pairs, L = [], self._L
        for step in self.steps:
            lines = [f"y = {_fmt(step.output)}"] if step.output is not None and step.output.numel() <= 4 else []
            if step.grad is not None and step.grad.numel() <= 4:
                lines.append(f"d{L}/dy = {_fmt(step.grad)}")
            if lines:
                pairs.append((step.node, "\n".join(lines)))
            for _, tensor, parent in step.inputs:
                if parent is not None and not isinstance(parent, int) and tensor.numel() <= 4:
                    name = self._names.get(id(tensor))
                    grad = self.gradients.get(name)
                    text = f"value {_fmt(tensor)}" + (f"\nd{L}/d{name} = {_fmt(grad)}" if grad is not None else "")
                    pairs.append((tensor, text))
        return pairs

    def draw(self, path=None, params=None, format="svg"):
        """The graph with each node's value and gradient, as DOT text (rendered to ``path`` as draw_graph does)."""
        from .graph import draw_graph
        return draw_graph(self.output, path, params=params, format=format, notes=self.notes())

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"<Explanation of {len(self.steps)} backward steps, gradients for {', '.join(self.gradients)}>"


def explain(output, inputs=None, *, max_nodes=50, file=None, output_name="L"):
    """Print the backward pass of scalar ``output`` step by step, and return an ``Explanation``.

    ``inputs``: the tensors whose gradients to follow (a tensor, a list, a dict ``{name: tensor}`` or
    ``model.named_parameters()``); only the steps on their paths are printed. Default: every leaf that
    requires grad. ``max_nodes``: at most this many steps are printed (the rest are still computed).
    ``file``: where to print (default stdout; a path or an open text file). Run the forward pass inside
    ``ndgrad.viz.record_sources()`` to see each op's module and source line. Nothing in the graph or any
    ``.grad`` changes: ``backward()`` afterwards gives the same gradients.
    """
    from ..tensor import Tensor
    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected the ndgrad Tensor to differentiate (a loss), got {type(output).__name__}")
    if output.numel() != 1:
        raise ValueError(f"explain: the output must be a single number (a loss), got shape {tuple(output.shape)}. "
                         f"Fix: reduce it first, e.g. explain(output.sum()).")
    if output.grad_fn is None:
        raise ValueError("explain: the output has no graph (it was not computed from tensors with "
                         "requires_grad=True, or it was computed under no_grad). Fix: create the parameters "
                         "with requires_grad=True and compute the output with gradients enabled.")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"explain: max_nodes must be a positive int, got {max_nodes!r}")
    wanted = _named_inputs(inputs)
    steps, leaf_sums, captured = _walk(output, wanted)
    names = _leaf_names(steps, wanted)
    gradients, missing = _gradients(wanted, names, leaf_sums, captured)
    if missing:
        raise ValueError(f"explain: {', '.join(missing)} is not part of the graph of the output (the output does "
                         f"not depend on it, or it does not require grad); pass tensors the output was computed "
                         f"from")
    text = _Writer(steps, names, leaf_sums, gradients, wanted, max_nodes, output_name).render(output)
    _emit(text, file)
    return Explanation(text, steps, gradients, output, names, output_name)


# ----------------------------------------------------------------------------- the walk

def _walk(output, wanted):
    """Run every backward rule in the engine's order; return (steps, leaf sums, captured non-leaf grads)."""
    from ..autograd import engine
    from ..autograd.grad_mode import no_grad
    from ..autograd.node import Node
    from ..creation import ones_like
    root = output.grad_fn
    dependencies, _ = engine._count_dependencies([root])
    _check_not_freed(root, dependencies)
    outputs = {root: output}  # each node's output is an input of its consumers
    for node in [root, *dependencies]:
        for parent, given in zip(node.next_functions, node.inputs):
            if isinstance(parent, Node):
                outputs.setdefault(parent, given)
    wanted_nodes = {t.grad_fn: key for key, t in wanted.items() if t.grad_fn is not None}
    steps, step_of = [], {}
    buffers = {root: [(0, ones_like(output))]}
    leaf_sums = {}   # id(leaf) -> [leaf, [(step index, gradient)]]
    captured = {}
    ready = [root]
    with no_grad():
        while ready:
            node = ready.pop()
            step = Step(len(steps) + 1, node)
            steps.append(step)
            step_of[node] = step.index
            step.output = outputs.get(node)
            step.incoming = buffers.pop(node, [])
            sent = ()
            if step.incoming:
                step.grad = _total(step.incoming)
                step.grad = engine._run_prehooks(node, step.grad)
                if node in wanted_nodes:
                    captured[wanted_nodes[node]] = step.grad
                sent = _backward(node, step.grad, engine)
            _describe_inputs(step, node)
            for i, (parent, g) in enumerate(zip(node.next_functions, sent or (None,) * len(node.next_functions))):
                if parent is None:
                    continue
                if isinstance(parent, Node):
                    if g is not None:
                        buffers.setdefault(parent, []).append((step.index, g))
                    dependencies[parent] -= 1
                    if dependencies[parent] == 0:
                        ready.append(parent)
                elif g is not None:
                    leaf_sums.setdefault(id(parent), [parent, []])[1].append((step.index, g))
                if g is not None:
                    step.outgoing.append((i, _local(node, step, i), g, parent))
    for step in steps:  # now every node has its step number: say where each input came from
        for k, (symbol, tensor, parent) in enumerate(step.inputs):
            step.inputs[k] = (symbol, tensor, parent if not isinstance(parent, Node) else step_of[parent])
    return steps, leaf_sums, captured


def _check_not_freed(root, dependencies):
    for node in [root, *dependencies]:
        if node.inputs is None:
            raise RuntimeError(f"explain: the graph was already freed by backward() ({node.name()} has no saved "
                               f"tensors). Fix: call explain(loss) before loss.backward(), or use "
                               f"loss.backward(retain_graph=True).")


def _total(contributions):
    total = contributions[0][1]
    for _, g in contributions[1:]:
        total = total + g
    return total


def _backward(node, grad, engine):
    """``node.backward(grad)`` with the engine's fix-ups (broadcast sums, dtypes), without its side effects."""
    grads = node.backward(grad)
    if type(grads) is not tuple:
        grads = (grads,) if not isinstance(grads, list) else tuple(grads)
    fixed = []
    for g, t in zip(grads, node.inputs):
        if g is not None:
            if tuple(g.shape) != tuple(t.shape):
                g = engine._sum_to(g, tuple(t.shape), node, False)
            if g.dtype != t.dtype:
                g = g.to(t.dtype)
        fixed.append(g)
    return tuple(fixed)


def _local(node, step, i):
    """For elementwise ops, the local derivative d(output)/d(input i) as numbers: backward(ones)."""
    template = template_for(node)
    if template is None or not template.elementwise or step.output is None:
        return None
    from ..creation import ones_like
    try:
        grads = node.backward(ones_like(step.output))
    except Exception:  # a rule that needs more than ones: fall back to words only
        return None
    if type(grads) is not tuple:
        grads = (grads,) if not isinstance(grads, list) else tuple(grads)
    return grads[i] if i < len(grads) else None


def _describe_inputs(step, node):
    symbols = _symbols(node)
    for i, (parent, tensor) in enumerate(zip(node.next_functions, node.inputs)):
        step.inputs.append((symbols[i] if i < len(symbols) else f"input{i}", tensor, parent))


_SYMBOLS = {"Linear": ("x", "W", "b"), "ConvNd": ("x", "W", "b"), "ConvTransposeNd": ("x", "W", "b"),
            "Normalize": ("x", "weight", "bias"), "CrossEntropy": ("logits", "target"),
            "NLLLoss": ("x", "target"), "MatMul": ("a", "b"), "StdFromVar": ("var",)}


def _symbols(node):
    found = _SYMBOLS.get(node.name())
    if found:
        return found
    n = len(node.next_functions)
    return ("x",) if n == 1 else ("a", "b") if n == 2 else tuple(f"input{i}" for i in range(n))


# ----------------------------------------------------------------------------- names and results

def _named_inputs(inputs):
    from ..tensor import Tensor
    if inputs is None:
        return {}
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    items = list(inputs.items()) if hasattr(inputs, "items") else list(inputs)
    named = {}
    for k, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor):
            name, tensor = str(item[0]), item[1]
        elif isinstance(item, Tensor):
            name, tensor = _sources.param_name(item) or f"inputs[{k}]", item
        else:
            raise TypeError(f"explain: inputs must be tensors, a dict {{name: tensor}} or (name, tensor) pairs; "
                            f"item {k} is a {type(item).__name__}")
        named[name] = tensor
    return named


def _leaf_names(steps, wanted):
    """id(tensor) -> the name to print: given in ``inputs``, recorded from a module, or leaf #n."""
    names = {id(t): name for name, t in wanted.items()}
    count = 0
    for step in steps:
        for _, tensor, parent in step.inputs:
            if tensor is None or id(tensor) in names or isinstance(parent, int):
                continue
            recorded = _sources.param_name(tensor)
            if recorded is None and parent is not None:
                count += 1
                recorded = f"leaf{count}"
            names[id(tensor)] = recorded or _constant_name(tensor)
    return names


def _constant_name(tensor):
    return "a constant"


def _gradients(wanted, names, leaf_sums, captured):
    gradients, missing = {}, []
    if wanted:
        for name, t in wanted.items():
            if t.grad_fn is not None and name in captured:
                gradients[name] = captured[name]
            elif id(t) in leaf_sums:
                gradients[name] = _with_hooks(t, _total(leaf_sums[id(t)][1]))
            else:
                missing.append(name)
    else:
        for key, (leaf, parts) in leaf_sums.items():
            gradients[names.get(key, "leaf")] = _with_hooks(leaf, _total(parts))
    return gradients, missing


def _with_hooks(leaf, g):
    """The leaf's gradient after its register_hook hooks, as backward() would store it."""
    extra = leaf._extra
    for hook in (extra.get("hooks") or ()) if extra is not None else ():
        new = hook(g)
        if new is not None:
            g = new
    return g


# ----------------------------------------------------------------------------- the text

class _Writer:
    def __init__(self, steps, names, leaf_sums, gradients, wanted, max_nodes, output_name):
        self.steps, self.names, self.leaf_sums = steps, names, leaf_sums
        self.gradients, self.wanted, self.max_nodes, self.L = gradients, wanted, max_nodes, output_name
        self.lines = []

    def render(self, output):
        shown = self._relevant()
        for step in self.steps:
            step.shown = step.index in shown
        n_shown = len(shown)
        focus = f" (only the {n_shown} steps that lead to {', '.join(self.wanted)})" if self.wanted else ""
        self.lines += [f"Backpropagation of {self.L} = {_fmt(output)}: {len(self.steps)} steps in the order "
                       f"backward() runs them{focus}.",
                       f"Each step receives d{self.L}/d(its output), multiplies it by the local derivative "
                       f"(the chain rule) and passes the product to its inputs.", ""]
        printed = 0
        for step in self.steps:
            if not step.shown:
                continue
            if printed == self.max_nodes:
                self.lines += [f"... {n_shown - printed} more steps not shown (max_nodes={self.max_nodes}).", ""]
                break
            self._step(step)
            printed += 1
        self._leaves()
        return "\n".join(self.lines) + "\n"

    def _relevant(self):
        """Step numbers on a path to a wanted tensor (all steps when none was named)."""
        if not self.wanted:
            return {s.index for s in self.steps}
        targets = {id(t) for t in self.wanted.values() if t.grad_fn is None}
        target_nodes = {t.grad_fn for t in self.wanted.values() if t.grad_fn is not None}
        relevant = set()
        for step in reversed(self.steps):  # producers come after their consumers
            if step.node in target_nodes or any(
                    (isinstance(p, int) and p in relevant) or (p is not None and not isinstance(p, int)
                                                               and id(t) in targets)
                    for _, t, p in step.inputs):
                relevant.add(step.index)
        return relevant

    def _label(self, tensor, parent):
        if isinstance(parent, int):
            return f"[{parent}] {self.steps[parent - 1].op}"
        return self.names.get(id(tensor), "?") if tensor is not None else "?"

    def _step(self, step):
        L = self.L
        template = template_for(step.node)
        rule_of = lambda i: fill(template.rule(i), step.node).replace("dL/", f"d{L}/")  # noqa: E731
        where = f"   from {step.where}" if step.where else ""
        self.lines.append(f"[{step.index}] {step.op}{where}")
        if template is not None:
            self.lines.append(f"    computes   {fill(template.computes, step.node)}")
        for symbol, tensor, parent in step.inputs:
            source = "output of " + self._label(tensor, parent) if isinstance(parent, int) else \
                self._label(tensor, parent) + ("" if parent is not None else ", needs no gradient")
            self.lines.append(f"    input {symbol:<4} = {_fmt(tensor)}   ({source})")
        if step.output is not None:
            self.lines.append(f"    output y   = {_fmt(step.output)}")
        if step.grad is None:
            self.lines += ["    no gradient reaches this step", ""]
            return
        self.lines.append(f"    incoming   d{L}/dy = {self._sum(step.incoming, step.grad, L)}")
        for i, local, g, parent in step.outgoing:
            symbol, tensor, source = step.inputs[i]
            to = self._label(tensor, source)
            if template is None:
                self.lines.append(f"    to {symbol}: no plain-language template for {step.op}; its backward rule "
                                  f"computes the vector-Jacobian product d{L}/d{symbol} = d{L}/dy * dy/d{symbol} "
                                  f"= {_fmt(g)}")
            elif template.elementwise and local is not None:
                rule = rule_of(i)
                self.lines.append(f"    local      {rule.replace('dy/dx', f'dy/d{symbol}') if symbol != 'x' else rule}"
                                  f" = {_fmt(local)}")
                summed = "" if tuple(local.shape) == tuple(g.shape) else \
                    f", summed over the broadcast dims to {_shape(g)}"
                self.lines.append(f"    chain rule d{L}/d{symbol} = d{L}/dy * dy/d{symbol} = {_fmt(step.grad)} * "
                                  f"{_fmt(local)}{summed} = {_fmt(g)}")
            else:
                self.lines.append(f"    to {symbol}: {rule_of(i)}")
                product = _product(step, i)
                self.lines.append(f"    chain rule d{L}/d{symbol} = {product + ' = ' if product else ''}{_fmt(g)}")
            followed = not self.wanted or isinstance(source, int) and self.steps[source - 1].shown or \
                id(tensor) in {id(t) for t in self.wanted.values()}
            self.lines.append(f"    flows to   {to}{'' if followed else '   (not followed here)'}")
        self.lines.append("")

    def _sum(self, contributions, total, L):
        if len(contributions) == 1:
            return _fmt(total)
        parts = " + ".join(f"{_fmt(g)} (from [{i}])" for i, g in contributions)
        return f"{parts} = {_fmt(total)}   (this tensor feeds {len(contributions)} ops: their gradients add up)"

    def _leaves(self):
        L = self.L
        self.lines.append(f"Gradients of {', '.join(self.wanted) if self.wanted else 'the leaves'} "
                          f"(what backward() adds to .grad):")
        by_name = {self.names.get(k): entry for k, entry in self.leaf_sums.items()}
        for name, g in self.gradients.items():
            leaf, parts = by_name.get(name, (None, None))
            if not parts:
                self.lines.append(f"    d{L}/d{name} = {_fmt(g)}")
                continue
            raw = _total(parts)
            shown = self._sum(parts, raw, L) if len(parts) > 1 else _fmt(raw)
            if leaf._extra is not None and leaf._extra.get("hooks"):
                shown += f"; after its register_hook hooks: {_fmt(g)}"
            self.lines.append(f"    d{L}/d{name} = {shown}")


def _product(step, i):
    """The vector-Jacobian product with its operands written out, for the ops learners meet first."""
    g = step.grad
    values = [t for _, t, _ in step.inputs]
    if step.op == "Linear" and g.ndim == 2 and values[0].ndim == 2:
        if i == 0:
            return f"{_fmt(g)} @ {_fmt(values[1])}"
        if i == 1:
            return f"{_fmt(g.t())} @ {_fmt(values[0])}"
        return f"sum over the rows of {_fmt(g)}"
    if step.op == "MatMul" and g.ndim == 2 and values[0].ndim == 2 and values[1].ndim == 2:
        return f"{_fmt(g)} @ {_fmt(values[1].t())}" if i == 0 else f"{_fmt(values[0].t())} @ {_fmt(g)}"
    if step.op == "Sum":
        return f"{_fmt(g)} copied to every entry summed"
    return None


# ----------------------------------------------------------------------------- numbers

def _fmt(t):
    """Small tensors in full, larger ones as shape, mean, range and the first entries."""
    if t is None:
        return "?"
    values = t.detach().cpu().tolist()
    if t.numel() <= _FULL:
        return _nested(values)
    flat = t.detach().cpu().reshape(-1).double()
    first = ", ".join(_num(v) for v in flat[:4].tolist())
    return (f"<{_shape(t)} tensor: mean {_num(flat.mean().item())}, min {_num(flat.min().item())}, "
            f"max {_num(flat.max().item())}; first [{first}, ...]>")


def _nested(values):
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _num(values)


def _num(v):
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    text = f"{v:.{_DIGITS}g}"
    return "0" if text == "-0" else text


def _shape(t):
    dims = tuple(t.shape)
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


def _emit(text, file):
    if file is None:
        sys.stdout.write(text)
    elif isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "w") as f:
            f.write(text)
    elif isinstance(file, io.IOBase) or hasattr(file, "write"):
        file.write(text)
    else:
        raise TypeError(f"explain: file must be a path or an open text file, got {type(file).__name__}")

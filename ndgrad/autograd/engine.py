"""The backward pass: an iterative walk of the graph in dependency order.

Every node runs once, after all gradients flowing into it were summed. The walk
uses an explicit stack (a chain of 100,000 ops needs no recursion) and frees
each node's saved tensors as soon as its backward has run, unless retain_graph.
Broadcasting is undone here, in one place, for every op.
"""
from . import grad_mode
from . import node as _node
from .node import Node
from ..backend import CPU, np

_ndarray = np.ndarray

_FREED = ("Trying to backward through the graph a second time (or to use saved tensors after they were "
          "freed). The saved tensors of {node} were freed by the first backward(). Fix: pass "
          "retain_graph=True to the first backward() or autograd.grad() call if you need to go through "
          "the graph twice.")


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, capture=None,
                 capture_nodes=None):
    """Propagate ``grad_outputs`` from ``outputs`` to every leaf (or only into ``capture``).

    capture: for autograd.grad, a dict {id(tensor): None} of tensors whose gradient is wanted;
    then leaves' ``.grad`` is left alone and the gradients are returned in that dict.
    capture_nodes: {node: id(tensor)} for the wanted tensors that are not leaves: their gradient
    is the sum that arrives at the node that produced them.
    """
    buffers = {}
    leaf_buffers = {}  # id(leaf) -> [leaf, summed gradient]: hooks see the total, once, as in PyTorch
    roots = []
    for out, g in zip(outputs, grad_outputs):
        node = out.grad_fn
        if node is None:
            if not out.requires_grad:
                raise RuntimeError(
                    f"backward: a tensor of shape {tuple(out.shape)} does not require grad and has no "
                    f"grad_fn, so there is nothing to differentiate. Fix: create the inputs with "
                    f"requires_grad=True (or call .requires_grad_()) before computing it, outside no_grad.")
            _buffer_leaf(leaf_buffers, out, g)
            continue
        roots.append(node)
        buffers[node] = buffers[node] + g if node in buffers else g

    dependencies, leaf_edges = _count_dependencies(roots)
    prev_mode = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph
    assigned = set()  # ids of gradient tensors already stored in a leaf's .grad
    try:
        ready = [n for n in dict.fromkeys(roots) if dependencies.get(n, 0) == 0]
        while ready:
            node = ready.pop()
            grad = buffers.pop(node, None)
            if grad is None:  # nothing flowed into this node: only release its parents' counts
                grads = _NO_GRADS
            else:
                grad = _run_prehooks(node, grad)
                if capture_nodes and node in capture_nodes:  # after the hooks: grad() returns the hooked value
                    key = capture_nodes[node]
                    capture[key] = _add(capture[key], grad)
                grads = _call_backward(node, grad, create_graph, capture, assigned)
                if not retain_graph:
                    node.release()
            for parent, g in zip(node.next_functions, grads or _none_like(node.next_functions)):
                if parent is None:
                    continue
                if isinstance(parent, Node):
                    if g is not None:
                        acc = buffers.get(parent)
                        buffers[parent] = g if acc is None else acc + g
                    left = dependencies[parent] - 1
                    dependencies[parent] = left
                    if left == 0:
                        ready.append(parent)
                else:
                    if g is not None:
                        _buffer_leaf(leaf_buffers, parent, g)
                    # A leaf's gradient is delivered (hooks, .grad) as soon as its last consumer has run,
                    # as PyTorch's AccumulateGrad does, so DDP can all-reduce it while backward goes on.
                    key = id(parent)
                    left = leaf_edges[key] - 1
                    leaf_edges[key] = left
                    if left == 0 and key in leaf_buffers:
                        leaf, total = leaf_buffers.pop(key)
                        _deliver_to_leaf(leaf, total, create_graph, capture, assigned)
        for leaf, g in leaf_buffers.values():  # outputs that are leaves themselves
            _deliver_to_leaf(leaf, g, create_graph, capture, assigned)
    finally:
        grad_mode.state.enabled = prev_mode


_NO_GRADS = ()


def _none_like(edges):
    return (None,) * len(edges)


def _count_dependencies(roots):
    """How many edges point at each reachable node (so it runs after all its consumers), and at each
    leaf, by id (so its gradient is complete once that many edges have delivered)."""
    dependencies = {}
    leaf_edges = {}
    seen = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for parent in node.next_functions:
            if isinstance(parent, Node):
                dependencies[parent] = dependencies.get(parent, 0) + 1
                if parent not in seen:
                    stack.append(parent)
            elif parent is not None:
                leaf_edges[id(parent)] = leaf_edges.get(id(parent), 0) + 1
    return dependencies, leaf_edges


def _buffer_leaf(leaf_buffers, leaf, g):
    entry = leaf_buffers.get(id(leaf))
    if entry is None:
        leaf_buffers[id(leaf)] = [leaf, g]
    else:
        entry[1] = entry[1] + g


def _run_prehooks(node, grad):
    if node._pre_hooks:
        for hook in node._pre_hooks:
            new = hook(grad)
            if new is not None:
                grad = new
    return grad


def _call_backward(node, grad, create_graph, capture, assigned):
    if node._retained is not None:
        tensor = node._retained()
        if tensor is not None and tensor.grad_fn is node:
            _accumulate(tensor, grad, create_graph, assigned)
    if node.inputs is None:
        raise RuntimeError(_FREED.format(node=node.name()))
    inputs = node.inputs
    grads = node.backward(grad)
    if type(grads) is not tuple:
        grads = (grads,) if not isinstance(grads, list) else tuple(grads)
    if len(grads) != len(inputs):
        raise RuntimeError(f"{node.name()}.backward returned {len(grads)} gradients for {len(inputs)} inputs")
    fixed = []
    for g, t in zip(grads, inputs):
        if g is not None:
            if type(g._data) is not _ndarray and g._device is CPU:  # a numpy scalar from a 0-d rule
                g = _node._new_tensor(np.asarray(g._data), CPU)
            if g._data.shape != t._data.shape:
                g = _sum_to(g, t._data.shape, node, create_graph)
            if g._data.dtype != t._data.dtype:
                if g._data.dtype.kind == "c" and t._data.dtype.kind != "c":
                    g = _real_part(g)  # a real input of a complex op: its gradient is the real part (torch)
                g = g.to(t.dtype)
        fixed.append(g)
    return fixed


def _real_part(g):
    from ..ops.complex_ops import real
    return real(g)


def _sum_to(g, shape, node, create_graph):
    from ..ops.reduce import sum_to_size, broadcast_dims
    try:
        if not create_graph:  # no graph to record: reduce the raw array directly
            data = g._data
            dims = broadcast_dims(data.shape, shape)
            if dims:
                data = data.sum(axis=dims, keepdims=True)
            return _node._new_tensor(data.reshape(shape), g._device)
        return sum_to_size(g, shape)
    except ValueError:
        raise RuntimeError(f"{node.name()}: its backward produced a gradient of shape {tuple(g.shape)} that "
                           f"cannot be reduced to the input shape {tuple(shape)}") from None


def _add(acc, g):
    return g if acc is None else acc + g


def _deliver_to_leaf(leaf, g, create_graph, capture, assigned):
    if capture is not None and id(leaf) not in capture:
        return  # autograd.grad: leaves that were not asked for are not touched (nor their hooks run)
    extra = leaf._extra
    if extra is not None and extra.get("hooks"):
        for hook in extra["hooks"]:
            new = hook(g)
            if new is not None:
                g = new
    if capture is not None:
        capture[id(leaf)] = _add(capture[id(leaf)], g)
        return
    if extra is not None and extra.get("grad_dtype") is not None and g.dtype is not extra["grad_dtype"]:
        g = g.to(extra["grad_dtype"])  # Tensor.grad_dtype: the dtype the leaf's .grad is kept in
    _accumulate(leaf, g, create_graph, assigned)
    if extra is not None and extra.get("post_accumulate_hooks"):
        for hook in list(extra["post_accumulate_hooks"]):  # Tensor.register_post_accumulate_grad_hook
            hook(leaf)


def _accumulate(tensor, g, create_graph, assigned):
    """tensor.grad += g, never aliasing one gradient array into two .grad fields."""
    if not create_graph:
        if g.grad_fn is not None or g.requires_grad:
            g = g.detach()
    if tensor.grad is None:
        data = g._data
        if id(g) in assigned or data.base is not None or not data.flags.c_contiguous:
            g = g.clone() if create_graph else _node.Tensor._wrap(data.copy(), g._device)
        assigned.add(id(g))
        _set_grad(tensor, g)
    else:
        _set_grad(tensor, tensor.grad + g)


def _set_grad(tensor, g):
    # The slot itself: the checked .grad setter is for users; the engine's gradient already has the
    # tensor's shape, dtype (or grad_dtype) and device, so checking it again would cost a call per leaf.
    global _set_grad_slot
    if _set_grad_slot is None:
        from ..tensor import _set_grad_slot
    _set_grad_slot(tensor, g)


_set_grad_slot = None  # ndgrad.tensor's raw slot setter, bound on first use (tensor imports this module)

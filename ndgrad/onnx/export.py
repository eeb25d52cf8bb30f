"""``ndgrad.onnx.export``: trace a model on example inputs and write the ops as an ONNX model."""
import enum
import inspect
import os

from ..backend import np
from .builder import ExportContext, UnsupportedOperatorError, onnx_type
from .tracer import _ARRAY_ARGS, run_traced

DEFAULT_OPSET = 18
MIN_OPSET = 13
_exporting = [False]


class TrainingMode(enum.IntEnum):
    """The mode the model runs in while exported (``training=``): EVAL (default), PRESERVE, TRAINING."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def is_in_onnx_export():
    """True while ``ndgrad.onnx.export`` runs the model."""
    return _exporting[0]


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ndgrad.onnx.export needs the onnx package: pip install onnx "
                          "(or pip install 'ndgrad[onnx]')") from None
    return onnx


def export(model, args=(), f=None, *, kwargs=None, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None, do_constant_folding=True, export_params=True, verbose=False,
           keep_initializers_as_inputs=False, training=None, dynamo=None, **unused):
    """Export ``model`` to ONNX by running it once on ``args`` and recording the ops it executes.

    ``args``: a tensor or a tuple of positional inputs (a trailing dict holds
    keyword inputs). ``f``: a path or a binary file object (None: only return
    the ``onnx.ModelProto``). ``input_names`` / ``output_names`` name the graph's
    inputs and outputs; ``dynamic_axes`` maps those names to ``{axis: "name"}``
    (or a list of axes) whose sizes may change at run time, e.g.
    ``{"x": {0: "batch"}}``. ``opset_version`` defaults to 18.
    ``do_constant_folding`` precomputes ops that depend only on parameters;
    ``export_params=False`` makes the parameters graph inputs. The model runs in
    eval mode (Dropout is the identity, norms use running statistics) unless
    ``training=TrainingMode.PRESERVE`` or ``TRAINING``.
    Returns the ``onnx.ModelProto``.
    """
    onnx = _import_onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"onnx.export: opset_version={opset} is not supported; use {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()} (default {DEFAULT_OPSET})")
    args, kwargs = _split_args(args, kwargs)
    from ..autograd.grad_mode import no_grad
    from .mapping_modules import CAPTURED_MODULES
    was_training = getattr(model, "training", None)
    mode = TrainingMode.EVAL if training is None else TrainingMode(training)
    if was_training is not None and mode != TrainingMode.PRESERVE:
        model.train(mode == TrainingMode.TRAINING)
    _exporting[0] = True
    try:
        with no_grad():
            names = _input_names(model, args, kwargs, input_names)
            graph, _ = run_traced(model, args, kwargs, captured_modules=CAPTURED_MODULES(),
                                       input_names=names)
            symbols, variants, variant_graphs, checks = _retrace_dynamic(model, args, kwargs, names, graph,
                                                                         dynamic_axes or {})
            _check_constants(model, args, kwargs, names, graph)
    finally:
        _exporting[0] = False
        if was_training is not None:
            model.train(was_training)
    out_names = list(output_names or [])
    out_names += [f"output{i}" if len(graph.outputs) > 1 else "output"
                  for i in range(len(out_names), len(graph.outputs))]
    proto = _build(onnx, opset, graph, symbols, (variants, variant_graphs, checks), names, out_names,
                   dynamic_axes or {}, do_constant_folding, export_params, keep_initializers_as_inputs)
    if verbose:
        printer = getattr(onnx, "printer", None)
        print(printer.to_text(proto.graph) if printer else onnx.helper.printable_graph(proto.graph))
    if f is not None:
        onnx.save_model(proto, os.fspath(f) if isinstance(f, os.PathLike) else f)
    return proto


def _split_args(args, kwargs):
    from ..tensor import Tensor
    if isinstance(args, Tensor) or not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):
        kwargs.update(args[-1])
        args = args[:-1]
    return args, kwargs


def _input_names(model, args, kwargs, given):
    from .tracer import _tensors_in
    n = len(_tensors_in((args, kwargs)))
    names = list(given or [])
    if len(names) < n:
        try:
            params = [p for p in inspect.signature(model.forward if hasattr(model, "forward") else model)
                      .parameters if p not in ("self",)]
        except (TypeError, ValueError):
            params = []
        flat_ok = len(_tensors_in(args)) == len(args) and not kwargs
        for i in range(len(names), n):
            names.append(params[i] if flat_ok and i < len(params) else f"input{i}")
    return names[:n]


# -- dynamic axes: trace again with each dynamic size changed --------------------------------------
def _normalize_axes(dynamic_axes):
    out = {}
    for name, axes in dynamic_axes.items():
        if isinstance(axes, dict):
            out[name] = {int(a): str(s) for a, s in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
    return out


def _retrace_dynamic(model, args, kwargs, names, graph, dynamic_axes):
    axes = _normalize_axes(dynamic_axes)
    symbols = []   # (symbol, input name, axis, size, delta)
    for value in graph.inputs:
        for axis, sym in sorted(axes.get(value.name, {}).items()):
            if axis < 0:
                axis += len(value.shape)
            if not 0 <= axis < len(value.shape):
                raise ValueError(f"onnx.export: dynamic_axes for {value.name!r} names axis {axis}, but the input "
                                 f"has shape {value.shape}")
            if all(s[0] != sym for s in symbols):
                symbols.append((sym, value.name, axis, value.shape[axis], 1))
    # Each dynamic size is changed by delta (the ints that follow it give a * N + b) and by 2 * delta
    # (which checks that the rule holds: N // 2 is not linear, and is refused rather than exported wrong).
    variants, variant_graphs, check_ops, check_graphs = {}, [], {}, []
    for sym, _, _, size, delta in symbols:
        for step, ops, graphs in ((delta, variants, variant_graphs), (2 * delta, check_ops, check_graphs)):
            new_args, new_kwargs = _resized(args, kwargs, names, axes, sym, step)
            g, _ = run_traced(model, new_args, new_kwargs, captured_modules=_captured(), input_names=names,
                              quiet=True)
            if [o.op for o in g.ops] != [o.op for o in graph.ops]:
                raise RuntimeError(f"onnx.export: the model runs different ops when the dynamic axis {sym!r} "
                                   f"changes size (data-dependent control flow on shapes); export without "
                                   f"dynamic_axes, or make forward run the same ops for every size")
            graphs.append(g)
            for i, op in enumerate(g.ops):
                ops.setdefault(i, []).append(op)
    # With several dynamic sizes, one more trace changes them all at once: a size such as N * T is linear in
    # each alone, and only this trace tells it from N + T (exported as a product, or refused, never wrong).
    joint_ops, joint_graphs = {}, []
    if len(symbols) > 1:
        new_args, new_kwargs = args, kwargs
        for sym, _, _, _, delta in symbols:
            new_args, new_kwargs = _resized(new_args, new_kwargs, names, axes, sym, delta)
        g, _ = run_traced(model, new_args, new_kwargs, captured_modules=_captured(), input_names=names, quiet=True)
        if [o.op for o in g.ops] != [o.op for o in graph.ops]:
            raise RuntimeError(f"onnx.export: the model runs different ops when the dynamic axes "
                               f"{', '.join(repr(s[0]) for s in symbols)} change size together (data-dependent "
                               f"control flow on shapes); export without dynamic_axes, or make forward run the "
                               f"same ops for every size")
        joint_graphs.append(g)
        joint_ops = dict(enumerate(g.ops))
    return symbols, variants, variant_graphs, (check_ops, check_graphs, joint_ops, joint_graphs)


def _check_constants(model, args, kwargs, names, graph):
    """Trace once more with other input values: a tensor made in forward whose values change with them
    was computed from the data outside the recorded ops, and the export would freeze it; say so."""
    import warnings
    from ..tensor import Tensor
    from .tracer import TracerWarning

    def shifted(obj):
        if isinstance(obj, Tensor):
            return obj * 1.25 + 0.125 if obj._data.dtype.kind == "f" else obj
        if isinstance(obj, (tuple, list)):
            return type(obj)(shifted(o) for o in obj)
        if isinstance(obj, dict):
            return {k: shifted(v) for k, v in obj.items()}
        return obj
    # quiet: the first trace already warned about value reads
    other, _ = run_traced(model, shifted(args), shifted(kwargs), captured_modules=_captured(), input_names=names,
                          quiet=True)
    if [o.op for o in other.ops] != [o.op for o in graph.ops]:
        return   # data-dependent control flow: warned where the trace read the value
    users = {}
    by_array = graph.recorder.by_array
    for op in graph.ops:
        for v in op.inputs:
            users.setdefault(id(v), op)
        for array in _arrays_in([op.attrs.get(name) for name in _ARRAY_ARGS]):   # index / mask arrays
            if id(array) in by_array:
                users.setdefault(id(by_array[id(array)]), op)
    for mine, theirs in zip(graph.consts, other.consts):
        if mine.shape == theirs.shape and not np.array_equal(mine.array, theirs.array, equal_nan=True):
            op = users.get(id(mine))
            where = f"{op.op} in {op.module or 'the top-level forward'}" if op is not None else "the output"
            warnings.warn(f"onnx.export: a tensor used by {where} was computed from the input values outside "
                          f"the recorded ops (or is random); the exported graph keeps the values of this example "
                          f"as a constant", TracerWarning, stacklevel=3)


def _arrays_in(obj):
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in _arrays_in(o)]
    return [obj] if hasattr(obj, "shape") and hasattr(obj, "dtype") else []


def _captured():
    from .mapping_modules import CAPTURED_MODULES
    return CAPTURED_MODULES()


def _resized(args, kwargs, names, axes, sym, delta):
    from ..tensor import Tensor
    counter = iter(range(10 ** 6))

    def resize(obj):
        if isinstance(obj, Tensor):
            name = names[next(counter)]
            out = obj
            for axis, s in axes.get(name, {}).items():
                if s == sym:
                    axis = axis % obj.ndim
                    n = obj.shape[axis]
                    index = np.arange(n + delta) % max(n, 1)
                    out = Tensor._wrap(out._data.take(out.xp.asarray(index), axis=axis), obj._device)
            return out
        if isinstance(obj, (tuple, list)):
            return type(obj)(resize(o) for o in obj)
        if isinstance(obj, dict):
            return {k: resize(v) for k, v in obj.items()}
        return obj

    return resize(args), resize(kwargs)


# -- building the model ------------------------------------------------------------------------------
def _build(onnx, opset, graph, symbols, retraced, in_names, out_names, dynamic_axes,
           fold, export_params, keep_initializers_as_inputs):
    from .mapping import MAPPERS
    helper = onnx.helper
    variants, variant_graphs, (check_ops, check_graphs, joint_ops, joint_graphs) = retraced
    ctx = ExportContext(onnx, opset, graph, variants, symbols, check_ops, joint_ops)
    axes = _normalize_axes(dynamic_axes)
    graph_inputs = []
    for value in graph.inputs:
        ctx.bind(value, value.name)
        dims = [axes.get(value.name, {}).get(i, d) for i, d in enumerate(value.shape)]
        graph_inputs.append(helper.make_tensor_value_info(value.name, onnx_type(onnx, value.dtype), dims))
    for name, value in graph.params.items():
        ctx.bind(value, name)
        if export_params:
            ctx.initializers.append(onnx.numpy_helper.from_array(value.array, name))
        if not export_params or keep_initializers_as_inputs:
            graph_inputs.append(helper.make_tensor_value_info(name, onnx_type(onnx, value.dtype), value.shape))
    _bind_consts(ctx, graph, variant_graphs, check_graphs, joint_graphs)
    constant = {id(v) for v in list(graph.params.values()) + list(graph.consts)} if export_params else \
        {id(v) for v in graph.consts}
    for index, op in enumerate(graph.ops):
        ctx.current, ctx.current_index = op, index
        if fold and _foldable(op, constant, index, variants):
            _fold(ctx, graph, op)
            constant.update(id(v) for v in op.outputs)
            continue
        mapper = MAPPERS.get(op.op)
        if mapper is None:
            raise _unsupported(op, opset)
        outs = mapper(ctx, op)
        outs = [outs] if isinstance(outs, str) else list(outs)
        for value, name in zip(op.outputs, outs):
            ctx.bind(value, name)
    graph_outputs = []
    out_dims = _output_dims(graph, variant_graphs, symbols, axes, out_names)
    for value, name, dims in zip(graph.outputs, out_names, out_dims):
        ctx.nodes.append(helper.make_node("Identity", [ctx.name(value)], [name], name=ctx.fresh("output_node")))
        graph_outputs.append(helper.make_tensor_value_info(name, onnx_type(onnx, value.dtype), dims))
    used = {name for node in ctx.nodes for name in node.input}
    initializers = [t for t in ctx.initializers if t.name in used]   # folded-away parameters are left out
    g = helper.make_graph(ctx.nodes, "ndgrad_graph", graph_inputs, graph_outputs, initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="ndgrad")
    model.ir_version = min(model.ir_version, 10)  # readable by ONNX Runtime releases of the last years
    onnx.checker.check_model(model)
    return model


def _bind_consts(ctx, graph, variant_graphs, check_graphs, joint_graphs=()):
    from .mapping_consts import bind_const
    for k, value in enumerate(graph.consts):
        others = [g.consts[k] if k < len(g.consts) else None for g in variant_graphs]
        checks = [g.consts[k] if k < len(g.consts) else None for g in check_graphs]
        joint = [g.consts[k] if k < len(g.consts) else None for g in joint_graphs]
        bind_const(ctx, value, others, checks, joint)


def _foldable(op, constant, index, variants):
    if not op.inputs or op.extra is not None:
        return False
    if not all(id(v) in constant for v in op.inputs if hasattr(v, "kind")):
        return False
    if not any(hasattr(v, "kind") for v in op.inputs):
        return False
    return all(o.outputs[0].shape == op.outputs[0].shape for o in variants.get(index, []))


def _fold(ctx, graph, op):
    tensors = graph.recorder.tensors
    for value in op.outputs:
        data = tensors[id(value)]._data
        array = np.asarray(data.get() if hasattr(data, "get") else data)
        value.array = array
        ctx.bind(value, ctx.const(array, hint="folded"))


def _output_dims(graph, variant_graphs, symbols, axes, out_names):
    dims = []
    for i, (value, name) in enumerate(zip(graph.outputs, out_names)):
        named = axes.get(name, {})
        shape = []
        for d, size in enumerate(value.shape):
            sym = named.get(d)
            if sym is None:
                for (s, _, _, _, _), g in zip(symbols, variant_graphs):
                    if i < len(g.outputs) and d < len(g.outputs[i].shape) and g.outputs[i].shape[d] != size:
                        sym = s if g.outputs[i].shape[d] - size == 1 else f"{name}_dim{d}"
            shape.append(sym if sym is not None else size)
        dims.append(shape)
    return dims


def _unsupported(op, opset):
    where = f"module {op.module!r} ({op.module_type})" if op.module else "the top-level forward"
    return UnsupportedOperatorError(
        f"onnx.export: the op {op.op} (called in {where}) has no ONNX mapping in ndgrad at opset {opset}. "
        f"Fix: write that step with supported ops (see the README's list), or leave it out of the exported "
        f"forward.")


"""ONNX mappings of shape, indexing, reduction and matrix-product ops."""
from ..backend import np
from .graph import Value
from .mapping_elementwise import as_dtype, inputs_as, mapper, out_dtype, MAPPERS  # noqa: F401

_BIG = 2 ** 62  # "to the end" for Slice


def array_input(ctx, array, dtype=None):
    """A raw array kept by a node (an index, a mask): the traced tensor it came from, else a constant."""
    value = ctx.graph.recorder.by_array.get(id(array))
    if value is not None and id(value) in ctx.names:
        name = ctx.name(value)
        return ctx.cast(name, value.dtype, dtype) if dtype is not None else name
    host = np.asarray(array.get() if hasattr(array, "get") else array)
    return ctx.const(host.astype(dtype) if dtype is not None else host, hint="index")


# -- views and copies ----------------------------------------------------------------------------
@mapper("View", "ReshapeCopy")
def _view(ctx, op):
    return ctx.node("Reshape", [ctx.name(op.inputs[0]), ctx.int_list(op, lambda o: o.attrs["shape"])])


@mapper("Expand")
def _expand(ctx, op):
    return ctx.node("Expand", [ctx.name(op.inputs[0]), ctx.int_list(op, lambda o: o.attrs["shape"])])


@mapper("Permute")
def _permute(ctx, op):
    return ctx.node("Transpose", [ctx.name(op.inputs[0])], perm=[int(d) for d in op.attrs["dims"]])


@mapper("Repeat")
def _repeat(ctx, op):
    x = ctx.name(op.inputs[0])
    reps = ctx.static(op, "reps")
    extra = len(reps) - len(op.inputs[0].shape)
    if extra > 0:
        x = ctx.unsqueeze(x, list(range(extra)))
    return ctx.node("Tile", [x, ctx.ints(reps)])


@mapper("Cat")
def _cat(ctx, op):
    skip = op.attrs.get("skip") or ()
    dtype = out_dtype(op)
    parts = [as_dtype(ctx, v, dtype) for i, v in enumerate(op.inputs) if i not in skip]
    return ctx.node("Concat", parts, axis=int(op.attrs["dim"]))


@mapper("Narrow")
def _narrow(ctx, op):
    dim = int(op.attrs["dim"])
    starts = ctx.int_list(op, lambda o: [o.attrs["start"]])
    ends = ctx.int_list(op, lambda o: [o.attrs["start"] + o.attrs["length"]])
    return ctx.node("Slice", [ctx.name(op.inputs[0]), starts, ends, ctx.ints([dim])])


@mapper("Flip")
def _flip(ctx, op):
    dims = [int(d) for d in op.attrs["dims"]]
    n = len(dims)
    return ctx.node("Slice", [ctx.name(op.inputs[0]), ctx.ints([-1] * n), ctx.ints([-_BIG] * n),
                              ctx.ints(dims), ctx.ints([-1] * n)])


@mapper("Triangle")
def _triangle(ctx, op):
    k = ctx.const(np.asarray(int(ctx.static(op, "diagonal")), dtype=np.int64))   # 0-d, as Trilu wants
    return ctx.node("Trilu", [ctx.name(op.inputs[0]), k],
                    upper=int(bool(op.attrs["upper"])))


@mapper("ConstantPad")
def _pad(ctx, op):
    x = op.inputs[0]
    lead = len(x.shape) - len(op.attrs["pads"])

    def pads(o):
        pairs = [(0, 0)] * lead + [tuple(p) for p in o.attrs["pads"]]
        return [lo for lo, _ in pairs] + [hi for _, hi in pairs]
    value = ctx.scalar_like(ctx.static(op, "value"), x.dtype)
    return ctx.node("Pad", [ctx.name(x), ctx.int_list(op, pads), value], mode="constant")


# -- indexing ------------------------------------------------------------------------------------
def _expanded_index(index, ndim):
    index = index if isinstance(index, tuple) else (index,)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    has_ellipsis = any(i is Ellipsis for i in index)
    out = []
    for item in index:
        if item is Ellipsis:
            out += [slice(None)] * (ndim - used)
        else:
            out.append(item)
    return out if has_ellipsis else out + [slice(None)] * (ndim - used)


def _slice_plan(op):
    """For BasicIndex: (axes, starts, ends, steps) of the slices, the int axes, the None positions."""
    index = _expanded_index(op.attrs["index"], len(op.inputs[0].shape))
    axes, starts, ends, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_dim = 0
    for item in index:
        if item is None:
            unsqueeze.append(out_dim)
            out_dim += 1
            continue
        if isinstance(item, slice):
            step = 1 if item.step is None else int(item.step)
            if item != slice(None) or step != 1:
                lo = item.start if item.start is not None else (0 if step > 0 else _BIG)
                hi = item.stop if item.stop is not None else (_BIG if step > 0 else -_BIG)
                axes.append(axis), starts.append(int(lo)), ends.append(int(hi)), steps.append(step)
            out_dim += 1
        else:
            i = int(item)
            axes.append(axis), starts.append(i), ends.append(i + 1 if i != -1 else _BIG), steps.append(1)
            squeeze.append(axis)
        axis += 1
    return axes, starts, ends, steps, squeeze, unsqueeze


@mapper("BasicIndex")
def _basic_index(ctx, op):
    axes, starts, ends, steps, squeeze, unsqueeze = _slice_plan(op)
    x = ctx.name(op.inputs[0])
    if axes:
        x = ctx.node("Slice", [x, ctx.int_list(op, lambda o: _slice_plan(o)[1]),
                               ctx.int_list(op, lambda o: _slice_plan(o)[2]), ctx.ints(axes), ctx.ints(steps)])
    if squeeze:
        x = ctx.squeeze(x, squeeze)
    if unsqueeze:
        x = ctx.unsqueeze(x, unsqueeze)
    return x if x != ctx.name(op.inputs[0]) else ctx.node("Identity", [x])


@mapper("AdvancedIndex")
def _advanced_index(ctx, op):
    index = op.attrs["index"]
    index = index if isinstance(index, tuple) else (index,)
    arrays = [(k, a) for k, a in enumerate(index) if hasattr(a, "dtype")]
    others_plain = all(hasattr(i, "dtype") or i == slice(None) for i in index)
    if not arrays or not others_plain:
        raise _index_error(ctx, op)
    if len(arrays) > 1:
        if any(a.dtype.kind == "b" for _, a in arrays):
            raise _index_error(ctx, op)
        return _gather_nd(ctx, op, arrays)
    axis, array = arrays[0]
    if array.dtype.kind == "b":
        return _mask_index(ctx, op, axis, array)
    return ctx.node("Gather", [ctx.name(op.inputs[0]), array_input(ctx, array, np.dtype(np.int64))], axis=axis)


def _gather_nd(ctx, op, arrays):
    """x[..., i, j, ...] with several index tensors: the indexed axes moved to the front, the broadcast indices
    stacked on a last axis for GatherND, and the result's index dims moved to where NumPy/PyTorch put them
    (in place of the indexed axes when those are adjacent, else first)."""
    x_value = op.inputs[0]
    ndim = len(x_value.shape)
    axes = [k for k, _ in arrays]
    rest = [d for d in range(ndim) if d not in axes]
    x = ctx.name(x_value)
    if axes != list(range(len(axes))):
        x = ctx.node("Transpose", [x], perm=axes + rest)
    names = [array_input(ctx, a, np.dtype(np.int64)) for _, a in arrays]
    zero = None   # sum of index * 0: broadcasts every index to the common shape, dynamic sizes included
    for name in names:
        part = ctx.node("Mul", [name, ctx.const(np.asarray(0, dtype=np.int64))])
        zero = part if zero is None else ctx.node("Add", [zero, part])
    stacked = ctx.node("Concat", [ctx.unsqueeze(ctx.node("Add", [n, zero]), [-1]) for n in names], axis=-1)
    out = ctx.node("GatherND", [x, stacked])
    index_ndim = len(np.broadcast_shapes(*(tuple(a.shape) for _, a in arrays)))
    adjacent = axes == list(range(axes[0], axes[0] + len(axes)))
    if not adjacent or axes[0] == 0:
        return out
    before = axes[0]
    perm = [index_ndim + i for i in range(before)] + list(range(index_ndim)) + \
        [index_ndim + i for i in range(before, len(rest))]
    return ctx.node("Transpose", [out], perm=perm)


def _mask_index(ctx, op, axis, mask):
    """x[mask] (mask over dims axis .. axis + mask.ndim - 1): Compress over those dims flattened into one."""
    x = ctx.name(op.inputs[0])
    m = array_input(ctx, mask, np.dtype(bool))
    if mask.ndim == 1:
        return ctx.node("Compress", [x, m], axis=axis)
    if axis != 0:
        raise _index_error(ctx, op)
    flat_mask = ctx.node("Reshape", [m, ctx.ints([-1])])
    rest = ctx.node("Slice", [ctx.node("Shape", [x]), ctx.ints([mask.ndim]), ctx.ints([_BIG])])
    merged = ctx.node("Reshape", [x, ctx.node("Concat", [ctx.ints([-1]), rest], axis=0)])
    return ctx.node("Compress", [merged, flat_mask], axis=0)


def _index_error(ctx, op):
    from .builder import UnsupportedOperatorError
    where = op.module or "the top-level forward"
    return UnsupportedOperatorError(
        f"onnx.export: indexing with this index (in {where}) has no ONNX mapping in ndgrad at opset {ctx.opset}: "
        f"integer index tensors (x[idx], x[:, i, j]) or one boolean mask (x[mask], x[:, mask1d]) are supported, "
        f"boolean masks mixed with other index tensors are not. Fix: use index_select / gather, or torch.where.")


@mapper("IndexSelect")
def _index_select(ctx, op):
    index = array_input(ctx, op.attrs["index"], np.dtype(np.int64))
    return ctx.node("Gather", [ctx.name(op.inputs[0]), index], axis=int(op.attrs["dim"]))


@mapper("TakeFlat")
def _take_flat(ctx, op):
    flat = ctx.node("Reshape", [ctx.name(op.inputs[0]), ctx.ints([-1])])
    return ctx.node("Gather", [flat, array_input(ctx, op.attrs["positions"], np.dtype(np.int64))], axis=0)


@mapper("MaskedFill")
def _masked_fill(ctx, op):
    x = op.inputs[0]
    mask = array_input(ctx, op.attrs["mask"], np.dtype(bool))
    fill = as_dtype(ctx, op.inputs[1], x.dtype) if len(op.inputs) > 1 else \
        ctx.scalar_like(ctx.static(op, "scalar"), x.dtype)
    return ctx.node("Where", [mask, fill, ctx.name(x)])


# -- reductions ------------------------------------------------------------------------------------
def _axes(dims, ndim):
    if dims is None:
        return list(range(ndim))
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    return [int(d) % max(ndim, 1) for d in dims]


@mapper("Sum")
def _sum(ctx, op):
    x = inputs_as(ctx, op)[0]
    return ctx.reduce("ReduceSum", x, _axes(op.attrs["dims"], len(op.inputs[0].shape)), op.attrs["keepdim"])


@mapper("Amax")
def _amax(ctx, op):
    kind = "ReduceMin" if op.attrs.get("is_min") else "ReduceMax"
    return ctx.reduce(kind, ctx.name(op.inputs[0]), _axes(op.attrs["dims"], len(op.inputs[0].shape)),
                      op.attrs["keepdim"])


@mapper("MaxDim")
def _max_dim(ctx, op):
    kind = "ReduceMin" if op.attrs.get("is_min") else "ReduceMax"
    return ctx.reduce(kind, ctx.name(op.inputs[0]), _axes(op.attrs["dim"], len(op.inputs[0].shape)),
                      op.attrs["keepdim"])


@mapper("Prod")
def _prod(ctx, op):
    x = inputs_as(ctx, op)[0]
    dim = op.attrs["dim"]
    return ctx.reduce("ReduceProd", x, _axes(dim, len(op.inputs[0].shape)), op.attrs["keepdim"] if dim is not None
                      else False)


@mapper("Norm2")
def _norm2(ctx, op):
    return ctx.reduce("ReduceL2", inputs_as(ctx, op)[0], _axes(op.attrs["dims"], len(op.inputs[0].shape)),
                      op.attrs["keepdim"])


@mapper("Cumsum")
def _cumsum(ctx, op):
    return ctx.node("CumSum", [inputs_as(ctx, op)[0], ctx.const(np.asarray(int(op.attrs["dim"]), dtype=np.int64))],
                    reverse=int(bool(op.attrs.get("reverse"))))


@mapper("Var")
def _var(ctx, op):
    x = inputs_as(ctx, op)[0]
    axes = _axes(op.attrs["dims"], len(op.inputs[0].shape))
    mean = ctx.reduce("ReduceMean", x, axes, True)
    diff = ctx.node("Sub", [x, mean])
    total = ctx.reduce("ReduceSum", ctx.node("Mul", [diff, diff]), axes, op.attrs["keepdim"])
    # the count comes from the runtime shape, so a dynamic axis inside the reduction stays right
    sizes = ctx.node("Gather", [ctx.node("Shape", [x]), ctx.ints(axes)], axis=0)
    count = ctx.cast(ctx.reduce("ReduceProd", sizes, [0], False), np.int64, out_dtype(op))
    denom = ctx.node("Sub", [count, ctx.scalar_like(op.attrs["correction"], out_dtype(op))])
    return ctx.node("Div", [total, denom])


# -- products ---------------------------------------------------------------------------------------
@mapper("MatMul")
def _matmul(ctx, op):
    return ctx.node("MatMul", inputs_as(ctx, op))


@mapper("Einsum")
def _einsum(ctx, op):
    eq = ",".join(op.attrs["inputs_subs"]) + "->" + op.attrs["output_subs"]
    return ctx.node("Einsum", inputs_as(ctx, op), equation=eq)


@mapper("logsumexp")
def _logsumexp(ctx, op):
    x = op.inputs[0]
    rest = list(op.inputs[1:])
    dim = op.attrs.get("dim", op.attrs.get("axis", rest[0] if rest else None))
    keepdim = op.attrs.get("keepdim", op.attrs.get("keepdims", rest[1] if len(rest) > 1 else False))
    name = ctx.cast(ctx.name(x), x.dtype, out_dtype(op))
    return ctx.reduce("ReduceLogSumExp", name, _axes(dim, len(x.shape)), keepdim)


# -- whole ops with (values, indices) results ------------------------------------------------------------
def _param(op, position, name, default):
    """A non-tensor argument: by keyword, else the ``position``-th argument after the tensor."""
    if name in op.attrs:
        return op.attrs[name]
    rest = [v for v in op.inputs[1:]]
    return rest[position] if len(rest) > position and not isinstance(rest[position], Value) else default


def _topk(ctx, x_value, k_name, axis, largest, sort=True):
    axis = int(axis) % len(x_value.shape)
    values, indices = ctx.node("TopK", [ctx.name(x_value), k_name], n_out=2, axis=axis, largest=int(bool(largest)),
                               sorted=int(bool(sort)))
    return [values, indices]


@mapper("topk")
def _topk_op(ctx, op):
    k = int(_param(op, 0, "k", None))
    return _topk(ctx, op.inputs[0], ctx.ints([k]), _param(op, 1, "dim", -1), _param(op, 2, "largest", True),
                 _param(op, 3, "sorted", True))


@mapper("sort", "argsort")
def _sort_op(ctx, op):
    x = op.inputs[0]
    axis = int(_param(op, 0, "dim", -1)) % len(x.shape)
    size = ctx.node("Gather", [ctx.node("Shape", [ctx.name(x)]), ctx.ints([axis])], axis=0)
    values, indices = _topk(ctx, x, size, axis, _param(op, 1, "descending", False))
    return indices if op.op == "argsort" else [values, indices]


@mapper("max", "min")
def _max_op(ctx, op):
    x = op.inputs[0]
    if len(op.inputs) > 1 and isinstance(op.inputs[1], Value):     # max(a, b): elementwise
        dtype = out_dtype(op)
        return ctx.node("Max" if op.op == "max" else "Min", [as_dtype(ctx, v, dtype) for v in op.inputs[:2]])
    dim = _param(op, 0, "dim", None)
    kind = "ReduceMax" if op.op == "max" else "ReduceMin"
    if dim is None:
        return ctx.reduce(kind, ctx.name(x), None, False)
    keepdim = bool(_param(op, 1, "keepdim", False))
    axis = int(dim) % max(len(x.shape), 1)
    values = ctx.reduce(kind, ctx.name(x), [axis], keepdim)
    indices = ctx.node("ArgMax" if op.op == "max" else "ArgMin", [ctx.name(x)], axis=axis,
                       keepdims=int(keepdim), select_last_index=0)
    return [values, indices]


@mapper("gather")
def _gather(ctx, op):
    x = op.inputs[0]
    dim = int(_param(op, 0, "dim", None)) % len(x.shape)
    index = next(v for v in list(op.inputs[1:]) + [op.attrs.get("index")] if isinstance(v, Value))
    return ctx.node("GatherElements", [ctx.name(x), ctx.cast(ctx.name(index), index.dtype, np.int64)], axis=dim)

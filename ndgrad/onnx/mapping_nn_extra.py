"""ONNX mappings of the less common nn ops: Fold/Unfold (a grouped convolution with one-hot kernels),
EmbeddingBag, max pooling with indices and unpooling, grid_sample."""
import math

from ..backend import np
from .graph import Value
from .mapping_elementwise import mapper, out_dtype, MAPPERS  # noqa: F401


# -- im2col and its adjoint: a grouped (transposed) convolution with a one-hot kernel per block position ---------
def _block_picker(channels, kernel, dtype):
    """(C * K, 1, *kernel): filter c * K + k is 1 at block position k, so output channels come in F.unfold's
    (channel, kernel position) order."""
    k = math.prod(kernel)
    eye = np.eye(k, dtype=dtype).reshape((k, 1) + tuple(kernel))
    return np.tile(eye, (channels,) + (1,) * (len(kernel) + 1))


@mapper("Unfold")
def _unfold(ctx, op):
    if "geo" not in op.attrs:
        return _tensor_unfold(ctx, op)
    geo = op.attrs["geo"]
    x_value = op.inputs[0]
    channels = x_value.shape[1]
    weight = ctx.const(_block_picker(channels, geo.kernel, x_value.dtype), hint="unfold_kernel")
    cols = ctx.node("Conv", [ctx.name(x_value), weight], kernel_shape=list(geo.kernel), strides=list(geo.stride),
                    pads=list(geo.padding) * 2, dilations=list(geo.dilation), group=int(channels))
    return ctx.node("Reshape", [cols, ctx.ints([0, channels * math.prod(geo.kernel), -1])])


@mapper("Fold")
def _fold(ctx, op):
    geo = op.attrs["geo"]
    channels, size = geo.in_shape[1], tuple(geo.in_shape[2:])
    dtype = op.inputs[0].dtype
    k = math.prod(geo.kernel)
    blocks = ctx.node("Reshape", [ctx.name(op.inputs[0]), ctx.ints([0, channels * k] + list(geo.out))])
    output_padding = [int(n - ((o - 1) * s - 2 * p + d * (kk - 1) + 1))
                      for n, o, s, p, d, kk in zip(size, geo.out, geo.stride, geo.padding, geo.dilation, geo.kernel)]
    attrs = dict(kernel_shape=list(geo.kernel), strides=list(geo.stride), pads=list(geo.padding) * 2,
                 dilations=list(geo.dilation), group=int(channels))
    if any(output_padding):
        attrs["output_padding"] = output_padding
    weight = ctx.const(_block_picker(channels, geo.kernel, dtype), hint="fold_kernel")
    return ctx.node("ConvTranspose", [blocks, weight], **attrs)


def _tensor_unfold(ctx, op):
    """``x.unfold(dim, size, step)``: gather the (count, size) window positions along dim, size axis last."""
    dim, size, step = (int(ctx.static(op, k)) for k in ("dim", "size", "step"))
    x_value = op.inputs[0]
    ndim = len(x_value.shape)
    if ndim == 0:
        return ctx.node("Expand", [ctx.name(x_value), ctx.ints([size])])
    count = op.outputs[0].shape[dim]
    positions = (np.arange(count)[:, None] * step + np.arange(size)[None, :]).astype(np.int64)
    windows = ctx.node("Gather", [ctx.name(x_value), ctx.const(positions)], axis=dim)   # (..., count, size, ...)
    perm = list(range(dim + 1)) + list(range(dim + 2, ndim + 1)) + [dim + 1]
    return ctx.node("Transpose", [windows], perm=perm)


# -- EmbeddingBag: recorded whole (its bag layout is computed on raw arrays); any batch or input length -------------
@mapper("embedding_bag")
def _embedding_bag(ctx, op):
    a = op.attrs
    indices_value, weight_value = a["input"], a["weight"]
    if a.get("max_norm") is not None:
        from .builder import UnsupportedOperatorError
        raise UnsupportedOperatorError(f"onnx.export: embedding_bag with max_norm (in {op.module or 'forward'}) "
                                       f"renormalizes the weight in place and has no ONNX export; leave max_norm out")
    dtype = weight_value.dtype
    indices = ctx.cast(ctx.name(indices_value), indices_value.dtype, np.int64)
    rows = ctx.node("Gather", [ctx.name(weight_value), indices], axis=0)        # (*input, D)
    psw = a.get("per_sample_weights")
    if isinstance(psw, Value):
        rows = ctx.node("Mul", [rows, ctx.unsqueeze(ctx.cast(ctx.name(psw), psw.dtype, dtype), [-1])])
    valid = None
    if a.get("padding_idx") is not None:
        pad = int(a["padding_idx"]) % weight_value.shape[0]
        valid = ctx.node("Not", [ctx.node("Equal", [indices, ctx.const(np.asarray(pad, dtype=np.int64))])])
    if len(indices_value.shape) == 2:
        member = valid or ctx.node("Equal", [indices, indices])   # (B, L): every position counts
        return _bag_reduce(ctx, rows, member, a["mode"], dtype, axis=1)
    # 1-d input with offsets: member[b, i] = starts[b] <= i < ends[b]
    offsets_value = a["offsets"]
    offsets = ctx.cast(ctx.name(offsets_value), offsets_value.dtype, np.int64)
    n = ctx.node("Shape", [indices])
    if a.get("include_last_offset"):
        starts = ctx.node("Slice", [offsets, ctx.ints([0]), ctx.ints([-1])])
        ends = ctx.node("Slice", [offsets, ctx.ints([1]), ctx.ints([2 ** 62])])
    else:
        starts = offsets
        ends = ctx.node("Concat", [ctx.node("Slice", [offsets, ctx.ints([1]), ctx.ints([2 ** 62])]), n], axis=0)
    positions = ctx.unsqueeze(ctx.node("Range", [ctx.const(np.asarray(0, dtype=np.int64)), ctx.squeeze(n, [0]),
                                                 ctx.const(np.asarray(1, dtype=np.int64))]), [0])
    member = ctx.node("And", [ctx.node("LessOrEqual", [ctx.unsqueeze(starts, [1]), positions]),
                              ctx.node("Less", [positions, ctx.unsqueeze(ends, [1])])])   # (bags, n)
    if valid:
        member = ctx.node("And", [member, ctx.unsqueeze(valid, [0])])
    return _bag_reduce(ctx, ctx.unsqueeze(rows, [0]), member, a["mode"], dtype, axis=1)


def _bag_reduce(ctx, rows, member, mode, dtype, axis):
    """Sum, mean or max over ``axis`` of rows (..., n, D) where member (..., n) is true; empty bags give 0."""
    member_f = ctx.cast(member, np.dtype(bool), dtype)
    mask = ctx.unsqueeze(member, [-1])
    count = ctx.reduce("ReduceSum", member_f, [axis], False)
    zero = ctx.scalar_like(0.0, dtype)
    if mode == "max":
        low = ctx.scalar_like(-np.inf, dtype)
        best = ctx.reduce("ReduceMax", ctx.node("Where", [mask, rows, low]), [axis], False)
        empty = ctx.unsqueeze(ctx.node("Equal", [count, zero]), [-1])
        return ctx.node("Where", [empty, zero, best])
    total = ctx.reduce("ReduceSum", ctx.node("Mul", [rows, ctx.unsqueeze(member_f, [-1])]), [axis], False)
    if mode == "sum":
        return total
    return ctx.node("Div", [total, ctx.unsqueeze(ctx.node("Max", [count, ctx.scalar_like(1.0, dtype)]), [-1])])


# -- max pooling with indices and its inverse (recorded whole when indices are asked for) ----------------------
def _tuple_arg(value, nd, default=None):
    if value is None or (isinstance(value, (tuple, list)) and not value):
        value = default
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * nd


def _batched(ctx, value, nd):
    """The input as (N, C, *spatial): an unbatched (C, *spatial) one gets a batch of one."""
    name = ctx.name(value)
    unbatched = len(value.shape) == nd + 1
    return (ctx.unsqueeze(name, [0]) if unbatched else name), unbatched


@mapper("max_pool1d", "max_pool2d", "max_pool3d")
def _max_pool_with_indices(ctx, op):
    """ONNX MaxPool's indices count over the whole (N, C, *spatial) tensor; PyTorch's within each plane."""
    a, nd = op.attrs, int(op.op[-2])
    kernel = _tuple_arg(a["kernel_size"], nd)
    x, unbatched = _batched(ctx, a["input"], nd)
    values, indices = ctx.node("MaxPool", [x], n_out=2, kernel_shape=kernel,
                               strides=_tuple_arg(a["stride"], nd, kernel), pads=_tuple_arg(a["padding"], nd) * 2,
                               dilations=_tuple_arg(a["dilation"], nd), ceil_mode=int(bool(a["ceil_mode"])))
    plane = math.prod(a["input"].shape[-nd:])
    indices = ctx.node("Mod", [indices, ctx.const(np.asarray(plane, dtype=np.int64))])
    if unbatched:
        return [ctx.squeeze(values, [0]), ctx.squeeze(indices, [0])]
    return [values, indices]


@mapper("max_unpool1d", "max_unpool2d", "max_unpool3d")
def _max_unpool(ctx, op):
    a, nd = op.attrs, int(op.op[-2])
    kernel = _tuple_arg(a["kernel_size"], nd)
    x, unbatched = _batched(ctx, a["input"], nd)
    indices, _ = _batched(ctx, a["indices"], nd)
    indices = ctx.cast(indices, a["indices"].dtype, np.int64)
    out_spatial = list(op.outputs[0].shape[-nd:])
    lead = ctx.node("Slice", [ctx.node("Shape", [x]), ctx.ints([0]), ctx.ints([2])])    # (N, C)
    planes = ctx.node("Range", [ctx.const(np.asarray(0, dtype=np.int64)),
                                ctx.node("ReduceProd", [lead], keepdims=0),
                                ctx.const(np.asarray(1, dtype=np.int64))])
    offsets = ctx.node("Mul", [ctx.node("Reshape", [planes, ctx.node("Concat", [lead, ctx.ints([1] * nd)], axis=0)]),
                               ctx.const(np.asarray(math.prod(out_spatial), dtype=np.int64))])
    shape = ctx.node("Concat", [lead, ctx.ints(out_spatial)], axis=0)
    y = ctx.node("MaxUnpool", [x, ctx.node("Add", [indices, offsets]), shape], kernel_shape=kernel,
                 strides=_tuple_arg(a["stride"], nd, kernel), pads=_tuple_arg(a["padding"], nd) * 2)
    return ctx.squeeze(y, [0]) if unbatched else y


@mapper("grid_sample")
def _grid_sample(ctx, op):
    """ONNX GridSample (opset 16; opset 20 renamed the modes linear / cubic and added 3-d grids)."""
    a = op.attrs
    if ctx.opset < 16:
        from .builder import UnsupportedOperatorError
        raise UnsupportedOperatorError(f"onnx.export: grid_sample (in {op.module or 'the top-level forward'}) needs "
                                       f"opset 16 or newer (ONNX GridSample); got opset {ctx.opset}")
    mode = a["mode"]
    if ctx.opset >= 20:
        mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    dtype = out_dtype(op)
    grid = ctx.cast(ctx.name(a["grid"]), a["grid"].dtype, dtype)
    return ctx.node("GridSample", [ctx.name(a["input"]), grid], mode=mode, padding_mode=a["padding_mode"],
                    align_corners=int(bool(a["align_corners"])))


@mapper("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices",
        "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices")
def _adaptive_max_pool_with_indices(ctx, op):
    from .builder import UnsupportedOperatorError
    name, where = op.op.replace("_with_indices", ""), op.module or "the top-level forward"
    raise UnsupportedOperatorError(
        f"onnx.export: {name} with return_indices=True (called in {where}) has no "
        f"ONNX mapping in ndgrad at opset {ctx.opset}: ONNX has no adaptive max pool, and its indices would be "
        f"frozen. Fix: export without return_indices (the pooled values export), or use MaxPool with indices.")

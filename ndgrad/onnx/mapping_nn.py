"""ONNX mappings of the coarse neural-network nodes: linear, convolution, pooling, norms, softmax, embedding."""
import math

from ..backend import host as _host, np
from .mapping_elementwise import inputs_as, mapper, out_dtype, MAPPERS  # noqa: F401
from .mapping_shape import array_input


@mapper("Linear")
def _linear(ctx, op):
    names = inputs_as(ctx, op)
    x, w = names[0], names[1]
    if len(op.inputs[0].shape) == 2:
        return ctx.node("Gemm", names, transB=1)
    y = ctx.node("MatMul", [x, ctx.node("Transpose", [w], perm=[1, 0])])
    return ctx.node("Add", [y, names[2]]) if len(names) > 2 else y


def _conv_attrs(geo):
    return dict(kernel_shape=list(geo.kernel), strides=list(geo.stride),
                pads=[lo for lo, _ in geo.pads] + [hi for _, hi in geo.pads],
                dilations=list(geo.dilation), group=int(geo.groups))


@mapper("ConvNd")
def _conv(ctx, op):
    return ctx.node("Conv", inputs_as(ctx, op), **_conv_attrs(op.attrs["geo"]))


@mapper("ConvTransposeNd")
def _conv_transpose(ctx, op):
    geo = op.attrs["geo"]
    x_shape, out_spatial = op.inputs[0].shape, op.outputs[0].shape[2:]
    output_padding = []
    for n, o, k, s, (lo, hi), d in zip(x_shape[2:], out_spatial, geo.kernel, geo.stride, geo.pads, geo.dilation):
        output_padding.append(int(o - ((n - 1) * s - lo - hi + d * (k - 1) + 1)))
    attrs = _conv_attrs(geo)
    if any(output_padding):
        attrs["output_padding"] = output_padding
    return ctx.node("ConvTranspose", inputs_as(ctx, op), **attrs)


def _pool_attrs(geo):
    return dict(kernel_shape=list(geo.kernel), strides=list(geo.stride),
                pads=list(geo.padding) * 2, ceil_mode=int(bool(geo.ceil_mode)))


@mapper("MaxPoolNd")
def _max_pool(ctx, op):
    geo = op.attrs["geo"]
    return ctx.node("MaxPool", [ctx.name(op.inputs[0])], dilations=list(geo.dilation), **_pool_attrs(geo))


@mapper("AvgPoolNd")
def _avg_pool(ctx, op):
    geo, divisor = op.attrs["geo"], op.attrs["divisor"]
    window = math.prod(geo.kernel)
    include_pad = isinstance(divisor, (int, float))
    y = ctx.node("AveragePool", [ctx.name(op.inputs[0])], count_include_pad=int(include_pad),
                 **_pool_attrs(geo))
    if include_pad and divisor != window:   # divisor_override
        y = ctx.node("Mul", [y, ctx.scalar_like(window / divisor, out_dtype(op))])
    return y


@mapper("Softmax", "LogSoftmax")
def _softmax(ctx, op):
    return ctx.node(op.op, [ctx.name(op.inputs[0])], axis=int(op.attrs["dim"]))


@mapper("_Embedding")
def _embedding(ctx, op):
    return ctx.node("Gather", [ctx.name(op.inputs[0]), array_input(ctx, op.attrs["idx"], np.dtype(np.int64))],
                    axis=0)


@mapper("Normalize")
def _normalize(ctx, op):
    """Layer, group and instance norm: (x - mean) / sqrt(var + eps) over ``axes`` (of the grouped view)."""
    a = op.attrs
    x_value = op.inputs[0]
    dtype = x_value.dtype
    x = ctx.name(x_value)
    extra = op.inputs[1:]
    weight = ctx.name(extra[0]) if a["has_weight"] else None
    bias = ctx.name(extra[1 if a["has_weight"] else 0]) if a["has_bias"] else None
    axes = [int(d) for d in a["axes"]]
    grouped = a["group_shape"] is not None
    if grouped:
        x = ctx.node("Reshape", [x, ctx.int_list(op, lambda o: o.attrs["group_shape"])])
    if not grouped and ctx.opset >= 17 and axes == list(range(axes[0], len(x_value.shape))):
        shape = tuple(x_value.shape[axes[0]:])
        scale = weight or ctx.const(np.ones(shape, dtype=dtype))
        ins = [x, scale] + ([bias] if bias else [])
        return ctx.node("LayerNormalization", ins, axis=axes[0], epsilon=float(a["eps"]))
    mean = ctx.reduce("ReduceMean", x, axes, True)
    diff = ctx.node("Sub", [x, mean])
    var = ctx.reduce("ReduceMean", ctx.node("Mul", [diff, diff]), axes, True)
    y = ctx.node("Div", [diff, ctx.node("Sqrt", [ctx.node("Add", [var, ctx.scalar_like(a["eps"], dtype)])])])
    if grouped:
        y = ctx.node("Reshape", [y, ctx.node("Shape", [ctx.name(x_value)])])
    if weight:
        y = ctx.node("Mul", [y, _param_view(ctx, weight, extra[0], a["param_shape"])])
    if bias:
        y = ctx.node("Add", [y, _param_view(ctx, bias, extra[1 if a["has_weight"] else 0], a["param_shape"])])
    return y


def _param_view(ctx, name, value, shape):
    if tuple(value.shape) == tuple(shape):
        return name
    return ctx.node("Reshape", [name, ctx.ints(shape)])


@mapper("Resample")
def _resample(ctx, op):
    """Interpolation along one axis: a sum over taps of gathered rows times weights."""
    a = op.attrs
    axis, index, weight = int(a["axis"]), _host(a["index"]), a["weight"]
    x = ctx.name(op.inputs[0])
    dtype = out_dtype(op)
    ndim = len(op.inputs[0].shape)
    out = None
    for t in range(index.shape[1]):
        part = ctx.node("Gather", [x, ctx.const(index[:, t].astype(np.int64))], axis=axis)
        if weight is not None:
            shape = [1] * ndim
            shape[axis] = index.shape[0]
            w = _host(weight)[:, t].reshape(shape).astype(dtype)
            part = ctx.node("Mul", [part, ctx.const(w)])
        out = part if out is None else ctx.node("Add", [out, part])
    return out


def _host(array):
    return np.asarray(array.get() if hasattr(array, "get") else array)   # CuPy arrays come to the host

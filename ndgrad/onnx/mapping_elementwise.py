"""ONNX mappings of elementwise ops: arithmetic, math functions, activations, comparisons, casts."""
import math

from ..backend import np
from .graph import Value

MAPPERS = {}


def mapper(*names):
    def register(fn):
        for name in names:
            MAPPERS[name] = fn
        return fn
    return register


def out_dtype(op):
    return op.outputs[0].dtype


def as_dtype(ctx, v, dtype):
    """Input ``v`` (a Value or Python number) as an ONNX tensor of ``dtype``."""
    if isinstance(v, Value):
        return ctx.cast(ctx.name(v), v.dtype, dtype)
    return ctx.scalar_like(v, dtype)


def inputs_as(ctx, op, dtype=None):
    dtype = out_dtype(op) if dtype is None else dtype
    return [as_dtype(ctx, v, dtype) for v in op.inputs]


# -- arithmetic -------------------------------------------------------------------------------------
_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "Maximum": "Max",
           "Minimum": "Min"}


def _binary(onnx_op):
    return lambda ctx, op: ctx.node(onnx_op, inputs_as(ctx, op))


for _name, _onnx in _BINARY.items():
    MAPPERS[_name] = _binary(_onnx)

_SCALAR = {"AddScalar": ("Add", False), "MulScalar": ("Mul", False), "DivScalar": ("Div", False),
           "RSubScalar": ("Sub", True), "RDivScalar": ("Div", True)}


def _scalar_op(onnx_op, reflected):
    def emit(ctx, op):
        dtype = out_dtype(op)
        x = as_dtype(ctx, op.inputs[0], dtype)
        c = scalar_attr(ctx, op, "c", dtype)
        return ctx.node(onnx_op, [c, x] if reflected else [x, c])
    return emit


def scalar_attr(ctx, op, attr, dtype):
    """A scalar argument as a 0-d tensor of ``dtype``: a constant, or computed from the dynamic sizes where it
    is an integer that follows them (a mean's element count, ``x.size(0) * 2``)."""
    value = op.attrs[attr]
    others = [o.attrs.get(attr) for o in ctx.variants.get(ctx.current_index, [])]
    if all(o == value for o in others) or not _integral(value) or not all(_integral(o) for o in others):
        return ctx.scalar_like(ctx.static(op, attr), dtype)
    count = _summed_count(ctx, op, int(value))
    if count is None:
        count = ctx.squeeze(ctx.int_list(op, lambda o: [int(o.attrs[attr])]), [0])
    return ctx.cast(count, np.int64, dtype)


def _summed_count(ctx, op, value):
    """A mean is Sum then DivScalar by the number of summed elements: that count as the product of the summed
    dims of Shape(input), exact for any mix of dynamic axes (a * N + b is not, for N * T)."""
    source = op.inputs[0]
    producer = next((o for o in ctx.graph.ops if any(v is source for v in o.outputs)), None)
    if producer is None or producer.op != "Sum" or not isinstance(producer.inputs[0], Value):
        return None
    x = producer.inputs[0]
    ndim = len(x.shape)
    dims = producer.attrs.get("dims")
    dims = list(range(ndim)) if dims is None else [int(d) % max(ndim, 1) for d in dims]
    if not ndim or math.prod(x.shape[d] for d in dims) != value:
        return None
    sizes = ctx.node("Gather", [ctx.node("Shape", [ctx.name(x)]), ctx.ints(dims)], axis=0)
    return ctx.node("ReduceProd", [sizes], keepdims=0)


def _integral(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()


for _name, (_onnx, _reflected) in _SCALAR.items():
    MAPPERS[_name] = _scalar_op(_onnx, _reflected)


@mapper("PowScalar")
def _pow_scalar(ctx, op):
    dtype = out_dtype(op)
    x = as_dtype(ctx, op.inputs[0], dtype)
    c = ctx.static(op, "exponent")
    if c == 2:
        return ctx.node("Mul", [x, x])
    if c == 0.5:
        return ctx.node("Sqrt", [x])
    return ctx.node("Pow", [x, ctx.scalar_like(c, dtype)])


@mapper("RPowScalar")
def _rpow_scalar(ctx, op):
    dtype = out_dtype(op)
    return ctx.node("Pow", [ctx.scalar_like(ctx.static(op, "base"), dtype), as_dtype(ctx, op.inputs[0], dtype)])


# -- one-input math ---------------------------------------------------------------------------------
_UNARY = {"Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs", "Sin": "Sin", "Cos": "Cos",
          "Tan": "Tan", "Asin": "Asin", "Acos": "Acos", "Atan": "Atan", "Sinh": "Sinh", "Cosh": "Cosh",
          "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Relu": "Relu", "Sign": "Sign", "Floor": "Floor",
          "Ceil": "Ceil", "Erf": "Erf", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh",
          "Softsign": "Softsign", "Clone": "Identity", "ToDevice": "Identity", "ScaleGrad": "Identity",
          "Hardswish": "HardSwish", "StdFromVar": "Sqrt"}


def _unary(onnx_op):
    return lambda ctx, op: ctx.node(onnx_op, inputs_as(ctx, op))


for _name, _onnx in _UNARY.items():
    MAPPERS[_name] = _unary(_onnx)


def _const(ctx, op, value):
    return ctx.scalar_like(value, out_dtype(op))


@mapper("Exp2")
def _exp2(ctx, op):
    return ctx.node("Pow", [_const(ctx, op, 2.0), inputs_as(ctx, op)[0]])


@mapper("Log2", "Log10")
def _log_base(ctx, op):
    base = 2.0 if op.op == "Log2" else 10.0
    return ctx.node("Div", [ctx.node("Log", inputs_as(ctx, op)), _const(ctx, op, math.log(base))])


@mapper("Log1p")
def _log1p(ctx, op):
    return ctx.node("Log", [ctx.node("Add", [inputs_as(ctx, op)[0], _const(ctx, op, 1.0)])])


@mapper("Expm1")
def _expm1(ctx, op):
    return ctx.node("Sub", [ctx.node("Exp", inputs_as(ctx, op)), _const(ctx, op, 1.0)])


@mapper("Rsqrt")
def _rsqrt(ctx, op):
    return ctx.node("Reciprocal", [ctx.node("Sqrt", inputs_as(ctx, op))])


@mapper("Trunc")
def _trunc(ctx, op):
    x = inputs_as(ctx, op)[0]
    return ctx.node("Mul", [ctx.node("Sign", [x]), ctx.node("Floor", [ctx.node("Abs", [x])])])


@mapper("Round")
def _round(ctx, op):
    x = inputs_as(ctx, op)[0]
    decimals = ctx.static(op, "decimals")
    if not decimals:
        return ctx.node("Round", [x])
    scale = _const(ctx, op, 10.0 ** decimals)
    return ctx.node("Div", [ctx.node("Round", [ctx.node("Mul", [x, scale])]), scale])


@mapper("Clamp", "Hardtanh")
def _clamp(ctx, op):
    lo_name, hi_name = ("lo", "hi") if op.op == "Clamp" else ("low", "high")
    lo, hi = ctx.static(op, lo_name), ctx.static(op, hi_name)
    ins = inputs_as(ctx, op)
    ins += [_const(ctx, op, lo) if lo is not None else "", _const(ctx, op, hi) if hi is not None else ""]
    while ins[-1] == "":
        ins.pop()
    return ctx.node("Clip", ins)


# -- activations ------------------------------------------------------------------------------------
@mapper("LeakyReLU")
def _leaky(ctx, op):
    return ctx.node("LeakyRelu", inputs_as(ctx, op), alpha=float(ctx.static(op, "slope")))


@mapper("ELU")
def _elu(ctx, op):
    return ctx.node("Elu", inputs_as(ctx, op), alpha=float(ctx.static(op, "alpha")))


@mapper("ScaledELU")
def _scaled_elu(ctx, op):
    x = inputs_as(ctx, op)[0]
    alpha, scale, input_scale = (float(ctx.static(op, k)) for k in ("alpha", "scale", "input_scale"))
    if input_scale == 1.0:   # elu and selu
        if scale == 1.0:
            return ctx.node("Elu", [x], alpha=alpha)
        return ctx.node("Selu", [x], alpha=alpha, gamma=scale)
    if scale == 1.0 and abs(alpha * input_scale - 1.0) < 1e-12:   # celu
        return ctx.node("Celu", [x], alpha=alpha)
    neg = ctx.node("Min", [x, _const(ctx, op, 0.0)])
    pos = ctx.node("Max", [x, _const(ctx, op, 0.0)])
    expm1 = ctx.node("Sub", [ctx.node("Exp", [ctx.node("Mul", [neg, _const(ctx, op, input_scale)])]),
                             _const(ctx, op, 1.0)])
    y = ctx.node("Add", [pos, ctx.node("Mul", [expm1, _const(ctx, op, alpha)])])
    return ctx.node("Mul", [y, _const(ctx, op, scale)])


@mapper("GELU")
def _gelu(ctx, op):
    x = inputs_as(ctx, op)[0]
    if ctx.opset >= 20:
        return ctx.node("Gelu", [x])
    erf = ctx.node("Erf", [ctx.node("Mul", [x, _const(ctx, op, 1 / math.sqrt(2.0))])])
    half_x = ctx.node("Mul", [x, _const(ctx, op, 0.5)])
    return ctx.node("Mul", [half_x, ctx.node("Add", [erf, _const(ctx, op, 1.0)])])


@mapper("GELUTanh")
def _gelu_tanh(ctx, op):
    x = inputs_as(ctx, op)[0]
    if ctx.opset >= 20:
        return ctx.node("Gelu", [x], approximate="tanh")
    cube = ctx.node("Mul", [ctx.node("Mul", [x, x]), x])
    inner = ctx.node("Add", [x, ctx.node("Mul", [cube, _const(ctx, op, 0.044715)])])
    t = ctx.node("Tanh", [ctx.node("Mul", [inner, _const(ctx, op, math.sqrt(2.0 / math.pi))])])
    half_x = ctx.node("Mul", [x, _const(ctx, op, 0.5)])
    return ctx.node("Mul", [half_x, ctx.node("Add", [t, _const(ctx, op, 1.0)])])


@mapper("SiLU")
def _silu(ctx, op):
    x = inputs_as(ctx, op)[0]
    return ctx.node("Mul", [x, ctx.node("Sigmoid", [x])])


@mapper("Mish")
def _mish(ctx, op):
    x = inputs_as(ctx, op)[0]
    return ctx.node("Mul", [x, ctx.node("Tanh", [ctx.node("Softplus", [x])])])


@mapper("LogSigmoid")
def _log_sigmoid(ctx, op):
    x = inputs_as(ctx, op)[0]
    return ctx.node("Neg", [ctx.node("Softplus", [ctx.node("Neg", [x])])])


@mapper("Softplus")
def _softplus(ctx, op):
    x = inputs_as(ctx, op)[0]
    beta, threshold = float(ctx.static(op, "beta")), float(ctx.static(op, "threshold"))
    bx = ctx.node("Mul", [x, _const(ctx, op, beta)]) if beta != 1.0 else x
    soft = ctx.node("Softplus", [bx])
    if beta != 1.0:
        soft = ctx.node("Div", [soft, _const(ctx, op, beta)])
    # PyTorch switches to the identity above the threshold (same values within float precision)
    return ctx.node("Where", [ctx.node("Greater", [bx, _const(ctx, op, threshold)]), x, soft])


@mapper("Hardsigmoid")
def _hardsigmoid(ctx, op):
    return ctx.node("HardSigmoid", inputs_as(ctx, op), alpha=1.0 / 6.0, beta=0.5)


@mapper("Hardshrink", "Softshrink")
def _shrink(ctx, op):
    lambd = float(ctx.static(op, "lambd"))
    bias = lambd if op.op == "Softshrink" else 0.0
    return ctx.node("Shrink", inputs_as(ctx, op), lambd=lambd, bias=bias)


@mapper("Threshold")
def _threshold(ctx, op):
    x = inputs_as(ctx, op)[0]
    above = ctx.node("Greater", [x, _const(ctx, op, ctx.static(op, "threshold"))])
    return ctx.node("Where", [above, x, _const(ctx, op, ctx.static(op, "value"))])


# -- selection and types ------------------------------------------------------------------------------
@mapper("Where")
def _where(ctx, op):
    cond, a, b = op.inputs
    dtype = out_dtype(op)
    return ctx.node("Where", [as_dtype(ctx, cond, np.dtype(bool)), as_dtype(ctx, a, dtype), as_dtype(ctx, b, dtype)])


@mapper("Cast", "cast")
def _cast(ctx, op):
    return ctx.cast(ctx.name(op.inputs[0]), op.inputs[0].dtype, out_dtype(op))


# -- non-differentiable ops (recorded without a Node) ----------------------------------------------------
_COMPARE = {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual"}


def _common_dtype(values):
    dtypes = [v.dtype for v in values if isinstance(v, Value)]
    scalars = [v for v in values if not isinstance(v, Value)]
    dtype = np.result_type(*dtypes) if dtypes else np.dtype(float)
    if any(isinstance(s, float) for s in scalars) and dtype.kind in "biu":
        dtype = np.dtype(np.float32)
    return dtype


def _compare(onnx_op, negate=False):
    def emit(ctx, op):
        a, b = op.inputs[0], op.inputs[1] if len(op.inputs) > 1 else op.attrs.get("other")
        dtype = _common_dtype([a, b])
        out = ctx.node(onnx_op, [as_dtype(ctx, a, dtype), as_dtype(ctx, b, dtype)])
        return ctx.node("Not", [out]) if negate else out
    return emit


for _name, _onnx in _COMPARE.items():
    MAPPERS[_name] = _compare(_onnx)
MAPPERS["ne"] = _compare("Equal", negate=True)

_LOGIC = {"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor",
          "bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}


def _logic(onnx_op):
    def emit(ctx, op):
        if op.op.startswith("bitwise") and any(isinstance(v, Value) and v.dtype.kind != "b" for v in op.inputs):
            onnx_int = {"And": "BitwiseAnd", "Or": "BitwiseOr", "Xor": "BitwiseXor"}[onnx_op]
            return ctx.node(onnx_int, inputs_as(ctx, op))
        return ctx.node(onnx_op, inputs_as(ctx, op, np.dtype(bool)))
    return emit


for _name, _onnx in _LOGIC.items():
    MAPPERS[_name] = _logic(_onnx)


@mapper("logical_not", "bitwise_not")
def _not(ctx, op):
    if out_dtype(op).kind != "b":
        return ctx.node("BitwiseNot", inputs_as(ctx, op))
    return ctx.node("Not", [as_dtype(ctx, op.inputs[0], np.dtype(bool))])


@mapper("isnan")
def _isnan(ctx, op):
    return ctx.node("IsNaN", [ctx.name(op.inputs[0])])


@mapper("isinf")
def _isinf(ctx, op):
    return ctx.node("IsInf", [ctx.name(op.inputs[0])])


@mapper("argmax", "argmin")
def _argmax(ctx, op):
    x = op.inputs[0]
    dim, keepdim = _dim_keepdim(op)
    name = ctx.name(x)
    if dim is None:
        name = ctx.node("Reshape", [name, ctx.ints([-1])])
        dim, keepdim = 0, False
    return ctx.node("ArgMax" if op.op == "argmax" else "ArgMin", [name], axis=int(dim), keepdims=int(bool(keepdim)))


def _dim_keepdim(op):
    rest = list(op.inputs[1:])
    dim = op.attrs.get("dim", op.attrs.get("axis", rest[0] if rest else None))
    keepdim = op.attrs.get("keepdim", op.attrs.get("keepdims", rest[1] if len(rest) > 1 else False))
    return dim, keepdim


@mapper("any", "all")
def _any_all(ctx, op):
    x = op.inputs[0]
    dim, keepdim = _dim_keepdim(op)
    as_int = ctx.cast(ctx.node("Not", [ctx.node("Equal", [ctx.name(x), ctx.scalar_like(0, x.dtype)])]),
                      np.dtype(bool), np.dtype(np.int32))
    axes = None if dim is None else [int(d) % max(len(x.shape), 1) for d in
                                     (dim if isinstance(dim, (tuple, list)) else (dim,))]
    reduced = ctx.reduce("ReduceMax" if op.op == "any" else "ReduceMin", as_int, axes,
                         keepdim if axes is not None else False)
    return ctx.cast(reduced, np.int32, np.dtype(bool))


@mapper("isfinite")
def _isfinite(ctx, op):
    x = ctx.name(op.inputs[0])
    return ctx.node("Not", [ctx.node("Or", [ctx.node("IsNaN", [x]), ctx.node("IsInf", [x])])])


def _int_floor_div(ctx, a, b, dtype):
    wide = np.dtype(np.float64)
    q = ctx.node("Floor", [ctx.node("Div", [ctx.cast(a, dtype, wide), ctx.cast(b, dtype, wide)])])
    return ctx.cast(q, wide, dtype)


@mapper("floor_divide")
def _floor_divide(ctx, op):
    dtype = out_dtype(op)
    a, b = (as_dtype(ctx, v, dtype) for v in op.inputs[:2])
    if dtype.kind == "f":
        return ctx.node("Floor", [ctx.node("Div", [a, b])])
    return _int_floor_div(ctx, a, b, dtype)


@mapper("remainder", "fmod")
def _remainder(ctx, op):
    dtype = out_dtype(op)
    a, b = (as_dtype(ctx, v, dtype) for v in op.inputs[:2])
    if op.op == "fmod":
        return ctx.node("Mod", [a, b], fmod=1)
    if dtype.kind != "f":
        return ctx.node("Mod", [a, b], fmod=0)     # Python's sign rule for integers
    return ctx.node("Sub", [a, ctx.node("Mul", [ctx.node("Floor", [ctx.node("Div", [a, b])]), b])])


@mapper("Hypot")
def _hypot(ctx, op):
    a, b = inputs_as(ctx, op)
    return ctx.node("Sqrt", [ctx.node("Add", [ctx.node("Mul", [a, a]), ctx.node("Mul", [b, b])])])


@mapper("LogAddExp")
def _logaddexp(ctx, op):
    a, b = inputs_as(ctx, op)
    base2 = ctx.static(op, "base2")
    top = ctx.node("Max", [a, b])
    # top + log(e^(a - top) + e^(b - top)): no overflow; both -inf gives -inf (Where keeps top there)
    scale = _const(ctx, op, math.log(2.0)) if base2 else None
    da, db = ctx.node("Sub", [a, top]), ctx.node("Sub", [b, top])
    if base2:
        da, db = ctx.node("Mul", [da, scale]), ctx.node("Mul", [db, scale])
    log_sum = ctx.node("Log", [ctx.node("Add", [ctx.node("Exp", [da]), ctx.node("Exp", [db])])])
    if base2:
        log_sum = ctx.node("Div", [log_sum, scale])
    finite = ctx.node("Not", [ctx.node("IsInf", [top])])
    return ctx.node("Where", [finite, ctx.node("Add", [top, log_sum]), top])


@mapper("Atan2")
def _atan2(ctx, op):
    """atan(y / x), moved by +-pi where x is negative (or -0.0), with the signs of zeros kept as PyTorch does."""
    y, x = inputs_as(ctx, op)
    zero = _const(ctx, op, 0.0)

    def negative(v):   # v < 0 or v is -0.0: 1 / v is negative (or -inf)
        return ctx.node("Less", [ctx.node("Reciprocal", [v]), zero])
    both_zero = ctx.node("And", [ctx.node("Equal", [x, zero]), ctx.node("Equal", [y, zero])])
    ratio = ctx.node("Where", [both_zero, y, ctx.node("Div", [y, x])])   # 0 / 0 would be nan: keep y's zero
    angle = ctx.node("Atan", [ratio])
    turn = ctx.node("Where", [negative(y), _const(ctx, op, -math.pi), _const(ctx, op, math.pi)])
    return ctx.node("Where", [negative(x), ctx.node("Add", [angle, turn]), angle])

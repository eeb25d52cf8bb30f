"""ONNX mappings of the losses and of ``one_hot``, recorded whole by the tracer (their attrs hold every argument
by name, tensors as Values): ONNX's SoftmaxCrossEntropyLoss / NegativeLogLikelihoodLoss where they match, else
elementwise graphs. A batch or sequence axis may be dynamic: every reduction is computed in the graph."""
from ..backend import np
from .graph import Value
from .mapping_elementwise import MAPPERS, as_dtype, mapper, out_dtype  # noqa: F401


def _reduction(attrs):
    """PyTorch's legacy ``size_average`` / ``reduce`` arguments folded into ``reduction``."""
    size_average, reduce = attrs.get("size_average"), attrs.get("reduce")
    if size_average is None and reduce is None:
        return attrs["reduction"]
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def _reduce(ctx, loss, reduction):
    if reduction == "mean":
        return ctx.reduce("ReduceMean", loss, None, False)
    if reduction == "sum":
        return ctx.reduce("ReduceSum", loss, None, False)
    return loss


def _scalar(ctx, value, dtype):
    return ctx.scalar_like(value, dtype)


# -- class-index losses ------------------------------------------------------------------------------------
def _class_inputs(ctx, x_value, t_value):
    """(N, C, *) input and (N, *) int64 target names; unbatched (C,) inputs get a batch of one."""
    x, t = ctx.name(x_value), ctx.cast(ctx.name(t_value), t_value.dtype, np.int64)
    unbatched = len(x_value.shape) == 1
    if unbatched:
        x, t = ctx.unsqueeze(x, [0]), ctx.unsqueeze(t, [0])
    return x, t, unbatched


def _finish(ctx, loss, reduction, unbatched):
    return ctx.squeeze(loss, [0]) if unbatched and reduction == "none" else ctx.node("Identity", [loss])


def _weight(ctx, attrs, dtype):
    w = attrs.get("weight")
    return as_dtype(ctx, w, dtype) if isinstance(w, Value) else None


@mapper("cross_entropy")
def _cross_entropy(ctx, op):
    a = op.attrs
    x_value, t_value = a["input"], a["target"]
    reduction, eps = _reduction(a), float(ctx.static(op, "label_smoothing"))
    dtype = out_dtype(op)
    if t_value.dtype.kind == "f":
        return _soft_cross_entropy(ctx, op, reduction, eps, dtype)
    x, t, unbatched = _class_inputs(ctx, x_value, t_value)
    weight = _weight(ctx, a, dtype)
    ignore = int(ctx.static(op, "ignore_index"))
    if not eps:
        loss = ctx.node("SoftmaxCrossEntropyLoss", [x, t] + ([weight] if weight else []),
                        reduction=reduction, ignore_index=ignore)
        return _finish(ctx, loss, reduction, unbatched)
    logp = ctx.node("LogSoftmax", [x], axis=1)
    return _smoothed_nll(ctx, logp, t, weight, ignore, eps, reduction, unbatched, x_value, dtype)


def _smoothed_nll(ctx, logp, t, weight, ignore, eps, reduction, unbatched, x_value, dtype):
    """(1 - eps) * w[t] * -logp[t] + eps / C * sum_c w_c * -logp_c, zero at ignored positions; the mean
    divides by the summed weights of the targets that count (as PyTorch does)."""
    classes = x_value.shape[0 if unbatched else 1]
    ndim = max(len(x_value.shape), 2)
    picked = ctx.node("NegativeLogLikelihoodLoss", [logp, t] + ([weight] if weight else []), reduction="none",
                      ignore_index=ignore)
    valid = ctx.node("Not", [ctx.node("Equal", [t, ctx.const(np.asarray(ignore, dtype=np.int64))])])
    valid_f = ctx.cast(valid, np.dtype(bool), dtype)
    weighted = logp
    if weight:
        view = ctx.node("Reshape", [weight, ctx.ints([1, classes] + [1] * (ndim - 2))])
        weighted = ctx.node("Mul", [logp, view])
    smooth = ctx.node("Neg", [ctx.reduce("ReduceSum", weighted, [1], False)])
    smooth = ctx.node("Mul", [smooth, valid_f])
    loss = ctx.node("Add", [ctx.node("Mul", [picked, _scalar(ctx, 1.0 - eps, dtype)]),
                            ctx.node("Mul", [smooth, _scalar(ctx, eps / classes, dtype)])])
    if reduction != "mean":
        return _finish(ctx, _reduce(ctx, loss, reduction), reduction, unbatched)
    if weight:
        safe = ctx.node("Where", [valid, t, ctx.const(np.asarray(0, dtype=np.int64))])
        w_t = ctx.node("Mul", [ctx.node("Gather", [weight, safe], axis=0), valid_f])
    else:
        w_t = valid_f
    total = ctx.reduce("ReduceSum", loss, None, False)
    return ctx.node("Div", [total, ctx.reduce("ReduceSum", w_t, None, False)])


def _soft_cross_entropy(ctx, op, reduction, eps, dtype):
    """Probability targets: -sum_c w_c * q_c * logp_c with q = (1 - eps) * target + eps / C."""
    a = op.attrs
    x_value = a["input"]
    x, t = ctx.name(x_value), as_dtype(ctx, a["target"], dtype)
    unbatched = len(x_value.shape) == 1
    if unbatched:
        x, t = ctx.unsqueeze(x, [0]), ctx.unsqueeze(t, [0])
    classes = x_value.shape[0 if unbatched else 1]
    ndim = max(len(x_value.shape), 2)
    logp = ctx.node("LogSoftmax", [x], axis=1)
    if eps:
        t = ctx.node("Add", [ctx.node("Mul", [t, _scalar(ctx, 1.0 - eps, dtype)]),
                             _scalar(ctx, eps / classes, dtype)])
    prod = ctx.node("Mul", [logp, t])
    weight = _weight(ctx, a, dtype)
    if weight:
        prod = ctx.node("Mul", [prod, ctx.node("Reshape", [weight, ctx.ints([classes] + [1] * (ndim - 2))])])
    loss = ctx.node("Neg", [ctx.reduce("ReduceSum", prod, [1], False)])
    return _finish(ctx, _reduce(ctx, loss, reduction), reduction, unbatched)


@mapper("nll_loss")
def _nll_loss(ctx, op):
    a = op.attrs
    reduction = _reduction(a)
    x, t, unbatched = _class_inputs(ctx, a["input"], a["target"])
    weight = _weight(ctx, a, out_dtype(op))
    loss = ctx.node("NegativeLogLikelihoodLoss", [x, t] + ([weight] if weight else []), reduction=reduction,
                    ignore_index=int(ctx.static(op, "ignore_index")))
    return _finish(ctx, loss, reduction, unbatched)


@mapper("multi_margin_loss")
def _multi_margin_loss(ctx, op):
    """sum over j != y of max(0, margin - x_y + x_j)^p * w_y, divided by C."""
    a = op.attrs
    x_value, dtype = a["input"], out_dtype(op)
    x, t, unbatched = _class_inputs(ctx, x_value, a["target"])
    t = ctx.node("Reshape", [t, ctx.ints([-1, 1])])
    classes = x_value.shape[-1]
    picked = ctx.node("GatherElements", [x, t], axis=1)
    hinge = ctx.node("Add", [ctx.node("Sub", [_scalar(ctx, float(ctx.static(op, "margin")), dtype), picked]), x])
    hinge = ctx.node("Max", [hinge, _scalar(ctx, 0.0, dtype)])
    if int(ctx.static(op, "p")) == 2:
        hinge = ctx.node("Mul", [hinge, hinge])
    weight = _weight(ctx, a, dtype)
    if weight:
        hinge = ctx.node("Mul", [hinge, ctx.node("Gather", [weight, t], axis=0)])
    classes_range = ctx.const(np.arange(classes, dtype=np.int64).reshape(1, -1))
    others = ctx.cast(ctx.node("Not", [ctx.node("Equal", [classes_range, t])]), np.dtype(bool), dtype)
    loss = ctx.node("Div", [ctx.reduce("ReduceSum", ctx.node("Mul", [hinge, others]), [1], False),
                            _scalar(ctx, float(classes), dtype)])
    reduction = _reduction(a)
    return _finish(ctx, _reduce(ctx, loss, reduction), reduction, unbatched)


# -- elementwise losses --------------------------------------------------------------------------------------
def _difference(ctx, op):
    dtype = out_dtype(op)
    d = ctx.node("Sub", [as_dtype(ctx, op.attrs["input"], dtype), as_dtype(ctx, op.attrs["target"], dtype)])
    return d, ctx.node("Abs", [d]), dtype


@mapper("smooth_l1_loss")
def _smooth_l1(ctx, op):
    d, ad, dtype = _difference(ctx, op)
    beta = float(ctx.static(op, "beta"))
    if beta == 0.0:
        loss = ad
    else:
        square = ctx.node("Mul", [ctx.node("Mul", [d, d]), _scalar(ctx, 0.5 / beta, dtype)])
        linear = ctx.node("Sub", [ad, _scalar(ctx, 0.5 * beta, dtype)])
        loss = ctx.node("Where", [ctx.node("Less", [ad, _scalar(ctx, beta, dtype)]), square, linear])
    return ctx.node("Identity", [_reduce(ctx, loss, _reduction(op.attrs))])


@mapper("huber_loss")
def _huber(ctx, op):
    d, ad, dtype = _difference(ctx, op)
    delta = float(ctx.static(op, "delta"))
    square = ctx.node("Mul", [ctx.node("Mul", [d, d]), _scalar(ctx, 0.5, dtype)])
    linear = ctx.node("Mul", [ctx.node("Sub", [ad, _scalar(ctx, 0.5 * delta, dtype)]), _scalar(ctx, delta, dtype)])
    loss = ctx.node("Where", [ctx.node("LessOrEqual", [ad, _scalar(ctx, delta, dtype)]), square, linear])
    weight = op.attrs.get("weight")
    if isinstance(weight, Value):
        loss = ctx.node("Mul", [loss, as_dtype(ctx, weight, dtype)])
    return ctx.node("Identity", [_reduce(ctx, loss, _reduction(op.attrs))])


@mapper("kl_div")
def _kl_div(ctx, op):
    """target * (log target - input), 0 where target is 0; 'batchmean' divides the sum by the batch size."""
    a, dtype = op.attrs, out_dtype(op)
    x, t = as_dtype(ctx, a["input"], dtype), as_dtype(ctx, a["target"], dtype)
    if ctx.static(op, "log_target"):
        loss = ctx.node("Mul", [ctx.node("Exp", [t]), ctx.node("Sub", [t, x])])
    else:
        safe = ctx.node("Where", [ctx.node("Greater", [t, _scalar(ctx, 0.0, dtype)]), t, _scalar(ctx, 1.0, dtype)])
        loss = ctx.node("Sub", [ctx.node("Mul", [t, ctx.node("Log", [safe])]), ctx.node("Mul", [t, x])])
    reduction = _reduction(a)
    if reduction != "batchmean":
        return ctx.node("Identity", [_reduce(ctx, loss, reduction)])
    total = ctx.reduce("ReduceSum", loss, None, False)
    if not a["input"].shape:
        return ctx.node("Identity", [total])
    batch = ctx.node("Gather", [ctx.node("Shape", [ctx.name(a["input"])]), ctx.ints([0])], axis=0)
    batch = ctx.cast(ctx.squeeze(batch, [0]), np.int64, dtype)
    return ctx.node("Div", [total, batch])


@mapper("_BinaryCrossEntropy")
def _binary_cross_entropy(ctx, op):
    """-(y log x + (1 - y) log(1 - x)) with each log clamped at -100, as PyTorch does."""
    dtype = out_dtype(op)
    x, y = (as_dtype(ctx, v, dtype) for v in op.inputs)
    one, floor = _scalar(ctx, 1.0, dtype), _scalar(ctx, -100.0, dtype)
    log_x = ctx.node("Max", [ctx.node("Log", [x]), floor])
    log_1mx = ctx.node("Max", [ctx.node("Log", [ctx.node("Sub", [one, x])]), floor])
    total = ctx.node("Add", [ctx.node("Mul", [y, log_x]), ctx.node("Mul", [ctx.node("Sub", [one, y]), log_1mx])])
    return ctx.node("Neg", [total])


@mapper("one_hot")
def _one_hot(ctx, op):
    """ONNX OneHot; with num_classes=-1 the depth this example gave (max + 1) is kept."""
    indices = op.attrs["tensor"]
    depth = op.outputs[0].shape[-1]
    return ctx.node("OneHot", [ctx.name(indices), ctx.ints([depth]), ctx.const(np.asarray([0, 1], dtype=np.int64))],
                    axis=-1)


@mapper("multilabel_margin_loss")
def _multilabel_margin_loss(ctx, op):
    """Targets are the class indices before the first -1 in each row; sum over targets j and non-targets c of
    max(0, 1 - (x_j - x_c)), divided by C."""
    a, dtype = op.attrs, out_dtype(op)
    x, t, unbatched = _class_inputs(ctx, a["input"], a["target"])
    classes = a["input"].shape[-1]
    minus_one = ctx.const(np.asarray(-1, dtype=np.int64))
    stops = ctx.cast(ctx.node("Equal", [t, minus_one]), np.dtype(bool), np.int64)
    valid = ctx.node("Equal", [ctx.node("CumSum", [stops, ctx.const(np.asarray(1, dtype=np.int64))]),
                               ctx.const(np.asarray(0, dtype=np.int64))])                      # (N, L)
    safe = ctx.node("Where", [valid, t, ctx.const(np.asarray(0, dtype=np.int64))])
    picked = ctx.node("GatherElements", [x, safe], axis=1)                                    # x at target j
    hits = ctx.node("And", [ctx.node("Equal", [ctx.unsqueeze(safe, [2]),
                                               ctx.const(np.arange(classes, dtype=np.int64).reshape(1, 1, -1))]),
                            ctx.unsqueeze(valid, [2])])                                       # (N, L, C)
    is_target = ctx.reduce("ReduceMax", ctx.cast(hits, np.dtype(bool), dtype), [1], False)    # (N, C)
    hinge = ctx.node("Add", [ctx.node("Sub", [_scalar(ctx, 1.0, dtype), ctx.unsqueeze(picked, [2])]),
                             ctx.unsqueeze(x, [1])])
    hinge = ctx.node("Max", [hinge, _scalar(ctx, 0.0, dtype)])
    keep = ctx.node("Mul", [ctx.unsqueeze(ctx.cast(valid, np.dtype(bool), dtype), [2]),
                            ctx.unsqueeze(ctx.node("Sub", [_scalar(ctx, 1.0, dtype), is_target]), [1])])
    loss = ctx.node("Div", [ctx.reduce("ReduceSum", ctx.node("Mul", [hinge, keep]), [1, 2], False),
                            _scalar(ctx, float(classes), dtype)])
    reduction = _reduction(a)
    return _finish(ctx, _reduce(ctx, loss, reduction), reduction, unbatched)

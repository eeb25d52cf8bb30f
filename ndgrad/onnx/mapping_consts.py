"""Tensors created inside forward (``zeros``, ``arange``, masks): constants, or shape-built where they follow a
dynamic axis (``zeros(x.size(0), h)`` becomes ConstantOfShape, ``arange(x.size(1))`` becomes Range, a causal
mask ``tril(ones(T, T))`` becomes Trilu)."""
from ..backend import np


def bind_const(ctx, value, others, checks=(), joint=()):
    array = value.array
    changed = [o for o in list(others) + list(checks) + list(joint) if o is not None and (o.shape != value.shape)]
    if not changed:
        ctx.bind(value, ctx.const(array, hint=value.name))
        return

    def shapes(graphs):
        return [list(o.shape) if o is not None and len(o.shape) == len(value.shape) else list(value.shape)
                for o in graphs]
    joint_shape = shapes(joint)[0] if joint and joint[0] is not None else None
    forms = ctx.affine_values(list(value.shape), shapes(others), None, shapes(checks) if checks else None,
                              joint_shape)
    flat = array.reshape(-1)
    if array.size and (flat == flat[0]).all():
        shape = ctx.node("Concat", [ctx.affine_int(c, b) for c, b in forms], axis=0)
        fill = ctx.onnx.numpy_helper.from_array(np.asarray([flat[0]], dtype=array.dtype))
        ctx.bind(value, ctx.node("ConstantOfShape", [shape], value=fill))
        return
    if array.ndim == 1 and array.size >= 2:
        step = flat[1] - flat[0]
        if np.array_equal(flat, flat[0] + step * np.arange(array.size, dtype=array.dtype)):
            coeffs, b = forms[0]
            n = ctx.squeeze(ctx.affine_int(coeffs, b), [0])
            start = np.asarray(flat[0], dtype=array.dtype)
            step_a = np.asarray(step, dtype=array.dtype)
            count = ctx.cast(n, np.int64, array.dtype)
            limit = ctx.node("Add", [ctx.const(start), ctx.node("Mul", [count, ctx.const(step_a)])])
            ctx.bind(value, ctx.node("Range", [ctx.const(start), limit, ctx.const(step_a)]))
            return
    if array.ndim == 2 and _bind_triangle(ctx, value, forms):
        return
    raise ctx.dynamic_error(None, f"a constant of shape {value.shape} built from a dynamic size")


def _bind_triangle(ctx, value, forms):
    """A (rows, cols) constant holding one value on and below a diagonal and another above it (or the reverse)."""
    array = value.array
    rows, cols = array.shape
    if rows == 0 or cols == 0:
        return False
    first = array[0]
    on = first[0]
    k = int((first == on).sum()) - 1
    lower = np.tril(np.ones((rows, cols), dtype=bool), k)
    off_values = array[~lower]
    if not ((array[lower] == on).all() and off_values.size and (off_values == off_values[0]).all()):
        return False
    shape = ctx.node("Concat", [ctx.affine_int(c, b) for c, b in forms], axis=0)
    ones = ctx.node("ConstantOfShape", [shape], value=ctx.onnx.numpy_helper.from_array(np.ones(1, np.int64)))
    tri = ctx.node("Trilu", [ones, ctx.const(np.asarray(k, dtype=np.int64))], upper=0)
    mask = ctx.cast(tri, np.int64, np.dtype(bool))
    pick = ctx.node("Where", [mask, ctx.const(np.asarray(on, dtype=array.dtype)),
                              ctx.const(np.asarray(off_values[0], dtype=array.dtype))])
    ctx.bind(value, pick)
    return True

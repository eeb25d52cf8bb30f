"""The ONNX side of export: names, initializers, nodes, and shape arithmetic for dynamic axes.

A mapper (see ``mapping_*.py``) gets this context and one recorded op, and emits
ONNX nodes with ``ctx.node(...)``. Dynamic axes are found by tracing again with
each dynamic size changed: an int that changes with a size N is taken as
``a * N + b`` and computed in the graph from ``Shape(input)``.
"""
import math

from ..backend import np
from .graph import Value


class UnsupportedOperatorError(RuntimeError):
    """A recorded op has no ONNX mapping (names the op, the module that called it and the opset)."""


class ExportContext:
    def __init__(self, onnx, opset, graph, variants, symbols, checks=None, joint=None):
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.graph = graph
        self.variants = variants    # op index -> [the same op in each re-trace], one per dynamic symbol
        self.symbols = symbols      # [(symbol name, input name, axis, base size, delta)]
        self.checks = checks or {}  # op index -> [the same op with each size changed by 2 * delta]
        self.joint = joint or {}    # op index -> the same op with every size changed by its delta at once
        self.nodes = []
        self.initializers = []
        self.names = {}             # id(Value) -> ONNX tensor name
        self.used_names = set()
        self._symbol_cache = {}
        self.current = None         # the op being mapped (for error messages)
        self.current_index = None

    # -- names -------------------------------------------------------------------------------
    def fresh(self, hint="tmp"):
        name, k = hint, 0
        while name in self.used_names:
            k += 1
            name = f"{hint}_{k}"
        self.used_names.add(name)
        return name

    def bind(self, value, name):
        self.names[id(value)] = name
        self.used_names.add(name)

    def name(self, value):
        """The ONNX name of a Value, or a constant for a Python number."""
        if isinstance(value, Value):
            return self.names[id(value)]
        return self.const(np.asarray(value))

    # -- emitting ----------------------------------------------------------------------------
    def node(self, op_type, inputs, n_out=1, hint=None, **attrs):
        outs = [self.fresh(hint or op_type.lower()) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs,
                                                name=self.fresh(f"{op_type}_node"), **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, hint="const"):
        """An initializer holding ``array``. Not shared between nodes: ONNX Runtime's graph optimizer
        has been seen to rewrite a shared axes initializer (Squeeze) under a Slice that also reads it."""
        array = np.asarray(array)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array.copy(order="C"), name))  # 0-d stays 0-d
        return name

    def ints(self, values):
        return self.const(np.asarray(list(values), dtype=np.int64))

    def scalar_like(self, value, dtype):
        return self.const(np.asarray(value, dtype=dtype))

    def cast(self, name, src_dtype, dst_dtype):
        if np.dtype(src_dtype) == np.dtype(dst_dtype):
            return name
        return self.node("Cast", [name], to=onnx_type(self.onnx, dst_dtype))

    # -- opset-dependent forms ---------------------------------------------------------------
    def reduce(self, op_type, x, axes, keepdims):
        """Reduce* with axes as an input (opset 18, and ReduceSum since 13) or an attribute (before)."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], keepdims=keep)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=axes, keepdims=keep)

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.ints(axes)])

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes)])

    # -- ints that may follow a dynamic axis ---------------------------------------------------
    def int_list(self, op, get):
        """A 1-D int64 tensor of ``get(op)``: a constant, or computed from input shapes where it varies."""
        base = [int(v) for v in get(op)]
        forms = self.affine(op, get, base)
        if all(not coeffs for coeffs, _ in forms):
            return self.ints(base)
        parts = [self.affine_int(coeffs, b) for coeffs, b in forms]
        return self.node("Concat", parts, axis=0)

    def is_dynamic(self, op, get):
        base = [int(v) for v in get(op)]
        return any(coeffs for coeffs, _ in self.affine(op, get, base))

    def affine(self, op, get, base):
        """Per element: ({symbol index: a}, b) with value = sum a * N + b over the dynamic sizes N."""
        others = self.variants.get(self.current_index, [])
        if not others:
            return [({}, b) for b in base]
        checks = [[int(v) for v in get(o)] for o in self.checks.get(self.current_index, [])]
        joint_op = self.joint.get(self.current_index)
        joint = [int(v) for v in get(joint_op)] if joint_op is not None else None
        return self.affine_values(base, [[int(v) for v in get(o)] for o in others], op, checks or None, joint)

    def affine_values(self, base, seen, op=None, checks=None, joint=None):
        """``seen[k]``: the same ints when dynamic size k was changed by its delta; ``checks[k]``: by twice
        that, to confirm the linear rule (or refuse); ``joint``: with every size changed at once, which tells
        a product of sizes (N * T: linear in each alone) from a sum."""
        forms = self._linear_forms(base, seen, op, checks)
        if joint is None or len(self.symbols) < 2 or len(joint) != len(base):
            return forms
        for i, (coeffs, b) in enumerate(forms):
            predicted = base[i] + sum(a * self.symbols[k][4] for k, a in coeffs.items())
            if joint[i] != predicted:
                forms[i] = self._product_form(base[i], seen, checks, joint[i], i, op)
        return forms

    def _product_form(self, b0, seen, checks, joint_value, i, op):
        """``b0 = c * prod(N_k)`` over the sizes it follows: ({("prod", ks): c}, 0), else a clear error."""
        ks = [k for k in range(len(self.symbols)) if seen[k][i] != b0]
        sizes = [self.symbols[k][3] for k in ks]
        deltas = [self.symbols[k][4] for k in ks]
        product = math.prod(sizes)
        proportional = product and b0 % product == 0 and all(
            seen[k][i] * n == b0 * (n + d) for k, n, d in zip(ks, sizes, deltas))
        if proportional and checks is not None:
            proportional = all(checks[k][i] * n == b0 * (n + 2 * d) for k, n, d in zip(ks, sizes, deltas)
                               if len(checks[k]) > i)
        c = b0 // product if product else 0
        if not proportional or joint_value != c * math.prod(n + d for n, d in zip(sizes, deltas)):
            raise self.dynamic_error(op, "a size built from several dynamic sizes in a way other than a sum or a "
                                         "product of them")
        return {("prod", tuple(ks)): c}, 0

    def _linear_forms(self, base, seen, op, checks):
        forms = []
        for i, b0 in enumerate(base):
            coeffs, b = {}, b0
            for k, (sym, _, _, size, delta) in enumerate(self.symbols):
                if len(seen[k]) != len(base):
                    raise self.dynamic_error(op, "the number of dimensions")
                change = seen[k][i] - b0
                if change:
                    if change % delta:
                        raise self.dynamic_error(op, f"a size that is not a multiple of {sym}")
                    coeffs[k] = change // delta
                    b -= coeffs[k] * size
                if checks is not None and len(checks[k]) == len(base) and \
                        checks[k][i] != b0 + 2 * coeffs.get(k, 0) * delta:
                    raise self.dynamic_error(op, f"a size that is not a linear function of {sym} "
                                                 f"(like {sym} // 2)")
            forms.append((coeffs, b))
        return forms

    def affine_int(self, coeffs, b):
        """A 1-element int64 tensor: sum a * N_k + b."""
        if not coeffs:
            return self.ints([b])
        total = None
        for k, a in coeffs.items():
            if isinstance(k, tuple):   # ("prod", symbol indices): a * N_i * N_j ...
                term = self.symbol_size(k[1][0])
                for j in k[1][1:]:
                    term = self.node("Mul", [term, self.symbol_size(j)])
            else:
                term = self.symbol_size(k)
            if a != 1:
                term = self.node("Mul", [term, self.ints([a])])
            total = term if total is None else self.node("Add", [total, term])
        if b:
            total = self.node("Add", [total, self.ints([b])])
        return total

    def symbol_size(self, k):
        if k not in self._symbol_cache:
            sym, input_name, axis, _, _ = self.symbols[k]
            shape = self.node("Shape", [input_name], hint=f"{input_name}_shape")
            self._symbol_cache[k] = self.node("Gather", [shape, self.ints([axis])], axis=0, hint=sym)
        return self._symbol_cache[k]

    def static(self, op, attr):
        """An attribute that must not change with the dynamic axes (else a clear error)."""
        value = op.attrs[attr]
        for other in self.variants.get(self.current_index, []):
            if _differs(other.attrs.get(attr), value):
                raise self.dynamic_error(op, f"its argument {attr}={value!r}")
        return value

    def dynamic_error(self, op, what):
        op = op or self.current
        who = f"{op.op} in {op.module or 'the top-level forward'}" if op is not None else \
            "a tensor created in forward"
        return RuntimeError(
            f"onnx.export: {who} uses {what}, which changes with a dynamic axis "
            f"({', '.join(s[0] for s in self.symbols)}) in a way the exporter cannot write as shape ops. "
            f"Fix: compute it with tensor ops, or export without dynamic_axes for it.")


def _differs(a, b):
    if hasattr(a, "shape") or hasattr(b, "shape"):
        return False
    return a != b


def onnx_type(onnx, dtype):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

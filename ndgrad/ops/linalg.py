"""Differentiable linear algebra: matmul (and mm, bmm, mv, dot, outer), einsum, tensordot.

Products go to BLAS / cuBLAS through ``xp.matmul`` and ``xp.einsum``. The
gradient of an einsum with respect to one operand is another einsum (of the
upstream gradient with the other operands), so einsum's backward is einsum
itself and every derivative order comes for free.
"""
import operator
import string

from .. import amp as _amp
from ..autograd.grad_mode import state as _grad_state
from ..autograd import node as _node
from ..autograd.node import Node
from ..backend import to_device
from ..tensor import _new_tensor
from .shape import normalize_dim, broadcast_shapes, transpose, unsqueeze, squeeze, reshape

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "vecdot", "inner", "outer", "ger", "einsum",
           "tensordot"]


# -- matmul ----------------------------------------------------------------------------------------

class MatMul(Node):
    __slots__ = ()

    def forward(self, a, b):
        return self.xp.matmul(a, b)

    def backward(self, grad):
        a, b = self.input(0), self.input(1)
        need_a, need_b = self.needs_input_grad
        if not _grad_state.enabled and a._data.ndim >= 2 and b._data.ndim >= 2:
            return self._raw_backward(a._data, b._data, grad._data, need_a, need_b)
        if a.ndim == 1 and b.ndim == 1:   # a dot product: grad is 0-d
            return (grad * b if need_a else None), (grad * a if need_b else None)
        # Work in the matrix form: a 1-d a is a row (1, k), a 1-d b a column (k, 1).
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g2 = unsqueeze(grad, -2) if a.ndim == 1 else grad
        g2 = unsqueeze(g2, -1) if b.ndim == 1 else g2
        grad_a = grad_b = None
        if need_a:
            grad_a = matmul(g2, transpose(b2, -1, -2))
            if a.ndim == 1:
                grad_a = squeeze(grad_a, -2)
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                # (batch..., n, k)^T @ (batch..., n, m) summed over the batch is one (k, N) @ (N, m) product.
                k, m = a2.shape[-1], g2.shape[-1]
                grad_b = matmul(transpose(reshape(a2, (-1, k)), 0, 1), reshape(g2, (-1, m)))
            else:
                grad_b = matmul(transpose(a2, -1, -2), g2)
            if b.ndim == 1:
                grad_b = squeeze(grad_b, -1)
        return grad_a, grad_b   # the engine sums broadcast batch dims back to each input's shape

    def _raw_backward(self, a, b, g, need_a, need_b):
        """First-order backward of the matrix case on raw arrays: no tensors made on the way."""
        xp = self.xp
        grad_a = grad_b = None
        if need_a:
            grad_a = _new_tensor(xp.matmul(g, xp.swapaxes(b, -1, -2)), self.device)
        if need_b:
            if b.ndim == 2 and a.ndim > 2:
                gb = xp.matmul(a.reshape(-1, a.shape[-1]).T, g.reshape(-1, g.shape[-1]))
            else:
                gb = xp.matmul(xp.swapaxes(a, -1, -2), g)
            grad_b = _new_tensor(gb, self.device)
        return grad_a, grad_b


def _as_tensor(value, like, op):
    Tensor = _node.Tensor
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return Tensor._wrap(to_device(value, like._device), like._device)
    raise TypeError(f"{op}: expected a tensor, got {type(value).__name__}")


def _same_dtype(op, *tensors):
    first = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype is not first:
            shapes = " and ".join(f"{tuple(x.shape)} {x.dtype}" for x in tensors)
            raise RuntimeError(f"{op}: expected both operands to have the same dtype, got {shapes}; "
                               f"convert one, e.g. b.to(a.dtype)")


def matmul(input, other):
    """Matrix product with PyTorch's rules for 1-d operands and broadcast batch dims."""
    input, other = _as_tensor(input, other, "matmul"), _as_tensor(other, input, "matmul")
    if _amp.state.enabled:
        input, other = _amp.cast_inputs(input, other)
    a, b = input.shape, other.shape
    if not a or not b:
        raise RuntimeError(f"matmul: both arguments to matmul need to be at least 1D, but they are "
                           f"{len(a)}D and {len(b)}D (shapes {tuple(a)} and {tuple(b)}); use * for a "
                           f"product with a scalar")
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        where_b = "its only dim" if len(b) == 1 else f"dim {len(b) - 2} (second to last)"
        raise RuntimeError(
            f"matmul: shapes {tuple(a)} and {tuple(b)} cannot be multiplied: the first operand's last dim "
            f"(dim {len(a) - 1}) has size {k_a} but the second's {where_b} has size {k_b}; they must be "
            f"equal. Fix: transpose an operand (e.g. b.mT) or reshape so the inner dims match")
    if len(a) > 2 or len(b) > 2:
        batch_a, batch_b = a[:-2], b[:-2]
        try:
            broadcast_shapes(tuple(batch_a), tuple(batch_b))
        except RuntimeError:
            raise RuntimeError(f"matmul: the batch dims {tuple(batch_a)} and {tuple(batch_b)} of shapes "
                               f"{tuple(a)} and {tuple(b)} cannot be broadcast together; each batch dim "
                               f"must be equal or 1 in one of them") from None
    _same_dtype("matmul", input, other)
    if input._data.dtype.kind == "c":
        return _holomorphic(MatMul)().apply(input, other)
    return MatMul().apply(input, other)


def _holomorphic(cls):
    """The complex version of a bilinear op: its backward conjugates the other operand (complex_ops)."""
    from .complex_ops import holomorphic
    return holomorphic(cls)


def _conj(x):
    from .complex_ops import conj
    return conj(x)


def _rmatmul(self, other):
    return matmul(_as_tensor(other, self, "matmul"), self)


def mm(input, mat2):
    """Product of two matrices (2-d only, no broadcasting)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected two 2-D tensors (matrices), got shapes {tuple(input.shape)} and "
                           f"{tuple(mat2.shape)}; use matmul for batched or 1-d operands")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product of (b, n, k) and (b, k, m) tensors (no broadcasting)."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected two 3-D tensors (batches of matrices), got shapes "
                           f"{tuple(input.shape)} and {tuple(mat2.shape)}; use matmul to broadcast")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: shapes {tuple(input.shape)} and {tuple(mat2.shape)} "
                           f"(dim 0: {input.shape[0]} vs {mat2.shape[0]}); bmm does not broadcast, use matmul")
    return matmul(input, mat2)


def mv(input, vec):
    """Matrix (n, m) times vector (m,)."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, got shapes {tuple(input.shape)} "
                           f"and {tuple(vec.shape)}")
    return matmul(input, vec)


def dot(input, other):
    """Inner product of two 1-d tensors of the same size."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors "
                           f"(shapes {tuple(input.shape)} and {tuple(other.shape)}); use matmul or "
                           f"(a * b).sum(dim) for higher dims")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensors of the same size, got "
                           f"{input.shape[0]} and {other.shape[0]}")
    return matmul(input, other)


def vdot(input, other):
    """dot with the first operand conjugated (the same as dot for real tensors)."""
    return dot(_conj(input), other)


def inner(input, other):
    """Sum over the last dims of both (a product for 0-d operands)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner: the last dims must match, got shapes {tuple(input.shape)} and "
                           f"{tuple(other.shape)}")
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def vecdot(x1, x2, dim=-1, axis=None):
    """Dot products along ``dim`` of two broadcastable tensors (array API ``vecdot``)."""
    dim = dim if axis is None else axis
    shape = broadcast_shapes(tuple(x1.shape), tuple(x2.shape), op="vecdot")
    d = normalize_dim(dim, len(shape), "vecdot")
    return (_conj(x1) * x2).sum(dim=d)


def outer(input, vec2):
    """Outer product of two 1-d tensors: out[i, j] = input[i] * vec2[j]."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expected two 1-D tensors, got shapes {tuple(input.shape)} and "
                           f"{tuple(vec2.shape)}")
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


ger = outer


# -- einsum ----------------------------------------------------------------------------------------

_LETTERS = string.ascii_uppercase + string.ascii_lowercase


class Einsum(Node):
    __slots__ = ("inputs_subs", "output_subs", "sizes")

    def __init__(self, inputs_subs, output_subs, sizes):
        self.inputs_subs, self.output_subs, self.sizes = inputs_subs, output_subs, sizes

    def forward(self, *arrays):
        eq = ",".join(self.inputs_subs) + "->" + self.output_subs
        # Size-1 dims that broadcast against a longer one are expanded first (a view): not every
        # backend's einsum broadcasts labelled dims itself.
        arrays = [a if all(n == self.sizes[c] for c, n in zip(subs, a.shape)) else
                  self.xp.broadcast_to(a, tuple(self.sizes[c] for c in subs))
                  for a, subs in zip(arrays, self.inputs_subs)]
        # optimize=True lets numpy use BLAS (tensordot) and a good contraction order.
        return self.xp.einsum(eq, *arrays, optimize=len(arrays) > 1)

    def backward(self, grad):
        Tensor = _node.Tensor
        xp = self.xp
        used = set("".join(self.inputs_subs) + self.output_subs)
        fresh = iter(c for c in _LETTERS if c not in used)
        grads = []
        for i, subs in enumerate(self.inputs_subs):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            operand_subs = [self.output_subs]
            operands = [grad]
            for j, other in enumerate(self.inputs_subs):
                if j != i:
                    operand_subs.append(other)
                    operands.append(self.input(j))
            shape = self.inputs[i].shape
            target = []
            for pos, letter in enumerate(subs):
                if shape[pos] == 1 and self.sizes[letter] != 1:
                    # This operand broadcast along `letter`: sum over it, keeping a size-1 dim.
                    new = next(fresh)
                    operand_subs.append(new)
                    operands.append(Tensor._wrap(xp.ones((1,), dtype=grad._data.dtype), self.device))
                    target.append(new)
                elif letter in target:
                    # A repeated letter reads a diagonal: its gradient sits on the diagonal (times eye).
                    new = next(fresh)
                    operand_subs.append(letter + new)
                    operands.append(Tensor._wrap(xp.eye(self.sizes[letter], dtype=grad._data.dtype),
                                                 self.device))
                    target.append(new)
                else:
                    target.append(letter)
            present = set("".join(operand_subs))
            for letter in target:
                if letter not in present:
                    # Summed only inside this operand: the gradient is constant along it.
                    operand_subs.append(letter)
                    operands.append(Tensor._wrap(xp.ones((self.sizes[letter],), dtype=grad._data.dtype),
                                                 self.device))
                    present.add(letter)
            eq = ",".join(operand_subs) + "->" + "".join(target)
            grads.append(einsum(eq, *operands))
        return tuple(grads)


def _parse_einsum(equation, shapes):
    """(subscripts per operand, output subscripts, size per letter), with '...' replaced by letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    in_subs = lhs.split(",")
    if len(in_subs) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(in_subs)} operand(s) but "
                         f"{len(shapes)} were given; give one subscript string per operand")
    for part in in_subs + ([rhs] if arrow else []):
        if any(c not in _LETTERS for c in part.replace("...", "")) or part.count("...") > 1:
            raise ValueError(f"einsum: invalid subscripts {part!r} in {equation!r}: use letters a-z/A-Z "
                             f"and at most one '...' per operand")
    used = set(eq)
    ell_ndims = []
    for subs, shape in zip(in_subs, shapes):
        letters = len(subs.replace("...", ""))
        ell = len(shape) - letters if "..." in subs else 0
        if ell < 0 or ("..." not in subs and letters != len(shape)):
            raise ValueError(f"einsum: subscripts {subs!r} name {letters} dims but the operand has shape "
                             f"{tuple(shape)} ({len(shape)} dims); give one letter per dim (or use '...')")
        ell_ndims.append(ell)
    n_ell = max(ell_ndims, default=0)
    free = [c for c in _LETTERS if c not in used]
    ell_letters = "".join(free[:n_ell])
    subs_out = []
    for subs, ell in zip(in_subs, ell_ndims):
        subs_out.append(subs.replace("...", ell_letters[n_ell - ell:]))
    sizes = {}
    for k, (subs, shape) in enumerate(zip(subs_out, shapes)):
        for letter, n in zip(subs, shape):
            have = sizes.get(letter)
            if have is not None and have != n and have != 1 and n != 1:
                raise RuntimeError(f"einsum: subscript {letter!r} has size {n} for operand {k} (shape "
                                   f"{tuple(shape)}) but size {have} elsewhere in {equation!r}; the sizes of "
                                   f"one letter must agree (or be 1)")
            sizes[letter] = n if have in (None, 1) else have
    if arrow:
        out = rhs.replace("...", ell_letters)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {rhs!r} repeat a letter; each output letter once")
        for letter in out:
            if letter not in sizes:
                raise ValueError(f"einsum: output subscript {letter!r} does not appear in any input of "
                                 f"{equation!r}")
    else:
        counts = {}
        for subs in in_subs:
            for letter in subs.replace("...", ""):
                counts[letter] = counts.get(letter, 0) + 1
        out = ell_letters + "".join(sorted(c for c, n in counts.items() if n == 1))
    return subs_out, out, sizes


def einsum(equation, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; '...' broadcasts, repeated letters sum."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: give at least one operand")
    subs, out, sizes = _parse_einsum(equation, [x.shape for x in operands])
    _same_dtype("einsum", *operands)
    if operands[0]._data.dtype.kind == "c":
        return _holomorphic(Einsum)(subs, out, sizes).apply(*operands)
    return Einsum(subs, out, sizes).apply(*operands)


def tensordot(a, b, dims=2, axes=None):
    """Contract ``dims`` of a with dims of b: an int (a's last n with b's first n) or two lists."""
    dims = dims if axes is None else axes   # the array API calls it axes
    if isinstance(dims, int) or (hasattr(dims, "__index__") and not isinstance(dims, (list, tuple))):
        n = operator.index(dims)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot: dims={n} must be between 0 and the smaller rank "
                               f"({min(a.ndim, b.ndim)}) of shapes {tuple(a.shape)} and {tuple(b.shape)}")
        dims_a, dims_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError(f"tensordot: both dim lists must have the same length, got {dims_a} and {dims_b}")
    dims_a = [normalize_dim(d, a.ndim, "tensordot") for d in dims_a]
    dims_b = [normalize_dim(d, b.ndim, "tensordot") for d in dims_b]
    letters = iter(_LETTERS)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has size "
                               f"{a.shape[da]} in dim {da} (shape {tuple(a.shape)}) and second has size "
                               f"{b.shape[db]} in dim {db} (shape {tuple(b.shape)})")
        sb[db] = sa[da]
    out = [c for i, c in enumerate(sa) if i not in dims_a] + [c for i, c in enumerate(sb) if i not in dims_b]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out), a, b)


METHODS = {
    "matmul": matmul, "__matmul__": matmul, "__rmatmul__": _rmatmul, "mm": mm, "bmm": bmm, "mv": mv,
    "dot": dot, "vdot": vdot, "inner": inner, "outer": outer, "ger": ger,
}

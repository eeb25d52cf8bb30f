"""What every linalg function shares: argument checks, torch-style errors, result tuples, packed nodes."""
from collections import namedtuple

from ..autograd import node as _node
from ..autograd.node import Node
from ..backend import host, np  # noqa: F401  (host: linalg modules import it from here)

__all__ = ["LinAlgError"]


class LinAlgError(RuntimeError):
    """A matrix had no factorization/inverse (singular, not positive-definite): ``torch.linalg.LinAlgError``."""


def result_type(name, fields):
    """A named tuple like ``torch.return_types.<name>``: fields by name, and tuple unpacking."""
    cls = namedtuple(name, fields)
    cls.__module__ = "ndgrad.return_types"
    return cls


def check_float(op, *tensors, complex_ok=False):
    """float32/float64 (and complex64/complex128 where ``complex_ok``), with PyTorch's messages for integer
    and half inputs; functions that have no complex path yet say so instead of failing inside LAPACK."""
    for t in tensors:
        name = t.dtype.name
        if t.dtype.is_complex:
            if complex_ok:
                continue
            raise RuntimeError(f"{op}: complex inputs are not supported by ndgrad yet (got {name}, shape "
                               f"{tuple(t.shape)}); complex works in linalg.inv, det, slogdet, solve, "
                               f"solve_triangular, cholesky, qr, eig, eigvals, eigh, eigvalsh, svd, svdvals, "
                               f"matrix_norm, cond, pinv, matrix_rank and lstsq")
        if name in ("float16", "bfloat16"):
            raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {_torch_name(t.dtype)}; "
                               f"convert with .float() or .double() first")
        if not t.dtype.is_floating_point:
            raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                               f"{_torch_name(t.dtype)} (shape {tuple(t.shape)}); convert with .double()")
    if len(tensors) > 1 and any(t.dtype is not tensors[0].dtype for t in tensors):
        got = " and ".join(str(t.dtype) for t in tensors)
        raise RuntimeError(f"{op}: Expected all inputs to have the same dtype, got {got}; convert one with "
                           f".to(other.dtype)")


def _torch_name(dtype):
    return {"float16": "Half", "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
            "int8": "Char", "uint8": "Byte", "bool": "Bool", "float32": "Float", "float64": "Double",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(dtype.name, dtype.name)


def check_float_pair(op, first, second, first_name, second_name):
    """Each a float32/float64/complex64/complex128 tensor, and both the same dtype, said in PyTorch's words
    (``Expected LU and B to have the same dtype, but found LU of type ComplexDouble and B of type Double``)."""
    check_float(op, first, complex_ok=True)
    check_float(op, second, complex_ok=True)
    if first.dtype is not second.dtype:
        raise RuntimeError(f"{op}: Expected {first_name} and {second_name} to have the same dtype, but found "
                           f"{first_name} of type {_torch_name(first.dtype)} and {second_name} of type "
                           f"{_torch_name(second.dtype)} instead; convert one with .to({first_name}.dtype)")


def check_matrix(op, A, name="A"):
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions. Got shape "
                           f"{tuple(A.shape)}; unsqueeze a vector into a matrix first")


def check_square(op, A, name="A"):
    check_matrix(op, A, name)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices (shape {tuple(A.shape)})")


def batch_prefix(batch_shape, flat_index):
    """'(Batch element k): ' as torch writes it, or '' for a single matrix."""
    return f"(Batch element {flat_index}): " if batch_shape else ""


def scipy_linalg(xp):
    """scipy.linalg on the CPU, cupyx.scipy.linalg on the GPU (imported on first use)."""
    if xp is np:
        try:
            import scipy.linalg
        except ImportError:
            raise ImportError("ndgrad.linalg needs SciPy for this function (lu, solve_triangular, matrix_exp): "
                              "pip install scipy") from None
        return scipy.linalg
    import cupyx.scipy.linalg
    return cupyx.scipy.linalg


def scipy_batches():
    """SciPy 1.15 and later take batches of matrices in lu_factor, solve_triangular, ..."""
    import scipy
    major, minor = (int(part) for part in scipy.__version__.split(".")[:2])
    return (major, minor) >= (1, 15)


def wrap(array, device):
    """A non-differentiable tensor around a raw array (indices, ranks, infos)."""
    return _node.Tensor._wrap(array, device)


def eye_like(n, like, m=None):
    """An (n, m) identity matrix with ``like``'s dtype and device (not differentiable)."""
    return wrap(like.xp.eye(n, m, dtype=like._data.dtype), like._device)


class PackedNode(Node):
    """One graph node for a decomposition with several differentiable outputs (Q and R, U S Vh, ...).

    The engine gives a node one output, so ``forward`` packs the parts, flattened, along one last
    dimension; ``unpack`` slices them back out as views. Unused parts get zero gradients from the
    slicing, and ``backward`` receives every part's gradient (``rule``) together with the parts
    themselves as tensors attached to this node, so the rule is differentiable again.
    """
    __slots__ = ("batch", "part_shapes")
    needs_output = True
    core_ndims = ()   # per part: how many trailing dims are the matrix/vector (the rest is the batch)

    def forward(self, *arrays):
        parts = self.compute(*arrays)
        xp = self.xp
        self.batch = tuple(parts[0].shape[:parts[0].ndim - self.core_ndims[0]])
        self.part_shapes = [tuple(p.shape[p.ndim - c:]) for p, c in zip(parts, self.core_ndims)]
        flat = [p.reshape(self.batch + (int(np.prod(s, dtype=np.int64)),)) for p, s in zip(parts, self.part_shapes)]
        return xp.concatenate(flat, axis=-1)

    def unpack(self, packed):
        out, start = [], 0
        for shape in self.part_shapes:
            size = int(np.prod(shape, dtype=np.int64))
            out.append(packed[..., start:start + size].reshape(self.batch + tuple(shape)))
            start += size
        return out

    def backward(self, grad):
        return self.rule(self.unpack(grad), self.unpack(self.output()))

    def compute(self, *arrays):
        raise NotImplementedError

    def rule(self, grads, outputs):
        raise NotImplementedError


def with_out(fn, op=None):
    """``fn`` plus PyTorch's ``out=``: the result (or each field of a result tuple) is written into it."""
    import functools
    import inspect
    if "out" not in inspect.signature(fn).parameters:
        return fn
    op = op or fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        from ..creation import _write_out
        if isinstance(result, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(result):
                raise TypeError(f"{op}(): out must be a tuple of {len(result)} tensors, got {type(out).__name__}")
            written = [_write_out(r, o, op) for r, o in zip(result, out)]
            return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
        return _write_out(result, out, op)
    return wrapper

"""Sparse @ dense products on scipy.sparse (CPU) / cupyx.scipy.sparse (GPU), with gradients.

``SpMM`` is one graph node: inputs are the sparse tensor's values and the dense matrix; the indices
are constants. Its backward uses Tensor ops (another SpMM for the dense operand, a gather for the
values), so second derivatives work too.
"""
from ..autograd.node import Node
from ..tensor import Tensor
from .coo import SparseCOOTensor


def _sparse_module(xp):
    try:
        if xp.__name__ == "numpy":
            import scipy.sparse as sp
        else:
            import cupyx.scipy.sparse as sp
    except ImportError as exc:
        raise ImportError("ndgrad's sparse matrix products need SciPy: pip install scipy") from exc
    return sp


class SpMM(Node):
    """(rows x cols sparse matrix given by ``rows``, ``cols`` and the values input) @ dense."""
    __slots__ = ("rows", "cols", "shape")

    def __init__(self, rows, cols, shape):
        self.rows, self.cols, self.shape = rows, cols, shape

    def forward(self, values, dense):
        xp = self.xp
        rows, cols = self.rows, self.cols
        if xp.__name__ != "numpy":  # cuSPARSE takes 32-bit indices
            rows, cols = rows.astype(xp.int32), cols.astype(xp.int32)
        matrix = _sparse_module(xp).coo_matrix((values, (rows, cols)), shape=self.shape).tocsr()
        return xp.asarray(matrix @ xp.ascontiguousarray(dense)).astype(dense.dtype, copy=False)

    def backward(self, grad):
        values, dense = self.input(0), self.input(1)
        g_values = g_dense = None
        if self.needs_input_grad[0]:
            rows = Tensor._wrap(self.rows, grad._device)
            cols = Tensor._wrap(self.cols, grad._device)
            g_values = (grad.index_select(0, rows) * dense.index_select(0, cols)).sum(1)
        if self.needs_input_grad[1]:  # A^T @ grad
            g_dense = SpMM(self.cols, self.rows, (self.shape[1], self.shape[0])).apply(values, grad)
        return g_values, g_dense


def mm(mat1, mat2):
    """sparse (n x m, COO) @ dense (m x p) -> dense (n x p); also dense @ sparse -> dense."""
    if not isinstance(mat1, SparseCOOTensor):
        if isinstance(mat2, SparseCOOTensor):  # dense @ sparse = (sparse^T @ dense^T)^T
            return mm(mat2.t(), mat1.t()).t()
        raise TypeError("ndgrad.sparse.mm: expected a sparse COO tensor as one operand")
    if isinstance(mat2, SparseCOOTensor):
        mat2 = mat2.to_dense()
    if mat1.sparse_dim() != 2 or mat1.dense_dim() != 0:
        raise RuntimeError(f"sparse mm: expected a 2-D sparse matrix, got sparse shape {tuple(mat1.shape)} "
                           f"(sparse_dim {mat1.sparse_dim()}, dense_dim {mat1.dense_dim()})")
    if mat2.ndim != 2:
        raise RuntimeError(f"sparse mm: expected a 2-D dense matrix as the second operand, got shape "
                           f"{tuple(mat2.shape)}")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"sparse mm: mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x{mat1.shape[1]} "
                           f"and {mat2.shape[0]}x{mat2.shape[1]})")
    values = mat1._values()
    if values.dtype != mat2.dtype:
        raise RuntimeError(f"sparse mm: expected mat1 and mat2 to have the same dtype, but got {values.dtype} "
                           f"and {mat2.dtype}")
    if values.device != mat2.device:
        raise RuntimeError(f"sparse mm: mat1 is on {values.device} but mat2 is on {mat2.device}; move one first")
    idx = mat1._indices()._data
    return SpMM(idx[0], idx[1], (int(mat1.shape[0]), int(mat1.shape[1]))).apply(values, mat2)


def matmul(input, other):
    """``@`` with a sparse operand: matrix @ matrix, or matrix @ vector."""
    if isinstance(input, SparseCOOTensor) and not isinstance(other, SparseCOOTensor) and other.ndim == 1:
        return mm(input, other.unsqueeze(1)).squeeze(1)
    if isinstance(other, SparseCOOTensor) and not isinstance(input, SparseCOOTensor) and input.ndim == 1:
        return mm(input.unsqueeze(0), other).squeeze(0)
    return mm(input, other)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """beta * mat + alpha * (sparse mat1 @ dense mat2)."""
    product = mm(mat1, mat2)
    if alpha != 1:
        product = product * alpha
    if isinstance(mat, SparseCOOTensor):
        mat = mat.to_dense()
    return product if beta == 0 else product + (mat * beta if beta != 1 else mat)


def sum(input, dim=None, dtype=None):
    """Sum of a sparse tensor: all of it (a 0-d dense tensor) or over ``dim`` (dense result)."""
    if not isinstance(input, SparseCOOTensor):
        return input.sum(dim, dtype=dtype)
    if dim is None:
        return input._values().sum(dtype=dtype)
    return input.to_dense().sum(dim, dtype=dtype)

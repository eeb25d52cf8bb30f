"""Sparse COO tensors (``ndgrad.sparse``), the basics graph networks use.

``ndgrad.sparse_coo_tensor(indices, values, size)`` or ``dense.to_sparse()`` build one;
``.to_dense()``, ``.coalesce()``, ``.indices()``, ``.values()``, ``._nnz()`` inspect it;
``ndgrad.sparse.mm`` / ``ndgrad.spmm`` / ``ndgrad.mm`` / ``ndgrad.matmul`` / ``@`` multiply it with a
dense matrix on scipy.sparse (CPU) or cupyx.scipy.sparse (GPU), with gradients for the dense operand
and for the sparse values.
"""
from .coo import SparseCOOTensor, sparse_coo_tensor, to_sparse
from .ops import addmm, matmul, mm, sum

__all__ = ["SparseCOOTensor", "sparse_coo_tensor", "to_sparse", "mm", "matmul", "addmm", "sum"]


def _install_dispatch():
    """Let ``ndgrad.mm`` / ``ndgrad.matmul`` take a sparse operand once sparse tensors exist.

    Dense code paths stay free of sparse checks until this package is imported (building a
    sparse tensor imports it); from then on these two functions first look for a sparse operand.
    """
    import ndgrad
    for name, sparse_fn in (("mm", mm), ("matmul", matmul)):
        dense_fn = getattr(ndgrad, name)
        if getattr(dense_fn, "_sparse_aware", False):
            continue

        def dispatch(input, other, *args, _dense=dense_fn, _sparse=sparse_fn, **kwargs):
            if isinstance(input, SparseCOOTensor) or isinstance(other, SparseCOOTensor):
                return _sparse(input, other)
            return _dense(input, other, *args, **kwargs)
        dispatch.__name__ = dispatch.__qualname__ = name
        dispatch.__doc__ = dense_fn.__doc__
        dispatch._sparse_aware = True
        setattr(ndgrad, name, dispatch)


_install_dispatch()

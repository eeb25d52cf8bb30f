"""``Tensor.new_*``: new tensors that take their dtype and device from an existing one.

Also the top-level names of the sparse package (``ndgrad.sparse_coo_tensor``, ``ndgrad.spmm``),
which load ``ndgrad.sparse`` on first use.
"""
from .. import creation
from ..tensor import Tensor


def _inherit(self, dtype, device):
    return (self.dtype if dtype is None else dtype), (self.device if device is None else device)


def _new_factory(factory, name):
    """``self.new_<kind>(*size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False)``."""
    def new(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, **kwargs):
        dtype, device = _inherit(self, dtype, device)
        if "size" in kwargs:
            size = (kwargs.pop("size"),)
        if kwargs:
            raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return factory(*size, dtype=dtype, device=device, requires_grad=requires_grad, layout=layout)
    new.__name__ = new.__qualname__ = name
    new.__doc__ = f"Like ndgrad.{name[4:]}, with this tensor's dtype and device unless given."
    return new


new_zeros = _new_factory(creation.zeros, "new_zeros")
new_ones = _new_factory(creation.ones, "new_ones")
new_empty = _new_factory(creation.empty, "new_empty")


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
             pin_memory=False):
    dtype, device = _inherit(self, dtype, device)
    return creation.full(size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad, layout=layout)


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, layout=None,
                      pin_memory=False):
    dtype, device = _inherit(self, dtype, device)
    return creation.empty_strided(size, stride, dtype=dtype, device=device, requires_grad=requires_grad,
                                  layout=layout)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """A copy of ``data`` (detached, when it is a tensor) with this tensor's dtype and device unless given."""
    dtype, device = _inherit(self, dtype, device)
    if isinstance(data, Tensor):
        data = data.detach()
    return creation.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


# -- sparse entry points (the package loads on first use) -------------------------------------------------
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None, pin_memory=False):
    """A sparse COO tensor from ``indices`` (ndim x nnz) and ``values`` (nnz, ...); see ndgrad.sparse."""
    from .. import sparse
    return sparse.sparse_coo_tensor(indices, values, size, dtype=dtype, device=device, requires_grad=requires_grad,
                                    check_invariants=check_invariants, is_coalesced=is_coalesced)


def spmm(input, mat2):
    """Sparse (COO) matrix times dense matrix."""
    from .. import sparse
    return sparse.mm(input, mat2)


def _to_sparse(self, *args, **kwargs):
    from .. import sparse
    return sparse.to_sparse(self, *args, **kwargs)


def _to_dense(self, dtype=None, *, masked_grad=None):
    """A dense tensor is its own dense form (a sparse tensor overrides this)."""
    return self if dtype is None else self.to(dtype)


__all__ = ["sparse_coo_tensor", "spmm"]
METHODS = {
    "new_zeros": new_zeros, "new_ones": new_ones, "new_empty": new_empty, "new_full": new_full,
    "new_empty_strided": new_empty_strided, "new_tensor": new_tensor, "to_sparse": _to_sparse,
    "to_dense": _to_dense,
}

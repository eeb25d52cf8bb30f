"""The last top-level and Tensor names of torch 2.13 that ndgrad had lacked, against torch."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_op

warnings.filterwarnings("ignore", message=".*is deprecated and it is just left for JIT")


@pytest.mark.parametrize("fn", [
    lambda m, x: m.frobenius_norm(x, dim=(-2, -1)),
    lambda m, x: m.frobenius_norm(x, dim=(0,), keepdim=True),
    lambda m, x: m.nuclear_norm(x),
    lambda m, x: m.nuclear_norm(x, keepdim=True),
    lambda m, x: m.nuclear_norm(x, dim=(0, 1)),
    lambda m, x: m.adjoint(x),
])
def test_deprecated_norms_and_adjoint(fn):
    check_op([(3, 4, 4)], lambda x: fn(torch, x), lambda x: fn(ndgrad, x))


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_incomplete_gamma_aliases(name):
    check_op([(3, 4), (3, 4)], lambda a, x: getattr(torch, name)(a, x), lambda a, x: getattr(ndgrad, name)(a, x),
             low=0.5, high=3.0, grad=False)
    a, x = np.random.rand(5) + 0.5, np.random.rand(5) + 0.1
    ours, theirs = ndgrad.tensor(a), torch.tensor(a)
    getattr(ours, name + "_")(ndgrad.tensor(x))
    getattr(theirs, name + "_")(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)


def test_complex_copies_and_flags():
    real = np.random.randn(3, 2)
    z, tz = ndgrad.view_as_complex(ndgrad.tensor(real)), torch.view_as_complex(torch.tensor(real))
    copy = ndgrad.view_as_real_copy(z)
    np.testing.assert_array_equal(copy.numpy(), torch.view_as_real_copy(tz).numpy())
    copy[0, 0] = 100.0
    assert z.real[0].item() != 100.0                       # a copy, not a view
    np.testing.assert_array_equal(ndgrad.view_as_complex_copy(ndgrad.tensor(real)).numpy(),
                                  torch.view_as_complex_copy(torch.tensor(real)).numpy())
    c = z.clone()
    c.conj_physical_()
    np.testing.assert_array_equal(c.numpy(), tz.conj_physical().numpy())
    assert ndgrad.is_neg(z) is False and torch.is_neg(tz) is False
    assert ndgrad.ones(2).cfloat().dtype == ndgrad.complex64 and ndgrad.ones(2).cdouble().dtype == ndgrad.complex128
    assert ndgrad.is_distributed(z) is False and torch.is_distributed(tz) is False


def test_to_dlpack_round_trip_shares_memory():
    x = ndgrad.arange(4.0)
    y = ndgrad.from_dlpack(ndgrad.to_dlpack(x))
    assert y._data.ctypes.data == x._data.ctypes.data      # the same memory, no copy
    np.testing.assert_array_equal(y.numpy(), x.numpy())

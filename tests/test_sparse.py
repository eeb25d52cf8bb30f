"""Sparse COO tensors (ndgrad/sparse) against torch's: construction, coalesce, to_dense, products, gradients."""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, random_array, rng


def random_coo(shape, nnz, duplicates=True, dense_shape=()):
    """Random indices (with repeats when ``duplicates``) and values for a COO tensor."""
    idx = np.stack([rng.integers(0, s, size=nnz) for s in shape]).astype(np.int64)
    if not duplicates:
        flat = np.unique(np.ravel_multi_index(tuple(idx), shape))
        idx = np.stack(np.unravel_index(flat, shape)).astype(np.int64)
    values = random_array((idx.shape[1],) + dense_shape)
    return idx, values


def both(idx, values, size, requires_grad=False):
    sized = () if size is None else (size,)
    t = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(values), *sized, requires_grad=requires_grad)
    n = ndgrad.sparse_coo_tensor(ndgrad.tensor(idx), ndgrad.tensor(values), size, requires_grad=requires_grad)
    return n, t


def close(n, t, rtol=1e-10):
    assert tuple(n.shape) == tuple(t.shape)
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("shape,nnz,dense_shape", [((4, 5), 8, ()), ((3, 4, 2), 6, ()), ((5,), 4, ()),
                                                   ((4, 3), 5, (2,)), ((3, 3), 0, ()), ((3, 3), 1, ())])
def test_construction_coalesce_to_dense(shape, nnz, dense_shape):
    idx, values = random_coo(shape, nnz, dense_shape=dense_shape)
    n, t = both(idx, values, shape + dense_shape)
    assert n.is_sparse and isinstance(n, ndgrad.Tensor) and n.layout is ndgrad.sparse_coo
    assert tuple(n.shape) == tuple(t.shape) and n.dtype == ndgrad.float64 and n.ndim == t.ndim
    assert n._nnz() == t._nnz() and n.sparse_dim() == t.sparse_dim() and n.dense_dim() == t.dense_dim()
    assert n.is_coalesced() == t.is_coalesced()
    close(n.to_dense(), t.to_dense())
    nc, tc = n.coalesce(), t.coalesce()
    assert nc.is_coalesced() and nc._nnz() == tc._nnz()
    np.testing.assert_array_equal(nc.indices().numpy(), tc.indices().numpy())
    close(nc.values(), tc.values())
    close(nc.to_dense(), tc.to_dense())


def test_size_inferred_and_checked():
    idx = np.array([[0, 2, 1], [3, 0, 1]])
    n, t = both(idx, np.ones(3), None)
    assert tuple(n.shape) == tuple(t.shape) == (3, 4)
    check_error(lambda: ndgrad.sparse_coo_tensor(idx, [1.0, 2.0, 3.0], (2, 4)), ["inconsistent", "dim 0", "2"],
                torch_fn=lambda: torch.sparse_coo_tensor(torch.tensor(idx), torch.ones(3), (2, 4),
                                                         check_invariants=True))
    check_error(lambda: ndgrad.sparse_coo_tensor(idx, [1.0, 2.0], (3, 4)), ["same number", "3", "2"],
                torch_fn=lambda: torch.sparse_coo_tensor(torch.tensor(idx), torch.ones(2), (3, 4)))
    check_error(lambda: ndgrad.sparse_coo_tensor(idx, [1.0, 2.0, 3.0], (3, 4, 5)), ["sparse_dim", "dense_dim"],
                torch_fn=lambda: torch.sparse_coo_tensor(torch.tensor(idx), torch.ones(3), (3, 4, 5)))
    check_error(lambda: ndgrad.sparse_coo_tensor(idx, [1.0, 2.0, 3.0]).indices(), "coalesce",
                torch_fn=lambda: torch.sparse_coo_tensor(torch.tensor(idx), torch.ones(3)).indices())


@pytest.mark.parametrize("shape,sparse_dim", [((4, 5), None), ((3, 4, 2), None), ((3, 4, 2), 1), ((6,), None),
                                              ((4, 3), 1)])
def test_to_sparse_and_back(shape, sparse_dim):
    data = random_array(shape)
    data[random_array(shape, "bool")] = 0.0
    t = torch.tensor(data).to_sparse(sparse_dim) if sparse_dim else torch.tensor(data).to_sparse()
    n = ndgrad.tensor(data).to_sparse(sparse_dim) if sparse_dim else ndgrad.tensor(data).to_sparse()
    assert n.is_coalesced() and n._nnz() == t._nnz()
    np.testing.assert_array_equal(n.indices().numpy(), t.indices().numpy())
    close(n.values(), t.values())
    close(n.to_dense(), t.to_dense())
    np.testing.assert_array_equal(ndgrad.tensor(data).to_dense().numpy(), data)  # a dense tensor is its own dense form


def test_gradient_through_to_sparse_and_to_dense():
    data = random_array((4, 3))
    data[0, 1] = data[2, 2] = 0.0
    w = random_array((4, 3))
    x_t = torch.tensor(data, requires_grad=True)
    x_n = ndgrad.tensor(data, requires_grad=True)
    (x_t.to_sparse().to_dense() * torch.tensor(w)).sum().backward()
    (x_n.to_sparse().to_dense() * ndgrad.tensor(w)).sum().backward()
    close(x_n.grad, x_t.grad)


@pytest.mark.parametrize("fn", ["sparse.mm", "spmm", "mm", "matmul", "@", "method"])
@pytest.mark.parametrize("duplicates", [False, True])
def test_sparse_dense_product_and_gradients(fn, duplicates):
    idx, values = random_coo((5, 4), 9, duplicates=duplicates)
    dense = random_array((4, 3))
    weights = random_array((5, 3))
    results = {}
    for lib in (torch, ndgrad):
        v = lib.tensor(values, requires_grad=True)
        d = lib.tensor(dense, requires_grad=True)
        s = lib.sparse_coo_tensor(lib.tensor(idx), v, (5, 4))
        product = {"sparse.mm": lambda: lib.sparse.mm(s, d), "spmm": lambda: lib.spmm(s, d),
                   "mm": lambda: lib.mm(s, d), "matmul": lambda: lib.matmul(s, d), "@": lambda: s @ d,
                   "method": lambda: s.mm(d)}[fn]()
        (product * lib.tensor(weights)).sum().backward()
        results[lib] = (product, v.grad, d.grad)
    for n, t in zip(results[ndgrad], results[torch]):
        close(n, t)


def test_leaf_sparse_gradient_is_sparse():
    idx, values = random_coo((4, 4), 6, duplicates=False)
    dense = random_array((4, 2))
    n, t = both(idx, values, (4, 4), requires_grad=True)
    torch.sparse.mm(t, torch.tensor(dense)).sum().backward()
    ndgrad.sparse.mm(n, ndgrad.tensor(dense)).sum().backward()
    assert n.grad.is_sparse and t.grad.is_sparse
    close(n.grad.to_dense(), t.grad.to_dense())


def test_matrix_vector_dense_sparse_and_double_backward():
    idx, values = random_coo((4, 5), 7)
    vec = random_array((5,))
    n, t = both(idx, values, (4, 5))
    close(ndgrad.matmul(n, ndgrad.tensor(vec)), torch.matmul(t, torch.tensor(vec)))
    left = random_array((3, 4))
    close(ndgrad.mm(ndgrad.tensor(left), n), torch.mm(torch.tensor(left), t))
    # second derivatives: d/dv of sum((S(v) @ d)**2) differentiated again
    v = ndgrad.tensor(values, requires_grad=True)
    d = ndgrad.tensor(random_array((5, 2)), requires_grad=True)
    assert ndgrad.autograd.gradcheck(
        lambda v_, d_: ndgrad.sparse.mm(ndgrad.sparse_coo_tensor(idx, v_, (4, 5)), d_), (v, d))
    (g,) = ndgrad.autograd.grad((ndgrad.sparse.mm(ndgrad.sparse_coo_tensor(idx, v, (4, 5)), d) ** 2).sum(), [d],
                                create_graph=True)
    v_t = torch.tensor(values, requires_grad=True)
    d_t = torch.tensor(d.detach().numpy(), requires_grad=True)
    (g_t,) = torch.autograd.grad((torch.sparse.mm(torch.sparse_coo_tensor(torch.tensor(idx), v_t, (4, 5)), d_t)
                                  ** 2).sum(), [d_t], create_graph=True)
    close(g, g_t)
    g.sum().backward()
    g_t.sum().backward()
    close(v.grad, v_t.grad)


def test_graph_convolution_step():
    """A GCN layer: normalised adjacency (sparse) @ (features @ weight), trained one step like torch."""
    edges = np.array([[0, 1, 1, 2, 2, 3, 0, 3], [1, 0, 2, 1, 3, 2, 0, 3]])
    norm = random_array((8,), "float64", 0.2, 1.0)
    feats, weight = random_array((4, 5)), random_array((5, 2))
    grads = {}
    for lib in (torch, ndgrad):
        adj = lib.sparse_coo_tensor(lib.tensor(edges), lib.tensor(norm), (4, 4))
        w = lib.tensor(weight, requires_grad=True)
        out = lib.spmm(adj, lib.tensor(feats) @ w)
        out.relu().sum().backward()
        grads[lib] = (out, w.grad)
    for n, t in zip(grads[ndgrad], grads[torch]):
        close(n, t)


def test_sparse_transpose_scale_add_and_sum():
    idx, values = random_coo((3, 4), 6)
    n, t = both(idx, values, (3, 4))
    close(n.t().to_dense(), t.t().to_dense())
    close((n * 2.5).to_dense(), (t * 2.5).to_dense())
    close((n + n).to_dense(), (t + t).to_dense())
    close(ndgrad.sparse.sum(n), torch.sparse.sum(t))
    close(ndgrad.sparse.sum(n, 1), torch.sparse.sum(t, 1).to_dense())
    d = random_array((4, 2))
    base = random_array((3, 2))
    close(ndgrad.sparse.addmm(ndgrad.tensor(base), n, ndgrad.tensor(d), beta=0.5, alpha=2.0),
          torch.sparse.addmm(torch.tensor(base), t, torch.tensor(d), beta=0.5, alpha=2.0))


def test_sparse_errors():
    idx, values = random_coo((3, 4), 5)
    n, t = both(idx, values, (3, 4))
    check_error(lambda: ndgrad.sparse.mm(n, ndgrad.ones(3, 2, dtype=ndgrad.float64)), ["cannot be multiplied", "3x4"],
                torch_fn=lambda: torch.sparse.mm(t, torch.ones(3, 2, dtype=torch.float64)))
    check_error(lambda: ndgrad.sparse.mm(n, ndgrad.ones(4, 2)), ["same dtype", "float64", "float32"],
                torch_fn=lambda: torch.sparse.mm(t, torch.ones(4, 2)))
    check_error(lambda: ndgrad.exp(n), ["sparse", "to_dense"])
    check_error(lambda: ndgrad.zeros(2, layout=ndgrad.sparse_coo), ["layout", "sparse_coo_tensor"])


def test_device_and_dtype_conversions():
    idx, values = random_coo((3, 3), 4)
    n, _ = both(idx, values, (3, 3))
    f = n.float()
    assert f.is_sparse and f.dtype == ndgrad.float32 and f.to("cpu").device == ndgrad.device("cpu")
    assert n.detach().is_sparse and not n.detach().requires_grad
    assert n.to_sparse() is n


@pytest.mark.cuda
def test_gpu_sparse_matches_cpu():
    idx, values = random_coo((5, 4), 9)
    dense = random_array((4, 3))
    results = {}
    for device in ("cpu", "cuda"):
        v = ndgrad.tensor(values, device=device, requires_grad=True)
        d = ndgrad.tensor(dense, device=device, requires_grad=True)
        s = ndgrad.sparse_coo_tensor(ndgrad.tensor(idx, device=device), v, (5, 4))
        out = ndgrad.spmm(s, d)
        assert out.device.type == device and s.device.type == device
        (out ** 2).sum().backward()
        results[device] = [out, v.grad, d.grad, s.coalesce().values(), s.to_dense(),
                           ndgrad.tensor(random_array((3, 4)), device=device).to_sparse().to_dense()]
    for c, g in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(g.detach().cpu().numpy(), c.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)

"""Complex dtypes against torch: creation, promotion, elementwise math, reductions, matmul, views,
printing, checkpoints, DLPack, casts, errors, and complex autograd (values and .grad of a real loss)."""
import io
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck
from oracle import check_error

rng = np.random.default_rng(10)
TOL = {"complex64": (1e-5, 1e-5), "complex128": (1e-10, 1e-8), "float32": (1e-5, 1e-5),
       "float64": (1e-10, 1e-8)}


def crandom(shape, dtype="complex128", low=-2.0, high=2.0):
    """Random numbers; complex dtypes get independent real and imaginary parts."""
    shape = tuple(shape)
    if dtype.startswith("complex"):
        return np.asarray(rng.uniform(low, high, shape) + 1j * rng.uniform(low, high, shape)).astype(dtype)
    if dtype.startswith("int"):
        return np.asarray(rng.integers(1, 4, shape)).astype(dtype)
    return np.asarray(rng.uniform(low, high, shape)).astype(dtype)


def assert_same(n, t, what="value", loosest=None):
    assert isinstance(n, ndgrad.Tensor), f"{what}: got {type(n).__name__}"
    assert str(n.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], f"{what}: {n.dtype} != torch {t.dtype}"
    assert tuple(n.shape) == tuple(t.shape), f"{what}: shape {tuple(n.shape)} != {tuple(t.shape)}"
    name = str(t.dtype).split(".")[-1]
    atol, rtol = TOL.get(name, (0, 0))
    if loosest is not None and name in TOL:  # as tests/oracle.py: the loosest dtype involved sets the tolerance
        atol, rtol = max(atol, TOL[loosest][0]), max(rtol, TOL[loosest][1])
    want = t.detach().resolve_conj().resolve_neg().numpy()
    np.testing.assert_allclose(n.detach().numpy(), want, atol=atol, rtol=rtol, equal_nan=True, err_msg=what)


def ccheck(fn, shapes, dtypes="complex128", grad=True, nd_fn=None, low=-2.0, high=2.0, contiguous=True):
    """fn on the same random inputs in both libraries: values, then the .grad of a real loss
    (sum of real(out * w) for random complex w) for every input."""
    if nd_fn is None:  # torch.exp -> ndgrad.exp; a lambda takes the library first: lambda L, x: L.real(x)
        name = getattr(fn, "__name__", "")
        if name == "<lambda>":
            fn, nd_fn = (lambda *a, f=fn: f(torch, *a)), (lambda *a, f=fn: f(ndgrad, *a))
        else:
            nd_fn = getattr(ndgrad, name) if getattr(torch, name, None) is fn else fn
    dtypes = [dtypes] * len(shapes) if isinstance(dtypes, str) else dtypes
    arrays = [crandom(s, d, low, high) for s, d in zip(shapes, dtypes)]
    if not contiguous:
        arrays = [np.asfortranarray(a) if a.ndim > 1 else a[::-1] for a in arrays]
    diff = [grad and not d.startswith("int") for d in dtypes]
    t_in = [torch.from_numpy(a.copy()).requires_grad_(g) for a, g in zip(arrays, diff)]
    n_in = [ndgrad.from_numpy(a.copy()).requires_grad_(g) for a, g in zip(arrays, diff)]
    t_out, n_out = fn(*t_in), nd_fn(*n_in)
    loosest = "complex64" if any(d in ("complex64", "float32") for d in dtypes) else None
    assert_same(n_out, t_out, "forward", loosest)
    if not grad or not t_out.requires_grad:
        return n_out, t_out
    w = crandom(t_out.shape, str(t_out.dtype).split(".")[-1])
    t_loss = (t_out * torch.from_numpy(w.copy())).real.sum() if t_out.is_complex() else (
        t_out * torch.from_numpy(w.copy())).sum()
    n_loss = (n_out * ndgrad.from_numpy(w.copy())).real.sum() if n_out.is_complex() else (
        n_out * ndgrad.from_numpy(w.copy())).sum()
    t_loss.backward()
    n_loss.backward()
    for i, (t, n) in enumerate(zip(t_in, n_in)):
        if t.requires_grad:
            assert n.grad is not None, f"input {i}: no grad"
            assert_same(n.grad, t.grad, f"grad of input {i}", loosest)
    return n_out, t_out


# -- dtypes and promotion -------------------------------------------------------------------------------
def test_dtype_objects():
    assert ndgrad.cfloat is ndgrad.complex64 and ndgrad.cdouble is ndgrad.complex128
    for name in ("complex64", "complex128"):
        n, t = getattr(ndgrad, name), getattr(torch, name)
        assert (n.is_complex, n.is_floating_point, n.is_signed, n.itemsize) == \
            (t.is_complex, t.is_floating_point, t.is_signed, t.itemsize)
    assert ndgrad.complex64.to_real() is ndgrad.float32 and ndgrad.float64.to_complex() is ndgrad.complex128
    assert not hasattr(ndgrad, "chalf")  # NumPy has no complex32


DT = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("a", DT)
@pytest.mark.parametrize("b", ["float32", "float64", "complex64", "complex128", "int64"])
def test_promote_types_and_can_cast(a, b):
    na, nb, ta, tb = getattr(ndgrad, a), getattr(ndgrad, b), getattr(torch, a), getattr(torch, b)
    assert str(ndgrad.promote_types(na, nb)).split(".")[-1] == str(torch.promote_types(ta, tb)).split(".")[-1]
    assert ndgrad.can_cast(na, nb) == torch.can_cast(ta, tb)
    assert ndgrad.can_cast(nb, na) == torch.can_cast(tb, ta)


@pytest.mark.parametrize("tensor_dtype", ["bool", "int64", "float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("other", [1j, 2.5, 3, ("complex128", 0), ("complex64", 0), ("float64", 0),
                                   ("complex64", 1), ("complex128", 1)])
def test_result_type_and_weak_scalars(tensor_dtype, other):
    t = torch.ones(2, dtype=getattr(torch, tensor_dtype))
    n = ndgrad.ones(2, dtype=getattr(ndgrad, tensor_dtype))
    if isinstance(other, tuple):
        shape = (2,) * other[1]
        t_other, n_other = torch.ones(shape, dtype=getattr(torch, other[0])), \
            ndgrad.ones(shape, dtype=getattr(ndgrad, other[0]))
    else:
        t_other = n_other = other
    expected = torch.result_type(t, t_other)
    assert str(ndgrad.result_type(n, n_other)).split(".")[-1] == str(expected).split(".")[-1]
    if tensor_dtype != "bool" or not isinstance(other, tuple) or other[0] != "bool":
        assert_same(n + n_other, t + t_other)
        assert_same(n * n_other, t * t_other)


def test_scalar_result_types():
    assert ndgrad.result_type(1j, 1.0) is ndgrad.complex64
    assert ndgrad.tensor(1j).dtype is ndgrad.complex64
    ndgrad.set_default_dtype(ndgrad.float64)
    try:
        assert ndgrad.tensor([1 + 2j]).dtype is ndgrad.complex128
        assert ndgrad.result_type(ndgrad.ones(2, dtype=ndgrad.int64), 1j) is ndgrad.complex128
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)


# -- creation -------------------------------------------------------------------------------------------
def test_creation():
    assert_same(ndgrad.tensor([1 + 2j, 3 - 1j]), torch.tensor([1 + 2j, 3 - 1j]))
    assert_same(ndgrad.tensor([1, 2j]), torch.tensor([1, 2j]))
    a = crandom((2, 3), "complex64")
    assert_same(ndgrad.tensor(a), torch.tensor(a))
    assert_same(ndgrad.from_numpy(a), torch.from_numpy(a))
    for fn in ("zeros", "ones", "empty"):
        n, t = getattr(ndgrad, fn)(2, 3, dtype=ndgrad.complex64), getattr(torch, fn)(2, 3, dtype=torch.complex64)
        assert n.dtype is ndgrad.complex64 and tuple(n.shape) == tuple(t.shape)
    assert_same(ndgrad.full((2,), 1 + 1j), torch.full((2,), 1 + 1j))
    assert_same(ndgrad.zeros_like(ndgrad.tensor(a)), torch.zeros_like(torch.tensor(a)))
    x = ndgrad.ones(3, dtype=ndgrad.complex64, requires_grad=True)
    assert x.requires_grad and x.is_complex() and not x.is_floating_point()


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_random_complex_draws_like_torch(dtype):
    ndgrad.manual_seed(0)
    z = ndgrad.randn(200000, dtype=getattr(ndgrad, dtype)).numpy()
    assert z.dtype == np.dtype(dtype)
    # torch: real and imaginary parts independent N(0, 1/2), so E|z|^2 = 1
    np.testing.assert_allclose([z.real.var(), z.imag.var(), (np.abs(z) ** 2).mean()], [0.5, 0.5, 1.0], atol=0.01)
    assert abs(np.corrcoef(z.real, z.imag)[0, 1]) < 0.01
    u = ndgrad.rand(1000, dtype=getattr(ndgrad, dtype)).numpy()
    assert 0 <= u.real.min() and u.real.max() < 1 and 0 <= u.imag.min() and u.imag.max() < 1
    assert ndgrad.randn(2, 3, dtype=getattr(ndgrad, dtype)).shape == (2, 3)


def test_complex_and_polar():
    ccheck(torch.complex, [(3, 4), (3, 4)], "float64")
    ccheck(torch.complex, [(3, 1), (4,)], "float32")
    ccheck(torch.polar, [(3, 4), (3, 4)], "float64", low=0.1)
    check_error(lambda: ndgrad.complex(ndgrad.ones(2), ndgrad.ones(2, dtype=ndgrad.float64)), "complex",
                RuntimeError, lambda: torch.complex(torch.ones(2), torch.ones(2, dtype=torch.float64)))
    check_error(lambda: ndgrad.complex(ndgrad.ones(2, dtype=ndgrad.int64), ndgrad.ones(2, dtype=ndgrad.int64)),
                "Float or Double", RuntimeError,
                lambda: torch.complex(torch.ones(2, dtype=torch.int64), torch.ones(2, dtype=torch.int64)))


# -- real, imag, conj, angle, abs, views -------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("fn", [
    lambda L, x: x.real, lambda L, x: x.imag, torch.real, torch.imag, torch.angle, torch.abs, torch.sgn,
    lambda L, x: x.conj(), torch.conj_physical, lambda L, x: x.conj().resolve_conj(), torch.view_as_real,
    lambda L, x: (L.view_as_real(x) * 2).sum(-1), lambda L, x: x.abs() ** 2, lambda L, x: x.real * x.imag,
])
def test_parts(dtype, fn):
    ccheck(fn, [(3, 4)], dtype)
    ccheck(fn, [()], dtype)
    ccheck(fn, [(0, 2)], dtype)


def test_parts_non_contiguous():
    ccheck(lambda L, x: x.real + x.imag * 2, [(3, 4)], contiguous=False)
    ccheck(torch.angle, [(5,)], contiguous=False)
    ccheck(torch.view_as_real, [(3, 4)], contiguous=False)
    ccheck(lambda L, x: x.exp() * x.conj(), [(3, 4)], contiguous=False)


def test_real_inputs():
    ccheck(torch.angle, [(5,)], "float64")
    ccheck(lambda L, x: x.real, [(5,)], "float64")
    ccheck(torch.conj, [(5,)], "float64")
    assert_same(ndgrad.angle(ndgrad.tensor([-1, 2, 0])), torch.angle(torch.tensor([-1, 2, 0])))
    check_error(lambda: ndgrad.ones(2).imag, "imag is not implemented for tensors with non-complex dtypes",
                RuntimeError, lambda: torch.ones(2).imag)


def test_view_as_complex():
    ccheck(torch.view_as_complex, [(3, 2)], "float64")
    ccheck(torch.view_as_complex, [(2, 3, 2)], "float32")
    ccheck(lambda L, x: L.view_as_complex(x) * 2j, [(4, 2)], "float64")
    check_error(lambda: ndgrad.view_as_complex(ndgrad.ones(3, 3)), "last dimension of size 2", RuntimeError,
                lambda: torch.view_as_complex(torch.ones(3, 3)))
    check_error(lambda: ndgrad.view_as_real(ndgrad.ones(3)), "only supported for complex tensors", RuntimeError,
                lambda: torch.view_as_real(torch.ones(3)))
    check_error(lambda: ndgrad.view_as_complex(ndgrad.ones(2, 2).t()), "stride", RuntimeError,
                lambda: torch.view_as_complex(torch.ones(2, 2).t()))


def test_views_share_memory():
    z = ndgrad.tensor([1 + 2j, 3 - 1j])
    r = ndgrad.view_as_real(z)
    r[0, 1] = 5.0
    assert z.tolist() == [1 + 5j, 3 - 1j]
    c = ndgrad.view_as_complex(r)
    c[1] = 7j
    assert z.tolist() == [1 + 5j, 7j]
    z.real[0] = -1.0
    z.imag[1] = 4.0
    assert z.tolist() == [-1 + 5j, 4j]
    z.real = ndgrad.tensor([10.0, 20.0])
    z.imag = 0.5
    t = torch.tensor([1 + 2j, 3 - 1j])
    t.real = torch.tensor([10.0, 20.0])
    t.imag = 0.5
    assert z.tolist() == t.tolist()


def test_conj_flags():
    for lib in (torch, ndgrad):
        x = lib.tensor([1 + 2j, 3 - 1j])
        assert x.conj().is_conj() and not x.is_conj()
        assert not x.conj().resolve_conj().is_conj()
        assert not lib.conj_physical(x).is_conj()
        assert not lib.tensor([1.0]).conj().is_conj()
        assert x.conj().resolve_conj().tolist() == [1 - 2j, 3 + 1j]
        assert not x.conj().is_neg() and x.resolve_neg() is x


# -- elementwise math -------------------------------------------------------------------------------
UNARY = [torch.exp, torch.log, torch.sqrt, torch.sin, torch.cos, torch.tan, torch.tanh, torch.sinh, torch.cosh,
         torch.sigmoid, torch.reciprocal, torch.neg, torch.square, torch.rsqrt, torch.log1p, torch.expm1,
         torch.exp2, torch.log2, torch.log10, torch.asin, torch.acos, torch.atan,
         lambda L, x: x ** 2, lambda L, x: x ** 3, lambda L, x: x ** 0.5, lambda L, x: x ** -1.5,
         lambda L, x: 2 ** x, lambda L, x: 1 / x, lambda L, x: 2.0 - x, lambda L, x: x * 3, lambda L, x: x / 2,
         lambda L, x: x + 1j, lambda L, x: 1j * x, lambda L, x: x ** (1 + 1j)]


@pytest.mark.parametrize("fn", UNARY)
def test_unary(fn):
    ccheck(fn, [(3, 4)], "complex128", low=-1.5, high=1.5)
    ccheck(fn, [(5,)], "complex64", low=-1.5, high=1.5)


@pytest.mark.parametrize("fn", [lambda L, a, b: a + b, lambda L, a, b: a - b, lambda L, a, b: a * b,
                                lambda L, a, b: a / b, torch.pow, lambda L, a, b: L.add(a, b, alpha=2)])
@pytest.mark.parametrize("dtypes", [("complex128", "complex128"), ("complex128", "float64"),
                                    ("float64", "complex128"), ("complex64", "float64"), ("float32", "complex64"),
                                    ("complex64", "int64")])
def test_binary(fn, dtypes):
    ccheck(fn, [(3, 1), (1, 4)], list(dtypes), low=0.5, high=1.5)
    ccheck(fn, [(), (4,)], list(dtypes), low=0.5, high=1.5)


def test_real_leaf_through_complex_ops_gets_real_grad():
    ccheck(lambda L, x: (x * (1 + 2j)).exp(), [(4,)], "float64")
    ccheck(lambda L, x: x.to(L.complex128) * 1j, [(4,)], "float64")


@pytest.mark.parametrize("fn", [lambda L, x: L.where(x.real > 0, x, x * 2j), lambda L, x: x[1:, ::2],
                                lambda L, x: x[L.tensor([0, 2, 2])], lambda L, x: x.t().reshape(-1),
                                lambda L, x: L.cat([x, x.conj()]), lambda L, x: L.stack([x, 2 * x]),
                                lambda L, x: x.flip(0), lambda L, x: x.unsqueeze(0).expand(2, 3, 4),
                                lambda L, x: L.isnan(x), lambda L, x: x == x.conj(), lambda L, x: x.clone(),
                                lambda L, x: L.isreal(x * (x.real > 0)), lambda L, x: L.isreal(x.real)])
def test_shape_and_index(fn):
    ccheck(fn, [(3, 4)])


def test_inplace():
    for lib in (torch, ndgrad):
        x = lib.tensor([1 + 2j, 3 - 1j])
        x.mul_(2j)
        x.add_(1)
        x[0] = 5 - 5j
        x.sub_(lib.tensor([1.0, 2.0]))
        if lib is torch:
            want = x.tolist()
    assert x.tolist() == want


def test_cmp_and_nonholomorphic_refused():
    z = ndgrad.tensor([1 + 1j, 2j])
    t = torch.tensor([1 + 1j, 2j])
    check_error(lambda: ndgrad.sign(z), "sgn", NotImplementedError, lambda: torch.sign(t))
    check_error(lambda: ndgrad.clamp(z, 0, 1), "complex", NotImplementedError, lambda: torch.clamp(t, 0, 1))
    check_error(lambda: ndgrad.relu(z), "complex", NotImplementedError, lambda: torch.relu(t))
    check_error(lambda: ndgrad.floor(z), "complex", NotImplementedError, lambda: torch.floor(t))
    check_error(lambda: ndgrad.maximum(z, z), "complex", NotImplementedError, lambda: torch.maximum(t, t))
    check_error(lambda: z < 1, "no order", NotImplementedError, lambda: t < 1)
    check_error(lambda: ndgrad.ones(2) >= z, "no order", NotImplementedError, lambda: torch.ones(2) >= t)
    check_error(lambda: ndgrad.ones(2).add_(z), "can't be cast", RuntimeError, lambda: torch.ones(2).add_(t))


def test_type_names_and_finfo():
    for dt in ("complex64", "complex128"):
        n, t = ndgrad.zeros(1, dtype=getattr(ndgrad, dt)), torch.zeros(1, dtype=getattr(torch, dt))
        assert n.type().replace("ndgrad.", "") == t.type().replace("torch.", "")
        nf, tf = ndgrad.finfo(getattr(ndgrad, dt)), torch.finfo(getattr(torch, dt))
        assert (nf.bits, nf.eps, nf.max, nf.tiny, str(nf.dtype)) == (tf.bits, tf.eps, tf.max, tf.tiny, str(tf.dtype))


def test_autograd_through_inplace_and_views():
    ccheck(lambda L, x: (x * 1).mul_(2j).add_(1), [(3, 4)])
    ccheck(lambda L, x: L.view_as_complex(L.view_as_real(x * 1) * 3), [(3,)])
    ccheck(lambda L, x: (x * 2).conj().imag, [(3,)])


# -- reductions and matmul ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [torch.sum, lambda L, x: x.sum(0), lambda L, x: x.sum(1, keepdim=True), torch.mean,
                                lambda L, x: x.mean(-1), torch.prod, lambda L, x: x.prod(1), lambda L, x: x.cumsum(0),
                                lambda L, x: L.cumprod(x, 1), lambda L, x: L.var(x, 1),
                                lambda L, x: x.abs().max(), lambda L, x: L.linalg.vector_norm(x)])
def test_reductions(fn):
    ccheck(fn, [(3, 4)], low=0.5, high=1.5)
    ccheck(fn, [(3, 4)], "complex64", low=0.5, high=1.5)


def test_order_reductions_refused():
    z, t = ndgrad.tensor([1 + 1j, 2j]), torch.tensor([1 + 1j, 2j])
    check_error(lambda: ndgrad.max(z), "complex", Exception, lambda: torch.max(t))
    check_error(lambda: ndgrad.min(z), "complex", Exception, lambda: torch.min(t))
    check_error(lambda: ndgrad.sort(z), "complex", Exception, lambda: torch.sort(t))
    check_error(lambda: ndgrad.argmax(z), "complex", Exception, lambda: torch.argmax(t))


@pytest.mark.parametrize("shapes", [[(3, 4), (4, 2)], [(2, 3, 4), (4,)], [(4,), (4,)], [(2, 3, 4), (2, 4, 5)]])
@pytest.mark.parametrize("dtypes", [("complex128", "complex128"), ("complex64", "complex64"),
                                    ("complex128", "float64")])
def test_matmul(shapes, dtypes):
    if dtypes[1] == "float64" and len(shapes[0]) == 1:
        pytest.skip("mixed complex @ real is checked on matrix operands only")
    fn = torch.matmul if dtypes[0] == dtypes[1] else (lambda L, a, b: a @ b.to(a.dtype))
    ccheck(fn, shapes, list(dtypes))


def test_einsum_and_friends():
    ccheck(lambda L, a, b: L.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)])
    ccheck(lambda L, a, b: L.einsum("bi,bi->b", a, b.conj()), [(3, 4), (3, 4)])
    ccheck(lambda L, a, b: L.mm(a, b), [(3, 4), (4, 2)])
    ccheck(lambda L, a, b: L.bmm(a, b), [(2, 3, 4), (2, 4, 2)])
    ccheck(lambda L, a: a.mH @ a, [(3, 4)])
    ccheck(lambda L, a, b: L.dot(a, b), [(4,), (4,)])
    ccheck(lambda L, a, b: L.vdot(a, b), [(4,), (4,)])


# -- layers and optimizers ---------------------------------------------------------------------------
def test_linear_layer():
    ccheck(torch.nn.functional.linear, [(3, 4), (2, 4), (2,)], nd_fn=ndgrad.nn.functional.linear)
    ccheck(torch.nn.functional.linear, [(2, 3, 4), (2, 4)], "complex64", nd_fn=ndgrad.nn.functional.linear)
    layer = ndgrad.nn.Linear(4, 2, dtype=ndgrad.complex64)
    ref = torch.nn.Linear(4, 2, dtype=torch.complex64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.detach().numpy().copy()))
        ref.bias.copy_(torch.from_numpy(layer.bias.detach().numpy().copy()))
    x = crandom((3, 4), "complex64")
    assert_same(layer(ndgrad.from_numpy(x)), ref(torch.from_numpy(x)))
    assert sorted(layer.state_dict()) == sorted(ref.state_dict())


@pytest.mark.parametrize("fn", ["uniform_", "normal_"])
def test_init_draws_both_parts(fn):
    t = ndgrad.empty(100000, dtype=ndgrad.complex64)
    getattr(ndgrad.nn.init, fn)(t)
    ref = getattr(torch.nn.init, fn)(torch.empty(100000, dtype=torch.complex64))
    for part in ("real", "imag"):
        got, want = getattr(t, part).numpy(), getattr(ref, part).numpy()
        np.testing.assert_allclose([got.mean(), got.std()], [want.mean(), want.std()], atol=0.02)


def test_sgd_on_complex_parameters():
    start = crandom((3,))
    results = []
    for lib in (torch, ndgrad):
        p = lib.from_numpy(start.copy()).requires_grad_()
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            (p * p.conj() + p.imag * 2).real.sum().backward()
            opt.step()
        results.append(p.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)


# -- gradcheck on complex inputs ------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [ndgrad.exp, ndgrad.sin, ndgrad.tanh, ndgrad.sigmoid, ndgrad.abs, ndgrad.angle,
                                ndgrad.sgn, ndgrad.conj, ndgrad.real, ndgrad.imag, ndgrad.view_as_real,
                                lambda x: x * x.conj(), lambda x: x / (x + 3), lambda x: x ** 2.5,
                                lambda x: (x @ x.mT).sum(0), lambda x: x.prod(1), lambda x: x.cumsum(1)])
def test_gradcheck_complex(fn):
    x = ndgrad.from_numpy(crandom((2, 3), low=0.3, high=1.5)).requires_grad_(True)
    assert gradcheck(fn, (x,))


def test_gradcheck_detects_wrong_complex_rule():
    class Bad(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x  # missing conj
    x = ndgrad.from_numpy(crandom((3,), low=0.3)).requires_grad_(True)
    assert not gradcheck(Bad.apply, (x,), raise_exception=False)


def test_gradgradcheck_complex():
    x = ndgrad.from_numpy(crandom((3,), low=0.3, high=1.5)).requires_grad_(True)
    assert gradgradcheck(lambda z: (z * z).exp(), (x,))
    assert gradgradcheck(lambda z: z.abs(), (x,))


# -- casts, printing, checkpoints, DLPack -----------------------------------------------------------
def test_casts():
    a = crandom((3,), "complex64")
    n, t = ndgrad.from_numpy(a.copy()), torch.from_numpy(a.copy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = n.to(ndgrad.float32)
    assert any("discards the imaginary part" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(r, t.to(torch.float32))
        assert_same(n.to(ndgrad.int64), t.to(torch.int64))
    assert_same(n.to(ndgrad.complex128), t.to(torch.complex128))
    assert_same(ndgrad.ones(2, dtype=ndgrad.float16).to(ndgrad.complex64), torch.ones(2).to(torch.complex64))
    assert n.to(ndgrad.cdouble).dtype is ndgrad.complex128
    assert ndgrad.tensor(3 + 4j).item() == torch.tensor(3 + 4j).item() == 3 + 4j
    assert complex(ndgrad.tensor(3 + 4j)) == 3 + 4j


@pytest.mark.parametrize("data", [[1 + 2j, 3 - 1j], 1j, [[1.5 + 2.25j, -3 - 1e-3j], [1e5j, 0]],
                                  [1.123456 + 2j, 1e-5j], [float("nan") + 1j, 2], [0j] * 3, [[1 + 1j] * 2] * 2])
def test_printing(data):
    assert repr(ndgrad.tensor(data)) == repr(torch.tensor(data))
    assert repr(ndgrad.tensor(data, dtype=ndgrad.complex128)) == \
        repr(torch.tensor(data, dtype=torch.complex128)).replace("torch.", "ndgrad.")


def test_checkpoint_round_trip(tmp_path):
    state = {"w": ndgrad.from_numpy(crandom((2, 3), "complex64")), "b": ndgrad.ones(2),
             "nested": [ndgrad.tensor([1j]), {"z": ndgrad.from_numpy(crandom((4,), "complex128"))}]}
    for path in (tmp_path / "c.pt", tmp_path / "c.safetensors"):
        ndgrad.save(state, path)
        back = ndgrad.load(path)
        assert back["w"].dtype is ndgrad.complex64
        np.testing.assert_array_equal(back["w"].numpy(), state["w"].numpy())
        np.testing.assert_array_equal(back["nested"][1]["z"].numpy(), state["nested"][1]["z"].numpy())
        assert back["nested"][1]["z"].dtype is ndgrad.complex128
    buf = io.BytesIO()
    ndgrad.save({"w": state["w"]}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(ndgrad.load(buf)["w"].numpy(), state["w"].numpy())
    # the file itself holds plain float pairs, readable by any safetensors reader
    from safetensors.numpy import load_file
    stored = load_file(str(tmp_path / "c.safetensors"))["w"]
    assert stored.dtype == np.float32 and stored.shape == (2, 3, 2)
    np.testing.assert_array_equal(stored[..., 1], state["w"].numpy().imag)


def test_dlpack():
    a = crandom((2, 3), "complex64")
    n = ndgrad.from_numpy(a)
    back = np.from_dlpack(n)
    assert back.dtype == np.complex64 and np.shares_memory(back, a)
    t = torch.from_dlpack(n)
    assert t.dtype == torch.complex64 and t.tolist() == n.tolist()
    n2 = ndgrad.from_dlpack(torch.tensor([1 + 1j, 2j]))
    assert n2.dtype is ndgrad.complex64 and n2.tolist() == [1 + 1j, 2j]


def test_complex_keeps_signed_zeros_and_infinities_and_broadcasts():
    import math
    real, imag = [1.0, -0.0, 2.0], [-0.0, math.inf, 3.0]
    ours = ndgrad.complex(ndgrad.tensor(real), ndgrad.tensor(imag)).tolist()
    theirs = torch.complex(torch.tensor(real), torch.tensor(imag)).tolist()
    signs = lambda zs: [(math.copysign(1, z.real), math.copysign(1, z.imag), z.imag) for z in zs]
    assert signs(ours) == signs(theirs)
    assert ndgrad.complex(ndgrad.ones(2, 1), ndgrad.zeros(3)).shape == (2, 3)

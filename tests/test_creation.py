"""Creating tensors and looking at them: constructors, dtype inference, conversions, repr."""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import ALL_DTYPES, check_error, dtype_name, nd_dtype, random_array, to_numpy, torch_dtype


def assert_like_torch(n, t):
    """Same shape, dtype and values (exactly) as a torch tensor."""
    assert isinstance(n, ndgrad.Tensor)
    assert tuple(n.shape) == tuple(t.shape), f"{tuple(n.shape)} != {tuple(t.shape)}"
    assert dtype_name(n.dtype) == dtype_name(t.dtype), f"{n.dtype} != {t.dtype}"
    np.testing.assert_array_equal(to_numpy(n), t.numpy())


# --- tensor / as_tensor / from_numpy: dtype inference -------------------------------------------

DATA = [
    1.5, 3, True, -2,
    [1.0, 2.0], [1, 2], [True, False], [1, 2.0], [True, 1], [True, 1.5],
    [[1, 2, 3], [4, 5, 6]], [[[0.5]]], [], [[]],
    np.float64(1.5), np.int32(3), np.float32(2.5), np.bool_(True),
    np.array([1.0, 2.0]), np.array([1, 2], dtype=np.int32), np.array([[1, 2]], dtype=np.uint8),
    np.array(2.5), np.array([True, False]), np.array([1.0, 2.0], dtype=np.float16),
    np.zeros((2, 0, 3)),
]


@pytest.mark.parametrize("data", DATA, ids=lambda d: f"{type(d).__name__}:{d!r}"[:40])
def test_tensor_infers_dtype_like_torch(data):
    assert_like_torch(ndgrad.tensor(data), torch.tensor(data))
    assert_like_torch(ndgrad.as_tensor(data), torch.as_tensor(data))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_tensor_with_dtype(dtype):
    data = [[1, 0, 3], [2, 1, 0]]
    assert_like_torch(ndgrad.tensor(data, dtype=nd_dtype(dtype)), torch.tensor(data, dtype=torch_dtype(dtype)))
    assert_like_torch(ndgrad.tensor(np.array(data, dtype=np.float64), dtype=nd_dtype(dtype)),
                      torch.tensor(np.array(data, dtype=np.float64), dtype=torch_dtype(dtype)))


def test_tensor_copies_its_input():
    a = np.array([1.0, 2.0])
    t = ndgrad.tensor(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    src = ndgrad.tensor([1.0, 2.0])
    copy = ndgrad.tensor(src.numpy())
    src.fill_(0.0)
    assert copy.tolist() == [1.0, 2.0]


def test_from_numpy_shares_memory_and_keeps_dtype():
    for dtype in ["float64", "float32", "float16", "int32", "int64", "uint8", "int8", "int16", "bool"]:
        a = random_array((2, 3), dtype, 0, 3)
        t = ndgrad.from_numpy(a)
        assert dtype_name(t.dtype) == dtype and tuple(t.shape) == (2, 3)
    a = np.zeros(3)
    t = ndgrad.from_numpy(a)
    a[0] = 5.0
    assert t.tolist() == [5.0, 0.0, 0.0]
    t.add_(1.0)
    assert a.tolist() == [6.0, 1.0, 1.0]
    # non-contiguous arrays are accepted as they are
    m = np.arange(6.0).reshape(2, 3).T
    assert ndgrad.from_numpy(m).tolist() == m.tolist()


def test_from_numpy_rejects_unsupported():
    check_error(lambda: ndgrad.from_numpy([1, 2]), r"numpy", exc=TypeError,
                torch_fn=lambda: torch.from_numpy([1, 2]))
    check_error(lambda: ndgrad.from_numpy(np.array([1, 2], dtype="datetime64[s]")), r"datetime64",
                torch_fn=lambda: torch.from_numpy(np.array([1, 2], dtype="datetime64[s]")))


def test_as_tensor_shares_numpy_memory_when_dtype_matches():
    a = np.array([1.0, 2.0])
    t = ndgrad.as_tensor(a)
    a[0] = 9.0
    assert t.tolist() == [9.0, 2.0]
    b = np.array([1.0, 2.0])
    t = ndgrad.as_tensor(b, dtype=ndgrad.float32)  # a conversion has to copy
    b[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and t.dtype == ndgrad.float32
    x = ndgrad.tensor([1.0])
    assert ndgrad.as_tensor(x) is x


def test_tensor_requires_grad_argument():
    t = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None
    assert not ndgrad.tensor([1.0]).requires_grad


def test_ragged_nested_list_raises():
    check_error(lambda: ndgrad.tensor([[1, 2], [3]]), r"(ragged|sequence|shape|length)",
                torch_fn=lambda: torch.tensor([[1, 2], [3]]))


def test_default_dtype_governs_python_floats():
    old = ndgrad.get_default_dtype()
    assert old == ndgrad.float32
    try:
        ndgrad.set_default_dtype(ndgrad.float64)
        assert ndgrad.get_default_dtype() == ndgrad.float64
        assert ndgrad.tensor([1.5]).dtype == ndgrad.float64
        assert ndgrad.zeros(2).dtype == ndgrad.float64
        assert ndgrad.tensor([1]).dtype == ndgrad.int64
    finally:
        ndgrad.set_default_dtype(old)
    assert ndgrad.tensor([1.5]).dtype == ndgrad.float32


# --- factories ----------------------------------------------------------------------------------

SIZES = [((2, 3),), ([2, 3],), (2, 3), ((),), (0,), (1, 0, 2), (4,)]


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_zeros_ones_empty(name, size):
    n, t = getattr(ndgrad, name)(*size), getattr(torch, name)(*size)
    assert tuple(n.shape) == tuple(t.shape) and n.dtype == ndgrad.float32
    if name != "empty":
        assert_like_torch(n, t)
    for dtype in ALL_DTYPES:
        n = getattr(ndgrad, name)(*size, dtype=nd_dtype(dtype))
        t = getattr(torch, name)(*size, dtype=torch_dtype(dtype))
        assert dtype_name(n.dtype) == dtype
        if name != "empty":
            assert_like_torch(n, t)


def test_factories_requires_grad_and_device():
    for n in [ndgrad.zeros(2, requires_grad=True), ndgrad.ones(2, requires_grad=True),
              ndgrad.full((2,), 1.0, requires_grad=True), ndgrad.randn(2, requires_grad=True),
              ndgrad.rand(2, requires_grad=True), ndgrad.empty(2, requires_grad=True),
              ndgrad.arange(3.0, requires_grad=True), ndgrad.linspace(0, 1, 3, requires_grad=True),
              ndgrad.eye(2, requires_grad=True)]:
        assert n.requires_grad and n.is_leaf
    z = ndgrad.zeros(2, device="cpu")
    assert z.device == "cpu" and str(z.device) == "cpu" and z.device.type == "cpu"


@pytest.mark.parametrize("args", [((2, 3), 1.5), ((2,), 7), ((2,), True), ((), -2.5), ((0, 2), 1), ([3], 2)],
                         ids=str)
def test_full(args):
    assert_like_torch(ndgrad.full(*args), torch.full(*args))
    assert_like_torch(ndgrad.full(*args, dtype=ndgrad.float64), torch.full(*args, dtype=torch.float64))


@pytest.mark.parametrize("args", [(5,), (5.0,), (2, 7), (0, 10, 3), (1, 2.5, 0.5), (0, 1, 0.1), (5, 0, -1),
                                  (-1.0, 1.0, 0.25), (3, 3)], ids=str)
def test_arange(args):
    n, t = ndgrad.arange(*args), torch.arange(*args)
    assert tuple(n.shape) == tuple(t.shape) and dtype_name(n.dtype) == dtype_name(t.dtype)
    np.testing.assert_allclose(to_numpy(n), t.numpy(), rtol=1e-6, atol=1e-7)
    n, t = ndgrad.arange(*args, dtype=ndgrad.float64), torch.arange(*args, dtype=torch.float64)
    np.testing.assert_allclose(to_numpy(n), t.numpy(), rtol=1e-12, atol=1e-14)


def test_arange_keyword_arguments_and_bad_step():
    assert_like_torch(ndgrad.arange(start=1, end=4), torch.arange(start=1, end=4))
    assert_like_torch(ndgrad.arange(0, 6, step=2, dtype=ndgrad.int32), torch.arange(0, 6, step=2, dtype=torch.int32))
    check_error(lambda: ndgrad.arange(0, 5, 0), [r"arange", r"step"], torch_fn=lambda: torch.arange(0, 5, 0))
    check_error(lambda: ndgrad.arange(0, 5, -1), [r"arange"], torch_fn=lambda: torch.arange(0, 5, -1))


@pytest.mark.parametrize("args", [(0, 1, 5), (-1, 1, 1), (0, 1, 0), (2, -3, 7), (0, 10, 11)], ids=str)
def test_linspace(args):
    n, t = ndgrad.linspace(*args), torch.linspace(*args)
    assert tuple(n.shape) == tuple(t.shape) and n.dtype == ndgrad.float32
    np.testing.assert_allclose(to_numpy(n), t.numpy(), rtol=1e-6, atol=1e-6)
    n, t = ndgrad.linspace(*args, dtype=ndgrad.float64), torch.linspace(*args, dtype=torch.float64)
    np.testing.assert_allclose(to_numpy(n), t.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("args", [(3,), (2, 3), (3, 2), (0,), (1, 1)], ids=str)
def test_eye(args):
    assert_like_torch(ndgrad.eye(*args), torch.eye(*args))
    assert_like_torch(ndgrad.eye(*args, dtype=ndgrad.int64), torch.eye(*args, dtype=torch.int64))


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_like_factories_keep_shape_and_dtype(name, dtype):
    src = ndgrad.tensor(random_array((2, 3), dtype), requires_grad=True)
    out = getattr(ndgrad, name)(src)
    assert tuple(out.shape) == (2, 3) and dtype_name(out.dtype) == dtype
    assert not out.requires_grad  # *_like never copies requires_grad
    assert getattr(ndgrad, name)(src, dtype=ndgrad.float64).dtype == ndgrad.float64
    assert getattr(ndgrad, name)(src, requires_grad=True).requires_grad
    if name in ("zeros_like", "ones_like"):
        assert_like_torch(out, getattr(torch, name)(torch.zeros(2, 3, dtype=torch_dtype(dtype))))


def test_full_like_and_integer_like():
    src = ndgrad.tensor([[1, 2, 3]], dtype=ndgrad.int32)
    assert_like_torch(ndgrad.full_like(src, 2.7), torch.full_like(torch.tensor([[1, 2, 3]], dtype=torch.int32), 2.7))
    assert_like_torch(ndgrad.full_like(ndgrad.zeros(2), 3), torch.full_like(torch.zeros(2), 3))
    assert_like_torch(ndgrad.zeros_like(src), torch.zeros_like(torch.tensor([[1, 2, 3]], dtype=torch.int32)))
    assert_like_torch(ndgrad.ones_like(ndgrad.tensor(True)), torch.ones_like(torch.tensor(True)))


# --- random -------------------------------------------------------------------------------------

def test_rand_randn_distribution_and_dtype():
    u = ndgrad.rand(200_000)
    z = ndgrad.randn(200_000)
    assert u.dtype == ndgrad.float32 and z.dtype == ndgrad.float32
    ua, za = to_numpy(u).astype(np.float64), to_numpy(z).astype(np.float64)
    assert ua.min() >= 0.0 and ua.max() < 1.0
    # 200k samples: standard errors ~0.0007 (mean of U), ~0.0022 (mean of N); bounds are > 4 sigma
    assert abs(ua.mean() - 0.5) < 0.005 and abs(ua.var() - 1 / 12) < 0.002
    assert abs(za.mean()) < 0.01 and abs(za.std() - 1.0) < 0.01
    assert ndgrad.rand(2, 3).shape == (2, 3) and ndgrad.randn((2, 3)).shape == (2, 3)
    assert ndgrad.randn(3, dtype=ndgrad.float64).dtype == ndgrad.float64
    assert ndgrad.rand(()).shape == () and ndgrad.randn(0).shape == (0,)


def test_randint():
    r = ndgrad.randint(-3, 5, (10_000,))
    a = to_numpy(r)
    assert r.dtype == ndgrad.int64 and a.min() == -3 and a.max() == 4
    r = ndgrad.randint(4, (2, 3))
    assert tuple(r.shape) == (2, 3) and to_numpy(r).min() >= 0 and to_numpy(r).max() < 4
    assert ndgrad.randint(0, 2, (5,), dtype=ndgrad.int32).dtype == ndgrad.int32
    check_error(lambda: ndgrad.randint(5, 5, (3,)), r"randint", torch_fn=lambda: torch.randint(5, 5, (3,)))


def test_manual_seed_repeats():
    def draw():
        return [to_numpy(ndgrad.rand(4)), to_numpy(ndgrad.randn(2, 3)), to_numpy(ndgrad.randint(0, 100, (5,))),
                to_numpy(ndgrad.randn_like(ndgrad.zeros(3)))]
    ndgrad.manual_seed(1234)
    first = draw()
    ndgrad.manual_seed(1234)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    ndgrad.manual_seed(4321)
    third = draw()
    assert not np.array_equal(first[0], third[0])
    ndgrad.manual_seed(1234)
    assert not np.array_equal(to_numpy(ndgrad.rand(4)), to_numpy(ndgrad.rand(4)))  # the stream advances


# --- inspecting and converting ------------------------------------------------------------------

def test_shape_size_ndim_numel():
    t = ndgrad.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3 and t.numel() == 24 and len(t) == 2
    s = ndgrad.tensor(2.0)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1
    assert ndgrad.zeros(3, 0).numel() == 0
    check_error(lambda: t.size(3), r"(range|dim)", torch_fn=lambda: torch.zeros(2, 3, 4).size(3))
    check_error(lambda: len(s), r"0-d", exc=TypeError, torch_fn=lambda: len(torch.tensor(2.0)))


def test_dtype_and_device_attributes():
    t = ndgrad.tensor([1.0])
    assert t.dtype == ndgrad.float32 and t.dtype is ndgrad.float32
    assert t.dtype.is_floating_point and not ndgrad.int64.is_floating_point
    assert t.device == "cpu" and t.is_floating_point() and not ndgrad.tensor([1]).is_floating_point()
    assert str(ndgrad.float64) == "ndgrad.float64" and ndgrad.float64.itemsize == 8


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_item_and_tolist_types(dtype):
    data = [[1, 0], [3, 2]]
    n = ndgrad.tensor(data, dtype=nd_dtype(dtype))
    t = torch.tensor(data, dtype=torch_dtype(dtype))
    assert n.tolist() == t.tolist()
    assert [type(v) for row in n.tolist() for v in row] == [type(v) for row in t.tolist() for v in row]
    item_n, item_t = n[0, 0].item(), t[0, 0].item()
    n0 = ndgrad.tensor(data[0][0], dtype=nd_dtype(dtype))
    assert n0.item() == item_t and type(n0.item()) is type(item_t)
    assert item_n == item_t and type(item_n) is type(item_t)
    assert n0.tolist() == item_t and type(n0.tolist()) is type(item_t)


def test_item_on_one_element_and_error():
    assert ndgrad.tensor([[2.5]]).item() == 2.5
    check_error(lambda: ndgrad.ones(2, 3).item(), [r"item", r"6"], torch_fn=lambda: torch.ones(2, 3).item())


def test_numpy_and_array_protocol():
    t = ndgrad.tensor([[1.0, 2.0]], dtype=ndgrad.float64)
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.tolist() == [[1.0, 2.0]]
    a[0, 0] = 7.0  # numpy() shares memory, as in PyTorch
    assert t.tolist() == [[7.0, 2.0]]
    b = np.asarray(t)
    assert b.dtype == np.float64 and b.tolist() == [[7.0, 2.0]]
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert np.array(ndgrad.tensor([1, 2], dtype=ndgrad.int16)).dtype == np.int16
    x = ndgrad.tensor([1.0], requires_grad=True)
    check_error(lambda: x.numpy(), r"detach", torch_fn=lambda: torch.tensor([1.0], requires_grad=True).numpy())
    assert x.detach().numpy().tolist() == [1.0]


def test_python_conversions():
    assert float(ndgrad.tensor(2.5)) == 2.5 and int(ndgrad.tensor(3)) == 3 and bool(ndgrad.tensor([1.0]))
    check_error(lambda: bool(ndgrad.ones(2)), r"ambiguous", torch_fn=lambda: bool(torch.ones(2)))


def test_repr():
    r = repr(ndgrad.tensor([1.5, 2.5]))
    assert r.startswith("tensor(") and "1.5" in r and "2.5" in r and "dtype" not in r
    r = repr(ndgrad.tensor([1.0, 2.0], dtype=ndgrad.float64))
    assert "dtype=ndgrad.float64" in r
    assert "dtype" not in repr(ndgrad.tensor([1, 2]))  # int64 is the default integer type
    assert "dtype=ndgrad.int32" in repr(ndgrad.tensor([1, 2], dtype=ndgrad.int32))
    assert "dtype=ndgrad.bool" not in repr(ndgrad.tensor([True]))  # torch prints bools without a dtype
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    r = repr(x * 2)
    assert "grad_fn=<" in r and "requires_grad" not in r
    assert "tensor(" in repr(ndgrad.tensor(3.0)) and "3." in repr(ndgrad.tensor(3.0))
    assert "[]" in repr(ndgrad.zeros(0))
    assert "tensor(" in str(ndgrad.zeros(2, 2))
    big = repr(ndgrad.arange(10_000))
    assert len(big) < 1000 and "..." in big  # long tensors are summarized


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_every_dtype_roundtrips(dtype):
    a = random_array((3, 2), dtype, 0, 5)
    n = ndgrad.tensor(a)
    assert dtype_name(n.dtype) == dtype and n.dtype is nd_dtype(dtype)
    np.testing.assert_array_equal(n.numpy(), a)
    assert nd_dtype(dtype).itemsize == np.dtype(dtype).itemsize
    assert nd_dtype(dtype).is_floating_point == (dtype in ("float16", "float32", "float64"))
    assert n.to(ndgrad.float64).dtype == ndgrad.float64

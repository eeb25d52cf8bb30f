"""Creation functions with torch's keyword forms, layouts and memory formats, size errors, and Tensor.new_*."""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, dtype_name


def same(n, t, values=True):
    assert tuple(n.shape) == tuple(t.shape), f"shape {tuple(n.shape)} != torch {tuple(t.shape)}"
    assert dtype_name(n.dtype) == dtype_name(t.dtype), f"dtype {n.dtype} != torch {t.dtype}"
    assert n.requires_grad == t.requires_grad
    if values:
        np.testing.assert_allclose(n.detach().numpy().astype(np.float64), t.detach().numpy().astype(np.float64),
                                   rtol=1e-6, atol=1e-7)


def call(name, *args, **kwargs):
    """The same call in both libraries: ``LIB`` in args/kwargs stands for the library's own object."""
    out = []
    for lib in (ndgrad, torch):
        def fix(v):
            if isinstance(v, str) and v.startswith("LIB."):
                return getattr(lib, v[4:])
            return v
        out.append(getattr(lib, name)(*[fix(a) for a in args], **{k: fix(v) for k, v in kwargs.items()}))
    return out


FILLED = [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("zeros", ([2, 3],), {}), ("zeros", (), {"size": (2, 3)}),
    ("ones", (4,), {"dtype": "LIB.int32"}), ("ones", (), {"size": [3]}), ("ones", (2, 0), {}), ("ones", ((),), {}),
    ("ones", (2, 3), {"layout": "LIB.strided", "device": "cpu", "requires_grad": True, "pin_memory": False}),
    ("zeros", (3,), {"dtype": "LIB.float64", "requires_grad": True}), ("ones", (ndgrad.Size([2, 2]),), {}),
    ("full", ((2, 3), 1.5), {}), ("full", ((2,), 7), {}), ("full", ((2,), True), {}),
    ("full", (), {"size": (2, 2), "fill_value": 3.0, "dtype": "LIB.float64"}), ("full", ([3], -1), {}),
    ("eye", (3,), {}), ("eye", (2, 4), {"dtype": "LIB.int64"}), ("eye", (), {"n": 3, "m": 2}),
    ("arange", (5,), {}), ("arange", (), {"end": 5}), ("arange", (1, 4), {"dtype": "LIB.float64"}),
    ("arange", (0, 1, 0.25), {}), ("arange", (), {"start": 2, "end": 8, "step": 3}),
    ("arange", (5, 0, -1), {}), ("arange", (3,), {"requires_grad": True, "dtype": "LIB.float32"}),
    ("linspace", (0, 1, 5), {}), ("linspace", (), {"start": -1, "end": 1, "steps": 3, "dtype": "LIB.float64"}),
    ("logspace", (0, 2, 3), {}), ("logspace", (0, 3, 4), {"base": 2.0}),
]


@pytest.mark.parametrize("name,args,kwargs", FILLED, ids=[f"{f[0]}{f[1]}{sorted(f[2])}" for f in FILLED])
def test_filled_and_ranges(name, args, kwargs):
    n, t = call(name, *args, **kwargs)
    same(n, t)


@pytest.mark.parametrize("name", ["empty", "rand", "randn"])
@pytest.mark.parametrize("args,kwargs", [((2, 3), {}), (((2, 3),), {}), ((), {"size": (2, 3)}),
                                         ((4,), {"dtype": "LIB.float64", "requires_grad": True}),
                                         ((2,), {"pin_memory": False, "layout": "LIB.strided"})], ids=str)
def test_uninitialised_and_random_shapes(name, args, kwargs):
    n, t = call(name, *args, **kwargs)
    same(n, t, values=False)


def test_empty_memory_format_and_strided():
    same(ndgrad.empty(2, 3, memory_format=ndgrad.contiguous_format),
         torch.empty(2, 3, memory_format=torch.contiguous_format), values=False)
    n = ndgrad.empty_strided((2, 3), (3, 1), dtype=ndgrad.float64)
    same(n, torch.empty_strided((2, 3), (3, 1), dtype=torch.float64), values=False)
    check_error(lambda: ndgrad.empty_strided((2, 3), (1,)), ["empty_strided", "strides"],
                torch_fn=lambda: torch.empty_strided((2, 3), (1,)))


@pytest.mark.parametrize("name,extra", [("zeros_like", ()), ("ones_like", ()), ("empty_like", ()),
                                        ("full_like", (2.5,)), ("rand_like", ()), ("randn_like", ())])
@pytest.mark.parametrize("kwargs", [{}, {"dtype": "LIB.float64"}, {"memory_format": "LIB.preserve_format"},
                                    {"requires_grad": True, "layout": "LIB.strided", "device": "cpu"},
                                    {"memory_format": "LIB.contiguous_format"}], ids=str)
def test_like_keywords(name, extra, kwargs):
    src = np.ones((2, 3), dtype=np.float32)
    n = getattr(ndgrad, name)(ndgrad.tensor(src), *extra,
                              **{k: getattr(ndgrad, v[4:]) if isinstance(v, str) and v.startswith("LIB.") else v
                                 for k, v in kwargs.items()})
    t = getattr(torch, name)(torch.tensor(src), *extra,
                             **{k: getattr(torch, v[4:]) if isinstance(v, str) and v.startswith("LIB.") else v
                                for k, v in kwargs.items()})
    same(n, t, values=name in ("zeros_like", "ones_like", "full_like"))


def test_randint_forms():
    for args, kwargs in [((10, (3,)), {}), ((3, 10, (2, 2)), {}), ((), {"low": 3, "high": 10, "size": (4,)}),
                         ((), {"high": 5, "size": (3,)}), ((2, 4, (5,)), {"dtype": ndgrad.int32})]:
        n = ndgrad.randint(*args, **kwargs)
        t_kwargs = {k: (torch.int32 if v is ndgrad.int32 else v) for k, v in kwargs.items()}
        t = torch.randint(*args, **t_kwargs)
        same(n, t, values=False)
    v = ndgrad.randint(3, 10, (1000,)).numpy()
    assert v.min() >= 3 and v.max() < 10
    assert sorted(ndgrad.randperm(6).tolist()) == list(range(6))
    same(ndgrad.randperm(5, dtype=ndgrad.int32), torch.randperm(5, dtype=torch.int32), values=False)


def test_out_keyword():
    for name, args in [("zeros", (2, 3)), ("ones", (4,)), ("arange", (5,)), ("linspace", (0, 1, 4)),
                       ("full", ((2, 2), 3.0)), ("eye", (3,)), ("rand", (3,)), ("randn", (2, 2))]:
        n_out, t_out = ndgrad.empty(0), torch.empty(0)
        n = getattr(ndgrad, name)(*args, out=n_out)
        t = getattr(torch, name)(*args, out=t_out)
        assert n is n_out
        same(n, t, values=name not in ("rand", "randn"))
    target = ndgrad.zeros(5, dtype=ndgrad.float64)
    ndgrad.arange(5, out=target)
    assert target.dtype == ndgrad.float64 and target.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_layout_and_memory_format_objects():
    assert repr(ndgrad.strided) == "ndgrad.strided" and repr(ndgrad.sparse_coo) == "ndgrad.sparse_coo"
    for name in ["contiguous_format", "channels_last", "channels_last_3d", "preserve_format"]:
        fmt = getattr(ndgrad, name)
        assert isinstance(fmt, ndgrad.memory_format) and repr(fmt) == f"ndgrad.{name}"
    assert ndgrad.zeros(2).layout is ndgrad.strided
    assert ndgrad.empty(2, 3, 4, 5, memory_format=ndgrad.channels_last).shape == (2, 3, 4, 5)
    import pickle
    assert pickle.loads(pickle.dumps(ndgrad.channels_last)) is ndgrad.channels_last


def test_size_errors():
    check_error(lambda: ndgrad.ones(2.5, 3), ["ones", "size", "float"], exc=TypeError,
                torch_fn=lambda: torch.ones(2.5, 3))
    check_error(lambda: ndgrad.zeros((2, 1.0)), ["zeros", "size", "float"], exc=TypeError,
                torch_fn=lambda: torch.zeros((2, 1.0)))
    check_error(lambda: ndgrad.ones(True), ["ones", "size", "bool"], exc=TypeError, torch_fn=lambda: torch.ones(True))
    check_error(lambda: ndgrad.ones("3"), ["ones", "size", "str"], exc=TypeError, torch_fn=lambda: torch.ones("3"))
    check_error(lambda: ndgrad.ones(2 ** 70), ["ones", "too large", "64 bits"], exc=RuntimeError,
                torch_fn=lambda: torch.ones(2 ** 70))
    check_error(lambda: ndgrad.zeros(10 ** 12, 10 ** 12), ["zeros", r"\(1000000000000, 1000000000000\)", "bytes"],
                exc=RuntimeError, torch_fn=lambda: torch.zeros(10 ** 12, 10 ** 12))
    check_error(lambda: ndgrad.empty(2 ** 40, 2 ** 30), ["empty", "bytes"], exc=RuntimeError,
                torch_fn=lambda: torch.empty(2 ** 40, 2 ** 30))
    check_error(lambda: ndgrad.ones(), ["ones", "size"], exc=TypeError, torch_fn=lambda: torch.ones())
    check_error(lambda: ndgrad.ones(-1, 2), ["ones", "negative"], exc=RuntimeError, torch_fn=lambda: torch.ones(-1, 2))
    check_error(lambda: ndgrad.full((2,), 1.0, layout=ndgrad.sparse_coo), ["full", "layout"])
    check_error(lambda: ndgrad.zeros(2, 3, size=(2, 3)), ["zeros", "size"], exc=TypeError)
    check_error(lambda: ndgrad.zeros(2, sizes=(2,)), ["zeros", "sizes"], exc=TypeError,
                torch_fn=lambda: torch.zeros(2, sizes=(2,)))
    check_error(lambda: ndgrad.arange(0, 5, 0), ["arange", "step"], torch_fn=lambda: torch.arange(0, 5, 0))
    check_error(lambda: ndgrad.linspace(0, 1, -2), ["linspace", "steps"], torch_fn=lambda: torch.linspace(0, 1, -2))
    check_error(lambda: ndgrad.randint(5, 2, (3,)), ["randint", "low"], torch_fn=lambda: torch.randint(5, 2, (3,)))


def test_integer_like_sizes_are_accepted():
    same(ndgrad.zeros(np.int64(2), ndgrad.tensor(3)), torch.zeros(np.int64(2), torch.tensor(3)))
    same(ndgrad.ones(ndgrad.zeros(2, 5).shape), torch.ones(torch.zeros(2, 5).shape))


def test_range_is_inclusive():
    same(ndgrad.range(0, 3), torch.range(0, 3))
    same(ndgrad.range(1, 2, 0.25, dtype=ndgrad.float64), torch.range(1, 2, 0.25, dtype=torch.float64))


# -- Tensor.new_* -----------------------------------------------------------------------------------
NEW = [
    ("new_zeros", ((2, 3),), {}), ("new_zeros", (2, 3), {}), ("new_ones", ((4,),), {"dtype": "LIB.int64"}),
    ("new_empty", ((2, 2),), {}), ("new_full", ((2, 3), 7), {}), ("new_full", ((2,), 1.5), {"requires_grad": True}),
    ("new_ones", ((3,),), {"requires_grad": True}), ("new_zeros", (), {"size": (2, 1)}),
    ("new_tensor", ([1, 2, 3],), {}), ("new_tensor", ([[1.5, 2.0]],), {"dtype": "LIB.float32"}),
    ("new_tensor", ([True, False],), {}), ("new_tensor", (2.5,), {"requires_grad": True}),
    ("new_empty_strided", ((2, 3), (3, 1)), {}),
]


@pytest.mark.parametrize("name,args,kwargs", NEW, ids=[f"{n[0]}{n[1]}{sorted(n[2])}" for n in NEW])
@pytest.mark.parametrize("src_dtype", ["float64", "int32", "float32"])
def test_new_methods(name, args, kwargs, src_dtype):
    if kwargs.get("requires_grad") and src_dtype == "int32" and "dtype" not in kwargs:
        kwargs = dict(kwargs, dtype="LIB.float64")  # only float tensors can require grad
    outs = []
    for lib in (ndgrad, torch):
        src = lib.ones(2, dtype=getattr(lib, src_dtype))
        kw = {k: getattr(lib, v[4:]) if isinstance(v, str) and v.startswith("LIB.") else v for k, v in kwargs.items()}
        outs.append(getattr(src, name)(*args, **kw))
    same(*outs, values=name not in ("new_empty", "new_empty_strided"))
    assert outs[0].device == ndgrad.device("cpu")


def test_new_tensor_copies_and_detaches():
    x = ndgrad.ones(3, requires_grad=True)
    y = x.new_tensor(x)
    assert not y.requires_grad and y.grad_fn is None
    y.add_(1)
    assert x.tolist() == [1.0, 1.0, 1.0]
    data = np.arange(3.0)
    z = ndgrad.zeros(1, dtype=ndgrad.float64).new_tensor(data)
    data[0] = 99.0
    assert z.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.cuda
def test_gpu_creation_keywords():
    for t in [ndgrad.zeros(size=(2, 3), device="cuda"), ndgrad.full((2,), 1.5, device="cuda"),
              ndgrad.arange(end=4, device="cuda"), ndgrad.empty_strided((2, 2), (2, 1), device="cuda"),
              ndgrad.ones(3).new_zeros(2, device="cuda"), ndgrad.zeros_like(ndgrad.ones(2, device="cuda"))]:
        assert t.device.type == "cuda"
    x = ndgrad.ones(2, device="cuda", dtype=ndgrad.float64)
    assert x.new_ones(3).device.type == "cuda" and x.new_tensor([1, 2]).dtype == ndgrad.float64

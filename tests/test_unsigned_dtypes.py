"""uint16 / uint32 / uint64 (PyTorch's limited-support unsigned dtypes) and hash_tensor, against torch."""
import pickle
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, dtype_name, to_numpy

UNSIGNED = ("uint16", "uint32", "uint64")
OLD_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
              "complex64", "complex128")
rng = np.random.default_rng(0)


def nd(name):
    return getattr(ndgrad, name)


def th(name):
    return getattr(torch, name)


def assert_like_torch(n, t):
    """Same shape, dtype and exact values as a torch tensor."""
    assert isinstance(n, ndgrad.Tensor), type(n)
    assert tuple(n.shape) == tuple(t.shape), f"{tuple(n.shape)} != {tuple(t.shape)}"
    assert dtype_name(n.dtype) == dtype_name(t.dtype), f"{n.dtype} != {t.dtype}"
    if t.dtype == torch.bfloat16:  # NumPy has no bfloat16 for torch to export: compare exactly in float32
        n, t = n.float(), t.float()
    np.testing.assert_array_equal(to_numpy(n), t.numpy())


def unsigned_array(shape, name, big=True):
    """Random values of an unsigned dtype, over its whole range (``big``) or small enough for any dtype."""
    high = int(np.iinfo(name).max) if big else 100
    return rng.integers(0, high, size=shape, dtype=name, endpoint=True)


def both(array):
    """(ndgrad tensor, torch tensor) holding copies of ``array``."""
    return ndgrad.from_numpy(array.copy()), torch.from_numpy(array.copy())


# --- the dtype objects ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", UNSIGNED)
def test_dtype_properties_like_torch(name):
    d, t = nd(name), th(name)
    assert (d.is_floating_point, d.is_signed, d.is_complex, d.itemsize) == \
           (t.is_floating_point, t.is_signed, t.is_complex, t.itemsize)
    assert repr(d) == f"ndgrad.{name}" and str(d) == repr(d)
    info, t_info = ndgrad.iinfo(d), torch.iinfo(t)
    assert (info.min, info.max, info.bits) == (t_info.min, t_info.max, t_info.bits)
    assert pickle.loads(pickle.dumps(d)) is d
    assert ndgrad.dtypes.to_dtype(f"torch.{name}") is d and ndgrad.dtypes.to_dtype(np.dtype(name)) is d
    x = ndgrad.zeros(2, dtype=d)
    assert (x.is_signed(), x.element_size(), x.is_floating_point()) == (False, t.itemsize, False)
    assert x.type() == torch.zeros(2, dtype=t).type().replace("torch.", "ndgrad.")


# --- creation ----------------------------------------------------------------------------------------

CREATE = [
    ("tensor list", lambda L, d: L.tensor([[1, 2, 3], [4, 5, 6]], dtype=d)),
    ("tensor max", lambda L, d: L.tensor([0, int(L.iinfo(d).max), 5], dtype=d)),
    ("tensor 0-d", lambda L, d: L.tensor(7, dtype=d)),
    ("tensor empty", lambda L, d: L.tensor([], dtype=d)),
    ("zeros", lambda L, d: L.zeros(2, 3, dtype=d)),
    ("ones", lambda L, d: L.ones((0, 2), dtype=d)),
    ("full", lambda L, d: L.full((2,), 9, dtype=d)),
    ("full max", lambda L, d: L.full((2,), int(L.iinfo(d).max), dtype=d)),
    ("zeros_like", lambda L, d: L.zeros_like(L.tensor([1, 2], dtype=d))),
    ("ones_like", lambda L, d: L.ones_like(L.tensor([1, 2], dtype=d))),
    ("full_like", lambda L, d: L.full_like(L.tensor([1, 2], dtype=d), 4)),
    ("new_zeros", lambda L, d: L.tensor([1, 2], dtype=d).new_zeros(3)),
    ("new_full", lambda L, d: L.tensor([1, 2], dtype=d).new_full((2,), 5)),
    ("empty shape", lambda L, d: L.zeros(L.empty(2, 3, dtype=d).shape, dtype=L.empty(1, dtype=d).dtype)),
]


@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("case", CREATE, ids=[c[0] for c in CREATE])
def test_creation_like_torch(case, name):
    make = case[1]
    assert_like_torch(make(ndgrad, nd(name)), make(torch, th(name)))


@pytest.mark.parametrize("name", ["uint16", "uint32"])  # torch.tensor refuses floats for uint64 (TypeError)
def test_tensor_from_floats_truncates(name):
    assert_like_torch(ndgrad.tensor([1.7, 2.2, 0.5], dtype=nd(name)), torch.tensor([1.7, 2.2, 0.5], dtype=th(name)))


@pytest.mark.parametrize("name", UNSIGNED)
def test_randint_and_numpy_inputs(name):
    r = ndgrad.randint(3, 9, (50,), dtype=nd(name))
    assert r.dtype is nd(name) and 3 <= int(r.min()) and int(r.max()) < 9
    a = unsigned_array((2, 3), name)
    assert_like_torch(ndgrad.tensor(a), torch.tensor(a))
    assert_like_torch(ndgrad.as_tensor(a), torch.as_tensor(a))
    shared = ndgrad.from_numpy(a)
    a[0, 0] = 3
    assert shared.dtype is nd(name) and int(shared[0, 0]) == 3  # memory is shared, as torch.from_numpy


# --- conversion both ways, NumPy, DLPack --------------------------------------------------------------

@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("other", OLD_DTYPES + UNSIGNED)
def test_to_and_from_every_dtype(name, other):
    small = unsigned_array((2, 3), name, big=False)
    n, t = both(small)
    assert_like_torch(n.to(nd(other)), t.to(th(other)))
    assert_like_torch(n.t().to(nd(other)), t.t().to(th(other)))  # non-contiguous source
    src_n, src_t = n.to(nd(other)), t.to(th(other))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex -> real: both libraries warn that the imaginary part goes
        assert_like_torch(src_n.to(nd(name)), src_t.to(th(name)))


@pytest.mark.parametrize("name", UNSIGNED)
def test_whole_range_to_wider_and_signed(name):
    n, t = both(unsigned_array((40,), name))
    for other in ("int64", "float32", "float64", "uint64"):
        assert_like_torch(n.to(nd(other)), t.to(th(other)))
    assert n.tolist() == t.tolist()
    assert n[3].item() == t[3].item() and type(n[3].item()) is int
    small_n, small_t = both(unsigned_array((4,), name, big=False))
    assert [int(v) for v in small_n] == [int(v) for v in small_t]


@pytest.mark.parametrize("name", UNSIGNED)
def test_numpy_and_dlpack_round_trips(name):
    a = unsigned_array((3, 4), name)
    n = ndgrad.from_numpy(a.copy())
    assert n.numpy().dtype == np.dtype(name) and np.asarray(n).dtype == np.dtype(name)
    np.testing.assert_array_equal(n.numpy(), a)
    from_torch = ndgrad.from_dlpack(torch.from_numpy(a.copy()))
    assert from_torch.dtype is nd(name)
    np.testing.assert_array_equal(from_torch.numpy(), a)
    to_torch = torch.from_dlpack(n)
    assert to_torch.dtype == th(name)
    np.testing.assert_array_equal(to_torch.numpy(), a)
    np.testing.assert_array_equal(np.from_dlpack(n), a)


def test_save_load_round_trip(tmp_path):
    state = {name: ndgrad.from_numpy(unsigned_array((2, 3), name)) for name in UNSIGNED}
    state["scalar"] = ndgrad.tensor(int(np.iinfo("uint64").max), dtype=ndgrad.uint64)
    path = tmp_path / "unsigned.safetensors"
    ndgrad.save(state, path)
    back = ndgrad.load(path)
    for key, value in state.items():
        assert back[key].dtype is value.dtype
        np.testing.assert_array_equal(back[key].numpy(), value.numpy())
    from safetensors.torch import load_file  # torch reads the same file with the same dtypes
    for key, value in load_file(str(path)).items():
        assert_like_torch(back[key], value)


@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("data", [[1, 2, 3], "max", [[1, 20], [300, 4]], [], 7, [[[5]]]], ids=str)
def test_repr_like_torch(name, data):
    if data == "max":
        data = [int(np.iinfo(name).max), 5]
    n, t = ndgrad.tensor(data, dtype=nd(name)), torch.tensor(data, dtype=th(name))
    assert repr(n) == repr(t).replace("torch.", "ndgrad.")
    assert str(n) == str(t).replace("torch.", "ndgrad.")


# --- the ops PyTorch supports on them ----------------------------------------------------------------

OPS = [
    ("mul", lambda a, b: a * b), ("mul scalar", lambda a, b: a * 3), ("rmul scalar", lambda a, b: 3 * a),
    ("mul -1 wraps", lambda a, b: a * -1), ("mul True", lambda a, b: a * True),
    ("div", lambda a, b: a / (b | 1)), ("div scalar", lambda a, b: a / 4),
    ("add float scalar", lambda a, b: a + 1.5), ("mul complex scalar", lambda a, b: a * 1j),
    ("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b), ("eq scalar", lambda a, b: a == 5),
    ("and", lambda a, b: a & b), ("or", lambda a, b: a | b), ("xor", lambda a, b: a ^ b),
    ("and scalar", lambda a, b: a & 6), ("rand scalar", lambda a, b: 6 & a), ("xor scalar", lambda a, b: a ^ 5),
    ("sum", lambda a, b: a.sum()), ("sum dim", lambda a, b: a.sum(-1)), ("prod", lambda a, b: a.prod()),
    ("cumsum", lambda a, b: a.cumsum(-1)), ("any", lambda a, b: a.any()), ("all", lambda a, b: a.all()),
    ("sort", lambda a, b: a.sort(-1)[0]), ("unique", lambda a, b: a.unique()),
    ("clone", lambda a, b: a.clone()), ("contiguous", lambda a, b: a.contiguous()),
    ("reshape", lambda a, b: a.reshape(-1)), ("transpose", lambda a, b: a.transpose(0, -1)),
    ("unsqueeze", lambda a, b: a.unsqueeze(0)), ("expand", lambda a, b: a[..., :1].expand(*a.shape)),
    ("int index", lambda a, b: a[1]), ("slice", lambda a, b: a[::2]), ("index tensor", lambda a, b: a[[0, 2, 2]]),
    ("bool mask", lambda a, b: a[a == b]), ("flatten", lambda a, b: a.flatten()),
    ("isnan", lambda a, b: a.isnan()), ("isfinite", lambda a, b: a.isfinite()), ("float", lambda a, b: a.float()),
    ("sqrt", lambda a, b: a.sqrt()), ("true_divide by float tensor", lambda a, b: a / b.double()),
]
LIB_OPS = [  # functions of the library namespace
    ("cat", lambda L, a, b: L.cat([a, b])), ("stack", lambda L, a, b: L.stack([a, b], -1)),
    ("equal", lambda L, a, b: L.tensor(L.equal(a, b))), ("bitwise_and", lambda L, a, b: L.bitwise_and(a, b)),
    ("mul 0-d int64", lambda L, a, b: a * L.tensor(3)),
    ("mul 0-d uint8", lambda L, a, b: a * L.tensor(3, dtype=L.uint8)),
    ("mul float32", lambda L, a, b: a * b.to(L.float32)), ("mul float16", lambda L, a, b: a * b.to(L.float16)),
    ("add float64", lambda L, a, b: a + b.to(L.float64)), ("mul 0-d complex128", lambda L, a, b: a * L.tensor(1j)),
    ("int64 tensor * 0-d unsigned", lambda L, a, b: L.ones(3, dtype=L.int64) * a.flatten()[0]),
]


def _inputs(name, shape, contiguous):
    a, b = unsigned_array(shape, name), unsigned_array(shape, name)
    b.flat[::2] = a.flat[::2]  # some equal elements, so eq/ne/mask are not constant
    if not contiguous:
        a, b = np.swapaxes(a, 0, -1), np.swapaxes(b, 0, -1)
    return both(a), both(b)


SHAPES = [(3, 4), (4, 1, 3), (3, 0)]


@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("case", OPS, ids=[c[0] for c in OPS])
def test_tensor_ops_like_torch(case, shape, contiguous, name):
    (na, ta), (nb, tb) = _inputs(name, shape, contiguous)
    op = case[1]
    try:
        t_out = op(ta, tb)
    except IndexError:  # indexing past a size-0 dim: ndgrad must refuse it too
        with pytest.raises(IndexError):
            op(na, nb)
        return
    n_out = op(na, nb)
    if dtype_name(t_out.dtype) in ("float32", "float64", "complex64"):
        assert dtype_name(n_out.dtype) == dtype_name(t_out.dtype) and n_out.shape == t_out.shape
        np.testing.assert_allclose(to_numpy(n_out), t_out.numpy(), rtol=1e-6)
    else:
        assert_like_torch(n_out, t_out)


@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("case", LIB_OPS, ids=[c[0] for c in LIB_OPS])
def test_library_ops_like_torch(case, name):
    (na, ta), (nb, tb) = _inputs(name, (3, 4), True)
    n_out, t_out = case[1](ndgrad, na, nb), case[1](torch, ta, tb)
    if dtype_name(t_out.dtype).startswith(("float", "complex")):
        assert dtype_name(n_out.dtype) == dtype_name(t_out.dtype)
        np.testing.assert_allclose(to_numpy(n_out), t_out.numpy(), rtol=1e-6)
    else:
        assert_like_torch(n_out, t_out)


@pytest.mark.parametrize("name", UNSIGNED)
def test_writes_like_torch(name):
    (na, ta), (nb, tb) = _inputs(name, (3, 4), True)
    for n, t in ((na, ta), (nb, tb)):
        n[0, 1] = 7
        t[0, 1] = 7
        n[1] = n[2]
        t[1] = t[2]
        n[:, 0] = ndgrad.tensor([1, 2, 3])  # an int64 source is cast into the unsigned tensor, as in torch
        t[:, 0] = torch.tensor([1, 2, 3])
    assert_like_torch(na, ta)
    assert_like_torch(na.clone().copy_(nb), ta.clone().copy_(tb))
    assert_like_torch(na.clone().copy_(ndgrad.tensor([[1.9] * 4] * 3)), ta.clone().copy_(torch.tensor([[1.9] * 4] * 3)))
    assert_like_torch(na.clone().fill_(5), ta.clone().fill_(5))
    assert_like_torch(na.clone().mul_(3), ta.clone().mul_(3))


@pytest.mark.parametrize("name", UNSIGNED)
def test_never_require_grad(name):
    check_error(lambda: ndgrad.ones(2, dtype=nd(name)).requires_grad_(), "floating.point",
                torch_fn=lambda: torch.ones(2, dtype=th(name)).requires_grad_())


# --- promotion: only with floating point, as in PyTorch -------------------------------------------

PROMOTION_ERRORS = [  # (other operand's dtype) -> PyTorch refuses to promote
    "bool", "uint8", "int8", "int16", "int32", "int64", "complex64", "complex128",
]


@pytest.mark.parametrize("name", UNSIGNED)
def test_promotion_with_itself(name):
    assert ndgrad.promote_types(nd(name), nd(name)) is nd(name)
    assert_like_torch(ndgrad.ones(2, dtype=nd(name)) * ndgrad.ones(2, dtype=nd(name)),
                      torch.ones(2, dtype=th(name)) * torch.ones(2, dtype=th(name)))


@pytest.mark.parametrize("name, other", [(n, o) for n in UNSIGNED for o in PROMOTION_ERRORS + list(UNSIGNED) if o != n])
def test_promotion_with_other_dtypes_raises(name, other):
    message = [r"Promotion for uint16, uint32, uint64 types is not supported", f"{name} and {other}", r"\.to\("]
    check_error(lambda: ndgrad.promote_types(nd(name), nd(other)), message, RuntimeError,
                torch_fn=lambda: torch.promote_types(th(name), th(other)))
    a, b = ndgrad.ones(3, dtype=nd(name)), ndgrad.ones(3, dtype=nd(other))
    check_error(lambda: a * b, message, RuntimeError,
                torch_fn=lambda: torch.ones(3, dtype=th(name)) * torch.ones(3, dtype=th(other)))
    reverse = [message[0], f"{other} and {name}"]
    check_error(lambda: b * a, reverse, RuntimeError,
                torch_fn=lambda: torch.ones(3, dtype=th(other)) * torch.ones(3, dtype=th(name)))


@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("other", ["float16", "bfloat16", "float32", "float64"])
def test_promotion_with_floats_like_torch(name, other):
    got = ndgrad.promote_types(nd(name), nd(other))
    assert dtype_name(got) == dtype_name(torch.promote_types(th(name), th(other)))
    assert ndgrad.promote_types(nd(other), nd(name)) is got


@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("scalar", [3, True, 2.5, 1j, -1])
def test_result_type_with_python_scalars_like_torch(name, scalar):
    got = ndgrad.result_type(ndgrad.ones(2, dtype=nd(name)), scalar)
    assert dtype_name(got) == dtype_name(torch.result_type(torch.ones(2, dtype=th(name)), scalar))


def test_bool_tensor_with_unsigned_0d_raises_like_torch():
    check_error(lambda: ndgrad.ones(2, dtype=ndgrad.bool) * ndgrad.tensor(2, dtype=ndgrad.uint16),
                "attempted to promote bool and uint16", RuntimeError,
                torch_fn=lambda: torch.ones(2, dtype=torch.bool) * torch.tensor(2, dtype=torch.uint16))


def test_promotion_of_existing_dtypes_unchanged():
    for a in OLD_DTYPES:
        for b in OLD_DTYPES:
            got = dtype_name(ndgrad.promote_types(nd(a), nd(b)))
            assert got == dtype_name(torch.promote_types(th(a), th(b))), (a, b)


# --- hash_tensor ---------------------------------------------------------------------------------------

HASHABLE = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


def hash_inputs(shape, name, contiguous=True):
    """The same random values as an ndgrad and a torch tensor (bfloat16 through float32 in both)."""
    if name == "bool":
        a = rng.random(shape) < 0.5
    elif name.startswith(("int", "uint")):
        info = np.iinfo(name)
        a = rng.integers(info.min, info.max, size=shape, dtype=name, endpoint=True)
    else:
        a = (rng.standard_normal(shape) * 100).astype("float32" if name == "bfloat16" else name)
    a = np.asarray(a) if contiguous else np.swapaxes(a, 0, -1)
    n, t = both(a)
    if name == "bfloat16":
        n, t = n.bfloat16(), t.bfloat16()
    return n, t


HASH_CALLS = [
    ("all", lambda L, x: L.hash_tensor(x)), ("all keepdim", lambda L, x: L.hash_tensor(x, keepdim=True)),
    ("dim None", lambda L, x: L.hash_tensor(x, None)), ("dim ()", lambda L, x: L.hash_tensor(x, ())),
    ("dim []", lambda L, x: L.hash_tensor(x, [])), ("dim 0", lambda L, x: L.hash_tensor(x, 0)),
    ("dim -1 keepdim", lambda L, x: L.hash_tensor(x, -1, keepdim=True)),
    ("dim tuple", lambda L, x: L.hash_tensor(x, (0, x.ndim - 1) if x.ndim > 1 else (0,))),
    ("dim list keepdim", lambda L, x: L.hash_tensor(x, [-1, 0] if x.ndim > 1 else [-1], keepdim=True)),
    ("method", lambda L, x: x.hash_tensor(dim=-1)),
    ("method mode 0", lambda L, x: x.hash_tensor(0, keepdim=True, mode=0)),
]


@pytest.mark.parametrize("name", HASHABLE)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (1, 1)], ids=str)
@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("call", HASH_CALLS, ids=[c[0] for c in HASH_CALLS])
def test_hash_tensor_bit_for_bit(call, shape, contiguous, name):
    n, t = hash_inputs(shape, name, contiguous)
    assert_like_torch(call[1](ndgrad, n), call[1](torch, t))


@pytest.mark.parametrize("name", ["float32", "int64", "bool"])
@pytest.mark.parametrize("dim", [0, -1, (0,), None])
def test_hash_tensor_0d(name, dim):
    n, t = hash_inputs((), name)
    assert_like_torch(ndgrad.hash_tensor(n, dim), torch.hash_tensor(t, dim))
    assert_like_torch(ndgrad.hash_tensor(n, dim, keepdim=True), torch.hash_tensor(t, dim, keepdim=True))


@pytest.mark.parametrize("shape, dim", [((0, 3), 1), ((2, 0, 4), (0, 2)), ((0,), ()), ((3, 0), 0)], ids=str)
def test_hash_tensor_size_zero(shape, dim):
    n, t = hash_inputs(shape, "float32")
    if 0 in [shape[d] for d in ((dim,) if isinstance(dim, int) else dim)] or dim == ():
        kind = IndexError if dim != () else RuntimeError
        check_error(lambda: ndgrad.hash_tensor(n, dim), ["hash_tensor", "Expected reduction dim", str(shape)], kind,
                    torch_fn=lambda: torch.hash_tensor(t, dim))
    else:
        assert_like_torch(ndgrad.hash_tensor(n, dim), torch.hash_tensor(t, dim))
        assert_like_torch(ndgrad.hash_tensor(n, dim, keepdim=True), torch.hash_tensor(t, dim, keepdim=True))


SPECIAL_FLOAT_BITS = {  # NaNs with payloads (quiet and signalling), infinities, signed zeros, subnormals
    "float16": [0x7E00, 0x7E01, 0x7C01, 0xFE55, 0x7C00, 0xFC00, 0x8000, 0x0000, 0x0001, 0x03FF],
    "float32": [0x7FC00000, 0x7FC00001, 0x7F800001, 0xFFC12345, 0x7F800000, 0xFF800000, 0x80000000, 0x1, 0x7FFFFF],
    "float64": [0x7FF8000000000001, 0x7FF0000000000001, 0xFFF8123456789ABC, 0x7FF0000000000000,
                0x8000000000000000, 0x1],
}


@pytest.mark.parametrize("name", list(SPECIAL_FLOAT_BITS))
def test_hash_tensor_special_floats(name):
    bits = np.array(SPECIAL_FLOAT_BITS[name], dtype=f"uint{np.dtype(name).itemsize * 8}")
    values = bits.view(name)
    for i in range(values.size):  # each alone, so no xor can hide a wrong one
        n, t = both(values[i:i + 1])
        assert_like_torch(ndgrad.hash_tensor(n), torch.hash_tensor(t))
    n, t = both(values)
    assert_like_torch(ndgrad.hash_tensor(n, 0), torch.hash_tensor(t, 0))


def test_hash_tensor_is_not_differentiable_and_writes_out():
    x = ndgrad.randn(3, 4, requires_grad=True)
    h = ndgrad.hash_tensor(x * 2, 1)
    assert h.dtype is ndgrad.uint64 and not h.requires_grad and h.grad_fn is None
    out = ndgrad.empty(3, dtype=ndgrad.uint64)
    assert ndgrad.hash_tensor(x.detach(), 1, out=out) is out
    t = torch.from_numpy(x.detach().numpy().copy())
    assert_like_torch(out, torch.hash_tensor(t, 1))


HASH_ERRORS = [  # (name, call on a library, exception, message fragments)
    ("mode 1", lambda L: L.hash_tensor(L.ones(2, 2), mode=1), RuntimeError, ["Unknown hash_tensor mode: 1"]),
    ("complex", lambda L: L.hash_tensor(L.ones(2, dtype=L.complex64)), NotImplementedError,
     ["hash_tensor", "complex64", "view_as_real"]),
    ("uint16", lambda L: L.hash_tensor(L.ones(2, dtype=L.uint16)), NotImplementedError, ["hash_tensor", "uint16"]),
    ("uint32", lambda L: L.hash_tensor(L.ones(2, 3, dtype=L.uint32), 1), NotImplementedError, ["uint32"]),
    ("uint64", lambda L: L.hash_tensor(L.ones(2, dtype=L.uint64)), NotImplementedError, ["uint64", r"to\("]),
    ("empty all", lambda L: L.hash_tensor(L.ones(0, 2)), RuntimeError, ["numel\\(\\) == 0", "dim"]),
    ("empty reduced dim", lambda L: L.hash_tensor(L.ones(0, 2), (1, 0)), IndexError, ["reduction dim 0"]),
    ("dim out of range", lambda L: L.hash_tensor(L.ones(2, 2), 2), IndexError, ["hash_tensor", "out of range"]),
    ("repeated dim", lambda L: L.hash_tensor(L.ones(2, 2), (0, -2)), RuntimeError, ["more than once"]),
    ("dim str", lambda L: L.hash_tensor(L.ones(2), "a"), TypeError, ["dim", "str"]),
    ("dim float", lambda L: L.hash_tensor(L.ones(2), 1.0), TypeError, ["dim", "float"]),
    ("keepdim positional", lambda L: L.hash_tensor(L.ones(2), 0, True), TypeError, ["positional"]),
    ("not a tensor", lambda L: L.hash_tensor([1, 2]), TypeError, ["Tensor", "list"]),
]


@pytest.mark.parametrize("case", HASH_ERRORS, ids=[c[0] for c in HASH_ERRORS])
def test_hash_tensor_errors_like_torch(case):
    _, call, exc, fragments = case
    with pytest.raises(exc):
        call(torch)
    check_error(lambda: call(ndgrad), fragments, exc)


@pytest.mark.cuda
def test_unsigned_and_hash_tensor_on_the_gpu():
    for name in UNSIGNED:
        a = unsigned_array((3, 4), name)
        g = ndgrad.from_numpy(a.copy()).to("cuda")
        assert g.dtype is nd(name) and g.device.type == "cuda"
        np.testing.assert_array_equal(g.cpu().numpy(), a)
        np.testing.assert_array_equal((g * 3).cpu().numpy(), (ndgrad.from_numpy(a.copy()) * 3).numpy())
    for name in ("float16", "float32", "float64", "int8", "int64", "uint8", "bool"):
        n, _ = hash_inputs((5, 6), name)
        for dim in ((), 0, (0, 1)):
            on_gpu = ndgrad.hash_tensor(n.to("cuda"), dim, keepdim=True)
            assert on_gpu.device.type == "cuda"
            np.testing.assert_array_equal(on_gpu.cpu().numpy(), ndgrad.hash_tensor(n, dim, keepdim=True).numpy())

"""The array API namespace (``tensor.__array_namespace__()``): its key semantics, where they differ from the
PyTorch-flavoured ``ndgrad`` namespace. NumPy 2.x implements the standard, so it is the reference for values;
PyTorch is the reference for gradients. The full conformance suite (data-apis/array-api-tests) runs outside
this test suite: see docs/readme/interop.md."""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, random_array

xp = ndgrad.ones(1).__array_namespace__()


def A(array):
    """An ndgrad array from a numpy array (copied, so the numpy reference stays untouched)."""
    return xp.asarray(np.array(array))


def same(out, expected, dtype=None):
    expected = np.asarray(expected)
    assert tuple(out.shape) == expected.shape, (tuple(out.shape), expected.shape)
    assert out.dtype is (dtype or getattr(xp, expected.dtype.name)), (out.dtype, expected.dtype)
    np.testing.assert_allclose(np.asarray(out._data), expected, rtol=1e-6, atol=1e-12, equal_nan=True)


x34 = random_array((3, 4), "float64")
x234 = random_array((2, 3, 4), "float64")
i8 = random_array((5,), "int8", low=-5, high=5)
ties = np.array([3, 1, 3, 2, 1, 3], dtype=np.int64)
with_nans = np.array([1.0, np.nan, 1.0, np.nan, 2.0])
c34 = x34 + 1j * random_array((3, 4), "float64")
c33 = (c34[:3, :3] + 4 * np.eye(3)).astype(np.complex128)
hpd = c33 @ c33.conj().T  # Hermitian positive definite
c_special = np.array([0j, np.nan + 1j, 1 - 2j, np.inf + 0j], dtype=np.complex64)

# (name, ndgrad call, numpy call): values and dtype must agree.
CASES = [
    ("std correction=0 by default", lambda: xp.std(A(x34)), lambda: np.std(x34)),
    ("var correction=1 on axes", lambda: xp.var(A(x234), axis=(0, 2), correction=1),
     lambda: np.var(x234, axis=(0, 2), ddof=1)),
    ("sum axis tuple keepdims", lambda: xp.sum(A(x234), axis=(0, 2), keepdims=True),
     lambda: np.sum(x234, axis=(0, 2), keepdims=True)),
    ("sum int8 -> default int", lambda: xp.sum(A(i8)), lambda: np.sum(i8, dtype=np.int64)),
    ("prod axis tuple", lambda: xp.prod(A(x234), axis=(1, 2)), lambda: np.prod(x234, axis=(1, 2))),
    ("max axis", lambda: xp.max(A(x234), axis=1), lambda: np.max(x234, axis=1)),
    ("min keepdims", lambda: xp.min(A(x34), axis=-1, keepdims=True), lambda: np.min(x34, axis=-1, keepdims=True)),
    ("mean of a 0-d array", lambda: xp.mean(A(np.float64(2.5))), lambda: np.mean(np.float64(2.5))),
    ("argmax keepdims", lambda: xp.argmax(A(x34), axis=1, keepdims=True),
     lambda: np.argmax(x34, axis=1, keepdims=True)),
    ("count_nonzero axis", lambda: xp.count_nonzero(A(ties - 1), axis=0), lambda: np.count_nonzero(ties - 1, 0)),
    ("cumulative_sum include_initial", lambda: xp.cumulative_sum(A(x34), axis=1, include_initial=True),
     lambda: np.cumulative_sum(x34, axis=1, include_initial=True)),
    ("cumulative_prod", lambda: xp.cumulative_prod(A(x34[0])), lambda: np.cumulative_prod(x34[0])),
    ("concat axis=None", lambda: xp.concat([A(x34), A(x234)], axis=None),
     lambda: np.concat([x34, x234], axis=None)),
    ("concat promotes", lambda: xp.concat([A(i8), A(x34[0])]), lambda: np.concat([i8, x34[0]])),
    ("stack negative axis", lambda: xp.stack([A(x34), A(x34)], axis=-1), lambda: np.stack([x34, x34], axis=-1)),
    ("permute_dims", lambda: xp.permute_dims(A(x234), (2, 0, 1)), lambda: np.permute_dims(x234, (2, 0, 1))),
    ("matrix_transpose", lambda: xp.matrix_transpose(A(x234)), lambda: np.matrix_transpose(x234)),
    ("expand_dims", lambda: xp.expand_dims(A(x34), axis=-1), lambda: np.expand_dims(x34, -1)),
    ("flip all axes", lambda: xp.flip(A(x234)), lambda: np.flip(x234)),
    ("roll flattened", lambda: xp.roll(A(x34), 5), lambda: np.roll(x34, 5)),
    ("repeat flattened", lambda: xp.repeat(A(x34), 2), lambda: np.repeat(x34, 2)),
    ("repeat along an axis", lambda: xp.repeat(A(x34), A(np.array([1, 0, 2])), axis=0),
     lambda: np.repeat(x34, [1, 0, 2], axis=0)),
    ("tile", lambda: xp.tile(A(x34), (2, 1, 2)), lambda: np.tile(x34, (2, 1, 2))),
    ("squeeze", lambda: xp.squeeze(A(x34[:, None]), axis=1), lambda: np.squeeze(x34[:, None], axis=1)),
    ("take negative indices", lambda: xp.take(A(x34), A(np.array([-1, 0])), axis=1),
     lambda: np.take(x34, [-1, 0], axis=1)),
    ("take_along_axis", lambda: xp.take_along_axis(A(x34), A(np.argsort(x34, 1)), axis=1),
     lambda: np.take_along_axis(x34, np.argsort(x34, 1), axis=1)),
    ("sort descending", lambda: xp.sort(A(x34), axis=0, descending=True), lambda: -np.sort(-x34, axis=0)),
    ("argsort stable descending", lambda: xp.argsort(A(ties), descending=True),
     lambda: np.array(sorted(range(6), key=lambda i: -ties[i]))),
    ("unique_values keeps NaNs apart", lambda: xp.unique_values(A(with_nans)),
     lambda: np.unique_values(with_nans)),
    ("unique_counts", lambda: xp.unique_counts(A(ties)).counts, lambda: np.unique_counts(ties).counts),
    ("unique_inverse keeps the shape", lambda: xp.unique_inverse(A(ties.reshape(2, 3))).inverse_indices,
     lambda: np.unique_inverse(ties.reshape(2, 3)).inverse_indices),
    ("unique_all indices", lambda: xp.unique_all(A(ties)).indices, lambda: np.unique_all(ties).indices),
    ("0-d array promotes like any array", lambda: xp.add(A(i8), A(np.int64(3))),
     lambda: np.add(i8, np.int64(3))),
    ("Python int keeps the array dtype", lambda: xp.multiply(A(i8), 3), lambda: np.multiply(i8, 3)),
    ("Python float with float64", lambda: xp.subtract(1.5, A(x34)), lambda: np.subtract(1.5, x34)),
    ("uint8 with int8 -> int16", lambda: xp.add(A(np.arange(3, dtype=np.uint8)), A(i8[:3])),
     lambda: np.add(np.arange(3, dtype=np.uint8), i8[:3])),
    ("floor_divide ints", lambda: xp.floor_divide(A(i8), 3), lambda: np.floor_divide(i8, 3)),
    ("remainder sign", lambda: xp.remainder(A(i8), -3), lambda: np.remainder(i8, -3)),
    ("ceil of ints is the ints", lambda: xp.ceil(A(i8)), lambda: np.ceil(i8)),
    ("bitwise_left_shift", lambda: xp.bitwise_left_shift(A(np.abs(i8)), 2), lambda: np.left_shift(np.abs(i8), 2)),
    ("bitwise_invert", lambda: xp.bitwise_invert(A(i8)), lambda: np.invert(i8)),
    ("clip with array bounds", lambda: xp.clip(A(x34), A(x34[0] * 0), 1.0), lambda: np.clip(x34, x34[0] * 0, 1.0)),
    ("clip int keeps dtype", lambda: xp.clip(A(i8), -2, 2), lambda: np.clip(i8, -2, 2)),
    ("where with scalars", lambda: xp.where(A(x34 > 0), A(x34), 0.0), lambda: np.where(x34 > 0, x34, 0.0)),
    ("searchsorted right", lambda: xp.searchsorted(A(np.sort(ties)), A(ties), side="right"),
     lambda: np.searchsorted(np.sort(ties), ties, side="right")),
    ("nonzero is a tuple", lambda: xp.nonzero(A(x34 > 0))[1], lambda: np.nonzero(x34 > 0)[1]),
    ("diff with prepend", lambda: xp.diff(A(x34), axis=0, n=2, prepend=A(x34[:1])),
     lambda: np.diff(x34, axis=0, n=2, prepend=x34[:1])),
    ("all over an axis", lambda: xp.all(A(x34 > -1), axis=0), lambda: np.all(x34 > -1, axis=0)),
    ("vecdot", lambda: xp.vecdot(A(x234), A(x34)), lambda: np.vecdot(x234, x34)),
    ("tensordot axes pairs", lambda: xp.tensordot(A(x234), A(x34), axes=([1, 2], [0, 1])),
     lambda: np.tensordot(x234, x34, axes=([1, 2], [0, 1]))),
    ("matmul promotes", lambda: xp.matmul(A(i8[:4].reshape(2, 2)), A(x34[:2, :2])),
     lambda: np.matmul(i8[:4].reshape(2, 2), x34[:2, :2])),
    ("meshgrid xy by default", lambda: xp.meshgrid(A(x34[0]), A(x34[1, :3]))[0],
     lambda: np.meshgrid(x34[0], x34[1, :3])[0]),
    ("linspace endpoint=False", lambda: xp.linspace(0, 1, 5, endpoint=False, dtype=xp.float64),
     lambda: np.linspace(0, 1, 5, endpoint=False)),
    ("eye with k", lambda: xp.eye(3, 4, k=1, dtype=xp.float64), lambda: np.eye(3, 4, k=1)),
    ("arange with one argument", lambda: xp.arange(5), lambda: np.arange(5)),
    ("tril k", lambda: xp.tril(A(x34), k=-1), lambda: np.tril(x34, k=-1)),
    ("astype", lambda: xp.astype(A(x34), xp.int32), lambda: x34.astype(np.int32)),
    ("linalg.solve with a 1-d rhs", lambda: xp.linalg.solve(A(x34[:3, :3] + 3 * np.eye(3)), A(x34[0, :3])),
     lambda: np.linalg.solve(x34[:3, :3] + 3 * np.eye(3), x34[0, :3])),
    ("linalg.vector_norm axis", lambda: xp.linalg.vector_norm(A(x234), axis=(0, 1), ord=1),
     lambda: np.linalg.vector_norm(x234, axis=(0, 1), ord=1)),
    ("linalg.trace offset", lambda: xp.linalg.trace(A(x234[:, :3, :3]), offset=1),
     lambda: np.linalg.trace(x234[:, :3, :3], offset=1)),
    ("linalg.outer", lambda: xp.linalg.outer(A(x34[0]), A(x34[1])), lambda: np.linalg.outer(x34[0], x34[1])),
    # complex dtypes
    ("real of complex128", lambda: xp.real(A(c34)), lambda: np.real(c34)),
    ("imag of complex64", lambda: xp.imag(A(c34.astype(np.complex64))), lambda: np.imag(c34.astype(np.complex64))),
    ("conj", lambda: xp.conj(A(c34)), lambda: np.conj(c34)),
    ("abs of complex is real", lambda: xp.abs(A(c34)), lambda: np.abs(c34)),
    ("sign of complex is x/|x|", lambda: xp.sign(A(c_special)), lambda: np.sign(c_special)),
    ("round of complex rounds both parts", lambda: xp.round(A(3 * c34)), lambda: np.round(3 * c34)),
    ("sqrt of complex", lambda: xp.sqrt(A(c34)), lambda: np.sqrt(c34)),
    ("exp of complex", lambda: xp.exp(A(c34)), lambda: np.exp(c34)),
    ("float32 + complex64", lambda: xp.add(A(x34.astype(np.float32)), A(c34.astype(np.complex64))),
     lambda: np.add(x34.astype(np.float32), c34.astype(np.complex64))),
    ("float64 + complex64 -> complex128", lambda: xp.multiply(A(x34), A(c34.astype(np.complex64))),
     lambda: np.multiply(x34, c34.astype(np.complex64))),
    ("complex scalar with float32", lambda: xp.add(A(x34.astype(np.float32)), 2j),
     lambda: np.add(x34.astype(np.float32), np.complex64(2j))),
    ("float scalar with complex128", lambda: xp.multiply(A(c34), 0.5), lambda: np.multiply(c34, 0.5)),
    ("vecdot conjugates x1", lambda: xp.vecdot(A(c34), A(c34[::-1].copy())), lambda: np.vecdot(c34, c34[::-1])),
    ("astype to complex", lambda: xp.astype(A(x34), xp.complex64), lambda: x34.astype(np.complex64)),
    ("linspace of complex", lambda: xp.linspace(0, 1 + 2j, 4, dtype=xp.complex128),
     lambda: np.linspace(0, 1 + 2j, 4)),
    ("sum of complex", lambda: xp.sum(A(c34), axis=0), lambda: np.sum(c34, axis=0)),
    ("linalg.det complex", lambda: xp.linalg.det(A(c33)), lambda: np.linalg.det(c33)),
    ("linalg.inv complex", lambda: xp.linalg.inv(A(c33)), lambda: np.linalg.inv(c33)),
    ("linalg.solve complex 1-d", lambda: xp.linalg.solve(A(c33), A(c34[0, :3])),
     lambda: np.linalg.solve(c33, c34[0, :3])),
    ("linalg.cholesky complex upper", lambda: xp.linalg.cholesky(A(hpd), upper=True),
     lambda: np.linalg.cholesky(hpd, upper=True)),
    ("linalg.svdvals complex", lambda: xp.linalg.svdvals(A(c34)), lambda: np.linalg.svdvals(c34)),
    ("linalg.pinv complex", lambda: xp.linalg.pinv(A(c34)), lambda: np.linalg.pinv(c34)),
    ("linalg.matrix_rank complex", lambda: xp.linalg.matrix_rank(A(c34)), lambda: np.linalg.matrix_rank(c34)),
    ("linalg.matrix_norm complex nuc", lambda: xp.linalg.matrix_norm(A(c34), ord="nuc"),
     lambda: np.linalg.matrix_norm(c34, ord="nuc")),
    ("linalg.matrix_power complex", lambda: xp.linalg.matrix_power(A(c33), 3),
     lambda: np.linalg.matrix_power(c33, 3)),
    ("linalg.eigvalsh complex", lambda: xp.linalg.eigvalsh(A(hpd)), lambda: np.linalg.eigvalsh(hpd)),
    ("linalg.slogdet complex logabsdet", lambda: xp.linalg.slogdet(A(c33)).logabsdet,
     lambda: np.linalg.slogdet(c33).logabsdet),
    ("linalg.slogdet complex sign", lambda: xp.linalg.slogdet(A(c33)).sign, lambda: np.linalg.slogdet(c33).sign),
    ("linalg.inv empty complex", lambda: xp.linalg.inv(A(np.zeros((0, 0), np.complex64))),
     lambda: np.linalg.inv(np.zeros((0, 0), np.complex64))),
    ("linalg.vector_norm axis=()", lambda: xp.linalg.vector_norm(A(x34), axis=()), lambda: np.abs(x34)),
    # non-contiguous inputs (transposed views)
    ("sort of a view", lambda: xp.sort(xp.matrix_transpose(A(x34)), axis=1), lambda: np.sort(x34.T, axis=1)),
    ("argsort of a view", lambda: xp.argsort(xp.matrix_transpose(A(x34)), axis=0, descending=True),
     lambda: np.argsort(-x34.T, axis=0, stable=True)),
    ("unique_inverse of a view", lambda: xp.unique_inverse(xp.matrix_transpose(A(ties.reshape(2, 3))))[1],
     lambda: np.unique_inverse(ties.reshape(2, 3).T).inverse_indices),
    ("cumulative_sum of a view", lambda: xp.cumulative_sum(xp.matrix_transpose(A(x34)), axis=0),
     lambda: np.cumulative_sum(x34.T, axis=0)),
    ("std of a view", lambda: xp.std(xp.matrix_transpose(A(x234)), axis=(0, 1)),
     lambda: np.std(np.swapaxes(x234, -1, -2), axis=(0, 1))),
]


@pytest.mark.parametrize("name, ours, reference", CASES, ids=[c[0] for c in CASES])
def test_matches_numpy(name, ours, reference):
    same(ours(), reference())


def test_ndgrad_namespace_keeps_pytorch_semantics():
    t = ndgrad.asarray(x34)
    assert ndgrad.std(t).item() == pytest.approx(torch.std(torch.from_numpy(x34)).item())  # correction=1
    assert ndgrad.add(ndgrad.asarray(i8), ndgrad.asarray(np.int64(3))).dtype is ndgrad.int8  # 0-d ranks lower
    assert xp.add(ndgrad.asarray(i8), ndgrad.asarray(np.int64(3))).dtype is ndgrad.int64


def test_gradients_flow_through_the_namespace():
    ours = xp.asarray(x34).requires_grad_()
    ref = torch.from_numpy(x34).requires_grad_()
    xp.sum(xp.std(ours, axis=0) * xp.sort(ours, axis=0, descending=True)[0]).backward()
    (torch.std(ref, dim=0, correction=0) * torch.sort(ref, dim=0, descending=True).values[0]).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), rtol=1e-10)


def test_named_results():
    m = A(x34[:3, :3] @ x34[:3, :3].T + np.eye(3))
    w, v = xp.linalg.eigh(m)
    named = xp.linalg.eigh(m)
    np.testing.assert_array_equal(np.asarray(named.eigenvalues._data), np.asarray(w._data))
    np.testing.assert_array_equal(np.asarray(named.eigenvectors._data), np.asarray(v._data))
    assert tuple(v.shape) == (3, 3)
    np.testing.assert_allclose(np.asarray(w._data), np.linalg.eigvalsh(np.asarray(m._data)), rtol=1e-10)
    assert set(xp.linalg.svd(m)._fields) == {"U", "S", "Vh"}
    assert xp.linalg.slogdet(m)._fields == ("sign", "logabsdet")
    assert xp.unique_all(A(ties))._fields == ("values", "indices", "inverse_indices", "counts")


def test_array_object_extras():
    t = A(x34)
    assert t.device == "cpu" and t.to_device("cpu").device == xp.__array_namespace_info__().default_device()
    same(t.mT, x34.T)
    assert complex(A(np.float64(2.0))) == 2 + 0j
    shifted = A(np.array([1, 2], dtype=np.int32))
    same(shifted << 3, np.array([8, 16], dtype=np.int32))
    shifted >>= 1
    same(shifted, np.array([0, 1], dtype=np.int32))


def test_dtype_functions():
    assert xp.isdtype(xp.int8, "signed integer") and xp.isdtype(xp.uint8, ("bool", "unsigned integer"))
    assert not xp.isdtype(xp.float32, "integral")
    assert xp.can_cast(xp.int8, xp.int16) and not xp.can_cast(xp.int16, xp.int8)
    assert xp.result_type(xp.uint8, xp.int8) is xp.int16 and xp.result_type(A(i8), 1) is xp.int8
    for ours, ref in ((xp.finfo(xp.float32), np.finfo(np.float32)), (xp.iinfo(xp.int16), np.iinfo(np.int16))):
        assert ours.bits == ref.bits and ours.max == ref.max and ours.min == ref.min
    assert xp.finfo(xp.float64).eps == np.finfo(np.float64).eps
    assert xp.finfo(xp.complex64).dtype is xp.float32 and xp.finfo(xp.complex128).eps == np.finfo(np.float64).eps
    assert xp.isdtype(xp.complex64, "complex floating") and xp.isdtype(xp.complex128, "numeric")
    assert not xp.isdtype(xp.complex64, "real floating") and not xp.isdtype(xp.float64, "complex floating")
    assert xp.result_type(xp.float64, xp.complex64) is xp.complex128
    assert xp.result_type(xp.float32, 1j) is xp.complex64 and xp.result_type(xp.complex64, 1.5) is xp.complex64
    assert xp.can_cast(xp.float32, xp.complex64) and not xp.can_cast(xp.complex64, xp.float64)


def test_inspection():
    info = xp.__array_namespace_info__()
    assert info.default_dtypes()["real floating"] is ndgrad.get_default_dtype()
    assert info.default_dtypes()["indexing"] is xp.int64
    assert set(info.dtypes(kind="integral")) == {"int8", "int16", "int32", "int64", "uint8"}
    assert info.dtypes(kind="complex floating") == {"complex64": xp.complex64, "complex128": xp.complex128}
    assert "complex128" in info.dtypes() and "complex64" in info.dtypes(kind="numeric")
    assert info.default_dtypes()["complex floating"] is ndgrad.get_default_dtype().to_complex()
    assert "cpu" in info.devices() and info.capabilities()["boolean indexing"] is True
    assert xp.__array_api_version__ == "2024.12"


def test_copy_semantics():
    t = A(x34)
    assert xp.astype(t, xp.float64, copy=False) is t and xp.astype(t, xp.float64) is not t
    assert xp.asarray(t, copy=False) is t
    copied = xp.asarray(t, copy=True)
    copied[0, 0] = 100.0
    assert t[0, 0].item() != 100.0
    shared = xp.reshape(t, (12,), copy=False)
    shared[0] = 100.0
    assert t[0, 0].item() == 100.0


@pytest.mark.parametrize("case, match, exc", [
    (lambda: xp.squeeze(A(x34), axis=0), r"squeeze: axis 0 has size 3", ValueError),
    (lambda: xp.sum([1, 2]), r"sum: expected an array", TypeError),
    (lambda: xp.take(A(x34), A(np.array([0]))), r"take: axis is required", ValueError),
    (lambda: xp.concat([A(np.float64(1))]), r"concat: 0-d", ValueError),
    (lambda: xp.isdtype(xp.int8, "whole"), r"unknown kind 'whole'", ValueError),
    (lambda: xp.iinfo(xp.float32), r"iinfo: ndgrad.float32 is not an integer", ValueError),
    (lambda: xp.ceil(A(c34)), r"ceil: complex arrays are not supported", TypeError),
    (lambda: xp.bitwise_and(A(c34), 1), r"bitwise_and: expected integer or bool arrays", TypeError),
    (lambda: xp.add(1, 2), r"add: at least one argument must be an array", TypeError),
    (lambda: xp.nonzero(A(np.float64(1))), r"nonzero: a 0-d array", ValueError),
    (lambda: xp.argmax(A(np.zeros((0,)))), r"argmax: the array is empty", ValueError),
    (lambda: xp.asarray([1.0], copy=False), r"copy=False is impossible", ValueError),
    (lambda: xp.permute_dims(A(x34), (0, 0)), r"not a permutation", ValueError),
    (lambda: xp.reshape(xp.matrix_transpose(A(x34)), (12,), copy=False), r"reshape: copy=False.*without a copy",
     ValueError),
])
def test_errors(case, match, exc):
    check_error(case, match, exc)


# The namespace writes no backward rule of its own: each differentiable function is a composition of
# ndgrad ops. gradcheck (float64 central differences) shows the compositions differentiate correctly.
def _leaf(shape, low=-2.0, high=2.0):
    return xp.asarray(random_array(shape, "float64", low, high)).requires_grad_()


GRAD_CASES = [
    ("std over axes", lambda x: xp.std(x, axis=(0, 2), correction=1), [(2, 3, 4)]),
    ("var keepdims", lambda x: xp.var(x, axis=1, keepdims=True), [(3, 4)]),
    ("prod over axes", lambda x: xp.prod(x, axis=(0, 1)), [(2, 3, 2)]),
    ("max", lambda x: xp.max(x, axis=0), [(3, 4)]),
    ("cumulative_sum include_initial", lambda x: xp.cumulative_sum(x, axis=1, include_initial=True), [(2, 3)]),
    ("cumulative_prod", lambda x: xp.cumulative_prod(x, axis=0), [(3, 2)]),
    ("sort descending", lambda x: xp.sort(x, axis=0, descending=True), [(4, 3)]),
    ("clip with array bounds", lambda x, lo: xp.clip(x, lo, 1.0), [(3, 4), (4,)]),
    ("take", lambda x: xp.take(x, xp.asarray([2, -1, 0]), axis=1), [(2, 4)]),
    ("vecdot", lambda a, b: xp.vecdot(a, b), [(2, 3), (3,)]),
    ("concat axis=None", lambda a, b: xp.concat([a, b], axis=None), [(2, 2), (3,)]),
    ("where with a scalar", lambda x: xp.where(x > 0, x, 0.5), [(3, 3)]),
    ("linalg.solve 1-d", lambda a, b: xp.linalg.solve(a + 4 * xp.eye(3, dtype=xp.float64), b), [(3, 3), (3,)]),
    ("linalg.trace", lambda a: xp.linalg.trace(a, offset=1), [(2, 3, 3)]),
    ("linalg.cross broadcasts", lambda a, b: xp.linalg.cross(a, b), [(2, 3), (3,)]),
    # complex intermediates, real leaves and outputs: real/imag/conj/abs/vecdot on complex differentiate
    ("real and imag of a complex product", lambda a, b: xp.real(xp.conj(a * (1 + 2j)) * b) + xp.imag(b * 1j),
     [(3, 2), (2,)]),
    ("abs of complex", lambda a, b: xp.abs(xp.astype(a, xp.complex128) + b * 1j), [(3,), (3,)]),
    ("vecdot of complex", lambda a, b: xp.real(xp.vecdot(a * 1j + b, b - 2j * a)), [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("name, fn, shapes", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck(name, fn, shapes):
    assert ndgrad.autograd.gradcheck(fn, [_leaf(s) for s in shapes])


def _generic_logsumexp(x, axis):
    """Array-API-generic code, as SciPy or scikit-learn write it: only the namespace's own functions."""
    space = x.__array_namespace__()
    top = space.max(x, axis=axis, keepdims=True)
    top = space.where(space.isfinite(top), top, space.zeros_like(top))
    summed = space.sum(space.exp(x - top), axis=axis, keepdims=True)
    return space.squeeze(space.log(summed) + top, axis=axis)


def test_generic_code_runs_on_numpy_and_ndgrad():
    same(_generic_logsumexp(A(x234), 1), _generic_logsumexp(x234, 1))


def test_complex_special_values_follow_the_standard():
    inf, nan = np.inf, np.nan
    edges = np.array([complex(inf, 0), complex(-inf, inf), complex(inf, inf), complex(-inf, nan), complex(nan, 0),
                      1e-9 + 1e-9j, 0.5 - 0.25j])
    with np.errstate(all="ignore"):
        # expm1 at non-finite points is exp(x) - 1 (NumPy's complex expm1 gives NaN + NaN j there); finite
        # points keep expm1's accuracy.
        expected = np.where(np.isfinite(edges), np.expm1(edges), np.exp(edges) - 1)
    same(xp.expm1(A(edges)), expected)
    # expm1(-0 + 0j) is +0 + 0j and expm1(-0 - 0j) is +0 - 0j (conjugate symmetry).
    zeros = np.asarray(xp.expm1(A(np.array([complex(-0.0, 0.0), complex(-0.0, -0.0)])))._data)
    np.testing.assert_array_equal(np.signbit(zeros.real), [False, False])
    np.testing.assert_array_equal(np.signbit(zeros.imag), [False, True])
    # tanh(+-inf + i b) for finite b is +-1 with a zero imaginary part signed like b.
    z = np.array([complex(inf, 3.0), complex(inf, -2.0), complex(-inf, 3.0)])
    assert xp.tanh(A(z[1])).imag.item() == 0 and np.signbit(complex(xp.tanh(A(z[1]))).imag)  # 0-d
    out = np.asarray(xp.tanh(A(z))._data)
    np.testing.assert_array_equal(out.real, np.sign(z.real))
    np.testing.assert_array_equal(np.signbit(out.imag), np.signbit(z.imag))
    same(xp.tanh(A(c34)), np.tanh(c34))

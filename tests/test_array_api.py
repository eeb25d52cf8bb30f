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
    assert set(info.dtypes(kind="integral")) == {"int8", "int16", "int32", "int64",
                                                 "uint8", "uint16", "uint32", "uint64"}
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


# --- uint16 / uint32 / uint64 in the namespace: the standard's semantics, with NumPy as the reference --------
# (PyTorch lacks most of these operations and promotions, and ndgrad's own namespace follows PyTorch.)

UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTEGERS = ("int8", "int16", "int32", "int64") + UNSIGNED
_urng = np.random.default_rng(5)


def unsigned(shape, name, high=None):
    """Random values of an unsigned dtype, over its whole range unless ``high`` is given."""
    high = int(np.iinfo(name).max) if high is None else high
    return _urng.integers(0, high, size=shape, dtype=name, endpoint=True)


def exactly(out, expected):
    """Same shape, dtype and exact values as a NumPy array (no float detour: uint64 values pass 2**53)."""
    expected = np.asarray(expected)
    assert isinstance(out, ndgrad.Tensor)
    assert (tuple(out.shape), out.dtype.name) == (expected.shape, expected.dtype.name), \
        ((tuple(out.shape), out.dtype), (expected.shape, expected.dtype))
    np.testing.assert_array_equal(np.asarray(out._data), expected)


def _defined(a, b):
    """The standard leaves uint64 with a signed integer undefined (NumPy gives float64)."""
    return not ({a, b} & {"uint64"} and {a, b} & {"int8", "int16", "int32", "int64"})


PAIRS = [(a, b) for a in INTEGERS for b in INTEGERS if _defined(a, b)]


@pytest.mark.parametrize("a, b", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_unsigned_promotion_table_like_numpy(a, b):
    """The standard's integer table (uint16 + uint32 -> uint32, uint8 + int16 -> int16, uint32 + int8 -> int64)
    is NumPy 2's; arrays of both dtypes combine by it, in functions and as a 0-d operand alike."""
    assert xp.result_type(getattr(xp, a), getattr(xp, b)) is getattr(xp, np.result_type(a, b).name)
    assert xp.can_cast(getattr(xp, a), getattr(xp, b)) == np.can_cast(a, b)
    x, y = unsigned((3, 4), "uint8", 60).astype(a), unsigned((4,), "uint8", 60).astype(b)
    for fn in ("add", "multiply", "maximum", "less", "not_equal"):
        exactly(getattr(xp, fn)(A(x), A(y)), getattr(np, fn)(x, y))
    exactly(xp.subtract(A(x.T), A(y[0])), np.subtract(x.T, y[0]))  # a view and a 0-d array
    exactly(xp.bitwise_xor(A(x), A(y)), np.bitwise_xor(x, y))
    exactly(xp.where(A(x > 30), A(x), A(y)), np.where(x > 30, x, y))
    exactly(xp.concat([A(x), A(y[None])]), np.concat([x, y[None]]))


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"])
def test_unsigned_dtype_objects(name):
    d = getattr(xp, name)
    assert d is getattr(ndgrad, name) and xp.isdtype(d, "unsigned integer") and xp.isdtype(d, "integral")
    assert not xp.isdtype(d, "signed integer") and xp.isdtype(d, ("bool", "numeric"))
    ours, ref = xp.iinfo(d), np.iinfo(name)
    assert (ours.bits, ours.max, ours.min, ours.dtype) == (ref.bits, ref.max, ref.min, d)
    assert xp.iinfo(xp.zeros(2, dtype=d)).max == ref.max
    check_error(lambda: xp.finfo(d), f"finfo: ndgrad.{name} is not a floating-point dtype", ValueError)
    # the scalar joins the array's dtype, also at the top of its range
    assert xp.result_type(xp.ones(2, dtype=d), 3) is d and xp.result_type(d, True) is d
    top = int(ref.max)
    exactly(xp.add(A(np.array([0, 1], dtype=name)), top), np.add(np.array([0, 1], dtype=name), np.asarray(top, name)))
    # across kinds (left open by the standard) the other kind wins outright, as for every other integer
    for other in (xp.float32, xp.float64, xp.complex64):
        assert xp.result_type(d, other) is xp.result_type(xp.int64, other) is other
    assert xp.result_type(xp.bool, d) is d


def test_unsigned_inspection_like_numpy():
    ours, ref = xp.__array_namespace_info__(), np.__array_namespace_info__()
    for kind in ("unsigned integer", "integral", "numeric", None):
        assert list(ours.dtypes(kind=kind)) == list(ref.dtypes(kind=kind)), kind
    assert set(ours.dtypes()) == set(ref.dtypes())


u16, u32, u64 = unsigned((3, 4), "uint16"), unsigned((3, 4), "uint32"), unsigned((5, 4), "uint64")
small64 = unsigned((3, 4), "uint64", 9)
shifts = unsigned((3, 4), "uint32", 40)  # includes amounts of the bit width and more
with_ties = np.array([5, 2**64 - 1, 5, 0, 2**63, 2**64 - 1], dtype=np.uint64)

# (name, ndgrad call, numpy call): exact values and dtypes.
UNSIGNED_CASES = [
    ("sum uint16 -> uint64", lambda: xp.sum(A(u16)), lambda: np.sum(u16)),
    ("sum uint64 wraps", lambda: xp.sum(A(u64), axis=0), lambda: np.sum(u64, axis=0)),
    ("sum of a view keepdims", lambda: xp.sum(xp.matrix_transpose(A(u32)), axis=1, keepdims=True),
     lambda: np.sum(u32.T, axis=1, keepdims=True)),
    ("sum with dtype", lambda: xp.sum(A(u16), axis=1, dtype=xp.uint16), lambda: np.sum(u16, axis=1, dtype=np.uint16)),
    ("sum size-0", lambda: xp.sum(A(u32[:0]), axis=0), lambda: np.sum(u32[:0], axis=0)),
    ("sum 0-d", lambda: xp.sum(A(u32[0, 0])), lambda: np.sum(u32[0, 0])),
    ("prod uint32 -> uint64", lambda: xp.prod(A(u32), axis=1), lambda: np.prod(u32, axis=1)),
    ("prod uint64 over axes", lambda: xp.prod(A(small64), axis=(0, 1)), lambda: np.prod(small64, axis=(0, 1))),
    ("cumulative_sum uint64 wraps", lambda: xp.cumulative_sum(A(u64), axis=0, include_initial=True),
     lambda: np.cumulative_sum(u64, axis=0, include_initial=True)),
    ("cumulative_sum uint16", lambda: xp.cumulative_sum(A(u16), axis=1), lambda: np.cumulative_sum(u16, axis=1)),
    ("cumulative_prod uint32", lambda: xp.cumulative_prod(A(u32[0])), lambda: np.cumulative_prod(u32[0])),
    ("max uint64", lambda: xp.max(A(u64), axis=1), lambda: np.max(u64, axis=1)),
    ("min of a view", lambda: xp.min(xp.matrix_transpose(A(u32)), axis=0), lambda: np.min(u32.T, axis=0)),
    ("argmax uint64", lambda: xp.argmax(A(u64), axis=0), lambda: np.argmax(u64, axis=0)),
    ("argmin keepdims", lambda: xp.argmin(A(u16), axis=1, keepdims=True),
     lambda: np.argmin(u16, axis=1, keepdims=True)),
    ("count_nonzero", lambda: xp.count_nonzero(A(small64)), lambda: np.count_nonzero(small64)),
    ("nonzero", lambda: xp.nonzero(A(small64))[1], lambda: np.nonzero(small64)[1]),
    ("diff wraps", lambda: xp.diff(A(u32), axis=1), lambda: np.diff(u32, axis=1)),
    ("sort uint64 above 2**63", lambda: xp.sort(A(with_ties)), lambda: np.sort(with_ties)),
    ("sort descending of a view", lambda: xp.sort(xp.matrix_transpose(A(u16)), axis=1, descending=True),
     lambda: np.flip(np.sort(u16.T, axis=1), axis=1)),
    ("argsort stable", lambda: xp.argsort(A(with_ties)), lambda: np.argsort(with_ties, stable=True)),
    ("argsort stable descending", lambda: xp.argsort(A(with_ties), descending=True),
     lambda: np.argsort(~with_ties, stable=True)),  # ~ reverses the order of unsigned values exactly
    ("searchsorted", lambda: xp.searchsorted(A(np.sort(with_ties)), A(with_ties), side="right"),
     lambda: np.searchsorted(np.sort(with_ties), with_ties, side="right")),
    ("searchsorted mixed dtypes", lambda: xp.searchsorted(A(np.sort(u16[0])), A(u32[0])),
     lambda: np.searchsorted(np.sort(u16[0]).astype(np.uint32), u32[0])),
    ("unique_values", lambda: xp.sort(xp.unique_values(A(with_ties))), lambda: np.unique(with_ties)),
    ("unique_counts", lambda: xp.unique_counts(A(with_ties)).counts, lambda: np.unique_counts(with_ties).counts),
    ("bitwise_and", lambda: xp.bitwise_and(A(u64), A(u64[::-1])), lambda: np.bitwise_and(u64, u64[::-1])),
    ("bitwise_or with uint16", lambda: xp.bitwise_or(A(u32), A(u16)), lambda: np.bitwise_or(u32, u16)),
    ("bitwise_invert", lambda: xp.bitwise_invert(A(u64)), lambda: np.invert(u64)),
    ("left shift past the width", lambda: xp.bitwise_left_shift(A(u32), A(shifts)), lambda: np.left_shift(u32, shifts)),
    ("right shift past the width", lambda: xp.bitwise_right_shift(A(u32), A(shifts)),
     lambda: np.right_shift(u32, shifts)),
    ("right shift uint64", lambda: xp.bitwise_right_shift(A(u64), 70), lambda: np.right_shift(u64, np.uint64(70))),
    ("equal", lambda: xp.equal(A(u64), A(u64[::-1])), lambda: np.equal(u64, u64[::-1])),
    ("greater_equal with a scalar", lambda: xp.greater_equal(A(u64), 2**63),
     lambda: np.greater_equal(u64, np.uint64(2**63))),
    ("floor_divide", lambda: xp.floor_divide(A(u32), 7), lambda: np.floor_divide(u32, np.uint32(7))),
    ("remainder", lambda: xp.remainder(A(u64[:3]), A(small64 + 1)), lambda: np.remainder(u64[:3], small64 + 1)),
    ("add wraps", lambda: xp.add(A(u16), A(u16[::-1])), lambda: np.add(u16, u16[::-1])),
    ("negative wraps", lambda: xp.negative(A(small64)), lambda: np.negative(small64)),
    ("abs", lambda: xp.abs(A(u64)), lambda: np.abs(u64)),
    ("sign", lambda: xp.sign(A(small64)), lambda: np.sign(small64)),
    ("square", lambda: xp.square(A(u16)), lambda: np.square(u16)),
    ("pow", lambda: xp.pow(A(u32), 2), lambda: np.power(u32, np.uint32(2))),
    ("round of uint is the uint", lambda: xp.round(A(u64)), lambda: np.round(u64)),
    ("clip", lambda: xp.clip(A(u64), 2**40, 2**63), lambda: np.clip(u64, np.uint64(2**40), np.uint64(2**63))),
    ("where with a scalar", lambda: xp.where(A(u16 > 100), A(u16), 7), lambda: np.where(u16 > 100, u16, np.uint16(7))),
    ("matmul", lambda: xp.matmul(A(u16), xp.matrix_transpose(A(u16))), lambda: np.matmul(u16, u16.T)),
    ("vecdot", lambda: xp.vecdot(A(u32), A(u32)), lambda: np.vecdot(u32, u32)),
    ("linalg.trace -> uint64", lambda: xp.linalg.trace(A(u16[:3, :3])), lambda: np.linalg.trace(u16[:3, :3])),
    ("stack", lambda: xp.stack([A(u64), A(u64)], axis=-1), lambda: np.stack([u64, u64], axis=-1)),
    ("take", lambda: xp.take(A(u64), A(np.array([-1, 0])), axis=0), lambda: np.take(u64, [-1, 0], axis=0)),
    ("flip", lambda: xp.flip(A(u32), axis=0), lambda: np.flip(u32, axis=0)),
    ("astype to float64", lambda: xp.astype(A(u64), xp.float64), lambda: u64.astype(np.float64)),
    ("astype int8 to uint32", lambda: xp.astype(A(i8), xp.uint32), lambda: i8.astype(np.uint32)),
    ("asarray above 2**63", lambda: xp.asarray([2**64 - 1, 2**63], dtype=xp.uint64),
     lambda: np.asarray([2**64 - 1, 2**63], dtype=np.uint64)),
    ("full of the maximum", lambda: xp.full((2, 3), 2**64 - 1, dtype=xp.uint64),
     lambda: np.full((2, 3), 2**64 - 1, dtype=np.uint64)),
    ("zeros size-0", lambda: xp.zeros((0, 2), dtype=xp.uint16), lambda: np.zeros((0, 2), dtype=np.uint16)),
    ("ones_like", lambda: xp.ones_like(A(u32)), lambda: np.ones_like(u32)),
    ("arange", lambda: xp.arange(2, 11, 3, dtype=xp.uint32), lambda: np.arange(2, 11, 3, dtype=np.uint32)),
    ("eye", lambda: xp.eye(3, 4, k=1, dtype=xp.uint64), lambda: np.eye(3, 4, k=1, dtype=np.uint64)),
    ("tril", lambda: xp.tril(A(u64[:4])), lambda: np.tril(u64[:4])),
]


@pytest.mark.parametrize("name, ours, reference", UNSIGNED_CASES, ids=[c[0] for c in UNSIGNED_CASES])
def test_unsigned_functions_like_numpy(name, ours, reference):
    exactly(ours(), reference())


def test_unsigned_in_ndgrad_keeps_pytorch_semantics():
    a, b = ndgrad.ones(2, dtype=ndgrad.uint16), ndgrad.ones(2, dtype=ndgrad.int8)
    with pytest.raises(RuntimeError, match="Promotion for uint16, uint32, uint64 types is not supported"):
        ndgrad.add(a, b)  # PyTorch refuses; the namespace promotes by the standard's table
    assert xp.add(a, b).dtype is xp.int32 and ndgrad.sum(a).dtype is ndgrad.int64 and xp.sum(a).dtype is xp.uint64


@pytest.mark.parametrize("case, match, exc", [
    (lambda: xp.bitwise_and(A(i8), A(u64[0, :1])), r"bitwise_and: ndgrad.int8 and ndgrad.uint64 have no common "
     r"integer dtype.*astype", TypeError),
    (lambda: xp.mean(A(u32)), r"mean: expected a floating-point input, got ndgrad.uint32", RuntimeError),
    (lambda: xp.iinfo(xp.float64), r"iinfo: ndgrad.float64 is not an integer dtype", ValueError),
])
def test_unsigned_errors(case, match, exc):
    check_error(case, match, exc)


def test_tensor_equals_a_complex_scalar_at_full_precision():
    # the Python complex compares in the array's precision (found by the conformance suite's asarray test)
    value = 16777217j  # not a complex64 number
    exactly(xp.asarray([value, 1j], dtype=xp.complex128) == value, np.asarray([value, 1j]) == value)
    exactly(xp.asarray([value], dtype=xp.complex128) != value, np.asarray([value]) != value)

"""Shape, indexing and linear-algebra ops against PyTorch: forward values, gradients, gradchecks, errors.

Each table line is (test id, input shapes / arrays, fn(lib, *inputs)); ``lib`` is
``torch`` or ``ndgrad``, so one lambda spells the op for both libraries.
"""
import numpy as np
import pytest
import torch

import ndgrad
import oracle
from oracle import check_op, check_error
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.ops.shape import can_view


def ints(*values):
    return np.array(values, dtype=np.int64)


def perm_index(shape, dim, seed=0):
    """An int64 index of ``shape`` whose entries along ``dim`` are a permutation (so scatters don't collide)."""
    return np.argsort(np.random.default_rng(seed).random(shape), axis=dim)


def pad_fn(lib):
    return torch.nn.functional.pad if lib is torch else ndgrad.pad


def run(case, dtype="float64", contiguous=True):
    _, inputs, fn = case
    return check_op(inputs, lambda *a: fn(torch, *a), lambda *a: fn(ndgrad, *a), dtype=dtype,
                    contiguous=contiguous)


def ids(table):
    return [c[0] for c in table]


# -- shape ops ------------------------------------------------------------------------------------

SHAPE_CASES = [
    ("reshape_args", [(2, 3, 4)], lambda lib, x: x.reshape(4, -1)),
    ("reshape_tuple", [(2, 3, 4)], lambda lib, x: x.reshape((6, 4))),
    ("reshape_flat", [(2, 3, 4)], lambda lib, x: lib.reshape(x, (-1,))),
    ("reshape_0d", [()], lambda lib, x: x.reshape(1, 1)),
    ("reshape_to_0d", [(1, 1)], lambda lib, x: x.reshape(())),
    ("reshape_size0", [(0, 3)], lambda lib, x: x.reshape(3, 0, 2)),
    ("view", [(2, 6)], lambda lib, x: x.contiguous().view(3, 4)),
    ("view_as", [(2, 6), (4, 3)], lambda lib, x, y: x.contiguous().view_as(y) * y),
    ("reshape_as", [(2, 6), (4, 3)], lambda lib, x, y: x.reshape_as(y) + y),
    ("flatten", [(2, 3, 4)], lambda lib, x: x.flatten()),
    ("flatten_range", [(2, 3, 4, 5)], lambda lib, x: lib.flatten(x, 1, -2)),
    ("flatten_0d", [()], lambda lib, x: x.flatten()),
    ("unflatten", [(2, 12)], lambda lib, x: x.unflatten(-1, (3, -1))),
    ("squeeze_all", [(1, 3, 1, 2)], lambda lib, x: x.squeeze()),
    ("squeeze_dim", [(1, 3, 1, 2)], lambda lib, x: x.squeeze(-2)),
    ("squeeze_non1", [(1, 3, 1, 2)], lambda lib, x: x.squeeze(1)),
    ("squeeze_tuple", [(1, 3, 1, 2)], lambda lib, x: lib.squeeze(x, (0, 2))),
    ("squeeze_0d", [()], lambda lib, x: x.squeeze(0)),
    ("unsqueeze", [(3, 2)], lambda lib, x: x.unsqueeze(1)),
    ("unsqueeze_end", [(3, 2)], lambda lib, x: x.unsqueeze(-1)),
    ("unsqueeze_0d", [()], lambda lib, x: x.unsqueeze(0)),
    ("expand_dims", [(3, 2)], lambda lib, x: x.unsqueeze(-2) if lib is torch else ndgrad.expand_dims(x, axis=-2)),
    ("permute", [(2, 3, 4)], lambda lib, x: x.permute(2, 0, 1)),
    ("permute_tuple_neg", [(2, 3, 4)], lambda lib, x: x.permute((-1, 1, 0))),
    ("permute_dims", [(2, 3, 4)], lambda lib, x: (torch.permute if lib is torch else ndgrad.permute_dims)(
        x, (1, 2, 0))),
    ("transpose", [(2, 3, 4)], lambda lib, x: x.transpose(0, -1)),
    ("swapaxes", [(2, 3, 4)], lambda lib, x: lib.swapaxes(x, 1, 2)),
    ("t_2d", [(2, 3)], lambda lib, x: x.t()),
    ("t_1d", [(3,)], lambda lib, x: x.t()),
    ("T", [(2, 3, 4)], lambda lib, x: x.permute(2, 1, 0) if lib is torch else x.T),
    ("mT", [(2, 3, 4)], lambda lib, x: x.mT),
    ("movedim", [(2, 3, 4)], lambda lib, x: x.movedim(0, -1)),
    ("movedim_multi", [(2, 3, 4, 5)], lambda lib, x: lib.movedim(x, (0, 1), (3, 0))),
    ("expand", [(3, 1)], lambda lib, x: x.expand(2, 3, 4)),
    ("expand_keep", [(3, 1)], lambda lib, x: x.expand((-1, 5))),
    ("expand_0d", [()], lambda lib, x: x.expand(2, 3)),
    ("expand_as", [(1, 4), (3, 4)], lambda lib, x, y: x.expand_as(y) * y),
    ("broadcast_to", [(3, 1)], lambda lib, x: lib.broadcast_to(x, (2, 3, 5))),
    ("broadcast_tensors", [(3, 1), (4,)], lambda lib, x, y: lib.broadcast_tensors(x, y)),
    ("repeat", [(2, 3)], lambda lib, x: x.repeat(2, 1, 3)),
    ("repeat_tuple", [(2, 3)], lambda lib, x: x.repeat((3, 2))),
    ("repeat_zero", [(2, 3)], lambda lib, x: x.repeat(0, 2)),
    ("tile", [(2, 3)], lambda lib, x: x.tile((2,))),
    ("tile_more", [(2, 3)], lambda lib, x: lib.tile(x, (2, 1, 2))),
    ("cat", [(2, 3), (4, 3)], lambda lib, x, y: lib.cat([x, y])),
    ("cat_neg", [(2, 3), (2, 1), (2, 2)], lambda lib, x, y, z: lib.cat((x, y, z), dim=-1)),
    ("cat_size0", [(0, 3), (2, 3)], lambda lib, x, y: lib.cat([x, y], 0)),
    ("cat_legacy_empty", [(2, 3), (0,)], lambda lib, x, y: lib.cat([x, y], 1)),
    ("cat_promote", [(2, 3), ints(1, 2, 3).reshape(1, 3)], lambda lib, x, y: lib.cat([x, y])),
    ("concat", [(2, 3), (2, 3)], lambda lib, x, y: lib.concat([x, y], 1)),
    ("stack", [(2, 3), (2, 3)], lambda lib, x, y: lib.stack([x, y])),
    ("stack_end", [(2, 3), (2, 3), (2, 3)], lambda lib, x, y, z: lib.stack([x, y, z], dim=-1)),
    ("stack_0d", [(), ()], lambda lib, x, y: lib.stack([x, y])),
    ("split_int", [(5, 3)], lambda lib, x: x.split(2)),
    ("split_list", [(2, 6)], lambda lib, x: lib.split(x, [1, 0, 5], dim=1)),
    ("chunk", [(7, 2)], lambda lib, x: x.chunk(3)),
    ("chunk_exact", [(2, 6)], lambda lib, x: lib.chunk(x, 4, -1)),
    ("unbind", [(3, 2)], lambda lib, x: x.unbind(1)),
    ("narrow", [(4, 5)], lambda lib, x: x.narrow(1, 1, 3)),
    ("narrow_neg", [(4, 5)], lambda lib, x: lib.narrow(x, 0, -3, 2)),
    ("select", [(4, 5)], lambda lib, x: x.select(1, -2)),
    ("flip", [(2, 3, 4)], lambda lib, x: x.flip(0, 2) if lib is torch else x.flip((0, 2))),
    ("flip_neg", [(2, 3)], lambda lib, x: lib.flip(x, [-1])),
    ("fliplr", [(2, 3)], lambda lib, x: lib.fliplr(x)),
    ("flip_all_axis", [(2, 3)], lambda lib, x: x.flip(0, 1) if lib is torch else ndgrad.flip(x)),
    ("unstack", [(2, 3)], lambda lib, x: x.unbind(1) if lib is torch else ndgrad.unstack(x, axis=1)),
    ("roll", [(3, 4)], lambda lib, x: x.roll(1, 0)),
    ("roll_multi", [(3, 4)], lambda lib, x: lib.roll(x, (-1, 5), (0, 1))),
    ("roll_flat", [(3, 4)], lambda lib, x: lib.roll(x, 5)),
    ("tril", [(4, 5)], lambda lib, x: x.tril()),
    ("tril_k", [(2, 4, 3)], lambda lib, x: lib.tril(x, -1)),
    ("triu", [(4, 5)], lambda lib, x: x.triu(1)),
    ("triu_batched", [(2, 3, 3)], lambda lib, x: lib.triu(x, diagonal=-1)),
    ("pad_last", [(2, 3)], lambda lib, x: pad_fn(lib)(x, (1, 2))),
    ("pad_two_dims", [(2, 3, 4)], lambda lib, x: pad_fn(lib)(x, (1, 0, 2, 3), value=1.5)),
    ("pad_crop", [(3, 5)], lambda lib, x: pad_fn(lib)(x, (-1, 2, 1, -2))),
    ("pad_all", [(2, 2)], lambda lib, x: pad_fn(lib)(x, [1, 1, 1, 1], "constant", -2.0)),
    ("contiguous", [(2, 3)], lambda lib, x: x.contiguous() * 1),
    ("clone", [(2, 3)], lambda lib, x: x.clone()),
    ("clone_fn", [(2, 3)], lambda lib, x: lib.clone(x)),
    ("chain", [(2, 3, 4)], lambda lib, x: x.transpose(0, 2).reshape(4, 6)[1:].flip(0).unsqueeze(0)),
    ("diagonal", [(3, 4)], lambda lib, x: x.diagonal()),
    ("diagonal_offset_dims", [(2, 3, 4)], lambda lib, x: lib.diagonal(x, 1, -1, 0)),
    ("diagonal_neg_offset", [(4, 3)], lambda lib, x: x.diagonal(-2)),
    ("diag_embed", [(2, 3)], lambda lib, x: lib.diag_embed(x)),
    ("diag_embed_dims", [(2, 3)], lambda lib, x: lib.diag_embed(x, -1, 0, 2)),
    ("diag_vector", [(3,)], lambda lib, x: lib.diag(x, 1)),
    ("diag_matrix", [(3, 4)], lambda lib, x: x.diag(-1)),
    ("trace", [(3, 4)], lambda lib, x: x.trace()),
    ("ravel", [(2, 3)], lambda lib, x: x.ravel()),
    ("hstack", [(2, 3), (2, 1)], lambda lib, x, y: lib.hstack([x, y])),
    ("hstack_1d", [(2,), (3,)], lambda lib, x, y: lib.hstack([x, y])),
    ("vstack", [(3,), (2, 3)], lambda lib, x, y: lib.vstack([x, y])),
    ("dstack", [(2, 3), (2, 3, 2)], lambda lib, x, y: lib.dstack([x, y])),
    ("column_stack", [(3,), (3, 2), ()], lambda lib, x, y, z: lib.column_stack([x, y, z.expand(3)])),
    ("atleast", [(), (3,), (2, 3)], lambda lib, x, y, z: lib.atleast_3d(x, y, z) + lib.atleast_2d(x, y)),
    ("meshgrid_ij", [(3,), (2,), (4,)], lambda lib, x, y, z: lib.meshgrid(x, y, z, indexing="ij")),
    ("meshgrid_xy", [(3,), (2,)], lambda lib, x, y: lib.meshgrid(x, y, indexing="xy")),
    ("repeat_interleave", [(2, 3)], lambda lib, x: x.repeat_interleave(2)),
    ("repeat_interleave_dim", [(2, 3)], lambda lib, x: lib.repeat_interleave(x, lib.tensor([2, 0, 1]), dim=1)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", SHAPE_CASES, ids=ids(SHAPE_CASES))
def test_shape_op(case, dtype):
    run(case, dtype)


@pytest.mark.parametrize("case", SHAPE_CASES, ids=ids(SHAPE_CASES))
def test_shape_op_noncontiguous(case):
    run(case, contiguous=False)


# -- indexing -------------------------------------------------------------------------------------

MASK_34 = np.array([[True, False, True, False], [False, False, False, False], [True, True, False, True]])


def idx(lib, array):
    return torch.from_numpy(array) if lib is torch else ndgrad.from_numpy(array)


INDEX_CASES = [
    ("int", [(3, 4)], lambda lib, x: x[1]),
    ("neg_int", [(3, 4)], lambda lib, x: x[-1, -2]),
    ("int_0d_result", [(3,)], lambda lib, x: x[2]),
    ("slice", [(5, 4)], lambda lib, x: x[1:4]),
    ("slice_step", [(7, 4)], lambda lib, x: x[::3, 1::2]),
    ("slice_neg_bounds", [(7, 4)], lambda lib, x: x[-5:-1, :-1]),
    ("slice_out_of_range", [(3, 4)], lambda lib, x: x[1:100]),
    ("none", [(3, 4)], lambda lib, x: x[None, :, None]),
    ("ellipsis", [(2, 3, 4)], lambda lib, x: x[..., 1]),
    ("ellipsis_mid", [(2, 3, 4)], lambda lib, x: x[0, ..., None, 2:]),
    ("empty_tuple", [(2, 3)], lambda lib, x: x[()]),
    ("0d_ellipsis", [()], lambda lib, x: x[...]),
    ("0d_none", [()], lambda lib, x: x[None]),
    ("list", [(4, 3)], lambda lib, x: x[[0, 2, 0]]),
    ("list_neg", [(4, 3)], lambda lib, x: x[[-1, 1]]),
    ("list_empty", [(4, 3)], lambda lib, x: x[[]]),
    ("tensor_repeat", [(4, 3)], lambda lib, x: x[idx(lib, ints(1, 1, 3, 1))]),
    ("tensor_2d", [(4, 3)], lambda lib, x: x[idx(lib, ints(0, 3, 3, 1).reshape(2, 2))]),
    ("tensor_0d", [(4, 3)], lambda lib, x: x[idx(lib, np.array(2))]),
    ("second_dim", [(4, 3)], lambda lib, x: x[:, idx(lib, ints(2, 0, 2))]),
    ("two_arrays", [(4, 3)], lambda lib, x: x[idx(lib, ints(0, 3, 0)), idx(lib, ints(1, 2, 1))]),
    ("broadcast_arrays", [(4, 3)], lambda lib, x: x[idx(lib, ints(0, 3).reshape(2, 1)), idx(lib, ints(0, 2))]),
    ("int_and_array", [(2, 3, 4)], lambda lib, x: x[0, :, [1, 2, 1]]),
    ("split_arrays", [(2, 3, 4)], lambda lib, x: x[[0, 1], :, [1, 3]]),
    ("arrays_slice", [(2, 3, 4)], lambda lib, x: x[1:, [2, 0]]),
    ("array_none", [(3, 4)], lambda lib, x: x[[0, 1], None, [1, 2]]),
    ("mask_full", [(3, 4)], lambda lib, x: x[idx(lib, MASK_34)]),
    ("mask_rows", [(3, 4)], lambda lib, x: x[idx(lib, np.array([True, False, True]))]),
    ("mask_cols", [(3, 4)], lambda lib, x: x[:, idx(lib, np.array([True, False, True, True]))]),
    ("mask_list", [(3, 4)], lambda lib, x: x[[False, True, True]]),
    ("mask_empty", [(3, 4)], lambda lib, x: x[idx(lib, np.zeros((3, 4), bool))]),
    ("mask_and_int", [(2, 3, 4)], lambda lib, x: x[1, idx(lib, MASK_34)]),
    ("size0_dim", [(0, 3)], lambda lib, x: x[:, 1]),
    ("size0_index", [(0, 3)], lambda lib, x: x[idx(lib, ints())]),
    ("numpy_index", [(4, 3)], lambda lib, x: x[ints(3, 0) if lib is ndgrad else torch.tensor([3, 0])]),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", INDEX_CASES, ids=ids(INDEX_CASES))
def test_getitem(case, dtype):
    run(case, dtype)


@pytest.mark.parametrize("case", INDEX_CASES, ids=ids(INDEX_CASES))
def test_getitem_noncontiguous(case):
    run(case, contiguous=False)


def _assign(index, value=None, accumulate=False):
    """fn(lib, x[, v]) that writes into a (non-leaf) copy of x and returns it."""
    def fn(lib, x, *v):
        y = x * 1
        index_ = index(lib) if callable(index) else index
        y[index_] = v[0] if v else value
        return y
    return fn


SETITEM_CASES = [
    ("int_scalar", [(3, 4)], _assign(1, 2.5)),
    ("slice_tensor", [(3, 4), (2, 4)], _assign(slice(1, 3))),
    ("broadcast_value", [(3, 4), (4,)], _assign((slice(None), slice(None))),),
    ("step_value", [(5, 4), (3,)], _assign((slice(None, None, 2), 1))),
    ("value_0d", [(3, 4), ()], _assign((0, 1))),
    ("value_extra_dims", [(3, 4), (1, 4)], _assign(2)),
    ("mask", [(3, 4)], _assign(lambda lib: idx(lib, MASK_34), -1.0)),
    ("mask_value", [(3, 4), (5,)], _assign(lambda lib: idx(lib, MASK_34))),
    ("array_index", [(4, 3), (2, 3)], _assign(lambda lib: idx(lib, ints(3, 0)))),
    ("int_and_array", [(2, 3, 4), (3, 2)], _assign((0, slice(None), [1, 3]))),
    ("ellipsis_none", [(2, 3), (2, 1)], _assign((Ellipsis, slice(0, 1)))),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", SETITEM_CASES, ids=ids(SETITEM_CASES))
def test_setitem(case, dtype):
    run(case, dtype)


GATHER_IDX = perm_index((3, 4), 1)[:, :3]     # distinct entries along dim 1, shape (3, 3)
DUP_IDX = ints(0, 2, 2, 1, 0, 0).reshape(2, 3)   # repeats, for the accumulating ops

GATHER_CASES = [
    ("gather", [(3, 4), GATHER_IDX], lambda lib, x, i: x.gather(1, i)),
    ("gather_dup", [(3, 4), DUP_IDX], lambda lib, x, i: lib.gather(x, 0, i)),
    ("gather_neg_dim", [(3, 4), DUP_IDX], lambda lib, x, i: x.gather(-2, i)),
    ("gather_0d", [(), np.array(0)], lambda lib, x, i: x.gather(0, i)),
    ("scatter_src", [(3, 4), GATHER_IDX, (3, 3)], lambda lib, x, i, s: x.scatter(1, i, s)),
    ("scatter_value", [(3, 4), GATHER_IDX], lambda lib, x, i: lib.scatter(x, 1, i, 2.5)),
    ("scatter_value_kw", [(3, 4), GATHER_IDX], lambda lib, x, i: x.scatter(1, i, value=-1.0)),
    ("scatter_add", [(3, 4), DUP_IDX, (2, 3)], lambda lib, x, i, s: x.scatter_add(0, i, s)),
    ("scatter_add_fn", [(3, 4), DUP_IDX.T.copy(), (3, 2)], lambda lib, x, i, s: lib.scatter_add(x, 1, i, s)),
    ("scatter_reduce_add", [(3, 4), DUP_IDX, (2, 3)],
     lambda lib, x, i, s: x.scatter(0, i, s, reduce="add") if lib is ndgrad else x.scatter_add(0, i, s)),
    ("index_select", [(4, 3), ints(3, 0, 3)], lambda lib, x, i: x.index_select(0, i)),
    ("index_select_dim1", [(4, 3), ints(2, 2)], lambda lib, x, i: lib.index_select(x, -1, i)),
    ("index_select_empty", [(4, 3), ints()], lambda lib, x, i: x.index_select(1, i)),
    ("index_select_0d", [(), ints(0)], lambda lib, x, i: x.index_select(0, i)),
    ("take_along_dim", [(3, 4), DUP_IDX.T.copy()], lambda lib, x, i: lib.take_along_dim(x, i, dim=1)),
    ("take_along_dim_neg", [(3, 4), ints(-1, 0, -4).reshape(1, 3)], lambda lib, x, i: x.take_along_dim(i, 1)),
    ("take_along_dim_bcast", [(3, 1, 4), ints(0, -1, 2).reshape(1, 3, 1)],
     lambda lib, x, i: x.take_along_dim(i, 2)),
    ("take_along_dim_flat", [(3, 4), ints(11, 0, 4)], lambda lib, x, i: lib.take_along_dim(x, i)),
    ("take", [(3, 4), ints(5, -1, 5).reshape(3, 1)], lambda lib, x, i: lib.take(x, i)),
    ("take_axis", [(3, 4), ints(3, -1, 0)],
     lambda lib, x, i: x.index_select(1, i % 4) if lib is torch else ndgrad.take(x, i, axis=1)),
    ("masked_fill", [(3, 4), MASK_34], lambda lib, x, m: x.masked_fill(m, -2.0)),
    ("masked_fill_bcast", [(3, 4), np.array([True, False, False, True])],
     lambda lib, x, m: lib.masked_fill(x, m, 7)),
    ("masked_fill_tensor", [(3, 4), MASK_34, ()], lambda lib, x, m, v: x.masked_fill(m, v)),
    ("masked_fill_grow", [(4,), MASK_34], lambda lib, x, m: x.masked_fill(m, 0.5)),
    ("masked_select", [(3, 4), MASK_34], lambda lib, x, m: x.masked_select(m)),
    ("masked_select_bcast", [(4,), MASK_34], lambda lib, x, m: lib.masked_select(x, m)),
    ("index_put", [(4, 3), ints(3, 0, 1), (3,)],
     lambda lib, x, i, v: x.index_put((i,), v.unsqueeze(1))),
    ("index_put_acc", [(4, 3), ints(3, 0, 3), ints(1, 1, 1), (3,)],
     lambda lib, x, i, j, v: lib.index_put(x, (i, j), v, accumulate=True)),
    ("index_put_mask", [(3, 4), MASK_34, ()], lambda lib, x, m, v: x.index_put((m,), v)),
    ("index_add", [(3, 4), ints(3, 0, 3), (3, 3)], lambda lib, x, i, s: x.index_add(1, i, s)),
    ("index_add_alpha", [(3, 4), ints(2, 2), (2, 4)], lambda lib, x, i, s: lib.index_add(x, 0, i, s, alpha=-2)),
    ("index_fill", [(3, 4), ints(3, 0)], lambda lib, x, i: x.index_fill(1, i, 1.5)),
    ("index_fill_tensor", [(3, 4), ints(1), ()], lambda lib, x, i, v: lib.index_fill(x, 0, i, v)),
    ("index_copy", [(3, 4), ints(2, 0), (3, 2)], lambda lib, x, i, s: x.index_copy(1, i, s)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", GATHER_CASES, ids=ids(GATHER_CASES))
def test_gather_scatter_masks(case, dtype):
    _, inputs, fn = case
    dtypes = [dtype if isinstance(s, tuple) else None for s in inputs]
    check_op(inputs, lambda *a: fn(torch, *a), lambda *a: fn(ndgrad, *a), dtype=dtypes)


def test_scatter_reads_only_the_index_shaped_corner_of_src():
    # PyTorch's own backward fails here (it returns an index-shaped gradient), so compare the forward
    # with torch and check the gradient numerically.
    check_op([(3, 4), GATHER_IDX[:2], (3, 5)], lambda x, i, s: x.scatter(1, i, s), grad=False)
    src = ndgrad.from_numpy(oracle.random_array((3, 5))).requires_grad_()
    x = ndgrad.from_numpy(oracle.random_array((3, 4))).requires_grad_()
    assert gradcheck(lambda a, b: a.scatter(1, ndgrad.from_numpy(GATHER_IDX[:2]), b), [x, src])


INPLACE_CASES = [
    ("masked_fill_", [(3, 4), MASK_34], lambda lib, x, m: (x * 1).masked_fill_(m, 3.0)),
    ("masked_fill_tensor_", [(3, 4), MASK_34, ()], lambda lib, x, m, v: (x * 1).masked_fill_(m, v)),
    ("scatter_", [(3, 4), GATHER_IDX, (3, 3)], lambda lib, x, i, s: (x * 1).scatter_(1, i, s)),
    ("scatter_add_", [(3, 4), DUP_IDX, (2, 3)], lambda lib, x, i, s: (x * 1).scatter_add_(0, i, s)),
    ("index_add_", [(3, 4), ints(3, 0, 3), (3, 3)], lambda lib, x, i, s: (x * 1).index_add_(1, i, s)),
    ("index_fill_", [(3, 4), ints(3, 0)], lambda lib, x, i: (x * 1).index_fill_(1, i, -1.0)),
    ("index_copy_", [(3, 4), ints(2, 0), (2, 4)], lambda lib, x, i, s: (x * 1).index_copy_(0, i, s)),
    ("index_put_", [(4, 3), ints(0, 0, 2), (3,)],
     lambda lib, x, i, v: (x * 1).index_put_((i, i), v, accumulate=True)),
]


@pytest.mark.parametrize("case", INPLACE_CASES, ids=ids(INPLACE_CASES))
def test_inplace_index_ops(case):
    _, inputs, fn = case
    check_op(inputs, lambda *a: fn(torch, *a), lambda *a: fn(ndgrad, *a),
             dtype=["float64" if isinstance(s, tuple) else None for s in inputs])


@pytest.mark.parametrize("shape", [(3, 4), (5,), (), (2, 0), (2, 3, 2)])
def test_nonzero(shape):
    a = oracle.random_array(shape, "int64", -1, 2)
    check_op([a], lambda x: x.nonzero(), grad=False)
    check_op([a], lambda x: torch.nonzero(x, as_tuple=True), lambda x: ndgrad.nonzero(x, as_tuple=True),
             grad=False)
    check_op([a], torch.argwhere, ndgrad.argwhere, grad=False)


# -- linear algebra -------------------------------------------------------------------------------

LINALG_CASES = [
    ("dot_1d_1d", [(3,), (3,)], lambda lib, a, b: a @ b),
    ("mat_vec", [(2, 3), (3,)], lambda lib, a, b: lib.matmul(a, b)),
    ("vec_mat", [(3,), (3, 4)], lambda lib, a, b: a.matmul(b)),
    ("mat_mat", [(2, 3), (3, 4)], lambda lib, a, b: a @ b),
    ("batch_mat", [(5, 2, 3), (3, 4)], lambda lib, a, b: a @ b),
    ("mat_batch", [(2, 3), (5, 3, 4)], lambda lib, a, b: a @ b),
    ("vec_batch", [(3,), (5, 3, 4)], lambda lib, a, b: a @ b),
    ("batch_vec", [(5, 2, 3), (3,)], lambda lib, a, b: a @ b),
    ("batch_bcast", [(1, 2, 3), (5, 3, 4)], lambda lib, a, b: a @ b),
    ("batch_bcast_4d", [(2, 1, 2, 3), (5, 3, 4)], lambda lib, a, b: a @ b),
    ("batch_4d_mat", [(2, 3, 2, 3), (3, 4)], lambda lib, a, b: a @ b),
    ("size0_rows", [(0, 3), (3, 4)], lambda lib, a, b: a @ b),
    ("size0_inner", [(2, 0), (0, 3)], lambda lib, a, b: a @ b),
    ("transposed_operand", [(3, 2), (4, 3)], lambda lib, a, b: a.t() @ b.t()),
    ("mm", [(2, 3), (3, 4)], lambda lib, a, b: lib.mm(a, b)),
    ("bmm", [(2, 2, 3), (2, 3, 4)], lambda lib, a, b: a.bmm(b)),
    ("mv", [(2, 3), (3,)], lambda lib, a, b: a.mv(b)),
    ("dot", [(4,), (4,)], lambda lib, a, b: lib.dot(a, b)),
    ("inner", [(2, 4), (3, 4)], lambda lib, a, b: lib.inner(a, b)),
    ("outer", [(3,), (4,)], lambda lib, a, b: lib.outer(a, b)),
    ("vecdot", [(2, 1, 4), (3, 4)], lambda lib, a, b: (torch.linalg if lib is torch else ndgrad).vecdot(a, b)),
    ("einsum_mm", [(2, 3), (3, 4)], lambda lib, a, b: lib.einsum("ij,jk->ik", a, b)),
    ("einsum_list", [(2, 3), (3, 4)], lambda lib, a, b: lib.einsum("ij,jk", [a, b])),
    ("einsum_sum", [(2, 3)], lambda lib, a: lib.einsum("ij->", a)),
    ("einsum_rowsum", [(2, 3)], lambda lib, a: lib.einsum("ij->i", a)),
    ("einsum_transpose", [(2, 3)], lambda lib, a: lib.einsum("ij->ji", a)),
    ("einsum_trace", [(3, 3)], lambda lib, a: lib.einsum("ii", a)),
    ("einsum_diag", [(3, 3)], lambda lib, a: lib.einsum("ii->i", a)),
    ("einsum_batch_diag", [(2, 3, 3)], lambda lib, a: lib.einsum("bii->bi", a)),
    ("einsum_implicit_order", [(2, 3), (3, 4)], lambda lib, a, b: lib.einsum("bA,Ac", a, b)),
    ("einsum_ellipsis", [(2, 1, 3, 4), (5, 4, 2)], lambda lib, a, b: lib.einsum("...ij,...jk->...ik", a, b)),
    ("einsum_ellipsis_sum", [(2, 3, 4)], lambda lib, a: lib.einsum("...j->j", a)),
    ("einsum_ellipsis_implicit", [(2, 3, 4), (4,)], lambda lib, a, b: lib.einsum("...j,j", a, b)),
    ("einsum_bcast_letter", [(1, 3), (4, 3)], lambda lib, a, b: lib.einsum("ij,ij->ij", a, b)),
    ("einsum_three", [(2, 3), (3, 4), (4, 2)], lambda lib, a, b, c: lib.einsum("ij,jk,kl->il", a, b, c)),
    ("einsum_outer", [(2,), (3,)], lambda lib, a, b: lib.einsum("i,j->ij", a, b)),
    ("einsum_spaces", [(2, 3), (2, 3)], lambda lib, a, b: lib.einsum("ij, ij -> i", a, b)),
    ("einsum_repeat_across", [(3, 3), (3,)], lambda lib, a, b: lib.einsum("ii,i->i", a, b)),
    ("einsum_bilinear", [(2, 3), (4, 3, 5), (2, 5)], lambda lib, a, w, b: lib.einsum("bi,oij,bj->bo", a, w, b)),
    ("tensordot_2", [(2, 3, 4), (3, 4, 5)], lambda lib, a, b: lib.tensordot(a, b)),
    ("tensordot_1", [(2, 3), (3, 4)], lambda lib, a, b: lib.tensordot(a, b, dims=1)),
    ("tensordot_0", [(2,), (3,)], lambda lib, a, b: lib.tensordot(a, b, dims=0)),
    ("tensordot_axes", [(2, 3), (3, 4)],
     lambda lib, a, b: torch.tensordot(a, b, 1) if lib is torch else ndgrad.tensordot(a, b, axes=1)),
    ("tensordot_lists", [(2, 3, 4), (4, 5, 2)], lambda lib, a, b: lib.tensordot(a, b, dims=([0, 2], [2, 0]))),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", LINALG_CASES, ids=ids(LINALG_CASES))
def test_linalg(case, dtype):
    run(case, dtype)


@pytest.mark.parametrize("case", LINALG_CASES, ids=ids(LINALG_CASES))
def test_linalg_noncontiguous(case):
    run(case, contiguous=False)


def test_rmatmul_with_numpy_array():
    a = np.random.default_rng(0).standard_normal((2, 3))
    b = ndgrad.randn(3, 4, dtype=ndgrad.float64)
    np.testing.assert_allclose((a @ b).numpy(), a @ b.numpy())


# -- numerical gradient checks: one line per backward rule ---------------------------------------

def _idx(array):
    return ndgrad.from_numpy(array)


GRADCHECK_CASES = [
    ("reshape", [(2, 3)], lambda x: x.reshape(3, 2)),
    ("reshape_copy", [(2, 3)], lambda x: x.t().reshape(-1)),
    ("permute", [(2, 3, 2)], lambda x: x.permute(2, 0, 1)),
    ("expand", [(3, 1)], lambda x: x.expand(2, 3, 2)),
    ("repeat", [(2, 2)], lambda x: x.repeat(2, 1, 2)),
    ("cat", [(2, 2), (1, 2)], lambda x, y: ndgrad.cat([x, y, x])),
    ("narrow", [(4, 2)], lambda x: x.narrow(0, 1, 2)),
    ("flip", [(2, 3)], lambda x: x.flip((0, 1))),
    ("roll", [(2, 3)], lambda x: x.roll(1, 1)),
    ("tril", [(3, 3)], lambda x: x.tril(-1)),
    ("pad", [(2, 3)], lambda x: ndgrad.pad(x, (1, -1, 0, 2))),
    ("clone", [(2, 3)], lambda x: x.clone()),
    ("getitem_basic", [(3, 4)], lambda x: x[1:, None, ::2]),
    ("getitem_take", [(3, 4)], lambda x: x[[0, 2, 0]]),
    ("getitem_advanced", [(3, 4)], lambda x: x[[0, 2, 0], [1, 1, 3]]),
    ("getitem_mask", [(3, 4)], lambda x: x[_idx(MASK_34)]),
    ("setitem", [(3, 4), (2,)], lambda x, v: _setitem(x, (slice(1, None), 2), v)),
    ("setitem_advanced", [(3, 4), (2,)], lambda x, v: _setitem(x, ([0, 2], [1, 3]), v)),
    ("index_put_acc", [(3, 4), (3,)], lambda x, v: x.index_put((_idx(ints(0, 0, 2)),), v.unsqueeze(1),
                                                               accumulate=True)),
    ("gather", [(3, 4)], lambda x: x.gather(1, _idx(DUP_IDX))),
    ("scatter", [(3, 4), (3, 3)], lambda x, s: x.scatter(1, _idx(GATHER_IDX), s)),
    ("scatter_add", [(3, 4), (2, 3)], lambda x, s: x.scatter_add(0, _idx(DUP_IDX), s)),
    ("index_select", [(3, 4)], lambda x: x.index_select(1, _idx(ints(3, 3, 0)))),
    ("masked_fill", [(3, 4), ()], lambda x, v: x.masked_fill(_idx(MASK_34), v)),
    ("take_along_dim", [(3, 4)], lambda x: x.take_along_dim(_idx(DUP_IDX.T.copy()), 1)),
    ("diagonal", [(3, 4)], lambda x: x.diagonal(1)),
    ("diag_embed", [(2, 3)], lambda x: ndgrad.diag_embed(x, -1)),
    ("repeat_interleave", [(2, 3)], lambda x: x.repeat_interleave(ndgrad.tensor([2, 0, 1]), dim=1)),
    ("index_add", [(3, 4), (3, 2)], lambda x, s: x.index_add(1, _idx(ints(3, 3)), s)),
    ("index_copy", [(3, 4), (2, 4)], lambda x, s: x.index_copy(0, _idx(ints(2, 0)), s)),
    ("matmul", [(2, 3), (3, 2)], lambda a, b: a @ b),
    ("matmul_vec", [(3,), (2, 3, 2)], lambda a, b: a @ b),
    ("matmul_batch_vec", [(2, 2, 3), (3,)], lambda a, b: a @ b),
    ("matmul_dot", [(3,), (3,)], lambda a, b: a @ b),
    ("matmul_batch_weight", [(2, 2, 3), (3, 2)], lambda a, b: a @ b),
    ("einsum", [(2, 3), (3, 2)], lambda a, b: ndgrad.einsum("ij,jk->ik", a, b)),
    ("einsum_diag_sum", [(3, 3), (3,)], lambda a, b: ndgrad.einsum("ii,j->j", a, b)),
    ("einsum_ellipsis_bcast", [(2, 1, 3), (4, 3)], lambda a, b: ndgrad.einsum("...i,...i->...", a, b)),
    ("tensordot", [(2, 3), (3, 2)], lambda a, b: ndgrad.tensordot(a, b, 1)),
]


def _setitem(x, index, v):
    y = x * 1
    y[index] = v
    return y


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=ids(GRADCHECK_CASES))
def test_gradcheck(case):
    _, shapes, fn = case
    inputs = [ndgrad.from_numpy(oracle.random_array(s, "float64")).requires_grad_() for s in shapes]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# -- views, versions, in-place semantics -----------------------------------------------------------

def test_reshape_view_shares_memory_and_version():
    x = ndgrad.arange(6.0)
    y = x.reshape(2, 3)
    y[0, 1] = 10.0
    assert x[1].item() == 10.0
    assert x._version == y._version == 1
    z = x.reshape(2, 3).t().reshape(-1)       # a transposed tensor cannot be viewed flat: a copy
    z[0] = -1.0
    assert x[0].item() == 0.0


def test_diagonal_is_a_writable_view():
    x = ndgrad.zeros(3, 4)
    x.diagonal(1).fill_(2.0)
    t = torch.zeros(3, 4)
    t.diagonal(1).fill_(2.0)
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    assert x._version == 1


@pytest.mark.parametrize("seed", range(20))
def test_can_view_agrees_with_torch(seed):
    r = np.random.default_rng(seed)
    shape = tuple(int(s) for s in r.integers(1, 4, size=r.integers(1, 5)))
    base = np.arange(np.prod(shape) * 4).reshape(shape[:-1] + (shape[-1] * 4,))
    perm = tuple(r.permutation(len(shape)))
    arr = base[..., ::4].transpose(perm) if r.random() < 0.5 else base[..., :shape[-1]].transpose(perm)
    t = torch.from_numpy(np.ascontiguousarray(base)).as_strided(
        arr.shape, tuple(s // arr.itemsize for s in arr.strides),
        (arr.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // arr.itemsize)
    n = arr.size
    for new in [(n,), (1, n), tuple(reversed(arr.shape)), arr.shape[:1] + (-1,), (-1,) + arr.shape[-1:]]:
        new = tuple(n // max(1, int(np.prod([s for s in new if s != -1]))) if s == -1 else s for s in new)
        try:
            t.view(new)
            torch_ok = True
        except RuntimeError:
            torch_ok = False
        assert can_view(arr, new) == torch_ok, (arr.shape, arr.strides, new)
        if torch_ok:
            assert np.shares_memory(arr.reshape(new), arr)


def test_setitem_on_non_leaf_gradients_match_torch():
    xt = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    vt = torch.randn(4, dtype=torch.float64, requires_grad=True)
    xn = ndgrad.from_numpy(xt.detach().numpy().copy()).requires_grad_()
    vn = ndgrad.from_numpy(vt.detach().numpy().copy()).requires_grad_()
    outs = []
    for x, v in ((xt, vt), (xn, vn)):
        y = x * 3
        y[1] = v * 2        # overwrites a row: x's gradient there is zero, v's is 2 * upstream
        z = y * y
        z.sum().backward()
        outs.append((x.grad, v.grad))
    np.testing.assert_allclose(outs[1][0].numpy(), outs[0][0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(outs[1][1].numpy(), outs[0][1].numpy(), rtol=1e-12)


def test_setitem_into_plain_tensor_makes_it_require_grad():
    v = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    buf = ndgrad.zeros(3, 2)
    buf[1] = v
    assert buf.requires_grad and buf.grad_fn is not None
    (buf * 3).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 3.0])


def test_setitem_bumps_version_so_saved_tensors_complain():
    x = ndgrad.randn(3, requires_grad=True)
    y = x * 1
    z = y * y                  # saves y
    y[0] = 0.0
    check_error(lambda: z.sum().backward(), ["modified by an in-place operation"])


def test_setitem_under_no_grad_writes_leaf():
    w = ndgrad.zeros(2, 2, requires_grad=True)
    with ndgrad.no_grad():
        w[0, 0] = 5.0
    assert w[0, 0].item() == 5.0 and w.is_leaf


# -- errors -----------------------------------------------------------------------------------------

def test_error_matmul_shapes():
    a, b = ndgrad.zeros(2, 3), ndgrad.zeros(4, 5)
    check_error(lambda: a @ b, [r"matmul", r"\(2, 3\)", r"\(4, 5\)", r"size 3", r"size 4", "transpose"],
                torch_fn=lambda: torch.zeros(2, 3) @ torch.zeros(4, 5))
    check_error(lambda: ndgrad.zeros(2, 2, 3) @ ndgrad.zeros(3, 3, 4), [r"batch dims \(2,\) and \(3,\)"],
                torch_fn=lambda: torch.zeros(2, 2, 3) @ torch.zeros(3, 3, 4))
    check_error(lambda: ndgrad.zeros(()) @ ndgrad.zeros(3), ["at least 1D"])
    check_error(lambda: ndgrad.zeros(2, 3) @ ndgrad.zeros(3, dtype=ndgrad.float64), ["same dtype", "float32"],
                torch_fn=lambda: torch.zeros(2, 3) @ torch.zeros(3, dtype=torch.float64))
    check_error(lambda: ndgrad.mm(ndgrad.zeros(3), ndgrad.zeros(3, 2)), ["mm", "2-D"])
    check_error(lambda: ndgrad.bmm(ndgrad.zeros(2, 2, 3), ndgrad.zeros(3, 3, 2)), ["bmm", "batch sizes"])
    check_error(lambda: ndgrad.dot(ndgrad.zeros(3), ndgrad.zeros(4)), ["dot", "3 and 4"])


def test_error_cat_names_tensor_and_dim():
    check_error(lambda: ndgrad.cat([ndgrad.zeros(2, 3), ndgrad.zeros(2, 3), ndgrad.zeros(2, 4)]),
                ["cat", "tensor number 2", "dim 1", r"\(2, 4\)", "dimension 0"],
                torch_fn=lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4)]))
    check_error(lambda: ndgrad.cat([ndgrad.zeros(2, 3), ndgrad.zeros(3)]), ["same number of dimensions"])
    check_error(lambda: ndgrad.cat([]), ["non-empty"])
    check_error(lambda: ndgrad.stack([ndgrad.zeros(2), ndgrad.zeros(3)]), ["stack", "equal size", "entry 1"])


def test_error_reshape_and_view():
    x = ndgrad.zeros(2, 3)
    check_error(lambda: x.reshape(4, 2), ["reshape", r"\[4, 2\]", "size 6", r"\(2, 3\)", "-1"],
                torch_fn=lambda: torch.zeros(2, 3).reshape(4, 2))
    check_error(lambda: x.reshape(-1, -1), ["only one dimension can be inferred"])
    check_error(lambda: x.reshape(4, -1), ["invalid for input of size 6"])
    check_error(lambda: x.t().view(6), ["view", "reshape"], torch_fn=lambda: torch.zeros(2, 3).t().view(6))
    check_error(lambda: x.expand(3, 3), ["expand", "non-singleton dimension 0", "repeat"])
    check_error(lambda: x.permute(0, 0), ["permute", "repeat"])
    check_error(lambda: x.transpose(0, 2), ["dim 2 is out of range", r"\[-2, 1\]"])
    check_error(lambda: x.unflatten(1, (2, 2)), ["unflatten", "size 3"])
    check_error(lambda: x.narrow(1, 2, 2), ["narrow", "exceeds"])
    check_error(lambda: x.split([1, 1], 1), ["split", "sum to the size 3"])
    check_error(lambda: ndgrad.pad(x, (1,)), ["even"])
    check_error(lambda: ndgrad.pad(x, (1, 1), mode="reflect"), ["constant"])
    check_error(lambda: ndgrad.tril(ndgrad.zeros(3)), ["tril", "2 dimensions"])


def test_error_index_out_of_range():
    x = ndgrad.zeros(3, 4)
    check_error(lambda: x[3], ["index 3", "dimension 0", "size 3"], IndexError, torch_fn=lambda: torch.zeros(3, 4)[3])
    check_error(lambda: x[0, -5], ["index -5", "dimension 1", "size 4", r"-4\.\.3"], IndexError)
    check_error(lambda: x[:, [0, 7]], ["index 7", "dimension 1", "size 4"], IndexError,
                torch_fn=lambda: torch.zeros(3, 4)[:, [0, 7]])
    check_error(lambda: x[0, 0, 0], ["too many indices", "dimension 2"], IndexError)
    check_error(lambda: x[ndgrad.ones(4, dtype=ndgrad.bool)], ["mask", r"\[4\]", r"\[3, 4\]"], IndexError)
    check_error(lambda: x[ndgrad.zeros(2)], ["long, int or bool"], IndexError)
    check_error(lambda: x[::-1], ["step must be greater than zero", "flip"], ValueError)
    check_error(lambda: x[..., ...], ["single ellipsis"], IndexError)
    check_error(lambda: x.gather(1, ndgrad.tensor([[4]])), ["gather", "index 4", "dimension 1", "size 4"],
                IndexError, torch_fn=lambda: torch.zeros(3, 4).gather(1, torch.tensor([[4]])))
    check_error(lambda: x.gather(1, ndgrad.tensor([0])), ["same number of dimensions"])
    check_error(lambda: x.index_select(0, ndgrad.tensor([-1])), ["index_select", "index -1"], IndexError)
    check_error(lambda: x.masked_fill(ndgrad.ones(3, 4), 1.0), ["bool mask"])


def test_error_setitem_leaf_and_failed_writes_leave_input_unchanged():
    w = ndgrad.zeros(3, requires_grad=True)
    check_error(lambda: w.__setitem__(0, 1.0), ["leaf", "requires grad", "no_grad"],
                torch_fn=lambda: torch.zeros(3, requires_grad=True).__setitem__(0, 1.0))
    assert w.is_leaf and w.grad_fn is None and float(w.sum().item()) == 0.0

    x = ndgrad.arange(6.0).reshape(2, 3)
    before = x.numpy().copy()
    check_error(lambda: x.__setitem__(0, ndgrad.ones(4)), ["setitem", r"\(4,\)", "broadcast"])
    check_error(lambda: x.__setitem__((slice(None), [0, 5]), 1.0), ["index 5"], IndexError)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x._version == 0

    # assignment into a view of a tracked tensor rewrites the base's history (PyTorch's CopySlices);
    # its gradients are compared with torch in test_autograd.py
    y = ndgrad.zeros(2, 3) * ndgrad.ones(1, requires_grad=True)
    y[0][1] = 1.0
    assert y.grad_fn.name() == "CopySlices" and y[0, 1].item() == 1.0


def test_error_diagonal_and_index_add():
    x = ndgrad.zeros(3, 4)
    check_error(lambda: x.diagonal(0, 1, -1), ["diagonal", "same dim"],
                torch_fn=lambda: torch.zeros(3, 4).diagonal(0, 1, -1))
    check_error(lambda: ndgrad.diag(ndgrad.zeros(2, 2, 2)), ["diag", "1-D or 2-D"])
    check_error(lambda: x.index_add(1, ndgrad.tensor([0, 1]), ndgrad.zeros(3, 3)),
                ["index_add", r"\(3, 3\)", r"\(3, 2\)"],
                torch_fn=lambda: torch.zeros(3, 4).index_add(1, torch.tensor([0, 1]), torch.zeros(3, 3)))
    check_error(lambda: x.index_fill(1, ndgrad.tensor([4]), 1.0), ["index 4", "size 4"], IndexError)
    check_error(lambda: x.repeat_interleave(ndgrad.tensor([1, 2]), dim=1), ["repeat_interleave", "4 entries"])


def test_error_einsum_and_tensordot():
    a = ndgrad.zeros(2, 3)
    check_error(lambda: ndgrad.einsum("ij,jk->ik", a, ndgrad.zeros(4, 2)), ["einsum", "'j'", "size"],
                torch_fn=lambda: torch.einsum("ij,jk->ik", torch.zeros(2, 3), torch.zeros(4, 2)))
    check_error(lambda: ndgrad.einsum("ijk->i", a), ["einsum", "3 dims", r"\(2, 3\)"])
    check_error(lambda: ndgrad.einsum("ij,jk", a), ["2 operand"])
    check_error(lambda: ndgrad.einsum("ij->k", a), ["'k'"])
    check_error(lambda: ndgrad.tensordot(a, ndgrad.zeros(2, 3), 1), ["tensordot", "size 3", "size 2"])


# -- the same ops on the GPU (CuPy), still against PyTorch on the CPU --------------------------------

CUDA_IDS = {
    "reshape_args", "reshape_0d", "view", "flatten_range", "squeeze_tuple", "permute", "mT", "movedim_multi",
    "expand", "broadcast_tensors", "repeat", "tile_more", "cat_neg", "cat_promote", "stack_end", "split_list",
    "chunk", "unbind", "narrow_neg", "flip", "roll_multi", "tril_k", "triu_batched", "pad_two_dims", "pad_crop",
    "chain", "int", "slice_step", "ellipsis_mid", "tensor_repeat", "int_and_array", "split_arrays", "mask_full",
    "mask_and_int", "numpy_index", "size0_index", "slice_tensor", "mask_value", "array_index", "gather_dup",
    "scatter_src", "scatter_add", "index_select", "take_along_dim_bcast", "take", "masked_fill_tensor",
    "masked_select_bcast", "index_put_acc", "dot_1d_1d", "vec_batch", "batch_bcast_4d", "batch_4d_mat",
    "size0_inner", "bmm", "einsum_diag", "einsum_ellipsis", "einsum_bcast_letter", "einsum_three",
    "tensordot_lists",
}
CUDA_CASES = [c for c in SHAPE_CASES + INDEX_CASES + SETITEM_CASES + GATHER_CASES + LINALG_CASES
              if c[0] in CUDA_IDS]


@pytest.mark.cuda
@pytest.mark.parametrize("case", CUDA_CASES, ids=ids(CUDA_CASES))
def test_cuda_matches_torch(case):
    _, inputs, fn = case
    check_op(inputs, lambda *a: fn(torch, *a), lambda *a: fn(ndgrad, *a), device="cuda",
             dtype=["float64" if isinstance(s, tuple) else None for s in inputs])


@pytest.mark.cuda
def test_cuda_setitem_and_nonzero():
    x = ndgrad.zeros(3, 4, device="cuda")
    v = ndgrad.ones(2, device="cuda", requires_grad=True)
    x[[0, 2], ndgrad.tensor([1, 3])] = v * 2
    (x * x).sum().backward()
    np.testing.assert_array_equal(v.grad.cpu().numpy(), [8.0, 8.0])
    np.testing.assert_array_equal(x.nonzero().cpu().numpy(), [[0, 1], [2, 3]])

"""unfold, rot90, diff, tensor_split and friends, block_diag, cartesian_prod, combinations,
tril/triu_indices, broadcast_shapes against PyTorch: values, gradients, gradchecks, views, errors.

Each table line is (test id, input shapes / arrays, fn(lib, *inputs)).
"""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error
from op_tables import gradcheck_case, ids, ints, run


CASES = [
    ("unfold", [(7,)], lambda lib, x: x.unfold(0, 3, 2)),
    ("unfold_overlap", [(2, 6, 3)], lambda lib, x: x.unfold(1, 4, 1)),
    ("unfold_last_dim", [(3, 8)], lambda lib, x: x.unfold(-1, 2, 3)),
    ("unfold_whole", [(4, 2)], lambda lib, x: x.unfold(0, 4, 5)),
    ("unfold_size0_window", [(3,)], lambda lib, x: x.unfold(0, 0, 1)),
    ("unfold_0d", [()], lambda lib, x: x.unfold(0, 1, 2)),
    ("unfold_twice", [(6, 6)], lambda lib, x: x.unfold(0, 3, 3).unfold(1, 2, 2)),
    ("rot90", [(2, 3)], lambda lib, x: lib.rot90(x)),
    ("rot90_k2", [(2, 3, 4)], lambda lib, x: x.rot90(2, [1, 2])),
    ("rot90_k3", [(2, 3)], lambda lib, x: lib.rot90(x, 3)),
    ("rot90_neg", [(2, 3)], lambda lib, x: lib.rot90(x, -1, [1, 0])),
    ("rot90_k0", [(2, 3)], lambda lib, x: lib.rot90(x, 4)),
    ("diff", [(3, 5)], lambda lib, x: lib.diff(x)),
    ("diff_n2_dim0", [(5, 3)], lambda lib, x: x.diff(2, 0)),
    ("diff_prepend_append", [(3, 4), (3, 1), (3, 2)],
     lambda lib, x, p, a: lib.diff(x, dim=1, prepend=p, append=a)),
    ("diff_n_too_big", [(4,)], lambda lib, x: lib.diff(x, n=6)),
    ("diff_n0", [(4,)], lambda lib, x: lib.diff(x, n=0)),
    ("diff_bool", [np.array([True, False, False, True])], lambda lib, x: lib.diff(x)),
    ("diff_int", [ints(1, 5, 2, 9)], lambda lib, x: lib.diff(x, 2)),
    ("diff_uint8", [np.array([1, 5, 2], dtype=np.uint8)], lambda lib, x: lib.diff(x)),
    ("tensor_split_sections", [(7, 2)], lambda lib, x: lib.tensor_split(x, 3)),
    ("tensor_split_more_sections", [(2, 3)], lambda lib, x: x.tensor_split(5, dim=1)),
    ("tensor_split_indices", [(7,)], lambda lib, x: lib.tensor_split(x, [2, -2, 5])),
    ("tensor_split_unordered", [(7,)], lambda lib, x: lib.tensor_split(x, (5, 2, 9))),
    ("tensor_split_tensor", [(2, 7)], lambda lib, x: lib.tensor_split(x, lib.tensor([1, 3]), dim=-1)),
    ("tensor_split_tensor_0d", [(7,)], lambda lib, x: x.tensor_split(lib.tensor(2))),
    ("hsplit", [(2, 6)], lambda lib, x: lib.hsplit(x, 3)),
    ("hsplit_1d", [(6,)], lambda lib, x: x.hsplit([1, 4])),
    ("vsplit", [(4, 3)], lambda lib, x: lib.vsplit(x, 2)),
    ("dsplit", [(2, 2, 6)], lambda lib, x: x.dsplit([1, 3])),
    ("row_stack", [(3,), (2, 3)], lambda lib, x, y: lib.row_stack([x, y])),
    ("narrow_copy", [(4, 5)], lambda lib, x: lib.narrow_copy(x, 1, 1, 3)),
    ("narrow_copy_method", [(4, 5)], lambda lib, x: x.narrow_copy(0, 2, 2)),
    ("block_diag", [(2, 3), (), (2,), (1, 1)], lambda lib, a, b, c, d: lib.block_diag(a, b, c, d)),
    ("block_diag_promote", [(2, 2), ints(1, 2)], lambda lib, a, b: lib.block_diag(a, b)),
    ("block_diag_empty_block", [(2, 0), (1, 2)], lambda lib, a, b: lib.block_diag(a, b)),
    ("cartesian_prod", [(2,), (3,), (2,)], lambda lib, a, b, c: lib.cartesian_prod(a, b, c)),
    ("cartesian_prod_one", [(3,)], lambda lib, a: lib.cartesian_prod(a)),
    ("combinations", [(4,)], lambda lib, x: lib.combinations(x)),
    ("combinations_r3", [(5,)], lambda lib, x: lib.combinations(x, r=3)),
    ("combinations_replacement", [(3,)], lambda lib, x: lib.combinations(x, 2, with_replacement=True)),
    ("combinations_too_few", [(2,)], lambda lib, x: lib.combinations(x, 3)),
    ("combinations_r0", [(3,)], lambda lib, x: lib.combinations(x, 0)),
    ("as_strided", [(3, 4)], lambda lib, x: x.as_strided((3, 3), (4, 1), 1)),
    ("as_strided_overlap", [(8,)], lambda lib, x: lib.as_strided(x, (3, 4), (2, 1))),
    ("as_strided_broadcast", [(5,)], lambda lib, x: lib.as_strided(x, (2, 3), (0, 2), 0)),
    ("diagflat", [(2, 2)], lambda lib, x: lib.diagflat(x)),
    ("diagflat_offset", [(3,)], lambda lib, x: x.diagflat(-1)),
    ("split_with_sizes", [(2, 6)], lambda lib, x: x.split_with_sizes([1, 3, 2], 1)),
    ("unsafe_split", [(5, 2)], lambda lib, x: lib.unsafe_split(x, 2)),
    ("unsafe_split_with_sizes", [(5, 2)], lambda lib, x: x.unsafe_split_with_sizes([4, 1])),
    ("unsafe_chunk", [(5, 2)], lambda lib, x: x.unsafe_chunk(3)),
    ("copies", [(2, 3, 4)], lambda lib, x: (
        lib.diagonal_copy(x, 0, 1, 2), lib.permute_copy(x, (2, 0, 1)), lib.select_copy(x, 1, 2),
        lib.transpose_copy(x, 0, 2), lib.squeeze_copy(x[:1]), lib.unsqueeze_copy(x, 1), lib.view_copy(x, (6, 4)),
        lib.unfold_copy(x, 2, 2, 2), lib.expand_copy(x[:1], (3, 3, 4)), lib.t_copy(x[0]), lib.alias_copy(x))),
    ("copies_tuples", [(4, 3)], lambda lib, x: (lib.split_copy(x, 3), lib.split_with_sizes_copy(x, [1, 3]),
                                                lib.unbind_copy(x, 1))),
    ("as_strided_copy", [(3, 4)], lambda lib, x: lib.as_strided_copy(x, (2, 2), (1, 4))),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_against_torch(case):
    run(case)


NONCONTIGUOUS = ["unfold_overlap", "unfold_last_dim", "rot90_k2", "diff_n2_dim0", "tensor_split_sections",
                 "block_diag"]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in NONCONTIGUOUS],
                         ids=[c[0] for c in CASES if c[0] in NONCONTIGUOUS])
def test_noncontiguous(case):
    run(case, contiguous=False)


def test_unfold_is_a_view():
    x = ndgrad.arange(6.0)
    w = x.unfold(0, 2, 2)
    x[1] = 10.0                       # the view sees writes to its base
    assert w.tolist() == [[0.0, 10.0], [2.0, 3.0], [4.0, 5.0]]
    assert w._base is x


INPLACE_SHAPE = [
    ("unsqueeze_", [(2, 3)], lambda lib, x: (x * 1).unsqueeze_(1)),
    ("squeeze_", [(1, 3, 1)], lambda lib, x: (x * 1).squeeze_()),
    ("squeeze_dim", [(1, 3, 1)], lambda lib, x: (x * 1).squeeze_(-1)),
    ("transpose_", [(2, 3, 4)], lambda lib, x: (x * 1).transpose_(0, 2)),
    ("swapaxes_", [(2, 3)], lambda lib, x: (x * 1).swapaxes_(0, 1)),
    ("swapdims_", [(2, 3)], lambda lib, x: (x * 1).swapdims_(1, 0)),
    ("t_", [(2, 3)], lambda lib, x: (x * 1).t_() * 2),
    ("chained", [(2, 3)], lambda lib, x: (x * 1).t_().unsqueeze_(0).squeeze_(0) + 1),
]


@pytest.mark.parametrize("case", INPLACE_SHAPE, ids=ids(INPLACE_SHAPE))
def test_inplace_shape_against_torch(case):
    run(case)


def test_inplace_shape_changes_the_tensor_itself():
    x = ndgrad.zeros(1, 3)
    alias = x.view(3)
    version = x._version
    assert x.squeeze_() is x and tuple(x.shape) == (3,) and x._version == version + 1
    x.add_(1.0)                       # still the same memory
    assert alias.tolist() == [1.0, 1.0, 1.0]
    leaf = ndgrad.zeros(3, requires_grad=True)
    check_error(lambda: leaf.unsqueeze_(0), ["unsqueeze_", "leaf", "in-place"],
                torch_fn=lambda: torch.zeros(3, requires_grad=True).unsqueeze_(0))
    with ndgrad.no_grad():
        leaf.unsqueeze_(0)
    assert tuple(leaf.shape) == (1, 3) and leaf.requires_grad and leaf.grad_fn is None


def test_copies_do_not_share_memory():
    x = ndgrad.arange(6.0).reshape(2, 3)
    copies = [ndgrad.view_copy(x, (3, 2)), ndgrad.transpose_copy(x, 0, 1), ndgrad.narrow_copy(x, 1, 0, 2),
              ndgrad.alias_copy(x), ndgrad.detach_copy(x)]
    before = [c.tolist() for c in copies]
    x[0, 0] = 100.0
    assert [c.tolist() for c in copies] == before


def test_as_strided_is_a_view():
    x = ndgrad.arange(6.0)
    w = x.as_strided((2, 2), (3, 1))
    x[4] = 40.0
    assert w.tolist() == [[0.0, 1.0], [3.0, 40.0]] and w._base is x


@pytest.mark.parametrize("shape", [(2, 3), (6,), ()])
def test_unravel_index(shape):
    flat = ints(0, 5, -1, 3, 6, -7)
    for indices in (flat, flat.reshape(2, 3), np.array(4)):
        got = ndgrad.unravel_index(ndgrad.from_numpy(indices), shape) if shape else None
        if got is None:
            continue
        want = torch.unravel_index(torch.from_numpy(indices), shape)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == ndgrad.int64 and g.tolist() == w.tolist()
    got, want = ndgrad.unravel_index(ndgrad.tensor([3]), 4), torch.unravel_index(torch.tensor([3]), 4)
    assert len(got) == len(want) == 1 and got[0].tolist() == want[0].tolist()


def test_split_pieces_are_views():
    x = ndgrad.arange(6.0)
    a, b = ndgrad.tensor_split(x, 2)
    x[0] = 7.0
    assert a.tolist()[0] == 7.0 and b._base is x


# -- index and shape helpers (no gradient) -------------------------------------------------------------

@pytest.mark.parametrize("args", [(3, 3), (3, 4, -1), (4, 3, 1), (0, 0), (2, 5, 10), (3, 2, -5)])
def test_triangle_indices(args):
    for name in ("tril_indices", "triu_indices"):
        got = getattr(ndgrad, name)(*args)
        want = getattr(torch, name)(*args)
        assert got.dtype == ndgrad.int64 and got.tolist() == want.tolist()


def test_triangle_indices_dtype():
    got = ndgrad.triu_indices(4, 3, 1, dtype=ndgrad.int32)
    assert got.dtype == ndgrad.int32
    assert got.tolist() == torch.triu_indices(4, 3, 1, dtype=torch.int32).tolist()


@pytest.mark.parametrize("shapes", [((2, 1), (3,)), (4, (1, 1)), ((), (2, 3)), ((0, 1), (1, 5)), ()])
def test_broadcast_shapes(shapes):
    got = ndgrad.broadcast_shapes(*shapes)
    assert isinstance(got, ndgrad.Size) and tuple(got) == tuple(torch.broadcast_shapes(*shapes))


# -- gradient checks -----------------------------------------------------------------------------------

GRAD_CASES = [
    ("unfold", [(7,)], lambda x: x.unfold(0, 3, 2)),
    ("unfold_overlap", [(2, 5)], lambda x: x.unfold(1, 3, 1)),
    ("rot90", [(2, 3)], lambda x: ndgrad.rot90(x, 1)),
    ("diff_prepend", [(3, 4), (3, 1)], lambda x, p: ndgrad.diff(x, 2, 1, prepend=p)),
    ("tensor_split", [(7,)], lambda x: ndgrad.tensor_split(x, [2, 5])),
    ("block_diag", [(2, 2), (3,)], lambda a, b: ndgrad.block_diag(a, b)),
    ("cartesian_prod", [(2,), (3,)], lambda a, b: ndgrad.cartesian_prod(a, b)),
    ("combinations", [(4,)], lambda x: ndgrad.combinations(x, 2)),
    ("as_strided_overlap", [(6,)], lambda x: x.as_strided((3, 3), (1, 1))),
    ("diagflat", [(2, 2)], lambda x: ndgrad.diagflat(x, 1)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_gradcheck(case):
    gradcheck_case(case)


# -- errors --------------------------------------------------------------------------------------------

def test_errors():
    x, tx = ndgrad.zeros(2, 4), torch.zeros(2, 4)
    check_error(lambda: x.unfold(1, 5, 1), ["unfold", "maximum size", "dimension 1 is 4", "size is 5"],
                torch_fn=lambda: tx.unfold(1, 5, 1))
    check_error(lambda: x.unfold(1, 2, 0), ["unfold", "step", "> 0"], torch_fn=lambda: tx.unfold(1, 2, 0))
    check_error(lambda: ndgrad.hsplit(x, 3), ["hsplit", "dimension 1", "not divisible", "3"],
                torch_fn=lambda: torch.hsplit(tx, 3))
    check_error(lambda: ndgrad.vsplit(ndgrad.zeros(3), 1), ["vsplit", "at least 2 dimension"],
                torch_fn=lambda: torch.vsplit(torch.zeros(3), 1))
    check_error(lambda: ndgrad.tensor_split(x, 0), ["number of sections must be larger than 0"],
                torch_fn=lambda: torch.tensor_split(tx, 0))
    check_error(lambda: ndgrad.tensor_split(x, ndgrad.zeros(2)), ["tensor_split", "long"],
                torch_fn=lambda: torch.tensor_split(tx, torch.zeros(2)))
    check_error(lambda: ndgrad.diff(ndgrad.zeros(())), ["diff", "at least one-dimensional"],
                torch_fn=lambda: torch.diff(torch.zeros(())))
    check_error(lambda: ndgrad.diff(x, prepend=ndgrad.zeros(4)), ["same dimension as input", r"\(4,\)"],
                torch_fn=lambda: torch.diff(tx, prepend=torch.zeros(4)))
    check_error(lambda: ndgrad.rot90(x, 1, [0, 0]), ["rot90", "different"], torch_fn=lambda: torch.rot90(tx, 1, [0, 0]))
    check_error(lambda: ndgrad.rot90(ndgrad.zeros(3)), ["rot90", "dims >= 2"],
                torch_fn=lambda: torch.rot90(torch.zeros(3)))
    check_error(lambda: ndgrad.block_diag(ndgrad.zeros(1, 1, 1)), ["block_diag", "2 or fewer", "Input 0"],
                torch_fn=lambda: torch.block_diag(torch.zeros(1, 1, 1)))
    check_error(lambda: ndgrad.cartesian_prod(x), ["cartesian_prod", "1D"], torch_fn=lambda: torch.cartesian_prod(tx))
    check_error(lambda: ndgrad.combinations(x), ["combinations", "1D"], torch_fn=lambda: torch.combinations(tx))
    check_error(lambda: x.as_strided((3, 3), (3, 1)), ["as_strided", "require 9 elements", "has 8"],
                torch_fn=lambda: tx.as_strided((3, 3), (3, 1)))
    check_error(lambda: x.as_strided((3, 3), (3,)), ["as_strided", "mismatch in length of strides and shape"],
                torch_fn=lambda: tx.as_strided((3, 3), (3,)))
    check_error(lambda: ndgrad.unravel_index(ndgrad.zeros(2), (2, 2)), ["integer dtype", "float32"], exc=TypeError,
                torch_fn=lambda: torch.unravel_index(torch.zeros(2), (2, 2)))
    check_error(lambda: ndgrad.broadcast_shapes((2, 3), (4,)), ["broadcast", r"\(2, 3\)", r"\(4,\)"],
                torch_fn=lambda: torch.broadcast_shapes((2, 3), (4,)))

"""Indexing with ``range`` objects, NumPy arrays and scalars, and lists of them, against torch.

Reads and writes, forward values and gradients (``check_op``), PyTorch's legacy rules included: a list
holding sequences/tensors/slices is read as a tuple, uint8 indices are masks, float sequences truncate.
"""
import warnings

import numpy as np
import pytest

import ndgrad
from oracle import check_error, check_op

pytestmark = [pytest.mark.filterwarnings("ignore:.*non-tuple sequence.*"),
              pytest.mark.filterwarnings("ignore:.*uint8.*")]

Y = np.array([1, 0, 5, 2])

READS = [
    ("range", lambda x: x[range(2)]),
    ("range_and_tensor_index", lambda x: x[range(4), _idx(x, Y)]),
    ("range_with_step_and_slice", lambda x: x[range(0, 4, 2), 1:3]),
    ("empty_range", lambda x: x[range(0)]),
    ("range_in_tuple", lambda x: x[(range(2), 0)]),
    ("numpy_int_array", lambda x: x[np.array([0, 2])]),
    ("numpy_2d_int_array", lambda x: x[np.array([[0, 2], [1, 1]])]),
    ("numpy_negative", lambda x: x[np.array([-1, -4])]),
    ("numpy_repeated", lambda x: x[np.array([1, 1, 1])]),
    ("numpy_bool", lambda x: x[np.array([True, False, True, False])]),
    ("numpy_bool_second_dim", lambda x: x[:, np.array([True, False, True, False, True, True])]),
    ("numpy_0d_bool", lambda x: x[np.array(True)]),
    ("numpy_scalar", lambda x: x[np.int64(1)]),
    ("numpy_scalars_tuple", lambda x: x[np.int64(1), np.int32(2)]),
    ("numpy_empty", lambda x: x[np.array([], dtype=np.int64)]),
    ("numpy_with_ellipsis", lambda x: x[..., np.array([0, 5])]),
    ("list_of_numpy_arrays", lambda x: x[[np.array([0, 1]), np.array([1, 2])]]),
    ("list_of_ranges", lambda x: x[[range(2), range(1, 3)]]),
    ("list_of_lists", lambda x: x[[[0, 1], [1, 2]]]),
    ("list_with_slice", lambda x: x[[0, slice(None)]]),
    ("list_of_numpy_ints", lambda x: x[[np.int64(0), np.int64(3)]]),
    ("list_of_floats", lambda x: x[[0.0, 1.7]]),
    ("numpy_floats", lambda x: x[np.array([1.7, 2.2])]),
    ("list_of_bools", lambda x: x[[True, False, True, False]]),
    ("numpy_uint8_mask", lambda x: x[np.array([1, 0, 0, 1], dtype=np.uint8)]),
    ("long_list", lambda x: x[[0] * 33]),
    ("long_list_of_lists", lambda x: x[[[0]] * 33]),
]


def _idx(x, array):
    """An index tensor of the same library as x."""
    return type(x)(array.tolist()).long() if type(x).__module__.startswith("torch") else ndgrad.tensor(array)


@pytest.mark.parametrize("name,fn", READS, ids=[r[0] for r in READS])
@pytest.mark.parametrize("contiguous", [True, False])
def test_reads_match_torch(name, fn, contiguous):
    check_op([(4, 6)], fn, contiguous=contiguous)


def _written(index):
    def fn(x, v):
        z = x * 1
        z[index] = v
        return z
    return fn


WRITES = [
    ("range_and_array", (range(4), Y), (4,)),
    ("range_and_array_scalar_value", (range(4), Y), ()),
    ("numpy_rows", np.array([0, 2]), (6,)),
    ("numpy_rows_full_value", np.array([0, 2]), (2, 6)),
    ("numpy_mask", np.array([True, False, True, False]), (1, 6)),
    ("numpy_pairs", (np.array([0, 1]), np.array([1, 2])), (2,)),
    ("range_columns", (slice(None), range(1, 4)), (4, 3)),
    ("numpy_scalar", np.int64(3), (6,)),
]


@pytest.mark.parametrize("name,index,value_shape", WRITES, ids=[w[0] for w in WRITES])
def test_writes_match_torch_with_gradients(name, index, value_shape):
    check_op([(4, 6), value_shape], _written(index))


def test_list_index_write_reads_as_a_tuple():
    def fn(x, v):
        z = x * 1
        z[[np.array([0, 1]), np.array([1, 2])]] = v
        return z
    check_op([(4, 6), (2,)], fn)


def test_range_write_with_python_number_like_cross_entropy_code():
    # x[range(n), y] = v: the one-hot / target-selection idiom of many programs
    check_op([(5, 3)], lambda x: _set(x * 1, (range(5), np.array([0, 2, 1, 1, 0])), -1.0))
    check_op([(5, 3)], lambda x: x[range(5), np.array([0, 2, 1, 1, 0])].sum())


def _set(z, index, value):
    z[index] = value
    return z


def test_errors_name_the_problem():
    x = ndgrad.zeros(4, 6)
    check_error(lambda: x[np.array([4])], "out of bounds for dimension 0 with size 4", IndexError)
    check_error(lambda: x[np.float64(1.0)], "long, int or bool", IndexError)
    check_error(lambda: x[ndgrad.tensor([1.0, 2.0])], "long, int or bool", IndexError)
    check_error(lambda: x[[True]], "shape of the mask", IndexError)


def test_legacy_forms_warn_as_torch_does():
    x = ndgrad.zeros(4, 6)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        x[[[0, 1], [1, 2]]]
    with pytest.warns(UserWarning, match="uint8"):
        x[np.array([1, 0, 0, 1], dtype=np.uint8)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x[[0, 1]]
        x[range(2)]
        x[np.array([0, 1])]

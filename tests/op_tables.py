"""Helpers shared by the table-driven op tests (test_ops_sorting, test_ops_scatter, test_ops_shape_extra).

A case is one table line: (test id, input shapes / arrays, fn(lib, *inputs)) with ``lib`` torch or ndgrad;
the gradcheck tables hold (test id, shapes, fn(*ndgrad_inputs)).
"""
import numpy as np
import torch

import ndgrad
import oracle
from ndgrad.autograd import gradcheck, gradgradcheck


def ints(*values):
    return np.array(values, dtype=np.int64)


def ids(table):
    return [c[0] for c in table]


def run(case, contiguous=True, grad=True):
    """Compare one case's values (and gradients) with torch."""
    _, inputs, fn = case
    return oracle.check_op(inputs, lambda *a: fn(torch, *a), lambda *a: fn(ndgrad, *a), contiguous=contiguous,
                           grad=grad)


def gradcheck_case(case):
    """First and second derivatives of a gradcheck case, numerically, in float64 on random inputs."""
    _, shapes, fn = case
    inputs = [ndgrad.from_numpy(oracle.random_array(s, "float64")).requires_grad_() for s in shapes]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)

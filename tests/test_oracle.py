"""The oracle must fail when ndgrad disagrees with torch: checks of the checker itself."""
import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd.node import Node
from oracle import check_error, check_higher_order, check_op, noncontiguous, random_array


class _WrongExpGrad(Node):
    needs_output = True

    def forward(self, x):
        return self.xp.exp(x)

    def backward(self, grad):
        return grad * self.output() * 1.001  # slightly wrong


def test_catches_wrong_values():
    with pytest.raises(AssertionError, match="forward output 0"):
        check_op([(3,)], torch.exp, lambda x: ndgrad.exp(x) * 1.0001)


def test_catches_wrong_dtype_and_shape():
    with pytest.raises(AssertionError, match="dtype"):
        check_op([(3,)], lambda x: x * 2, lambda x: (x * 2).to(ndgrad.float32))
    with pytest.raises(AssertionError, match="shape"):
        check_op([(3, 1)], lambda x: x.sum(1), lambda x: x.sum(1, keepdim=True))


def test_catches_wrong_gradient():
    with pytest.raises(AssertionError, match="grad of input 0"):
        check_op([(3,)], torch.exp, lambda x: _WrongExpGrad().apply(x))


def test_catches_missing_graph():
    with pytest.raises(AssertionError, match="requires_grad"):
        check_op([(3,)], torch.exp, lambda x: ndgrad.exp(x.detach()))


def test_catches_wrong_second_derivative():
    with pytest.raises(AssertionError):
        check_higher_order([(3,)], lambda x: x.exp(), lambda x: _WrongExpGrad().apply(x) + x.exp() * 0)


def test_catches_input_mutation():
    def mutating(x):
        out = x * 1
        x._data[0] = 5.0  # after the output is computed: only the input check can notice
        return out
    with pytest.raises(AssertionError, match="modified"):
        check_op([(3,)], lambda x: x * 1, mutating, grad=False)


def test_check_error_checks_message_and_torch():
    with pytest.raises(AssertionError, match="does not match"):
        check_error(lambda: ndgrad.ones(2) + ndgrad.ones(3), r"no such words")
    with pytest.raises(pytest.fail.Exception):
        check_error(lambda: ndgrad.ones(2) + ndgrad.ones(3), r"", torch_fn=lambda: torch.ones(2) + 1)


def test_noncontiguous_views_keep_values():
    for shape in [(3, 4), (2, 3, 4), (5,)]:
        a = random_array(shape)
        v = noncontiguous(a)
        assert not v.flags.c_contiguous and np.array_equal(v, a)

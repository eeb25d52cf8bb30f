"""The fused LSTM/GRU layer node (ndgrad/nn/layers/_fused_rnn.py) against torch and against itself.

LSTM (without proj_size) and GRU over padded input run one FusedLSTM / FusedGRU node per layer and
direction. Compared with torch (float64, copied state_dict): outputs, final states, input, initial-state
and parameter gradients; float32 at the language-model size; gradcheck of the node's hand-written
backward and gradgradcheck of its create_graph fallback; the node is really the one recorded.
"""
import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn as nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn.layers._fused_rnn import FusedGRU, FusedLSTM
from test_nn_modules import check_module

R = np.random.default_rng(11)


def randn(*shape):
    return R.standard_normal(shape)


def lstm_call(m, x, h, c):
    return m(x, (h, c))


CASES = {
    "LSTM-1layer": (lambda nn, T: nn.LSTM(3, 5), [randn(6, 4, 3)], {}),
    "LSTM-2layer-bidir-h0c0": (lambda nn, T: nn.LSTM(3, 4, 2, bidirectional=True),
                               [randn(5, 2, 3), randn(4, 2, 4), randn(4, 2, 4)], {"call": lstm_call}),
    "LSTM-batch_first-nobias": (lambda nn, T: nn.LSTM(3, 4, bias=False, batch_first=True), [randn(2, 5, 3)], {}),
    "LSTM-unbatched-h0c0": (lambda nn, T: nn.LSTM(3, 4), [randn(5, 3), randn(1, 4), randn(1, 4)],
                            {"call": lstm_call}),
    "LSTM-one-step-batch1": (lambda nn, T: nn.LSTM(2, 3, 2), [randn(1, 1, 2)], {}),
    "LSTM-size0-batch": (lambda nn, T: nn.LSTM(2, 3), [randn(4, 0, 2)], {}),
    "GRU-1layer-h0": (lambda nn, T: nn.GRU(3, 5), [randn(6, 4, 3), randn(1, 4, 5)], {}),
    "GRU-3layer-bidir-batch_first": (lambda nn, T: nn.GRU(3, 4, 3, bidirectional=True, batch_first=True),
                                     [randn(2, 5, 3)], {}),
    "GRU-nobias-unbatched": (lambda nn, T: nn.GRU(3, 4, bias=False), [randn(5, 3)], {}),
    "GRU-dropout-eval": (lambda nn, T: nn.GRU(3, 4, 2, dropout=0.3), [randn(4, 3, 3)], {"train": False}),
}


@pytest.mark.parametrize("name", CASES)
def test_fused_layer_matches_torch(name):
    make, inputs, kwargs = CASES[name]
    check_module(make, inputs, **kwargs)


def test_non_contiguous_input_matches_torch():
    # A transposed (non-contiguous) input: the fused node reads the projection of every step from it.
    x = randn(3, 6, 4)
    check_module(lambda nn, T: nn.GRU(4, 3), [x], call=lambda m, a: m(a.transpose(0, 1)))


def _fused_nodes(tensor):
    """Node types reachable from tensor.grad_fn."""
    seen, stack, kinds = set(), [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "next_functions"):
            continue
        seen.add(id(node))
        kinds.add(type(node))
        stack.extend(n for n in node.next_functions if n is not None)
    return kinds


@pytest.mark.parametrize("mode, node", [("LSTM", FusedLSTM), ("GRU", FusedGRU)])
def test_the_layer_records_one_fused_node_per_layer_and_direction(mode, node):
    m = getattr(nn, mode)(3, 4, 2, bidirectional=True)
    out, _ = m(ndgrad.randn(5, 2, 3))
    assert node in _fused_nodes(out)
    proj = nn.LSTM(3, 4, proj_size=2)   # proj_size keeps the step-by-step path
    out, _ = proj(ndgrad.randn(5, 2, 3))
    assert FusedLSTM not in _fused_nodes(out)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_float32_language_model_size_matches_torch(mode):
    # The workload's shape (bptt 35, batch 20, width 200, 2 layers), float32, within float32 tolerance.
    torch.manual_seed(0)
    tm = getattr(torch.nn, mode)(200, 200, 2)
    nm = getattr(nn, mode)(200, 200, 2)
    nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = R.standard_normal((35, 20, 200)).astype(np.float32)
    tx, nx = torch.tensor(x, requires_grad=True), ndgrad.tensor(x, requires_grad=True)
    (to, _), (no, _) = tm(tx), nm(nx)
    weight = R.standard_normal(to.shape).astype(np.float32)
    (to * torch.tensor(weight)).sum().backward()
    (no * ndgrad.tensor(weight)).sum().backward()
    np.testing.assert_allclose(no.detach().numpy(), to.detach().numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), atol=1e-4, rtol=1e-4)
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(dict(nm.named_parameters())[name].grad.numpy(), p.grad.numpy(),
                                   atol=1e-4, rtol=1e-4, err_msg=name)


def _node_inputs(gates, bias, n_states):
    T, N, H = 3, 2, 2
    xw = ndgrad.tensor(randn(T, N, gates * H), requires_grad=True)
    states = [ndgrad.tensor(randn(N, H), requires_grad=True) for _ in range(n_states)]
    w_hh = ndgrad.tensor(randn(gates * H, H) * 0.5, requires_grad=True)
    tail = [ndgrad.tensor(randn(gates * H), requires_grad=True)] if bias else []
    return [xw, *states, w_hh, *tail]


NODE_CASES = [
    ("LSTM", FusedLSTM, 4, 2, True, False),
    ("LSTM-reverse-nobias", FusedLSTM, 4, 2, False, True),
    ("GRU", FusedGRU, 3, 1, True, False),
    ("GRU-reverse-nobias", FusedGRU, 3, 1, False, True),
]


@pytest.mark.parametrize("name, node, gates, n_states, bias, reverse", NODE_CASES)
def test_node_gradcheck(name, node, gates, n_states, bias, reverse):
    inputs = _node_inputs(gates, bias, n_states)
    assert gradcheck(lambda *xs: node(reverse, bias).apply(*xs), inputs)


@pytest.mark.parametrize("name, node, gates, n_states, bias, reverse", NODE_CASES)
def test_node_double_backward(name, node, gates, n_states, bias, reverse):
    # create_graph=True: the backward falls back to the Tensor-op steps, so second derivatives exist.
    inputs = _node_inputs(gates, bias, n_states)
    assert gradgradcheck(lambda *xs: node(reverse, bias).apply(*xs), inputs)


def test_double_backward_through_the_layer_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.LSTM(2, 3).double()
    nm = nn.LSTM(2, 3).double()
    nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = randn(4, 2, 2)
    tx, nx = torch.tensor(x, requires_grad=True), ndgrad.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(tm(tx)[0].pow(2).sum(), tx, create_graph=True)
    (ng,) = ndgrad.autograd.grad(nm(nx)[0].pow(2).sum(), nx, create_graph=True)
    np.testing.assert_allclose(ng.detach().numpy(), tg.detach().numpy(), atol=1e-10)
    tg.pow(2).sum().backward()
    ng.pow(2).sum().backward()
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), atol=1e-9)
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(dict(nm.named_parameters())[name].grad.numpy(), p.grad.numpy(), atol=1e-9)


def test_in_place_change_of_the_output_is_caught_in_backward():
    m = nn.GRU(2, 3)
    out, _ = m(ndgrad.randn(4, 1, 2))
    loss = out.sum()   # sum saves nothing: the error comes from the fused node
    with ndgrad.no_grad():
        out.mul_(2)   # the node saved its output for the backward
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()

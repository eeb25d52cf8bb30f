"""Recurrent layers in full against torch: LSTM proj_size, relu RNNs, bidirectional / batch_first / dropout,
unbatched input, PackedSequence input and output, the cells and RNNCellBase.

Each case copies torch's state_dict into ndgrad (float64) and compares outputs, final states, input and
parameter gradients (``check_module`` from test_nn_modules)."""
import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn as nn
from oracle import check_error
from test_nn_modules import check_module, to_np

R = np.random.default_rng(7)


def randn(*shape):
    return R.standard_normal(shape)


def packed_call(lengths, enforce_sorted=False, batch_first=False, with_hx=False):
    """Pack the padded input, run the layer, pad the output back: compares packed data, h_n (and c_n)."""
    def call(m, x, *hx):
        lib = torch.nn.utils.rnn if isinstance(x, torch.Tensor) else nn.utils.rnn
        packed = lib.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        if with_hx:
            out, state = m(packed, hx[0] if len(hx) == 1 else tuple(hx))
        else:
            out, state = m(packed)
        assert type(out).__name__ == "PackedSequence"
        padded, lens = lib.pad_packed_sequence(out, batch_first=batch_first)
        assert list(lens.tolist()) == list(lengths)
        return out.data, padded, state
    return call


CASES = {
    # proj_size
    "LSTM-proj": (lambda nn, T: nn.LSTM(3, 5, proj_size=2), [randn(6, 4, 3)], {}),
    "LSTM-proj-2layer-bidir-batch_first-h0": (
        lambda nn, T: nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=3),
        [randn(4, 6, 3), randn(4, 4, 3), randn(4, 4, 5)], {"call": lambda m, x, h, c: m(x, (h, c))}),
    "LSTM-proj-unbatched-nobias": (lambda nn, T: nn.LSTM(3, 4, bias=False, proj_size=1),
                                   [randn(5, 3), randn(1, 1), randn(1, 4)],
                                   {"call": lambda m, x, h, c: m(x, (h, c))}),
    # nonlinearity, directions, layout, dropout
    "RNN-relu-2layer-bidir-batch_first-h0": (
        lambda nn, T: nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True, batch_first=True),
        [randn(2, 5, 3), randn(4, 2, 4)], {}),
    "RNN-unbatched-h0": (lambda nn, T: nn.RNN(3, 4, 2), [randn(5, 3), randn(2, 4)], {}),
    "GRU-3layer-dropout-eval-nobias": (lambda nn, T: nn.GRU(3, 4, 3, bias=False, dropout=0.4),
                                       [randn(5, 2, 3)], {"train": False}),
    "GRU-unbatched-bidir": (lambda nn, T: nn.GRU(3, 4, bidirectional=True), [randn(5, 3), randn(2, 4)], {}),
    "LSTM-size1-batch-and-step": (lambda nn, T: nn.LSTM(3, 4, 2, bidirectional=True), [randn(1, 1, 3)], {}),
    # PackedSequence input
    "LSTM-packed-unsorted": (lambda nn, T: nn.LSTM(3, 4, num_layers=2, bidirectional=True), [randn(5, 3, 3)],
                             {"call": packed_call([2, 5, 3])}),
    "LSTM-packed-sorted-hx-proj": (lambda nn, T: nn.LSTM(3, 4, proj_size=2, bidirectional=True),
                                   [randn(5, 3, 3), randn(2, 3, 2), randn(2, 3, 4)],
                                   {"call": packed_call([5, 3, 1], enforce_sorted=True, with_hx=True)}),
    "GRU-packed-unsorted-hx-batch_first": (
        lambda nn, T: nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True),
        [randn(4, 6, 3), randn(4, 4, 4)], {"call": packed_call([3, 6, 1, 6], batch_first=True, with_hx=True)}),
    "RNN-packed-relu": (lambda nn, T: nn.RNN(3, 4, nonlinearity="relu", num_layers=2),
                        [randn(4, 3, 3)], {"call": packed_call([4, 2, 4])}),
    "RNN-packed-equal-lengths": (lambda nn, T: nn.RNN(3, 4, bidirectional=True), [randn(4, 2, 3)],
                                 {"call": packed_call([4, 4], enforce_sorted=True)}),
    # cells
    "RNNCell-relu-nobias": (lambda nn, T: nn.RNNCell(3, 4, bias=False, nonlinearity="relu"),
                            [randn(2, 3), randn(2, 4)], {}),
    "RNNCell-unbatched-no-hx": (lambda nn, T: nn.RNNCell(3, 4), [randn(3)], {}),
    "LSTMCell-unbatched": (lambda nn, T: nn.LSTMCell(3, 4), [randn(3), randn(4), randn(4)],
                           {"call": lambda m, x, h, c: m(x, (h, c))}),
    "LSTMCell-no-hx": (lambda nn, T: nn.LSTMCell(3, 4), [randn(2, 3)], {}),
    "GRUCell-unbatched-nobias": (lambda nn, T: nn.GRUCell(3, 4, bias=False), [randn(3), randn(4)], {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_recurrent_matches_torch(name):
    make, inputs, options = CASES[name]
    check_module(make, inputs, **options)


def test_state_dict_keys_repr_and_attributes():
    for make in (lambda nn: nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True, bias=False),
                 lambda nn: nn.RNN(3, 4, nonlinearity="relu", batch_first=True, dropout=0.5, num_layers=2),
                 lambda nn: nn.GRUCell(3, 4, bias=False), lambda nn: nn.RNNCell(3, 4, nonlinearity="relu")):
        n, t = make(nn), make(torch.nn)
        assert list(n.state_dict()) == list(t.state_dict())
        assert [tuple(v.shape) for v in n.state_dict().values()] == [tuple(v.shape) for v in t.state_dict().values()]
        assert repr(n) == repr(t)
    lstm = nn.LSTM(3, 5, num_layers=2, proj_size=2)
    assert lstm._flat_weights_names == torch.nn.LSTM(3, 5, num_layers=2, proj_size=2)._flat_weights_names
    assert [len(group) for group in lstm.all_weights] == [5, 5]
    assert lstm._all_weights == torch.nn.LSTM(3, 5, num_layers=2, proj_size=2)._all_weights
    assert lstm._flat_weights[0] is lstm.weight_ih_l0
    lstm.flatten_parameters()  # a no-op that PyTorch programs call after loading
    for cell in (nn.RNNCell(2, 3), nn.LSTMCell(2, 3), nn.GRUCell(2, 3)):
        assert isinstance(cell, nn.RNNCellBase)
    assert isinstance(nn.RNN(2, 3), nn.RNNBase)


def test_init_is_uniform_by_hidden_size():
    ndgrad.manual_seed(0)
    lstm = nn.LSTM(10, 25, proj_size=4)
    for name, p in lstm.named_parameters():
        values = to_np(p)
        assert np.abs(values).max() <= 0.2 and np.abs(values).max() > 0.15, name


def test_dropout_between_layers_in_training():
    ndgrad.manual_seed(0)
    gru = nn.GRU(4, 16, num_layers=2, dropout=0.5)
    x = ndgrad.randn(5, 3, 4)
    a, b = gru(x)[0], gru(x)[0]
    assert not np.allclose(to_np(a), to_np(b))  # different dropout masks between the layers
    gru.eval()
    np.testing.assert_array_equal(to_np(gru(x)[0]), to_np(gru(x)[0]))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(4, 16, dropout=0.5)  # as PyTorch: one layer has no inner dropout to apply


def test_packed_gradcheck():
    ndgrad.manual_seed(0)
    lstm = nn.LSTM(2, 3, proj_size=1, bidirectional=True, dtype=ndgrad.float64)
    x = ndgrad.tensor(randn(4, 3, 2), requires_grad=True)

    def fn(x):
        packed = nn.utils.rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        out, (h, c) = lstm(packed)
        return out.data, h, c
    assert ndgrad.autograd.gradcheck(fn, (x,))


def test_packed_output_metadata_matches_torch():
    x = randn(5, 3, 2)
    tp = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), [3, 5, 2], enforce_sorted=False)
    np_ = nn.utils.rnn.pack_padded_sequence(ndgrad.tensor(x), [3, 5, 2], enforce_sorted=False)
    t_out, _ = torch.nn.GRU(2, 3).double()(tp)
    n_out, _ = nn.GRU(2, 3).double()(np_)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        np.testing.assert_array_equal(to_np(getattr(n_out, field)), to_np(getattr(t_out, field)))
    assert n_out.batch_sizes.dtype == ndgrad.int64


def test_errors():
    check_error(lambda: nn.LSTM(3, 4, proj_size=4), "proj_size has to be smaller than hidden_size", ValueError,
                torch_fn=lambda: torch.nn.LSTM(3, 4, proj_size=4))
    check_error(lambda: nn.LSTM(3, 4, proj_size=-1), "proj_size should be a positive integer", ValueError,
                torch_fn=lambda: torch.nn.LSTM(3, 4, proj_size=-1))
    for name in ("GRU", "RNN"):
        check_error(lambda: getattr(nn, name)(3, 4, proj_size=2), "proj_size argument is only supported for LSTM",
                    ValueError, torch_fn=lambda: getattr(torch.nn, name)(3, 4, proj_size=2))
    check_error(lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), "Unknown nonlinearity 'sigmoid'", ValueError,
                torch_fn=lambda: torch.nn.RNN(3, 4, nonlinearity="sigmoid"))
    check_error(lambda: nn.LSTM(3, 4, dropout=1.5), "dropout should be a number in range", ValueError,
                torch_fn=lambda: torch.nn.LSTM(3, 4, dropout=1.5))
    check_error(lambda: nn.LSTM(3, 5, proj_size=2)(ndgrad.randn(4, 2, 3), (ndgrad.zeros(1, 2, 5),
                                                                          ndgrad.zeros(1, 2, 5))),
                r"expected h_0 of shape \(1, 2, 2\), got \(1, 2, 5\)", RuntimeError)
    check_error(lambda: nn.GRU(3, 4)(ndgrad.randn(4, 2, 3), (ndgrad.zeros(1, 2, 4),)), "hx must be a Tensor",
                TypeError)
    check_error(lambda: nn.GRUCell(3, 4)(ndgrad.randn(2, 2, 3)), "Expected input to be 1D or 2D, got 3D", ValueError,
                torch_fn=lambda: torch.nn.GRUCell(3, 4)(torch.randn(2, 2, 3)))
    check_error(lambda: nn.LSTMCell(3, 4)(ndgrad.randn(2, 3), (ndgrad.zeros(3, 4), ndgrad.zeros(3, 4))),
                r"expected hidden state of shape \(2, 4\), got \(3, 4\)", RuntimeError)
    check_error(lambda: nn.LSTM(3, 4)(nn.utils.rnn.pack_sequence([ndgrad.randn(3, 2)])),
                r"PackedSequence to have shape \(sum of lengths, 3\)", RuntimeError)


@pytest.mark.cuda
def test_packed_lstm_on_gpu_matches_cpu():
    import copy
    ndgrad.manual_seed(0)
    cpu_model = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2).double()
    gpu_model = copy.deepcopy(cpu_model).cuda()
    x = randn(6, 3, 3)
    outs = []
    for model, dev in ((cpu_model, "cpu"), (gpu_model, "cuda")):
        xt = ndgrad.tensor(x, device=dev, requires_grad=True)
        packed = nn.utils.rnn.pack_padded_sequence(xt, [4, 6, 2], enforce_sorted=False)
        out, (h, c) = model(packed)
        padded, lengths = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        (padded.sum() + h.sum() + c.sum()).backward()
        outs.append([to_np(t.detach().cpu()) for t in (padded, h, c, xt.grad, model.weight_hr_l1_reverse.grad)])
        assert lengths.tolist() == [4, 6, 2]
    for c, g in zip(*outs):
        np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-8)

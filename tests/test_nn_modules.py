"""ndgrad.nn modules against torch.nn, one table.

Each case builds the same module in both libraries (float64), copies torch's
state_dict into ndgrad through numpy, and compares: state_dict keys and shapes,
forward outputs, input gradients, parameter gradients, and the state after the
forward (running statistics). Below the table: Module / container behaviour,
error messages, load_state_dict, init and utils.
"""
import copy
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F

RTOL, ATOL = 1e-7, 1e-9

pytestmark = [pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel"),
              pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmax")]


# ------------------------------------------------------------------ helpers
def to_np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t._data) if isinstance(t, ndgrad.Tensor) else np.asarray(t)


def flat_outputs(out):
    """Tensors of a (possibly nested) output, in order; None entries are dropped."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat_outputs(o)]
    return [out]


def copy_state(tm, nm):
    """torch state_dict -> numpy -> ndgrad tensors -> load_state_dict."""
    sd = {k: ndgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    result = nm.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []


def check_module(make, inputs, call=None, train=True, grad_inputs=None, prep=None, seed=0, rtol=RTOL, atol=ATOL):
    """Build ``make(lib_nn, T)`` in torch and ndgrad, run ``call(module, *inputs)`` and compare everything.

    inputs: numpy arrays; float ones become float64 tensors that require grad (or those in grad_inputs).
    prep(torch_module): optional, e.g. to give BatchNorm non-trivial running stats before copying.
    """
    torch.manual_seed(seed)
    tm = make(torch.nn, lambda a: torch.tensor(a)).double()
    nm = make(nn, lambda a: ndgrad.tensor(a)).double()
    if prep is not None:
        with torch.no_grad():
            prep(tm)
    tm.train(train)
    nm.train(train)
    assert nm.training is train

    # state_dict: same keys in the same order, same shapes
    tsd, nsd = tm.state_dict(), nm.state_dict()
    assert list(nsd.keys()) == list(tsd.keys())
    for k in tsd:
        assert tuple(nsd[k].shape) == tuple(tsd[k].shape), k
    assert [n for n, _ in nm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    copy_state(tm, nm)

    call = call or (lambda m, *xs: m(*xs))
    t_in, n_in = [], []
    for i, a in enumerate(inputs):
        a = np.asarray(a)
        wants_grad = a.dtype.kind == "f" and (grad_inputs is None or i in grad_inputs)
        t_in.append(torch.tensor(a, requires_grad=wants_grad))
        n_in.append(ndgrad.tensor(a, requires_grad=wants_grad))

    t_out = flat_outputs(call(tm, *t_in))
    n_out = flat_outputs(call(nm, *n_in))
    assert len(t_out) == len(n_out)
    for t, n in zip(t_out, n_out):
        assert tuple(n.shape) == tuple(t.shape)
        np.testing.assert_allclose(to_np(n), to_np(t), rtol=rtol, atol=atol)

    # state after the forward (BatchNorm running stats, num_batches_tracked)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(to_np(nm.state_dict()[k]), to_np(v), rtol=rtol, atol=atol, err_msg=k)

    diff = [(t, n) for t, n in zip(t_out, n_out) if t.requires_grad]
    if not diff:
        return tm, nm
    rng = np.random.default_rng(seed + 1)
    weights = [rng.standard_normal(tuple(t.shape)) for t, _ in diff]
    sum(((t * torch.tensor(w)).sum() for (t, _), w in zip(diff, weights))).backward()
    sum(((n * ndgrad.tensor(w)).sum() for (_, n), w in zip(diff, weights))).backward()
    for i, (t, n) in enumerate(zip(t_in, n_in)):
        if t.requires_grad:
            assert n.grad is not None, f"input {i} got no gradient"
            np.testing.assert_allclose(to_np(n.grad), to_np(t.grad), rtol=rtol, atol=atol,
                                       err_msg=f"input {i} grad")
    t_params = dict(tm.named_parameters())
    for name, p in nm.named_parameters():
        tg = t_params[name].grad
        if tg is None:
            assert p.grad is None or not np.any(to_np(p.grad)), name
        else:
            assert p.grad is not None, f"{name} got no gradient"
            np.testing.assert_allclose(to_np(p.grad), to_np(tg), rtol=rtol, atol=atol, err_msg=f"{name} grad")
    return tm, nm


R = np.random.default_rng(1234)


def randn(*shape):
    return R.standard_normal(shape)


def randint(high, *shape):
    return R.integers(0, high, size=shape)


def randn_bn(tm):
    tm.running_mean.copy_(torch.randn(tm.running_mean.shape))
    tm.running_var.copy_(torch.rand(tm.running_var.shape) + 0.5)


def no_full_rows(mask):
    """A random bool attention mask that never masks a whole row (which would give NaN)."""
    mask = mask.copy()
    mask[..., 0] = False
    return mask


# ------------------------------------------------------------------ the table
CASES = {
    # linear.py
    "Identity": (lambda nn, T: nn.Identity(3, foo=1), [randn(3, 4)], {}),
    "Linear": (lambda nn, T: nn.Linear(5, 3), [randn(4, 5)], {}),
    "Linear-nobias-3d": (lambda nn, T: nn.Linear(5, 3, bias=False), [randn(2, 3, 5)], {}),
    "Linear-1d": (lambda nn, T: nn.Linear(5, 3), [randn(5)], {}),
    "Bilinear": (lambda nn, T: nn.Bilinear(4, 3, 2), [randn(5, 4), randn(5, 3)], {}),
    "Flatten": (lambda nn, T: nn.Flatten(), [randn(2, 3, 4, 5)], {}),
    "Flatten-0-1": (lambda nn, T: nn.Flatten(0, 1), [randn(2, 3, 4)], {}),
    "Unflatten": (lambda nn, T: nn.Unflatten(1, (2, 3)), [randn(4, 6, 5)], {}),
    # conv.py
    "Conv1d": (lambda nn, T: nn.Conv1d(3, 4, 3, stride=2, padding=1), [randn(2, 3, 10)], {}),
    "Conv2d": (lambda nn, T: nn.Conv2d(3, 4, 3), [randn(2, 3, 8, 8)], {}),
    "Conv2d-groups-dilation": (lambda nn, T: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2),
                                                       dilation=(1, 2), groups=2), [randn(2, 4, 9, 9)], {}),
    "Conv2d-same-even-kernel": (lambda nn, T: nn.Conv2d(3, 4, 4, padding="same"), [randn(2, 3, 7, 6)], {}),
    "Conv2d-same-dilated": (lambda nn, T: nn.Conv2d(3, 4, 3, padding="same", dilation=2), [randn(2, 3, 7, 7)], {}),
    "Conv2d-valid": (lambda nn, T: nn.Conv2d(3, 4, 3, padding="valid"), [randn(2, 3, 6, 6)], {}),
    "Conv2d-nobias": (lambda nn, T: nn.Conv2d(3, 2, 3, bias=False), [randn(2, 3, 6, 6)], {}),
    "Conv2d-unbatched": (lambda nn, T: nn.Conv2d(3, 2, 3, padding=1), [randn(3, 6, 5)], {}),
    "Conv2d-reflect": (lambda nn, T: nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"), [randn(2, 3, 6, 6)], {}),
    "Conv1d-circular": (lambda nn, T: nn.Conv1d(2, 3, 3, padding=2, padding_mode="circular"), [randn(2, 2, 7)], {}),
    "Conv2d-replicate": (lambda nn, T: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="replicate"),
                         [randn(2, 2, 5, 6)], {}),
    "ConvTranspose1d": (lambda nn, T: nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1), [randn(2, 3, 6)], {}),
    "Conv3d": (lambda nn, T: nn.Conv3d(2, 3, 3, padding=1), [randn(1, 2, 5, 4, 5)], {}),
    "ConvTranspose2d": (lambda nn, T: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
                        [randn(2, 3, 5, 5)], {}),
    "ConvTranspose2d-groups-dilation": (lambda nn, T: nn.ConvTranspose2d(4, 6, 3, groups=2, dilation=2),
                                        [randn(2, 4, 4, 5)], {}),
    "ConvTranspose2d-output_size": (lambda nn, T: nn.ConvTranspose2d(3, 2, 3, stride=2), [randn(1, 3, 4, 4)],
                                    {"call": lambda m, x: m(x, output_size=(10, 10))}),
    # pooling.py
    "MaxPool1d-ceil": (lambda nn, T: nn.MaxPool1d(3, stride=2, ceil_mode=True), [randn(2, 3, 10)], {}),
    "MaxPool2d": (lambda nn, T: nn.MaxPool2d(2), [randn(2, 3, 8, 8)], {}),
    "MaxPool2d-pad-ceil": (lambda nn, T: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                           [randn(2, 3, 10, 9)], {}),
    "MaxPool3d": (lambda nn, T: nn.MaxPool3d(2), [randn(1, 2, 4, 4, 4)], {}),
    "AvgPool2d": (lambda nn, T: nn.AvgPool2d(3, stride=2, padding=1), [randn(2, 3, 9, 9)], {}),
    "AvgPool2d-ceil-nopad": (lambda nn, T: nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
                             [randn(2, 3, 7, 7)], {}),
    "AvgPool1d": (lambda nn, T: nn.AvgPool1d(3, stride=2, padding=1), [randn(2, 3, 9)], {}),
    "AdaptiveAvgPool1d": (lambda nn, T: nn.AdaptiveAvgPool1d(4), [randn(2, 3, 9)], {}),
    "AdaptiveAvgPool2d-global": (lambda nn, T: nn.AdaptiveAvgPool2d((1, 1)), [randn(2, 3, 7, 5)], {}),
    "AdaptiveAvgPool2d-3x2": (lambda nn, T: nn.AdaptiveAvgPool2d((3, 2)), [randn(2, 3, 7, 5)], {}),
    # normalization.py
    "BatchNorm1d-2d-train": (lambda nn, T: nn.BatchNorm1d(4), [randn(8, 4)], {}),
    "BatchNorm1d-3d-train": (lambda nn, T: nn.BatchNorm1d(4, momentum=0.3), [randn(8, 4, 5)], {}),
    "BatchNorm2d-train": (lambda nn, T: nn.BatchNorm2d(3), [randn(4, 3, 5, 5)], {"prep": randn_bn}),
    "BatchNorm2d-eval": (lambda nn, T: nn.BatchNorm2d(3), [randn(4, 3, 5, 5)], {"prep": randn_bn, "train": False}),
    "BatchNorm2d-momentum-None": (lambda nn, T: nn.BatchNorm2d(3, momentum=None), [randn(4, 3, 5, 5)],
                                  {"call": lambda m, x: m(m(x) * 2 + 1)}),
    "BatchNorm2d-no-affine-no-stats": (lambda nn, T: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
                                       [randn(4, 3, 5, 5)], {}),
    "BatchNorm2d-no-stats-eval": (lambda nn, T: nn.BatchNorm2d(3, track_running_stats=False),
                                  [randn(4, 3, 5, 5)], {"train": False}),
    "BatchNorm3d": (lambda nn, T: nn.BatchNorm3d(2), [randn(2, 2, 3, 3, 3)], {}),
    "LayerNorm": (lambda nn, T: nn.LayerNorm(5), [randn(3, 4, 5)], {}),
    "LayerNorm-2d-noaffine": (lambda nn, T: nn.LayerNorm((4, 5), elementwise_affine=False), [randn(3, 4, 5)], {}),
    "LayerNorm-nobias": (lambda nn, T: nn.LayerNorm(5, bias=False), [randn(3, 5)], {}),
    "GroupNorm": (lambda nn, T: nn.GroupNorm(2, 4), [randn(3, 4, 5, 5)], {}),
    "GroupNorm-nobias": (lambda nn, T: nn.GroupNorm(3, 6, bias=False), [randn(2, 6, 4)], {}),
    "BatchNorm1d-nobias": (lambda nn, T: nn.BatchNorm1d(4, bias=False), [randn(6, 4)], {}),
    # dropout.py (eval: identity; p=0 in training: identity)
    "Dropout-eval": (lambda nn, T: nn.Dropout(0.5), [randn(4, 5)], {"train": False}),
    "Dropout-p0": (lambda nn, T: nn.Dropout(0.0), [randn(4, 5)], {}),
    # embedding.py
    "Embedding": (lambda nn, T: nn.Embedding(10, 4), [randint(10, 3, 5)], {}),
    "Embedding-padding_idx": (lambda nn, T: nn.Embedding(10, 4, padding_idx=0),
                              [np.array([[0, 2, 0, 9], [1, 0, 3, 3]])], {}),
    # activation.py
    "ReLU": (lambda nn, T: nn.ReLU(), [randn(4, 5)], {}),
    "LeakyReLU": (lambda nn, T: nn.LeakyReLU(0.2), [randn(4, 5)], {}),
    "GELU": (lambda nn, T: nn.GELU(), [randn(4, 5)], {}),
    "GELU-tanh": (lambda nn, T: nn.GELU(approximate="tanh"), [randn(4, 5)], {}),
    "SiLU": (lambda nn, T: nn.SiLU(), [randn(4, 5)], {}),
    "Sigmoid": (lambda nn, T: nn.Sigmoid(), [randn(4, 5)], {}),
    "Tanh": (lambda nn, T: nn.Tanh(), [randn(4, 5)], {}),
    "Softplus": (lambda nn, T: nn.Softplus(beta=2.0, threshold=1.5), [randn(4, 5)], {}),
    "ELU": (lambda nn, T: nn.ELU(alpha=0.5), [randn(4, 5)], {}),
    "Softmax": (lambda nn, T: nn.Softmax(dim=1), [randn(4, 5, 3)], {}),
    "Softmax-implicit-dim": (lambda nn, T: nn.Softmax(), [randn(4, 5, 3)], {}),
    "LogSoftmax": (lambda nn, T: nn.LogSoftmax(dim=-1), [randn(4, 5)], {}),
    "Softmin": (lambda nn, T: nn.Softmin(dim=0), [randn(4, 5)], {}),
    "ReLU6": (lambda nn, T: nn.ReLU6(), [randn(4, 5) * 4], {}),
    "PReLU": (lambda nn, T: nn.PReLU(), [randn(4, 5)], {}),
    "PReLU-per-channel": (lambda nn, T: nn.PReLU(3, init=0.1), [randn(2, 3, 4)], {}),
    "Mish": (lambda nn, T: nn.Mish(), [randn(4, 5)], {}),
    "SELU": (lambda nn, T: nn.SELU(), [randn(4, 5)], {}),
    "CELU": (lambda nn, T: nn.CELU(0.7), [randn(4, 5)], {}),
    "Hardtanh": (lambda nn, T: nn.Hardtanh(-0.5, 0.8), [randn(4, 5)], {}),
    "Hardsigmoid": (lambda nn, T: nn.Hardsigmoid(), [randn(4, 5) * 4], {}),
    "Hardswish": (lambda nn, T: nn.Hardswish(), [randn(4, 5) * 4], {}),
    "Softsign": (lambda nn, T: nn.Softsign(), [randn(4, 5)], {}),
    "LogSigmoid": (lambda nn, T: nn.LogSigmoid(), [randn(4, 5)], {}),
    "GLU": (lambda nn, T: nn.GLU(dim=1), [randn(4, 6)], {}),
    # rnn.py
    "LSTM": (lambda nn, T: nn.LSTM(4, 5), [randn(6, 3, 4)], {}),
    "LSTM-2layer-bidir-batch_first": (lambda nn, T: nn.LSTM(4, 5, num_layers=2, bidirectional=True,
                                                            batch_first=True), [randn(3, 6, 4)], {}),
    "LSTM-initial-state": (lambda nn, T: nn.LSTM(4, 5, num_layers=2), [randn(6, 3, 4), randn(2, 3, 5),
                                                                          randn(2, 3, 5)],
                           {"call": lambda m, x, h, c: m(x, (h, c))}),
    "LSTM-unbatched-nobias": (lambda nn, T: nn.LSTM(4, 5, bias=False), [randn(6, 4)], {}),
    "LSTM-dropout-eval": (lambda nn, T: nn.LSTM(4, 5, num_layers=3, dropout=0.5), [randn(6, 3, 4)],
                          {"train": False}),
    "GRU": (lambda nn, T: nn.GRU(4, 5), [randn(6, 3, 4)], {}),
    "GRU-2layer-bidir-batch_first-h0": (lambda nn, T: nn.GRU(4, 5, num_layers=2, bidirectional=True,
                                                             batch_first=True), [randn(3, 6, 4), randn(4, 3, 5)],
                                        {}),
    "RNN-tanh": (lambda nn, T: nn.RNN(4, 5, num_layers=2), [randn(6, 3, 4)], {}),
    "RNN-relu-bidir": (lambda nn, T: nn.RNN(4, 5, nonlinearity="relu", bidirectional=True), [randn(6, 3, 4)], {}),
    "LSTMCell": (lambda nn, T: nn.LSTMCell(4, 5), [randn(3, 4), randn(3, 5), randn(3, 5)],
                 {"call": lambda m, x, h, c: m(x, (h, c))}),
    "GRUCell": (lambda nn, T: nn.GRUCell(4, 5), [randn(3, 4), randn(3, 5)], {}),
    # attention.py
    "MHA": (lambda nn, T: nn.MultiheadAttention(8, 2), [randn(5, 3, 8), randn(6, 3, 8), randn(6, 3, 8)], {}),
    "MHA-self-batch_first-masks": (
        lambda nn, T: nn.MultiheadAttention(8, 4, batch_first=True),
        [randn(3, 5, 8), no_full_rows(R.random((5, 5)) < 0.3),
         np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])],
        {"call": lambda m, x, am, kpm: m(x, x, x, attn_mask=am, key_padding_mask=kpm)}),
    "MHA-float-mask-per-head-weights": (
        lambda nn, T: nn.MultiheadAttention(6, 3),
        [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6), randn(4, 5)],
        {"call": lambda m, q, k, v, am: m(q, k, v, attn_mask=am, average_attn_weights=False),
         "grad_inputs": (0, 1, 2)}),
    "MHA-3d-mask-no-weights": (
        lambda nn, T: nn.MultiheadAttention(6, 2, bias=False),
        [randn(4, 2, 6), no_full_rows(R.random((4, 4, 4)) < 0.4)],
        {"call": lambda m, x, am: m(x, x, x, attn_mask=am, need_weights=False)}),
    "MHA-kdim-vdim": (lambda nn, T: nn.MultiheadAttention(6, 2, kdim=4, vdim=3),
                      [randn(4, 2, 6), randn(5, 2, 4), randn(5, 2, 3)], {}),
    "MHA-unbatched": (lambda nn, T: nn.MultiheadAttention(6, 2), [randn(4, 6), randn(5, 6), randn(5, 6)], {}),
    "MHA-bias_kv-zero_attn": (lambda nn, T: nn.MultiheadAttention(6, 2, add_bias_kv=True, add_zero_attn=True),
                              [randn(4, 2, 6), randn(5, 2, 6), randn(5, 2, 6)], {}),
    # transformer.py
    "TransformerEncoderLayer": (lambda nn, T: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0),
                                [randn(5, 3, 8)], {}),
    "TransformerEncoderLayer-gelu-norm_first-batch_first-masks": (
        lambda nn, T: nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=True),
        [randn(3, 5, 8), no_full_rows(R.random((5, 5)) < 0.3),
         np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])],
        {"call": lambda m, x, am, kpm: m(x, src_mask=am, src_key_padding_mask=kpm)}),
    "TransformerEncoder": (lambda nn, T: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0), 2, norm=nn.LayerNorm(8),
        enable_nested_tensor=False), [randn(5, 3, 8)], {}),
    # containers
    "Sequential": (lambda nn, T: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 2)),
                   [randn(6, 5)], {}),
    "Sequential-OrderedDict": (lambda nn, T: nn.Sequential(OrderedDict(
        [("conv", nn.Conv2d(2, 3, 3)), ("bn", nn.BatchNorm2d(3)), ("act", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
         ("flat", nn.Flatten()), ("fc", nn.Linear(12, 2))])), [randn(2, 2, 6, 6)], {}),
    # loss.py (gradient with respect to the prediction)
    "MSELoss": (lambda nn, T: nn.MSELoss(), [randn(4, 3), randn(4, 3)], {"grad_inputs": (0,)}),
    "MSELoss-sum": (lambda nn, T: nn.MSELoss(reduction="sum"), [randn(4, 3), randn(4, 3)], {"grad_inputs": (0,)}),
    "L1Loss-none": (lambda nn, T: nn.L1Loss(reduction="none"), [randn(4, 3), randn(4, 3)], {"grad_inputs": (0,)}),
    "CrossEntropyLoss": (lambda nn, T: nn.CrossEntropyLoss(), [randn(6, 4), randint(4, 6)], {}),
    "CrossEntropyLoss-weight-ignore-smoothing": (
        lambda nn, T: nn.CrossEntropyLoss(weight=T(np.array([0.5, 1.0, 2.0, 1.5])), ignore_index=1,
                                          label_smoothing=0.1),
        [randn(6, 4), np.array([0, 1, 2, 3, 1, 2])], {}),
    "CrossEntropyLoss-probs-2d": (lambda nn, T: nn.CrossEntropyLoss(),
                                  [randn(3, 4, 5), np.exp(randn(3, 4, 5)) / np.exp(randn(3, 4, 5)).sum(1, keepdims=True)],
                                  {"grad_inputs": (0,)}),
    "NLLLoss": (lambda nn, T: nn.NLLLoss(weight=T(np.array([1.0, 2.0, 0.5]))), [randn(5, 3), randint(3, 5)], {}),
    "BCELoss": (lambda nn, T: nn.BCELoss(), [1 / (1 + np.exp(-randn(4, 3))), R.random((4, 3))],
                {"grad_inputs": (0,)}),
    "BCEWithLogitsLoss-pos_weight": (lambda nn, T: nn.BCEWithLogitsLoss(pos_weight=T(np.array([1.0, 2.0, 3.0]))),
                                     [randn(4, 3), R.random((4, 3))], {"grad_inputs": (0,)}),
    "SmoothL1Loss": (lambda nn, T: nn.SmoothL1Loss(beta=0.5), [randn(4, 3), randn(4, 3)], {"grad_inputs": (0,)}),
    "HuberLoss": (lambda nn, T: nn.HuberLoss(delta=0.7), [randn(4, 3), randn(4, 3)], {"grad_inputs": (0,)}),
    "KLDivLoss": (lambda nn, T: nn.KLDivLoss(reduction="batchmean"),
                  [np.log(R.random((4, 3)) + 0.1), R.random((4, 3))], {"grad_inputs": (0,)}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_module_matches_torch(name):
    make, inputs, options = CASES[name]
    check_module(make, inputs, **options)


# ------------------------------------------------------------------ Module behaviour
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 2)])
        self.scale = nn.Parameter(ndgrad.ones(1))
        self.register_buffer("step", ndgrad.zeros(1))
        self.register_buffer("cache", ndgrad.zeros(2), persistent=False)

    def forward(self, x):
        x = self.bn(self.fc(x)).relu()
        for block in self.blocks:
            x = block(x)
        return x * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.bn = torch.nn.BatchNorm1d(4)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)])
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.register_buffer("step", torch.zeros(1))
        self.register_buffer("cache", torch.zeros(2), persistent=False)


def test_registration_and_iteration_match_torch():
    n, t = Net(), TorchNet()
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert list(n.state_dict()) == list(t.state_dict())
    assert "cache" not in n.state_dict() and "bn.num_batches_tracked" in n.state_dict()
    assert [k for k, _ in n.named_buffers()] == [k for k, _ in t.named_buffers()]
    assert [k for k, _ in n.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in n.named_children()] == [k for k, _ in t.named_children()]
    assert [k for k, _ in n.named_parameters(prefix="net", recurse=False)] == ["net.scale"]
    assert len(list(n.parameters())) == len(list(t.parameters()))
    assert len(list(n.children())) == 3 and len(list(n.modules())) == 6
    assert isinstance(n.fc.weight, nn.Parameter) and n.fc.weight.requires_grad
    assert n.get_submodule("blocks.1") is n.blocks[1]
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        n.nope


def test_shared_parameters_are_listed_once():
    a = nn.Linear(3, 3)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    assert [k for k, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    # state_dict keeps every name, as PyTorch does
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_setattr_routing_and_delattr():
    m = nn.Module()
    m.w = nn.Parameter(ndgrad.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("b", ndgrad.ones(2))
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["b"]
    m.b = ndgrad.zeros(2)  # reassigning a buffer keeps it a buffer
    assert "b" in m._buffers and float(m.b.sum()) == 0
    m.w = None
    assert m.w is None and list(m.parameters()) == list(m.sub.parameters())
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = ndgrad.zeros(2)
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(KeyError, match=r"buffer name can.*t contain"):
        m.register_buffer("a.b", ndgrad.zeros(1))


def test_parameter_is_a_leaf_tensor_with_repr():
    p = nn.Parameter(ndgrad.tensor([1.0, 2.0]))
    assert isinstance(p, ndgrad.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\n")
    assert not nn.Parameter(ndgrad.zeros(2), requires_grad=False).requires_grad
    q = (p * 2).sum()
    assert type(q) is ndgrad.Tensor
    q.backward()
    np.testing.assert_array_equal(to_np(p.grad), [2.0, 2.0])
    c = copy.deepcopy(p)
    assert isinstance(c, nn.Parameter) and c is not p and c._data is not p._data


def test_train_eval_zero_grad_requires_grad_apply():
    n = Net()
    n.eval()
    assert not n.training and not n.bn.training and not n.blocks[0].training
    n.train()
    assert n.bn.training
    n(ndgrad.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in n.parameters())
    n.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(to_np(p.grad)) for p in n.parameters())
    n.zero_grad()
    assert all(p.grad is None for p in n.parameters())
    n.requires_grad_(False)
    assert not any(p.requires_grad for p in n.parameters())
    seen = []
    assert n.apply(lambda m: seen.append(type(m).__name__)) is n
    assert seen[-1] == "Net" and seen[0] == "Linear"


def test_to_dtype_keeps_parameter_objects():
    n = Net()
    w = n.fc.weight
    n.to(ndgrad.float64)
    assert n.fc.weight is w and w.dtype == ndgrad.float64
    assert n.bn.running_mean.dtype == ndgrad.float64
    assert n.bn.num_batches_tracked.dtype == ndgrad.int64  # integer buffers keep their dtype
    n.float()
    assert w.dtype == ndgrad.float32
    n.half()
    assert w.dtype == ndgrad.float16
    n.double().to("cpu")
    assert w.dtype == ndgrad.float64 and str(w.device) == "cpu"
    n.cpu()
    out = n(ndgrad.randn(4, 3, dtype=ndgrad.float64))
    assert out.dtype == ndgrad.float64


def test_constructors_take_dtype():
    for layer in (nn.Linear(3, 2, dtype=ndgrad.float64), nn.Conv2d(2, 2, 3, dtype=ndgrad.float64),
                  nn.BatchNorm2d(2, dtype=ndgrad.float64), nn.LSTM(2, 3, dtype=ndgrad.float64),
                  nn.MultiheadAttention(4, 2, dtype=ndgrad.float64), nn.Embedding(3, 2, dtype=ndgrad.float64),
                  nn.LayerNorm(3, dtype=ndgrad.float64, device="cpu")):
        assert all(p.dtype == ndgrad.float64 for p in layer.parameters()), type(layer).__name__


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    out = m(ndgrad.randn(3, 2))
    assert calls == ["pre"] and not np.any(to_np(out))
    h1.remove()
    h2.remove()
    assert np.any(to_np(m(ndgrad.randn(3, 2))))


def test_repr_matches_torch():
    def build(lib):
        return lib.Sequential(lib.Conv2d(3, 8, 3, padding=1, bias=False), lib.BatchNorm2d(8), lib.ReLU(),
                              lib.MaxPool2d(2), lib.Flatten(), lib.Linear(8, 10), lib.Dropout(0.2),
                              lib.LSTM(4, 5, num_layers=2, batch_first=True), lib.LayerNorm(5), lib.GELU("tanh"),
                              lib.Embedding(10, 3, padding_idx=0), lib.Softmax(dim=1))
    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.TransformerEncoderLayer(8, 2, 16)) == repr(torch.nn.TransformerEncoderLayer(8, 2, 16))


def test_sequential_and_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1], nn.ReLU)
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    del seq[1]
    assert [k for k, _ in seq.named_children()] == ["0", "1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        seq[7]
    named = nn.Sequential(OrderedDict([("inp", nn.Linear(2, 2)), ("out", nn.Linear(2, 1))]))
    assert list(named.state_dict()) == ["inp.weight", "inp.bias", "out.weight", "out.bias"]
    assert named.out is named[1]
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 2))
    ml += [nn.Linear(2, 2)]
    assert len(ml) == 3 and len(list(ml.parameters())) == 6 and ml[-1].out_features == 2
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(list(md.parameters())) == 2
    pl = nn.ParameterList([nn.Parameter(ndgrad.zeros(2)), ndgrad.ones(3)])
    assert len(pl) == 2 and [k for k, _ in pl.named_parameters()] == ["0", "1"]
    assert isinstance(pl[1], nn.Parameter)


# ------------------------------------------------------------------ load_state_dict
def test_load_state_dict_errors_list_keys_and_shapes_and_change_nothing():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = {k: to_np(v).copy() for k, v in m.state_dict().items()}
    sd = {k: ndgrad.randn(*v.shape) if v.dtype.is_floating_point else v for k, v in m.state_dict().items()}
    sd["0.weight"] = ndgrad.randn(5, 3)
    del sd["1.running_var"]
    sd["2.extra"] = ndgrad.zeros(1)
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "1.running_var"' in msg
    assert 'Unexpected key(s) in state_dict: "2.extra"' in msg
    assert "size mismatch for 0.weight: copying a param with shape (5, 3) from checkpoint, " \
           "the shape in current model is (4, 3)" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(to_np(v), before[k], err_msg=f"{k} changed by a failed load")
    # strict=False: missing/unexpected are reported, a size mismatch still fails
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight.*\(5, 3\).*\(4, 3\)"):
        m.load_state_dict(sd, strict=False)
    sd["0.weight"] = ndgrad.randn(4, 3)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == ["2.extra"]
    np.testing.assert_array_equal(to_np(m[0].weight), to_np(sd["0.weight"]))


def test_load_state_dict_copies_in_place_and_round_trips():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    w = b.weight
    assert "All keys matched" in repr(b.load_state_dict(a.state_dict()))
    assert b.weight is w
    np.testing.assert_array_equal(to_np(b.weight), to_np(a.weight))
    a.weight._data[...] = 0  # the loaded values are copies, not views of a's arrays
    assert np.any(to_np(b.weight))
    # state_dict tensors are detached
    assert not a.state_dict()["weight"].requires_grad
    # numpy arrays are accepted too, and cast to the parameter's dtype
    b.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    assert b.weight.dtype == ndgrad.float32 and float(b.weight.sum()) == 6


def test_state_dict_loads_from_torch_model():
    t = TorchNet()
    n = Net()
    n.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    np.testing.assert_allclose(to_np(n.blocks[1].weight), t.blocks[1].weight.detach().numpy())


# ------------------------------------------------------------------ error messages
def test_layer_error_messages_name_layer_and_shapes():
    with pytest.raises(RuntimeError, match=r"Conv2d\(3, 16, kernel_size=\(3, 3\).*expected 4-d input of shape "
                                           r"\(N, 3, H, W\).*got input of shape \(32, 28, 28\)"):
        nn.Conv2d(3, 16, 3)(ndgrad.randn(32, 28, 28))
    with pytest.raises(RuntimeError, match=r"Conv2d\(3, 16.*in_channels=3, the input has 1 channels.*"
                                           r"\(8, 1, 28, 28\)"):
        nn.Conv2d(3, 16, 3)(ndgrad.randn(8, 1, 28, 28))
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=784, out_features=10\): expected input of shape "
                                           r"\(\*, 784\).*got input of shape \(32, 100\)"):
        nn.Linear(784, 10)(ndgrad.randn(32, 100))
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(16.*expected 4-d input \(N, 16, H, W\).*\(8, 16, 5\)"):
        nn.BatchNorm2d(16)(ndgrad.randn(8, 16, 5))
    with pytest.raises(RuntimeError, match=r"BatchNorm1d\(4.*num_features=4, the input has 3.*\(8, 3\)"):
        nn.BatchNorm1d(4)(ndgrad.randn(8, 3))
    with pytest.raises(RuntimeError, match=r"LayerNorm\(\(5,\).*expected input of shape \(\*, 5\).*\(3, 4\)"):
        nn.LayerNorm(5)(ndgrad.randn(3, 4))
    with pytest.raises(RuntimeError, match=r"LSTM\(4, 5\).*input_size=4.*got input of shape \(6, 3, 7\)"):
        nn.LSTM(4, 5)(ndgrad.randn(6, 3, 7))
    with pytest.raises(RuntimeError, match=r"LSTM\(4, 5\): expected h_0 of shape \(1, 3, 5\), got \(1, 2, 5\)"):
        nn.LSTM(4, 5)(ndgrad.randn(6, 3, 4), (ndgrad.zeros(1, 2, 5), ndgrad.zeros(1, 2, 5)))
    with pytest.raises(RuntimeError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\).*\(5, 3, 6\)"):
        nn.MultiheadAttention(8, 2)(*(ndgrad.randn(5, 3, 6),) * 3)
    with pytest.raises(RuntimeError, match=r"MaxPool2d\(kernel_size=2.*4-d input \(N, C, H, W\).*\(5, 5\)"):
        nn.MaxPool2d(2)(ndgrad.randn(5, 5))
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads \(4\)"):
        nn.MultiheadAttention(6, 4)


# ------------------------------------------------------------------ dropout
def test_dropout_statistics_and_modes():
    ndgrad.manual_seed(0)
    d = nn.Dropout(0.25)
    x = ndgrad.ones(200, 200)
    y = to_np(d(x))
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    d.eval()
    np.testing.assert_array_equal(to_np(d(x)), to_np(x))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_drops_whole_channels():
    ndgrad.manual_seed(0)
    d = nn.Dropout2d(0.5)
    x = ndgrad.ones(50, 40, 3, 3, requires_grad=True)
    y = to_np(d(x))
    per_channel = y.reshape(50, 40, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05
    d(x).sum().backward()
    assert set(np.unique(to_np(x.grad))) <= {0.0, 2.0}
    d.eval()
    assert d(x) is x
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):  # PyTorch warns and falls back
        assert nn.Dropout2d()(ndgrad.ones(4, 5)).shape == (4, 5)


def test_rnn_dropout_applies_between_layers_in_training_only():
    lstm = nn.LSTM(4, 16, num_layers=2, dropout=0.5)
    x = ndgrad.randn(5, 2, 4)
    a, b = lstm(x)[0], lstm(x)[0]
    assert not np.allclose(to_np(a), to_np(b))
    lstm.eval()
    np.testing.assert_array_equal(to_np(lstm(x)[0]), to_np(lstm(x)[0]))
    one_layer = nn.LSTM(4, 16, dropout=0.5)  # a single layer has no inner dropout (PyTorch warns, we agree)
    np.testing.assert_array_equal(to_np(one_layer(x)[0]), to_np(one_layer(x)[0]))


def test_embedding_padding_idx_gets_no_gradient():
    e = nn.Embedding(5, 3, padding_idx=2)
    assert not np.any(to_np(e.weight)[2])
    e(ndgrad.tensor([[2, 1, 2]])).sum().backward()
    g = to_np(e.weight.grad)
    assert not np.any(g[2]) and np.all(g[1] == 1)


def test_batchnorm_running_stats_over_several_steps():
    tm, nm = torch.nn.BatchNorm2d(3, momentum=None).double(), nn.BatchNorm2d(3, momentum=None).double()
    for _ in range(3):
        x = randn(4, 3, 2, 2)
        tm(torch.tensor(x))
        nm(ndgrad.tensor(x))
    np.testing.assert_allclose(to_np(nm.running_mean), tm.running_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(to_np(nm.running_var), tm.running_var.numpy(), rtol=1e-10)
    assert int(nm.num_batches_tracked.item()) == 3


# ------------------------------------------------------------------ init
def test_calculate_gain_matches_torch():
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swishy")


@pytest.mark.parametrize("fn,kwargs,shape", [
    ("kaiming_uniform_", {}, (400, 300)), ("kaiming_uniform_", {"a": math.sqrt(5)}, (200, 50, 3, 3)),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, (400, 300)),
    ("xavier_uniform_", {"gain": 2.0}, (300, 500)), ("xavier_normal_", {}, (300, 500)),
    ("uniform_", {"a": -2.0, "b": 3.0}, (400, 300)), ("normal_", {"mean": 1.0, "std": 0.5}, (400, 300)),
    ("trunc_normal_", {"std": 2.0, "a": -1.0, "b": 3.0}, (400, 300)),
])
def test_init_distributions_match_torch(fn, kwargs, shape):
    """Same distribution as torch: mean, std and range agree on large tensors."""
    ndgrad.manual_seed(0)
    torch.manual_seed(0)
    n = to_np(getattr(nn.init, fn)(ndgrad.empty(*shape, dtype=ndgrad.float64), **kwargs))
    t = getattr(torch.nn.init, fn)(torch.empty(*shape, dtype=torch.float64), **kwargs).numpy()
    assert abs(n.mean() - t.mean()) < 0.02 * max(t.std(), 1e-3) + 0.01
    assert abs(n.std() / t.std() - 1) < 0.02
    if "uniform" in fn or fn == "trunc_normal_":
        assert n.min() >= t.min() - 0.01 * t.std() and n.max() <= t.max() + 0.01 * t.std()
        assert n.max() - n.min() > 0.98 * (t.max() - t.min())


def test_init_is_seeded_and_in_place():
    w = ndgrad.empty(10, 10)
    ndgrad.manual_seed(3)
    a = to_np(nn.init.normal_(w)).copy()
    ndgrad.manual_seed(3)
    assert nn.init.normal_(w) is w
    np.testing.assert_array_equal(to_np(w), a)
    nn.init.constant_(w, 0.5)
    assert np.all(to_np(w) == 0.5)
    nn.init.zeros_(w)
    assert not np.any(to_np(w))
    nn.init.ones_(w)
    assert np.all(to_np(w) == 1)
    ndgrad.manual_seed(1)
    l1 = nn.Linear(4, 4)
    ndgrad.manual_seed(1)
    l2 = nn.Linear(4, 4)
    np.testing.assert_array_equal(to_np(l1.weight), to_np(l2.weight))


def test_orthogonal_and_eye():
    for shape in [(6, 4), (4, 6), (5, 2, 3)]:
        w = nn.init.orthogonal_(ndgrad.empty(*shape, dtype=ndgrad.float64), gain=2.0)
        m = to_np(w).reshape(shape[0], -1)
        small = m.T @ m if shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-10)
    np.testing.assert_array_equal(to_np(nn.init.eye_(ndgrad.empty(3, 4))), np.eye(3, 4))


@pytest.mark.parametrize("make", [
    lambda nn: nn.Linear(500, 300), lambda nn: nn.Conv2d(16, 32, 3), lambda nn: nn.Bilinear(30, 20, 10),
    lambda nn: nn.LSTM(20, 64), lambda nn: nn.Embedding(200, 64), lambda nn: nn.MultiheadAttention(64, 4),
    lambda nn: nn.ConvTranspose2d(16, 8, 4),
])
def test_default_init_matches_torch_distribution(make):
    """Each parameter's default init has torch's spread and range (pooled over several builds so that
    small tensors such as biases give stable statistics)."""
    torch.manual_seed(0)
    ndgrad.manual_seed(0)
    smallest = min(p.numel() for p in make(torch.nn).parameters())
    reps = min(40, max(1, math.ceil(3000 / smallest)))
    pooled_t, pooled_n = {}, {}
    for _ in range(reps):
        for name, p in make(torch.nn).named_parameters():
            pooled_t.setdefault(name, []).append(p.detach().numpy().astype(np.float64).ravel())
        for name, p in make(nn).named_parameters():
            pooled_n.setdefault(name, []).append(to_np(p).astype(np.float64).ravel())
    assert list(pooled_n) == list(pooled_t)
    for name in pooled_t:
        a, b = np.concatenate(pooled_n[name]), np.concatenate(pooled_t[name])
        if b.std() == 0:
            np.testing.assert_array_equal(a, b, err_msg=name)
            continue
        assert abs(a.std() / b.std() - 1) < 0.1, name
        assert abs(a.mean() - b.mean()) < 0.1 * b.std(), name
        assert abs(np.abs(a).max() / np.abs(b).max() - 1) < 0.1 or np.abs(b).max() > 3 * b.std(), name


# ------------------------------------------------------------------ utils
def _twin_params():
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((2, 2))]
    grads = [rng.standard_normal(a.shape) * 3 for a in arrays]
    tp = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    n_p = [nn.Parameter(ndgrad.tensor(a)) for a in arrays]
    for t, n, g in zip(tp, n_p, grads):
        t.grad = torch.tensor(g)
        n.grad = ndgrad.tensor(g)
    return tp, n_p


@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (100.0, 2.0), (2.0, 1.0), (0.5, math.inf)])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    tp, n_p = _twin_params()
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    nn_ = nn.utils.clip_grad_norm_(n_p, max_norm, norm_type)
    assert float(nn_.item()) == pytest.approx(float(tn), rel=1e-10)
    for t, n in zip(tp, n_p):
        np.testing.assert_allclose(to_np(n.grad), t.grad.numpy(), rtol=1e-10)


def test_clip_grad_value_and_vector_round_trip():
    tp, n_p = _twin_params()
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    nn.utils.clip_grad_value_(n_p, 0.7)
    for t, n in zip(tp, n_p):
        np.testing.assert_array_equal(to_np(n.grad), t.grad.numpy())
    vec = nn.utils.parameters_to_vector(n_p)
    np.testing.assert_array_equal(to_np(vec), torch.nn.utils.parameters_to_vector(tp).detach().numpy())
    nn.utils.vector_to_parameters(vec * 2, n_p)
    np.testing.assert_array_equal(to_np(n_p[2]), 2 * tp[2].detach().numpy())
    with pytest.raises(ValueError, match=r"vec has shape \(3,\).*expected shape \(20,\)"):
        nn.utils.vector_to_parameters(ndgrad.zeros(3), n_p)


def test_nn_exports_functional_init_utils():
    for name in ["functional", "init", "utils", "Module", "Parameter", "Sequential", "Linear", "Conv2d", "LSTM",
                 "MultiheadAttention", "TransformerEncoderLayer", "CrossEntropyLoss", "BatchNorm2d"]:
        assert hasattr(nn, name), name
    assert nn.functional is F


# ------------------------------------------------------------------ GPU (skipped without CuPy and a GPU)
@pytest.mark.cuda
def test_modules_init_masks_and_moves_on_gpu():
    ndgrad.manual_seed(0)
    lin = nn.Linear(50, 40, device="cuda")
    assert str(lin.weight.device).startswith("cuda") and float(lin.weight.abs().max().item()) <= 1 / math.sqrt(50)
    w = nn.init.orthogonal_(ndgrad.empty(6, 4, device="cuda", dtype=ndgrad.float64))
    np.testing.assert_allclose(to_np(w.cpu()).T @ to_np(w.cpu()), np.eye(4), atol=1e-10)
    nn.init.trunc_normal_(w, a=-0.5, b=0.5)
    assert float(w.abs().max().item()) <= 0.5

    cpu_model = nn.MultiheadAttention(8, 2, batch_first=True).double()
    gpu_model = copy.deepcopy(cpu_model)
    weight = gpu_model.in_proj_weight
    gpu_model.cuda()
    assert gpu_model.in_proj_weight is weight and str(weight.device).startswith("cuda")
    x = randn(2, 5, 8)
    mask = no_full_rows(R.random((5, 5)) < 0.3)
    kpm = np.array([[False] * 5, [False] * 3 + [True] * 2])
    outs = []
    for model, dev in ((cpu_model, "cpu"), (gpu_model, "cuda")):
        xt = ndgrad.tensor(x, device=dev, requires_grad=True)
        out, attn = model(xt, xt, xt, attn_mask=ndgrad.tensor(mask, device=dev),
                          key_padding_mask=ndgrad.tensor(kpm, device=dev))
        out.sum().backward()
        outs.append([to_np(t.detach().cpu()) for t in (out, attn, xt.grad, model.in_proj_weight.grad)])
    for c, g in zip(*outs):
        np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-8)
    gpu_model.cpu()
    assert str(weight.device) == "cpu"
    nn.utils.clip_grad_norm_(gpu_model.parameters(), 0.1)

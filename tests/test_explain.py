"""viz.explain: the backward pass step by step, checked against closed forms, backward() and PyTorch."""
import io
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn
from ndgrad.autograd.node import Node
from ndgrad.data.datasets import Dosage
from ndgrad.models import DosageNet
from ndgrad.viz import explain, record_sources
from ndgrad.viz._templates import fill, template_for
from ndgrad.viz.explain import _fmt

RNG = np.random.default_rng(16)


def _quiet(output, inputs=None, **kw):
    return explain(output, inputs, file=io.StringIO(), **kw)


def _dosage(seed=0):
    ndgrad.manual_seed(seed)
    model = DosageNet()
    x, y = Dosage().tensors()
    with record_sources():
        ssr = ((y - model(x)) ** 2).sum()
    return model, x, y, ssr


# ----------------------------------------------------------------------------- the dosage lesson

def test_dosage_numbers_match_the_closed_form_and_torch():
    model, x, y, ssr = _dosage()
    e = _quiet(ssr, {"b3": model.output.bias, "w1": model.hidden.weight}, output_name="SSR")
    # The lesson's derivation by hand, in float64 from the same weights.
    xs = np.asarray(x.tolist(), dtype=np.float64).reshape(-1)
    obs = np.asarray(y.tolist(), dtype=np.float64).reshape(-1)
    w = np.asarray(model.hidden.weight.tolist(), dtype=np.float64).reshape(-1)
    b = np.asarray(model.hidden.bias.tolist(), dtype=np.float64)
    w_out = np.asarray(model.output.weight.tolist(), dtype=np.float64).reshape(-1)
    b3 = float(model.output.bias.item())
    pre = xs[:, None] * w + b                       # (3, 2): x_i * w_j + b_j
    act = np.log1p(np.exp(pre))                     # softplus
    pred = act @ w_out + b3
    d_pred = -2 * (obs - pred)                      # dSSR/dpredicted
    d_b3 = d_pred.sum()
    d_w1 = (d_pred[:, None] * w_out * (1 / (1 + np.exp(-pre))) * xs[:, None]).sum(0)
    np.testing.assert_allclose(np.asarray(e.gradients["b3"].tolist()), [d_b3], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(e.gradients["w1"].tolist()).reshape(-1), d_w1, rtol=1e-4, atol=1e-7)
    # Each printed step carries the lesson's intermediate numbers.
    by_op = {s.op: s for s in e.steps}
    np.testing.assert_allclose(np.asarray(by_op["Sum"].output.tolist()), ((obs - pred) ** 2).sum(), rtol=1e-5)
    softplus = by_op["Softplus"]
    sig = 1 / (1 + np.exp(-pre))
    local = softplus.outgoing[0][1]
    np.testing.assert_allclose(np.asarray(local.tolist()), sig, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(softplus.output.tolist()), act, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(by_op["PowScalar"].outgoing[0][2].tolist()).reshape(-1),
                               -d_pred, rtol=1e-5)  # d(r^2)/dr = 2r, r = observed - predicted
    np.testing.assert_allclose(np.asarray(by_op["Sub"].output.tolist()).reshape(-1), obs - pred, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(by_op["PowScalar"].outgoing[0][1].tolist()).reshape(-1),
                               2 * (obs - pred), rtol=1e-5)  # the local derivative 2r
    np.testing.assert_allclose(np.asarray(by_op["Sub"].outgoing[0][2].tolist()).reshape(-1), d_pred, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(softplus.grad.tolist()), d_pred[:, None] * w_out, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(softplus.outgoing[0][2].tolist()), d_pred[:, None] * w_out * sig,
                               rtol=1e-5)
    for value in (local, softplus.output, softplus.grad, e.gradients["b3"], e.gradients["w1"],
                  by_op["Sum"].output, by_op["Sub"].output):
        assert _fmt(value) in e.text
    # ... and PyTorch agrees on the leaves.
    tm = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Softplus(), torch.nn.Linear(2, 1))
    with torch.no_grad():
        for (_, tp), (_, p) in zip(tm.named_parameters(), model.named_parameters()):
            tp.copy_(torch.tensor(p.tolist()))
    tx, ty = torch.tensor(x.tolist()), torch.tensor(y.tolist())
    ((ty - tm(tx)) ** 2).sum().backward()
    np.testing.assert_allclose(np.asarray(e.gradients["b3"].tolist()), tm[2].bias.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(e.gradients["w1"].tolist()), tm[0].weight.grad.numpy(), rtol=1e-4)


def test_leaf_gradients_equal_backward_and_user_grad_is_untouched():
    model, x, y, ssr = _dosage(seed=3)
    marker = {name: ndgrad.full_like(p, 7.0) for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.grad = marker[name]
    e = _quiet(ssr, model.named_parameters())
    for name, p in model.named_parameters():
        assert p.grad is marker[name] and p.grad.tolist() == ndgrad.full_like(p, 7.0).tolist()
    model.zero_grad()
    ssr.backward()  # the graph was not freed by explain
    assert set(e.gradients) == {name for name, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(np.asarray(e.gradients[name].tolist()), np.asarray(p.grad.tolist()))


def test_retained_non_leaf_grad_is_untouched():
    w = ndgrad.randn(3, requires_grad=True)
    h = w.exp()
    h.retain_grad()
    loss = (h * 2).sum()
    _quiet(loss)
    assert h.grad is None and w.grad is None
    loss.backward()
    assert h.grad.tolist() == [2.0, 2.0, 2.0]


def test_steps_follow_the_engines_order():
    w = ndgrad.randn(3, requires_grad=True)
    v = ndgrad.randn(3, requires_grad=True)
    h = (w * v).tanh()
    loss = (h.exp() + h * 2 + (v - w).sigmoid()).sum()
    e = _quiet(loss)
    ran = []
    for step in e.steps:
        step.node.register_prehook(lambda g, node=step.node: ran.append(node))
    loss.backward()
    assert ran == [s.node for s in e.steps]


def test_accumulation_is_shown_as_a_sum():
    w = ndgrad.tensor([0.5, -1.0], requires_grad=True)
    h = w * 3
    loss = (h.exp() + h.sin()).sum()  # h feeds two ops; so does the leaf through both paths
    e = _quiet(loss, {"w": w})
    assert "feeds 2 ops: their gradients add up" in e.text
    mul = next(s for s in e.steps if s.op == "MulScalar")
    assert len(mul.incoming) == 2
    np.testing.assert_allclose(np.asarray(mul.grad.tolist()), np.exp([1.5, -3.0]) + np.cos([1.5, -3.0]), rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(np.asarray(e.gradients["w"].tolist()), np.asarray(w.grad.tolist()))


def test_leaf_used_twice_lists_both_contributions():
    w = ndgrad.tensor([2.0], requires_grad=True)
    loss = (w * w).sum()
    e = _quiet(loss, [("w", w)])
    assert "dL/dw = [2] (from [2]) + [2] (from [2]) = [4]" in e.text


def test_leaf_hooks_apply_as_in_backward():
    w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: g * 10)
    loss = (w * w).sum()
    e = _quiet(loss, {"w": w})
    assert "after its register_hook hooks: [20, 40]" in e.text
    loss.backward()
    assert e.gradients["w"].tolist() == w.grad.tolist()


def test_record_sources_names_modules_and_lines_and_restores_everything():
    from ndgrad.autograd import node as node_module
    call_before = nn.Module.__call__
    model, _, _, ssr = _dosage()
    assert nn.Module.__call__ is call_before and node_module._recorder is None
    text = _quiet(ssr).text
    assert "from DosageNet.hidden (Linear), test_explain.py:" in text
    assert "from DosageNet.activation (Softplus)" in text
    assert "(hidden.weight)" in text and "(output.bias)" in text


def test_non_leaf_input_gets_the_sum_arriving_at_its_node():
    x = ndgrad.randn(4, requires_grad=True)
    h = x.sigmoid()
    loss = (h * h + h).sum()
    e = _quiet(loss, {"h": h})
    tx = torch.tensor(x.tolist(), requires_grad=True)
    th = tx.sigmoid()
    th.retain_grad()
    (th * th + th).sum().backward()
    np.testing.assert_allclose(np.asarray(e.gradients["h"].tolist()), th.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("kind", ["mlp", "attention-head"])
def test_small_models_gradients_equal_backward(kind):
    ndgrad.manual_seed(5)
    x = ndgrad.randn(4, 3)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
        run = lambda: ((model(x) - 1.0) ** 2).mean()  # noqa: E731
    else:
        model = nn.MultiheadAttention(3, 1, batch_first=True)
        run = lambda: model(x[None], x[None], x[None])[0].pow(2).sum()  # noqa: E731
    with record_sources():
        loss = run()
    e = _quiet(loss, model.named_parameters(), max_nodes=10)
    assert "no plain-language template" not in e.text
    loss.backward()
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(np.asarray(e.gradients[name].tolist()), np.asarray(p.grad.tolist()))


def test_max_nodes_limits_the_text_not_the_result():
    w = ndgrad.tensor([0.1], requires_grad=True)
    h = w
    for _ in range(30):
        h = h * 1.01 + 0.001
    e = _quiet(h.sum(), max_nodes=5)
    assert "more steps not shown (max_nodes=5)" in e.text
    assert e.text.count("\n[") == 5
    h.sum().backward()
    np.testing.assert_allclose(np.asarray(e.gradients["leaf1"].tolist()), np.asarray(w.grad.tolist()))


def test_file_takes_a_path_or_an_open_file(tmp_path):
    w = ndgrad.tensor([1.0], requires_grad=True)
    e = explain((w * 3).sum(), file=tmp_path / "walk.txt")
    assert (tmp_path / "walk.txt").read_text() == e.text
    with pytest.raises(TypeError, match="explain: file must be a path or an open text file, got int"):
        explain((w * 3).sum(), file=3)


def test_large_tensors_are_summarised():
    w = ndgrad.randn(50, requires_grad=True)
    text = _quiet(w.exp().sum()).text
    assert "<(50,) tensor: mean" in text


def test_picture_notes_carry_values_and_gradients():
    model, _, _, ssr = _dosage()
    e = _quiet(ssr, model.named_parameters())
    dot = e.draw(params=dict(model.named_parameters()))
    assert "dL/doutput.bias" in dot and "dL/dy = 1" in dot and _fmt(ssr) in dot


# ----------------------------------------------------------------------------- templates per op

def _cases():
    F = nn.functional
    tF = torch.nn.functional
    return [  # (name, op for ndgrad, op for torch, input shapes, expected node, positive inputs)
        ("add", lambda a, b: a + b, None, [(3, 1), (1, 4)], "Add", False),
        ("sub", lambda a, b: a - b, None, [(3,), (3,)], "Sub", False),
        ("mul", lambda a, b: a * b, None, [(2, 3), (3,)], "Mul", False),
        ("div", lambda a, b: a / b, None, [(3,), (3,)], "Div", True),
        ("pow", lambda a, b: a ** b, None, [(3,), (3,)], "Pow", True),
        ("pow-scalar", lambda a: a ** 3, None, [(2, 2)], "PowScalar", False),
        ("matmul", lambda a, b: a @ b, None, [(2, 3), (3, 2)], "MatMul", False),
        ("exp", lambda a: a.exp(), None, [(3,)], "Exp", False),
        ("log", lambda a: a.log(), None, [(3,)], "Log", True),
        ("softplus", lambda a: F.softplus(a), lambda a: tF.softplus(a), [(4,)], "Softplus", False),
        ("sigmoid", lambda a: a.sigmoid(), None, [(4,)], "Sigmoid", False),
        ("tanh", lambda a: a.tanh(), None, [(4,)], "Tanh", False),
        ("relu", lambda a: a.relu(), None, [(5,)], "Relu", False),
        ("gelu", lambda a: F.gelu(a), lambda a: tF.gelu(a), [(4,)], "GELU", False),
        ("sum", lambda a: a.sum(0), None, [(3, 2)], "Sum", False),
        ("mean", lambda a: a.mean(), None, [(3, 2)], "DivScalar", False),
        ("cross-entropy", lambda a: F.cross_entropy(a, ndgrad.tensor([0, 2])),
         lambda a: tF.cross_entropy(a, torch.tensor([0, 2])), [(2, 3)], "CrossEntropy", False),
        ("mse", lambda a, b: F.mse_loss(a, b), lambda a, b: tF.mse_loss(a, b), [(3,), (3,)], "Mul", False),
        ("linear", lambda x, w, b: F.linear(x, w, b), lambda x, w, b: tF.linear(x, w, b),
         [(2, 3), (4, 3), (4,)], "Linear", False),
        ("conv2d", lambda x, w: F.conv2d(x, w), lambda x, w: tF.conv2d(x, w), [(1, 2, 4, 4), (3, 2, 2, 2)],
         "ConvNd", False),
    ]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_each_common_op_has_a_template_and_torch_gradients(case):
    name, nd_fn, t_fn, shapes, node_name, positive = case
    arrays = [RNG.uniform(0.5, 2.0, s) if positive else RNG.uniform(-2, 2, s) for s in shapes]
    nd_in = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e = _quiet(nd_fn(*nd_in).sum(), [(f"in{i}", t) for i, t in enumerate(nd_in)])
    (t_fn or nd_fn)(*t_in).sum().backward()
    for i, t in enumerate(t_in):
        np.testing.assert_allclose(np.asarray(e.gradients[f"in{i}"].tolist()), t.grad.numpy(), rtol=1e-7,
                                   atol=1e-10)
    step = next(s for s in e.steps if s.op == node_name)
    template = template_for(step.node)
    assert template is not None
    assert fill(template.computes, step.node) in e.text
    assert "no plain-language template" not in e.text


def test_elementwise_local_derivative_is_printed_as_numbers():
    x = ndgrad.tensor([0.0], requires_grad=True)
    text = _quiet(ndgrad.nn.functional.softplus(x).sum()).text
    assert "local      dy/dx = sigmoid(x) = e^x/(1 + e^x) = [0.5]" in text


def test_ops_without_a_template_get_the_vector_jacobian_product():
    class Twice(Node):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad * 2

    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    e = _quiet(Twice().apply(x).sum())
    assert "no plain-language template for Twice; its backward rule computes the vector-Jacobian product" in e.text
    assert e.gradients["leaf1"].tolist() == [2.0, 2.0]


def _nn_layer_cases():
    F = nn.functional
    image = (2, 3, 6, 6)
    seq = (2, 5, 4)
    rows = (2, 4)
    return [
        ("Linear", lambda t: nn.Linear(4, 3)(t), rows), ("Conv2d", lambda t: nn.Conv2d(3, 2, 3)(t), image),
        ("ConvTranspose2d", lambda t: nn.ConvTranspose2d(3, 2, 3)(t), image),
        ("Conv1d", lambda t: nn.Conv1d(5, 2, 3)(t), seq),
        ("BatchNorm2d", lambda t: nn.BatchNorm2d(3)(t), image), ("LayerNorm", lambda t: nn.LayerNorm(4)(t), seq),
        ("GroupNorm", lambda t: nn.GroupNorm(1, 3)(t), image), ("MaxPool2d", lambda t: nn.MaxPool2d(2)(t), image),
        ("AvgPool2d", lambda t: nn.AvgPool2d(2)(t), image),
        ("AdaptiveAvgPool2d", lambda t: nn.AdaptiveAvgPool2d(1)(t), image),
        ("Flatten", lambda t: nn.Flatten()(t), image), ("Dropout", lambda t: nn.Dropout(0.5)(t), rows),
        ("Embedding", lambda t: nn.Embedding(5, 3)(ndgrad.tensor([1, 2, 1])) * t.sum(), rows),
        ("MultiheadAttention", lambda t: nn.MultiheadAttention(4, 2, batch_first=True)(t, t, t)[0], seq),
        ("TransformerEncoderLayer", lambda t: nn.TransformerEncoderLayer(4, 2, 8, batch_first=True)(t), seq),
        ("LSTM", lambda t: nn.LSTM(4, 3, batch_first=True)(t)[0], seq), ("GRU", lambda t: nn.GRU(4, 3)(t)[0], seq),
        ("RNN", lambda t: nn.RNN(4, 3)(t)[0], seq),
        ("Softmax", lambda t: nn.Softmax(-1)(t), rows), ("LogSoftmax", lambda t: nn.LogSoftmax(-1)(t), rows),
        ("CrossEntropyLoss", lambda t: nn.CrossEntropyLoss()(t, ndgrad.tensor([0, 1])), rows),
        ("MSELoss", lambda t: nn.MSELoss()(t, ndgrad.zeros(2, 4)), rows),
        ("BCELoss", lambda t: nn.BCELoss()(t.sigmoid(), ndgrad.ones(2, 4)), rows),
        ("BCEWithLogitsLoss", lambda t: nn.BCEWithLogitsLoss()(t, ndgrad.ones(2, 4)), rows),
        ("L1Loss", lambda t: nn.L1Loss()(t, ndgrad.ones(2, 4)), rows),
        ("SmoothL1Loss", lambda t: nn.SmoothL1Loss()(t, ndgrad.ones(2, 4)), rows),
        ("NLLLoss", lambda t: F.nll_loss(t, ndgrad.tensor([0, 1])), rows),
        ("KLDivLoss", lambda t: nn.KLDivLoss(reduction="batchmean")(t.log_softmax(-1), ndgrad.ones(2, 4) / 4),
         rows),
    ] + [(name, (lambda cls: lambda t: cls()(t))(getattr(nn, name)), rows) for name in (
        "ReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softplus", "ELU", "LeakyReLU", "Mish", "Hardswish",
        "Hardsigmoid", "SELU", "CELU", "Softsign", "LogSigmoid", "Hardtanh", "ReLU6", "PReLU", "Tanhshrink",
        "Softshrink", "Hardshrink", "Softmin")]


def test_no_nn_layer_records_an_op_without_a_template():
    missing = {}
    for name, fn, shape in _nn_layer_cases():
        t = ndgrad.randn(*shape, requires_grad=True)
        loss = fn(t).sum()
        seen, stack = set(), [loss.grad_fn]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack += [p for p in node.next_functions if isinstance(p, Node)]
        without = sorted({n.name() for n in seen if template_for(n) is None})
        if without:
            missing[name] = without
    assert missing == {}


# ----------------------------------------------------------------------------- errors

def test_errors_name_the_problem_and_the_fix():
    w = ndgrad.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match="explain: expected the ndgrad Tensor"):
        explain([1.0])
    with pytest.raises(ValueError, match=r"single number \(a loss\), got shape \(3,\).*explain\(output.sum\(\)\)"):
        explain(w * 2)
    with pytest.raises(ValueError, match="has no graph"):
        explain(ndgrad.tensor(1.0))
    with pytest.raises(ValueError, match="max_nodes must be a positive int, got 0"):
        explain((w * 2).sum(), max_nodes=0)
    other = ndgrad.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="explain: other is not part of the graph"):
        explain((w * 2).sum(), {"other": other}, file=io.StringIO())
    with pytest.raises(TypeError, match="inputs must be tensors.*item 0 is a str"):
        explain((w * 2).sum(), ["w"])
    loss = (w * 2).exp().sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True"):
        explain(loss)


# ----------------------------------------------------------------------------- the command line

def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ndgrad", "explain", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_cli_explains_the_dosage_network_end_to_end(tmp_path):
    done = _cli("--step", "2", "--param", "output.bias", "--param", "hidden.weight",
                "--picture", str(tmp_path / "pic" / "graph.svg"), "--markdown", str(tmp_path / "page.md"))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "step   1  SSR" in out and "Backpropagation of SSR =" in out
    assert "[1] Sum" in out and "Softplus   from DosageNet.activation (Softplus)" in out
    assert "dSSR/doutput.bias = [" in out and "dSSR/dhidden.weight = [" in out
    dot = (tmp_path / "pic" / "graph.dot").read_text()
    assert dot.startswith("digraph") and "dSSR/dy = 1" in dot and "dSSR/dhidden.weight = [" in dot
    page = (tmp_path / "page.md").read_text()
    assert page.startswith("# Backpropagation of the dosage network, step 2") and "```text" in page
    assert "graph" in page


def test_cli_gradients_match_backward_at_that_step():
    done = _cli("--step", "1", "--param", "output.bias")
    assert done.returncode == 0, done.stderr
    model, x, y, ssr = _dosage(seed=0)
    ssr.backward()
    assert f"dSSR/doutput.bias = {_fmt(model.output.bias.grad)}" in done.stdout


@pytest.mark.parametrize("args, message", [
    (("--step", "0"), "--step must be between 1 and"),
    (("--param", "weight3"), "--param 'weight3' is not a parameter of the dosage network; choose one of"),
    (("--picture", "graph.gif"), "--picture 'graph.gif' must end in one of .svg"),
    (("--markdown", "page.txt"), "--markdown 'page.txt' must end in .md"),
    (("--lr", "-1"), "--lr must be a positive finite number"),
    (("--max-nodes", "0"), "--max-nodes must be at least 1"),
])
def test_cli_rejects_bad_input_with_one_line(args, message):
    done = _cli(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndgrad explain: error: ") and message in lines[0]
    assert done.stdout == ""

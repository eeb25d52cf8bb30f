"""ONNX export of whole programs: the `ndgrad train` models, a small GPT, the `ndgrad export` command; the
errors and warnings of the tracer; ndgrad.trace's graph; export's options."""
import importlib.util
import io
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import ndgrad
import ndgrad.nn as nn
import ndgrad.onnx
from ndgrad.models import build_model

ATOL, RTOL = 1e-5, 1e-4
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ort.set_default_logger_severity(3)


def _session(data):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _close(got, expected):
    np.testing.assert_allclose(got, expected.detach().numpy(), atol=ATOL, rtol=RTOL)


# -- the models of `ndgrad train` ----------------------------------------------------------------------
TRAIN_MODELS = [("mlp", (1, 8, 8), 10), ("cnn", (1, 8, 8), 10), ("cnn", (1, 28, 28), 10),
                ("video-cnn", (1, 8, 16, 16), 4), ("mlp", (1, 8, 16, 16), 4)]


@pytest.mark.parametrize("name,in_shape,classes", TRAIN_MODELS, ids=[f"{m}-{s}" for m, s, _ in TRAIN_MODELS])
def test_train_models_export_and_agree(name, in_shape, classes):
    model = build_model(name, in_shape, classes).eval()
    f = io.BytesIO()
    ndgrad.onnx.export(model, ndgrad.randn(2, *in_shape), f, input_names=["input"], output_names=["logits"],
                       dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = _session(f.getvalue())
    for batch in (2, 7):
        x = ndgrad.randn(batch, *in_shape)
        with ndgrad.no_grad():
            _close(session.run(None, {"input": x.numpy()})[0], model(x))


def test_cli_export_of_a_trained_checkpoint(tmp_path, capsys):
    from ndgrad.cli import main
    run_dir = tmp_path / "run"
    assert main(["train", "digits", "--model", "mlp", "--epochs", "1", "--limit", "64", "--no-progress",
                 "--out", str(run_dir)]) == 0
    out = tmp_path / "exported" / "digits.onnx"
    assert main(["export", str(run_dir / "checkpoint.safetensors"), "--format", "onnx", "--out", str(out)]) == 0
    assert "digits.onnx" in capsys.readouterr().out and out.is_file()
    ckpt = ndgrad.load(str(run_dir / "checkpoint.safetensors"))
    model = build_model("mlp", (1, 8, 8), 10)
    model.load_state_dict(ckpt["model"])
    model.eval()
    x = ndgrad.rand(5, 1, 8, 8)
    with ndgrad.no_grad():
        _close(_session(str(out)).run(None, {"input": x.numpy()})[0], model(x))


def test_cli_export_errors(tmp_path):
    from ndgrad.cli import main
    assert main(["export", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "m.onnx")]) == 2
    ndgrad.save({"weights": ndgrad.zeros(2)}, str(tmp_path / "other.safetensors"))
    assert main(["export", str(tmp_path / "other.safetensors"), "--out", str(tmp_path / "m.onnx")]) == 2


# -- a small GPT (examples/gpt.py) with dynamic batch and sequence length ------------------------------
def _example(name):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        spec = importlib.util.spec_from_file_location(f"{name}_for_onnx", os.path.join(ROOT, "examples", f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


def test_small_gpt_exports_with_dynamic_batch_and_sequence():
    gpt = _example("gpt").GPT(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16).eval()
    idx = ndgrad.randint(0, 13, (2, 5))
    f = io.BytesIO()
    ndgrad.onnx.export(gpt, (idx,), f, input_names=["idx"], output_names=["logits"],
                       dynamic_axes={"idx": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}})
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    session = _session(f.getvalue())
    for shape in ((2, 5), (3, 9), (1, 16)):
        x = ndgrad.randint(0, 13, shape)
        with ndgrad.no_grad():
            _close(session.run(None, {"idx": x.numpy()})[0], gpt(x)[0])


@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU"])
def test_word_language_model_exports_with_its_hidden_state(rnn_type):
    model = _example("lstm_language_model").RNNModel(rnn_type, 20, 8, 8, 2).eval()
    hidden = model.init_hidden(3)
    hidden = hidden if isinstance(hidden, tuple) else (hidden,)
    names = ["input"] + [f"h{i}" for i in range(len(hidden))]
    f = io.BytesIO()
    dynamic = {"input": {0: "seq", 1: "batch"}, **{n: {1: "batch"} for n in names[1:]}}
    ndgrad.onnx.export(model, (ndgrad.randint(0, 20, (5, 3)), hidden if len(hidden) > 1 else hidden[0]), f,
                       input_names=names, dynamic_axes=dynamic)
    session = _session(f.getvalue())
    for seq, batch in ((5, 3), (7, 2)):
        x = ndgrad.randint(0, 20, (seq, batch))
        state = tuple(ndgrad.randn(2, batch, 8) for _ in hidden)
        with ndgrad.no_grad():
            out, new_state = model(x, state if len(state) > 1 else state[0])
        got = session.run(None, {"input": x.numpy(), **{n: h.numpy() for n, h in zip(names[1:], state)}})
        new_state = new_state if isinstance(new_state, tuple) else (new_state,)
        for g, e in zip(got, (out,) + new_state):
            _close(g, e)


@pytest.mark.parametrize("example,build,shape", [
    ("gan", lambda m: m.Generator(), lambda m: (2, m.nz, 1, 1)),
    ("gan", lambda m: m.Discriminator(), lambda m: (2, m.nc, 16, 16)),
    ("cnn_classifier", lambda m: m.Net(), lambda m: (2, 1, 8, 8)),
    ("vae", lambda m: _Decoder(m.VAE()), lambda m: (2, 8)),
], ids=["dcgan_generator", "dcgan_discriminator", "cnn_classifier", "vae_decoder"])
def test_example_programs_export(example, build, shape):
    module = _example(example)
    model = build(module).eval()
    f = io.BytesIO()
    ndgrad.onnx.export(model, ndgrad.randn(*shape(module)), f, input_names=["x"], dynamic_axes={"x": {0: "b"}})
    session = _session(f.getvalue())
    for batch in (2, 5):
        x = ndgrad.randn(batch, *shape(module)[1:])
        with ndgrad.no_grad():
            _close(session.run(None, {"x": x.numpy()})[0], model(x))


class _Decoder(nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, z):
        return self.vae.decode(z)


# -- errors and warnings ---------------------------------------------------------------------------------
class Inner(nn.Module):
    def forward(self, x):
        return ndgrad.lgamma(x.abs() + 1)   # no ONNX counterpart


def test_unsupported_op_names_op_module_and_opset():
    model = nn.Sequential(nn.Linear(3, 3), Inner())
    with pytest.raises(ndgrad.onnx.UnsupportedOperatorError, match=r"Lgamma \(called in module '1' \(Inner\)\).*"
                                                                  r"opset 17"):
        ndgrad.onnx.export(model, ndgrad.randn(2, 3), io.BytesIO(), opset_version=17)


def test_value_dependent_control_flow_warns_and_is_frozen():
    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:        # reads a value: the trace keeps the branch this example took
                return x * 2
            return x - 1
    model = Branchy()
    x = ndgrad.ones(2, 3)
    f = io.BytesIO()
    with pytest.warns(ndgrad.onnx.TracerWarning, match=r"bool\(tensor\) read the value of a traced tensor"):
        ndgrad.onnx.export(model, x, f)
    got = _session(f.getvalue()).run(None, {"x": -x.numpy()})[0]
    np.testing.assert_allclose(got, -2 * x.numpy())   # the traced branch, as PyTorch's tracer does


def test_constant_computed_from_input_values_warns():
    class Frozen(nn.Module):
        def forward(self, x):
            return x - ndgrad.tensor(x.detach().numpy().mean())   # outside the recorded ops
    with pytest.warns(ndgrad.onnx.TracerWarning, match="used by Sub in the top-level forward was computed from "
                                                       "the input values"):
        ndgrad.onnx.export(Frozen(), ndgrad.randn(2, 3), io.BytesIO())


def test_item_in_forward_warns():
    with pytest.warns(ndgrad.onnx.TracerWarning, match=r"tensor.item\(\)"):
        ndgrad.trace(lambda x: x * x.max().item(), ndgrad.randn(3))


def test_shape_dependent_op_sequence_with_dynamic_axes_is_refused():
    class Loop(nn.Module):
        def forward(self, x):
            for _ in range(x.shape[0]):
                x = x + 1
            return x
    with pytest.raises(RuntimeError, match="runs different ops when the dynamic axis 'batch' changes"):
        ndgrad.onnx.export(Loop(), ndgrad.randn(2, 3), io.BytesIO(), input_names=["x"],
                           dynamic_axes={"x": {0: "batch"}})


def test_shape_rule_that_is_not_linear_is_refused():
    class Halves(nn.Module):
        def forward(self, x):
            return x[: x.shape[0] // 2]
    with pytest.raises(RuntimeError, match=r"BasicIndex in the top-level forward uses a size that is not a linear "
                                           r"function of batch \(like batch // 2\)"):
        ndgrad.onnx.export(Halves(), ndgrad.randn(4, 3), io.BytesIO(), input_names=["x"],
                           dynamic_axes={"x": {0: "batch"}})


def test_bad_opset_and_dynamic_axis():
    with pytest.raises(ValueError, match="opset_version=9 is not supported"):
        ndgrad.onnx.export(nn.Linear(2, 2), ndgrad.randn(1, 2), io.BytesIO(), opset_version=9)
    with pytest.raises(ValueError, match="names axis 5"):
        ndgrad.onnx.export(nn.Linear(2, 2), ndgrad.randn(1, 2), io.BytesIO(), input_names=["x"],
                           dynamic_axes={"x": [5]})


# -- ndgrad.trace ----------------------------------------------------------------------------------------
def test_trace_graph_is_readable_and_drawable(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    graph = ndgrad.trace(model, ndgrad.randn(4, 1, 4, 4))
    assert graph.op_names() == ["ConvNd", "Relu", "View", "Linear"]
    assert [op.module for op in graph] == ["0", "1", "2", "3"]
    assert graph.ops[0].outputs[0].shape == (4, 2, 2, 2) and graph.ops[0].outputs[0].dtype == np.float32
    assert set(graph.params) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    text = str(graph)
    assert "Linear(%t2, %3.weight, %3.bias)" in text and "# 3 (Linear)" in text
    dot = ndgrad.viz.draw_graph(graph, path=str(tmp_path / "g.dot"), format="dot")
    assert dot.startswith("digraph") and "ConvNd" in dot and (tmp_path / "g.dot").is_file()


def test_trace_records_no_grad_free_ops_and_leaves_no_hook():
    from ndgrad.autograd import node
    graph = ndgrad.trace(lambda x: (x > 0).long().argmax(-1), ndgrad.randn(2, 3))
    assert graph.op_names() == ["gt", "cast", "argmax"]
    assert node._recorder is None
    assert ndgrad.trace(ndgrad.eye(3)).item() == 3.0     # torch.trace on a matrix still works


def test_import_is_lazy():
    code = "import sys, ndgrad, ndgrad.onnx; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# -- export options ----------------------------------------------------------------------------------------
def test_file_path_names_verbose_and_defaults(tmp_path, capsys):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    path = tmp_path / "m.onnx"
    assert not ndgrad.onnx.is_in_onnx_export()
    proto = ndgrad.onnx.export(model, (ndgrad.randn(2, 3),), str(path), verbose=True)
    assert "Gemm" in capsys.readouterr().out
    loaded = onnx.load(str(path))
    assert [i.name for i in loaded.graph.input] == ["input"]          # the forward argument's name
    assert [o.name for o in loaded.graph.output] == ["output"]
    assert loaded.opset_import[0].version == 18 and proto.graph.node
    assert {t.name for t in loaded.graph.initializer} == {"0.weight", "0.bias"}


def test_export_params_false_makes_parameters_inputs():
    model = nn.Linear(3, 2)
    f = io.BytesIO()
    ndgrad.onnx.export(model, ndgrad.randn(2, 3), f, export_params=False, input_names=["x"])
    proto = onnx.load_from_string(f.getvalue())
    assert [i.name for i in proto.graph.input] == ["x", "weight", "bias"] and not proto.graph.initializer
    x = ndgrad.randn(2, 3)
    feeds = {"x": x.numpy(), "weight": model.weight.detach().numpy(), "bias": model.bias.detach().numpy()}
    with ndgrad.no_grad():
        _close(_session(f.getvalue()).run(None, feeds)[0], model(x))


def test_constant_folding_of_parameter_only_ops():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(ndgrad.randn(3, 4))

        def forward(self, x):
            return x @ self.w.t().exp()
    x = ndgrad.randn(2, 4)
    for fold, expect in ((True, {"MatMul"}), (False, {"MatMul", "Transpose", "Exp"})):
        f = io.BytesIO()
        ndgrad.onnx.export(Tied(), x, f, do_constant_folding=fold)
        proto = onnx.load_from_string(f.getvalue())
        assert {n.op_type for n in proto.graph.node} - {"Identity"} == expect


def test_training_model_is_exported_in_eval_mode_and_restored():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9), nn.BatchNorm1d(4))
    model.train()
    f = io.BytesIO()
    ndgrad.onnx.export(model, ndgrad.randn(3, 4), f)
    assert model.training
    model.eval()
    x = ndgrad.randn(3, 4)
    with ndgrad.no_grad():
        _close(_session(f.getvalue()).run(None, {"input": x.numpy()})[0], model(x))


def test_training_mode_preserve_keeps_eval_or_train():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    model.eval()
    ndgrad.onnx.export(model, ndgrad.randn(4, 3), io.BytesIO(), training=ndgrad.onnx.TrainingMode.PRESERVE)
    assert not model.training


def test_dynamic_size_constant_that_cannot_be_built_is_refused():
    class Noisy(nn.Module):
        def forward(self, x):
            return x + ndgrad.randn(x.size(0), 3)
    with pytest.warns(ndgrad.onnx.TracerWarning, match="or is random"), \
            pytest.raises(RuntimeError, match=r"a tensor created in forward uses a constant of shape \(2, 3\) built "
                                              r"from a dynamic size"):
        ndgrad.onnx.export(Noisy(), ndgrad.randn(2, 3), io.BytesIO(), input_names=["x"],
                           dynamic_axes={"x": {0: "batch"}})


def test_kwargs_and_multiple_outputs():
    class Two(nn.Module):
        def forward(self, x, scale=None):
            return x * scale, x.sum(-1)
    x, s = ndgrad.randn(2, 3), ndgrad.randn(3)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ndgrad.onnx.export(Two(), (x, {"scale": s}), f, input_names=["x", "scale"], output_names=["y", "total"])
    got = _session(f.getvalue()).run(None, {"x": x.numpy(), "scale": s.numpy()})
    _close(got[0], x * s)
    _close(got[1], x.sum(-1))


def test_supported_ops_list():
    names = ndgrad.onnx.supported_ops()
    for expected in ("Linear", "ConvNd", "LSTM", "GRU", "RNN", "Softmax", "Normalize", "MatMul", "gt"):
        assert expected in names


def test_export_signature_follows_torch():
    import inspect
    import torch
    ours = inspect.signature(ndgrad.onnx.export).parameters
    theirs = inspect.signature(torch.onnx.export).parameters
    for name in ("model", "args", "f", "kwargs", "verbose", "input_names", "output_names", "opset_version",
                 "export_params", "keep_initializers_as_inputs", "dynamic_axes", "training", "do_constant_folding"):
        assert name in ours and name in theirs
        assert ours[name].kind == theirs[name].kind, name
    assert {m.name: m.value for m in ndgrad.onnx.TrainingMode} == \
        {k: int(v) for k, v in torch.onnx.TrainingMode.__members__.items()}
    assert ndgrad.onnx.is_in_onnx_export() is torch.onnx.is_in_onnx_export() is False

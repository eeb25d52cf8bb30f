"""Whole-module ``ndgrad.save(model, f)`` / ``ndgrad.load(f)`` without pickle, and its allow-list.

A rebuilt model must compute what the saved one computed (outputs, state_dict keys and values,
training flag, parameter sharing), and loading must refuse classes that are neither ndgrad's own nor
allow-listed through ``ndgrad.serialization``, without importing anything the file names.
"""
import io
import json
import sys

import numpy as np
import pytest

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
from oracle import check_error, to_numpy


class Net(nn.Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.fc1 = nn.Linear(3, hidden)
        self.fc2 = nn.Linear(hidden, 2)
        self.again = self.fc1             # the same submodule twice
        self.activation = F.relu          # an ndgrad function as an attribute
        self.sizes = (3, hidden, 2)       # plain attributes
        self.meta = {"name": "net", "scale": 0.5, "tags": ["a", None]}
        self.dtype_attr = ndgrad.float64
        self.register_buffer("steps", ndgrad.zeros((), dtype=ndgrad.int64))
        self.register_buffer("scratch", ndgrad.ones(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.activation(self.again(x))) * self.meta["scale"]


def _roundtrip(obj, **load_args):
    buffer = io.BytesIO()
    ndgrad.save(obj, buffer)
    buffer.seek(0)
    return ndgrad.load(buffer, **load_args)


def _same_model(a, b, x):
    assert type(a) is type(b)
    assert list(a.state_dict()) == list(b.state_dict())
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert va.dtype == vb.dtype
        np.testing.assert_array_equal(to_numpy(va), to_numpy(vb), err_msg=ka)
    assert [m.training for m in a.modules()] == [m.training for m in b.modules()]
    assert [type(p) for p in a.parameters()] == [type(p) for p in b.parameters()]
    assert [p.requires_grad for p in a.parameters()] == [p.requires_grad for p in b.parameters()]
    ya, yb = a(x), b(x)
    ya, yb = (ya[0], yb[0]) if isinstance(ya, tuple) else (ya, yb)
    np.testing.assert_array_equal(to_numpy(ya.detach()), to_numpy(yb.detach()))


BUILTIN = [
    ("mlp", lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3)), (2, 4)),
    ("cnn", lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(8, 2)), (2, 1, 4, 4)),
    ("lstm", lambda: nn.LSTM(3, 4, num_layers=2, batch_first=True), (2, 5, 3)),
    ("encoder", lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True),
     (2, 3, 8)),
    ("module_dict", lambda: nn.ModuleDict({"a": nn.Linear(2, 2)}), None),
]


@pytest.mark.parametrize("name,make,shape", BUILTIN, ids=[b[0] for b in BUILTIN])
@pytest.mark.parametrize("training", [True, False])
def test_ndgrad_modules_round_trip_without_an_allow_list(name, make, shape, training):
    model = make()
    model.train(training)
    if not training and shape is not None:
        model(ndgrad.randn(*shape))  # updates running statistics before saving
    loaded = _roundtrip(model)
    if shape is None:
        assert list(loaded.state_dict()) == list(model.state_dict())
        return
    model.eval(), loaded.eval()
    _same_model(model, loaded, ndgrad.randn(*shape))


def test_a_users_class_needs_the_allow_list():
    buffer = io.BytesIO()
    ndgrad.save(Net(), buffer)
    buffer.seek(0)
    check_error(lambda: ndgrad.load(buffer), ["test_save_modules.Net", "add_safe_globals\\(\\[Net\\]\\)"],
                ndgrad.serialization.UnsafeGlobalError)


def test_safe_globals_context_and_add_get_clear():
    model = Net()
    model.eval()
    with ndgrad.serialization.safe_globals([Net]):
        assert Net in ndgrad.serialization.get_safe_globals()
        loaded = _roundtrip(model, weights_only=True)
    assert Net not in ndgrad.serialization.get_safe_globals()
    _same_model(model, loaded, ndgrad.randn(2, 3))
    ndgrad.serialization.add_safe_globals([Net])
    try:
        assert ndgrad.serialization.get_safe_globals() == [Net]
        _same_model(model, _roundtrip(model, weights_only=False, map_location="cpu"), ndgrad.randn(2, 3))
    finally:
        ndgrad.serialization.clear_safe_globals()
    assert ndgrad.serialization.get_safe_globals() == []


def test_rebuilt_structure_shares_and_keeps_attributes():
    with ndgrad.serialization.safe_globals([Net]):
        loaded = _roundtrip(Net(hidden=5))
    assert loaded.again is loaded.fc1 and loaded.activation is F.relu
    assert loaded.sizes == (3, 5, 2) and loaded.meta == {"name": "net", "scale": 0.5, "tags": ["a", None]}
    assert loaded.dtype_attr is ndgrad.float64
    assert "scratch" not in loaded.state_dict() and loaded.scratch.tolist() == [1.0, 1.0]
    assert loaded.steps.dtype == ndgrad.int64


def test_tied_weights_stay_tied():
    emb = nn.Embedding(5, 3)
    head = nn.Linear(3, 5, bias=False)
    head.weight = emb.weight
    model = nn.Sequential(emb, head)
    loaded = _roundtrip(model)
    assert loaded[1].weight is loaded[0].weight
    assert len(list(loaded.parameters())) == 1


def test_module_inside_a_checkpoint_dict():
    opt_state = {"epoch": 3, "model": nn.Linear(2, 2), "lr": 0.1}
    loaded = _roundtrip(opt_state)
    assert loaded["epoch"] == 3 and isinstance(loaded["model"], nn.Linear)


def test_the_loaded_model_trains():
    model = nn.Sequential(nn.Linear(3, 1))
    loaded = _roundtrip(model)
    opt = ndgrad.optim.SGD(loaded.parameters(), lr=0.1)
    loss = loaded(ndgrad.ones(4, 3)).pow(2).mean()
    loss.backward()
    opt.step()
    assert loaded[0].weight.grad is not None


def test_attributes_that_need_pickle_are_a_save_error():
    model = nn.Linear(2, 2)
    model.hook = lambda x: x
    check_error(lambda: _roundtrip(model), ["attribute 'hook'", "state_dict"], TypeError)

    class Local(nn.Module):
        pass
    check_error(lambda: _roundtrip(Local()), ["inside a function", "state_dict"], TypeError)


def _edit_structure(data, old, new):
    """The same checkpoint with text ``old`` of its JSON structure replaced (a hand-made, maybe hostile file)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    structure = header["__metadata__"]["ndgrad.structure"]
    assert old in structure
    header["__metadata__"]["ndgrad.structure"] = structure.replace(old, new, 1)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + n:]


def _rewrite_class_path(data, old, new):
    return _edit_structure(data, json.dumps(old), json.dumps(new))


def test_loading_never_imports_what_a_file_names():
    buffer = io.BytesIO()
    ndgrad.save(nn.Linear(2, 2), buffer)
    path = f"{nn.Linear.__module__}.Linear"
    hostile = _rewrite_class_path(buffer.getvalue(), path, "json.tool.Linear")
    sys.modules.pop("json.tool", None)
    check_error(lambda: ndgrad.load(io.BytesIO(hostile)), ["json.tool.Linear", "add_safe_globals"],
                ndgrad.serialization.UnsafeGlobalError)
    assert "json.tool" not in sys.modules  # not even imported
    not_a_module = _rewrite_class_path(buffer.getvalue(), path, "ndgrad.tensor.Tensor")
    check_error(lambda: ndgrad.load(io.BytesIO(not_a_module)), "not an nn.Module", ndgrad.io.CheckpointError)


def test_serialization_module_save_and_load():
    buffer = io.BytesIO()
    ndgrad.serialization.save({"w": ndgrad.ones(2)}, buffer)
    buffer.seek(0)
    assert ndgrad.serialization.load(buffer, weights_only=True)["w"].tolist() == [1.0, 1.0]
    check_error(lambda: ndgrad.serialization.add_safe_globals([3]), "classes or functions", TypeError)


@pytest.mark.parametrize("map_location", [lambda storage, loc: storage, lambda storage, loc: storage.cpu(),
                                          "cpu", ndgrad.device("cpu"), {"cpu": "cpu"}])
def test_map_location_forms_of_torch_load(map_location):
    loaded = _roundtrip({"w": ndgrad.ones(2), "m": nn.Linear(2, 1)}, map_location=map_location)
    assert loaded["w"].device == "cpu" and loaded["m"].weight.device == "cpu"


def test_map_location_function_must_return_the_storage():
    check_error(lambda: _roundtrip({"w": ndgrad.ones(2)}, map_location=lambda storage, loc: 3),
                "map_location function", TypeError)


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(2, 2)
        self.extra = [self.body]  # the same module again, in a plain (unregistered) attribute


def test_a_module_in_a_plain_attribute_and_a_submodule_comes_back_once():
    with ndgrad.serialization.safe_globals([Holder]):
        loaded = _roundtrip(Holder())
    assert loaded.extra[0] is loaded.body


@pytest.mark.parametrize("old,new,match", [
    ('"ref":0', '"ref":[0]', "malformed"), ('"non_persistent":[]', '"non_persistent":3', "malformed"),
    ('["note",', '["__class__",', "special attribute"),
])
def test_malformed_module_entries_are_checkpoint_errors(old, new, match):
    buffer = io.BytesIO()
    model = nn.Linear(2, 2)
    model.note = 1
    ndgrad.save(model, buffer)
    broken = _edit_structure(buffer.getvalue(), old, new)
    check_error(lambda: ndgrad.load(io.BytesIO(broken)), match, ndgrad.io.CheckpointError)


class _TrustedNet(ndgrad.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = ndgrad.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)


def test_weights_only_false_admits_classes_the_program_already_imported(tmp_path):
    model = _TrustedNet()
    path = tmp_path / "model.pt"
    ndgrad.save(model, path)
    with pytest.raises(Exception, match="add_safe_globals"):
        ndgrad.load(path)                      # weights_only defaults to the safe behaviour
    loaded = ndgrad.load(path, weights_only=False)
    assert type(loaded) is _TrustedNet
    x = ndgrad.randn(4, 3)
    assert ndgrad.equal(loaded(x), model(x))


def test_weights_only_false_never_imports_a_module_named_by_the_file(tmp_path, monkeypatch):
    import sys
    model = _TrustedNet()
    path = tmp_path / "model.pt"
    ndgrad.save(model, path)
    data = path.read_bytes().replace(_TrustedNet.__module__.encode(), b"not_imported_mod_x"[:len(
        _TrustedNet.__module__)].ljust(len(_TrustedNet.__module__), b"y"))
    path.write_bytes(data)
    before = set(sys.modules)
    with pytest.raises(Exception, match="add_safe_globals"):
        ndgrad.load(path, weights_only=False)
    assert set(sys.modules) == before

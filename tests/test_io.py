"""Checkpoints: ndgrad.save / ndgrad.load round trips, PyTorch interop, and bad files."""
import io
import json
import math
import os
import pickle
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.io import CheckpointError
from ndgrad.tensor import Tensor

safetensors = pytest.importorskip("safetensors")
from safetensors.torch import load_file as torch_load_file, save_file as torch_save_file  # noqa: E402

DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"]


def make(array, requires_grad=False):
    return Tensor._wrap(np.array(array, order="C"), requires_grad=requires_grad)


def random_array(dtype, shape, rng):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    values = rng.standard_normal(shape) * 100
    return values.astype(ndgrad.bfloat16.np if dtype == "bfloat16" else dtype)


def same_bits(a, b):
    """Bit-for-bit equality (NaN-safe, and it works for bfloat16)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_same(loaded, original):
    """Recursive equality that also demands the same container types and tensor dtypes."""
    assert type(loaded) is type(original), (type(loaded), type(original))
    if isinstance(original, Tensor):
        assert same_bits(loaded._data, original._data)
        assert loaded.dtype == original.dtype and loaded.requires_grad == original.requires_grad
        assert loaded.device == original.device
    elif isinstance(original, np.ndarray):
        assert same_bits(loaded, original)
    elif isinstance(original, dict):
        assert list(loaded) == list(original)
        for k in original:
            check_same(loaded[k], original[k])
    elif isinstance(original, (list, tuple)):
        assert len(loaded) == len(original)
        for a, b in zip(loaded, original):
            check_same(a, b)
    elif isinstance(original, float) and math.isnan(original):
        assert math.isnan(loaded)
    else:
        assert loaded == original


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ----------------------------------------------------------------------------- round trips

def test_round_trip_every_dtype_and_shape(tmp_path, rng):
    obj = OrderedDict()
    for dtype in DTYPES:
        for shape in [(), (0,), (5,), (3, 4), (2, 0, 3), (2, 3, 4, 5)]:
            obj[f"{dtype}.{'x'.join(map(str, shape)) or 'scalar'}"] = make(random_array(dtype, shape, rng))
    path = tmp_path / "all.safetensors"
    ndgrad.save(obj, path)
    loaded = ndgrad.load(path)
    check_same(loaded, obj)


def test_round_trip_nested_values(tmp_path, rng):
    w = make(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    obj = {
        "model": OrderedDict([("fc.weight", w), ("fc.bias", make(np.zeros(4, np.float32)))]),
        "numbers": [1, -2**62, 0.1, -0.0, float("inf"), float("nan"), True, False, None, "text ü"],
        "nested": ({"a": (1, 2.5)}, [[make(np.arange(3))], []], {}),
        7: "int key", 2.5: "float key", None: "none key", True: "bool key",
        "array": rng.standard_normal((2, 2)),
    }
    path = tmp_path / "nested.safetensors"
    ndgrad.save(obj, path)
    check_same(ndgrad.load(path), obj)


def test_optimizer_state_like_nesting(tmp_path, rng):
    state = {
        "state": {i: {"step": make(np.array(3.0, np.float32)), "exp_avg": make(rng.standard_normal((3, 2))),
                      "exp_avg_sq": make(rng.random((3, 2)))} for i in range(2)},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                          "amsgrad": False, "maximize": False, "foreach": None, "params": [0, 1]}],
    }
    path = tmp_path / "optim.safetensors"
    ndgrad.save(state, path)
    loaded = ndgrad.load(path)
    check_same(loaded, state)
    assert list(loaded["state"]) == [0, 1]  # integer keys stay integers, not "0"


def test_non_contiguous_and_shared_tensors(tmp_path, rng):
    base = make(rng.standard_normal((4, 6)))
    view = Tensor._wrap(base._data.T[::2])  # a strided view: saved as its values
    tied = make(rng.standard_normal(3))
    path = tmp_path / "views.safetensors"
    ndgrad.save({"view": view, "enc": tied, "dec": tied}, path)
    loaded = ndgrad.load(path)
    np.testing.assert_array_equal(loaded["view"]._data, base._data.T[::2])
    assert loaded["enc"] is loaded["dec"]  # tied weights stay tied, stored once
    header = _header(path)
    assert sum(1 for k in header if k != "__metadata__") == 2


def test_colliding_flat_names_stay_apart(tmp_path, rng):
    a, b = make(rng.standard_normal(2)), make(rng.standard_normal(2))
    obj = {"a.b": a, "a": {"b": b}}
    path = tmp_path / "collide.safetensors"
    ndgrad.save(obj, path)
    check_same(ndgrad.load(path), obj)


def test_file_objects(rng):
    obj = {"w": make(rng.standard_normal((2, 3)).astype(np.float32)), "epoch": 4}
    buf = io.BytesIO()
    ndgrad.save(obj, buf)
    buf.seek(0)
    check_same(ndgrad.load(buf), obj)


def test_parameters_come_back_as_parameters(tmp_path, rng):
    nn = pytest.importorskip("ndgrad.nn")
    p = nn.Parameter(make(rng.standard_normal(3).astype(np.float32)))
    path = tmp_path / "p.safetensors"
    ndgrad.save({"p": p}, path)
    loaded = ndgrad.load(path)["p"]
    assert isinstance(loaded, nn.Parameter) and loaded.requires_grad
    assert same_bits(loaded._data, p._data)


# ----------------------------------------------------------------------------- PyTorch interop

def test_pytorch_reads_ndgrad_checkpoints(tmp_path, rng):
    tensors = {f"t.{d}": make(random_array(d, (3, 5), rng)) for d in DTYPES}
    path = tmp_path / "for_torch.safetensors"
    ndgrad.save(tensors, path)
    from_torch = torch_load_file(str(path))
    assert set(from_torch) == set(tensors)  # flat keys are the names
    for key, t in tensors.items():
        got = from_torch[key]
        if t.dtype == ndgrad.bfloat16:
            np.testing.assert_array_equal(got.float().numpy(), t._data.astype(np.float32))
            assert got.dtype == torch.bfloat16
        else:
            np.testing.assert_array_equal(got.numpy(), t._data)


def test_ndgrad_reads_pytorch_safetensors_files(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    sd["half"] = torch.randn(3, dtype=torch.bfloat16)
    path = tmp_path / "from_torch.safetensors"
    torch_save_file(sd, str(path))
    loaded = ndgrad.load(path)
    assert set(loaded) == set(sd)
    for key, t in sd.items():
        np.testing.assert_array_equal(loaded[key]._data.astype(np.float32), t.float().numpy())


def test_same_predictions_after_save_and_load(tmp_path):
    nn = pytest.importorskip("ndgrad.nn")
    if not hasattr(nn, "Linear") or not hasattr(ndgrad, "randn"):
        pytest.skip("needs ndgrad.nn.Linear")
    ndgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    x = ndgrad.randn(7, 6)
    expected = model(x)._data.copy()
    path = tmp_path / "model.safetensors"
    ndgrad.save(model.state_dict(), path)
    ndgrad.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    assert not np.array_equal(fresh(x)._data, expected)
    fresh.load_state_dict(ndgrad.load(path))
    np.testing.assert_array_equal(fresh(x)._data, expected)


def test_training_resumes_exactly_from_a_checkpoint(tmp_path):
    """Model + Adam state saved mid-training: the resumed run matches the uninterrupted one bit for bit."""
    nn, optim = pytest.importorskip("ndgrad.nn"), pytest.importorskip("ndgrad.optim")
    F = pytest.importorskip("ndgrad.nn.functional")
    x = make(np.random.default_rng(2).standard_normal((16, 4)).astype(np.float32))
    y = make(np.random.default_rng(3).integers(0, 3, 16))

    def build(seed):
        ndgrad.manual_seed(seed)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        return model, optim.Adam(model.parameters(), lr=0.05)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

    model, opt = build(0)
    train(model, opt, 3)
    path = tmp_path / "resume.safetensors"
    ndgrad.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    train(model, opt, 3)

    resumed, resumed_opt = build(1)
    ckpt = ndgrad.load(path)
    resumed.load_state_dict(ckpt["model"])
    resumed_opt.load_state_dict(ckpt["optimizer"])
    assert ckpt["epoch"] == 3
    train(resumed, resumed_opt, 3)
    for (name, a), (_, b) in zip(model.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a._data, b._data, err_msg=name)


# ----------------------------------------------------------------------------- safety and errors

def test_loading_never_unpickles(tmp_path, monkeypatch, rng):
    obj = {"w": make(rng.standard_normal(3)), "meta": {"epoch": 2, "names": ("a", "b")}}
    path = tmp_path / "safe.safetensors"
    ndgrad.save(obj, path)

    def forbidden(*args, **kwargs):
        raise AssertionError("ndgrad.load used pickle")

    import _pickle
    for module in (pickle, _pickle):
        for name in ("load", "loads", "Unpickler"):
            monkeypatch.setattr(module, name, forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    check_same(ndgrad.load(path), obj)


def test_save_refuses_arbitrary_objects(tmp_path):
    class Thing:
        pass

    with pytest.raises(TypeError, match=r"cannot store a Thing at obj\['opt'\]\[0\].*no pickle"):
        ndgrad.save({"opt": [Thing()]}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"dict key .* is a tuple"):
        ndgrad.save({(1, 2): 3}, tmp_path / "x.safetensors")
    assert not os.path.exists(tmp_path / "x.safetensors")


@pytest.fixture
def good_file(tmp_path, rng):
    path = tmp_path / "good.safetensors"
    ndgrad.save({"w": make(rng.standard_normal((8, 8))), "step": 3}, path)
    return path


@pytest.mark.parametrize("keep, message", [
    (0, r"0 bytes, too short"),
    (5, r"5 bytes, too short"),
    (20, r"truncated: the header should be"),
    (-1, r"truncated: tensor 'w' needs bytes up to 512"),
])
def test_truncated_file(good_file, keep, message):
    data = good_file.read_bytes()
    good_file.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(CheckpointError, match=f"good.safetensors.*{message}"):
        ndgrad.load(good_file)


def test_corrupt_files(good_file, tmp_path):
    data = bytearray(good_file.read_bytes())
    data[9] = 0xFF  # break the JSON header
    good_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"good.safetensors.*header is not valid JSON"):
        ndgrad.load(good_file)

    not_st = tmp_path / "notes.txt"
    not_st.write_text("these are not the weights you are looking for")
    with pytest.raises(CheckpointError, match=r"notes.txt.*not a safetensors file"):
        ndgrad.load(not_st)


def _write_raw(path, tensors, metadata):
    from safetensors.numpy import save_file
    save_file(tensors, str(path), metadata=metadata)


@pytest.mark.parametrize("structure, message", [
    ("{not json", r"'ndgrad.structure' header entry is not valid JSON"),
    (json.dumps({"tensor": "missing"}), r"refers to tensor 'missing', which the file does not contain"),
    (json.dumps({"dict": [["a"]]}), r"not a list of \[key, value\] pairs"),
    (json.dumps({"surprise": 1}), r"unknown structure node"),
    (json.dumps({"value": [1, 2]}), r"is not a number, string, bool or None"),
])
def test_corrupt_structure(tmp_path, structure, message):
    path = tmp_path / "bad.safetensors"
    _write_raw(path, {"w": np.zeros(2, np.float32)}, {"ndgrad.format": "1", "ndgrad.structure": structure})
    with pytest.raises(CheckpointError, match=f"bad.safetensors' is corrupt.*{message}"):
        ndgrad.load(path)


def test_inconsistent_offsets_are_reported(tmp_path):
    path = tmp_path / "overlap.safetensors"
    header = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}  # 4 floats need 16 bytes
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(8))
    with pytest.raises(CheckpointError, match=r"overlap.safetensors' is not a valid safetensors file"):
        ndgrad.load(path)


def test_map_location(good_file):
    assert ndgrad.load(good_file, map_location="cpu")["w"].device == "cpu"
    assert ndgrad.load(good_file, map_location={"cuda:0": "cpu"})["w"].device == "cpu"
    with pytest.raises(ValueError, match=r"map_location='tpu' is not a device"):
        ndgrad.load(good_file, map_location="tpu")


def test_gpu_checkpoint_on_a_machine_without_gpu(tmp_path):
    path = tmp_path / "from_gpu.safetensors"
    structure = json.dumps({"dict": [["w", {"tensor": "w", "device": "cuda:0"}]]})
    _write_raw(path, {"w": np.arange(3, dtype=np.float32)}, {"ndgrad.format": "1", "ndgrad.structure": structure})
    np.testing.assert_array_equal(ndgrad.load(path, map_location="cpu")["w"]._data, np.arange(3))
    np.testing.assert_array_equal(ndgrad.load(path, map_location={"cuda:0": "cpu"})["w"]._data, np.arange(3))
    if ndgrad.cuda.is_available():
        assert ndgrad.load(path)["w"].device == "cuda:0"
    else:
        with pytest.raises(RuntimeError, match=r"from_gpu.safetensors' has tensors saved on cuda:0 that cannot "
                                               r"go to cuda:0 here.*pass map_location='cpu'"):
            ndgrad.load(path)


def test_reserved_header_name_is_not_used_for_tensors(tmp_path, rng):
    obj = {"__metadata__": make(rng.standard_normal(2))}
    path = tmp_path / "reserved.safetensors"
    ndgrad.save(obj, path)
    check_same(ndgrad.load(path), obj)


def test_missing_safetensors_says_how_to_install(monkeypatch, good_file):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"pip install ndgrad\[io\]"):
        ndgrad.load(good_file)


def test_import_ndgrad_does_not_import_safetensors():
    code = "import sys, ndgrad; assert callable(ndgrad.save); print('safetensors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_save_does_not_clobber_on_failure(good_file):
    before = good_file.read_bytes()
    with pytest.raises(TypeError):
        ndgrad.save({"bad": object()}, good_file)
    assert good_file.read_bytes() == before
    assert os.listdir(good_file.parent) == [good_file.name]


@pytest.mark.cuda
def test_gpu_tensors_save_through_host_and_map_location(tmp_path, rng):
    cupy = pytest.importorskip("cupy")
    try:
        ndgrad.backend.get_device("cuda")
    except Exception as e:  # no GPU here
        pytest.skip(f"no CUDA device: {e}")
    host = rng.standard_normal((3, 4)).astype(np.float32)
    t = make(host).to("cuda")
    path = tmp_path / "gpu.safetensors"
    ndgrad.save({"w": t, "h": make(host.astype(np.float16)).to("cuda")}, path)
    back = ndgrad.load(path)
    assert back["w"].device == "cuda:0" and isinstance(back["w"]._data, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(back["w"]._data), host)
    on_cpu = ndgrad.load(path, map_location="cpu")
    assert on_cpu["w"].device == "cpu"
    np.testing.assert_array_equal(on_cpu["h"]._data, host.astype(np.float16))
    cpu_path = tmp_path / "cpu.safetensors"
    ndgrad.save({"w": make(host)}, cpu_path)
    assert ndgrad.load(cpu_path, map_location="cuda")["w"].device == "cuda:0"


def _header(path):
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n])

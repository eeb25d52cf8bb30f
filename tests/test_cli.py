"""The ``ndgrad`` command end to end, each run in its own subprocess on a small budget."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ndgrad

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "ndgrad", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC


def test_demo_fits_the_dosage_data(tmp_path):
    pytest.importorskip("matplotlib")
    r = run("demo", "--out", "pics", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    preds = [float(v) for v in re.findall(r"prediction\s+(-?[\d.]+)", r.stdout)]
    assert len(preds) == 3
    np.testing.assert_allclose(preds, [0.0, 1.0, 0.0], atol=0.15)
    assert float(re.search(r"final loss ([\d.e-]+)", r.stdout).group(1)) < 0.01
    final = r.stdout.split("final weights and biases:")[1]
    assert "hidden: weights" in final and "output: weights" in final
    assert is_png(tmp_path / "pics" / "dosage_fit.png")


def read_history(path):
    ckpt = ndgrad.load(str(path))
    return ckpt, {k: np.array(v) for k, v in ckpt["history"].items()}


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_train_digits_mlp_then_resume(tmp_path, optimizer):
    pytest.importorskip("sklearn")
    lr = {"adam": "0.003", "sgd": "0.05"}[optimizer]
    common = ["train", "digits", "--model", "mlp", "--optimizer", optimizer, "--lr", lr, "--seed", "3",
              "--no-progress"]
    r = run(*common, "--epochs", "1", "--out", "one", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"epoch 1/1  train loss [\d.]+  train acc [\d.]+%  test loss [\d.]+  test acc [\d.]+%",
                     r.stdout)
    assert "samples/s" in r.stdout and "confusion matrix on the 359 test samples" in r.stdout
    assert is_png(tmp_path / "one" / "training_curve.png")
    ckpt, hist = read_history(tmp_path / "one" / "checkpoint.safetensors")
    assert ckpt["epoch"] == 1 and len(hist["train_loss"]) == 1
    assert set(ckpt["model"]) == {f"net.{i}.{p}" for i in (1, 3, 5) for p in ("weight", "bias")}
    acc = float(re.search(r"test accuracy ([\d.]+)%", r.stdout).group(1))
    assert acc > 80  # one epoch of a 2-layer MLP on digits

    # The confusion matrix counts every test sample once.
    rows = [line.split()[1:] for line in r.stdout.split("predicted):\n")[1].split("\n\n")[0].splitlines()[1:]]
    matrix = np.array(rows, dtype=int)
    assert matrix.shape == (10, 10) and matrix.sum() == 359
    assert abs(100 * np.trace(matrix) / 359 - acc) < 0.01

    # --resume: a 2nd epoch from the checkpoint equals an uninterrupted 2-epoch run (same optimizer state,
    # same shuffling), and continues the loss curve.
    r = run(*common, "--epochs", "2", "--out", "resumed", "--resume", "one/checkpoint.safetensors", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "resuming from one/checkpoint.safetensors after epoch 1" in r.stdout
    assert "epoch 2/2" in r.stdout and "epoch 1/2" not in r.stdout
    r = run(*common, "--epochs", "2", "--out", "straight", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    resumed, hist_resumed = read_history(tmp_path / "resumed" / "checkpoint.safetensors")
    straight, hist_straight = read_history(tmp_path / "straight" / "checkpoint.safetensors")
    assert resumed["epoch"] == 2 and len(hist_resumed["train_loss"]) == 2
    np.testing.assert_allclose(hist_resumed["train_loss"][0], hist["train_loss"][0])
    for key in hist_straight:
        np.testing.assert_allclose(hist_resumed[key], hist_straight[key], rtol=1e-5)
    assert hist_resumed["train_loss"][1] < hist_resumed["train_loss"][0]
    for key, value in straight["model"].items():
        np.testing.assert_allclose(resumed["model"][key]._data, value._data, rtol=1e-4, atol=1e-6)

    # Asking for no more epochs than the checkpoint holds trains nothing.
    r = run(*common, "--epochs", "2", "--out", "resumed", "--resume", "resumed/checkpoint.safetensors",
            cwd=tmp_path)
    assert r.returncode == 0 and "already trained 2 of 2 epochs" in r.stdout


def test_resume_from_a_different_model_names_the_keys(tmp_path):
    pytest.importorskip("sklearn")
    r = run("train", "digits", "--model", "mlp", "--epochs", "1", "--limit", "64", "--out", "mlp",
            "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("train", "digits", "--model", "cnn", "--epochs", "2", "--limit", "64", "--resume",
            "mlp/checkpoint.safetensors", "--out", "cnn", cwd=tmp_path)
    assert r.returncode == 2
    assert "saved from a different model; the keys differ" in r.stderr
    assert "missing from the checkpoint: features.0.weight" in r.stderr
    assert "in the checkpoint but not in the model: net.1.weight" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("train", "shapes", "--resume", "mlp/checkpoint.safetensors", cwd=tmp_path)
    assert r.returncode == 2 and "was trained on 'digits', not 'shapes'" in r.stderr
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint at all")
    r = run("train", "digits", "--resume", "bad.safetensors", cwd=tmp_path)
    assert r.returncode == 2 and "cannot read 'bad.safetensors'" in r.stderr


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_train_mnist_from_idx_files_and_missing_files(tmp_path):
    data = tmp_path / "data"
    r = run("train", "mnist", "--data", str(data), cwd=tmp_path)
    assert r.returncode == 2
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        assert name in r.stderr
    assert "looked for" in r.stderr and str(data) in r.stderr and "Traceback" not in r.stderr

    rng = np.random.default_rng(0)
    data.mkdir()
    for prefix, n in (("train", 40), ("t10k", 20)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, label in enumerate(labels):  # a bright bar whose position gives the class
            images[i, 2 * label:2 * label + 3, 4:24] = 255
        write_idx(data / f"{prefix}-images-idx3-ubyte", images)
        write_idx(data / f"{prefix}-labels-idx1-ubyte", labels)
    r = run("train", "fashion-mnist", "--data", str(data), "--model", "mlp", "--epochs", "1", "--out", "fm",
            "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "40 training and 20 test samples of shape (1, 28, 28)" in r.stdout
    assert "Ankle boot" in r.stdout  # Fashion-MNIST's class names in the confusion matrix
    assert (tmp_path / "fm" / "checkpoint.safetensors").exists()

    (data / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01\0\0\0\x14" + bytes(5))
    r = run("train", "mnist", "--data", str(data), cwd=tmp_path)
    assert r.returncode == 2
    assert "t10k-labels-idx1-ubyte: truncated" in r.stderr and "only 5 bytes" in r.stderr


def test_bad_names_list_the_valid_ones(tmp_path):
    r = run("train", "cifar", cwd=tmp_path)
    assert r.returncode == 2
    assert "invalid choice: 'cifar'" in r.stderr
    assert "'digits', 'mnist', 'fashion-mnist', 'shapes'" in r.stderr
    r = run("train", "digits", "--model", "resnet", cwd=tmp_path)
    assert r.returncode == 2 and "'mlp', 'cnn', 'video-cnn'" in r.stderr
    r = run("train", "digits", "--optimizer", "lbfgs", cwd=tmp_path)
    assert r.returncode == 2 and "'sgd', 'adam'" in r.stderr
    r = run("train", "shapes", "--model", "cnn", cwd=tmp_path)
    assert r.returncode == 2
    assert "model 'cnn' does not fit dataset 'shapes'" in r.stderr and "video-cnn" in r.stderr
    r = run("train", "digits", "--model", "video-cnn", cwd=tmp_path)
    assert r.returncode == 2 and "choose one of mlp, cnn" in r.stderr
    r = run("train", "digits", "--epochs", "0", cwd=tmp_path)
    assert r.returncode == 2 and "--epochs must be at least 1" in r.stderr
    r = run("train", "digits", "--device", "tpu", cwd=tmp_path)
    assert r.returncode == 2 and "--device 'tpu'" in r.stderr and "cpu" in r.stderr
    r = run("frobnicate", cwd=tmp_path)
    assert r.returncode == 2 and "demo" in r.stderr and "train" in r.stderr


def test_info(tmp_path):
    r = run("info", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"ndgrad {ndgrad.__version__}" in out
    assert f"NumPy {np.__version__}" in out
    assert f"Python {sys.version.split()[0]}" in out
    assert "BLAS:" in out and "devices:" in out and "\n  cpu" in out
    pytest.importorskip("threadpoolctl")
    assert re.search(r"\d+ threads", out)


def test_help_lists_subcommands(tmp_path):
    r = run("--help", cwd=tmp_path)
    assert r.returncode == 0
    for word in ("demo", "train", "info", "bench"):
        assert word in r.stdout
    r = run("train", "--help", cwd=tmp_path)
    for option in ("--model", "--epochs", "--batch-size", "--lr", "--optimizer", "--seed", "--out", "--data",
                   "--resume", "--device"):
        assert option in r.stdout

"""The example programs in examples/ (PyTorch-style scripts that import only ndgrad) train and learn."""
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def run_example(script, *args):
    done = subprocess.run([sys.executable, script, *args], cwd=EXAMPLES, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def number_after(label, text):
    found = re.findall(label + r" ([0-9.]+)", text)
    assert found, f"no '{label}' in output:\n{text}"
    return [float(v) for v in found]


def test_cnn_classifier_learns_digits():
    out = run_example("cnn_classifier.py", "--epochs", "2")
    assert number_after("final accuracy", out)[0] > 0.85


def test_vae_loss_falls(tmp_path):
    picture = tmp_path / "samples.png"
    out = run_example("vae.py", "--epochs", "4", "--samples", str(picture))
    losses = number_after("average loss", out)
    assert losses[-1] < losses[0]
    assert picture.stat().st_size > 0


@pytest.mark.parametrize("rnn", ["LSTM", "GRU"])
def test_language_model_perplexity_falls(rnn):
    out = run_example("lstm_language_model.py", "--model", rnn, "--epochs", "2")
    initial = number_after("initial validation perplexity", out)[0]
    final = number_after("final validation perplexity", out)[0]
    assert final < initial / 2


def test_gpt_learns_and_generates():
    out = run_example("gpt.py", "--steps", "60")
    assert number_after("final loss", out)[0] < number_after("initial loss", out)[0] - 1.0
    assert number_after("sampled", out) == [61.0]


def test_gan_trains(tmp_path):
    picture = tmp_path / "fake.png"
    out = run_example("gan.py", "--epochs", "1", "--samples", str(picture))
    assert re.search(r"Loss_D [0-9.]+ Loss_G [0-9.]+", out)
    assert picture.stat().st_size > 0


def test_gcn_with_sparse_adjacency_classifies_nodes():
    out = run_example("gcn.py", "--epochs", "60")
    assert float(re.search(r"test accuracy ([0-9.]+)", out).group(1)) > 0.8


def test_lbfgs_fit_converges():
    out = run_example("lbfgs_fit.py", "--steps", "3")
    assert number_after("final loss", out)[0] < number_after("initial loss", out)[0] / 5

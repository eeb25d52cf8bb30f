"""Real networks learn: the dosage network, the digits CNN (>= 97% test accuracy) and the
moving-shapes video CNN (Conv3d, >= 90%), trained the way the ``ndgrad`` command trains them."""
import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn
from ndgrad.cli import main
from ndgrad.data.datasets import Dosage
from ndgrad.models import CNN, MLP, DosageNet, VideoCNN


def test_dosage_network_matches_torch_step_by_step():
    """Same starting weights, same SGD: ndgrad and PyTorch give the same loss at every step."""
    x, y = Dosage().tensors()
    ours = DosageNet().to(ndgrad.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Softplus(), torch.nn.Linear(2, 1)).double()
    with torch.no_grad():
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p._data.copy()))
    opt = ndgrad.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    xd, yd = x.to(ndgrad.float64), y.to(ndgrad.float64)
    tx, ty = torch.from_numpy(xd._data), torch.from_numpy(yd._data)
    for _ in range(300):
        loss = nn.functional.mse_loss(ours(xd), yd)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.mse_loss(theirs(tx), ty)
        topt.zero_grad()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_fits_dosage_below_0_01(seed, tmp_path, capsys):
    assert main(["demo", "--seed", str(seed), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    loss = float(out.split("final loss ")[1].split()[0])
    assert loss < 0.01
    preds = [float(line.split("prediction")[1]) for line in out.splitlines() if "prediction" in line]
    np.testing.assert_allclose(preds, [0.0, 1.0, 0.0], atol=0.15)


@pytest.mark.parametrize("model,shape,classes", [
    (lambda: MLP((1, 8, 8), 10), (5, 1, 8, 8), 10),
    (lambda: CNN((1, 8, 8), 10), (5, 1, 8, 8), 10),
    (lambda: CNN((1, 28, 28), 10), (2, 1, 28, 28), 10),
    (lambda: VideoCNN((1, 8, 16, 16), 4), (3, 1, 8, 16, 16), 4),
])
def test_model_output_shapes_and_gradients(model, shape, classes):
    net = model()
    out = net(ndgrad.randn(*shape))
    assert out.shape == (shape[0], classes)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())


def test_model_shape_errors():
    with pytest.raises(ValueError, match=r"CNN: expected in_shape .* got \(1, 10, 10\)"):
        CNN((1, 10, 10))
    with pytest.raises(ValueError, match=r"VideoCNN: expected in_shape .* got \(1, 8, 16\)"):
        VideoCNN((1, 8, 16))


def final_test_accuracy(out_dir):
    ckpt = ndgrad.load(str(out_dir / "checkpoint.safetensors"))
    return ckpt["history"]["test_acc"][-1], ckpt


@pytest.mark.slow
def test_digits_cnn_reaches_97_percent(tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert main(["train", "digits", "--model", "cnn", "--out", str(tmp_path), "--no-progress"]) == 0
    acc, ckpt = final_test_accuracy(tmp_path)
    assert acc >= 0.97
    assert ckpt["config"]["model"] == "cnn" and ckpt["epoch"] == len(ckpt["history"]["test_acc"])


@pytest.mark.slow
def test_video_cnn_learns_moving_shapes_direction(tmp_path, capsys):
    assert main(["train", "shapes", "--model", "video-cnn", "--out", str(tmp_path), "--no-progress"]) == 0
    acc, ckpt = final_test_accuracy(tmp_path)
    assert acc >= 0.90
    assert any(k.startswith("features.0.weight") for k in ckpt["model"])
    assert tuple(ckpt["model"]["features.0.weight"].shape) == (8, 1, 3, 3, 3)  # Conv3d kernels

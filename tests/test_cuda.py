"""The GPU path: every kind of op, module and optimizer runs on CUDA and matches the CPU.

Marked `cuda`: skipped (one reason) where CuPy or an NVIDIA GPU is absent. The CPU
result is the reference, itself checked against PyTorch by the other test files.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F

pytestmark = pytest.mark.cuda

RTOL, ATOL = 1e-7, 1e-9  # float64 on both devices: only summation order differs


def _inputs(shapes, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    arrays = []
    for s in shapes:
        a = rng.standard_normal(s)
        arrays.append(np.abs(a) + 0.5 if positive else a)
    return arrays


def run_on(device, fn, arrays, grad=True):
    xs = [ndgrad.tensor(a, dtype=ndgrad.float64, device=device, requires_grad=grad) for a in arrays]
    out = fn(*xs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    values = [np.asarray(o.detach().cpu().numpy()) for o in outs]
    grads = []
    if grad:
        total = sum((o * ndgrad.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)),
                                       dtype=o.dtype, device=device)).sum()
                    for o in outs if o.dtype.is_floating_point)
        total.backward()
        grads = [None if x.grad is None else x.grad.cpu().numpy() for x in xs]
    return values, grads


def assert_same_on_gpu(fn, shapes, positive=False, grad=True, rtol=RTOL, atol=ATOL):
    arrays = _inputs(shapes, positive=positive)
    cpu_vals, cpu_grads = run_on("cpu", fn, arrays, grad)
    gpu_vals, gpu_grads = run_on("cuda", fn, arrays, grad)
    for c, g in zip(cpu_vals, gpu_vals):
        np.testing.assert_allclose(g, c, rtol=rtol, atol=atol)
    for c, g in zip(cpu_grads, gpu_grads):
        assert (c is None) == (g is None)
        if c is not None:
            np.testing.assert_allclose(g, c, rtol=rtol, atol=atol)


def _index(device):
    return ndgrad.tensor([2, 0, 2, 1], device=device)


OPS = {
    # elementwise
    "add_broadcast": (lambda a, b: a + b, [(3, 4), (4,)]),
    "sub_mul_div": (lambda a, b: (a - b) * a / (b * b + 1), [(2, 3), (2, 3)]),
    "pow": (lambda a, b: a ** b, [(5,), (5,)], True),
    "pow_scalar": (lambda a: a ** 3 + 2.0 ** a, [(4, 2)]),
    "unary_math": (lambda a: a.exp() + a.log() + a.sqrt() + a.rsqrt() + a.log1p() + a.expm1(), [(6,)], True),
    "trig": (lambda a: a.sin() * a.cos() + a.tanh() + a.sigmoid() + a.abs(), [(3, 3)]),
    "relu_clamp": (lambda a: a.relu() + a.clamp(-0.5, 0.5) + a.clamp(min=0.1), [(10,)]),
    "maximum_where": (lambda a, b: ndgrad.maximum(a, b) + ndgrad.where(a > b, a, b * 2), [(4, 5), (4, 5)]),
    # reductions
    "sum_mean": (lambda a: a.sum(1) + a.mean(0, keepdim=True).sum() + a.sum(), [(3, 4)]),
    "var_std": (lambda a: a.var(1) + a.std(0).sum(), [(4, 4)]),
    "max_amax": (lambda a: a.max(1).values + a.amax(0).sum() + a.min(), [(3, 5)]),
    "logsumexp_cumsum": (lambda a: a.logsumexp(1).sum() + a.cumsum(0).sum(), [(4, 3)]),
    "norm_prod": (lambda a: a.norm() + a.prod(1).sum(), [(3, 3)]),
    "softmax": (lambda a: F.softmax(a, dim=-1) + F.log_softmax(a, dim=0), [(3, 7)]),
    # shape and index
    "reshape_permute": (lambda a: a.reshape(2, 3, 4).permute(2, 0, 1).transpose(0, 1).flatten(), [(6, 4)]),
    "cat_stack_split": (lambda a, b: ndgrad.cat([a, b], 0).split(2, 0)[1] + ndgrad.stack([a, b]).sum(0)[:2],
                        [(3, 4), (3, 4)]),
    "flip_roll_tril": (lambda a: a.flip(0).roll(1, 1).tril() + a.triu(1), [(4, 4)]),
    "getitem": (lambda a: a[1:, ::2] * 2 + a[[0, 2]][:, :2].sum(), [(3, 4)]),
    "gather_index_select": (lambda a: a.gather(1, ndgrad.tensor([[0, 1], [2, 0], [1, 1]], device=a.device))
                            + a.index_select(0, ndgrad.tensor([2, 0, 1], device=a.device))[:, :2], [(3, 3)]),
    "masked_fill": (lambda a: a.masked_fill(a > 0, 0.0) * 3, [(5, 2)]),
    "pad_expand": (lambda a: F.pad(a, (1, 2)) .sum() + a.unsqueeze(0).expand(3, 2, 2).sum(0), [(2, 2)]),
    # linear algebra
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "einsum": (lambda a, b: ndgrad.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 2)]),
    # nn.functional
    "linear": (lambda x, w, b: F.linear(x, w, b), [(4, 5), (3, 5), (3,)]),
    "conv1d": (lambda x, w: F.conv1d(x, w, stride=2, padding=1), [(2, 3, 9), (4, 3, 3)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1, dilation=1), [(2, 3, 6, 6), (4, 3, 3, 3), (4,)]),
    "conv2d_groups": (lambda x, w: F.conv2d(x, w, stride=2, groups=2), [(1, 4, 7, 7), (6, 2, 3, 3)]),
    "conv3d": (lambda x, w: F.conv3d(x, w, padding=1), [(1, 2, 4, 5, 5), (3, 2, 3, 3, 3)]),
    "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2), [(1, 3, 4, 4), (3, 2, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2) + F.max_pool2d(x, 3, 2, 1, ceil_mode=True)[..., :2, :2],
                   [(2, 3, 4, 4)]),
    "avg_pool_adaptive": (lambda x: F.avg_pool2d(x, 2) + F.adaptive_avg_pool2d(x, 2), [(2, 2, 4, 4)]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(4, 3, 2, 2), (3,), (3,)]),
    "layer_group_norm": (lambda x: F.layer_norm(x, (4,)) + F.group_norm(x, 3), [(2, 3, 4)]),
    "activations": (lambda x: F.gelu(x) + F.gelu(x, approximate="tanh") + F.silu(x) + F.softplus(x)
                    + F.elu(x) + F.leaky_relu(x, 0.1), [(3, 5)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, _index(x.device), label_smoothing=0.1), [(4, 3)]),
    "mse_bce": (lambda x, y: F.mse_loss(x, y) + F.binary_cross_entropy_with_logits(x, y.sigmoid()),
                [(3, 4), (3, 4)]),
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 5, 4)] * 3),
    "interpolate": (lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
                    [(1, 2, 3, 3)]),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_cpu(name):
    fn, shapes, *rest = OPS[name]
    assert_same_on_gpu(fn, shapes, positive=bool(rest and rest[0]))


def test_second_derivatives_on_gpu():
    def second(x):
        (g,) = ndgrad.autograd.grad((x.tanh() * x.exp()).sum(), x, create_graph=True)
        return g
    assert_same_on_gpu(second, [(5,)])


def test_modules_match_cpu():
    ndgrad.manual_seed(0)
    makers = [
        lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(16, 3)),
        lambda: nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True),
        lambda: nn.GRU(3, 4, batch_first=True),
        lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True),
    ]
    inputs = [(2, 2, 4, 4), (2, 5, 3), (2, 5, 3), (2, 5, 8)]
    for make, shape in zip(makers, inputs):
        cpu_model = make().double()
        gpu_model = make().double()
        gpu_model.load_state_dict(cpu_model.state_dict())
        gpu_model.to("cuda")
        x = np.random.default_rng(1).standard_normal(shape)
        outs = []
        for model, dev in ((cpu_model, "cpu"), (gpu_model, "cuda")):
            out = model(ndgrad.tensor(x, dtype=ndgrad.float64, device=dev))
            out = out[0] if isinstance(out, tuple) else out
            out.sum().backward()
            outs.append((out.detach().cpu().numpy(),
                         [p.grad.cpu().numpy() for p in model.parameters()]))
        np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-6, atol=1e-8)
        for gc, gg in zip(outs[0][1], outs[1][1]):
            np.testing.assert_allclose(gg, gc, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make_opt", [
    lambda p: ndgrad.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: ndgrad.optim.Adam(p, lr=0.01, amsgrad=True),
    lambda p: ndgrad.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    lambda p: ndgrad.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5),
    lambda p: ndgrad.optim.Adagrad(p, lr=0.1),
])
def test_optimizers_match_cpu(make_opt):
    results = []
    for dev in ("cpu", "cuda"):
        w = ndgrad.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=ndgrad.float64, device=dev,
                          requires_grad=True)
        opt = make_opt([w])
        for _ in range(5):
            opt.zero_grad()
            loss = ((w * w).sum() + w.exp().mean())
            loss.backward()
            opt.step()
        results.append(w.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_matmul(dtype):
    dt = getattr(ndgrad, dtype)
    if dt is None:
        pytest.skip("bfloat16 needs ml_dtypes")
    a = ndgrad.randn(16, 8, device="cuda")
    b = ndgrad.randn(8, 4, device="cuda")
    out = (a.to(dt) @ b.to(dt)).float()
    np.testing.assert_allclose(out.cpu().numpy(), (a @ b).cpu().numpy(), rtol=5e-2, atol=5e-2)
    assert (a.to(dt) @ b.to(dt)).dtype is dt


def test_autocast_and_grad_scaler_train_step():
    ndgrad.manual_seed(0)
    model = nn.Linear(8, 2).to("cuda")
    opt = ndgrad.optim.SGD(model.parameters(), lr=0.1)
    scaler = ndgrad.amp.GradScaler()
    x = ndgrad.randn(32, 8, device="cuda")
    y = (x[:, 0] > 0).long()
    losses = []
    for _ in range(20):
        opt.zero_grad()
        with ndgrad.autocast("cuda"):
            out = model(x)
        assert out.dtype is ndgrad.float16
        loss = F.cross_entropy(out.float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert model.weight.dtype is ndgrad.float32
    assert losses[-1] < losses[0]


def test_mixing_devices_is_an_error():
    a = ndgrad.ones(3)
    b = ndgrad.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="cpu.*cuda:0|cuda:0.*cpu"):
        a + b


def test_missing_gpu_index_names_the_devices():
    n = ndgrad.cuda.device_count()
    with pytest.raises(RuntimeError, match=f"cuda:{n + 2} does not exist.*cuda:0"):
        ndgrad.zeros(2, device=f"cuda:{n + 2}")


def test_checkpoint_from_gpu_loads_on_cpu(tmp_path):
    model = nn.Linear(4, 3).to("cuda")
    path = tmp_path / "m.safetensors"
    ndgrad.save(model.state_dict(), path)
    state = ndgrad.load(path, map_location="cpu")
    cpu_model = nn.Linear(4, 3)
    cpu_model.load_state_dict(state)
    x = ndgrad.randn(2, 4)
    np.testing.assert_allclose(cpu_model(x).detach().numpy(), model(x.cuda()).detach().cpu().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_dataloader_batches_move_to_gpu():
    ds = ndgrad.data.TensorDataset(ndgrad.randn(10, 3), ndgrad.arange(10))
    for x, y in ndgrad.data.DataLoader(ds, batch_size=4):
        x, y = x.to("cuda"), y.to("cuda")
        assert x.device == "cuda:0" and y.device == "cuda:0"


def test_train_digits_on_gpu(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run([sys.executable, "-m", "ndgrad", "train", "digits", "--model", "cnn", "--epochs", "2",
                             "--device", "cuda", "--out", str(tmp_path)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test" in result.stdout.lower()

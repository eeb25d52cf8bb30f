"""The benchmark workloads, each written once for ndgrad and for PyTorch.

A workload is a function ``build(fw, device, graphed=False)`` that takes the framework
module (``ndgrad`` or ``torch``) and a device string, and returns a ``Prepared``: the
``step`` to time and a ``probe`` that reads a number the runner uses to check
that the step does what it should (a training loss that falls, an inference
loss that stays put, a gradient that matches its closed form). ``graphed=True``
builds the workload for ``capture_graph``: Adam-family optimizers get
``capturable=True``, which PyTorch requires inside a CUDA graph.

Only the PyTorch API is used here, so the same lines run on both frameworks.
This module imports neither framework: the runner's child process imports the
one it measures, and nothing else (its import time and memory stay its own).
NumPy is imported directly, not through ``ndgrad.backend``, for the same
reason: the PyTorch child must not import ndgrad.
"""

from typing import Callable, NamedTuple

import numpy as np


class Prepared(NamedTuple):
    step: Callable[[], None]     # one timed iteration
    probe: Callable[[], float]   # untimed read-out, taken before and after
    check: str                   # how the runner judges probe(before) vs probe(after): see CHECKS
    not_graphable: str = ""      # why the step cannot be captured in a CUDA graph ("" when it can)


# What each check means; the runner applies them (runner.judge_check).
CHECKS = {
    "falls": "training loss after the timed steps is below the loss before them",
    "steady": "inference loss is finite and unchanged by the timed steps",
    "grad_matches": "relative error of the gradient against its closed form is below 1e-3",
}

_SEED = 0


def _host_data(shape, kind="normal", high=None, salt=0):
    """Identical inputs for both frameworks: NumPy's generator, float32 (normal or uniform in [0, 1)) or int64."""
    rng = np.random.default_rng([_SEED, salt, *shape])
    if kind == "labels":
        return rng.integers(0, high, size=shape, dtype=np.int64)
    if kind == "uniform":
        return rng.random(shape, dtype=np.float32)
    return rng.standard_normal(shape, dtype=np.float32)


def _to(fw, array, device):
    return fw.as_tensor(array, device=device)


def _training(fw, model, x, target, lr, weight_decay=0):
    """Prepared for a classifier trained on one fixed batch with SGD momentum 0.9 (so its loss must fall)."""
    F = fw.nn.functional
    optimizer = fw.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()

    def probe():
        with fw.no_grad():
            return F.cross_entropy(model(x), target).item()

    return Prepared(step, probe, "falls")


def _cnn_model(fw):
    nn = fw.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1600, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def tiny(fw, device, graphed=False):
    """StatQuest's dosage network: 1 input -> 2 softplus units -> 1 output, three points.

    Measures per-op overhead: every array is tiny, so the time is the
    framework's Python and dispatch cost per op.
    """
    F = fw.nn.functional
    dose = fw.tensor([[0.0], [0.5], [1.0]], device=device)
    efficacy = fw.tensor([[0.0], [1.0], [0.0]], device=device)
    init = np.random.default_rng(_SEED).standard_normal(6).astype(np.float32).tolist()

    def parameter(values):
        return fw.tensor(values, dtype=fw.float32, device=device, requires_grad=True)

    w1, b1 = parameter([init[0:2]]), parameter(init[2:4])      # (1, 2), (2,)
    w2, b2 = parameter([[init[4]], [init[5]]]), parameter([0.0])  # (2, 1), (1,)
    optimizer = fw.optim.SGD([w1, b1, w2, b2], lr=0.1)

    def sum_squared_residuals():
        hidden = F.softplus(dose @ w1 + b1)
        return ((hidden @ w2 + b2 - efficacy) ** 2).sum()

    def step():
        optimizer.zero_grad()
        loss = sum_squared_residuals()
        loss.backward()
        optimizer.step()

    def probe():
        with fw.no_grad():
            return sum_squared_residuals().item()

    return Prepared(step, probe, "falls")


def mlp(fw, device, graphed=False):
    """Batch 128, 784 -> 512 -> 512 -> 10 with ReLU, cross-entropy, SGD momentum 0.9."""
    nn = fw.nn
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 10),
    ).to(device)
    x = _to(fw, _host_data((128, 784)), device)
    target = _to(fw, _host_data((128,), "labels", 10), device)
    return _training(fw, model, x, target, lr=0.01)


def cnn(fw, device, graphed=False):
    """Batch 64 of 1x28x28: two conv/ReLU/maxpool blocks, two linear layers, SGD momentum."""
    model = _cnn_model(fw).to(device)
    x = _to(fw, _host_data((64, 1, 28, 28)), device)
    target = _to(fw, _host_data((64,), "labels", 10), device)
    return _training(fw, model, x, target, lr=0.01)


def cnn_infer(fw, device, graphed=False):
    """The CNN's forward pass under no_grad, batch 256, eval mode."""
    F = fw.nn.functional
    model = _cnn_model(fw).to(device)
    model.eval()
    x = _to(fw, _host_data((256, 1, 28, 28)), device)
    target = _to(fw, _host_data((256,), "labels", 10), device)

    def step():
        with fw.no_grad():
            model(x)

    def probe():
        with fw.no_grad():
            return F.cross_entropy(model(x), target).item()

    return Prepared(step, probe, "steady")


def matmul_grad(fw, device, graphed=False):
    """(1024x1024 @ 1024x1024).sum().backward(), both operands requiring grad.

    The probe checks a's gradient against its closed form: d sum(a @ b) / d a[i, j]
    is the sum of row j of b.
    """
    a = fw.tensor(_host_data((1024, 1024)), device=device, requires_grad=True)
    b = fw.tensor(_host_data((1024, 1024), salt=1), device=device, requires_grad=True)

    def step():
        a.grad = None
        b.grad = None
        (a @ b).sum().backward()

    def probe():
        if a.grad is None:
            return float("nan")
        with fw.no_grad():
            row_sums = b.sum(dim=1)
            return ((a.grad - row_sums).abs().max() / row_sums.abs().max()).item()

    return Prepared(step, probe, "grad_matches")


def capture_graph(fw, prepared, side_stream_steps=3):
    """The step captured in a CUDA graph with PyTorch's whole-network pattern; returns a Prepared whose step
    replays the graph (same probe and check).

    Warm-up steps run eagerly on a side stream (so lazily created state, such as optimizer moments and
    gradients, exists before capture), then one step is captured. Each workload's step starts with
    ``zero_grad(set_to_none=True)`` (or sets ``.grad = None``): the gradients are None when capture begins, so
    ``backward`` allocates them from the graph's private pool and every replay rewrites them in place, which is
    what the pattern's ``optimizer.zero_grad(set_to_none=True)`` before capture is for. Inputs stay the fixed
    batch the workload built (a new batch would be ``static_x.copy_(batch)`` before ``replay``). Inference
    workloads capture their forward pass the same way.
    """
    if prepared.not_graphable:
        raise NotGraphable(prepared.not_graphable)
    side = fw.cuda.Stream()
    side.wait_stream(fw.cuda.current_stream())
    with fw.cuda.stream(side):
        for _ in range(side_stream_steps):
            prepared.step()
    fw.cuda.current_stream().wait_stream(side)
    graph = fw.cuda.CUDAGraph()
    with fw.cuda.graph(graph):
        prepared.step()
    return prepared._replace(step=graph.replay)


class NotGraphable(Exception):
    """The workload's step cannot be captured in a CUDA graph (its Prepared says why)."""


def _load_models():
    """models.py by path, like this file (importing it as a package module would import ndgrad)."""
    import importlib.util
    import os
    import types

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.py")
    spec = importlib.util.spec_from_file_location("ndgrad_bench_models", path)
    module = importlib.util.module_from_spec(spec)
    module.common = types.SimpleNamespace(Prepared=Prepared, host_data=_host_data, to=_to, training=_training,
                                          SEED=_SEED)
    spec.loader.exec_module(module)
    return module


_models = _load_models()
mnist_cnn, lstm_lm, gru_lm = _models.mnist_cnn, _models.lstm_lm, _models.gru_lm
gpt, vae, dcgan, resnet18_infer = _models.gpt, _models.vae, _models.dcgan, _models.resnet18_infer
gpt_medium, resnet18_train = _models.gpt_medium, _models.resnet18_train

# Full sizes of the two compute-bound GPU workloads, and the reduced ones the CPU tests run
# (keyword arguments of gpt_medium and resnet18_train).
FULL_SIZES = {"gpt_medium": _models.GPT_MEDIUM, "resnet18_train": _models.RESNET18_TRAIN}
REDUCED_SIZES = {
    "gpt_medium": {"layers": 2, "width": 64, "heads": 4, "block": 32, "batch": 2},
    "resnet18_train": {"batch": 4, "image": 16},
}

WORKLOADS = {
    "tiny": tiny,
    "mlp": mlp,
    "cnn": cnn,
    "cnn_infer": cnn_infer,
    "matmul_grad": matmul_grad,
    # Models shaped like the public example programs (issue 12): see models.py.
    "mnist_cnn": mnist_cnn,
    "lstm_lm": lstm_lm,
    "gru_lm": gru_lm,
    "gpt": gpt,
    "vae": vae,
    "dcgan": dcgan,
    "resnet18_infer": resnet18_infer,
    # Compute-bound GPU workloads (issue 15): see models.py.
    "gpt_medium": gpt_medium,
    "resnet18_train": resnet18_train,
}

def _gemm(m, k, n):
    return 2 * m * k * n


def _cnn_forward_gemm_flops(batch):
    """Matrix-product flops of one CNN forward pass (convolutions as their im2col GEMMs)."""
    return (_gemm(32, 1 * 9, 26 * 26 * batch) + _gemm(64, 32 * 9, 11 * 11 * batch)
            + _gemm(batch, 1600, 128) + _gemm(batch, 128, 10))


# Matrix-product work per step (forward, weight gradients, and input gradients
# except for the first layer, whose input needs none): with the BLAS ceiling it
# shows how much of a step is arithmetic. tiny has none worth counting.
GEMM_FLOPS_PER_STEP = {
    "mlp": 2 * (_gemm(128, 784, 512) + _gemm(128, 512, 512) + _gemm(128, 512, 10))
           + _gemm(128, 512, 512) + _gemm(128, 512, 10),
    "cnn": 3 * _cnn_forward_gemm_flops(64) - _gemm(32, 9, 26 * 26 * 64),
    "cnn_infer": _cnn_forward_gemm_flops(256),
    "matmul_grad": 3 * _gemm(1024, 1024, 1024),
    "resnet18_infer": _models.resnet18_forward_gemm_flops(64),
    "gpt_medium": _models.gpt_gemm_flops(**_models.GPT_MEDIUM),
    "resnet18_train": _models.resnet18_train_gemm_flops(_models.RESNET18_TRAIN["batch"]),
}

# Workloads run by --device cuda unless named (issue 15): the micro ones (tiny for per-op overhead), the
# example-program models and the two compute-bound ones, in the runner's order (runner.CUDA_DEFAULT_WORKLOADS).
CUDA_WORKLOADS = ("tiny", "mlp", "cnn", "gpt_medium", "resnet18_train", "cnn_infer", "matmul_grad", "mnist_cnn",
                  "gpt", "vae", "dcgan", "resnet18_infer", "lstm_lm")

"""ndgrad.optim against torch.optim: 20 steps from identical float64 weights.

One helper (`run_training`) drives either library through the same code: a
small tanh MLP with a mean-squared-error loss, an optimizer and optionally a
scheduler. Every row of the tables below is run in both libraries and compared:
the loss trajectory, the learning rates (and momentum/betas) after every step,
and the final weights. Updates use the same formulas and operation order as
torch's single-tensor path; the only differences left are torch's fused
multiply-adds on the CPU (one rounding instead of two), hence rtol=1e-10.
"""
import copy
import math

import numpy as np
import pytest
import torch

import ndgrad

STEPS = 20
RTOL, ATOL = 1e-10, 1e-12


# ---------------------------------------------------------------------------------------------
# the shared training loop


def make_arrays(seed=0):
    rng = np.random.default_rng(seed)
    data = {"x": rng.standard_normal((8, 4)), "y": rng.standard_normal((8, 1))}
    weights = [rng.standard_normal((4, 5)) * 0.7, rng.standard_normal(5) * 0.1,
               rng.standard_normal((5, 1)) * 0.7, rng.standard_normal(1) * 0.1]
    return data, weights


def to_numpy(t):
    return np.array(t.detach().cpu().numpy(), copy=True)


def leaf(lib, array, device="cpu"):
    return lib.tensor(np.array(array, copy=True), dtype=lib.float64, device=device, requires_grad=True)


def mlp_loss(lib, params, x, y):
    w1, b1, w2, b2 = params
    hidden = (x @ w1 + b1).tanh()
    diff = hidden @ w2 + b2 - y
    return (diff * diff).mean()


def momentum_of(group):
    if "betas" in group:
        return group["betas"][0]
    return group.get("momentum")


def run_training(lib, make_optimizer, make_scheduler=None, steps=STEPS, weights=None, seed=0,
                 optimizer_state=None, scheduler_state=None, device="cpu"):
    """Train the MLP for `steps` steps; returns losses, per-step lrs/momenta, final weights, optimizer."""
    data, initial = make_arrays(seed)
    weights = initial if weights is None else weights
    x = lib.tensor(data["x"], dtype=lib.float64, device=device)
    y = lib.tensor(data["y"], dtype=lib.float64, device=device)
    params = [leaf(lib, w, device) for w in weights]
    optimizer = make_optimizer(lib.optim, params)
    scheduler = make_scheduler(lib.optim.lr_scheduler, optimizer) if make_scheduler else None
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    if scheduler_state is not None:
        scheduler.load_state_dict(scheduler_state)
    plateau = isinstance(scheduler, lib.optim.lr_scheduler.ReduceLROnPlateau)
    # maximize=True runs climb -loss, so that they stay as well-conditioned as the minimizing runs
    sign = -1.0 if optimizer.param_groups[0].get("maximize") else 1.0
    losses, lrs, momenta = [], [], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = mlp_loss(lib, params, x, y)
        (loss * sign).backward()
        optimizer.step()
        losses.append(loss.item())
        if scheduler is not None:
            scheduler.step(loss.item()) if plateau else scheduler.step()
            assert scheduler.get_last_lr() == [g["lr"] for g in optimizer.param_groups]
        lrs.append([g["lr"] for g in optimizer.param_groups])
        momenta.append([momentum_of(g) for g in optimizer.param_groups])
    return {"losses": losses, "lrs": lrs, "momenta": momenta,
            "weights": [to_numpy(p) for p in params], "optimizer": optimizer, "scheduler": scheduler}


def assert_same_run(ours, theirs):
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=RTOL, atol=ATOL)
    assert ours["lrs"] == theirs["lrs"]
    assert ours["momenta"] == theirs["momenta"]
    for mine, ref in zip(ours["weights"], theirs["weights"]):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)
    # the run must actually move the weights, or the comparison proves nothing
    _, initial = make_arrays()
    assert any(not np.allclose(w, w0) for w, w0 in zip(ours["weights"], initial))


def compare_with_torch(make_optimizer, make_scheduler=None):
    ours = run_training(ndgrad, make_optimizer, make_scheduler)
    theirs = run_training(torch, make_optimizer, make_scheduler)
    assert_same_run(ours, theirs)
    return ours, theirs


def two_groups(build):
    """Factory of an optimizer whose first layer and second layer are separate param groups."""
    return lambda optim, p: build(optim, [{"params": p[:2]}, {"params": p[2:]}])


# ---------------------------------------------------------------------------------------------
# every optimizer and option combination

OPTIMIZERS = {
    "sgd": lambda o, p: o.SGD(p, lr=0.1),
    "sgd_momentum": lambda o, p: o.SGD(p, lr=0.1, momentum=0.9),
    "sgd_dampening": lambda o, p: o.SGD(p, lr=0.1, momentum=0.9, dampening=0.3),
    "sgd_nesterov": lambda o, p: o.SGD(p, lr=0.1, momentum=0.8, nesterov=True),
    "sgd_weight_decay": lambda o, p: o.SGD(p, lr=0.1, weight_decay=0.05),
    "sgd_maximize": lambda o, p: o.SGD(p, lr=0.01, momentum=0.5, maximize=True),
    "sgd_all": lambda o, p: o.SGD(p, lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.1, maximize=True),
    "adam": lambda o, p: o.Adam(p, lr=0.01),
    "adam_betas_high_weight": lambda o, p: o.Adam(p, lr=0.02, betas=(0.3, 0.4)),
    "adam_amsgrad": lambda o, p: o.Adam(p, lr=0.05, amsgrad=True),
    "adam_weight_decay": lambda o, p: o.Adam(p, lr=0.01, weight_decay=0.1),
    "adam_maximize": lambda o, p: o.Adam(p, lr=0.01, maximize=True),
    "adam_all": lambda o, p: o.Adam(p, lr=0.03, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.2,
                                    amsgrad=True, maximize=True),
    "adamw": lambda o, p: o.AdamW(p, lr=0.01),
    "adamw_amsgrad": lambda o, p: o.AdamW(p, lr=0.05, weight_decay=0.3, amsgrad=True),
    "adamw_maximize": lambda o, p: o.AdamW(p, lr=0.01, betas=(0.5, 0.7), maximize=True),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01),
    "rmsprop_centered": lambda o, p: o.RMSprop(p, lr=0.01, centered=True),
    "rmsprop_centered_low_alpha": lambda o, p: o.RMSprop(p, lr=0.005, alpha=0.3, centered=True),
    "rmsprop_momentum": lambda o, p: o.RMSprop(p, lr=0.01, momentum=0.9),
    "rmsprop_all": lambda o, p: o.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5,
                                          centered=True, maximize=True),
    "adagrad": lambda o, p: o.Adagrad(p, lr=0.1),
    "adagrad_lr_decay": lambda o, p: o.Adagrad(p, lr=0.1, lr_decay=0.05),
    "adagrad_initial_accumulator": lambda o, p: o.Adagrad(p, lr=0.1, initial_accumulator_value=0.5),
    "adagrad_all": lambda o, p: o.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                          initial_accumulator_value=0.1, eps=1e-6, maximize=True),
    "groups_sgd": two_groups(lambda o, g: o.SGD([dict(g[0], lr=0.05, momentum=0.9), g[1]], lr=0.2)),
    "groups_adam": two_groups(lambda o, g: o.Adam([dict(g[0], betas=(0.5, 0.9), amsgrad=True),
                                                   dict(g[1], lr=0.001)], lr=0.02)),
    "groups_rmsprop": two_groups(lambda o, g: o.RMSprop([dict(g[0], centered=True), g[1]],
                                                        lr=0.01, momentum=0.3)),
    "groups_adagrad": two_groups(lambda o, g: o.Adagrad([g[0], dict(g[1], lr=0.3, lr_decay=0.1)], lr=0.1)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch(name):
    compare_with_torch(OPTIMIZERS[name])


# ---------------------------------------------------------------------------------------------
# every scheduler, each with an optimizer

SGD_MOMENTUM = OPTIMIZERS["sgd_momentum"]
ADAM = OPTIMIZERS["adam"]

SCHEDULERS = {
    "step": (SGD_MOMENTUM, lambda s, o: s.StepLR(o, step_size=5, gamma=0.5)),
    "multistep": (ADAM, lambda s, o: s.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.3)),
    "exponential": (SGD_MOMENTUM, lambda s, o: s.ExponentialLR(o, gamma=0.9)),
    "cosine": (SGD_MOMENTUM, lambda s, o: s.CosineAnnealingLR(o, T_max=10)),
    "cosine_restart_branch": (ADAM, lambda s, o: s.CosineAnnealingLR(o, T_max=6, eta_min=0.001)),
    "lambda": (SGD_MOMENTUM, lambda s, o: s.LambdaLR(o, lambda epoch: 1.0 / (1.0 + epoch))),
    "lambda_per_group": (OPTIMIZERS["groups_sgd"],
                         lambda s, o: s.LambdaLR(o, [lambda e: 0.9**e, lambda e: 1.0 / (1 + 0.5 * e)])),
    "multiplicative": (SGD_MOMENTUM, lambda s, o: s.MultiplicativeLR(o, lambda epoch: 0.95)),
    "constant": (ADAM, lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=4)),
    "linear": (SGD_MOMENTUM, lambda s, o: s.LinearLR(o, start_factor=0.25, total_iters=8)),
    "linear_decay": (ADAM, lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=15)),
    "onecycle_sgd_cos": (SGD_MOMENTUM, lambda s, o: s.OneCycleLR(o, max_lr=0.2, total_steps=STEPS)),
    "onecycle_sgd_linear": (SGD_MOMENTUM, lambda s, o: s.OneCycleLR(
        o, max_lr=0.3, epochs=4, steps_per_epoch=5, anneal_strategy="linear", pct_start=0.25)),
    "onecycle_adam_betas": (ADAM, lambda s, o: s.OneCycleLR(o, max_lr=0.05, total_steps=STEPS)),
    "onecycle_adamw_three_phase": (OPTIMIZERS["adamw"], lambda s, o: s.OneCycleLR(
        o, max_lr=0.05, total_steps=STEPS, three_phase=True, anneal_strategy="linear")),
    "onecycle_no_momentum": (OPTIMIZERS["groups_sgd"], lambda s, o: s.OneCycleLR(
        o, max_lr=[0.1, 0.3], total_steps=STEPS, cycle_momentum=False, div_factor=10.0)),
    "onecycle_rmsprop": (OPTIMIZERS["rmsprop_momentum"], lambda s, o: s.OneCycleLR(
        o, max_lr=0.02, total_steps=STEPS + 5, base_momentum=0.5, max_momentum=0.8)),
    "sequential": (SGD_MOMENTUM, lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, start_factor=0.2, total_iters=5), s.ExponentialLR(o, gamma=0.9)], milestones=[5])),
    "sequential_three": (ADAM, lambda s, o: s.SequentialLR(
        o, [s.ConstantLR(o, factor=0.5, total_iters=3), s.CosineAnnealingLR(o, T_max=8),
            s.StepLR(o, step_size=2, gamma=0.7)], milestones=[4, 12])),
    "chained": (SGD_MOMENTUM, lambda s, o: s.ChainedScheduler(
        [s.ExponentialLR(o, gamma=0.95), s.StepLR(o, step_size=4, gamma=0.5)])),
    "plateau_max": (SGD_MOMENTUM, lambda s, o: s.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=2,
                                                                  cooldown=1)),
    "plateau_min_abs": (ADAM, lambda s, o: s.ReduceLROnPlateau(o, factor=0.3, patience=0, threshold=0.15,
                                                              threshold_mode="abs", min_lr=0.002)),
    "plateau_min_rel_groups": (OPTIMIZERS["groups_sgd"], lambda s, o: s.ReduceLROnPlateau(
        o, factor=0.5, patience=0, threshold=0.3, min_lr=[0.01, 0.1])),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_matches_torch(name):
    make_optimizer, make_scheduler = SCHEDULERS[name]
    ours, _ = compare_with_torch(make_optimizer, make_scheduler)
    # the schedule must actually change the learning rate during the run
    assert len({tuple(lr) for lr in ours["lrs"]}) > 1


def test_scheduler_state_dict_resumes():
    make_optimizer, make_scheduler = SCHEDULERS["sequential_three"]
    full = run_training(ndgrad, make_optimizer, make_scheduler)
    first = run_training(ndgrad, make_optimizer, make_scheduler, steps=9)
    optimizer_state = copy.deepcopy(first["optimizer"].state_dict())
    scheduler_state = copy.deepcopy(first["scheduler"].state_dict())
    second = run_training(ndgrad, make_optimizer, make_scheduler, steps=STEPS - 9, weights=first["weights"],
                          optimizer_state=optimizer_state, scheduler_state=scheduler_state)
    assert first["lrs"] + second["lrs"] == full["lrs"]
    assert first["losses"] + second["losses"] == full["losses"]


# ---------------------------------------------------------------------------------------------
# state_dict: torch's layout, and a round trip that resumes exactly

STATE_DICT_CASES = ["sgd_momentum", "sgd_all", "adam_all", "adamw_amsgrad", "rmsprop_all", "adagrad_all",
                    "groups_adam", "groups_rmsprop"]


@pytest.mark.parametrize("name", STATE_DICT_CASES)
def test_state_dict_layout_matches_torch(name):
    ours = run_training(ndgrad, OPTIMIZERS[name], steps=3)["optimizer"].state_dict()
    theirs = run_training(torch, OPTIMIZERS[name], steps=3)["optimizer"].state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"])
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for mine, ref in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(mine) == set(ref)
        assert mine == {k: (tuple(v) if isinstance(v, tuple) else v) for k, v in ref.items()}
    for index, ref_state in theirs["state"].items():
        assert set(ours["state"][index]) == set(ref_state)
        for key, ref_value in ref_state.items():
            mine = ours["state"][index][key]
            assert isinstance(mine, ndgrad.Tensor), key
            assert tuple(mine.shape) == tuple(ref_value.shape), key
            np.testing.assert_allclose(to_numpy(mine), to_numpy(ref_value), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", STATE_DICT_CASES)
def test_state_dict_round_trip_resumes_exactly(name):
    split = 8
    full = run_training(ndgrad, OPTIMIZERS[name])
    first = run_training(ndgrad, OPTIMIZERS[name], steps=split)
    saved = copy.deepcopy(first["optimizer"].state_dict())
    second = run_training(ndgrad, OPTIMIZERS[name], steps=STEPS - split, weights=first["weights"],
                          optimizer_state=saved)
    assert first["losses"] + second["losses"] == full["losses"]
    for resumed, uninterrupted in zip(second["weights"], full["weights"]):
        np.testing.assert_array_equal(resumed, uninterrupted)
    # loading copies: continuing did not write into the loaded dict
    again = copy.deepcopy(first["optimizer"].state_dict())
    for index, state in saved["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(to_numpy(value), to_numpy(again["state"][index][key]))


@pytest.mark.parametrize("name", ["sgd_all", "adam_all", "rmsprop_all", "adagrad_all"])
def test_loads_a_torch_state_dict(name):
    """A torch optimizer's state_dict (tensors converted) continues in ndgrad like in torch."""
    split = 8
    full = run_training(torch, OPTIMIZERS[name])
    first = run_training(torch, OPTIMIZERS[name], steps=split)
    torch_state = first["optimizer"].state_dict()
    converted = {
        "state": {i: {k: ndgrad.tensor(v.numpy().copy(), dtype=getattr(ndgrad, str(v.dtype).split(".")[1]))
                      for k, v in s.items()} for i, s in torch_state["state"].items()},
        "param_groups": copy.deepcopy(torch_state["param_groups"]),
    }
    second = run_training(ndgrad, OPTIMIZERS[name], steps=STEPS - split, weights=first["weights"],
                          optimizer_state=converted)
    np.testing.assert_allclose(second["losses"], full["losses"][split:], rtol=RTOL, atol=ATOL)
    for mine, ref in zip(second["weights"], full["weights"]):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)


def test_state_dict_saved_with_ndgrad_save(tmp_path):
    split = 6
    make = OPTIMIZERS["adam_all"]
    full = run_training(ndgrad, make)
    first = run_training(ndgrad, make, steps=split)
    path = tmp_path / "optimizer.ckpt"
    ndgrad.save(first["optimizer"].state_dict(), str(path))
    loaded = ndgrad.load(str(path))
    second = run_training(ndgrad, make, steps=STEPS - split, weights=first["weights"], optimizer_state=loaded)
    for resumed, uninterrupted in zip(second["weights"], full["weights"]):
        np.testing.assert_array_equal(resumed, uninterrupted)


# ---------------------------------------------------------------------------------------------
# the optimizer API around step


def test_closure_step_returns_loss_like_torch():
    def train(lib):
        data, weights = make_arrays()
        x, y = lib.tensor(data["x"], dtype=lib.float64), lib.tensor(data["y"], dtype=lib.float64)
        params = [leaf(lib, w) for w in weights]
        optimizer = lib.optim.SGD(params, lr=0.1, momentum=0.9)

        def closure():
            optimizer.zero_grad()
            loss = mlp_loss(lib, params, x, y)
            loss.backward()
            return loss

        losses = [optimizer.step(closure).item() for _ in range(5)]
        return losses, [to_numpy(p) for p in params]

    ours, theirs = train(ndgrad), train(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=RTOL)
    for mine, ref in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)


def test_add_param_group_and_defaults():
    a, b = leaf(ndgrad, np.ones(3)), leaf(ndgrad, np.ones(2))
    optimizer = ndgrad.optim.SGD([a], lr=0.1, momentum=0.9)
    optimizer.add_param_group({"params": b, "lr": 0.5})
    assert len(optimizer.param_groups) == 2
    group = optimizer.param_groups[1]
    assert group["params"][0] is b and group["lr"] == 0.5 and group["momentum"] == 0.9
    assert optimizer.defaults["lr"] == 0.1
    a.grad = ndgrad.tensor(np.full(3, 2.0), dtype=ndgrad.float64)
    b.grad = ndgrad.tensor(np.full(2, 2.0), dtype=ndgrad.float64)
    optimizer.step()
    np.testing.assert_allclose(to_numpy(a), 1 - 0.1 * 2)
    np.testing.assert_allclose(to_numpy(b), 1 - 0.5 * 2)
    assert "Parameter Group 1" in repr(optimizer) and "lr: 0.5" in repr(optimizer)


def test_zero_grad():
    a, b = leaf(ndgrad, np.ones(3)), leaf(ndgrad, np.ones(3))
    optimizer = ndgrad.optim.SGD([a, b], lr=0.1)
    shared = ndgrad.tensor(np.arange(3.0), dtype=ndgrad.float64)
    a.grad = shared
    b.grad = shared
    optimizer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(to_numpy(a.grad), np.zeros(3))
    np.testing.assert_array_equal(to_numpy(shared), np.arange(3.0))  # a shared grad is not zeroed in place
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


def test_params_without_grad_are_skipped():
    a, b = leaf(ndgrad, np.ones(3)), leaf(ndgrad, np.ones(3))
    optimizer = ndgrad.optim.Adam([a, b], lr=0.1)
    a.grad = ndgrad.tensor(np.ones(3), dtype=ndgrad.float64)
    optimizer.step()
    np.testing.assert_array_equal(to_numpy(b), np.ones(3))
    assert b not in optimizer.state and a in optimizer.state


@pytest.mark.parametrize("name", ["sgd_all", "adam_all", "adamw_amsgrad", "rmsprop_all", "adagrad_all"])
def test_updates_in_place_without_touching_grads(name):
    data, weights = make_arrays()
    params = [leaf(ndgrad, w) for w in weights]
    optimizer = OPTIMIZERS[name](ndgrad.optim, params)
    x, y = ndgrad.tensor(data["x"], dtype=ndgrad.float64), ndgrad.tensor(data["y"], dtype=ndgrad.float64)
    mlp_loss(ndgrad, params, x, y).backward()
    shared = params[1].grad
    params[3].grad = shared[:1]  # a view of another leaf's grad: must survive the step
    arrays = [p._data for p in params]
    grads_before = [to_numpy(p.grad) for p in params]
    versions = [p._ver for p in params]
    for _ in range(2):
        optimizer.step()
    assert all(p._data is arr for p, arr in zip(params, arrays))
    assert all(p._ver != v for p, v in zip(params, versions))
    for p, before in zip(params, grads_before):
        np.testing.assert_array_equal(to_numpy(p.grad), before)
    assert not any(np.array_equal(to_numpy(p), w) for p, w in zip(params, weights))
    # the workspace is reused: a third step allocates no new scratch buffers
    scratch = {key: id(buf) for key, buf in optimizer._workspace.items()}
    optimizer.step()
    assert {key: id(buf) for key, buf in optimizer._workspace.items()} == scratch


# ---------------------------------------------------------------------------------------------
# bad input: clear errors like PyTorch's


def _leaf():
    return leaf(ndgrad, np.ones(3))


@pytest.mark.parametrize("build, match", [
    (lambda p: ndgrad.optim.SGD(p, lr=-0.1), r"SGD: Invalid learning rate: -0\.1"),
    (lambda p: ndgrad.optim.SGD(p, lr=0.1, momentum=-0.5), r"SGD: Invalid momentum value: -0\.5"),
    (lambda p: ndgrad.optim.SGD(p, lr=0.1, weight_decay=-1), r"SGD: Invalid weight_decay value: -1"),
    (lambda p: ndgrad.optim.SGD(p, lr=0.1, nesterov=True), r"Nesterov momentum requires a momentum and zero damp"),
    (lambda p: ndgrad.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     r"zero dampening \(got momentum=0\.9, dampening=0\.1\)"),
    (lambda p: ndgrad.optim.Adam(p, lr=-1e-3), r"Adam: Invalid learning rate: -0\.001"),
    (lambda p: ndgrad.optim.Adam(p, betas=(1.0, 0.999)), r"Adam: Invalid beta parameter at index 0: 1\.0"),
    (lambda p: ndgrad.optim.Adam(p, betas=(0.9, -0.1)), r"Invalid beta parameter at index 1: -0\.1 .*\[0, 1\)"),
    (lambda p: ndgrad.optim.AdamW(p, betas=(0.9, 1.5)), r"AdamW: Invalid beta parameter at index 1: 1\.5"),
    (lambda p: ndgrad.optim.Adam(p, eps=-1.0), r"Adam: Invalid epsilon value: -1\.0"),
    (lambda p: ndgrad.optim.RMSprop(p, momentum=-0.1), r"RMSprop: Invalid momentum value: -0\.1"),
    (lambda p: ndgrad.optim.RMSprop(p, alpha=-0.1), r"RMSprop: Invalid alpha value: -0\.1"),
    (lambda p: ndgrad.optim.Adagrad(p, lr_decay=-0.1), r"Adagrad: Invalid lr_decay value: -0\.1"),
    (lambda p: ndgrad.optim.Adagrad(p, initial_accumulator_value=-1),
     r"Adagrad: Invalid initial_accumulator_value value: -1"),
    (lambda p: ndgrad.optim.SGD([], lr=0.1), r"SGD: optimizer got an empty parameter list"),
    (lambda p: ndgrad.optim.Adam(p, fused=True), r"Adam: fused=True is not supported"),
])
def test_bad_hyperparameters(build, match):
    with pytest.raises(ValueError, match=match):
        build([_leaf()])


def test_bad_params():
    a = _leaf()
    with pytest.raises(ValueError, match=r"SGD: can't optimize a non-leaf Tensor \(tensor of shape \(3,\)"):
        ndgrad.optim.SGD([a * 2], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam: some parameters appear in more than one parameter group"):
        ndgrad.optim.Adam([{"params": [a]}, {"params": [_leaf(), a]}])
    optimizer = ndgrad.optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match=r"more than one parameter group \(params at positions \[0\]"):
        optimizer.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match=r"SGD: params argument .* got a single Tensor"):
        ndgrad.optim.SGD(a, lr=0.1)
    with pytest.raises(TypeError, match=r"optimizer can only optimize Tensors, but one of the params is .*ndarray"):
        ndgrad.optim.SGD([np.ones(3)], lr=0.1)
    with pytest.raises(TypeError, match=r"ordered collections"):
        ndgrad.optim.SGD([{"params": {a}}], lr=0.1)


def test_bad_state_dict():
    a, b = _leaf(), _leaf()
    one_group = ndgrad.optim.SGD([a, b], lr=0.1).state_dict()
    two_groups_opt = ndgrad.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match=r"different number of parameter groups \(1\) than the optimizer \(2\)"):
        two_groups_opt.load_state_dict(one_group)
    with pytest.raises(ValueError, match=r"doesn't match the size of optimizer's group \(group 0: 2 saved"):
        ndgrad.optim.SGD([a], lr=0.1).load_state_dict(one_group)


def test_bad_scheduler_input():
    optimizer = ndgrad.optim.SGD([_leaf()], lr=0.1, momentum=0.9)
    scheds = ndgrad.optim.lr_scheduler
    with pytest.raises(TypeError, match=r"StepLR: list is not an Optimizer"):
        scheds.StepLR([], step_size=2)
    with pytest.raises(ValueError, match=r"Factor should be < 1\.0"):
        scheds.ReduceLROnPlateau(optimizer, factor=2.0)
    with pytest.raises(ValueError, match=r"mode 'up' is unknown"):
        scheds.ReduceLROnPlateau(optimizer, mode="up")
    with pytest.raises(ValueError, match=r"Starting multiplicative factor expected to be greater than 0"):
        scheds.LinearLR(optimizer, start_factor=0)
    with pytest.raises(ValueError, match=r"LambdaLR: Expected 1 lr_lambdas, but got 2"):
        scheds.LambdaLR(optimizer, [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(ValueError, match=r"number of milestone points"):
        scheds.SequentialLR(optimizer, [scheds.ExponentialLR(optimizer, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match=r"must support momentum or beta1 .*Adagrad"):
        scheds.OneCycleLR(ndgrad.optim.Adagrad([_leaf()]), max_lr=0.1, total_steps=5)
    onecycle = scheds.OneCycleLR(optimizer, max_lr=0.1, total_steps=2)
    onecycle.step()
    onecycle.step()
    with pytest.raises(ValueError, match=r"Tried to step 3 times. The specified number of total steps is 2"):
        onecycle.step()
    assert math.isfinite(onecycle.get_last_lr()[0])


# ---------------------------------------------------------------------------------------------
# the same update code on a GPU (CuPy arrays): same trajectories as on the CPU


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["sgd_all", "adam_all", "adamw_amsgrad", "rmsprop_all", "adagrad_all",
                                  "groups_adam", "onecycle_adam_betas", "plateau_min_abs"])
def test_cuda_matches_cpu(name):
    if name in OPTIMIZERS:
        make_optimizer, make_scheduler = OPTIMIZERS[name], None
    else:
        make_optimizer, make_scheduler = SCHEDULERS[name]
    cpu = run_training(ndgrad, make_optimizer, make_scheduler)
    gpu = run_training(ndgrad, make_optimizer, make_scheduler, device="cuda")
    assert_same_run(gpu, cpu)
    for state in gpu["optimizer"].state.values():
        for key, value in state.items():
            if key != "step":  # torch keeps the step count on the CPU too
                assert value.device.type == "cuda", key
    # a state_dict from the GPU run resumes a CPU run (tensors moved to each parameter's device)
    split = 8
    first = run_training(ndgrad, make_optimizer, steps=split, device="cuda")
    second = run_training(ndgrad, make_optimizer, steps=STEPS - split, weights=first["weights"],
                          optimizer_state=first["optimizer"].state_dict())
    full = run_training(ndgrad, make_optimizer)
    for resumed, uninterrupted in zip(second["weights"], full["weights"]):
        np.testing.assert_allclose(resumed, uninterrupted, rtol=RTOL, atol=ATOL)

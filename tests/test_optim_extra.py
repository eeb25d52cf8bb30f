"""The rest of torch.optim against torch: Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, Adafactor, Muon,
LBFGS, SparseAdam, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, swa_utils, hooks.

Optimizers run 25 steps from identical float64 parameters (several shapes, 0-d included) on
identical gradients (`grad = noise + 0.3 * param`, built in NumPy and given to both libraries),
so any difference comes from the update rule. torch's CPU kernels fuse some multiply-adds,
hence rtol=1e-10 instead of equality (the same tolerance as tests/test_optim.py).
"""
import copy
import warnings

import numpy as np
import pytest
import torch

import ndgrad

STEPS = 25
RTOL, ATOL = 1e-10, 1e-12
SHAPES = [(4, 6), (6,), (), (2, 3, 5), (1, 3)]
MATRICES = [(4, 6), (6, 3), (1, 3), (5, 5)]  # Muon takes 2-D parameters only


def to_numpy(t):
    return np.array(t.detach().cpu().numpy(), copy=True)


def run_steps(lib, make_optimizer, shapes=SHAPES, steps=STEPS, seed=0, start=0, initial=None, state=None,
              device="cpu"):
    """Steps ``start .. steps-1`` of a fixed gradient sequence; returns final parameters and the optimizer."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s) for s in shapes]
    noise = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    weights = weights if initial is None else initial
    params = [lib.tensor(np.array(w, copy=True), dtype=lib.float64, device=device, requires_grad=True)
              for w in weights]
    optimizer = make_optimizer(lib.optim, params)
    if state is not None:
        optimizer.load_state_dict(state)
    for k in range(start, steps):
        for p, n in zip(params, noise[k]):
            p.grad = lib.tensor(n + 0.3 * to_numpy(p), dtype=lib.float64, device=device)
        optimizer.step()
    return [to_numpy(p) for p in params], optimizer


def assert_close_params(ours, theirs, initial_seed=0, shapes=SHAPES):
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)
    rng = np.random.default_rng(initial_seed)
    start = [rng.standard_normal(s) for s in shapes]
    assert any(not np.allclose(w, w0) for w, w0 in zip(ours, start))  # the run moved the weights


def two_groups(build, split=2):
    return lambda optim, p: build(optim, [{"params": p[:split]}, {"params": p[split:]}])


OPTIMIZERS = {
    "adadelta": lambda o, p: o.Adadelta(p),
    "adadelta_all": lambda o, p: o.Adadelta(p, lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1, maximize=True),
    "adamax": lambda o, p: o.Adamax(p),
    "adamax_all": lambda o, p: o.Adamax(p, lr=0.01, betas=(0.5, 0.8), eps=1e-3, weight_decay=0.2, maximize=True),
    "nadam": lambda o, p: o.NAdam(p, lr=0.01),
    "nadam_weight_decay": lambda o, p: o.NAdam(p, lr=0.01, weight_decay=0.1, momentum_decay=0.01),
    "nadam_decoupled": lambda o, p: o.NAdam(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1,
                                            decoupled_weight_decay=True, maximize=True),
    "radam": lambda o, p: o.RAdam(p, lr=0.01),
    "radam_weight_decay": lambda o, p: o.RAdam(p, lr=0.01, weight_decay=0.1),
    "radam_decoupled": lambda o, p: o.RAdam(p, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1,
                                            decoupled_weight_decay=True, maximize=True),
    "asgd": lambda o, p: o.ASGD(p),
    "asgd_averaging": lambda o, p: o.ASGD(p, lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1,
                                          maximize=True),
    "rprop": lambda o, p: o.Rprop(p),
    "rprop_all": lambda o, p: o.Rprop(p, lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True),
    "adafactor": lambda o, p: o.Adafactor(p),
    "adafactor_all": lambda o, p: o.Adafactor(p, lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5,
                                              weight_decay=0.1, maximize=True),
    "adafactor_clipped": lambda o, p: o.Adafactor(p, lr=0.5, eps=(1e-3, 1e-3)),
    "groups_nadam": two_groups(lambda o, g: o.NAdam([dict(g[0], lr=0.02, momentum_decay=0.1), g[1]], lr=0.01)),
    "groups_asgd": two_groups(lambda o, g: o.ASGD([dict(g[0], t0=3), dict(g[1], lr=0.1)], lr=0.05)),
    "groups_adadelta": two_groups(lambda o, g: o.Adadelta([g[0], dict(g[1], rho=0.5, weight_decay=0.2)])),
    "groups_rprop": two_groups(lambda o, g: o.Rprop([dict(g[0], etas=(0.4, 1.1)), g[1]], lr=0.02)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch(name):
    ours, _ = run_steps(ndgrad, OPTIMIZERS[name])
    theirs, _ = run_steps(torch, OPTIMIZERS[name])
    assert_close_params(ours, theirs)


MUON = {
    "muon": lambda o, p: o.Muon(p),
    "muon_all": lambda o, p: o.Muon(p, lr=0.02, weight_decay=0.01, momentum=0.9, nesterov=False,
                                    ns_coefficients=(3.0, -3.2, 1.2), eps=1e-5, ns_steps=3,
                                    adjust_lr_fn="match_rms_adamw"),
    "muon_groups": lambda o, p: o.Muon([{"params": p[:2]}, {"params": p[2:], "lr": 0.05, "adjust_lr_fn": "original"}],
                                       lr=0.01),
}


@pytest.mark.parametrize("name", list(MUON))
def test_muon_matches_torch(name):
    """torch orthogonalizes in bfloat16; the emulation rounds like it, so small matrices match exactly."""
    ours, _ = run_steps(ndgrad, MUON[name], shapes=MATRICES)
    theirs, _ = run_steps(torch, MUON[name], shapes=MATRICES)
    assert_close_params(ours, theirs, shapes=MATRICES)


def test_muon_newton_schulz_matches_torch_in_bfloat16():
    from torch.optim._muon import _zeropower_via_newtonschulz

    from ndgrad.optim.muon import zeropower_via_newtonschulz
    rng = np.random.default_rng(3)
    for shape in [(1, 3), (3, 1), (4, 6), (6, 3), (8, 8)]:
        g = rng.standard_normal(shape) * rng.uniform(0.01, 10)
        ref = _zeropower_via_newtonschulz(torch.tensor(g), (3.4445, -4.7750, 2.0315), 5, 1e-7).float().numpy()
        np.testing.assert_array_equal(zeropower_via_newtonschulz(np, g, (3.4445, -4.7750, 2.0315), 5, 1e-7), ref)


# ---------------------------------------------------------------------------------------------
# LBFGS: whole steps driven by a closure (the Rosenbrock function of two parameters)


def run_lbfgs(lib, steps=4, **options):
    rng = np.random.default_rng(0)
    a = lib.tensor(rng.standard_normal((3, 2)), dtype=lib.float64, requires_grad=True)
    b = lib.tensor(rng.standard_normal(4), dtype=lib.float64, requires_grad=True)
    optimizer = lib.optim.LBFGS([a, b], **options)

    def closure():
        optimizer.zero_grad()
        x = lib.cat([a.reshape(-1), b])
        loss = ((1 - x[:-1]) ** 2).sum() + 10 * ((x[1:] - x[:-1] ** 2) ** 2).sum()
        loss.backward()
        return loss

    losses = [optimizer.step(closure).item() for _ in range(steps)]
    return losses, [to_numpy(a), to_numpy(b)], optimizer


LBFGS_CASES = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(history_size=3, max_iter=7, lr=0.5),
    dict(history_size=2, max_iter=10, line_search_fn="strong_wolfe", tolerance_change=1e-5),
    dict(max_iter=3, max_eval=4, line_search_fn="strong_wolfe"),
]


@pytest.mark.parametrize("options", LBFGS_CASES, ids=[str(c) for c in LBFGS_CASES])
def test_lbfgs_matches_torch(options):
    ours_losses, ours, ours_opt = run_lbfgs(ndgrad, **options)
    theirs_losses, theirs, theirs_opt = run_lbfgs(torch, **options)
    np.testing.assert_allclose(ours_losses, theirs_losses, rtol=1e-9, atol=1e-12)
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)
    mine_state, ref_state = ours_opt.state_dict()["state"], theirs_opt.state_dict()["state"]
    assert list(mine_state) == list(ref_state) == [0]
    assert set(mine_state[0]) == set(ref_state[0])
    for key in ("func_evals", "n_iter"):
        assert mine_state[0][key] == ref_state[0][key]
    assert len(mine_state[0]["old_dirs"]) == len(ref_state[0]["old_dirs"])
    np.testing.assert_allclose(to_numpy(mine_state[0]["d"]), to_numpy(ref_state[0]["d"]), rtol=1e-8, atol=1e-12)


def resume_lbfgs(lib, weights, state, steps=2, **options):
    a = lib.tensor(weights[0], dtype=lib.float64, requires_grad=True)
    b = lib.tensor(weights[1], dtype=lib.float64, requires_grad=True)
    resumed = lib.optim.LBFGS([a, b], **options)
    resumed.load_state_dict(state)

    def closure():
        resumed.zero_grad()
        x = lib.cat([a.reshape(-1), b])
        loss = ((1 - x[:-1]) ** 2).sum() + 10 * ((x[1:] - x[:-1] ** 2) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        resumed.step(closure)
    return [to_numpy(a), to_numpy(b)]


def test_lbfgs_resumes_from_its_state_dict_and_from_torchs():
    options = dict(history_size=4, max_iter=5)
    _, full, _ = run_lbfgs(ndgrad, steps=3, **options)
    _, first, optimizer = run_lbfgs(ndgrad, steps=1, **options)
    for mine, ref in zip(resume_lbfgs(ndgrad, first, copy.deepcopy(optimizer.state_dict()), **options), full):
        np.testing.assert_array_equal(mine, ref)
    # torch's LBFGS state (ints, floats, lists of tensors, None) converted to ndgrad tensors
    _, torch_first, torch_optimizer = run_lbfgs(torch, steps=1, **options)
    torch_state = torch_optimizer.state_dict()
    theirs = resume_lbfgs(torch, torch_first, copy.deepcopy(torch_state), **options)
    ours = resume_lbfgs(ndgrad, torch_first, torch_state_to_ndgrad(torch_state), **options)
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)


def test_lbfgs_errors():
    p = ndgrad.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options"):
        ndgrad.optim.LBFGS([{"params": [p]}, {"params": [ndgrad.zeros(2, requires_grad=True)]}])
    with pytest.raises(TypeError, match=r"LBFGS\.step: needs a closure"):
        ndgrad.optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match=r"line_search_fn must be None or 'strong_wolfe', got 'armijo'"):
        ndgrad.optim.LBFGS([p], line_search_fn="armijo")


# ---------------------------------------------------------------------------------------------
# state_dict: torch's layout, resuming from our own and from torch's

STATE_DICT_CASES = ["adadelta_all", "adamax_all", "nadam_decoupled", "radam_decoupled", "asgd_averaging",
                    "rprop_all", "adafactor_all", "groups_nadam", "groups_asgd"]


def layout(state_dict):
    """Keys, per-parameter entry names, shapes and dtypes (step included) of a state dict."""
    return {index: {key: (tuple(value.shape), str(value.dtype).split(".")[-1]) for key, value in entries.items()}
            for index, entries in state_dict["state"].items()}


def as_plain_groups(groups):
    return [{k: (tuple(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in groups]


@pytest.mark.parametrize("name", STATE_DICT_CASES + ["muon"])
def test_state_dict_layout_matches_torch(name):
    make, shapes = (MUON[name], MATRICES) if name in MUON else (OPTIMIZERS[name], SHAPES)
    ours = run_steps(ndgrad, make, shapes=shapes, steps=3)[1].state_dict()
    theirs = run_steps(torch, make, shapes=shapes, steps=3)[1].state_dict()
    assert layout(ours) == layout(theirs)
    assert as_plain_groups(ours["param_groups"]) == as_plain_groups(theirs["param_groups"])
    for index, entries in theirs["state"].items():
        assert list(ours["state"][index]) == list(entries)  # same names, same order
        for key, value in entries.items():
            np.testing.assert_allclose(to_numpy(ours["state"][index][key]), to_numpy(value), rtol=RTOL, atol=ATOL)


def torch_state_to_ndgrad(value):
    if isinstance(value, torch.Tensor):
        return ndgrad.tensor(value.numpy().copy(), dtype=getattr(ndgrad, str(value.dtype).split(".")[1]))
    if isinstance(value, dict):
        return {k: torch_state_to_ndgrad(v) for k, v in value.items()}
    if isinstance(value, list):
        return [torch_state_to_ndgrad(v) for v in value]
    return copy.deepcopy(value)


@pytest.mark.parametrize("name", STATE_DICT_CASES)
def test_state_dict_round_trip_and_torch_state(name):
    split = 9
    make = OPTIMIZERS[name]
    full, _ = run_steps(ndgrad, make)
    first, optimizer = run_steps(ndgrad, make, steps=split)
    saved = copy.deepcopy(optimizer.state_dict())
    resumed, _ = run_steps(ndgrad, make, start=split, initial=first, state=saved)
    if not any(s in name for s in ("nadam", "asgd")):
        for mine, ref in zip(resumed, full):
            np.testing.assert_array_equal(mine, ref)
    # Loading casts every state entry but `step` to the parameter's dtype, in both libraries, so
    # NAdam's mu_product and ASGD's eta/mu (float32 until then) continue in float64: a saved and
    # reloaded run continues as torch's saved and reloaded run does, not as the uninterrupted one.
    torch_first, torch_optimizer = run_steps(torch, make, steps=split)
    torch_state = torch_optimizer.state_dict()
    converted = torch_state_to_ndgrad(torch_state)
    torch_continued, _ = run_steps(torch, make, start=split, initial=torch_first, state=copy.deepcopy(torch_state))
    continued, _ = run_steps(ndgrad, make, start=split, initial=torch_first, state=converted)
    for mine, ref in zip(continued, torch_continued):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)
    for mine, ref in zip(resumed, torch_continued):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------------------------
# the Optimizer API: state, param groups, zero_grad, hooks


def _leaf(n=3, value=1.0):
    return ndgrad.tensor(np.full(n, value), dtype=ndgrad.float64, requires_grad=True)


def test_state_is_a_defaultdict_keyed_by_parameters():
    from collections import defaultdict
    a, b = _leaf(), _leaf()
    optimizer = ndgrad.optim.NAdam([a, b])
    assert isinstance(optimizer.state, defaultdict) and len(optimizer.state) == 0
    a.grad = ndgrad.ones(3, dtype=ndgrad.float64)
    optimizer.step()
    assert a in optimizer.state and b not in optimizer.state
    assert list(optimizer.state[a]) == ["step", "mu_product", "exp_avg", "exp_avg_sq"]
    assert optimizer.state[b] == {}  # a defaultdict: reading creates an empty entry, as in torch


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "Adafactor"])
def test_add_param_group_and_zero_grad(name):
    a, b = _leaf(), _leaf(2)
    optimizer = getattr(ndgrad.optim, name)([a], lr=0.1)
    optimizer.add_param_group({"params": b, "lr": 0.5})
    assert optimizer.param_groups[1]["lr"] == 0.5 and optimizer.param_groups[1]["params"][0] is b
    assert set(optimizer.param_groups[1]) == set(optimizer.param_groups[0])
    shared = ndgrad.tensor(np.arange(3.0), dtype=ndgrad.float64)
    a.grad, b.grad = shared, ndgrad.ones(2, dtype=ndgrad.float64)
    optimizer.step()
    assert not np.array_equal(to_numpy(b), np.ones(2))
    optimizer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(to_numpy(a.grad), np.zeros(3))
    np.testing.assert_array_equal(to_numpy(shared), np.arange(3.0))  # a shared grad is not zeroed in place
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_hooks_like_torch():
    def record(lib):
        p = lib.tensor(np.ones(3), dtype=lib.float64, requires_grad=True)
        optimizer = lib.optim.Adamax([p], lr=0.1)
        calls = []
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append(("pre", args[1:], kwargs)))
        handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append(("post", opt is optimizer)))
        p.grad = lib.ones(3, dtype=lib.float64)
        optimizer.step()
        handle.remove()
        optimizer.step(closure=None)
        return calls, to_numpy(p)

    ours, theirs = record(ndgrad), record(torch)
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=RTOL)


def test_pre_hook_can_replace_arguments_and_global_hooks_run():
    from ndgrad.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
    p = _leaf()
    optimizer = ndgrad.optim.ASGD([p])
    seen = []
    h1 = register_optimizer_step_pre_hook(lambda opt, args, kwargs: seen.append(type(opt).__name__))
    h2 = register_optimizer_step_post_hook(lambda opt, args, kwargs: seen.append("post"))
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: (args, {"closure": lambda: 7.0}))
    try:
        p.grad = ndgrad.ones(3, dtype=ndgrad.float64)
        assert optimizer.step() == 7.0
    finally:
        h1.remove()
        h2.remove()
    assert seen == ["ASGD", "post"]
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: "oops")
    with pytest.raises(RuntimeError, match=r"ASGD\.step: a step pre-hook must return None or a tuple"):
        optimizer.step()


def test_state_dict_hooks():
    p = _leaf()
    optimizer = ndgrad.optim.RAdam([p])
    p.grad = ndgrad.ones(3, dtype=ndgrad.float64)
    optimizer.step()
    events = []
    optimizer.register_state_dict_pre_hook(lambda opt: events.append("pre"))
    optimizer.register_state_dict_post_hook(lambda opt, sd: dict(sd, extra=1))
    optimizer.register_load_state_dict_pre_hook(lambda opt, sd: {k: v for k, v in sd.items() if k != "extra"})
    optimizer.register_load_state_dict_post_hook(lambda opt: events.append("loaded"))
    state = optimizer.state_dict()
    assert state["extra"] == 1 and events == ["pre"]
    optimizer.load_state_dict(state)
    assert events == ["pre", "loaded"]


def test_sparse_adam_refuses_dense_gradients_like_torch():
    for lib in (ndgrad, torch):
        p = lib.tensor(np.ones(3), dtype=lib.float64, requires_grad=True)
        optimizer = lib.optim.SparseAdam([p], lr=0.1)
        assert optimizer.defaults == {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "maximize": False}
        p.grad = lib.ones(3, dtype=lib.float64)
        with pytest.raises(RuntimeError, match=r"SparseAdam does not support dense gradients, please consider Adam"):
            optimizer.step()
    with pytest.raises(ValueError, match=r"SparseAdam: Invalid learning rate: 0"):
        ndgrad.optim.SparseAdam([_leaf()], lr=0)


@pytest.mark.parametrize("build, error, match", [
    (lambda p: ndgrad.optim.Adadelta(p, rho=1.5), ValueError, r"Adadelta: Invalid rho value: 1\.5"),
    (lambda p: ndgrad.optim.Adadelta(p, lr=-1), ValueError, r"Adadelta: Invalid learning rate: -1"),
    (lambda p: ndgrad.optim.Adamax(p, betas=(0.9, 1.0)), ValueError, r"Adamax: Invalid beta parameter at index 1"),
    (lambda p: ndgrad.optim.NAdam(p, momentum_decay=-1), ValueError, r"NAdam: Invalid momentum_decay value: -1"),
    (lambda p: ndgrad.optim.RAdam(p, eps=-1), ValueError, r"RAdam: Invalid epsilon value: -1"),
    (lambda p: ndgrad.optim.ASGD(p, weight_decay=-1), ValueError, r"ASGD: Invalid weight_decay value: -1"),
    (lambda p: ndgrad.optim.Rprop(p, etas=(1.5, 1.2)), ValueError, r"Rprop: Invalid eta values: 1\.5, 1\.2"),
    (lambda p: ndgrad.optim.Adafactor(p, beta2_decay=0.5), ValueError, r"beta2_decay should be <= 0 but is: 0\.5"),
    (lambda p: ndgrad.optim.Adafactor(p, d=0.5), ValueError, r"Clipping threshold d should be >= 1 but is: 0\.5"),
    (lambda p: ndgrad.optim.Muon(p), ValueError, r"Muon only supports 2D parameters .* \(3,\)"),
    (lambda p: ndgrad.optim.Muon([ndgrad.zeros((2, 2), requires_grad=True)], adjust_lr_fn="x"), ValueError,
     r"Adjust learning rate function x is not supported"),
    (lambda p: ndgrad.optim.NAdam(p, capturable=True), ValueError, r"NAdam: capturable=True is not supported"),
])
def test_bad_hyperparameters(build, error, match):
    with pytest.raises(error, match=match):
        build([_leaf()])


# ---------------------------------------------------------------------------------------------
# schedulers


def run_schedule(lib, make_optimizer, make_scheduler, steps=30, epochs=None):
    params = [lib.zeros(3, requires_grad=True), lib.zeros(2, requires_grad=True)]
    optimizer = make_optimizer(lib.optim, params)
    scheduler = make_scheduler(lib.optim.lr_scheduler, optimizer)
    trace = []
    for k in range(steps):
        optimizer.step()
        scheduler.step() if epochs is None else scheduler.step(epochs[k])
        assert scheduler.get_last_lr() == [g["lr"] for g in optimizer.param_groups]
        trace.append((scheduler.get_last_lr(), [g.get("momentum", g.get("betas")) for g in optimizer.param_groups]))
    return trace, scheduler


SGD_GROUPS = lambda o, p: o.SGD([{"params": p[:1]}, {"params": p[1:], "lr": 0.3}], lr=0.1, momentum=0.9)  # noqa: E731
ADAM = lambda o, p: o.Adam(p, lr=0.1)  # noqa: E731

SCHEDULERS = {
    "polynomial": (SGD_GROUPS, lambda s, o: s.PolynomialLR(o, total_iters=12, power=2.0), None),
    "polynomial_default": (ADAM, lambda s, o: s.PolynomialLR(o), None),
    "warm_restarts_mult": (SGD_GROUPS, lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.01),
                           None),
    "warm_restarts": (ADAM, lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=5), None),
    "warm_restarts_fractional_epochs": (SGD_GROUPS, lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
                                       [i * 0.7 for i in range(30)]),
    "cyclic": (SGD_GROUPS, lambda s, o: s.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=4, step_size_down=3), None),
    "cyclic_triangular2_adam": (ADAM, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2",
                                                            base_momentum=0.7, max_momentum=0.95), None),
    "cyclic_exp_range": (SGD_GROUPS, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range",
                                                             gamma=0.9), None),
    "cyclic_scale_fn": (SGD_GROUPS, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=lambda x: 0.5**x,
                                                            scale_mode="iterations", cycle_momentum=False), None),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_matches_torch(name):
    make_optimizer, make_scheduler, epochs = SCHEDULERS[name]
    ours, ours_scheduler = run_schedule(ndgrad, make_optimizer, make_scheduler, epochs=epochs)
    theirs, theirs_scheduler = run_schedule(torch, make_optimizer, make_scheduler, epochs=epochs)
    assert ours == theirs
    assert len({tuple(lr) for lr, _ in ours}) > 3
    assert ours_scheduler.state_dict() == theirs_scheduler.state_dict()


@pytest.mark.parametrize("name", ["polynomial", "warm_restarts_mult", "cyclic_triangular2_adam"])
def test_scheduler_resumes_from_state_dict(name):
    make_optimizer, make_scheduler, _ = SCHEDULERS[name]
    full, _ = run_schedule(ndgrad, make_optimizer, make_scheduler)
    params = [ndgrad.zeros(3, requires_grad=True), ndgrad.zeros(2, requires_grad=True)]
    optimizer = make_optimizer(ndgrad.optim, params)
    scheduler = make_scheduler(ndgrad.optim.lr_scheduler, optimizer)
    for _ in range(11):
        optimizer.step()
        scheduler.step()
    saved_optimizer, saved_scheduler = copy.deepcopy(optimizer.state_dict()), copy.deepcopy(scheduler.state_dict())
    optimizer = make_optimizer(ndgrad.optim, params)
    optimizer.load_state_dict(saved_optimizer)
    scheduler = make_scheduler(ndgrad.optim.lr_scheduler, optimizer)
    scheduler.load_state_dict(saved_scheduler)
    rest = []
    for _ in range(19):
        optimizer.step()
        scheduler.step()
        rest.append(scheduler.get_last_lr())
    assert rest == [lr for lr, _ in full[11:]]


def test_every_torch_scheduler_and_optimizer_exists():
    torch_schedulers = {n for n in dir(torch.optim.lr_scheduler)
                        if isinstance(getattr(torch.optim.lr_scheduler, n), type)
                        and issubclass(getattr(torch.optim.lr_scheduler, n), torch.optim.lr_scheduler.LRScheduler)}
    assert torch_schedulers <= set(dir(ndgrad.optim.lr_scheduler))
    torch_optimizers = {n for n in dir(torch.optim) if isinstance(getattr(torch.optim, n), type)
                        and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)}
    assert torch_optimizers <= set(dir(ndgrad.optim))
    assert set(torch.optim.swa_utils.__all__) <= set(dir(ndgrad.optim.swa_utils))


@pytest.mark.parametrize("build, match", [
    (lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=0), r"Expected positive integer T_0, but got 0"),
    (lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), r"Expected integer T_mult >= 1"),
    (lambda s, o: s.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), r"mode 'sawtooth' is invalid and scale_fn is None"),
    (lambda s, o: s.CyclicLR(ndgrad.optim.Adagrad([_leaf()]), 0.01, 0.1),
     r"must support momentum or beta1 .*Adagrad"),
    (lambda s, o: s.CyclicLR(o, [0.01, 0.02], 0.1), r"base_lr must have the same length as optimizer.param_groups"),
])
def test_bad_scheduler_input(build, match):
    optimizer = ndgrad.optim.SGD([_leaf()], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=match):
        build(ndgrad.optim.lr_scheduler, optimizer)


# ---------------------------------------------------------------------------------------------
# swa_utils


def swa_run(lib, model, kind):
    swa = lib.optim.swa_utils
    options = {"ema": dict(multi_avg_fn=swa.get_ema_multi_avg_fn(0.9)),
               "ema_avg_fn": dict(avg_fn=swa.get_ema_avg_fn(0.8)),
               "swa_multi": dict(multi_avg_fn=swa.get_swa_multi_avg_fn()),
               "use_buffers": dict(use_buffers=True), "swa": {}}[kind]
    averaged = swa.AveragedModel(model, **options)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = swa.SWALR(optimizer, swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear" if kind == "ema" else "cos")
    rng = np.random.default_rng(0)
    batches = [lib.tensor(rng.standard_normal((5, 3))) for _ in range(6)]
    lrs = []
    for x in batches:
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        averaged.update_parameters(model)
    swa.update_bn(batches, averaged)
    state = {k: to_numpy(v) for k, v in averaged.state_dict().items()}
    return lrs, state, to_numpy(averaged(batches[0])), scheduler.state_dict()


@pytest.mark.parametrize("kind", ["swa", "ema", "ema_avg_fn", "swa_multi", "use_buffers"])
def test_swa_utils_match_torch(kind):
    torch.manual_seed(0)
    theirs_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    ours_model = ndgrad.nn.Sequential(ndgrad.nn.Linear(3, 4), ndgrad.nn.BatchNorm1d(4), ndgrad.nn.Linear(4, 2)).double()
    ours_model.load_state_dict({k: ndgrad.tensor(v.numpy().copy()) for k, v in theirs_model.state_dict().items()})
    ours, theirs = swa_run(ndgrad, ours_model, kind), swa_run(torch, theirs_model, kind)
    assert ours[0] == theirs[0]
    assert list(ours[1]) == list(theirs[1])  # module.* keys and n_averaged
    for key, value in theirs[1].items():
        np.testing.assert_allclose(ours[1][key], value, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=RTOL, atol=ATOL)
    assert ours[3] == theirs[3]


def test_swa_errors():
    swa = ndgrad.optim.swa_utils
    with pytest.raises(ValueError, match=r"Invalid decay value 1\.5"):
        swa.get_ema_avg_fn(1.5)
    with pytest.raises(AssertionError, match=r"only one of avg_fn and multi_avg_fn"):
        swa.AveragedModel(ndgrad.nn.Linear(2, 2), avg_fn=swa.get_swa_avg_fn(), multi_avg_fn=swa.get_swa_multi_avg_fn())
    optimizer = ndgrad.optim.SGD([_leaf()], lr=0.1)
    with pytest.raises(ValueError, match=r"anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
        swa.SWALR(optimizer, swa_lr=0.05, anneal_strategy="exp")
    scheduler = swa.SWALR(optimizer, swa_lr=0.05)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler.get_lr()
    assert any("get_last_lr()" in str(w.message) for w in caught)


# ---------------------------------------------------------------------------------------------
# float32 parameters, closures, swap_in_optimizer_params_and_state


@pytest.mark.parametrize("name", ["adadelta_all", "adamax_all", "nadam_decoupled", "radam_decoupled",
                                  "asgd_averaging", "rprop_all", "adafactor_all"])
def test_float32_parameters_match_torch(name):
    def run(lib):
        rng = np.random.default_rng(1)
        params = [lib.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES]
        optimizer = OPTIMIZERS[name](lib.optim, params)
        for _ in range(10):
            for p in params:
                p.grad = lib.tensor((rng.standard_normal(p.shape) + 0.3 * to_numpy(p)).astype(np.float32))
            optimizer.step()
        return params, optimizer.state_dict()

    ours, ours_state = run(ndgrad)
    theirs, theirs_state = run(torch)
    for mine, ref in zip(ours, theirs):
        assert mine.dtype == ndgrad.float32
        np.testing.assert_allclose(to_numpy(mine), to_numpy(ref), rtol=1e-5, atol=1e-6)
    assert layout(ours_state) == layout(theirs_state)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "Adafactor", "Muon"])
def test_step_with_closure_returns_its_loss(name):
    p = ndgrad.tensor(np.ones((2, 3)), dtype=ndgrad.float64, requires_grad=True)
    optimizer = getattr(ndgrad.optim, name)([p], lr=0.1)

    def closure():
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert float(loss) == 6.0 and p.grad is not None
    assert not np.array_equal(to_numpy(p), np.ones((2, 3)))


def test_swap_in_optimizer_params_and_state_like_torch():
    def run(lib):
        params = [lib.tensor(np.full(3, v), dtype=lib.float64, requires_grad=True) for v in (1.0, 2.0)]
        optimizer = lib.optim.Adamax([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1)
        for p in params:
            p.grad = lib.ones(3, dtype=lib.float64)
        optimizer.step()
        swapped = {f"p{i}": lib.tensor(np.full(3, 5.0 + i), dtype=lib.float64, requires_grad=True) for i in range(2)}
        for p in swapped.values():
            p.grad = lib.full((3,), 0.5, dtype=lib.float64)
        saved = copy.deepcopy(optimizer.state_dict())
        saved["param_groups"][0]["lr"] = 0.01
        with lib.optim.swap_in_optimizer_params_and_state(optimizer, swapped, saved):
            optimizer.step()
        return ([to_numpy(p) for p in swapped.values()], [to_numpy(p) for p in params],
                to_numpy(saved["state"][0]["exp_avg"]), optimizer.param_groups[0]["lr"], len(optimizer.state))

    ours, theirs = run(ndgrad), run(torch)
    for mine, ref in zip(ours[0] + ours[1] + [ours[2]], theirs[0] + theirs[1] + [theirs[2]]):
        np.testing.assert_allclose(mine, ref, rtol=RTOL)
    assert ours[3:] == theirs[3:] == (0.1, 2)


# ---------------------------------------------------------------------------------------------
# the same update code on a GPU (CuPy arrays): same trajectories as on the CPU


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["adadelta_all", "adamax_all", "nadam_decoupled", "radam_decoupled",
                                  "asgd_averaging", "rprop_all", "adafactor_all"])
def test_cuda_matches_cpu(name):
    # (Muon is left out: cuBLAS sums float32 products in another order than NumPy, which may flip
    # bfloat16 roundings; the CPU emulation is what is checked against torch above)
    make, shapes = OPTIMIZERS[name], SHAPES
    cpu, _ = run_steps(ndgrad, make, shapes=shapes)
    gpu, optimizer = run_steps(ndgrad, make, shapes=shapes, device="cuda")
    for mine, ref in zip(gpu, cpu):
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)
    for entries in optimizer.state.values():
        for key, value in entries.items():
            if value.ndim > 0:  # the per-element state lives with the parameter
                assert value.device.type == "cuda", key

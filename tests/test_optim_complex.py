"""ndgrad.optim on complex parameters against torch.optim: 20 steps from identical weights.

torch updates a complex parameter as its ``view_as_real`` pair (the second moment of ``1+2j`` is
``(1, 4)``, not ``(1+2j)**2``); ndgrad's shared step loop does the same. Each row runs the same
training code in both libraries and compares the final weights and the (complex) state buffers,
then the state_dict round trips in both directions.
"""
import numpy as np
import pytest
import torch

import ndgrad

STEPS = 20
TOL = {"complex128": dict(rtol=1e-9, atol=1e-11), "complex64": dict(rtol=1e-4, atol=1e-5)}


def make_arrays(dtype, seed=0):
    rng = np.random.default_rng(seed)

    def cplx(*shape, scale=1.0):
        return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale).astype(dtype)

    real_dtype = np.float64 if dtype == "complex128" else np.float32
    data = {"x": cplx(6, 3), "y": cplx(6, 4)}
    weights = [cplx(3, 4, scale=0.5), cplx(4, scale=0.1), rng.standard_normal(4).astype(real_dtype)]
    return data, weights


def to_numpy(t):
    return np.array(t.detach().cpu().numpy(), copy=True)


def loss_of(params, x, y):
    """A real loss mixing complex and real parameters (the same code runs in both libraries)."""
    w, b, r = params
    diff = x @ w + b - y
    return ((diff.abs() ** 2).mean() + (b.abs() ** 2).sum() + 0.5 * (b.real * b.imag).sum()
            + 0.5 * (r * b.real).sum() + (r * r).sum())


def leaves(lib, weights):
    return [lib.tensor(np.array(w, copy=True), requires_grad=True) for w in weights]


def train(lib, make_optimizer, dtype, steps=STEPS, optimizer=None, params=None, state=None):
    data, weights = make_arrays(dtype)
    x, y = (lib.tensor(data[k]) for k in ("x", "y"))
    if params is None:
        params = leaves(lib, weights)
    if optimizer is None:
        optimizer = make_optimizer(getattr(lib, "optim"), params)
    if state is not None:
        optimizer.load_state_dict(state)

    def closure():
        optimizer.zero_grad()
        loss = loss_of(params, x, y)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    return params, optimizer


OPTIMIZERS = [
    ("sgd", lambda o, p: o.SGD(p, lr=0.05)),
    ("sgd_nesterov_wd", lambda o, p: o.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_dampening_max", lambda o, p: o.SGD(p, lr=0.01, momentum=0.5, dampening=0.2, maximize=True)),
    ("adam", lambda o, p: o.Adam(p, lr=0.05)),
    ("adam_amsgrad_wd", lambda o, p: o.Adam(p, lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("adam_maximize", lambda o, p: o.Adam(p, lr=0.01, maximize=True)),
    ("adamw", lambda o, p: o.AdamW(p, lr=0.05)),
    ("adamw_amsgrad", lambda o, p: o.AdamW(p, lr=0.05, amsgrad=True, weight_decay=0.2)),
    ("adamax", lambda o, p: o.Adamax(p, lr=0.05, weight_decay=0.1)),
    ("nadam", lambda o, p: o.NAdam(p, lr=0.05)),
    ("nadam_decoupled", lambda o, p: o.NAdam(p, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("radam", lambda o, p: o.RAdam(p, lr=0.05, weight_decay=0.1)),
    ("radam_decoupled", lambda o, p: o.RAdam(p, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("rmsprop", lambda o, p: o.RMSprop(p, lr=0.01)),
    ("rmsprop_centered_momentum", lambda o, p: o.RMSprop(p, lr=0.01, centered=True, momentum=0.9,
                                                         weight_decay=0.1)),
    ("adagrad", lambda o, p: o.Adagrad(p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("adadelta", lambda o, p: o.Adadelta(p, lr=1.0, weight_decay=0.1)),
    ("asgd", lambda o, p: o.ASGD(p, lr=0.05, t0=5, weight_decay=0.01)),
    ("rprop", lambda o, p: o.Rprop(p, lr=0.01)),
    # L-BFGS stops once converged: past that point its curvature pairs are rounding noise (in torch too)
    ("lbfgs", lambda o, p: o.LBFGS(p, lr=0.5, max_iter=5, tolerance_change=1e-5)),
    ("lbfgs_wolfe", lambda o, p: o.LBFGS(p, lr=1, max_iter=5, tolerance_change=1e-5,
                                         line_search_fn="strong_wolfe")),
]
IDS = [name for name, _ in OPTIMIZERS]


def assert_close(actual, expected, dtype, what):
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOL[dtype])


def compare_state(nd_opt, th_opt, dtype):
    """Same keys, same dtypes (complex buffers for complex parameters) and same values."""
    nd_state = nd_opt.state_dict()["state"]
    th_state = th_opt.state_dict()["state"]
    assert sorted(nd_state) == sorted(th_state)
    for index, th_entry in th_state.items():
        nd_entry = nd_state[index]
        assert sorted(nd_entry) == sorted(th_entry), index
        for key, th_value in th_entry.items():
            nd_value = nd_entry[key]
            if isinstance(th_value, torch.Tensor):
                assert str(nd_value.dtype).split(".")[-1] == str(th_value.dtype).split(".")[-1], (index, key)
                assert_close(to_numpy(nd_value), to_numpy(th_value), dtype, f"state[{index}][{key!r}]")
            elif isinstance(th_value, list):
                assert len(nd_value) == len(th_value), (index, key)
            elif isinstance(th_value, float):
                assert_close(nd_value, th_value, dtype, f"state[{index}][{key!r}]")
            else:
                assert nd_value == th_value, (index, key)


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name,make_optimizer", OPTIMIZERS, ids=IDS)
def test_twenty_steps_match_torch(name, make_optimizer, dtype):
    # float32 L-BFGS amplifies rounding through 1/ys within a few iterations (torch's own float32 and
    # float64 runs part as fast), so complex64 compares its first step (5 iterations)
    steps = 1 if name.startswith("lbfgs") and dtype == "complex64" else STEPS
    nd_params, nd_opt = train(ndgrad, make_optimizer, dtype, steps=steps)
    th_params, th_opt = train(torch, make_optimizer, dtype, steps=steps)
    for i, (a, b) in enumerate(zip(nd_params, th_params)):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert np.isfinite(to_numpy(a)).all(), f"param {i} diverged: the test loss must stay bounded"
        assert_close(to_numpy(a), to_numpy(b), dtype, f"param {i}")
    compare_state(nd_opt, th_opt, dtype)


def torch_to_ndgrad(value):
    if isinstance(value, torch.Tensor):
        return ndgrad.tensor(to_numpy(value))
    if isinstance(value, dict):
        return {k: torch_to_ndgrad(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(torch_to_ndgrad(v) for v in value)
    return value


def ndgrad_to_torch(value):
    if isinstance(value, ndgrad.Tensor):
        return torch.from_numpy(to_numpy(value))
    if isinstance(value, dict):
        return {k: ndgrad_to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(ndgrad_to_torch(v) for v in value)
    return value


ROUND_TRIP = [row for row in OPTIMIZERS if not row[0].startswith("lbfgs")]


@pytest.mark.parametrize("name,make_optimizer", ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_state_dict_round_trips(name, make_optimizer):
    """10 steps in one library, the state_dict carried to the other, 10 more: same as 20 in torch."""
    dtype = "complex128"
    th_params, th_opt = train(torch, make_optimizer, dtype, steps=10)
    th_state = th_opt.state_dict()
    nd_params = [ndgrad.tensor(to_numpy(p), requires_grad=True) for p in th_params]
    nd_params, nd_opt = train(ndgrad, make_optimizer, dtype, steps=10, params=nd_params,
                              state=torch_to_ndgrad(th_state))
    for p in nd_opt.state_dict()["state"].values():  # loaded buffers keep torch's complex dtype
        for key, value in p.items():
            if isinstance(value, ndgrad.Tensor) and value.ndim > 0:
                assert value.dtype in (ndgrad.complex128, ndgrad.float64), key
    th_params, th_opt = train(torch, make_optimizer, dtype, steps=10, optimizer=th_opt, params=th_params)
    for a, b in zip(nd_params, th_params):
        assert_close(to_numpy(a), to_numpy(b), dtype, "after torch -> ndgrad")

    # and back: ndgrad's state_dict loads into torch and continues identically
    th_params2 = [torch.tensor(to_numpy(p), requires_grad=True) for p in nd_params]
    th_params2, _ = train(torch, make_optimizer, dtype, steps=5, params=th_params2,
                          state=ndgrad_to_torch(nd_opt.state_dict()))
    nd_params, _ = train(ndgrad, make_optimizer, dtype, steps=5, optimizer=nd_opt, params=nd_params)
    for a, b in zip(nd_params, th_params2):
        assert_close(to_numpy(a), to_numpy(b), dtype, "after ndgrad -> torch")


def test_complex_parameter_keeps_identity_and_version():
    """The real-view step writes into the parameter itself and its state tensors stay the same objects."""
    z = ndgrad.tensor([1 + 2j, -0.5 + 0.25j], requires_grad=True)
    opt = ndgrad.optim.Adam([z], lr=0.1)
    before = z._data
    version = z._version
    (z.abs() ** 2).sum().backward()
    opt.step()
    exp_avg = opt.state[z]["exp_avg"]
    assert z._data is before and z._version > version
    assert exp_avg.dtype == ndgrad.complex64
    opt.step()
    assert opt.state[z]["exp_avg"] is exp_avg


@pytest.mark.parametrize("make", [
    lambda o, p: o.Adafactor(p),
    lambda o, p: o.Muon(p),
], ids=["adafactor", "muon"])
def test_optimizers_that_refuse_complex(make):
    for lib in (torch, ndgrad):
        p = lib.zeros(3, 3, dtype=lib.complex64, requires_grad=True)
        opt = make(lib.optim, [p])
        (p.abs() ** 2).sum().backward()
        with pytest.raises(RuntimeError, match="does not support complex parameters"):
            opt.step()

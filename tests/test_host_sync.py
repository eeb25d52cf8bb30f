"""Host syncs in a training step, device-side checks and GradScaler, on the CPU with a stand-in device.

``host_sync.stand_in()`` makes NumPy arrays count as device arrays: the device path of every check runs
(deferred to the next read) and every read of a value on the host is counted, as it would be on a GPU.
"""
import warnings

import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
from ndgrad.backend import host_sync, Device, to_device


def _model():
    ndgrad.manual_seed(0)
    return nn.Sequential(nn.Embedding(20, 8), nn.Flatten(), nn.Linear(32, 16), nn.BatchNorm1d(16, momentum=None),
                         nn.ReLU(), nn.Unflatten(1, (1, 16)), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(8, 5))


def _step(model, optimizer, scaler, tokens, target):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(tokens), target)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    return loss


@pytest.mark.parametrize("make_optimizer", [
    lambda p: ndgrad.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: ndgrad.optim.Adam(p, lr=0.01, capturable=True),
    lambda p: ndgrad.optim.AdamW(p, lr=0.01, capturable=True),
])
def test_a_training_step_reads_nothing_on_the_host_until_the_loss_is_read(make_optimizer):
    model = _model()
    optimizer = make_optimizer(model.parameters())
    scaler = ndgrad.amp.GradScaler("cpu", init_scale=4.0)
    tokens, target = ndgrad.randint(0, 20, (6, 4)), ndgrad.randint(0, 5, (6,))
    with host_sync.stand_in():
        _step(model, optimizer, scaler, tokens, target)   # creates the optimizer's state
        with host_sync.counting() as syncs:
            for _ in range(3):
                loss = _step(model, optimizer, scaler, tokens, target)
        assert syncs.count == 0, syncs.ops
        with host_sync.counting() as syncs:
            loss.item()
        assert syncs.count == 1


def test_the_first_step_of_an_optimizer_without_state_reads_the_flag_once():
    w = ndgrad.randn(3, requires_grad=True)
    optimizer = ndgrad.optim.SGD([w], lr=0.1, momentum=0.9)
    scaler = ndgrad.amp.GradScaler("cpu")
    with host_sync.stand_in(), host_sync.counting() as syncs:
        scaler.scale((w * w).sum()).backward()
        scaler.step(optimizer)   # momentum buffers are created by this step: it cannot be undone on the device
    assert syncs.count == 1 and "GradScaler.step(SGD)" in syncs.ops[0]


@pytest.mark.parametrize("op, call, error, match", [
    ("cross_entropy", lambda: F.cross_entropy(ndgrad.randn(3, 4), ndgrad.tensor([0, 7, 1])), IndexError,
     r"cross_entropy: target class index 7 is out of range for input with 4 classes"),
    ("nll_loss", lambda: F.nll_loss(ndgrad.randn(3, 4), ndgrad.tensor([0, -3, 1])), IndexError,
     r"nll_loss: target class index -3 is out of range"),
    ("embedding", lambda: F.embedding(ndgrad.tensor([1, 9, 2]), ndgrad.randn(5, 2)), IndexError,
     r"embedding: index 9 is out of range for an embedding table of 5 rows"),
    ("Embedding", lambda: nn.Embedding(5, 2)(ndgrad.tensor([[1, -1]])), IndexError,
     r"index -1 is out of range for an embedding table of 5 rows"),
    ("binary_cross_entropy", lambda: F.binary_cross_entropy(ndgrad.tensor([0.5, 1.5]), ndgrad.tensor([1.0, 0.0])),
     ValueError, r"all elements of input should be between 0 and 1 \(got 1.5, outside \[0, 1\]"),
    ("max_unpool2d", lambda: F.max_unpool2d(ndgrad.ones(1, 1, 2, 2), ndgrad.full((1, 1, 2, 2), 99), 2),
     RuntimeError, r"max_unpool2d: found an invalid max index 99"),
    ("gaussian_nll_loss", lambda: F.gaussian_nll_loss(ndgrad.zeros(3), ndgrad.zeros(3),
                                                      ndgrad.tensor([1.0, -1.0, 1.0])),
     ValueError, r"gaussian_nll_loss: var has negative entry"),
    ("poisson", lambda: ndgrad.poisson(ndgrad.tensor([1.0, -2.0])), RuntimeError, r"poisson: expected all rates >= 0"),
    ("normal", lambda: ndgrad.normal(ndgrad.zeros(2), ndgrad.tensor([1.0, -1.0])), RuntimeError,
     r"normal: expected all std >= 0.0"),
    ("floor_divide", lambda: ndgrad.tensor([7, 8]) // ndgrad.tensor([2, 0]), ZeroDivisionError,
     r"floor_divide: integer division by zero"),
])
def test_device_checks_wait_for_the_next_read_and_name_the_op(op, call, error, match):
    with pytest.raises(error, match=match):   # on the host: at once
        call()
    with host_sync.stand_in(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # NumPy computes on the bad values meanwhile
        out = call()                                # on a device: nothing is read here...
        assert host_sync.pending()
        with pytest.raises(error, match=match + r".*found by a check on the device"):
            out.sum().item()                        # ...the next read raises it
        assert host_sync.pending() == []


def test_prod_gradient_with_zeros_matches_torch_without_asking_the_device():
    x = np.array([[1.5, 0.0, 2.0], [3.0, -1.0, 0.5], [0.0, 0.0, 4.0]])
    ours, theirs = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with host_sync.stand_in(), host_sync.counting() as syncs:
        ours.prod(1).sum().backward()
    theirs.prod(1).sum().backward()
    assert syncs.count == 0
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_attention_with_fully_masked_rows_matches_torch_on_the_device_path():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 3, 4, 8)).astype(np.float32) for _ in range(3))
    mask = rng.random((4, 4)) > 0.4
    mask[1] = False                                  # a row that sees nothing: zeros, as in PyTorch
    ours = [ndgrad.tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    with host_sync.stand_in(), host_sync.counting() as syncs:
        out = F.scaled_dot_product_attention(*ours, attn_mask=ndgrad.tensor(mask))
        (out * out).sum().backward()
    assert syncs.count == 0
    ref = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=torch.tensor(mask))
    (ref * ref).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_device_checks_raise_at_synchronize_and_keep_the_first_failure():
    with host_sync.stand_in():
        F.cross_entropy(ndgrad.randn(2, 3), ndgrad.tensor([5, 0]))
        F.cross_entropy(ndgrad.randn(2, 3), ndgrad.tensor([0, 9]))   # same site: folded on the device
        assert len(host_sync.pending()) == 1
        with pytest.raises(IndexError, match="target class index 5 "):
            ndgrad.cuda.synchronize()


def test_device_checks_can_be_turned_off():
    ndgrad.cuda.set_device_checks(False)
    try:
        assert not ndgrad.cuda.device_checks_enabled()
        with host_sync.stand_in():
            F.embedding(ndgrad.tensor([0, 3]), ndgrad.randn(3, 2)).sum().item()
            assert host_sync.pending() == []
    finally:
        ndgrad.cuda.set_device_checks(True)
    assert ndgrad.cuda.device_checks_enabled()


def test_sync_debug_mode_warns_or_raises_at_every_read():
    t = ndgrad.ones(3)
    assert ndgrad.cuda.get_sync_debug_mode() == 0
    try:
        with host_sync.stand_in():
            ndgrad.cuda.set_sync_debug_mode("warn")
            assert ndgrad.cuda.get_sync_debug_mode() == 1
            with pytest.warns(UserWarning, match=r"Tensor.item\(\): called a synchronizing CUDA operation"):
                t.sum().item()
            ndgrad.cuda.set_sync_debug_mode(2)
            with pytest.raises(RuntimeError, match=r"Tensor.item\(\): called a synchronizing CUDA operation"):
                t.sum().item()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert t.sum().item() == 3.0        # host arrays never sync
    finally:
        ndgrad.cuda.set_sync_debug_mode("default")
    with pytest.raises(RuntimeError, match=r"set_sync_debug_mode: invalid value of debug_mode 'loud'"):
        ndgrad.cuda.set_sync_debug_mode("loud")


def test_reads_and_host_copies_are_refused_by_name_during_graph_capture():
    t = ndgrad.ones(2)
    with host_sync.stand_in(), host_sync.capturing("CUDA graph capture in progress"):
        with pytest.raises(RuntimeError, match=r"Tensor.item\(\): reads a GPU value on the host.*CUDA graph"):
            t.sum().item()
        with pytest.raises(RuntimeError, match=r"copying a cpu array of shape \(2, 3\) to cuda:0 during CUDA "
                                               r"graph capture.*static tensor"):
            to_device(np.zeros((2, 3)), Device("cuda", 0))
        w = ndgrad.ones(2, requires_grad=True)
        w.grad = ndgrad.ones(2)
        for name in ("Adam", "AdamW", "Adadelta", "RMSprop"):
            with pytest.raises(RuntimeError, match=rf"capture of step\(\) for an instance of {name} but "
                                                   r"param_groups' capturable is False"):
                getattr(ndgrad.optim, name)([w]).step()


@pytest.mark.parametrize("name", ["Adadelta", "RMSprop"])
def test_capturable_optimizers_without_step_dependent_math_count_on_the_device(name):
    w1 = ndgrad.randn(4, 3, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_()
    plain, capturable = getattr(ndgrad.optim, name)([w1], lr=0.1), getattr(ndgrad.optim, name)([w2], lr=0.1,
                                                                                              capturable=True)
    for _ in range(3):
        for w, opt in ((w1, plain), (w2, capturable)):
            opt.zero_grad()
            (w ** 3).sum().backward()
            opt.step()
    np.testing.assert_array_equal(w2.detach().numpy(), w1.detach().numpy())
    assert float(capturable.state[w2]["step"]) == 3.0


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_capturable_adam_follows_the_same_trajectory(name, amsgrad):
    ndgrad.manual_seed(1)
    w1 = ndgrad.randn(4, 3, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_()
    cls = getattr(ndgrad.optim, name)
    plain, capturable = cls([w1], lr=0.05, amsgrad=amsgrad), cls([w2], lr=0.05, amsgrad=amsgrad, capturable=True)
    tw = torch.tensor(w1.detach().numpy(), requires_grad=True)
    reference = getattr(torch.optim, name)([tw], lr=0.05, amsgrad=amsgrad)
    for _ in range(6):
        for w, opt in ((w1, plain), (w2, capturable), (tw, reference)):
            opt.zero_grad()
            (w ** 3).sum().backward()
            opt.step()
    np.testing.assert_allclose(w2.detach().numpy(), w1.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w2.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert float(capturable.state[w2]["step"]) == 6.0


def test_pooling_clipping_and_cumulative_batch_norm_match_torch_on_the_device_path():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    x[0, 1, 2] = np.nan
    with host_sync.stand_in():
        pooled = F.max_pool1d(ndgrad.tensor(x), 3, 2)
    np.testing.assert_array_equal(pooled.numpy(), torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2).numpy())

    grads = [rng.standard_normal(s).astype(np.float32) * 10 for s in ((4, 3), (5,))]
    for norm_type in (2.0, float("inf")):
        ours = [ndgrad.zeros(g.shape, requires_grad=True) for g in grads]
        theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = ndgrad.tensor(g), torch.tensor(g)
        with host_sync.stand_in(), host_sync.counting() as syncs:
            norm = nn.utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
        assert syncs.count == 0
        ref = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
        np.testing.assert_allclose(norm.numpy(), ref.numpy(), rtol=1e-6)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)

    bn, ref = nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    with host_sync.stand_in():
        for i in range(4):
            batch = rng.standard_normal((6, 3)).astype(np.float32) * (i + 1)
            bn(ndgrad.tensor(batch))
            ref(torch.tensor(batch))
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-6)


# -- GradScaler against torch.amp.GradScaler("cpu") ----------------------------------------------------------
def _scaler_run(fw, stand_in):
    w = fw.tensor([1.0, -2.0, 0.5], requires_grad=True)
    opt = fw.optim.SGD([w], lr=0.1, momentum=0.5)
    scaler = fw.amp.GradScaler("cpu", init_scale=16.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=2)
    scales = []
    context = host_sync.stand_in() if stand_in else _nothing()
    with context:
        for step in range(7):
            opt.zero_grad()
            factor = float("inf") if step in (2, 5) else 1.0
            scaler.scale((w * w * factor).sum()).backward()
            scaler.step(opt)
            scaler.update()
            scales.append(scaler.get_scale())
    return np.array(w.detach().numpy()), scales, scaler.state_dict()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("stand_in", [False, True])
def test_grad_scaler_matches_torch_step_for_step(stand_in):
    w, scales, state = _scaler_run(ndgrad, stand_in)
    tw, tscales, tstate = _scaler_run(torch, False)
    np.testing.assert_allclose(w, tw, rtol=1e-6, atol=1e-7)   # float32 steps from weights of size ~1
    assert scales == tscales
    assert state == tstate


def test_grad_scaler_errors_and_state_dict_round_trip():
    w = ndgrad.ones(2, requires_grad=True)
    opt = ndgrad.optim.SGD([w], lr=0.1)
    scaler = ndgrad.amp.GradScaler("cpu", init_scale=8.0)
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)"):
        scaler.unscale_(opt)
    scaler.update()
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        scaler.update()
    other = ndgrad.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 8.0 and other.state_dict() == scaler.state_dict()
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})
    scaler.update(new_scale=2.0)
    assert scaler.get_scale() == 2.0
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        h = ndgrad.ones(2, dtype=ndgrad.float16, requires_grad=True)
        s = ndgrad.amp.GradScaler("cpu", init_scale=2.0)
        s.scale(h.sum()).backward()
        s.unscale_(ndgrad.optim.SGD([h], lr=0.1))


def test_grad_scaler_for_cuda_without_a_gpu_disables_itself_like_torch():
    with pytest.warns(UserWarning, match="CUDA is not available. Disabling"):
        scaler = ndgrad.cuda.amp.GradScaler()
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    loss = ndgrad.ones(2, requires_grad=True).sum()
    assert scaler.scale(loss) is loss


# -- ndgrad.cuda without a GPU -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: ndgrad.cuda.Stream(), lambda: ndgrad.cuda.Event(enable_timing=True), lambda: ndgrad.cuda.CUDAGraph(),
    lambda: ndgrad.cuda.graph_pool_handle(), lambda: ndgrad.cuda.current_stream(),
    lambda: ndgrad.cuda.make_graphed_callables(nn.Linear(2, 2), (ndgrad.ones(1, 2),)),
    lambda: ndgrad.cuda.get_device_properties(0), lambda: ndgrad.cuda.memory_allocated(),
])
def test_cuda_api_without_a_gpu_says_what_is_missing(make):
    if ndgrad.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match=r"ndgrad.cuda.\w+.*needs an NVIDIA GPU.*is_available\(\) is False"):
        make()


def test_cuda_api_answers_without_a_gpu_where_torch_does():
    if ndgrad.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert ndgrad.cuda.device_count() == 0 and not ndgrad.cuda.is_bf16_supported()
    assert not ndgrad.cuda.is_current_stream_capturing()
    ndgrad.cuda.synchronize()
    ndgrad.cuda.empty_cache()
    with ndgrad.cuda.stream(None):
        pass
    assert isinstance(ndgrad.cuda.amp.autocast(), ndgrad.autocast)

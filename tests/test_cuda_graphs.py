"""CUDA graphs, streams, events and sync-free training steps on a GPU (marked `cuda`: skipped without one).

Every graphed result is compared with the same computation run eagerly; PyTorch's CUDA graphs are the model
for the API (whole-network capture with static inputs, make_graphed_callables, private memory pools).
"""
import numpy as np
import pytest

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
from ndgrad.backend import host_sync

pytestmark = pytest.mark.cuda


def _mlp(seed=0):
    ndgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).cuda()


def _batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return [(ndgrad.tensor(rng.standard_normal((8, 16)).astype(np.float32), device="cuda"),
             ndgrad.tensor(rng.integers(0, 4, 8), device="cuda")) for _ in range(n)]


def _warm_up(step, iters=3):
    side = ndgrad.cuda.Stream()
    side.wait_stream(ndgrad.cuda.current_stream())
    with ndgrad.cuda.stream(side):
        for _ in range(iters):
            step()
    ndgrad.cuda.current_stream().wait_stream(side)


@pytest.mark.parametrize("make_optimizer", [
    lambda p: ndgrad.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: ndgrad.optim.Adam(p, lr=0.01, capturable=True),
])
def test_a_whole_training_step_captured_once_matches_eager_steps(make_optimizer):
    batches = _batches(6)
    eager, graphed = _mlp(), _mlp()
    eager_opt, graphed_opt = make_optimizer(eager.parameters()), make_optimizer(graphed.parameters())
    static_x, static_y = batches[0][0].clone(), batches[0][1].clone()

    def eager_step(x, y):
        eager_opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(eager(x), y)
        loss.backward()
        eager_opt.step()
        return loss

    def graphed_step():
        graphed_opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(graphed(static_x), static_y)
        loss.backward()
        graphed_opt.step()
        return loss

    for x, y in batches[:3]:               # the warm-up steps, the same on both sides
        eager_step(x, y)
    warm_up_batches = iter(batches[:3])

    def warm_up_step():
        x, y = next(warm_up_batches)
        static_x.copy_(x)
        static_y.copy_(y)
        graphed_step()

    _warm_up(warm_up_step)
    g = ndgrad.cuda.CUDAGraph()
    graphed_opt.zero_grad(set_to_none=True)
    with ndgrad.cuda.graph(g):
        static_loss = graphed_step()
    for x, y in batches[3:]:
        static_x.copy_(x)
        static_y.copy_(y)
        g.replay()
        expected = eager_step(x, y)
        np.testing.assert_allclose(static_loss.item(), expected.item(), rtol=1e-5)
    for p, q in zip(graphed.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().cpu().numpy(), rtol=1e-4, atol=1e-6)


def test_make_graphed_callables_gives_the_eager_outputs_and_gradients():
    eager, graphed = _mlp(1), _mlp(1)
    x = ndgrad.randn(8, 16, device="cuda", requires_grad=True)
    graphed = ndgrad.cuda.make_graphed_callables(graphed, (x,))
    for seed in range(3):
        ndgrad.manual_seed(seed)
        data = ndgrad.randn(8, 16, device="cuda")
        xa, xb = data.clone().requires_grad_(), data.clone().requires_grad_()
        ya, yb = eager(xa), graphed(xb)
        np.testing.assert_allclose(yb.detach().cpu().numpy(), ya.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
        (ya * ya).sum().backward()
        (yb * yb).sum().backward()
        np.testing.assert_allclose(xb.grad.cpu().numpy(), xa.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)
    for p, q in zip(graphed.parameters(), eager.parameters()):   # three accumulated backward passes
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)
    graphed.eval()                                   # not the captured mode: the eager forward runs
    assert graphed(ndgrad.randn(3, 16, device="cuda")).shape == (3, 4)
    graphed.train()
    with pytest.raises(RuntimeError, match=r"argument 0 has shape \(3, 16\).*captured for shape \(8, 16\)"):
        graphed(ndgrad.randn(3, 16, device="cuda"))


def test_make_graphed_callables_takes_functions_and_tuples_sharing_a_pool():
    w = ndgrad.randn(16, 4, device="cuda", requires_grad=True)

    def f(a):
        return ndgrad.tanh(a @ w)

    def g(b):
        return b.exp().sum(1), b * 2

    a = ndgrad.randn(5, 16, device="cuda", requires_grad=True)
    b = ndgrad.randn(5, 4, device="cuda", requires_grad=True)
    gf, gg = ndgrad.cuda.make_graphed_callables((f, g), ((a,), (b,)))
    out_f = gf(a)
    s, d = gg(out_f)
    (s.sum() + d.sum()).backward()
    a2 = a.detach().clone().requires_grad_()
    w2 = w.detach().clone().requires_grad_()
    ref = ndgrad.tanh(a2 @ w2)
    (ref.exp().sum(1).sum() + (ref * 2).sum()).backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), a2.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


def test_what_cannot_be_captured_fails_by_name_and_leaves_the_stream_usable():
    x = ndgrad.randn(4, device="cuda")
    g = ndgrad.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match=r"Tensor.item\(\): reads a GPU value on the host"):
        with ndgrad.cuda.graph(g):
            (x * 2).sum().item()
    with pytest.raises(RuntimeError, match=r"copying a cpu array .* during CUDA graph capture"):
        with ndgrad.cuda.graph(ndgrad.cuda.CUDAGraph()):
            x + ndgrad.ones(4).cuda()
    assert (x * 2).sum().item() == pytest.approx(2 * x.sum().item())   # eager work still runs
    with pytest.raises(RuntimeError, match="cannot capture the default stream"):
        ndgrad.cuda.CUDAGraph().capture_begin()


def test_graphs_share_a_pool_and_replay_in_capture_order():
    pool = ndgrad.cuda.graph_pool_handle()
    x = ndgrad.randn(64, device="cuda")
    g1, g2 = ndgrad.cuda.CUDAGraph(), ndgrad.cuda.CUDAGraph()
    with ndgrad.cuda.graph(g1, pool=pool):
        y = x * 3
    with ndgrad.cuda.graph(g2, pool=g1.pool()):
        z = y + 1
    x.copy_(ndgrad.arange(64, device="cuda", dtype=ndgrad.float32))
    g1.replay()
    g2.replay()
    np.testing.assert_allclose(z.cpu().numpy(), np.arange(64) * 3 + 1)
    g1.reset()
    with pytest.raises(RuntimeError, match="nothing was captured"):
        g1.replay()


def test_a_device_check_captured_in_a_graph_is_raised_after_the_replay_that_failed():
    logits = ndgrad.randn(4, 3, device="cuda")
    target = ndgrad.tensor([0, 1, 2, 1], device="cuda")
    g = ndgrad.cuda.CUDAGraph()
    F.cross_entropy(logits, target)   # warm-up
    with ndgrad.cuda.graph(g):
        loss = F.cross_entropy(logits, target)
    g.replay()
    loss.item()
    target.copy_(ndgrad.tensor([0, 1, 7, 1], device="cuda"))
    g.replay()
    with pytest.raises(IndexError, match="cross_entropy: target class index 7 is out of range"):
        ndgrad.cuda.synchronize()


def test_a_mixed_precision_training_step_on_the_gpu_never_waits_for_it():
    model = nn.Sequential(nn.Embedding(50, 16), nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32, momentum=None),
                          nn.ReLU(), nn.Linear(32, 5)).cuda()
    opt = ndgrad.optim.AdamW(model.parameters(), lr=1e-3, capturable=True)
    scaler = ndgrad.amp.GradScaler("cuda")
    tokens = ndgrad.randint(0, 50, (16, 4), device="cuda")
    target = ndgrad.randint(0, 5, (16,), device="cuda")

    def step():
        opt.zero_grad()
        with ndgrad.autocast("cuda"):
            loss = F.cross_entropy(model(tokens).float(), target)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        return loss

    step()
    ndgrad.cuda.set_sync_debug_mode("error")
    try:
        with host_sync.counting() as syncs:
            for _ in range(3):
                loss = step()
    finally:
        ndgrad.cuda.set_sync_debug_mode(0)
    assert syncs.count == 0, syncs.ops
    assert np.isfinite(loss.item())


def test_streams_and_events_order_and_time_work():
    s = ndgrad.cuda.Stream()
    a = ndgrad.randn(512, 512, device="cuda")
    start, end = ndgrad.cuda.Event(enable_timing=True), ndgrad.cuda.Event(enable_timing=True)
    s.wait_stream(ndgrad.cuda.current_stream())
    with ndgrad.cuda.stream(s):
        assert ndgrad.cuda.current_stream() == s
        start.record()
        b = a @ a
        end.record()
    assert ndgrad.cuda.current_stream() != s
    ndgrad.cuda.current_stream().wait_event(end)
    end.synchronize()
    assert end.query() and start.elapsed_time(end) >= 0.0
    np.testing.assert_allclose(b.cpu().numpy(), a.cpu().numpy() @ a.cpu().numpy(), rtol=1e-3, atol=1e-3)
    props = ndgrad.cuda.get_device_properties(0)
    assert props.total_memory > 0 and ndgrad.cuda.get_device_capability() == (props.major, props.minor)
    free, total = ndgrad.cuda.mem_get_info()
    assert 0 < free <= total

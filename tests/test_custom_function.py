"""Custom autograd functions (``ndgrad.autograd.Function``) against ``torch.autograd.Function``.

Each case is one Function written once against a library handle (``lib`` is torch or ndgrad), so both
libraries run the very same user code; the table compares forward values, ``requires_grad`` of each
output and the gradient of every input. Below: gradcheck, double backward, ctx features and errors.
"""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, random_array, to_numpy


def build(lib):
    """The test Functions, written against ``lib`` (torch or ndgrad)."""
    Function = lib.autograd.Function

    class MulConst(Function):  # non-tensor argument with a default; needs_input_grad
        @staticmethod
        def forward(ctx, x, k=2.0):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    class Exp(Function):  # saves its output
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class MulAdd(Function):  # two tensor inputs, two outputs, a non-tensor output
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y, x + y, "label"

        @staticmethod
        def backward(ctx, g_prod, g_sum, g_label):
            x, y = ctx.saved_tensors
            return g_prod * y + g_sum, g_prod * x + g_sum

    class MaxWithIndex(Function):  # an index output marked non-differentiable
        @staticmethod
        def forward(ctx, x):
            values, index = x.max(dim=-1)
            ctx.mark_non_differentiable(index)
            ctx.save_for_backward(x, index)
            return values, index

        @staticmethod
        def backward(ctx, g_values, g_index):
            x, index = ctx.saved_tensors
            mask = (lib.arange(x.shape[-1]) == index.unsqueeze(-1)).to(x.dtype)
            return mask * g_values.unsqueeze(-1)

    class Passthrough(Function):  # returns its input unchanged
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return 3 * g

    class Cube(Function):  # the newer form: forward without ctx, setup_context
        @staticmethod
        def forward(x, scale):
            return scale * x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale = inputs
            ctx.save_for_backward(x)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * ctx.scale * x ** 2 * g, None

    class SplitNoMaterialize(Function):  # unused outputs reach backward as None
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g_a, g_b):
            out = 0
            if g_a is not None:
                out = out + 2 * g_a
            if g_b is not None:
                out = out + 3 * g_b
            return out

    class SplitMaterialize(Function):  # default: unused outputs reach backward as zeros
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g_a, g_b):
            return 2 * g_a + 3 * g_b

    class AddInPlace(Function):  # modifies its input in place and says so
        @staticmethod
        def forward(ctx, x, y):
            x.add_(y)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g, g

    class BroadcastGrad(Function):  # returns a gradient of the broadcast shape: summed to the input's
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g, g

    return {cls.__name__: cls for cls in (MulConst, Exp, MulAdd, MaxWithIndex, Passthrough, Cube,
                                          SplitNoMaterialize, SplitMaterialize, AddInPlace, BroadcastGrad)}


FUNCTIONS = {"torch": build(torch), "ndgrad": build(ndgrad)}

# (function name, input shapes (or python values), how to call it, which outputs feed the loss)
CASES = [
    ("MulConst", [(3, 4)], lambda F, x: F.apply(x, 3.5), None),
    ("MulConst", [(3, 4)], lambda F, x: F.apply(x), None),
    ("MulConst", [(3, 4)], lambda F, x: F.apply(x, k=-1.5), None),
    ("MulConst", [()], lambda F, x: F.apply(x, 3.0), None),
    ("MulConst", [(0, 3)], lambda F, x: F.apply(x, 3.0), None),
    ("Exp", [(2, 3)], lambda F, x: F.apply(x), None),
    ("Exp", [(5,)], lambda F, x: F.apply(x[::2]), None),
    ("MulAdd", [(2, 3), (2, 3)], lambda F, x, y: F.apply(x, y), (0, 1)),
    ("MulAdd", [(2, 3), (2, 3)], lambda F, x, y: F.apply(x, y), (0,)),
    ("MulAdd", [(2, 3), (2, 3)], lambda F, x, y: F.apply(x, y), (1,)),
    ("MulAdd", [(2, 3), (2, 3)], lambda F, x, y: F.apply(x, y.detach()), (0, 1)),
    ("MaxWithIndex", [(3, 4)], lambda F, x: F.apply(x), (0,)),
    ("Passthrough", [(2, 2)], lambda F, x: F.apply(x), None),
    ("Cube", [(4,)], lambda F, x: F.apply(x, 0.5), None),
    ("Cube", [(2, 1, 3)], lambda F, x: F.apply(x, scale=2.0), None),
    ("SplitNoMaterialize", [(3,)], lambda F, x: F.apply(x), (0,)),
    ("SplitNoMaterialize", [(3,)], lambda F, x: F.apply(x), (0, 1)),
    ("SplitMaterialize", [(3,)], lambda F, x: F.apply(x), (1,)),
    ("AddInPlace", [(2, 3), (2, 3)], lambda F, x, y: F.apply(x * 1, y), None),
    ("BroadcastGrad", [(2, 3), (3,)], lambda F, x, y: F.apply(x, y), None),
    ("BroadcastGrad", [(2, 1), (1, 3)], lambda F, x, y: F.apply(x, y), None),
]


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _run(lib, name, arrays, call, used):
    inputs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    outs = _as_tuple(call(FUNCTIONS[lib.__name__][name], *inputs))
    weights = np.random.default_rng(1).uniform(-1, 1, size=64)
    loss = None
    for i, o in enumerate(outs):
        if not isinstance(o, (torch.Tensor, ndgrad.Tensor)) or not o.requires_grad:
            continue
        if used is not None and i not in used:
            continue
        w = lib.tensor(np.resize(weights, tuple(o.shape)) if o.dim() else weights[0])
        term = (o * w).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    return outs, [x.grad for x in inputs]


@pytest.mark.parametrize("name,shapes,call,used", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_custom_function_matches_torch(name, shapes, call, used):
    arrays = [random_array(s) for s in shapes]
    t_outs, t_grads = _run(torch, name, arrays, call, used)
    n_outs, n_grads = _run(ndgrad, name, arrays, call, used)
    assert len(n_outs) == len(t_outs)
    for n, t in zip(n_outs, t_outs):
        if not isinstance(t, torch.Tensor):
            assert n == t
            continue
        assert str(n.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_allclose(to_numpy(n), t.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert n.requires_grad == t.requires_grad
        assert (n.grad_fn is None) == (t.grad_fn is None)
    for n, t in zip(n_grads, t_grads):
        assert (n is None) == (t is None)
        if t is not None:
            assert tuple(n.shape) == tuple(t.shape)
            np.testing.assert_allclose(to_numpy(n), t.numpy(), rtol=1e-10, atol=1e-12)


# --- gradcheck: every backward rule above, numerically ---------------------------------------------

F_ND = FUNCTIONS["ndgrad"]
GRADCHECKS = [
    (lambda x: F_ND["MulConst"].apply(x, 1.7), [(3,)]),
    (lambda x: F_ND["Exp"].apply(x), [(2, 3)]),
    (lambda x, y: F_ND["MulAdd"].apply(x, y)[:2], [(2, 2), (2, 2)]),
    (lambda x: F_ND["MaxWithIndex"].apply(x)[0], [(3, 4)]),
    (lambda x: F_ND["Cube"].apply(x, 0.5), [(4,)]),
    (lambda x: F_ND["SplitMaterialize"].apply(x), [(3,)]),
    (lambda x, y: F_ND["BroadcastGrad"].apply(x, y), [(2, 3), (3,)]),
]


@pytest.mark.parametrize("fn,shapes", GRADCHECKS, ids=[str(i) for i in range(len(GRADCHECKS))])
def test_gradcheck(fn, shapes):
    # (Passthrough is left out: its backward is 3*g on purpose, to show the user's rule is the one used.)
    inputs = [ndgrad.tensor(random_array(s), requires_grad=True) for s in shapes]
    assert ndgrad.autograd.gradcheck(fn, inputs)


# --- double backward ---------------------------------------------------------------------------

def test_double_backward_through_a_custom_function():
    a = random_array((4,))
    results = []
    for lib in (torch, ndgrad):
        x = lib.tensor(a.copy(), requires_grad=True)
        y = FUNCTIONS[lib.__name__]["Cube"].apply(x, 0.5).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        results.append((g.detach(), gg))
    np.testing.assert_allclose(to_numpy(results[1][0]), results[0][0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(results[1][1]), results[0][1].numpy(), rtol=1e-12)


def test_double_backward_with_saved_output():
    a = random_array((3,))
    results = []
    for lib in (torch, ndgrad):
        x = lib.tensor(a.copy(), requires_grad=True)
        (g,) = lib.autograd.grad(FUNCTIONS[lib.__name__]["Exp"].apply(x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        results.append(gg)
    np.testing.assert_allclose(to_numpy(results[1]), results[0].numpy(), rtol=1e-12)


def _once(lib):
    from_lib = lib.autograd.function

    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @from_lib.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    return Square


def test_once_differentiable_first_order_and_refusal_of_second():
    a = random_array((3,))
    for lib in (torch, ndgrad):
        x = lib.tensor(a.copy(), requires_grad=True)
        _once(lib).apply(x).sum().backward()
        np.testing.assert_allclose(to_numpy(x.grad) if lib is ndgrad else x.grad.numpy(), 2 * a)
    x = ndgrad.tensor(a, requires_grad=True)
    (g,) = ndgrad.autograd.grad((_once(ndgrad).apply(x) * x).sum(), x, create_graph=True)
    check_error(lambda: g.sum().backward(), "once_differentiable", RuntimeError)


# --- ctx features ------------------------------------------------------------------------------

def _recorder(lib, seen):
    class Probe(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, n):
            seen.append(("forward", tuple(ctx.needs_input_grad), lib.is_grad_enabled()))
            return x * y * n

        @staticmethod
        def backward(ctx, g):
            seen.append(("backward", tuple(ctx.needs_input_grad)))
            return g, g, None
    return Probe


@pytest.mark.parametrize("x_rg,y_rg", [(True, False), (False, True), (True, True)])
def test_needs_input_grad_and_grad_mode_in_forward(x_rg, y_rg):
    logs = {}
    for lib in (torch, ndgrad):
        seen = []
        x = lib.ones(2, requires_grad=x_rg)
        y = lib.ones(2, requires_grad=y_rg)
        _recorder(lib, seen).apply(x, y, 3).sum().backward()
        logs[lib.__name__] = seen
    assert logs["ndgrad"] == logs["torch"]


def test_no_graph_without_grad():
    F = F_ND["Exp"]
    x = ndgrad.ones(2, requires_grad=True)
    with ndgrad.no_grad():
        y = F.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    assert not F.apply(ndgrad.ones(2)).requires_grad


def test_grad_fn_is_the_ctx_and_prints_like_torch():
    x = ndgrad.ones(2, requires_grad=True)
    y = F_ND["MulConst"].apply(x, 2.0)
    assert type(y.grad_fn).__name__ == "MulConstBackward"
    assert isinstance(y.grad_fn, ndgrad.autograd.function.FunctionCtx)
    assert y.grad_fn.k == 2.0 and y.grad_fn.needs_input_grad == (True, False)
    assert "grad_fn=<MulConstBackward>" in repr(y)
    prod, total, _ = F_ND["MulAdd"].apply(x, x)  # outputs of a multi-output function print the same way
    assert "grad_fn=<MulAddBackward>" in repr(prod) and "grad_fn=<MulAddBackward>" in repr(total)


def test_mark_dirty_returns_the_modified_input():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    base = x * 1
    out = F_ND["AddInPlace"].apply(base, ndgrad.tensor([10.0, 10.0]))
    assert out is base and out.tolist() == [11.0, 12.0]
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_mark_dirty_on_a_leaf_that_requires_grad_is_an_error():
    x = ndgrad.ones(2, requires_grad=True)
    check_error(lambda: F_ND["AddInPlace"].apply(x, ndgrad.ones(2)), "leaf", RuntimeError,
                torch_fn=lambda: FUNCTIONS["torch"]["AddInPlace"].apply(torch.ones(2, requires_grad=True),
                                                                          torch.ones(2)))


def test_saved_tensors_released_after_backward():
    x = ndgrad.ones(2, requires_grad=True)
    y = F_ND["Exp"].apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()  # retained: second backward works
    check_error(lambda: y.sum().backward(), "second time", RuntimeError)


def test_saved_tensor_modified_in_place_is_detected():
    x = ndgrad.ones(2, requires_grad=True)
    h = x * 1
    y = F_ND["MulAdd"].apply(h, ndgrad.ones(2))[0]
    with ndgrad.no_grad():
        h.add_(1)
    check_error(lambda: y.sum().backward(), ["modified by an in-place operation", "version"], RuntimeError)


# --- errors ------------------------------------------------------------------------------------

def _bad(lib, grads):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, n):
            return x * n

        @staticmethod
        def backward(ctx, g):
            return grads(lib, g)
    return Bad


@pytest.mark.parametrize("grads,match", [
    (lambda lib, g: g, "incorrect number of gradients \\(expected 2, got 1\\)"),
    (lambda lib, g: (g, g), "different than None at position 2"),
    (lambda lib, g: (lib.ones(5), None), "invalid gradient at index 0 - got \\[5\\] but expected shape "
                                         "compatible with \\[2\\]"),
])
def test_bad_backward_results_are_clear_errors(grads, match):
    def run(lib):
        return _bad(lib, grads).apply(lib.ones(2, requires_grad=True), 2).sum().backward()
    check_error(lambda: run(ndgrad), match, RuntimeError, torch_fn=lambda: run(torch))


def test_extra_trailing_none_gradients_are_allowed():
    for lib in (torch, ndgrad):
        x = lib.ones(2, requires_grad=True)
        _bad(lib, lambda lib, g: (g * 2, None, None)).apply(x, 2).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]


def test_forward_not_implemented():
    class Empty(ndgrad.autograd.Function):
        pass
    check_error(lambda: Empty.apply(ndgrad.ones(1)), "implement the forward", NotImplementedError)


def test_legacy_call_on_an_instance_is_refused():
    with pytest.warns(DeprecationWarning):
        instance = F_ND["Exp"]()
    check_error(lambda: instance(ndgrad.ones(1)), "static", RuntimeError)


def test_save_for_backward_refuses_non_tensors():
    class SaveNumber(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(3.0)
            return x

        @staticmethod
        def backward(ctx, g):
            return g
    check_error(lambda: SaveNumber.apply(ndgrad.ones(1, requires_grad=True)), "only Tensors", TypeError)


# --- legacy names ------------------------------------------------------------------------------

def test_variable_is_a_legacy_alias_for_tensors():
    x = ndgrad.ones(2, requires_grad=True)
    v = ndgrad.autograd.Variable(x)
    assert isinstance(x, ndgrad.autograd.Variable) and isinstance(v, ndgrad.Tensor)
    assert v is not x and not v.requires_grad and v.data_ptr() == x.data_ptr()
    assert ndgrad.autograd.Variable(ndgrad.zeros(2), requires_grad=True).requires_grad
    assert not isinstance(3.0, ndgrad.autograd.Variable)


def test_graph_module_names():
    from ndgrad.autograd import graph
    x = ndgrad.ones(2, requires_grad=True)
    y = x * 2
    assert graph.get_gradient_edge(y).node is y.grad_fn
    assert isinstance(y.grad_fn, graph.Node)
    v = y._version
    graph.increment_version(y)
    assert y._version == v + 1


def test_anomaly_switch_is_recorded_and_restored():
    autograd = ndgrad.autograd
    assert autograd.is_anomaly_enabled() is torch.is_anomaly_enabled() is False
    with autograd.detect_anomaly():
        assert autograd.is_anomaly_enabled()
    assert not autograd.is_anomaly_enabled()
    autograd.set_detect_anomaly(True)
    try:
        assert autograd.is_anomaly_enabled()
        with autograd.set_detect_anomaly(False):
            assert not autograd.is_anomaly_enabled()
        assert autograd.is_anomaly_enabled()
    finally:
        autograd.set_detect_anomaly(False)


@pytest.mark.cuda
def test_custom_function_on_the_gpu():
    a = random_array((2, 3))
    x = ndgrad.tensor(a, device="cuda", requires_grad=True)
    y = ndgrad.tensor(a * 2, device="cuda", requires_grad=True)
    prod, total, _ = F_ND["MulAdd"].apply(x, y)
    (prod.sum() + 2 * total.sum()).backward()
    assert x.grad.is_cuda
    np.testing.assert_allclose(to_numpy(x.grad), a * 2 + 2)
    z = ndgrad.tensor(a, device="cuda", requires_grad=True)
    a_out, _ = F_ND["SplitMaterialize"].apply(z)
    a_out.sum().backward()  # the unused output's gradient is materialised as zeros on the GPU
    np.testing.assert_allclose(to_numpy(z.grad), np.full_like(a, 2.0))

"""Autograd: backward, grad modes, hooks, higher-order derivatives, functional transforms, in-place ops."""
import math

import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_higher_order, check_op, random_array, to_numpy


def pair(array, requires_grad=True):
    """The same values as a torch tensor and an ndgrad tensor."""
    return (torch.tensor(array, requires_grad=requires_grad),
            ndgrad.tensor(array, requires_grad=requires_grad))


def assert_same(n, t, atol=1e-12, rtol=1e-10):
    assert n is not None, "ndgrad gave None where torch has a tensor"
    assert tuple(n.shape) == tuple(t.shape)
    assert str(n.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(to_numpy(n), t.detach().numpy(), atol=atol, rtol=rtol)


# --- backward basics ----------------------------------------------------------------------------

def test_requires_grad_flags_and_is_leaf():
    x = ndgrad.tensor([1.0, 2.0])
    assert x.requires_grad is False and x.grad is None and x.grad_fn is None and x.is_leaf
    w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * w
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
    assert (x * 2).requires_grad is False and (x * 2).grad_fn is None


def test_backward_scalar_and_gradient_argument():
    a = random_array((3, 4))
    g = random_array((3, 4))
    (tx, nx) = pair(a)
    (tx.sin() * tx).backward(torch.tensor(g))
    (nx.sin() * nx).backward(ndgrad.tensor(g))
    assert_same(nx.grad, tx.grad)
    # the keyword spelling too
    (tx, nx) = pair(a)
    (tx * 3).backward(gradient=torch.tensor(g))
    (nx * 3).backward(gradient=ndgrad.tensor(g))
    assert_same(nx.grad, tx.grad)


def test_grad_accumulates_across_backward_calls():
    tx, nx = pair(random_array((3,)))
    for _ in range(3):
        (tx ** 2).sum().backward()
        (nx ** 2).sum().backward()
    assert_same(nx.grad, tx.grad)


def test_accumulation_does_not_alias_previous_grad():
    # x.grad from the first backward must not be modified in place by the second one
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    first = x.grad
    snapshot = to_numpy(first).copy()
    (x * 5).sum().backward()
    np.testing.assert_array_equal(to_numpy(first), snapshot)
    np.testing.assert_array_equal(to_numpy(x.grad), [8.0, 8.0])


def test_unreached_inputs_have_no_grad():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = ndgrad.tensor([3.0, 4.0], requires_grad=True)
    z = ndgrad.tensor([5.0, 6.0], requires_grad=True)
    with ndgrad.no_grad():
        zz = z * 2
    (x * 2 + zz).sum().backward()
    assert y.grad is None and z.grad is None
    np.testing.assert_array_equal(to_numpy(x.grad), [2.0, 2.0])


def test_non_leaf_grad_is_none_unless_retained():
    tx, nx = pair(random_array((3,)))
    ty, ny = tx * 2, nx * 2
    ty.retain_grad()
    ny.retain_grad()
    tz, nz = ty.exp(), ny.exp()
    (tz * ty).sum().backward()
    (nz * ny).sum().backward()
    assert_same(ny.grad, ty.grad)
    assert_same(nx.grad, tx.grad)
    assert nz.grad is None and nz.grad_fn is not None


def test_detach():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.requires_grad is False and d.grad_fn is None and d.is_leaf
    assert d.tolist() == [2.0, 4.0]
    (d * x).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [2.0, 4.0])
    # a detached tensor shares memory with the original (PyTorch semantics)
    x.detach().mul_(10)
    assert x.tolist() == [10.0, 20.0] and x.requires_grad


def test_requires_grad_():
    x = ndgrad.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    (x * x).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [2.0, 4.0])


def test_retain_graph_and_backward_twice():
    tx, nx = pair(random_array((3,)))
    ty, ny = (tx.sin() * tx).sum(), (nx.sin() * nx).sum()
    ty.backward(retain_graph=True)
    ny.backward(retain_graph=True)
    ty.backward()
    ny.backward()
    assert_same(nx.grad, tx.grad)


def test_backward_twice_without_retain_graph_raises():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    check_error(lambda: y.backward(), [r"(second time|freed|twice)", r"retain_graph"])


def test_backward_non_scalar_without_gradient_raises():
    x = ndgrad.ones(2, 3, requires_grad=True)
    check_error(lambda: (x * 2).backward(), [r"scalar", r"gradient", r"[\(\[]2, 3[\)\]]"],
                torch_fn=lambda: (torch.ones(2, 3, requires_grad=True) * 2).backward())


def test_backward_gradient_shape_mismatch_raises():
    x = ndgrad.ones(2, 3, requires_grad=True)
    check_error(lambda: (x * 2).backward(ndgrad.ones(3, 2)), [r"[\(\[]3, 2[\)\]]", r"[\(\[]2, 3[\)\]]"],
                torch_fn=lambda: (torch.ones(2, 3, requires_grad=True) * 2).backward(torch.ones(3, 2)))


def test_backward_without_grad_raises():
    x = ndgrad.ones(3)
    check_error(lambda: x.sum().backward(), r"requires?[_ ]grad",
                torch_fn=lambda: torch.ones(3).sum().backward())


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_grad_on_integer_tensor_raises(dtype):
    nd = getattr(ndgrad, dtype)
    check_error(lambda: ndgrad.tensor([1, 0], dtype=nd, requires_grad=True), [r"float", dtype],
                torch_fn=lambda: torch.tensor([1, 0], dtype=getattr(torch, dtype), requires_grad=True))
    check_error(lambda: ndgrad.tensor([1, 0], dtype=nd).requires_grad_(), [r"float", dtype])


def test_backward_through_integer_output_raises():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    check_error(lambda: x.argmax().backward(), r"grad")


def test_long_chain_does_not_recurse():
    x = ndgrad.tensor(1.0, dtype=ndgrad.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert math.isclose(x.grad.item(), 1.00001 ** 100_000, rel_tol=1e-4)


@pytest.mark.parametrize("retain", [False, True])
def test_backward_frees_saved_tensors_unless_retained(retain):
    import gc
    import weakref
    x = ndgrad.tensor(random_array((3,)), requires_grad=True)
    a = x * 2
    b = a.sin()  # sin saves its input a
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is not None  # the graph holds it until backward
    b.sum().backward(retain_graph=retain)
    gc.collect()
    assert (ref() is not None) == retain


def test_diamond_graph_and_shared_subexpressions():
    check_op([(3, 4), (4,)], lambda x, y: (lambda s: s * s.exp() + s.sin() * y)(x * y + 1))


# --- grad modes ---------------------------------------------------------------------------------

def test_no_grad_and_enable_grad_context_managers():
    x = ndgrad.tensor([1.0], requires_grad=True)
    with ndgrad.no_grad():
        assert not ndgrad.is_grad_enabled()
        y = x * 2
        with ndgrad.enable_grad():
            z = x * 2
            assert ndgrad.is_grad_enabled()
        assert not ndgrad.is_grad_enabled()
    assert ndgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_grad_modes_as_decorators():
    @ndgrad.no_grad()
    def f(x):
        return x * 2

    @ndgrad.enable_grad()
    def g(x):
        return x * 2

    @ndgrad.set_grad_enabled(False)
    def h(x):
        return x * 2

    x = ndgrad.tensor([1.0], requires_grad=True)
    assert not f(x).requires_grad
    assert not h(x).requires_grad
    assert ndgrad.is_grad_enabled()  # decorating does not switch the mode
    with ndgrad.no_grad():
        assert g(x).requires_grad
    assert f.__name__ == "f"


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ZeroDivisionError):
        with ndgrad.no_grad():
            1 / 0
    assert ndgrad.is_grad_enabled()


def test_set_grad_enabled():
    x = ndgrad.tensor([1.0], requires_grad=True)
    with ndgrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ndgrad.is_grad_enabled()
    with ndgrad.set_grad_enabled(True):
        assert (x * 2).requires_grad
    ndgrad.set_grad_enabled(False)
    try:
        assert not ndgrad.is_grad_enabled()
    finally:
        ndgrad.set_grad_enabled(True)
    assert ndgrad.is_grad_enabled()


# --- hooks --------------------------------------------------------------------------------------

def test_hook_on_leaf_can_replace_grad():
    tx, nx = pair(random_array((3,)))
    tx.register_hook(lambda g: g * 2)
    nx.register_hook(lambda g: g * 2)
    (tx ** 3).sum().backward()
    (nx ** 3).sum().backward()
    assert_same(nx.grad, tx.grad)


def test_hook_on_non_leaf_sees_summed_grad_once():
    tx, nx = pair(random_array((3,)))
    seen_t, seen_n = [], []
    ty, ny = tx * 2, nx * 2
    ty.register_hook(lambda g: seen_t.append(g.clone()))
    ny.register_hook(lambda g: seen_n.append(g.detach() * 1))
    (ty * ty + ty).sum().backward()
    (ny * ny + ny).sum().backward()
    assert len(seen_n) == len(seen_t) == 1
    assert_same(seen_n[0], seen_t[0])
    assert_same(nx.grad, tx.grad)


def test_hook_on_non_leaf_changes_upstream_grad():
    tx, nx = pair(random_array((3,)))
    ty, ny = tx.exp(), nx.exp()
    ty.register_hook(lambda g: g * 10 + 1)
    ny.register_hook(lambda g: g * 10 + 1)
    (ty * tx).sum().backward()
    (ny * nx).sum().backward()
    assert_same(nx.grad, tx.grad)


def test_hook_returning_none_and_handle_remove():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 3).sum().backward()
    assert calls == [1]
    np.testing.assert_array_equal(to_numpy(x.grad), [3.0, 3.0])
    handle.remove()
    (x * 3).sum().backward()
    assert calls == [1]


def test_register_hook_on_tensor_without_grad_raises():
    check_error(lambda: ndgrad.ones(2).register_hook(lambda g: g), r"requires?[_ ]grad",
                torch_fn=lambda: torch.ones(2).register_hook(lambda g: g))


# --- ndgrad.autograd.grad -----------------------------------------------------------------------

def test_autograd_grad_basic_and_grad_outputs():
    a, b, g = random_array((3, 4)), random_array((4,)), random_array((3, 4))
    tx, nx = pair(a)
    ty, ny = pair(b)
    tgx, tgy = torch.autograd.grad(tx * ty.sin(), [tx, ty], grad_outputs=torch.tensor(g))
    ngx, ngy = ndgrad.autograd.grad(nx * ny.sin(), [nx, ny], grad_outputs=ndgrad.tensor(g))
    assert_same(ngx, tgx)
    assert_same(ngy, tgy)
    assert nx.grad is None and ny.grad is None  # autograd.grad does not accumulate into .grad
    (ng,) = ndgrad.autograd.grad((nx * 2).sum(), nx)  # a single tensor input gives a 1-tuple
    np.testing.assert_array_equal(to_numpy(ng), np.full((3, 4), 2.0))


def test_autograd_grad_several_outputs():
    tx, nx = pair(random_array((3,)))
    (tg,) = torch.autograd.grad([tx.sum(), (tx ** 2).sum()], [tx])
    (ng,) = ndgrad.autograd.grad([nx.sum(), (nx ** 2).sum()], [nx])
    assert_same(ng, tg)


def test_autograd_grad_allow_unused():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    check_error(lambda: ndgrad.autograd.grad((x * 2).sum(), [x, y]), r"allow_unused")
    gx, gy = ndgrad.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None
    np.testing.assert_array_equal(to_numpy(gx), [2.0, 2.0])


def test_autograd_grad_retain_graph():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    (g1,) = ndgrad.autograd.grad(y, x, retain_graph=True)
    (g2,) = ndgrad.autograd.grad(y, x)
    np.testing.assert_array_equal(to_numpy(g1), to_numpy(g2))
    check_error(lambda: ndgrad.autograd.grad(y, x), r"retain_graph")


def test_autograd_grad_create_graph_and_backward_create_graph():
    tx, nx = pair(random_array((4,)))
    (tg,) = torch.autograd.grad((tx ** 3).sum(), tx, create_graph=True)
    (ng,) = ndgrad.autograd.grad((nx ** 3).sum(), nx, create_graph=True)
    assert ng.requires_grad
    assert_same(ng, tg)
    tg.sum().backward()
    ng.sum().backward()
    assert_same(nx.grad, tx.grad)

    tx, nx = pair(random_array((4,)))
    (tx.sin() * tx).sum().backward(create_graph=True)
    (nx.sin() * nx).sum().backward(create_graph=True)
    tg, ng = tx.grad, nx.grad
    assert ng.requires_grad
    tx.grad, nx.grad = None, None
    (tg ** 2).sum().backward()
    (ng ** 2).sum().backward()
    assert_same(nx.grad, tx.grad)


# --- higher-order derivatives vs torch ----------------------------------------------------------

HIGHER_ORDER = {
    "mul_div": ([(3, 4), (4,)], lambda x, y: x * y / (y * y + 1)),
    "exp_log": ([(3, 4)], lambda x: (x.exp() + 1).log()),
    "sin_cos": ([(3, 4)], lambda x: x.sin() * x.cos()),
    "tanh_sigmoid": ([(3, 4)], lambda x: x.tanh() + x.sigmoid() * x),
    "pow": ([(3, 4), (3, 4)], lambda x, y: (x * x + 1) ** (y * 0.5)),
    "sqrt_rsqrt": ([(3, 4)], lambda x: (x * x + 1).sqrt() + (x * x + 2).rsqrt()),
    "log1p_expm1": ([(3, 4)], lambda x: (x * x).log1p() + x.expm1()),
    "abs_relu": ([(3, 4)], lambda x: x.abs() * x + x.relu() ** 2),
    "clamp_max_min": ([(3, 4), (3, 4)], lambda x, y: x.clamp(-1, 1) * x + (x * y).maximum(y) ** 2
                      + x.minimum(y * y)),
    "where": ([(3, 4), (3, 4)], lambda x, y: ndgrad_or_torch(x).where(x > y, x * x, y * x)),
    "sum_mean": ([(3, 4)], lambda x: (x * x).sum(1) * x.mean(0).sum()),
    "var_std": ([(3, 4)], lambda x: x.var(1) + x.std(0).sum() * x.mean()),
    "prod": ([(3, 4)], lambda x: x.prod(1)),
    "amax_max": ([(3, 4)], lambda x: x.amax(1) * x.sum(1) + x.max() ** 2 + x.max(0).values.sum() * x.mean()),
    "logsumexp": ([(3, 4)], lambda x: x.logsumexp(1) * x.sum(1)),
    "softmax": ([(3, 4)], lambda x: x.softmax(1) * x),
    "log_softmax": ([(3, 4)], lambda x: x.log_softmax(0) * x),
    "cumsum": ([(3, 4)], lambda x: x.cumsum(1) * x),
    "norm": ([(3, 4)], lambda x: x.norm(dim=1) * x.sum(1) + x.norm()),
}


def ndgrad_or_torch(t):
    """The library module a tensor belongs to, so one lambda serves both."""
    return torch if isinstance(t, torch.Tensor) else ndgrad


@pytest.mark.parametrize("name", sorted(HIGHER_ORDER))
def test_second_derivatives_match_torch(name):
    inputs, fn = HIGHER_ORDER[name]
    check_higher_order(inputs, fn, order=2)


@pytest.mark.parametrize("name", ["exp_log", "tanh_sigmoid", "mul_div", "softmax", "pow"])
def test_third_derivatives_match_torch(name):
    inputs, fn = HIGHER_ORDER[name]
    check_higher_order(inputs, fn, order=3)


# --- gradcheck / gradgradcheck ------------------------------------------------------------------

GRADCHECK_CASES = {
    "add_mul_div": ([(3, 4), (4,)], lambda x, y: (x + y) * x / (y * y + 1)),
    "pow": ([(2, 3), (2, 3)], lambda x, y: (x * x + 0.5) ** y),
    "pow_scalar": ([(2, 3)], lambda x: x ** 3 + (x * x + 1) ** -1.5),
    "exp_log": ([(2, 3)], lambda x: x.exp() + (x * x + 1).log() + (x * x).log1p() + x.expm1()),
    "sqrt_rsqrt": ([(2, 3)], lambda x: (x * x + 1).sqrt() + (x * x + 1).rsqrt()),
    "trig": ([(2, 3)], lambda x: x.sin() * x.cos() + x.tanh() + x.sigmoid()),
    "abs_relu_clamp": ([(2, 3)], lambda x: x.abs() * x + x.relu() * x + x.clamp(-0.5, 0.5) * x),
    "maximum_minimum_where": ([(2, 3), (2, 3)], lambda x, y: ndgrad.maximum(x, y) * ndgrad.minimum(x, y)
                              + ndgrad.where(x > y, x * y, y)),
    "sum_mean_var_std": ([(3, 4)], lambda x: x.sum(0) * x.mean(1).sum() + x.var(1).sum() + x.std(0)),
    "prod": ([(3, 4)], lambda x: x.prod(0) + x.prod()),
    "max_amax": ([(3, 4)], lambda x: x.amax(1) + x.max(0).values.sum() + x.amin() + x.min(1).values.sum()),
    "logsumexp_softmax": ([(3, 4)], lambda x: x.logsumexp(1).sum() + x.softmax(0) * x + x.log_softmax(1)),
    "cumsum_norm": ([(3, 4)], lambda x: x.cumsum(0) * x + x.norm() + x.norm(p=1, dim=0).sum()),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck_and_gradgradcheck_on_ops(name):
    shapes, fn = GRADCHECK_CASES[name]
    inputs = [ndgrad.tensor(random_array(s, "float64", 0.3, 1.7) * np.where(random_array(s, "bool"), 1, -1),
                            requires_grad=True) for s in shapes]
    assert ndgrad.autograd.gradcheck(fn, inputs)
    assert ndgrad.autograd.gradgradcheck(fn, inputs)


def _square_with_wrong_grad():
    from ndgrad.autograd.node import Node

    class WrongSquare(Node):
        def forward(self, x):
            return x * x

        def backward(self, grad):
            return grad * self.input(0) * 3  # should be 2

    return lambda x: WrongSquare().apply(x)


def _square_with_non_differentiable_grad():
    from ndgrad.autograd.node import Node

    class FrozenSquare(Node):
        def forward(self, x):
            self.two_x = 2 * x
            return x * x

        def backward(self, grad):
            # first order right; the raw-array factor hides the second derivative
            return grad * ndgrad.Tensor._wrap(self.two_x)

    return lambda x: FrozenSquare().apply(x)


def test_gradcheck_accepts_user_function():
    x = ndgrad.tensor(random_array((3,)), requires_grad=True)
    y = ndgrad.tensor(random_array((3,)), requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda a, b: (a * b).sin() + a.exp(), (x, y))
    assert ndgrad.autograd.gradgradcheck(lambda a, b: (a * b).sin() + a.exp(), (x, y))
    assert ndgrad.autograd.gradcheck(lambda a: (a * a, a.sum()), (x,))  # several outputs


def test_gradcheck_detects_wrong_gradient():
    x = ndgrad.tensor(random_array((3,)), requires_grad=True)
    fn = _square_with_wrong_grad()
    with pytest.raises(Exception, match=r"(?i)(gradient|jacobian)"):
        ndgrad.autograd.gradcheck(fn, (x,))
    assert ndgrad.autograd.gradcheck(fn, (x,), raise_exception=False) is False


def test_gradgradcheck_detects_wrong_second_derivative():
    x = ndgrad.tensor(random_array((3,)), requires_grad=True)
    fn = _square_with_non_differentiable_grad()
    assert ndgrad.autograd.gradcheck(fn, (x,))
    with pytest.raises(Exception, match=r"(?i)(gradient|jacobian)"):
        ndgrad.autograd.gradgradcheck(fn, (x,))
    assert ndgrad.autograd.gradgradcheck(fn, (x,), raise_exception=False) is False


# --- ndgrad.func vs torch.func ------------------------------------------------------------------

def f_scalar(x, y):
    return (x.sin() * y).sum() + (x * x).sum() * y.mean()


def test_func_grad_and_argnums():
    tx, nx = pair(random_array((3,)), requires_grad=False)
    ty, ny = pair(random_array((3,)), requires_grad=False)
    assert_same(ndgrad.func.grad(f_scalar)(nx, ny), torch.func.grad(f_scalar)(tx, ty))
    ng = ndgrad.func.grad(f_scalar, argnums=(0, 1))(nx, ny)
    tg = torch.func.grad(f_scalar, argnums=(0, 1))(tx, ty)
    assert isinstance(ng, tuple) and len(ng) == 2
    assert_same(ng[0], tg[0])
    assert_same(ng[1], tg[1])
    assert_same(ndgrad.func.grad(f_scalar, argnums=1)(nx, ny), torch.func.grad(f_scalar, argnums=1)(tx, ty))


def test_func_grad_has_aux():
    tx, nx = pair(random_array((3,)), requires_grad=False)
    ng, naux = ndgrad.func.grad(lambda x: ((x * x).sum(), x.exp()), has_aux=True)(nx)
    tg, taux = torch.func.grad(lambda x: ((x * x).sum(), x.exp()), has_aux=True)(tx)
    assert_same(ng, tg)
    assert_same(naux, taux)


def test_func_grad_of_grad():
    tx, nx = pair(random_array(()), requires_grad=False)
    nf = ndgrad.func.grad(ndgrad.func.grad(lambda x: x.sin() * x ** 3))
    tf = torch.func.grad(torch.func.grad(lambda x: x.sin() * x ** 3))
    assert_same(nf(nx), tf(tx))


def test_func_value_and_grad():
    tx, nx = pair(random_array((3,)), requires_grad=False)
    ty, ny = pair(random_array((3,)), requires_grad=False)
    nv, ng = ndgrad.func.value_and_grad(f_scalar)(nx, ny)
    tv, tg = torch.func.grad_and_value(f_scalar)(tx, ty)[::-1]
    assert_same(nv, tv)
    assert_same(ng, tg)


def test_func_grad_rejects_non_scalar_output():
    x = ndgrad.ones(3)
    check_error(lambda: ndgrad.func.grad(lambda t: t * 2)(x), r"scalar",
                torch_fn=lambda: torch.func.grad(lambda t: t * 2)(torch.ones(3)))


def test_func_vjp():
    tx, nx = pair(random_array((3, 2)), requires_grad=False)
    ty, ny = pair(random_array((2,)), requires_grad=False)
    v = random_array((3, 2))
    nout, nfn = ndgrad.func.vjp(lambda x, y: x.exp() * y, nx, ny)
    tout, tfn = torch.func.vjp(lambda x, y: x.exp() * y, tx, ty)
    assert_same(nout, tout)
    ng, tg = nfn(ndgrad.tensor(v)), tfn(torch.tensor(v))
    assert len(ng) == 2
    assert_same(ng[0], tg[0])
    assert_same(ng[1], tg[1])


def test_func_jvp():
    tx, nx = pair(random_array((3, 2)), requires_grad=False)
    tv, nv = pair(random_array((3, 2)), requires_grad=False)
    nout, ntan = ndgrad.func.jvp(lambda x: x.sin() * x.sum(0), (nx,), (nv,))
    tout, ttan = torch.func.jvp(lambda x: x.sin() * x.sum(0), (tx,), (tv,))
    assert_same(nout, tout)
    assert_same(ntan, ttan)


def test_func_hessian():
    tx, nx = pair(random_array((4,)), requires_grad=False)
    fn = lambda x: (x.sin() * x).sum() + x.prod() + x.softmax(0)[0]  # noqa: E731
    assert_same(ndgrad.func.hessian(fn)(nx), torch.func.hessian(fn)(tx))
    tm, nm = pair(random_array((2, 3)), requires_grad=False)
    assert_same(ndgrad.func.hessian(lambda m: (m.exp() * m).sum())(nm),
                torch.func.hessian(lambda m: (m.exp() * m).sum())(tm))


def test_func_transforms_leave_inputs_untouched():
    x = ndgrad.tensor([1.0, 2.0])
    ndgrad.func.grad(lambda t: (t * t).sum())(x)
    assert x.grad is None and not x.requires_grad


# --- in-place ops and version counters ----------------------------------------------------------

def _inplace_chain(lib):
    def fn(x, w):
        y = x * 1.5
        y.add_(w)
        y.mul_(w)
        y.sub_(0.25)
        y.div_(w * w + 1)
        y.add_(w, alpha=2.0)
        y.clamp_(-1.0, 1.0)
        y.mul_(2)
        y += w  # the augmented operators are in-place too
        y *= w
        y -= 0.5
        y /= 3.0
        return y.exp()
    return fn


def test_inplace_ops_backprop_like_torch():
    check_op([(3, 4), (4,)], _inplace_chain(torch), _inplace_chain(ndgrad))


def test_inplace_op_returns_self_and_changes_values():
    for name, arg in [("add_", 2.0), ("sub_", 2.0), ("mul_", 2.0), ("div_", 2.0)]:
        a = random_array((3,))
        t, n = torch.tensor(a), ndgrad.tensor(a)
        assert getattr(n, name)(arg) is n
        getattr(t, name)(arg)
        assert_same(n, t)
    n = ndgrad.tensor([1.0, 5.0, -3.0])
    assert n.clamp_(-1, 2) is n and n.tolist() == [1.0, 2.0, -1.0]
    assert n.zero_() is n and n.tolist() == [0.0, 0.0, 0.0]
    assert n.fill_(2.5) is n and n.tolist() == [2.5, 2.5, 2.5]
    assert n.copy_(ndgrad.tensor([1.0, 2.0, 3.0])) is n and n.tolist() == [1.0, 2.0, 3.0]


def test_zero_fill_copy_gradients():
    def fn(lib):
        def f(x, w):
            a = x * 2
            a.zero_()
            b = x * 3
            b.fill_(1.5)
            c = x * 4
            c.copy_(w)  # broadcasts w into c; the gradient flows to w, none to x through c
            return a + b + c * x
        return f
    check_op([(3, 4), (4,)], fn(torch), fn(ndgrad))


def test_copy_casts_and_broadcasts():
    n = ndgrad.zeros(2, 3)
    n.copy_(ndgrad.tensor([1, 2, 3]))
    assert n.dtype == ndgrad.float32 and n.tolist() == [[1.0, 2.0, 3.0]] * 2


def test_inplace_broadcast_and_dtype_errors():
    check_error(lambda: ndgrad.ones(4).add_(ndgrad.ones(3, 4)), [r"add_", r"[\(\[]3, 4[\)\]]"],
                torch_fn=lambda: torch.ones(4).add_(torch.ones(3, 4)))
    check_error(lambda: ndgrad.tensor([1, 2]).add_(1.5), [r"add_", r"int64", r"float"],
                torch_fn=lambda: torch.tensor([1, 2]).add_(1.5))
    # a failed in-place op leaves the tensor and its version as they were
    x = ndgrad.tensor([1, 2])
    y = ndgrad.tensor([1.0, 2.0, 3.0, 4.0])
    versions = (x._version, y._version)
    for bad in [lambda: x.add_(1.5), lambda: x.mul_(ndgrad.tensor([0.5, 0.5])), lambda: y.add_(ndgrad.ones(3, 4))]:
        with pytest.raises(Exception):
            bad()
    assert x.tolist() == [1, 2] and y.tolist() == [1.0, 2.0, 3.0, 4.0] and (x._version, y._version) == versions


def test_inplace_on_leaf_requiring_grad_raises():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    for op in [lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(1.0),
               lambda: x.clamp_(0, 1), lambda: x.copy_(ndgrad.ones(2)), lambda: x.sub_(1), lambda: x.div_(2)]:
        check_error(op, [r"leaf", r"in.?place"])
    assert x.tolist() == [1.0, 2.0]
    # allowed under no_grad: this is how optimizers update parameters
    with ndgrad.no_grad():
        x.sub_(0.5)
    assert x.tolist() == [0.5, 1.5] and x.requires_grad and x.is_leaf


def test_modifying_saved_tensor_raises_on_backward():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = (y * y).sum()  # saves y
    y.add_(1)
    check_error(lambda: z.backward(), [r"in.?place", r"(version|modified)"])


def test_modifying_saved_output_raises_on_backward():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp's backward uses its output
    y.mul_(2)
    check_error(lambda: y.sum().backward(), r"in.?place")


def test_modifying_through_detached_alias_raises():
    # detach shares memory and the version counter with the original, as in PyTorch
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.detach().mul_(2)
    check_error(lambda: y.sum().backward(), r"in.?place")


def test_modifying_unsaved_tensor_is_fine():
    def fn(x):
        y = x * 2
        z = y.exp()  # exp saves its output, not y
        y.add_(1)
        return z * 3 + y
    check_op([(3,)], fn)


def test_inplace_without_grad_tracking_inside_no_grad():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with ndgrad.no_grad():
        y.add_(1)
    z = (y * x).sum()  # y is saved after the in-place op: fine
    z.backward()
    np.testing.assert_allclose(to_numpy(x.grad), [3.0 + 2.0, 5.0 + 4.0])


# -- in-place ops on views rewrite the base's history (PyTorch's CopySlices) -------------------------
def _view_inplace_cases():
    def mul_row_by_weight(lib, x, w):
        h = x * 2
        h[0].mul_(w)
        return h

    def add_to_transposed_row(lib, x, w):
        h = x * 1
        h.t()[1].add_(w[:2] * 3)
        return h

    def copy_into_view_of_plain_tensor(lib, x, w):
        h = lib.zeros(2, 3, dtype=x.dtype)
        h[1].copy_(w * x[0])
        return h

    def two_ops_on_a_column_slice(lib, x, w):
        h = x * x
        v = h[:, 1:]
        v.mul_(w[1:])
        v.sub_(1)
        return h

    def setitem_through_chained_indexing(lib, x, w):
        h = x * 2
        h[0][1] = w[0] * 3
        h[1][::2] = w[1]
        return h

    return [mul_row_by_weight, add_to_transposed_row, copy_into_view_of_plain_tensor, two_ops_on_a_column_slice,
            setitem_through_chained_indexing]


@pytest.mark.parametrize("fn", _view_inplace_cases(), ids=lambda f: f.__name__)
def test_inplace_on_a_view_updates_the_base_gradient_like_torch(fn):
    results = []
    for lib in (torch, ndgrad):
        x = lib.tensor(np.arange(6.0).reshape(2, 3) + 1, requires_grad=True)
        w = lib.tensor(np.array([2.0, 3.0, 4.0]), requires_grad=True)
        h = fn(lib, x, w)
        (h * lib.tensor(np.cos(np.arange(6.0)).reshape(2, 3))).sum().backward()
        results.append([h.detach().numpy().copy(), x.grad.numpy().copy(), w.grad.numpy().copy()])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_inplace_on_a_view_of_a_leaf_that_requires_grad_raises():
    x = ndgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mul_ \(on a view of it\).*leaf tensor that requires grad.*no_grad"):
        x[0:2].mul_(2)
    assert x._version == 0 and np.all(x.detach().numpy() == 1)


def test_inplace_on_a_detached_alias_does_not_rewrite_the_original_graph():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    alias = h.detach()
    alias.zero_()  # shares memory and version with h, but is not a view: h keeps its own history
    assert h.grad_fn.name() == "MulScalar"


def test_leaf_gradients_are_delivered_as_soon_as_their_last_consumer_has_run():
    # PyTorch's AccumulateGrad: w2's .grad (and its post-accumulate hook) is ready before backward
    # reaches the layer below, so DistributedDataParallel can all-reduce it while backward goes on.
    order = []
    w1 = ndgrad.randn(3, 3, requires_grad=True)
    w2 = ndgrad.randn(3, 3, requires_grad=True)
    h = (ndgrad.randn(2, 3) @ w1).tanh()
    y = (h @ w2).sum() + (h * h).sum()
    w2.register_post_accumulate_grad_hook(lambda p: order.append(("w2", p.grad is not None)))
    w1.register_post_accumulate_grad_hook(lambda p: order.append(("w1", p.grad is not None)))
    h.register_hook(lambda g: order.append(("h", None)) or g)
    y.backward()
    assert order == [("w2", True), ("h", None), ("w1", True)]


def test_gradcheck_perturbs_non_contiguous_inputs():
    x = ndgrad.from_numpy(np.random.randn(3, 4)).t().requires_grad_()
    assert not x.is_contiguous()
    assert ndgrad.autograd.gradcheck(lambda t: (t * 2).sin(), [x])

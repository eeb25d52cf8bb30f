"""In-place relu / leaky_relu / hardtanh (ops/inplace_activations.py): one pass into the input's
memory, gradients from the result. Compared with torch: values, gradients, double backward, the
version-check error, views (CopySlices) and the leaf error."""
import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, check_higher_order, check_op, to_numpy

TF, NF = torch.nn.functional, ndgrad.nn.functional


def _lib(t):
    return (torch, TF) if isinstance(t, torch.Tensor) else (ndgrad, NF)


# each takes the input and applies an in-place activation to a non-leaf made from it
INPLACE = {
    "relu_method": lambda x: (x * 1.5).relu_(),
    "F.relu_inplace": lambda x: _lib(x)[1].relu(x * 1.5, inplace=True),
    "F.relu_": lambda x: _lib(x)[1].relu_(x * 1.5),
    "nn.ReLU_inplace": lambda x: _lib(x)[0].nn.ReLU(inplace=True)(x * 1.5),
    "F.leaky_relu_0.2": lambda x: _lib(x)[1].leaky_relu(x * 1.5, 0.2, inplace=True),
    "F.leaky_relu_0": lambda x: _lib(x)[1].leaky_relu(x * 1.5, 0.0, inplace=True),
    "F.leaky_relu_": lambda x: _lib(x)[1].leaky_relu_(x * 1.5, 0.1),
    "nn.LeakyReLU_inplace": lambda x: _lib(x)[0].nn.LeakyReLU(0.2, inplace=True)(x * 1.5),
    "F.hardtanh_inplace": lambda x: _lib(x)[1].hardtanh(x * 1.5, -0.5, 1.0, inplace=True),
    "F.hardtanh_": lambda x: _lib(x)[1].hardtanh_(x * 1.5),
    "F.relu6_inplace": lambda x: _lib(x)[1].relu6(x * 4.0, inplace=True),
    "nn.ReLU6_inplace": lambda x: _lib(x)[0].nn.ReLU6(inplace=True)(x * 4.0),
}
# PyTorch's hardtanh_ saves what its gradient needs, so a later change of its result is allowed
HARDTANH_FAMILY = {name for name in INPLACE if "tanh" in name or "6" in name}
SHAPES = [(), (0, 3), (1, 4), (3, 4, 5)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(INPLACE))
def test_values_and_grads(name, shape):
    fn = INPLACE[name]
    check_op([shape], lambda x: fn(x) * 2.0)  # a later op reads the result, as in a real model


@pytest.mark.parametrize("name", list(INPLACE))
def test_noncontiguous_and_float32(name):
    fn = INPLACE[name]
    check_op([(4, 6)], fn, contiguous=False)
    check_op([(3, 5)], fn, dtype="float32")


@pytest.mark.parametrize("name", list(INPLACE))
def test_nan_keeps_torch_gradient_rule(name):
    # 8 elements: torch's hardtanh backward treats NaN by its vectorised rule only in whole vectors
    data = np.array([[-1.0, np.nan, 0.0, 2.0, 0.3, -0.2, 5.0, np.nan]])
    check_op([data], INPLACE[name])


@pytest.mark.parametrize("name", list(INPLACE))
def test_double_backward(name):
    fn = INPLACE[name]
    check_higher_order([(3, 4)], lambda x: fn(x * x) * x, order=2)


@pytest.mark.parametrize("name", list(INPLACE))
def test_gradcheck_float64(name):
    fn = INPLACE[name]
    x = ndgrad.tensor(np.random.default_rng(1).uniform(-2, 2, (3, 4)) + 0.05, requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda t: fn(t) * t, (x,))


@pytest.mark.parametrize("saved_by_next_op", [False, True])
@pytest.mark.parametrize("name", list(INPLACE))
def test_later_inplace_change_raises_version_error(name, saved_by_next_op):
    def run(x):
        out = INPLACE[name](x)
        y = out * out if saved_by_next_op else out * 2.0  # else only the activation's backward needs out
        out.add_(1.0)  # changes it afterwards
        y.sum().backward()
    if name in HARDTANH_FAMILY and not saved_by_next_op:
        # PyTorch's hardtanh_ keeps what its gradient needs: no error, and the gradient stays right
        check_op([(3, 4)], lambda x: INPLACE[name](x).add_(1.0) * 2.0)
        return
    check_error(lambda: run(ndgrad.randn(3, 4, requires_grad=True)), "modified by an in-?place operation",
                torch_fn=lambda: run(torch.randn(3, 4, requires_grad=True)))


@pytest.mark.parametrize("name", list(INPLACE))
def test_output_changed_under_no_grad_raises(name):
    def run(lib, x):
        out = INPLACE[name](x)
        with lib.no_grad():
            out.mul_(3.0)
        out.sum().backward()
    if name in HARDTANH_FAMILY:
        def changed(x):
            out = INPLACE[name](x)
            with _lib(x)[0].no_grad():
                out.mul_(3.0)
            return out
        check_op([(3, 4)], changed)
        return
    check_error(lambda: run(ndgrad, ndgrad.randn(3, 4, requires_grad=True)), "modified by an in",
                torch_fn=lambda: run(torch, torch.randn(3, 4, requires_grad=True)))


@pytest.mark.parametrize("name", list(INPLACE))
def test_input_needed_by_earlier_op_raises(name):
    def run(x):
        z = x.exp()
        out = _inplace_on_view(name, z)  # exp's backward saved z, which the activation overwrites
        out.sum().backward()
    check_error(lambda: run(ndgrad.randn(3, 4, requires_grad=True)), "modified by an in",
                torch_fn=lambda: run(torch.randn(3, 4, requires_grad=True)))


@pytest.mark.parametrize("name", list(INPLACE))
def test_view_of_a_tensor_rewrites_base_history(name):
    def fn(x):
        base = x * 1.0
        _inplace_on_view(name, base[:, 1:3])
        return base * 2.0
    check_op([(3, 5)], fn)


def _inplace_on_view(name, t):
    """The activation family of ``name``, applied in place to ``t`` itself (not to a copy of it)."""
    F = _lib(t)[1]
    if "leaky" in name.lower():
        return F.leaky_relu_(t, 0.2)
    if "hardtanh" in name or "relu6" in name.lower():
        return F.hardtanh_(t, 0.0, 6.0)
    return t.relu_()


def test_leaf_that_requires_grad_raises():
    for name in ("relu_", "leaky_relu_", "hardtanh_"):
        check_error(lambda: getattr(NF, name)(ndgrad.randn(3, requires_grad=True)), "leaf",
                    torch_fn=lambda: getattr(TF, name)(torch.randn(3, requires_grad=True)))


def test_writes_in_place_without_graph_and_bumps_version():
    for fn in (lambda t: t.relu_(), lambda t: _lib(t)[1].leaky_relu_(t, 0.1), lambda t: _lib(t)[1].hardtanh_(t)):
        base = ndgrad.tensor(np.linspace(-2, 2, 12).reshape(3, 4))
        view = base[1]
        before = base._version
        out = fn(base)
        assert out is base and base._version == before + 1
        expected = fn(torch.tensor(np.linspace(-2, 2, 12).reshape(3, 4)))
        np.testing.assert_array_equal(to_numpy(view), expected[1].numpy())  # the view sees the write
        with ndgrad.no_grad():
            x = ndgrad.randn(3, requires_grad=True)
            assert fn(x) is x


def test_small_model_with_inplace_activations_matches_torch():
    torch.manual_seed(0)

    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                             nn.Conv2d(4, 4, 3), nn.LeakyReLU(0.2, inplace=True), nn.Flatten(),
                             nn.Linear(4 * 4 * 4, 5), nn.ReLU6(inplace=True))
    t_model, n_model = build(torch), build(ndgrad)
    n_model.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in t_model.state_dict().items()})
    assert list(n_model.state_dict()) == list(t_model.state_dict())
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    t_x, n_x = torch.tensor(x, requires_grad=True), ndgrad.tensor(x, requires_grad=True)
    t_out, n_out = t_model(t_x), n_model(n_x)
    np.testing.assert_allclose(to_numpy(n_out), t_out.detach().numpy(), atol=1e-5, rtol=1e-5)
    w = np.random.default_rng(3).standard_normal(tuple(t_out.shape)).astype(np.float32)
    (t_out * torch.tensor(w)).sum().backward()
    (n_out * ndgrad.tensor(w)).sum().backward()
    np.testing.assert_allclose(to_numpy(n_x.grad), t_x.grad.numpy(), atol=1e-4, rtol=1e-4)
    for (name, t_p), n_p in zip(t_model.named_parameters(), n_model.parameters()):
        np.testing.assert_allclose(to_numpy(n_p.grad), t_p.grad.numpy(), atol=1e-4, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("conv_output", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_eval_batch_norm_without_graph_matches_torch(affine, conv_output):
    """ops/nn.py's inference batch norm (one product and one in-place add when no graph is recorded)."""
    torch.manual_seed(1)
    t_bn = torch.nn.BatchNorm2d(4, affine=affine)
    with torch.no_grad():
        t_bn.running_mean.uniform_(-1, 1)
        t_bn.running_var.uniform_(0.5, 2)
        if affine:
            t_bn.weight.uniform_(0.5, 1.5)
            t_bn.bias.uniform_(-1, 1)
    t_bn.eval()
    n_bn = ndgrad.nn.BatchNorm2d(4, affine=affine)
    n_bn.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in t_bn.state_dict().items()})
    n_bn.eval()
    x = np.random.default_rng(4).standard_normal((3, 4, 5, 6)).astype(np.float32)
    n_x = ndgrad.tensor(x)
    if conv_output:  # a convolution's batch-last memory layout, which the result keeps
        n_x = ndgrad.tensor(np.ascontiguousarray(x.transpose(1, 2, 3, 0))).permute(3, 0, 1, 2)
    with ndgrad.no_grad():
        n_out = n_bn(n_x)
    with torch.no_grad():
        t_out = t_bn(torch.tensor(x))
    np.testing.assert_allclose(to_numpy(n_out), t_out.numpy(), atol=1e-6, rtol=1e-6)
    assert n_out._data.strides == n_x._data.strides and not n_out.requires_grad
    np.testing.assert_array_equal(to_numpy(n_x), x)  # the input is left as it was
    if affine:  # with a graph (eval-mode fine-tuning) the Tensor path runs: same values
        np.testing.assert_array_equal(to_numpy(n_bn(n_x)), to_numpy(n_out))

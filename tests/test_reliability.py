"""Issue 11: no silent wrong answers and no internal crashes on bad or extreme input.

One test per item of the issue (the reproducer, checked against PyTorch's result or for ndgrad's
own clear error, and that the inputs were left unchanged), then the sibling bugs found beside them.
"""
import gzip
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as NF
from ndgrad.autograd import gradcheck
from oracle import check_error, check_op, to_numpy

NAN = float("nan")


def both(values, dtype="float32", requires_grad=False):
    """The same values as a torch and an ndgrad tensor."""
    a = np.asarray(values, dtype=dtype)
    t = torch.from_numpy(a.copy()).requires_grad_(requires_grad)
    n = ndgrad.from_numpy(a.copy()).requires_grad_(requires_grad)
    return t, n


def same(nd_tensor, torch_tensor, atol=0.0, rtol=0.0):
    """Values, shape and dtype equal to torch's (NaN matches NaN)."""
    assert str(nd_tensor.dtype).split(".")[-1] == str(torch_tensor.dtype).split(".")[-1]
    want = torch_tensor.detach().float().numpy() if torch_tensor.dtype == torch.bfloat16 \
        else torch_tensor.detach().numpy()
    got = to_numpy(nd_tensor).astype(np.float32) if torch_tensor.dtype == torch.bfloat16 else to_numpy(nd_tensor)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), atol=atol, rtol=rtol,
                               equal_nan=True)


def grads_match(fn, values, dtype="float32", atol=1e-6, rtol=1e-5):
    """fn(x) and d sum(fn(x)) / dx in both libraries, compared; the input must not change."""
    t, n = both(values, dtype, requires_grad=True)
    before = to_numpy(n).copy()
    t_out, n_out = fn(t, torch), fn(n, ndgrad)
    same(n_out, t_out, atol, rtol)
    t_out.sum().backward()
    n_out.sum().backward()
    same(n.grad, t.grad, atol, rtol)
    np.testing.assert_array_equal(to_numpy(n), before)


# =============================================================================================
# 1. float16 / bfloat16: reductions and normalisations accumulate in float32
# =============================================================================================
HALF = ["float16", "bfloat16"]


def half(values, name, requires_grad=False):
    t = torch.tensor(values, dtype=getattr(torch, name), requires_grad=requires_grad)
    n = ndgrad.tensor(values, dtype=getattr(ndgrad, name), requires_grad=requires_grad)
    return t, n


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("op", [
    lambda x, lib: x.mean(),
    lambda x, lib: x.sum(),
    lambda x, lib: x.std(),
    lambda x, lib: x.var(),
    lambda x, lib: x.norm(),
    lambda x, lib: x.norm(p=3),
    lambda x, lib: x.logsumexp(0),
    lambda x, lib: x.std(0, keepdim=True),
], ids=["mean", "sum", "std", "var", "norm", "norm3", "logsumexp", "std_dim"])
def test_float16_reductions_accumulate_in_float32(name, op):
    for values in ([1e4] * 10, [1e4, -1e4], [1e4, 1e4, 3.0]):
        t, n = half(values, name)
        same(op(n, ndgrad), op(t, torch), rtol=1e-2)


@pytest.mark.parametrize("name", HALF)
def test_float16_norm_gradient_is_not_zero(name):
    t, n = half([1e4, 1e4, 3.0], name, requires_grad=True)
    t.norm().backward()
    n.norm().backward()
    same(n.grad, t.grad, atol=1e-3, rtol=1e-2)


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("case", ["layer_norm", "batch_norm", "group_norm", "normalize", "softmax", "log_softmax",
                                  "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy"])
def test_float16_normalisations_and_losses_accumulate_in_float32(name, case):
    rows = [[1e4, -1e4, 0.0], [3.0, 1e4, 1e4]]
    t, n = half(rows, name, requires_grad=True)
    labels = ([0, 2], [0, 2])
    calls = {
        "layer_norm": lambda x, F, lib: F.layer_norm(x, (3,)),
        "batch_norm": lambda x, F, lib: F.batch_norm(x.reshape(3, 2), None, None, training=True),
        "group_norm": lambda x, F, lib: F.group_norm(x.reshape(2, 3, 1), 1),
        "normalize": lambda x, F, lib: F.normalize(x),
        "softmax": lambda x, F, lib: F.softmax(x * 1e-3, 1),
        "log_softmax": lambda x, F, lib: F.log_softmax(x * 1e-3, 1),
        "cross_entropy": lambda x, F, lib: F.cross_entropy(x * 1e-3, lib.tensor(labels[0])),
        "nll_loss": lambda x, F, lib: F.nll_loss(x, lib.tensor(labels[1])),
        "mse_loss": lambda x, F, lib: F.mse_loss(x * 1e-2, x * 0),
        "binary_cross_entropy": lambda x, F, lib: F.binary_cross_entropy((x * 1e-4).sigmoid(), x.detach() * 0 + 1),
    }
    t_out, n_out = calls[case](t, TF, torch), calls[case](n, NF, ndgrad)
    same(n_out, t_out, atol=2e-2, rtol=2e-2)
    weights = np.linspace(-1, 1, t_out.numel()).reshape(tuple(t_out.shape)).astype(np.float32)
    (t_out * torch.from_numpy(weights).to(t_out.dtype)).sum().backward()
    (n_out * ndgrad.from_numpy(weights).to(n_out.dtype)).sum().backward()
    # relative to the largest gradient, and never below one float16 subnormal step (6e-8)
    same(n.grad, t.grad, atol=max(2e-2 * float(t.grad.abs().max()), 6e-8), rtol=2e-2)


def test_float16_batch_norm_running_stats_and_eval():
    x = np.array([[1e4, 1.0], [-1e4, 3.0], [0.0, 5.0]], dtype=np.float16)
    tm, tv = torch.zeros(2), torch.ones(2)
    nm, nv = ndgrad.zeros(2), ndgrad.ones(2)
    TF.batch_norm(torch.from_numpy(x), tm, tv, training=True)
    NF.batch_norm(ndgrad.from_numpy(x), nm, nv, training=True)
    same(nm, tm, rtol=1e-3)
    same(nv, tv, rtol=1e-3)
    same(NF.batch_norm(ndgrad.from_numpy(x), nm, nv), TF.batch_norm(torch.from_numpy(x), tm, tv), rtol=1e-2)


# =============================================================================================
# 2. binary_cross_entropy on saturated sigmoids: gradient 0, not NaN
# =============================================================================================
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("targets", [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
def test_bce_saturated_logits_give_finite_gradients(dtype, targets):
    t, n = both([1e4, -1e4], dtype, requires_grad=True)
    tt, nt = both(targets, dtype)
    TF.binary_cross_entropy(t.sigmoid(), tt).backward()
    NF.binary_cross_entropy(n.sigmoid(), nt).backward()
    assert np.isfinite(to_numpy(n.grad)).all()
    same(n.grad, t.grad, atol=1e-6)


def test_bce_matches_torch_and_gradchecks():
    x = np.random.uniform(0.05, 0.95, (3, 4))
    y = np.random.uniform(0, 1, (3, 4))
    check_op([x, y], TF.binary_cross_entropy, NF.binary_cross_entropy)
    check_op([x, y, np.random.uniform(0.5, 2, (4,))], lambda a, b, w: TF.binary_cross_entropy(a, b, w),
             lambda a, b, w: NF.binary_cross_entropy(a, b, w), grad=False)
    xs = ndgrad.from_numpy(x).requires_grad_()
    ys = ndgrad.from_numpy(y).requires_grad_()
    assert gradcheck(lambda a, b: NF.binary_cross_entropy(a, b, reduction="none"), (xs, ys))


# =============================================================================================
# 3. normalize of an all-zero row: finite gradient (PyTorch's eps clamp)
# =============================================================================================
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_normalize_zero_row_gradient_is_finite(p):
    rows = [[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]]
    grads_match(lambda x, lib: (NF if lib is ndgrad else TF).normalize(x, p=p) * 2.0, rows, rtol=1e-5)


def test_pnorm_gradient_at_zero_is_zero():
    grads_match(lambda x, lib: x.norm(p=3, dim=1), [[0.0, 0.0], [1.0, 2.0]], dtype="float64")


# =============================================================================================
# 4. gelu keeps float16
# =============================================================================================
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("name", HALF + ["float32", "float64"])
def test_gelu_keeps_the_input_dtype(approximate, name):
    t, n = half([-3.0, -0.5, 0.0, 0.7, 4.0], name, requires_grad=True)
    t_out, n_out = TF.gelu(t, approximate=approximate), NF.gelu(n, approximate=approximate)
    same(n_out, t_out, atol=1e-2, rtol=1e-2)
    t_out.sum().backward()
    n_out.sum().backward()
    same(n.grad, t.grad, atol=1e-2, rtol=1e-2)


def test_erf_keeps_float16():
    from ndgrad.ops.activation import erf
    assert erf(ndgrad.ones(3, dtype=ndgrad.float16)).dtype == ndgrad.float16


# =============================================================================================
# 5. embedding: negative indices are refused
# =============================================================================================
@pytest.mark.parametrize("index", [[-1], [0, -3], [3]])
def test_embedding_refuses_negative_and_too_large_indices(index):
    weight = ndgrad.ones(3, 2)
    idx = ndgrad.tensor(index)
    check_error(lambda: NF.embedding(idx, weight), r"embedding: index -?\d+ is out of range",
                IndexError, torch_fn=lambda: TF.embedding(torch.tensor(index), torch.ones(3, 2)))
    layer = ndgrad.nn.Embedding(3, 2)
    with pytest.raises(IndexError, match="out of range"):
        layer(idx)
    assert idx.tolist() == index


# =============================================================================================
# 6. .grad assignment is checked
# =============================================================================================
@pytest.mark.parametrize("value,match,exc", [
    (lambda: ndgrad.ones(2), r"gradient of size \[2\] .* shape \(2, 2\)", RuntimeError),
    (lambda: ndgrad.ones(3, 3), r"gradient of size \[3, 3\]", RuntimeError),
    (lambda: ndgrad.ones(2, 2, dtype=ndgrad.float64), r"dtype ndgrad.float64 .*float32", RuntimeError),
    (lambda: ndgrad.ones(2, 2, dtype=ndgrad.int64), r"dtype ndgrad.int64", RuntimeError),
    (lambda: [[1.0, 1.0], [1.0, 1.0]], r"expected to be a Tensor or None but got grad of type list", TypeError),
])
def test_grad_assignment_is_checked(value, match, exc):
    w = ndgrad.nn.Parameter(ndgrad.ones(2, 2))
    with pytest.raises(exc, match=match):
        w.grad = value()
    assert w.grad is None
    w.grad = ndgrad.full((2, 2), 3.0)  # a matching gradient is accepted, and None clears it
    assert w.grad.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    w.grad = None
    assert w.grad is None


def test_wrong_grad_never_reaches_the_optimizer():
    w = ndgrad.nn.Parameter(ndgrad.ones(2, 2))
    opt = ndgrad.optim.SGD([w], lr=0.1)
    with pytest.raises(RuntimeError, match="same size"):
        w.grad = ndgrad.ones(3, 3)
    opt.step()  # no gradient: nothing happens, no NumPy broadcast error
    assert w.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(RuntimeError, match="own grad"):
        w.grad = w


# =============================================================================================
# 7. integer division by zero raises; rounding_mode='trunc' on integers works
# =============================================================================================
INT_DIVISIONS = {
    "floordiv": lambda a, b, lib: a // b,
    "mod": lambda a, b, lib: a % b,
    "fmod": lambda a, b, lib: lib.fmod(a, b),
    "remainder": lambda a, b, lib: lib.remainder(a, b),
    "floor_divide": lambda a, b, lib: lib.floor_divide(a, b),
    "div_floor": lambda a, b, lib: lib.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda a, b, lib: lib.div(a, b, rounding_mode="trunc"),
}


@pytest.mark.parametrize("op", INT_DIVISIONS.values(), ids=INT_DIVISIONS.keys())
@pytest.mark.parametrize("divisor", [lambda lib: lib.tensor([2, 0]), lambda lib: 0], ids=["tensor", "scalar"])
def test_integer_division_by_zero_raises(op, divisor):
    a = ndgrad.tensor([7, -7])
    error = check_error(lambda: op(a, divisor(ndgrad), ndgrad), "ZeroDivisionError", ZeroDivisionError,
                        torch_fn=lambda: op(torch.tensor([7, -7]), divisor(torch), torch))
    assert isinstance(error, RuntimeError)  # PyTorch raises RuntimeError("ZeroDivisionError"): both catch it
    assert a.tolist() == [7, -7]


def test_integer_inplace_division_by_zero_raises():
    a = ndgrad.tensor([7, -7])
    with pytest.raises(ZeroDivisionError):
        a //= 0
    with pytest.raises(ZeroDivisionError):
        a %= ndgrad.tensor([1, 0])
    assert a.tolist() == [7, -7]


@pytest.mark.parametrize("op", INT_DIVISIONS.values(), ids=INT_DIVISIONS.keys())
@pytest.mark.parametrize("dtypes", [("int64", "int64"), ("int32", "int64"), ("int16", "uint8")])
def test_integer_division_matches_torch(op, dtypes):
    a = np.array([7, -7, 6, -6, 0, 5, -1], dtype=dtypes[0])
    b = np.array([2, 2, -4, -4, 3, 5, 3])
    b = (np.abs(b) if dtypes[1] == "uint8" else b).astype(dtypes[1])
    check_op([a, b], lambda x, y: op(x, y, torch), lambda x, y: op(x, y, ndgrad), grad=False)


def test_float_division_by_zero_still_gives_inf():
    check_op([np.array([1.0, -1.0, 0.0]), np.array([0.0, 0.0, 0.0])], lambda x, y: x // y, grad=False)
    check_op([np.array([5, -3])], lambda x: x / 0, grad=False)


# =============================================================================================
# 8. NaN propagation in gradients
# =============================================================================================
NAN_GRADS = {
    "max": lambda x, lib: x.max(),
    "min": lambda x, lib: x.min(),
    "max_dim": lambda x, lib: x.reshape(1, -1).max(1)[0],
    "amax": lambda x, lib: x.amax(),
    "relu": lambda x, lib: lib.relu(x),
    "relu_method": lambda x, lib: x.relu(),
    "hardtanh": lambda x, lib: (NF if lib is ndgrad else TF).hardtanh(x),
    "relu6": lambda x, lib: (NF if lib is ndgrad else TF).relu6(x),
    "elu": lambda x, lib: (NF if lib is ndgrad else TF).elu(x),
    "leaky_relu": lambda x, lib: (NF if lib is ndgrad else TF).leaky_relu(x),
    "clamp": lambda x, lib: x.clamp(0.0, 2.0),
    "maximum": lambda x, lib: lib.maximum(x, x.flip(0)),
    "minimum": lambda x, lib: lib.minimum(x, x.flip(0) * 0.5),
    "max_pool1d": lambda x, lib: (NF if lib is ndgrad else TF).max_pool1d(x.reshape(1, 1, -1), 2),
    "max_pool1d_overlap": lambda x, lib: (NF if lib is ndgrad else TF).max_pool1d(x.reshape(1, 1, -1), 3, 1),
    "max_pool1d_whole": lambda x, lib: (NF if lib is ndgrad else TF).max_pool1d(x.reshape(1, 1, -1), 6),
}


@pytest.mark.parametrize("op", NAN_GRADS.values(), ids=NAN_GRADS.keys())
@pytest.mark.parametrize("values", [[1.0, NAN, 3.0, -2.0, 0.5, 3.0], [NAN, 1.0, 3.0, NAN, -1.0, 2.0]],
                         ids=["one_nan", "two_nans"])
def test_nan_gradients_match_torch(op, values):
    # 64 values: PyTorch's vectorised CPU kernels handle them all (its scalar tail loop treats NaN
    # differently in hardtanh, so a tensor of a few elements would test that loop instead)
    grads_match(op, values + [0.5, -4.0, 2.0, -0.25] * 14 + [1.0, -1.0])


def test_max_pool_return_indices_with_nan():
    x = [[[1.0, NAN, 3.0, NAN], [NAN, 1.0, 3.0, NAN]]]
    for k, s in ((4, 4), (2, 2), (3, 1)):
        t_out, t_idx = TF.max_pool1d(torch.tensor(x), k, s, return_indices=True)
        n_out, n_idx = NF.max_pool1d(ndgrad.tensor(x), k, s, return_indices=True)
        same(n_out, t_out)
        assert n_idx.tolist() == t_idx.tolist()


# =============================================================================================
# 9. accepted where PyTorch refuses; hooks inside autograd.grad
# =============================================================================================
@pytest.mark.parametrize("target", [[2.0], [-0.5], [NAN]])
def test_bce_refuses_targets_outside_0_1(target):
    x, t = ndgrad.tensor([0.5]), ndgrad.tensor(target)
    check_error(lambda: NF.binary_cross_entropy(x, t), "all elements of target should be between 0 and 1",
                ValueError, torch_fn=lambda: TF.binary_cross_entropy(torch.tensor([0.5]), torch.tensor(target)))
    np.testing.assert_array_equal(to_numpy(t), np.array(target, dtype=np.float32))


@pytest.mark.parametrize("value", [1.5, -0.1, NAN])
def test_bce_refuses_inputs_outside_0_1(value):
    check_error(lambda: NF.binary_cross_entropy(ndgrad.tensor([value]), ndgrad.tensor([1.0])),
                "all elements of input should be between 0 and 1", ValueError,
                torch_fn=lambda: TF.binary_cross_entropy(torch.tensor([value]), torch.tensor([1.0])))


@pytest.mark.parametrize("fn,args", [
    ("linear", [((2, 3), "float64"), ((4, 3), "float32")]),
    ("linear", [((2, 3), "float32"), ((4, 3), "float32"), ((4,), "float64")]),
    ("conv1d", [((1, 2, 5), "float64"), ((3, 2, 2), "float32")]),
    ("conv2d", [((1, 2, 5, 5), "float32"), ((3, 2, 2, 2), "float16")]),
])
def test_mixed_float_dtypes_are_refused(fn, args):
    nd = [ndgrad.zeros(*shape, dtype=getattr(ndgrad, dt)) for shape, dt in args]
    th = [torch.zeros(*shape, dtype=getattr(torch, dt)) for shape, dt in args]
    check_error(lambda: getattr(NF, fn)(*nd), [fn, "same dtype", "float"], RuntimeError,
                torch_fn=lambda: getattr(TF, fn)(*th))


def test_leaf_hook_fires_inside_autograd_grad():
    for lib in (torch, ndgrad):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        calls = []
        x.register_hook(lambda g: calls.append(1) or g * 10)
        (g,) = lib.autograd.grad((x * x).sum() + (x * 3).sum(), x)
        assert g.tolist() == [50.0, 70.0]
        assert calls == [1]  # once, on the summed gradient


def test_nonleaf_hook_result_is_what_autograd_grad_returns():
    for lib in (torch, ndgrad):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        x.register_hook(lambda g: g * 10)
        assert lib.autograd.grad((x * x).sum(), x, retain_graph=True)[0].tolist() == [20.0, 40.0]
        assert lib.autograd.grad((x * x).sum(), a)[0].tolist() == [20.0, 40.0]


def test_unrequested_leaf_hooks_do_not_fire_in_autograd_grad():
    x = ndgrad.tensor([1.0], requires_grad=True)
    y = ndgrad.tensor([2.0], requires_grad=True)
    calls = []
    y.register_hook(lambda g: calls.append(g))
    ndgrad.autograd.grad((x * y).sum(), x)
    assert calls == [] and y.grad is None


def test_leaf_hook_in_backward_sees_the_total_once():
    for lib in (torch, ndgrad):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(g.tolist()))
        (x * 2 + x * x).sum().backward()
        assert seen == [[4.0, 6.0]]


# =============================================================================================
# Internal crashes
# =============================================================================================
def test_0d_float64_chain_backward_stays_on_the_cpu():
    def chain(x, lib, F):
        return lib.log(F.softplus(lib.sigmoid(x) - x) + 0.1) + lib.tanh(x) + F.relu(x) + F.gelu(x) + F.silu(x) \
            + F.elu(x) + F.mish(x) + F.leaky_relu(x) + F.logsigmoid(x)
    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    n = ndgrad.tensor(0.3, dtype=ndgrad.float64, requires_grad=True)
    t_out, n_out = chain(t, torch, TF), chain(n, ndgrad, NF)
    assert isinstance(n_out._data, np.ndarray) and n_out.shape == ()
    t_out.backward()
    n_out.backward()
    assert isinstance(n.grad._data, np.ndarray)
    same(n.grad, t.grad, rtol=1e-10)


def test_fused_backward_kernels_take_numpy_scalars():
    from ndgrad.backend import fused
    g, y = np.float64(2.0), np.float64(0.5)
    assert fused.relu_backward(g, y) == 2.0
    assert fused.sigmoid_backward(g, y) == 0.5
    assert fused.tanh_backward(g, y) == 1.5


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape,dim", [((0, 3), 0), ((0, 3), 1), ((2, 0), 1), ((0,), 0)])
def test_softmax_of_empty_tensors(fn, shape, dim):
    check_op([shape], lambda x: getattr(TF, fn)(x, dim), lambda x: getattr(NF, fn)(x, dim))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_of_empty_dimension(name):
    x = ndgrad.ones(0, 3)
    check_error(lambda: getattr(x, name)(0), [name, "dim 0", "non-zero size"], IndexError,
                torch_fn=lambda: getattr(torch.ones(0, 3), name)(0))
    check_error(lambda: getattr(x, name)(), [name, "dim to be specified"], IndexError,
                torch_fn=lambda: getattr(torch.ones(0, 3), name)())
    check_op([(0, 3)], lambda t: getattr(t, name)(1), grad=False)
    check_op([(0, 3)], lambda t: getattr(t, name)(1, keepdim=True), grad=False)


@pytest.mark.parametrize("op", ["add_", "mul_", "relu_", "copy_", "clamp_", "sub_"])
def test_inplace_on_expanded_tensor_refuses_with_torchs_message(op):
    calls = {"add_": lambda e: e.add_(1), "mul_": lambda e: e.mul_(2), "relu_": lambda e: e.relu_(),
             "copy_": lambda e, lib=None: e.copy_(e * 0), "uniform_": lambda e: e.uniform_(),
             "normal_": lambda e: e.normal_(), "clamp_": lambda e: e.clamp_(0, 0.5), "sub_": lambda e: e.sub_(1)}
    base = ndgrad.ones(1, 3)
    check_error(lambda: calls[op](base.expand(2, 3)), [op, "more than one element of the written-to tensor",
                                                       r"clone\(\)"], RuntimeError,
                torch_fn=lambda: calls[op](torch.ones(1, 3).expand(2, 3)))
    assert base.tolist() == [[1.0, 1.0, 1.0]]


@pytest.mark.parametrize("op", ["fill_", "zero_"])
def test_fill_and_zero_of_expanded_tensor_write_into_the_base(op):
    results = []
    for lib in (torch, ndgrad):
        base = lib.ones(2, 1, 3)
        view = base[1:].expand(1, 4, 3)
        getattr(view, op)(*((7.0,) if op == "fill_" else ()))
        results.append((base.tolist(), view.tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("dim", [1.0, "1", [0, 1.5], None])
def test_reduction_dim_of_the_wrong_type(dim):
    x = ndgrad.ones(2, 3)
    if dim is None:
        assert x.sum(dim).item() == 6.0
        return
    for name in ("sum", "mean", "amax", "std", "logsumexp"):
        check_error(lambda: getattr(x, name)(dim), [name, "dim must be an int or a tuple of ints"], TypeError,
                    torch_fn=lambda: getattr(torch.ones(2, 3), name)(dim))


# -- checkpoints -------------------------------------------------------------------------------
def _raw_checkpoint(structure_text):
    header = json.dumps({"__metadata__": {"ndgrad.format": "1", "ndgrad.structure": structure_text}}).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header


@pytest.mark.parametrize("structure", [
    "[" * 5000 + "]" * 5000,
    '{"list":[' * 5000 + '{"value":1}' + "]}" * 5000,
    '{"list":[' * 600 + '{"value":1}' + "]}" * 600,
    json.dumps({"tensor": [1]}),
    json.dumps({"dict": [["w", {"tensor": {"a": 1}}]]}),
], ids=["deep_json", "deep_structure", "rebuild_depth", "list_key", "dict_key"])
def test_load_hostile_structures_gives_checkpoint_errors(tmp_path, structure):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(_raw_checkpoint(structure))
    with pytest.raises(ndgrad.io.CheckpointError, match=str(path)):
        ndgrad.load(str(path))


def test_load_a_directory_gives_a_checkpoint_error(tmp_path):
    with pytest.raises(ndgrad.io.CheckpointError, match=rf"{tmp_path}' is a directory"):
        ndgrad.load(str(tmp_path))


_SAVE_IN_A_FRESH_PROCESS = """
import sys, ndgrad
ndgrad.manual_seed(0)
model = ndgrad.nn.Sequential(ndgrad.nn.Linear(3, 4), ndgrad.nn.ReLU(), ndgrad.nn.Linear(4, 2))
opt = ndgrad.optim.Adam(model.parameters())
model(ndgrad.ones(5, 3)).sum().backward()
opt.step()
ndgrad.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
             "config": {"lr": 1e-3, "name": "x", "z": None, "a": [1, 2]}}, sys.argv[1])
"""


def test_checkpoints_of_equal_states_are_equal_bytes(tmp_path):
    # separate processes: hash-map order inside the safetensors library changes per process
    paths = [str(tmp_path / f"ckpt{i}.safetensors") for i in range(2)]
    for p in paths:
        subprocess.run([sys.executable, "-c", _SAVE_IN_A_FRESH_PROCESS, p], check=True,
                       env=dict(os.environ, PYTHONHASHSEED="random"))
    data = [open(p, "rb").read() for p in paths]
    assert data[0] == data[1]
    loaded = ndgrad.load(paths[0])
    assert loaded["epoch"] == 3 and loaded["config"]["a"] == [1, 2]
    # still a plain safetensors file for other readers
    from safetensors.numpy import load
    flat = load(data[0])
    assert set(flat) == {k for k in _flat_keys(loaded)}


def _flat_keys(obj, prefix=""):
    if isinstance(obj, ndgrad.Tensor):
        yield prefix
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flat_keys(v, f"{prefix}.{k}" if prefix else str(k))


def test_save_roundtrip_of_every_dtype(tmp_path):
    state = {name: ndgrad.arange(6).reshape(2, 3).to(getattr(ndgrad, name))
             for name in ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
                          "uint8", "bool")}
    state["scalar"] = ndgrad.tensor(2.5)
    buf = io.BytesIO()
    ndgrad.save(state, buf)
    back = ndgrad.load(io.BytesIO(buf.getvalue()))
    for k, v in state.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(to_numpy(back[k]).astype(np.float64), to_numpy(v).astype(np.float64))


# -- IDX reader -----------------------------------------------------------------------------------
def _idx_header(dims, code=0x08):
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def test_idx_header_whose_size_overflows_int64(tmp_path):
    from ndgrad.data.datasets import IDXError, read_idx
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(_idx_header([2 ** 31, 2 ** 31, 4]) + b"\x00" * 10)
    expected = 2 ** 31 * 2 ** 31 * 4
    with pytest.raises(IDXError, match=rf"truncated: header says shape \(2147483648, 2147483648, 4\) "
                                       rf"\({expected} bytes of data\), but the file has only 10 bytes"):
        read_idx(str(path))


def test_idx_gzip_bomb_is_refused_after_the_announced_bytes(tmp_path):
    from ndgrad.data.datasets import IDXError, read_idx
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:  # 1568 bytes announced, then 80 MiB of zeros
        f.write(_idx_header([2, 28, 28]) + bytes(2 * 28 * 28))
        for _ in range(80):
            f.write(bytes(2 ** 20))
    assert path.stat().st_size < 2 ** 20
    with pytest.raises(IDXError, match=r"corrupt: header says shape \(2, 28, 28\) \(1568 bytes of data\), but "
                                       r"the file has at least \d+ bytes after the header \(at least \d+ extra\)"):
        read_idx(str(path))


def test_idx_stream_reads_valid_gzip_and_raw(tmp_path):
    from ndgrad.data.datasets import read_idx
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name, data in (("a.gz", gzip.compress(_idx_header([2, 3, 4]) + arr.tobytes())),
                       ("b", _idx_header([2, 3, 4]) + arr.tobytes())):
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(read_idx(str(tmp_path / name)), arr)


# -- command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,message", [
    (["demo", "--steps", "-1"], "--steps must be at least 1, got -1"),
    (["demo", "--steps", "0"], "--steps must be at least 1"),
    (["demo", "--lr", "-1"], "--lr must be a positive finite number, got -1.0"),
    (["demo", "--lr", "nan"], "--lr must be a positive finite number, got nan"),
    (["demo", "--seed", "-4"], "--seed must be in"),
    (["train", "digits", "--limit", "0"], "--limit must be at least 1, got 0"),
    (["train", "digits", "--limit", "-5"], "--limit must be at least 1, got -5"),
    (["train", "digits", "--lr", "inf"], "--lr must be a positive finite number"),
    (["train", "digits", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["train", "digits", "--epochs", "-2"], "--epochs must be at least 1"),
])
def test_cli_bad_numbers_exit_2_with_one_line(argv, message, capsys):
    from ndgrad.cli import main
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv,message", [
    (["demo", "--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
    (["train", "cifar"], "invalid choice: 'cifar'"),
    (["train", "digits", "--limit", "x"], "argument --limit: invalid int value: 'x'"),
])
def test_cli_unparsable_arguments_exit_2_with_one_line(argv, message, capsys):
    from ndgrad.cli import main
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "--help" in err


@pytest.mark.parametrize("command", [["demo"], ["train", "digits"]])
def test_cli_out_under_a_file_exits_2_before_any_work(tmp_path, command, capsys):
    from ndgrad.cli import main
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        assert main(command + ["--out", str(out)]) == 2
        stdout, err = capsys.readouterr()
        assert stdout == ""  # nothing was fitted or printed before the check
        assert err.count("\n") == 1 and "--out" in err and "not a folder" in err


# =============================================================================================
# Siblings: the same root causes elsewhere (several found by tests/test_fuzz.py)
# =============================================================================================
SIBLINGS = {
    # sqrt of a zero variance: inf * 0 = nan where PyTorch's std gradient is 0
    "std_constant_row": (lambda x, lib: x.std(1), [[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]),
    # var through mean(): inf - inf = nan on the (zero) mean path
    "var_with_inf": (lambda x, lib: x.var(), [2.0, float("inf"), 1.0]),
    "var_one_element": (lambda x, lib: x.var(), [float("inf")]),
    # prod: PyTorch divides the result by each input when there is no zero
    "prod_nan": (lambda x, lib: x.prod(), [2.0, NAN, 3.0]),
    "prod_inf_dim": (lambda x, lib: x.prod(1), [[2.0, float("inf"), 3.0], [0.0, float("inf"), 3.0]]),
    "prod_0d_nan": (lambda x, lib: x.reshape(()).prod(), [NAN]),
    # sign(nan) is 0 in PyTorch, so abs' gradient at NaN is 0
    "sign_nan": (lambda x, lib: x.sign() + x, [NAN, -1.0, 0.0, 2.0]),
    "abs_nan": (lambda x, lib: x.abs(), [NAN, -1.0, 0.0, 2.0]),
    # softmax / log_softmax of a 0-d NaN or inf is NaN
    "softmax_0d": (lambda x, lib: x.reshape(()).softmax(0) + x.reshape(()).log_softmax(0), [NAN]),
    # a NaN gradient arriving at a selecting op stays at the selected positions
    "clamp_nan_grad": (lambda x, lib: x.clamp(0.0, 1.0) * lib.tensor([NAN, 1.0, 1.0]), [-1.0, 0.5, 2.0]),
    "relu_nan_grad": (lambda x, lib: x.relu() * lib.tensor([NAN, 1.0, 1.0]), [-1.0, 0.5, 2.0]),
    "max_dim_nan_grad": (lambda x, lib: x.max(1)[0] * lib.tensor([NAN, 1.0]), [[1.0, 3.0], [4.0, 2.0]]),
    "max_all_nan_grad": (lambda x, lib: x.max() * lib.tensor(NAN), [1.0, 3.0, 2.0]),
    "max_pool_nan_grad": (lambda x, lib: (NF if lib is ndgrad else TF).max_pool1d(x.reshape(1, 1, -1), 2)
                          * lib.tensor([NAN, 1.0]), [1.0, 3.0, 4.0, 2.0]),
    "hardtanh_nan_grad": (lambda x, lib: (NF if lib is ndgrad else TF).hardtanh(x) * lib.tensor([NAN, 1.0, 1.0]),
                          [-2.0, 0.5, 2.0]),
    # float16: a / (b * b) overflows in the division's gradient; (a / b) / b does not
    "div_grad_float16": (lambda x, lib: lib.tensor([1e4], dtype=x.dtype) / x, [300.0]),
}


@pytest.mark.parametrize("case", SIBLINGS.values(), ids=SIBLINGS.keys())
def test_sibling_gradients_match_torch(case):
    fn, values = case
    grads_match(fn, values, dtype="float16" if fn is SIBLINGS["div_grad_float16"][0] else "float32", rtol=1e-3)


def test_grad_of_inputs_requested_twice_and_0d_results_are_arrays():
    x = ndgrad.tensor(2.0, requires_grad=True)
    for y in (x * 3, x.exp(), x.sigmoid(), x.tanh(), x.relu(), x.sum(), x.var(correction=0), x.amax()):
        assert isinstance(y._data, np.ndarray)
        (g,) = ndgrad.autograd.grad(y, x)
        assert isinstance(g._data, np.ndarray)


# =============================================================================================
# Also: import ndgrad does not import ml_dtypes
# =============================================================================================
def test_import_ndgrad_does_not_import_ml_dtypes():
    code = ("import sys, ndgrad; x = ndgrad.ones(3) * 2; repr(x); print('ml_dtypes' in sys.modules); "
            "y = ndgrad.ones(2, dtype=ndgrad.bfloat16); print('ml_dtypes' in sys.modules, y.dtype)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "ndgrad.bfloat16"]


@pytest.mark.parametrize("index, value, allowed", [
    (0, 5.0, True), (1, [1.0, 2.0, 3.0], True), ((0, slice(0, 2)), 9.0, True), ((slice(None), 1), 7.0, False)])
def test_setitem_on_an_expanded_view_writes_the_base_or_refuses_like_torch(index, value, allowed):
    base, tbase = ndgrad.ones(1, 3), torch.ones(1, 3)
    x, t = base.expand(2, 3), tbase.expand(2, 3)
    if not allowed:
        with pytest.raises(RuntimeError, match="more than one element"):
            t[index] = value
        with pytest.raises(RuntimeError, match=r"setitem.*more than one element.*expand"):
            x[index] = value
        assert base.tolist() == [[1.0, 1.0, 1.0]]
        return
    t[index] = torch.tensor(value) if isinstance(value, list) else value
    x[index] = ndgrad.tensor(value) if isinstance(value, list) else value
    assert base.tolist() == tbase.tolist() and x.tolist() == t.tolist()


@pytest.mark.parametrize("op", ["round", "floor", "ceil", "trunc"])
def test_rounding_bfloat16_rounds_like_torch(op):
    values = [1.26, -2.5, 0.5, 3.75, -0.4]
    ours = getattr(ndgrad, op)(ndgrad.tensor(values, dtype=ndgrad.bfloat16))
    theirs = getattr(torch, op)(torch.tensor(values, dtype=torch.bfloat16))
    assert ours.dtype == ndgrad.bfloat16
    assert ours.float().tolist() == theirs.float().tolist()


def test_float_edge_cases_are_silent_like_torch_but_numpy_code_keeps_its_warnings():
    import subprocess
    import sys
    code = ("import numpy as np, ndgrad\n"
            "x = ndgrad.tensor([0.0, 1.0, -1.0], requires_grad=True)\n"
            "y = ndgrad.log(x) + 1 / x + x / ndgrad.tensor([0.0, 2.0, 0.0])\n"
            "y.sum().backward()\n"
            "print(y.tolist(), x.grad.tolist())\n"
            "np.log(np.zeros(1))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "nan" in done.stdout and "inf" in done.stdout
    lines = [line for line in done.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(lines) == 1 and "<string>:6" in lines[0]   # only the user's own np.log(0)

"""ndgrad.nn.utils against torch.nn.utils: packed sequences, parametrize and the ready-made parametrizations,
the legacy weight/spectral norm hooks, gradient clipping, functional_call, fusion and the small helpers."""
import math

import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn as nn
from oracle import check_error, check_higher_order, check_op
from test_nn_modules import check_module, to_np

R = np.random.default_rng(99)
tu, nu = torch.nn.utils, nn.utils


def randn(*shape):
    return R.standard_normal(shape)


def same_state(tm, nm):
    """Copy torch's state_dict (parameters and buffers) into ndgrad after checking the keys agree."""
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: ndgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


# ------------------------------------------------------------------ rnn: pad / pack
PAD_CASES = {
    "time-major": ([(3, 2), (5, 2), (1, 2)], {}),
    "batch_first-value": ([(4,), (2,), (4,)], {"batch_first": True, "padding_value": -1.5}),
    "left": ([(2, 3, 2), (4, 3, 2)], {"padding_side": "left"}),
    "left-batch_first": ([(1, 2), (3, 2)], {"padding_side": "left", "batch_first": True}),
    "single": ([(3, 2)], {}),
    "empty-sequence": ([(0, 2), (2, 2)], {"batch_first": True}),
}


@pytest.mark.parametrize("name", list(PAD_CASES))
def test_pad_sequence_matches_torch(name):
    shapes, kw = PAD_CASES[name]
    check_op(shapes, lambda *xs: tu.rnn.pad_sequence(list(xs), **kw), lambda *xs: nu.rnn.pad_sequence(list(xs), **kw))


PACK_CASES = {
    "sorted": ((5, 3, 2), [5, 3, 1], {}),
    "unsorted": ((5, 4, 2), [2, 5, 1, 3], {"enforce_sorted": False}),
    "batch_first-unsorted-ties": ((3, 5, 2), [2, 5, 2], {"batch_first": True, "enforce_sorted": False}),
    "equal-lengths": ((4, 2, 3), [4, 4], {}),
    "one-sequence-3d-features": ((3, 1, 2, 2), [2], {}),
}


@pytest.mark.parametrize("name", list(PACK_CASES))
def test_pack_and_pad_packed_match_torch(name):
    shape, lengths, kw = PACK_CASES[name]

    def run(lib):
        def fn(x):
            packed = lib.rnn.pack_padded_sequence(x, lengths, **kw)
            padded, lens = lib.rnn.pad_packed_sequence(packed, batch_first=kw.get("batch_first", False),
                                                       padding_value=0.25)
            extra = [packed.sorted_indices, packed.unsorted_indices] if packed.sorted_indices is not None else []
            return [packed.data, packed.batch_sizes, padded, lens] + extra
        return fn
    check_op([shape], run(tu), run(nu))


def test_pad_packed_total_length_and_lengths_tensor():
    x = randn(3, 2, 2)
    outs = []
    for lib, T in ((tu, torch.tensor), (nu, ndgrad.tensor)):
        packed = lib.rnn.pack_padded_sequence(T(x), T(np.array([3, 2])))
        outs.append(lib.rnn.pad_packed_sequence(packed, total_length=5)[0])
    assert tuple(outs[1].shape) == (5, 2, 2)
    np.testing.assert_array_equal(to_np(outs[1]), to_np(outs[0]))


def test_pack_sequence_unpack_and_unpad_round_trip():
    seqs = [randn(3, 2), randn(5, 2), randn(1, 2)]
    t_packed = tu.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    n_packed = nu.rnn.pack_sequence([ndgrad.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(to_np(n_packed.data), to_np(t_packed.data))
    for got, want in zip(nu.rnn.unpack_sequence(n_packed), seqs):
        np.testing.assert_array_equal(to_np(got), want)
    padded = nu.rnn.pad_sequence([ndgrad.tensor(s) for s in seqs])
    for got, want in zip(nu.rnn.unpad_sequence(padded, ndgrad.tensor([3, 5, 1])), seqs):
        np.testing.assert_array_equal(to_np(got), want)
    padded_bf = nu.rnn.pad_sequence([ndgrad.tensor(s) for s in seqs], batch_first=True)
    assert [tuple(t.shape) for t in nu.rnn.unpad_sequence(padded_bf, [3, 5, 1], batch_first=True)] == \
        [(3, 2), (5, 2), (1, 2)]


def test_packed_sequence_is_a_namedtuple_that_moves():
    packed = nu.rnn.pack_sequence([ndgrad.randn(3, 2), ndgrad.randn(2, 2)])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert isinstance(packed, tuple) and packed._fields == tu.rnn.PackedSequence._fields
    assert batch_sizes.dtype == ndgrad.int64 and batch_sizes.tolist() == [2, 2, 1] and sorted_indices is None
    doubled = packed.double()
    assert isinstance(doubled, nu.rnn.PackedSequence) and doubled.data.dtype == ndgrad.float64
    assert doubled.batch_sizes is packed.batch_sizes and not packed.is_cuda
    assert packed.to("cpu") is packed
    np.testing.assert_array_equal(to_np(nu.rnn.invert_permutation(ndgrad.tensor([2, 0, 1]))), [1, 2, 0])


def test_rnn_utils_errors():
    x = ndgrad.randn(4, 3, 2)
    check_error(lambda: nu.rnn.pack_padded_sequence(x, [2, 4, 1]), "must be sorted in decreasing order", RuntimeError,
                torch_fn=lambda: tu.rnn.pack_padded_sequence(torch.randn(4, 3, 2), [2, 4, 1]))
    check_error(lambda: nu.rnn.pack_padded_sequence(x, [4, 2, 0]), "Length of all samples has to be greater than 0",
                RuntimeError, torch_fn=lambda: tu.rnn.pack_padded_sequence(torch.randn(4, 3, 2), [4, 2, 0]))
    check_error(lambda: nu.rnn.pad_packed_sequence(nu.rnn.pack_padded_sequence(x, [4, 2, 1]), total_length=3),
                "total_length to be at least the length of the longest sequence", ValueError)
    check_error(lambda: nu.rnn.pad_sequence([x[0]], padding_side="middle"), "one of left or right", ValueError,
                torch_fn=lambda: tu.rnn.pad_sequence([torch.randn(2)], padding_side="middle"))
    check_error(lambda: nu.rnn.pad_sequence([ndgrad.randn(2, 3), ndgrad.randn(2, 4)]),
                r"sequence 1 has shape \(2, 4\)", RuntimeError)


# ------------------------------------------------------------------ parametrize
class Symmetric:
    """X -> triu(X) + triu(X, 1)^T, with a right inverse, in both libraries."""

    @staticmethod
    def build(lib_nn):
        class Sym(lib_nn.Module):
            def forward(self, X):
                return X.triu() + X.triu(1).transpose(-1, -2)

            def right_inverse(self, A):
                return A.triu()
        return Sym()


def scale_by(lib_nn, factor):
    class Scale(lib_nn.Module):
        def forward(self, X):
            return X * factor
    return Scale()


def test_register_parametrization_matches_torch():
    torch.manual_seed(0)
    tm, nm = torch.nn.Linear(3, 3).double(), nn.Linear(3, 3).double()
    nm.load_state_dict({k: ndgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    for lib, m in ((torch.nn, tm), (nn, nm)):
        lib.utils.parametrize.register_parametrization(m, "weight", Symmetric.build(lib))
        lib.utils.parametrize.register_parametrization(m, "weight", scale_by(lib, 2.0))
    assert type(nm).__name__ == type(tm).__name__ == "ParametrizedLinear"
    assert nu.parametrize.is_parametrized(nm) and nu.parametrize.is_parametrized(nm, "weight")
    assert not nu.parametrize.is_parametrized(nm, "bias")
    assert nu.parametrize.type_before_parametrizations(nm) is nn.Linear
    assert list(nm.state_dict()) == list(tm.state_dict())
    assert repr(nm) == repr(tm).replace("Sym()", "Sym()").replace("Scale()", "Scale()")
    check_module(lambda lib, T: tm if lib is torch.nn else nm, [randn(4, 3)])
    w = to_np(nm.weight)
    np.testing.assert_allclose(w, w.T)
    np.testing.assert_allclose(w, to_np(tm.weight))


def test_parametrization_setter_cached_and_remove():
    m = nn.Linear(3, 3).double()
    nu.parametrize.register_parametrization(m, "weight", Symmetric.build(nn))
    target = randn(3, 3)
    target = target + target.T
    m.weight = ndgrad.tensor(target)  # goes through right_inverse into the original
    np.testing.assert_allclose(to_np(m.weight), target)
    np.testing.assert_allclose(to_np(m.parametrizations.weight.original), np.triu(target))
    with nu.parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    original = m.parametrizations.weight.original
    nu.parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    assert type(m) is nn.Linear and "parametrizations" not in m._modules
    assert m.weight is original and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(to_np(m.weight), target)
    assert list(m.state_dict()) == ["bias", "weight"]  # re-registered last, as in PyTorch
    nu.parametrize.register_parametrization(m, "weight", Symmetric.build(nn))
    nu.parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    np.testing.assert_allclose(to_np(m.weight), np.triu(target))


def test_parametrize_buffers_and_errors():
    m = nn.BatchNorm1d(3)
    nu.parametrize.register_parametrization(m, "running_var", scale_by(nn, 3.0))
    assert "parametrizations.running_var.original" in m.state_dict()
    np.testing.assert_allclose(to_np(m.running_var), 3.0)
    check_error(lambda: nu.parametrize.register_parametrization(nn.Linear(2, 2), "nope", scale_by(nn, 1.0)),
                "does not have a parameter, a buffer, or a parametrized element with name 'nope'", ValueError)
    check_error(lambda: nu.parametrize.remove_parametrizations(nn.Linear(2, 2), "weight"),
                "does not have a parametrization on weight", ValueError)

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:1]
    check_error(lambda: nu.parametrize.register_parametrization(nn.Linear(2, 2), "weight", Shrink()),
                "may not change the shape of the tensor", ValueError)


def test_assigning_through_a_tuple_parametrization_and_transfer_match_torch():
    torch.manual_seed(0)
    tm = tu.parametrizations.weight_norm(torch.nn.Linear(3, 2).double())
    nm = nu.parametrizations.weight_norm(nn.Linear(3, 2).double())
    same_state(tm, nm)
    value = randn(2, 3)
    tm.weight = torch.tensor(value)
    nm.weight = ndgrad.tensor(value)  # right_inverse gives (g, v): both originals are rewritten
    for key, t in tm.state_dict().items():
        np.testing.assert_allclose(to_np(nm.state_dict()[key]), to_np(t), rtol=1e-12, err_msg=key)
    t_dst, n_dst = torch.nn.Linear(3, 2).double(), nn.Linear(3, 2).double()
    tu.parametrize.transfer_parametrizations_and_params(tm, t_dst)
    nu.parametrize.transfer_parametrizations_and_params(nm, n_dst)
    assert list(n_dst.state_dict()) == list(t_dst.state_dict())
    np.testing.assert_allclose(to_np(n_dst.weight), value, rtol=1e-12)


def test_parametrized_module_deepcopy_keeps_working():
    import copy
    m = nn.Linear(3, 3)
    nu.parametrize.register_parametrization(m, "weight", Symmetric.build(nn))
    c = copy.deepcopy(m)
    assert c.parametrizations.weight.original is not m.parametrizations.weight.original
    np.testing.assert_allclose(to_np(c.weight), to_np(m.weight))


# ------------------------------------------------------------------ parametrizations
PARAM_CASES = {
    "weight_norm-linear": (lambda nn, T: nn.utils.parametrizations.weight_norm(nn.Linear(4, 3)), [randn(5, 4)], {}),
    "weight_norm-conv-dim1": (lambda nn, T: nn.utils.parametrizations.weight_norm(nn.Conv2d(2, 3, 3), dim=1),
                              [randn(2, 2, 5, 5)], {}),
    "weight_norm-dim-None": (lambda nn, T: nn.utils.parametrizations.weight_norm(nn.Linear(4, 3), dim=None),
                             [randn(5, 4)], {}),
    "spectral_norm-linear-train": (lambda nn, T: nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3)),
                                   [randn(5, 4)], {}),
    "spectral_norm-conv-eval-3iters": (
        lambda nn, T: nn.utils.parametrizations.spectral_norm(nn.Conv2d(2, 3, 3), n_power_iterations=3),
        [randn(2, 2, 5, 5)], {"train": False}),
    "spectral_norm-convT": (lambda nn, T: nn.utils.parametrizations.spectral_norm(nn.ConvTranspose2d(3, 2, 3)),
                            [randn(1, 3, 4, 4)], {}),
    "legacy-weight_norm": (lambda nn, T: nn.utils.weight_norm(nn.Linear(4, 3)), [randn(5, 4)], {}),
    "legacy-weight_norm-conv-dim2": (lambda nn, T: nn.utils.weight_norm(nn.Conv1d(2, 3, 3), dim=2),
                                     [randn(2, 2, 6)], {}),
    "legacy-spectral_norm-train": (lambda nn, T: nn.utils.spectral_norm(nn.Linear(4, 3), n_power_iterations=2),
                                   [randn(5, 4)], {}),
    "legacy-spectral_norm-eval": (lambda nn, T: nn.utils.spectral_norm(nn.Conv2d(2, 3, 3)),
                                  [randn(2, 2, 5, 5)], {"train": False}),
}


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
@pytest.mark.parametrize("name", list(PARAM_CASES))
def test_norm_parametrizations_match_torch(name):
    make, inputs, options = PARAM_CASES[name]
    check_module(make, inputs, **options)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
def test_legacy_hooks_remove_back_to_a_plain_parameter():
    torch.manual_seed(0)
    for apply, remove in (("weight_norm", "remove_weight_norm"), ("spectral_norm", "remove_spectral_norm")):
        tm = getattr(tu, apply)(torch.nn.Linear(4, 3).double())
        nm = getattr(nu, apply)(nn.Linear(4, 3).double())
        same_state(tm, nm)
        x = randn(2, 4)
        tm(torch.tensor(x))
        nm(ndgrad.tensor(x))
        getattr(tu, remove)(tm)
        getattr(nu, remove)(nm)
        assert list(nm.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
        assert isinstance(nm.weight, nn.Parameter) and not nm._forward_pre_hooks
        np.testing.assert_allclose(to_np(nm.weight), to_np(tm.weight), rtol=1e-10)
        check_error(lambda: getattr(nu, remove)(nm), "not found in", ValueError)
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        nu.weight_norm(nn.Linear(2, 2))


def test_spectral_norm_bounds_the_largest_singular_value():
    ndgrad.manual_seed(0)
    m = nu.parametrizations.spectral_norm(nn.Linear(20, 10))
    for _ in range(10):
        m(ndgrad.randn(1, 20))
    sigma = np.linalg.svd(to_np(m.weight), compute_uv=False)[0]
    assert abs(sigma - 1.0) < 1e-3


def test_weight_norm_gradcheck():
    m = nu.parametrizations.weight_norm(nn.Linear(3, 2, dtype=ndgrad.float64))
    g = m.parametrizations.weight.original0
    v = m.parametrizations.weight.original1
    x = ndgrad.tensor(randn(4, 3))
    assert ndgrad.autograd.gradcheck(lambda g, v: nn.functional.linear(x, nu.parametrizations._WeightNorm(0)(g, v)),
                                     (g, v))


def orthogonal_linear(in_f, out_f, **kw):
    return lambda nn, T: nn.utils.parametrizations.orthogonal(nn.Linear(in_f, out_f), **kw)


ORTH_CASES = {
    "square-matrix_exp": (4, 4, {}),
    "wide-householder": (5, 3, {}),
    "tall-householder": (3, 5, {}),
    "tall-matrix_exp": (3, 5, {"orthogonal_map": "matrix_exp"}),
    "square-cayley": (4, 4, {"orthogonal_map": "cayley"}),
    "wide-cayley": (5, 3, {"orthogonal_map": "cayley"}),
    "square-householder-no-trivialization": (4, 4, {"orthogonal_map": "householder", "use_trivialization": False}),
    "tall-householder-no-trivialization": (3, 5, {"use_trivialization": False}),
}


@pytest.mark.parametrize("name", list(ORTH_CASES))
def test_orthogonal_matches_torch(name):
    in_f, out_f, kw = ORTH_CASES[name]
    tm, nm = check_module(orthogonal_linear(in_f, out_f, **kw), [randn(2, in_f)])
    with torch.no_grad():  # move the original below its diagonal (the diagonal holds fixed signs for householder)
        for p in tm.parameters():
            p.add_(torch.tensor(np.tril(randn(*p.shape), -1) if p.dim() == 2 else randn(*p.shape)) * 0.2)
    check_module(lambda lib, T: tm if lib is torch.nn else nm, [randn(2, in_f)])
    w = to_np(nm.weight)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-6)


def test_orthogonal_gradcheck_and_errors():
    for kw in ({}, {"orthogonal_map": "householder"}, {"orthogonal_map": "cayley"}):
        m = nu.parametrizations.orthogonal(nn.Linear(3, 3, dtype=ndgrad.float64), **kw)
        plist = m.parametrizations.weight
        x = ndgrad.tensor(randn(3, 3) * 0.3, requires_grad=True)
        assert ndgrad.autograd.gradcheck(lambda x: plist[0](x), (x,))
    from ndgrad.nn.utils._orthogonal import _solve  # the cayley map's solve: second derivatives too
    check_higher_order([np.eye(3) * 3 + randn(2, 3, 3) * 0.3, randn(2, 3, 2)], torch.linalg.solve, _solve)
    check_error(lambda: nu.parametrizations.orthogonal(nn.Linear(3, 3), orthogonal_map="svd"),
                "orthogonal_map has to be one of", ValueError)
    check_error(lambda: nu.parametrizations.orthogonal(nn.BatchNorm1d(3)), "Expected a matrix or batch of matrices",
                ValueError)
    m = nu.parametrizations.orthogonal(nn.Linear(3, 3), use_trivialization=False, orthogonal_map="householder")
    check_error(lambda: setattr(m, "weight", ndgrad.randn(2, 2)), r"shape \(3, 3\)", ValueError)


# ------------------------------------------------------------------ clipping and vectors
def grads_pair(shapes=((3, 4), (5,), (2, 2))):
    t_params, n_params = [], []
    for shape in shapes:
        value, grad = randn(*shape), randn(*shape) * 3
        t = torch.tensor(value, requires_grad=True)
        n = nn.Parameter(ndgrad.tensor(value))
        t.grad, n.grad = torch.tensor(grad), ndgrad.tensor(grad)
        t_params.append(t)
        n_params.append(n)
    return t_params, n_params


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.5, math.inf])
def test_get_total_norm_and_clip_grads_with_norm(norm_type):
    tp, n_p = grads_pair()
    t_total = tu.get_total_norm([p.grad for p in tp], norm_type)
    n_total = nu.get_total_norm([p.grad for p in n_p], norm_type)
    np.testing.assert_allclose(to_np(n_total), to_np(t_total), rtol=1e-12)
    tu.clip_grads_with_norm_(tp, 1.0, t_total)
    nu.clip_grads_with_norm_(n_p, 1.0, n_total)
    for t, n in zip(tp, n_p):
        np.testing.assert_allclose(to_np(n.grad), to_np(t.grad), rtol=1e-12)


def test_clip_grad_norm_nonfinite_and_deprecated_alias():
    _, n_p = grads_pair()
    n_p[0].grad = ndgrad.full((3, 4), float("inf"), dtype=ndgrad.float64)
    check_error(lambda: nu.clip_grad_norm_(n_p, 1.0, error_if_nonfinite=True), "non-finite", RuntimeError)
    tp, n_p = grads_pair()
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        n_total = nu.clip_grad_norm(n_p, 0.5)
    np.testing.assert_allclose(to_np(n_total), to_np(tu.clip_grad_norm_(tp, 0.5)), rtol=1e-12)


# ------------------------------------------------------------------ functional_call
class TiedNet:
    @staticmethod
    def build(lib_nn):
        class Net(lib_nn.Module):
            def __init__(self):
                super().__init__()
                self.a = lib_nn.Linear(3, 3)
                self.bn = lib_nn.BatchNorm1d(3)
                self.b = lib_nn.Linear(3, 3)
                self.b.weight = self.a.weight

            def forward(self, x, scale=1.0):
                return self.b(self.bn(self.a(x))) * scale
        return Net()


@pytest.mark.parametrize("tie_weights", [True, False])
def test_functional_call_matches_torch(tie_weights):
    torch.manual_seed(0)
    tm, nm = TiedNet.build(torch.nn).double(), TiedNet.build(nn).double()
    same_state(tm, nm)
    new_w, new_mean, x = randn(3, 3), randn(3), randn(4, 3)
    outs = []
    for lib, m, T in ((torch, tm, torch.tensor), (ndgrad, nm, ndgrad.tensor)):
        m.eval()
        w = T(new_w, requires_grad=True)
        call = torch.func.functional_call if lib is torch else nn.utils.stateless.functional_call
        out = call(m, [{"a.weight": w}, {"bn.running_mean": T(new_mean)}], (T(x),), {"scale": 2.0},
                   tie_weights=tie_weights)
        out.sum().backward()
        outs.append((out, w.grad, m.a.weight))
    for n, t in zip(outs[1][:2], outs[0][:2]):
        np.testing.assert_allclose(to_np(n), to_np(t), rtol=1e-10)
    assert nm.a.weight is nm.b.weight and isinstance(nm.a.weight, nn.Parameter)  # put back afterwards
    np.testing.assert_allclose(to_np(nm.a.weight), to_np(tm.a.weight))


def test_func_functional_call_gives_parameter_gradients():
    ndgrad.manual_seed(0)
    m = nn.Linear(3, 2)
    weight, bias = m.weight.detach(), m.bias.detach()
    x = ndgrad.randn(5, 3)

    def loss(w, b):
        return ndgrad.func.functional_call(m, {"weight": w, "bias": b}, (x,)).sum()
    grad_w, grad_b = ndgrad.func.grad(loss, argnums=(0, 1))(weight, bias)
    np.testing.assert_allclose(to_np(grad_w), np.tile(to_np(x).sum(0), (2, 1)), rtol=1e-5)
    np.testing.assert_allclose(to_np(grad_b), [5.0, 5.0])
    assert m.weight.grad is None  # the module's own parameters were not used
    check_error(lambda: nu.stateless.functional_call(m, {"weight": weight}, (x,), strict=True),
                r"missing keys \['bias'\]", RuntimeError)


# ------------------------------------------------------------------ fusion, init, memory format
@pytest.mark.parametrize("kind", ["conv", "convT", "linear"])
def test_fusion_matches_torch(kind):
    torch.manual_seed(0)
    layers = {"conv": (lambda lib: lib.Conv2d(2, 3, 3), (2, 2, 5, 5)),
              "convT": (lambda lib: lib.ConvTranspose2d(2, 3, 3), (2, 2, 4, 4)),
              "linear": (lambda lib: lib.Linear(4, 3), (5, 4))}
    make, shape = layers[kind]
    t_layer, t_bn = make(torch.nn).double().eval(), torch.nn.BatchNorm1d(3).double().eval()
    with torch.no_grad():
        t_bn.running_mean.uniform_(-1, 1)
        t_bn.running_var.uniform_(0.5, 2)
        t_bn.weight.uniform_(0.5, 2)
    n_layer, n_bn = make(nn).double().eval(), nn.BatchNorm1d(3).double().eval()
    same_state(t_layer, n_layer)
    same_state(t_bn, n_bn)
    if kind == "linear":
        t_fused, n_fused = tu.fuse_linear_bn_eval(t_layer, t_bn), nu.fuse_linear_bn_eval(n_layer, n_bn)
    else:
        transpose = kind == "convT"
        t_fused = tu.fuse_conv_bn_eval(t_layer, t_bn, transpose=transpose)
        n_fused = nu.fuse_conv_bn_eval(n_layer, n_bn, transpose=transpose)
    x = randn(*shape)
    np.testing.assert_allclose(to_np(n_fused(ndgrad.tensor(x))), to_np(t_fused(torch.tensor(x))), rtol=1e-10,
                               atol=1e-12)
    assert isinstance(n_fused.weight, nn.Parameter) and n_fused is not n_layer
    check_error(lambda: nu.fuse_linear_bn_eval(nn.Linear(4, 3), nn.BatchNorm1d(3)), "Fusion only for eval",
                AssertionError)


def test_skip_init_and_memory_format_and_exports():
    m = nu.skip_init(nn.Linear, 4, 3, bias=False)
    assert isinstance(m, nn.Linear) and tuple(m.weight.shape) == (3, 4) and m.bias is None
    check_error(lambda: nu.skip_init(nn.ReLU), 'Module must support a "device" arg', RuntimeError,
                torch_fn=lambda: tu.skip_init(torch.nn.ReLU))
    conv = nn.Conv2d(2, 3, 3)
    assert nu.convert_conv2d_weight_memory_format(conv, ndgrad.channels_last if hasattr(ndgrad, "channels_last")
                                                  else None) is conv
    assert nu.convert_conv3d_weight_memory_format(conv, None) is conv
    assert set(tu.__all__) <= set(nu.__all__)
    for module in ("rnn", "parametrize", "parametrizations", "stateless", "fusion", "memory_format"):
        assert hasattr(nu, module)


@pytest.mark.cuda
def test_parametrizations_and_pad_sequence_on_gpu_match_cpu():
    import copy
    ndgrad.manual_seed(0)
    cpu = nn.Sequential(nu.parametrizations.spectral_norm(nn.Linear(4, 4)),
                        nu.parametrizations.orthogonal(nn.Linear(4, 3)),
                        nu.parametrizations.weight_norm(nn.Linear(3, 2))).double()
    gpu = copy.deepcopy(cpu).cuda()
    x, seqs = randn(5, 4), [randn(3, 4), randn(1, 4)]
    outs = []
    for model, dev in ((cpu, "cpu"), (gpu, "cuda")):
        padded = nu.rnn.pad_sequence([ndgrad.tensor(s, device=dev) for s in seqs], batch_first=True)
        out = model(ndgrad.tensor(x, device=dev)).sum() + model(padded).sum()
        out.backward()
        outs.append([to_np(t.detach().cpu()) for t in (out, model[1].parametrizations.weight.original.grad)])
    for c, g in zip(*outs):
        np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-8)

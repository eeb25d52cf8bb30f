"""The remaining top-level and Tensor API (issue 9) against torch: nn.functional ops at the top level,
finfo/iinfo/can_cast, method aliases, aminmax, bit shifts, frombuffer, trapezoid and gradient,
grouped_mm, and legacy/introspection Tensor methods."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as NF
from ndgrad.autograd import gradcheck
from oracle import check_error, check_op, random_array


def top(name, inputs, *args, _check=None, **kwargs):
    """check_op for ``<lib>.<name>(*inputs, *args, **kwargs)`` at the top level of both libraries."""
    return check_op(inputs, lambda *a: getattr(torch, name)(*a, *args, **kwargs),
                    lambda *a: getattr(ndgrad, name)(*a, *args, **kwargs), **(_check or {}))


def ints(shape, low, high):
    return np.random.randint(low, high, size=shape).astype(np.int64)


def positive(shape):
    return np.random.uniform(0.1, 2.0, size=shape)


# ---------------------------------------------------------------------------------------------
# nn.functional ops at the top level, with ATen's argument conventions
# ---------------------------------------------------------------------------------------------
FUNCTIONAL_CASES = [
    ("dropout", [(3, 4)], (0.3, False)),
    ("dropout", [(3, 4)], (0.0, True)),
    ("alpha_dropout", [(3, 4)], (0.5, False)),
    ("feature_alpha_dropout", [(2, 3, 4)], (0.5, False)),
    ("bilinear", [(5, 3), (5, 4), (2, 3, 4), (2,)], ()),
    ("bilinear", [(5, 3), (5, 4), (2, 3, 4)], ()),
    ("cosine_similarity", [(4, 5), (4, 5)], ()),
    ("cosine_similarity", [(4, 5, 2), (1, 5, 2)], (2, 1e-6)),
    ("pairwise_distance", [(4, 5), (4, 5)], ()),
    ("pairwise_distance", [(4, 5), (4, 5)], (1.0, 1e-6, True)),
    ("pdist", [(5, 3)], ()),
    ("pdist", [(5, 3)], (1.5,)),
    ("pixel_shuffle", [(2, 8, 3, 3)], (2,)),
    ("pixel_unshuffle", [(2, 2, 4, 6)], (2,)),
    ("channel_shuffle", [(2, 6, 3, 3)], (3,)),
    ("instance_norm", [(2, 3, 5), (3,), (3,)], (None, None, True, 0.1, 1e-5, False)),
    ("rms_norm", [(2, 3, 4)], ([4],)),
    ("adaptive_max_pool1d", [(2, 3, 8)], (3,)),
    ("adaptive_max_pool1d", [(3, 7)], (4,)),
    ("margin_ranking_loss", [(6,), (6,), np.sign(np.random.randn(6))], ()),
    ("margin_ranking_loss", [(6,), (6,), np.sign(np.random.randn(6))], (0.5, 0)),
    ("hinge_embedding_loss", [(6,), np.sign(np.random.randn(6))], (1.0, 2)),
    ("cosine_embedding_loss", [(4, 5), (4, 5), np.sign(np.random.randn(4))], (0.2, 1)),
    ("triplet_margin_loss", [(4, 5), (4, 5), (4, 5)], ()),
    ("triplet_margin_loss", [(4, 5), (4, 5), (4, 5)], (0.5, 1.0, 1e-6, True, 0)),
    ("binary_cross_entropy_with_logits", [(4, 3), np.random.rand(4, 3)], ()),
]


@pytest.mark.parametrize("name,inputs,args", FUNCTIONAL_CASES, ids=[c[0] for c in FUNCTIONAL_CASES])
def test_functional_alias(name, inputs, args):
    top(name, inputs, *args)


def test_binary_cross_entropy_with_logits_weights():
    weight, pos_weight = positive((3,)), positive((3,))   # torch refuses gradients for these two
    check_op([(4, 3), np.random.rand(4, 3)],
             lambda x, t: torch.binary_cross_entropy_with_logits(x, t, torch.tensor(weight),
                                                                 torch.tensor(pos_weight), 2),
             lambda x, t: ndgrad.binary_cross_entropy_with_logits(x, t, ndgrad.tensor(weight),
                                                                  ndgrad.tensor(pos_weight), 2))


def test_rms_norm_with_weight():
    check_op([(2, 3, 4), (3, 4)], lambda x, w: torch.rms_norm(x, [3, 4], w, 1e-3),
             lambda x, w: ndgrad.rms_norm(x, [3, 4], w, 1e-3))


@pytest.mark.parametrize("reduction", [0, 1, 2])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    target = np.log(positive((3, 4))) if log_target else positive((3, 4))
    top("kl_div", [(3, 4), target], reduction, log_target=log_target)


@pytest.mark.parametrize("log_input,full,reduction", [(True, False, 1), (False, True, 2), (True, True, 0)])
def test_poisson_nll_loss(log_input, full, reduction):
    x = (3, 4) if log_input else positive((3, 4))
    top("poisson_nll_loss", [x, positive((3, 4)) * 3], log_input, full, 1e-8, reduction)


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_ctc_loss(reduction):
    log_probs = np.log(np.random.dirichlet(np.ones(5), size=(8, 2)))
    targets = ints((2, 3), 1, 5)
    top("ctc_loss", [log_probs, targets], [8, 7], [3, 2], 0, reduction, False)


def test_embedding_weight_first():
    top("embedding", [(10, 3), ints((2, 4), 0, 10)])
    top("embedding", [(10, 3), ints((5,), 0, 10)], 2)


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_outputs(mode, include_last_offset):
    idx = ints((8,), 0, 10)
    offsets = np.array([0, 3, 3, 5] + [8] * include_last_offset, dtype=np.int64)
    top("embedding_bag", [(10, 3), idx, offsets], False, mode, False, None, include_last_offset)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_embedding_bag_padding_idx(dtype, mode):
    idx, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 5])
    top("embedding_bag", [(10, 3), idx, offsets], False, mode, False, None, False, 4, _check=dict(dtype=dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_bag_per_sample_weights(dtype):
    idx, offsets = ints((8,), 0, 10), np.array([0, 3, 3, 5])
    check_op([(10, 3), (8,)],
             lambda w, p: torch.embedding_bag(w, torch.tensor(idx), torch.tensor(offsets), False, 0, False, p),
             lambda w, p: ndgrad.embedding_bag(w, ndgrad.tensor(idx), ndgrad.tensor(offsets), False, 0, False, p),
             dtype=dtype)


def test_dropout_train_masks():
    x = ndgrad.ones(200, 50)
    y = ndgrad.dropout(x, 0.4, True)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.6, rtol=1e-6)
    assert 0.5 < kept.mean() < 0.7
    assert (ndgrad.dropout(x, 1.0, True).numpy() == 0).all()


def test_functional_alias_errors():
    x = ndgrad.ones(3)
    check_error(lambda: ndgrad.dropout(x, 1.5, True), "between 0 and 1", RuntimeError,
                torch_fn=lambda: torch.dropout(torch.ones(3), 1.5, True))
    check_error(lambda: ndgrad.kl_div(x, x, reduction="mean"), ["reduction", "int", "nn.functional"], TypeError,
                torch_fn=lambda: torch.kl_div(torch.ones(3), torch.ones(3), reduction="mean"))
    check_error(lambda: ndgrad.embedding_bag(ndgrad.ones(4, 2), ndgrad.tensor([[1, 2]]), None),
                "offsets", TypeError,
                torch_fn=lambda: torch.embedding_bag(torch.ones(4, 2), torch.tensor([[1, 2]]), None))


# ---------------------------------------------------------------------------------------------
# finfo, iinfo, can_cast
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_finfo(dtype):
    ours, theirs = ndgrad.finfo(getattr(ndgrad, dtype)), torch.finfo(getattr(torch, dtype))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert repr(ours) == repr(theirs)


def test_finfo_default_dtype():
    assert ndgrad.finfo().dtype == torch.finfo().dtype == "float32"


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo(dtype):
    ours, theirs = ndgrad.iinfo(getattr(ndgrad, dtype)), torch.iinfo(getattr(torch, dtype))
    assert (ours.bits, ours.min, ours.max, ours.dtype) == (theirs.bits, theirs.min, theirs.max, theirs.dtype)
    assert repr(ours) == repr(theirs)


def test_type_info_errors():
    check_error(lambda: ndgrad.finfo(ndgrad.int32), ["floating point", "iinfo"], TypeError,
                torch_fn=lambda: torch.finfo(torch.int32))
    check_error(lambda: ndgrad.iinfo(ndgrad.float32), ["integer", "finfo"], TypeError,
                torch_fn=lambda: torch.iinfo(torch.float32))
    check_error(lambda: ndgrad.iinfo(ndgrad.bool), "bool is not supported", TypeError,
                torch_fn=lambda: torch.iinfo(torch.bool))


def test_can_cast_every_pair():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
    for a in names:
        for b in names:
            assert ndgrad.can_cast(getattr(ndgrad, a), getattr(ndgrad, b)) == \
                torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)


# ---------------------------------------------------------------------------------------------
# methods as functions
# ---------------------------------------------------------------------------------------------
def test_method_aliases():
    x = ndgrad.tensor([[1.5, 0.0], [2.0, -1.0]])
    t = torch.tensor([[1.5, 0.0], [2.0, -1.0]])
    assert ndgrad.is_floating_point(x) == torch.is_floating_point(t)
    assert ndgrad.is_signed(ndgrad.tensor([1], dtype=ndgrad.uint8)) == torch.is_signed(torch.tensor([1],
                                                                                             dtype=torch.uint8))
    assert ndgrad.is_inference(x) == torch.is_inference(t)
    assert ndgrad.is_nonzero(ndgrad.tensor([2.0])) == torch.is_nonzero(torch.tensor([2.0]))
    assert ndgrad.is_same_size(x, ndgrad.ones(2, 2)) and not ndgrad.is_same_size(x, ndgrad.ones(4))
    assert ndgrad.get_device(x) == torch.get_device(t) == -1
    y = x.clone().requires_grad_()
    d = ndgrad.detach(y * 2)
    assert not d.requires_grad and d.grad_fn is None
    z = y * 2
    assert ndgrad.detach_(z) is z and z.grad_fn is None
    assert (ndgrad.zero_(x.clone()).numpy() == 0).all()
    assert (ndgrad.fill_(x.clone(), 3.5).numpy() == 3.5).all()


def test_fill_out_of_place():
    top("fill", [(3, 4)], 2.5)
    top("fill", [(3, 4), ()])                     # a 0-d value tensor: its gradient is the sum
    top("fill", [np.arange(6).reshape(2, 3)], 7)
    check_error(lambda: ndgrad.fill(ndgrad.ones(3), ndgrad.ones(2)), "0-dimension", RuntimeError,
                torch_fn=lambda: torch.fill(torch.ones(3), torch.ones(2)))


def test_fill_gradcheck():
    x, v = ndgrad.rand(3, 2, dtype=ndgrad.float64, requires_grad=True), \
        ndgrad.tensor(0.3, dtype=ndgrad.float64, requires_grad=True)
    assert gradcheck(lambda a, b: ndgrad.fill(a, b) * a, (x, v))


@pytest.mark.parametrize("name", ["isposinf", "isneginf"])
def test_isinf_signs(name):
    values = np.array([1.0, np.inf, -np.inf, np.nan, -0.0, 3.0]).reshape(2, 3)
    top(name, [values])
    top(name, [values.astype(np.float32)])
    top(name, [np.arange(6).reshape(2, 3)])
    check_op([values], lambda x: getattr(x, name)())


# ---------------------------------------------------------------------------------------------
# aminmax
# ---------------------------------------------------------------------------------------------
AMINMAX_CASES = [
    ([(3, 4)], {}), ([(3, 4)], dict(dim=1)), ([(3, 4)], dict(dim=0, keepdim=True)),
    ([(2, 3, 4)], dict(dim=-2)), ([()], {}), ([()], dict(dim=0)), ([(3, 4)], dict(keepdim=True)),
    ([np.array([1.0, 3.0, 3.0, 0.0, 0.0])], {}),         # ties share the gradient
    ([np.zeros((2, 0))], dict(dim=0)), ([(1, 5)], dict(dim=0)),
]


@pytest.mark.parametrize("inputs,kwargs", AMINMAX_CASES)
def test_aminmax(inputs, kwargs):
    top("aminmax", inputs, **kwargs)
    check_op(inputs, lambda x: x.aminmax(**kwargs))


def test_aminmax_result_and_errors():
    r = ndgrad.aminmax(ndgrad.tensor([[1, 5], [3, 2]]), dim=1)
    assert r.min.tolist() == [1, 2] and r.max.tolist() == [5, 3] and type(r).__name__ == "aminmax"
    check_op([np.array([True, False])], torch.aminmax, ndgrad.aminmax)
    check_error(lambda: ndgrad.aminmax(ndgrad.zeros(0)), "empty", RuntimeError,
                torch_fn=lambda: torch.aminmax(torch.zeros(0)))
    check_error(lambda: ndgrad.aminmax(ndgrad.zeros(2, 0), dim=1), "non-zero size", IndexError,
                torch_fn=lambda: torch.aminmax(torch.zeros(2, 0), dim=1))


# ---------------------------------------------------------------------------------------------
# bit shifts
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
@pytest.mark.parametrize("name", ["bitwise_left_shift", "bitwise_right_shift"])
def test_shifts(dtype, name):
    bits = np.dtype(dtype).itemsize * 8
    lo = 0 if dtype == "uint8" else -100
    values = np.random.randint(lo, 100, size=(4, 5)).astype(dtype)
    shifts = np.random.randint(0, bits + 3, size=(4, 5)).astype(dtype)  # includes shifts past the width
    top(name, [values, shifts])
    top(name, [values[:, :1], shifts])                                    # broadcasting
    top(name, [values], 3)
    check_op([values, shifts], lambda a, b: getattr(a, name)(b))


def test_negative_shifts_and_scalar_first():
    values, shifts = np.array([-5, 3, 7, 100], dtype=np.int8), np.array([-1, 8, 9, 2], dtype=np.int8)
    top("bitwise_left_shift", [values, shifts])
    top("bitwise_right_shift", [values, shifts])
    top("bitwise_left_shift", [values], 70)
    top("bitwise_right_shift", [values], -2)
    check_op([values], lambda a: 3 << a)
    check_op([values], lambda a: 64 >> a)


def test_shift_operators_and_inplace():
    values, shifts = np.arange(-6, 6).reshape(3, 4), np.random.randint(0, 5, size=(3, 4))
    check_op([values, shifts], lambda a, b: a << b)
    check_op([values, shifts], lambda a, b: a >> b)
    check_op([values, shifts], lambda a, b: a.clone().bitwise_left_shift_(b))
    check_op([values, shifts], lambda a, b: a.clone().bitwise_right_shift_(b))

    def shift_assign(a, b):
        a = a.clone()
        a <<= b
        a >>= 1
        return a
    check_op([values, shifts], shift_assign)
    check_op([np.array([True, False])], lambda a: a << 1)


def test_shift_errors():
    check_error(lambda: ndgrad.ones(2) << 1, ["integer", "float32"], NotImplementedError,
                torch_fn=lambda: torch.ones(2) << 1)
    check_error(lambda: ndgrad.tensor([3]) << 1.5, "integer", NotImplementedError,
                torch_fn=lambda: torch.tensor([3]) << 1.5)


# ---------------------------------------------------------------------------------------------
# frombuffer, as_strided_
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,count,offset", [("float32", -1, 0), ("int16", 3, 2), ("uint8", 5, 7),
                                                ("float64", -1, 8), ("int32", 2, 0)])
def test_frombuffer(dtype, count, offset):
    buffer = bytearray(np.random.randint(0, 255, size=32).astype(np.uint8).tobytes())
    ours = ndgrad.frombuffer(buffer, dtype=getattr(ndgrad, dtype), count=count, offset=offset)
    theirs = torch.frombuffer(bytearray(buffer), dtype=getattr(torch, dtype), count=count, offset=offset)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype.name == dtype and tuple(ours.shape) == tuple(theirs.shape)


def test_frombuffer_shares_memory_and_errors():
    buffer = bytearray(8)
    t = ndgrad.frombuffer(buffer, dtype=ndgrad.uint8)
    t[2] = 9
    assert buffer[2] == 9
    assert ndgrad.frombuffer(buffer, dtype=ndgrad.float32, requires_grad=True).requires_grad
    with pytest.warns(UserWarning, match="not writable"):
        ndgrad.frombuffer(b"abcd", dtype=ndgrad.uint8)
    for kwargs, match in [(dict(offset=8), "offset"), (dict(count=3, offset=0, dtype=ndgrad.float32), "count"),
                          (dict(offset=1, dtype=ndgrad.float32), "multiple")]:
        kwargs.setdefault("dtype", ndgrad.uint8)
        t_kwargs = dict(kwargs, dtype=getattr(torch, kwargs["dtype"].name))
        check_error(lambda: ndgrad.frombuffer(bytearray(8), **kwargs), match, ValueError,
                    torch_fn=lambda: torch.frombuffer(bytearray(8), **t_kwargs))


def test_as_strided_in_place():
    def run(lib):
        x = lib.arange(12.0).reshape(3, 4)
        y = x.as_strided_((2, 3), (1, 2), 1)
        return x, y
    (x, y), (tx, ty) = run(ndgrad), run(torch)
    assert y is x
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    check_error(lambda: ndgrad.ones(3, requires_grad=True).as_strided_((2,), (1,)), "leaf", RuntimeError,
                torch_fn=lambda: torch.ones(3, requires_grad=True).as_strided_((2,), (1,)))
    def through_graph(x):
        y = x * 2
        y.as_strided_((2, 2), (1, 2), 1)
        return y * y
    check_op([(3, 4)], through_graph)
    z = ndgrad.as_strided_(ndgrad.arange(6.0), (2, 2), (2, 1))
    assert z.tolist() == torch.as_strided_(torch.arange(6.0), (2, 2), (2, 1)).tolist()


# ---------------------------------------------------------------------------------------------
# trapezoid, cumulative_trapezoid, gradient
# ---------------------------------------------------------------------------------------------
INTEGRATE_CASES = [
    ([(3, 5)], {}), ([(3, 5)], dict(dx=0.5)), ([(3, 5)], dict(dim=0)), ([(4,)], dict(dx=2)),
    ([(3, 5), np.sort(np.random.rand(5))], {}), ([(3, 5), np.random.rand(3, 5)], {}),
    ([(3, 5), np.sort(np.random.rand(3))], dict(dim=0)), ([(2, 1)], {}), ([np.zeros((2, 0))], {}),
    ([np.arange(6).reshape(2, 3)], dict(dx=2)), ([(3, 5), np.sort(np.random.rand(1, 5))], {}),
]


@pytest.mark.parametrize("name", ["trapezoid", "cumulative_trapezoid"])
@pytest.mark.parametrize("inputs,kwargs", INTEGRATE_CASES)
def test_integration(name, inputs, kwargs):
    top(name, inputs, **kwargs)


def test_trapz_and_noncontiguous():
    top("trapz", [(3, 5)], dim=0)
    top("trapz", [(3, 5), np.sort(np.random.rand(5))])
    top("trapz", [(3, 5)], dx=0.3)
    top("trapezoid", [(4, 5), (4, 5)], _check=dict(contiguous=False))
    top("cumulative_trapezoid", [(4, 5)], dim=0, _check=dict(contiguous=False))


def test_integration_gradcheck():
    y = ndgrad.rand(3, 5, dtype=ndgrad.float64, requires_grad=True)
    x = ndgrad.tensor(np.sort(np.random.rand(5)), requires_grad=True)
    assert gradcheck(lambda a, b: ndgrad.trapezoid(a, b), (y, x))
    assert gradcheck(lambda a, b: ndgrad.cumulative_trapezoid(a, b, dim=-1), (y, x))


def test_integration_errors():
    y = ndgrad.ones(2, 3)
    check_error(lambda: ndgrad.trapezoid(y, ndgrad.ones(2)), "one `x` value for each sample", RuntimeError,
                torch_fn=lambda: torch.trapezoid(torch.ones(2, 3), torch.ones(2)))
    check_error(lambda: ndgrad.trapezoid(y, 1.0), "dx=", TypeError,
                torch_fn=lambda: torch.trapezoid(torch.ones(2, 3), 1.0))
    check_error(lambda: ndgrad.trapezoid(y, ndgrad.ones(3), dx=2.0), "not both", TypeError,
                torch_fn=lambda: torch.trapezoid(torch.ones(2, 3), torch.ones(3), dx=2.0))


GRADIENT_CASES = [
    ([(6,)], {}), ([(4, 5)], {}), ([(4, 5)], dict(spacing=2.0)), ([(4, 5)], dict(spacing=[0.5, 3.0])),
    ([(4, 5)], dict(dim=1)), ([(4, 5)], dict(dim=[0], edge_order=2)), ([(4, 5, 3)], dict(edge_order=2)),
    ([(4, 5)], dict(spacing=[2.0], dim=1)), ([(2, 3)], {}), ([(3, 3)], dict(edge_order=2)),
    ([np.arange(12).reshape(3, 4)], {}), ([(4, 5)], dict(dim=-1, spacing=0.25, edge_order=2)),
]


@pytest.mark.parametrize("inputs,kwargs", GRADIENT_CASES)
def test_gradient(inputs, kwargs):
    top("gradient", inputs, **kwargs)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_coordinates(edge_order):
    coords = [np.sort(np.random.rand(4)) * 3, np.cumsum(np.random.uniform(0.5, 1.5, 5))]
    check_op([(4, 5)], lambda f: torch.gradient(f, spacing=[torch.tensor(c) for c in coords],
                                                edge_order=edge_order),
             lambda f: ndgrad.gradient(f, spacing=[ndgrad.tensor(c) for c in coords], edge_order=edge_order))
    check_op([(4, 5)], lambda f: torch.gradient(f, spacing=[torch.tensor(coords[1])], dim=1, edge_order=edge_order),
             lambda f: ndgrad.gradient(f, spacing=[ndgrad.tensor(coords[1])], dim=1, edge_order=edge_order),
             contiguous=False)


def test_gradient_gradcheck():
    f = ndgrad.rand(4, 5, dtype=ndgrad.float64, requires_grad=True)
    assert gradcheck(lambda a: ndgrad.gradient(a, edge_order=2), (f,))
    assert gradcheck(lambda a: ndgrad.gradient(a, spacing=[ndgrad.tensor([0.0, 0.5, 2.0, 2.5])], dim=0), (f,))


def test_gradient_errors():
    check_error(lambda: ndgrad.gradient(ndgrad.ones(2), edge_order=2), "edge_order\\+1", RuntimeError,
                torch_fn=lambda: torch.gradient(torch.ones(2), edge_order=2))
    check_error(lambda: ndgrad.gradient(ndgrad.ones(3, 3), edge_order=3), "edge_order", RuntimeError,
                torch_fn=lambda: torch.gradient(torch.ones(3, 3), edge_order=3))
    check_error(lambda: ndgrad.gradient(ndgrad.ones(3, 3), spacing=[1.0, 2.0, 3.0]), "length", RuntimeError,
                torch_fn=lambda: torch.gradient(torch.ones(3, 3), spacing=[1.0, 2.0, 3.0]))


# ---------------------------------------------------------------------------------------------
# nn.functional.grouped_mm
# ---------------------------------------------------------------------------------------------
def _offsets(*ends):
    return np.array(ends, dtype=np.int32)


GROUPED_MM_CASES = [
    ([(4, 8, 16), (4, 16, 32)], None),
    ([(10, 16), (3, 16, 8)], _offsets(3, 7, 10)),
    ([(10, 16), (3, 16, 8)], _offsets(3, 3, 8)),      # an empty group
    ([(3, 4, 16), (16, 12)], _offsets(4, 8, 12)),
    ([(4, 16), (16, 8)], _offsets(4, 12)),
]


@pytest.mark.parametrize("shapes,offs", GROUPED_MM_CASES)
def test_grouped_mm_forward(shapes, offs):
    a, b = (random_array(s, "float32") for s in shapes)
    kw_t = {} if offs is None else dict(offs=torch.from_numpy(offs))
    kw_n = {} if offs is None else dict(offs=ndgrad.from_numpy(offs))
    ours = NF.grouped_mm(ndgrad.from_numpy(a), ndgrad.from_numpy(b), **kw_n)
    theirs = TF.grouped_mm(torch.from_numpy(a), torch.from_numpy(b), **kw_t)
    if offs is not None and a.ndim == 2 and b.ndim == 3:  # torch leaves rows past offs[-1] uninitialised
        ours, theirs = ours[:int(offs[-1])], theirs[:int(offs[-1])]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize("shapes,offs", GROUPED_MM_CASES)
def test_grouped_mm_gradients_match_per_group_matmuls(shapes, offs):
    """torch's CPU grouped_mm has no working backward: compare with the same products written as matmuls."""
    def reference(a, b):
        if offs is None:
            return a @ b
        starts = [0] + [int(e) for e in offs[:-1]]
        groups = list(zip(starts, [int(e) for e in offs]))
        if a.ndim == 2 and b.ndim == 3:
            return torch.cat([a[s:e] @ b[g] for g, (s, e) in enumerate(groups)] +
                             [torch.zeros(a.shape[0] - groups[-1][1], b.shape[2], dtype=a.dtype)])
        if a.ndim == 3:
            return torch.cat([a[g] @ b[:, s:e] for g, (s, e) in enumerate(groups)] +
                             [torch.zeros(a.shape[1], b.shape[1] - groups[-1][1], dtype=a.dtype)], 1)
        return torch.stack([a[:, s:e] @ b[s:e] for s, e in groups])
    o = None if offs is None else ndgrad.from_numpy(offs)
    check_op(list(shapes), reference, lambda a, b: NF.grouped_mm(a, b, offs=o), dtype="float32")


def test_grouped_mm_errors():
    a3, b3 = ndgrad.ones(3, 4, 16), ndgrad.ones(3, 16, 8)
    t3a, t3b = torch.ones(3, 4, 16), torch.ones(3, 16, 8)
    offs_n, offs_t = ndgrad.tensor([4, 8, 12], dtype=ndgrad.int32), torch.tensor([4, 8, 12], dtype=torch.int32)
    cases = [
        (lambda: NF.grouped_mm(a3.double(), b3.double()), lambda: TF.grouped_mm(t3a.double(), t3b.double()),
         "Float32, BFloat16 or Float16"),
        (lambda: NF.grouped_mm(a3, b3, offs=offs_n), lambda: TF.grouped_mm(t3a, t3b, offs=offs_t),
         "offsets"),
        (lambda: NF.grouped_mm(ndgrad.ones(12, 16), b3, offs=offs_n.long()),
         lambda: TF.grouped_mm(torch.ones(12, 16), t3b, offs=offs_t.long()), "int32"),
        (lambda: NF.grouped_mm(a3, ndgrad.ones(3, 12, 8)), lambda: TF.grouped_mm(t3a, torch.ones(3, 12, 8)),
         "contraction"),
        (lambda: NF.grouped_mm(a3, ndgrad.ones(2, 16, 8)), lambda: TF.grouped_mm(t3a, torch.ones(2, 16, 8)),
         "batched dimension"),
        (lambda: NF.grouped_mm(ndgrad.ones(3, 4, 6), ndgrad.ones(3, 6, 8)),
         lambda: TF.grouped_mm(torch.ones(3, 4, 6), torch.ones(3, 6, 8)), "16 bytes"),
        (lambda: NF.grouped_mm(a3, b3, out_dtype=ndgrad.float16),
         lambda: TF.grouped_mm(t3a, t3b, out_dtype=torch.float16), "output dtype"),
        (lambda: NF.grouped_mm(a3, b3, bias=ndgrad.ones(3, 8)), lambda: TF.grouped_mm(t3a, t3b, bias=torch.ones(3, 8)),
         "Bias"),
        (lambda: NF.grouped_mm(ndgrad.ones(12, 16), b3, offs=offs_n[:2]),
         lambda: TF.grouped_mm(torch.ones(12, 16), t3b, offs=offs_t[:2]), "batch sizes"),
    ]
    for ours, theirs, match in cases:
        check_error(ours, match, RuntimeError, torch_fn=theirs)


# ---------------------------------------------------------------------------------------------
# Tensor: hooks and grad_dtype
# ---------------------------------------------------------------------------------------------
def _post_hook_trace(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t is x, t.grad.tolist())))
    (x * x).sum().backward()          # x is used twice: the hook sees the total, once
    (x * 3).sum().backward()          # and again after the second accumulation
    handle = x.register_post_accumulate_grad_hook(lambda t: seen.append("second"))
    handle.remove()
    (x * 1).sum().backward()
    lib.autograd.grad((x * 2).sum(), x)  # autograd.grad accumulates nothing: no hook
    return seen


def test_post_accumulate_grad_hook():
    assert _post_hook_trace(ndgrad) == _post_hook_trace(torch)


def test_post_accumulate_grad_hook_errors():
    leaf = ndgrad.ones(2, requires_grad=True)
    check_error(lambda: (leaf * 2).register_post_accumulate_grad_hook(print), "non-leaf", RuntimeError,
                torch_fn=lambda: (torch.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print))
    check_error(lambda: ndgrad.ones(2).register_post_accumulate_grad_hook(print), "doesn't require gradient",
                RuntimeError, torch_fn=lambda: torch.ones(2).register_post_accumulate_grad_hook(print))


def test_grad_dtype():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        default = x.grad_dtype
        x.grad_dtype = lib.float64
        (x * 2).sum().backward()
        return str(default), str(x.grad.dtype), x.grad.tolist(), str(lib.arange(3).grad_dtype)
    ours, theirs = run(ndgrad), run(torch)
    assert [s.replace("ndgrad.", "torch.") for s in ours[:2]] == list(theirs[:2]) and ours[2] == theirs[2]
    x = ndgrad.ones(2, requires_grad=True)
    x.grad_dtype = None
    assert x.grad_dtype is None
    check_error(lambda: (x * 2).grad_dtype, "leaf", RuntimeError,
                torch_fn=lambda: (torch.ones(2, requires_grad=True) * 2).grad_dtype)


# ---------------------------------------------------------------------------------------------
# Tensor: resize, new, as_subclass, apply_/map_, nonzero_static
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(2, 2), (6,), (2, 5), (0,), (3, 1, 2)])
def test_resize_(size):
    for lib in (ndgrad, torch):
        x = lib.arange(6.0)
        assert x.resize_(*size) is x
    x, t = ndgrad.arange(6.0).resize_(size), torch.arange(6.0).resize_(size)
    n = min(6, int(np.prod(size)))
    assert tuple(x.shape) == tuple(t.shape)
    np.testing.assert_array_equal(x.numpy().reshape(-1)[:n], t.numpy().reshape(-1)[:n])  # the rest is unset
    assert tuple(ndgrad.ones(5).resize_as_(ndgrad.ones(2, 3)).shape) == (2, 3)


def test_resize_errors_and_deprecated_forms():
    check_error(lambda: ndgrad.ones(3, requires_grad=True).resize_(2), "require grad", RuntimeError,
                torch_fn=lambda: torch.ones(3, requires_grad=True).resize_(2))
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        check_op([(2, 3)], lambda x: x.resize(3, 2))
    with pytest.warns(UserWarning, match="deprecated"):
        check_op([(2, 3), (6,)], lambda x, y: x.resize_as(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_error(lambda: ndgrad.ones(2, 2).resize(3), "4 elements", RuntimeError,
                    torch_fn=lambda: torch.ones(2, 2).resize(3))


NEW_CASES = [((2, 3), {}), (([1.5, 2.0],), {}), ((), {}), ((ndgrad.Size([2]),), {})]


def test_new_legacy_constructor():
    for dtype in ("float32", "int64"):
        x, t = ndgrad.ones(3, dtype=getattr(ndgrad, dtype)), torch.ones(3, dtype=getattr(torch, dtype))
        for args, t_args in [((2, 3), (2, 3)), (([1.5, 2.0],), ([1.5, 2.0],)), ((), ()),
                             ((ndgrad.Size([2]),), (torch.Size([2]),)), (((2, 3),), ((2, 3),))]:
            ours, theirs = x.new(*args), t.new(*t_args)
            assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype.name == dtype
            if args and not isinstance(args[0], ndgrad.Size) and not isinstance(args[0], int):
                assert ours.tolist() == theirs.tolist()
    x = ndgrad.arange(3.0)
    alias = x.new(x)
    alias[0] = 7
    assert x[0].item() == 7


def test_as_subclass():
    class Marked(ndgrad.Tensor):
        pass
    x = ndgrad.ones(3, requires_grad=True)
    m = x.as_subclass(Marked)
    assert type(m) is Marked and m.requires_grad and m.grad_fn is not None
    (m * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    plain = ndgrad.arange(3.0).as_subclass(Marked)
    assert type(plain) is Marked and plain.tolist() == [0.0, 1.0, 2.0]
    check_error(lambda: x.as_subclass(int), "inherit from", TypeError, torch_fn=lambda: torch.ones(2).as_subclass(int))


def test_apply_and_map():
    for dtype in ("float64", "int64"):
        values = random_array((3, 4), dtype, low=-5, high=5)
        ours, theirs = ndgrad.tensor(values), torch.tensor(values)
        assert ours.apply_(lambda v: v * 2.7 + 1) is ours
        theirs.apply_(lambda v: v * 2.7 + 1)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        other = random_array((4,), dtype, low=-5, high=5)
        ours.map_(ndgrad.tensor(other), lambda a, b: a - 2 * b)
        theirs.map_(torch.tensor(other), lambda a, b: a - 2 * b)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    check_error(lambda: ndgrad.ones(2, requires_grad=True).apply_(abs), "requires grad", RuntimeError,
                torch_fn=lambda: torch.ones(2, requires_grad=True).apply_(abs))
    check_error(lambda: ndgrad.ones(3).map_(ndgrad.arange(3), max), "dtype", TypeError,
                torch_fn=lambda: torch.ones(3).map_(torch.arange(3), max))
    check_error(lambda: ndgrad.ones(3).map_(ndgrad.ones(2), max), "expanded", RuntimeError,
                torch_fn=lambda: torch.ones(3).map_(torch.ones(2), max))


@pytest.mark.parametrize("values,size,fill", [
    (np.array([0.0, 1.5, 0.0, 2.0]), 5, -1), (np.array([[0, 1], [2, 0]]), 1, -7), (np.array([[0, 1], [2, 3]]), 6, 9),
    (np.array(5), 2, -1), (np.array(0), 2, -1), (np.zeros((2, 0)), 3, -1), (np.array([True, False, True]), 0, -1),
])
def test_nonzero_static(values, size, fill):
    check_op([values], lambda x: torch.nonzero_static(x, size=size, fill_value=fill),
             lambda x: ndgrad.nonzero_static(x, size=size, fill_value=fill))
    check_op([values], lambda x: x.nonzero_static(size=size, fill_value=fill))
    check_error(lambda: ndgrad.ones(2).nonzero_static(size=-1), "non-negative", RuntimeError,
                torch_fn=lambda: torch.ones(2).nonzero_static(size=-1))


# ---------------------------------------------------------------------------------------------
# Tensor: legacy attributes and sparse methods on dense tensors
# ---------------------------------------------------------------------------------------------
def test_legacy_variable_attributes():
    x, t = ndgrad.ones(2), torch.ones(2)
    with pytest.warns(UserWarning, match="volatile was removed"):
        assert x.volatile is False
    with pytest.warns(UserWarning, match="no effect"):
        x.volatile = True
    check_error(lambda: x.reinforce(1.0), ["reinforce\\(\\) was removed", "distributions"], RuntimeError,
                torch_fn=lambda: t.reinforce(1.0))
    assert x.const_data_ptr() == x.data_ptr()
    with pytest.raises(NotImplementedError, match="first-class dimensions"):
        x.index((0,), None)


def test_sparse_methods_on_dense_tensors():
    values = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    x, t = ndgrad.tensor(values), torch.tensor(values)
    assert (x.sparse_dim(), x.dense_dim()) == (t.sparse_dim(), t.dense_dim())
    for name, match in [("coalesce", "sparse coordinate"), ("is_coalesced", "sparse coordinate"),
                        ("indices", "sparse coordinate"), ("values", "sparse tensor layout")]:
        check_error(lambda: getattr(x, name)(), [match, "Strided"], RuntimeError,
                    torch_fn=lambda: getattr(t, name)())
    coo, t_coo = x.to_sparse_coo(), t.to_sparse_coo()
    np.testing.assert_array_equal(coo.indices().numpy(), t_coo.indices().numpy())
    np.testing.assert_array_equal(coo.values().numpy(), t_coo.values().numpy())
    other = np.random.randn(2, 3)
    ours, theirs = ndgrad.tensor(other).sparse_mask(coo), torch.tensor(other).sparse_mask(t_coo)
    np.testing.assert_array_equal(ours.indices().numpy(), theirs.indices().numpy())
    np.testing.assert_array_equal(ours.values().numpy(), theirs.values().numpy())
    assert x.to_sparse().sparse_dim() == 2  # a real sparse tensor keeps its own answers
    check_error(lambda: x.sparse_mask(x), "sparse COO", RuntimeError, torch_fn=lambda: t.sparse_mask(t))


# ---------------------------------------------------------------------------------------------
# nn.Buffer and WeightedRandomSampler
# ---------------------------------------------------------------------------------------------
def _buffer_module(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = lib.nn.Linear(2, 2)
            self.running = lib.nn.Buffer(lib.zeros(2))
            self.scratch = lib.nn.Buffer(lib.ones(3), persistent=False)
    return Net()


def test_buffer_registers_in_modules():
    ours, theirs = _buffer_module(ndgrad), _buffer_module(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert ours.scratch.persistent is False and isinstance(ours.running, ndgrad.nn.Buffer)
    assert not isinstance(ndgrad.ones(2), ndgrad.nn.Buffer)
    data = ndgrad.ones(2)
    buf = ndgrad.nn.Buffer(data)
    buf[0] = 5                       # shares memory with the tensor it wraps
    assert data[0].item() == 5
    ours.running = ndgrad.zeros(4)   # reassigning a plain tensor keeps it a buffer
    assert tuple(ours.state_dict()["running"].shape) == (4,)
    for lib in (ndgrad, torch):
        m = lib.nn.Linear(2, 2)
        with pytest.raises(TypeError, match="parameter"):
            m.weight = lib.nn.Buffer(lib.ones(2, 2))


def test_weighted_random_sampler():
    weights = [0.1, 0.9, 0.0, 2.0]
    draws = list(ndgrad.utils.data.WeightedRandomSampler(weights, 20000, generator=0))
    counts = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(counts, np.array(weights) / sum(weights), atol=0.015)
    assert counts[2] == 0
    once = list(ndgrad.utils.data.WeightedRandomSampler(ndgrad.tensor([1.0, 2, 3, 0]), 3, replacement=False,
                                                        generator=1))
    assert sorted(once) == [0, 1, 2]
    sampler = ndgrad.utils.data.WeightedRandomSampler(weights, 10 ** 12)  # nothing is built up front
    assert len(sampler) == 10 ** 12 and next(iter(sampler)) in (0, 1, 3)
    assert ndgrad.utils.data.WeightedRandomSampler(weights, 5).weights.dtype is ndgrad.float64
    ndgrad.manual_seed(3)
    first = list(ndgrad.utils.data.WeightedRandomSampler(weights, 8))
    ndgrad.manual_seed(3)
    assert list(ndgrad.utils.data.WeightedRandomSampler(weights, 8)) == first


def test_weighted_random_sampler_errors():
    W, TW = ndgrad.utils.data.WeightedRandomSampler, torch.utils.data.WeightedRandomSampler
    check_error(lambda: W([1.0, 2.0], 0), "num_samples", ValueError, torch_fn=lambda: TW([1.0, 2.0], 0))
    check_error(lambda: W([1.0, 2.0], 2, replacement=1), "replacement", ValueError,
                torch_fn=lambda: TW([1.0, 2.0], 2, replacement=1))
    check_error(lambda: W([[1.0, 2.0]], 2), "1d", ValueError, torch_fn=lambda: TW([[1.0, 2.0]], 2))
    check_error(lambda: list(W([1.0, 0.0], 3, replacement=False)), "without replacement", RuntimeError,
                torch_fn=lambda: list(TW([1.0, 0.0], 3, replacement=False)))
    assert sorted(W([1.0, 0.0], 2, replacement=False)) == sorted(TW([1.0, 0.0], 2, replacement=False)) == [0, 1]
    check_error(lambda: list(W([1.0, -1.0], 2)), "non-negative", RuntimeError,
                torch_fn=lambda: list(TW([1.0, -1.0], 2)))

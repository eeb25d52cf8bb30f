"""The PyTorch oracle: one helper that checks an ndgrad op against torch.

``check_op`` (tinygrad's ``helper_test_op`` idea) builds identical random
inputs for both libraries, runs the op in each, and compares

* every output's shape, dtype, ``requires_grad`` and values, and
* the gradient of every floating-point input, through the backward of a random
  weighted sum of the floating-point outputs (so each output element gets its
  own upstream gradient, not just ones).

It also checks that the op did not modify its inputs. ``check_error`` checks
that a bad call raises, with a message that contains the given fragments.

Typical table line::

    check_op([(3, 1), (1, 4)], lambda x, y: x * y)           # same code for both
    check_op([(3, 4)], torch.exp, ndgrad.exp, low=-3, high=3)  # two spellings
"""
import re
import zlib

import numpy as np
import pytest
import torch

import ndgrad

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64")
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)

# Default (atol, rtol) for forward values; gradients get GRAD_TOL.
FORWARD_TOL = {"float16": (1e-2, 1e-2), "float32": (1e-5, 1e-5), "float64": (1e-10, 1e-8)}
GRAD_TOL = {"float16": (5e-2, 5e-2), "float32": (1e-4, 1e-4), "float64": (1e-9, 1e-7)}

# One generator for all inputs; conftest reseeds it per test from the test's name,
# so every test sees the same inputs whatever order the tests run in.
rng = np.random.default_rng(0)


def reseed(name):
    global rng
    rng = np.random.default_rng(zlib.crc32(name.encode()))


def dtype_name(dtype):
    """'float32' for ndgrad.float32, torch.float32, np.float32 and 'float32' alike."""
    if isinstance(dtype, str):
        return dtype.replace("torch.", "").replace("ndgrad.", "")
    if isinstance(dtype, torch.dtype):
        return str(dtype).replace("torch.", "")
    name = getattr(dtype, "name", None)
    if isinstance(name, str) and not isinstance(dtype, np.dtype):
        return name  # an ndgrad DType
    return np.dtype(dtype).name


def torch_dtype(dtype):
    return getattr(torch, dtype_name(dtype))


def nd_dtype(dtype):
    name = dtype_name(dtype)
    return getattr(ndgrad, "bool" if name == "bool" else name)


def random_array(shape, dtype="float64", low=-2.0, high=2.0):
    """A random numpy array: uniform in [low, high) for floats, integers in [low, high), coin flips for bool."""
    name = dtype_name(dtype)
    shape = tuple(shape)
    if name == "bool":
        return rng.random(shape) < 0.5
    if name in INT_DTYPES:
        lo = int(np.floor(low))
        hi = int(np.ceil(high))
        if name == "uint8":
            lo = max(lo, 0)
        return rng.integers(lo, max(hi, lo + 1), size=shape).astype(name)
    return rng.uniform(low, high, size=shape).astype(name)


def noncontiguous(array):
    """The same values as ``array`` in a non-contiguous (transposed or strided) numpy view."""
    if array.ndim >= 2:
        # Store the last two axes swapped, then view them back in place.
        base = np.ascontiguousarray(np.swapaxes(array, -1, -2))
        view = np.swapaxes(base, -1, -2)
    elif array.ndim == 1 and array.size > 1:
        base = np.zeros((array.shape[0] * 2,), dtype=array.dtype)
        base[::2] = array
        view = base[::2]
    else:
        return array.copy()
    assert np.array_equal(view, array)
    return view


def to_numpy(t):
    """The raw values of an ndgrad tensor as a host numpy array (works on CPU and GPU tensors)."""
    data = t._data
    if hasattr(data, "get"):  # cupy
        data = data.get()
    return np.asarray(data)


def _flatten(out):
    """Outputs as a flat list: a tensor, or a (named)tuple/list of them."""
    if isinstance(out, (tuple, list)):
        flat = []
        for o in out:
            flat.extend(_flatten(o))
        return flat
    return [out]


def _tol(table, dtype_names, atol, rtol):
    # The loosest dtype involved sets the default.
    order = ["float64", "float32", "float16"]
    names = [n for n in dtype_names if n in table] or ["float64"]
    worst = max(names, key=order.index)
    d_atol, d_rtol = table[worst]
    return (d_atol if atol is None else atol), (d_rtol if rtol is None else rtol)


def _assert_close(nd_value, torch_value, atol, rtol, what):
    """Compare an ndgrad tensor with a torch tensor: shape, dtype, values."""
    assert isinstance(nd_value, ndgrad.Tensor), f"{what}: expected an ndgrad.Tensor, got {type(nd_value).__name__}"
    assert tuple(nd_value.shape) == tuple(torch_value.shape), \
        f"{what}: shape {tuple(nd_value.shape)} != torch {tuple(torch_value.shape)}"
    nd_name, t_name = dtype_name(nd_value.dtype), dtype_name(torch_value.dtype)
    assert nd_name == t_name, f"{what}: dtype {nd_name} != torch {t_name}"
    got = to_numpy(nd_value)
    want = torch_value.detach().cpu().numpy()
    assert got.dtype == want.dtype, f"{what}: raw array dtype {got.dtype} != {want.dtype}"
    if t_name in FLOAT_DTYPES:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), atol=atol, rtol=rtol,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _make_inputs(specs, dtypes, low, high, contiguous, requires_grad, device):
    """(numpy arrays, torch inputs, ndgrad inputs) for a list of shapes / arrays / python scalars."""
    if not isinstance(dtypes, (list, tuple)):
        dtypes = [dtypes] * len(specs)
    arrays, t_inputs, n_inputs = [], [], []
    for spec, dtype in zip(specs, dtypes):
        if isinstance(spec, (bool, int, float)):  # python scalars go to both libraries as they are
            arrays.append(spec)
            t_inputs.append(spec)
            n_inputs.append(spec)
            continue
        array = np.asarray(spec) if isinstance(spec, np.ndarray) else random_array(spec, dtype, low, high)
        if not contiguous:
            array = noncontiguous(array)
        name = dtype_name(array.dtype)
        rg = requires_grad and name in FLOAT_DTYPES
        t = torch.from_numpy(array.copy() if contiguous else noncontiguous(array.copy()))
        n = ndgrad.from_numpy(array.copy() if contiguous else noncontiguous(array.copy()))
        if device is not None:
            n = n.to(device)
        t.requires_grad_(rg)
        n.requires_grad_(rg)
        arrays.append(array)
        t_inputs.append(t)
        n_inputs.append(n)
    return arrays, t_inputs, n_inputs


def check_op(inputs, torch_fn, ndgrad_fn=None, dtype="float64", atol=None, rtol=None,
             grad_atol=None, grad_rtol=None, grad=True, low=-2.0, high=2.0, contiguous=True, device=None):
    """Check ``ndgrad_fn`` against ``torch_fn`` on the same inputs; return (ndgrad output, torch output).

    inputs: a list whose items are shapes (tuples: random arrays of ``dtype``), numpy arrays (used
        as they are, with their own dtype), or python scalars (passed to both functions unchanged).
    dtype: one dtype name for every random input, or a list with one per input.
    ndgrad_fn: defaults to ``torch_fn`` (for methods and operators that both libraries share).
    grad: also compare the gradients of every floating-point input.
    contiguous: False feeds non-contiguous views (transposed / strided) to both libraries.
    """
    ndgrad_fn = torch_fn if ndgrad_fn is None else ndgrad_fn
    arrays, t_inputs, n_inputs = _make_inputs(inputs, dtype, low, high, contiguous, grad, device)
    before = [a.copy() for a in arrays if isinstance(a, np.ndarray)]

    t_out = torch_fn(*t_inputs)
    n_out = ndgrad_fn(*n_inputs)
    t_flat, n_flat = _flatten(t_out), _flatten(n_out)
    assert len(n_flat) == len(t_flat), f"ndgrad returned {len(n_flat)} outputs, torch {len(t_flat)}"

    names = [dtype_name(t.dtype) for t in t_flat if isinstance(t, torch.Tensor)]
    names += [dtype_name(t.dtype) for t in t_inputs if isinstance(t, torch.Tensor)]
    f_atol, f_rtol = _tol(FORWARD_TOL, names, atol, rtol)
    for i, (n, t) in enumerate(zip(n_flat, t_flat)):
        if not isinstance(t, torch.Tensor):  # a python number (e.g. from .item())
            assert type(n) is type(t), f"output {i}: {type(n).__name__} != torch {type(t).__name__}"
            np.testing.assert_allclose(n, t, atol=f_atol, rtol=f_rtol)
            continue
        _assert_close(n, t, f_atol, f_rtol, f"forward output {i}")
        assert bool(n.requires_grad) == t.requires_grad, \
            f"output {i}: requires_grad {n.requires_grad} != torch {t.requires_grad}"

    # The op must not have written into its inputs.
    for i, (n, a) in enumerate(zip([x for x in n_inputs if isinstance(x, ndgrad.Tensor)], before)):
        np.testing.assert_array_equal(to_numpy(n), a, err_msg=f"input {i} was modified by the op")

    if grad:
        _check_grads(t_inputs, n_inputs, t_flat, n_flat, names, grad_atol, grad_rtol, device)
    return n_out, t_out


def _check_grads(t_inputs, n_inputs, t_flat, n_flat, names, atol, rtol, device):
    t_loss, n_loss = None, None
    for t, n in zip(t_flat, n_flat):
        if not (isinstance(t, torch.Tensor) and t.requires_grad):
            continue
        weights = rng.uniform(-1.0, 1.0, size=tuple(t.shape)).astype(dtype_name(t.dtype))
        t_term = (t * torch.from_numpy(weights.copy())).sum()
        n_weights = ndgrad.from_numpy(weights.copy())
        if device is not None:
            n_weights = n_weights.to(device)
        n_term = (n * n_weights).sum()
        t_loss = t_term if t_loss is None else t_loss + t_term
        n_loss = n_term if n_loss is None else n_loss + n_term
    if t_loss is None:
        return
    t_loss.backward()
    n_loss.backward()
    g_atol, g_rtol = _tol(GRAD_TOL, names, atol, rtol)
    for i, (t, n) in enumerate(zip(t_inputs, n_inputs)):
        if not (isinstance(t, torch.Tensor) and t.requires_grad):
            continue
        if t.grad is None:
            assert n.grad is None, f"input {i}: ndgrad has a grad where torch has None"
            continue
        assert n.grad is not None, f"input {i}: grad is None, torch has one"
        _assert_close(n.grad, t.grad, g_atol, g_rtol, f"grad of input {i}")


def check_error(fn, match, exc=Exception, torch_fn=None):
    """``fn()`` must raise ``exc`` whose message matches every regex in ``match`` (a string or a list).

    With ``torch_fn``, also check that PyTorch rejects the same call (so the test does
    not demand an error that the reference library would not raise).
    """
    fragments = [match] if isinstance(match, str) else list(match)
    if torch_fn is not None:
        with pytest.raises(Exception):
            torch_fn()
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for fragment in fragments:
        assert re.search(fragment, message, flags=re.IGNORECASE | re.DOTALL), \
            f"error message {message!r} does not match {fragment!r}"
    return info.value


def check_higher_order(inputs, torch_fn, ndgrad_fn=None, order=2, dtype="float64", atol=None, rtol=None,
                       low=-2.0, high=2.0):
    """Derivatives of order 1..``order`` (grad of grad ...) against torch, through autograd.grad(create_graph=True).

    At each order the next function is the random weighted sum of the previous order's gradients.
    """
    ndgrad_fn = torch_fn if ndgrad_fn is None else ndgrad_fn
    _, t_inputs, n_inputs = _make_inputs(inputs, dtype, low, high, True, True, None)
    t_leaves = [t for t in t_inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    n_leaves = [n for t, n in zip(t_inputs, n_inputs) if isinstance(t, torch.Tensor) and t.requires_grad]
    t_outs, n_outs = _flatten(torch_fn(*t_inputs)), _flatten(ndgrad_fn(*n_inputs))
    g_atol, g_rtol = _tol(GRAD_TOL, [dtype_name(dtype)], atol, rtol)
    for k in range(1, order + 1):
        t_loss, n_loss = None, None
        for t, n in zip(t_outs, n_outs):
            if t is None or not t.requires_grad:
                continue
            assert n is not None and n.requires_grad, f"order {k}: ndgrad lost the graph of a derivative"
            w = rng.uniform(-1.0, 1.0, size=tuple(t.shape)).astype(dtype_name(t.dtype))
            t_term = (t * torch.from_numpy(w.copy())).sum()
            n_term = (n * ndgrad.from_numpy(w.copy())).sum()
            t_loss = t_term if t_loss is None else t_loss + t_term
            n_loss = n_term if n_loss is None else n_loss + n_term
        if t_loss is None:
            return
        t_outs = torch.autograd.grad(t_loss, t_leaves, create_graph=True, allow_unused=True)
        n_outs = ndgrad.autograd.grad(n_loss, n_leaves, create_graph=True, allow_unused=True)
        for i, (t, n) in enumerate(zip(t_outs, n_outs)):
            if t is None:
                # torch says the input does not reach this derivative; ndgrad may say None or give zeros
                assert n is None or not np.any(to_numpy(n)), f"order {k}, input {i}: nonzero where torch has None"
                continue
            if n is None:
                # a graph that never reaches the input means a zero derivative: fine only if torch's is zero
                assert not torch.any(t), f"order {k}, input {i}: ndgrad gives None where torch has a derivative"
                continue
            _assert_close(n, t, g_atol, g_rtol, f"order-{k} derivative of input {i}")

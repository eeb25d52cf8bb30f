"""Global settings against torch: rng state round trips, print options, default device, device modules,
autocast switches, inference mode, and the OutOfMemoryError type."""
import re

import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error


# ---------------------------------------------------------------------------------------------
# rng state
# ---------------------------------------------------------------------------------------------
def test_rng_state_round_trip():
    ndgrad.manual_seed(5)
    state = ndgrad.get_rng_state()
    assert state.dtype is ndgrad.uint8 and state.ndim == 1
    first = [ndgrad.rand(4).tolist(), ndgrad.randn(2, 3).tolist(), ndgrad.randint(0, 9, (5,)).tolist()]
    ndgrad.set_rng_state(state)
    again = [ndgrad.rand(4).tolist(), ndgrad.randn(2, 3).tolist(), ndgrad.randint(0, 9, (5,)).tolist()]
    assert first == again
    assert ndgrad.random.get_rng_state().tolist() != state.tolist()  # the state moved on
    ndgrad.random.set_rng_state(state)
    assert ndgrad.rand(4).tolist() == first[0]


def test_rng_state_is_a_copy():
    state = ndgrad.get_rng_state()
    before = state.tolist()
    ndgrad.rand(10)
    assert state.tolist() == before


def test_generator_state():
    g = ndgrad.Generator().manual_seed(3)
    state = g.get_state()
    x = ndgrad.randn(5, generator=g)
    assert g.set_state(state) is g
    assert ndgrad.randn(5, generator=g).tolist() == x.tolist()
    other = ndgrad.Generator()
    other.set_state(state)
    assert ndgrad.randn(5, generator=other).tolist() == x.tolist()
    seed = g.seed()
    assert isinstance(seed, int) and g.initial_seed() == seed


def test_seed_returns_a_fresh_seed():
    s = ndgrad.seed()
    assert isinstance(s, int) and ndgrad.initial_seed() == s
    assert isinstance(torch.seed(), int)


def test_rng_state_errors():
    check_error(lambda: ndgrad.set_rng_state(ndgrad.ones(3)), "uint8", TypeError,
                torch_fn=lambda: torch.set_rng_state(torch.ones(3)))
    check_error(lambda: ndgrad.set_rng_state(ndgrad.zeros(5, dtype=ndgrad.uint8)), "not a state", RuntimeError,
                torch_fn=lambda: torch.set_rng_state(torch.zeros(5, dtype=torch.uint8)))


# ---------------------------------------------------------------------------------------------
# print options
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def reset_printoptions():
    yield
    ndgrad.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


def _compact(text):
    return re.sub(r"\s+", "", text.replace("torch.", "ndgrad."))  # padding and wrapping aside


PRINT_CASES = [
    dict(precision=2), dict(sci_mode=True), dict(sci_mode=False), dict(threshold=5, edgeitems=1),
    dict(profile="short"), dict(profile="full"), dict(precision=6), dict(precision=3, sci_mode=False),
    dict(edgeitems=2, threshold=3), dict(linewidth=40),
]
PRINT_VALUES = [[1.23456, 0.5, 300.5], [1e-5, 1.0], [[0.25, -1.5], [2.0, 3.75]], list(range(10)),
                np.arange(2000.0).reshape(2, 1000).tolist(), [1.0, 2.0]]


@pytest.mark.parametrize("options", PRINT_CASES)
def test_set_printoptions(options, reset_printoptions):
    ndgrad.set_printoptions(**options)
    torch.set_printoptions(**options)
    for values in PRINT_VALUES:
        for dtype in ("float32", "int64"):
            ours = repr(ndgrad.tensor(values, dtype=getattr(ndgrad, dtype)))
            theirs = repr(torch.tensor(values, dtype=getattr(torch, dtype)))
            assert _compact(ours) == _compact(theirs), (ours, theirs)


def test_printoptions_linewidth_and_profile_reset(reset_printoptions):
    ndgrad.set_printoptions(linewidth=30)
    lines = repr(ndgrad.arange(12.0)).splitlines()
    assert len(lines) > 1 and all(len(line) <= 30 for line in lines)
    ndgrad.set_printoptions(profile="default")
    assert repr(ndgrad.tensor([1.5, 2.25])) == repr(torch.tensor([1.5, 2.25])).replace("torch", "ndgrad")
    with pytest.raises(ValueError, match="profile"):
        ndgrad.set_printoptions(profile="tiny")


# ---------------------------------------------------------------------------------------------
# default device, device modules
# ---------------------------------------------------------------------------------------------
def test_default_device_cpu():
    assert ndgrad.get_default_device() == "cpu" == str(torch.get_default_device())
    ndgrad.set_default_device("cpu")
    try:
        assert ndgrad.get_default_device() == "cpu"
        assert ndgrad.zeros(2).device == "cpu" and ndgrad.tensor([1.0]).device == "cpu"
    finally:
        ndgrad.set_default_device(None)
    assert ndgrad.get_default_device() == "cpu"


@pytest.mark.cuda
def test_default_device_cuda():
    ndgrad.set_default_device("cuda")
    try:
        assert ndgrad.get_default_device() == "cuda:0"
        for t in (ndgrad.zeros(2), ndgrad.ones(2, 3), ndgrad.arange(4), ndgrad.rand(3), ndgrad.tensor([1.0]),
                  ndgrad.full((2,), 3.0), ndgrad.linspace(0, 1, 5), ndgrad.eye(2), ndgrad.empty(3)):
            assert t.device.type == "cuda"
        assert ndgrad.zeros(2, device="cpu").device == "cpu"
    finally:
        ndgrad.set_default_device(None)


def test_get_device_module():
    assert ndgrad.get_device_module("cuda") is ndgrad.cuda
    cpu = ndgrad.get_device_module("cpu")
    assert cpu is ndgrad.get_device_module() and cpu.is_available() and cpu.device_count() == 1
    assert ndgrad.get_device_module(ndgrad.device("cpu")) is cpu
    check_error(lambda: ndgrad.get_device_module("tpu"), "tpu", RuntimeError,
                torch_fn=lambda: torch.get_device_module("tpu"))


# ---------------------------------------------------------------------------------------------
# autocast switches, inference mode
# ---------------------------------------------------------------------------------------------
def _autocast_trace(lib):
    trace = [lib.is_autocast_enabled(), lib.is_autocast_enabled("cpu"), str(lib.get_autocast_dtype("cpu")),
             str(lib.get_autocast_dtype("cuda"))]
    with lib.autocast("cpu"):
        trace += [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled("cuda"), lib.is_autocast_enabled(),
                  str(lib.get_autocast_dtype("cpu"))]
    trace.append(lib.is_autocast_enabled("cpu"))
    lib.set_autocast_enabled("cpu", True)
    trace.append(lib.is_autocast_enabled("cpu"))
    lib.set_autocast_enabled("cpu", False)
    trace.append(lib.is_autocast_enabled("cpu"))
    lib.set_autocast_dtype("cpu", lib.float16)
    trace.append(str(lib.get_autocast_dtype("cpu")))
    with lib.autocast("cpu"):
        trace.append(str(lib.get_autocast_dtype("cpu")))
    lib.set_autocast_dtype("cpu", lib.bfloat16)
    trace.append(str(lib.get_autocast_dtype("cpu")))
    return [t.replace("torch.", "ndgrad.") if isinstance(t, str) else t for t in trace]


def test_autocast_switches():
    assert _autocast_trace(ndgrad) == _autocast_trace(torch)


def test_inference_mode_flag():
    def trace(lib):
        out = [lib.is_inference_mode_enabled()]
        with lib.inference_mode():
            out.append(lib.is_inference_mode_enabled())
            with lib.inference_mode(False):
                out.append(lib.is_inference_mode_enabled())
            out.append(lib.is_inference_mode_enabled())
        out.append(lib.is_inference_mode_enabled())

        @lib.inference_mode()
        def inside():
            return lib.is_inference_mode_enabled(), lib.is_grad_enabled()
        out.append(inside())
        out.append(lib.is_grad_enabled())
        return out
    assert trace(ndgrad) == trace(torch)


# ---------------------------------------------------------------------------------------------
# OutOfMemoryError
# ---------------------------------------------------------------------------------------------
def test_out_of_memory_error_type():
    assert issubclass(ndgrad.OutOfMemoryError, RuntimeError)
    assert issubclass(torch.OutOfMemoryError, RuntimeError)
    assert ndgrad.cuda.OutOfMemoryError is ndgrad.OutOfMemoryError and torch.cuda.OutOfMemoryError is \
        torch.OutOfMemoryError
    with pytest.raises(ndgrad.OutOfMemoryError, match="not enough memory"):
        ndgrad.empty(2 ** 46)
    with pytest.raises(MemoryError):  # still a MemoryError for code that catches that
        ndgrad.zeros(2 ** 23, 2 ** 23)

"""Shared test setup: per-test seeds and the ``cuda`` marker.

Every test starts from seeds derived from its own name, so a test sees the
same random inputs whether it runs alone or in the whole suite.
"""
import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # `import oracle` from any test file


def _gpu_available():
    """True when CuPy imports and sees at least one NVIDIA GPU."""
    try:
        import cupy
    except ImportError:
        return False
    try:
        import ndgrad.cuda
        return bool(ndgrad.cuda.is_available())
    except (ImportError, AttributeError):
        pass
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device: CuPy raises its own runtime errors
        return False


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs an NVIDIA GPU and CuPy (skipped elsewhere)")
    config.addinivalue_line("markers", "slow: trains a real network (a minute or so)")


def pytest_collection_modifyitems(config, items):
    if not any("cuda" in item.keywords for item in items):
        return
    if _gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU (none found)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed_everything(request):
    seed = zlib.crc32(request.node.nodeid.encode())
    oracle = sys.modules.get("oracle")  # imported by the test files that use it
    if oracle is not None:
        oracle.reseed(request.node.nodeid)
    np.random.seed(seed)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass
    try:
        import ndgrad
        ndgrad.manual_seed(seed)
    except (ImportError, AttributeError):
        pass
    yield
    # a test that fails inside no_grad must not leave grad mode off for the tests after it
    grad_mode = sys.modules.get("ndgrad.autograd.grad_mode")
    if grad_mode is not None:
        grad_mode.state.enabled = True

"""Layering rules that keep one code path for CPU and GPU (see docs/internals.md)."""
import pathlib
import re
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "ndgrad"
# Op code must reach numpy/cupy only through the backend's array namespace (xp).
XP_ONLY = ["ops", "nn", "optim", "autograd", "tensor.py", "creation.py", "dtypes.py", "amp.py"]
DIRECT_IMPORT = re.compile(r"^\s*(import numpy|from numpy|import cupy|from cupy)\b", re.M)


def _files(parts):
    for part in parts:
        path = PACKAGE / part
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def test_no_op_module_imports_numpy_or_cupy_directly():
    offenders = [str(f.relative_to(PACKAGE)) for f in _files(XP_ONLY) if DIRECT_IMPORT.search(f.read_text())]
    assert offenders == [], f"these modules import numpy/cupy directly instead of using xp: {offenders}"


def test_torch_is_never_imported_by_the_library():
    pattern = re.compile(r"^\s*(import torch|from torch)\b", re.M)
    offenders = [str(f.relative_to(PACKAGE)) for f in PACKAGE.rglob("*.py") if pattern.search(f.read_text())]
    assert offenders == []


def test_import_ndgrad_does_not_load_optional_heavy_modules():
    code = ("import sys, ndgrad; heavy = [m for m in ('cupy', 'torch', 'matplotlib', 'safetensors', 'tqdm', "
            "'sklearn', 'graphviz') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"

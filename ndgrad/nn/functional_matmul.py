"""``grouped_mm``: one matrix product per group (Mixture-of-Experts layers), with torch's layout rules.

Written with differentiable Tensor ops (narrow, matmul, cat), so gradients flow to both operands
(torch 2.13's CPU kernel has no working backward; ndgrad's does).
"""
import ndgrad
from ndgrad.tensor import Tensor

__all__ = ["grouped_mm"]

_ALLOWED = ("float32", "bfloat16", "float16")


def _check_operand(t, name):
    if not isinstance(t, Tensor):
        raise TypeError(f"grouped_mm: {name} must be a Tensor, got {type(t).__name__}")
    if t.dtype.name not in _ALLOWED:
        raise RuntimeError(f"grouped_mm: Expected {name} to be Float32, BFloat16 or Float16 matrix, got "
                           f"{t.dtype}; cast with .float() first")
    if t.ndim not in (2, 3):
        raise RuntimeError(f"grouped_mm: {name} has to be 2 or 3d, got shape {tuple(t.shape)}")
    if (t.shape[-1] * t.dtype.itemsize) % 16:
        raise RuntimeError(f"grouped_mm: strides should be multiple of 16 bytes: {name} of shape "
                           f"{tuple(t.shape)} and dtype {t.dtype} has rows of {t.shape[-1] * t.dtype.itemsize} "
                           f"bytes; pad its last dimension")


def _groups(offs, length):
    """(start, end) of each group along the jagged dimension; ends past ``length`` are clipped."""
    ends = [min(int(e), length) for e in offs.tolist()]
    starts = [0] + ends[:-1]
    return [(s, max(e, s)) for s, e in zip(starts, ends)]


def grouped_mm(mat_a, mat_b, *, offs=None, bias=None, out_dtype=None):
    """Products of matching groups of ``mat_a`` and ``mat_b``.

    * 3d x 3d (no ``offs``): ``mat_a[g] @ mat_b[g]`` for each group g (a batched matmul).
    * 2d x 3d: rows ``offs[g-1]:offs[g]`` of ``mat_a`` times ``mat_b[g]``: shape (M, N).
    * 3d x 2d: ``mat_a[g]`` times columns ``offs[g-1]:offs[g]`` of ``mat_b``: shape (M, N).
    * 2d x 2d: the shared dimension K is split by ``offs``: shape (G, M, N).

    ``offs`` is a 1-D int32 tensor of group ends; rows or columns past ``offs[-1]`` are zero.
    """
    _check_operand(mat_a, "mat_a")
    _check_operand(mat_b, "mat_b")
    if bias is not None:
        raise RuntimeError("grouped_mm: Bias not supported yet (as in torch 2.13): add it to the result")
    if out_dtype is not None and ndgrad.dtypes.to_dtype(out_dtype) is not mat_a.dtype:
        raise RuntimeError(f"grouped_mm: Grouped gemm output dtype must match `mat_a` dtype ({mat_a.dtype}), "
                           f"got out_dtype={out_dtype}")
    if mat_a.dtype is not mat_b.dtype:
        raise RuntimeError(f"grouped_mm: Expected mat_a and mat_b to have the same dtype, got {mat_a.dtype} "
                           f"and {mat_b.dtype}")
    both_3d = mat_a.ndim == 3 and mat_b.ndim == 3
    if both_3d == (offs is not None):
        raise RuntimeError("grouped_mm: Have to provide offsets if there is a 2d matrix, or no offset if both "
                           "matrices are 3d")
    k_a, k_b = mat_a.shape[-1], mat_b.shape[-2]
    if k_a != k_b:
        raise RuntimeError(f"grouped_mm: contraction dimension of mat_a and mat_b must match: mat_a "
                           f"{tuple(mat_a.shape)}, mat_b {tuple(mat_b.shape)}")
    if both_3d:
        if mat_a.shape[0] != mat_b.shape[0]:
            raise RuntimeError(f"grouped_mm: batched dimension has to match: mat_a {tuple(mat_a.shape)}, "
                               f"mat_b {tuple(mat_b.shape)}")
        return ndgrad.matmul(mat_a, mat_b)
    if offs.dtype.name != "int32":
        raise RuntimeError(f"grouped_mm: Offsets have to be int32, got {offs.dtype}")
    if offs.ndim != 1:
        raise RuntimeError(f"grouped_mm: offs has to be 1D, got shape {tuple(offs.shape)}")
    n_groups = offs.shape[0]
    batched = mat_a if mat_a.ndim == 3 else mat_b if mat_b.ndim == 3 else None
    if batched is not None and batched.shape[0] != n_groups:
        raise RuntimeError(f"grouped_mm: matrix batch sizes have to match: {n_groups} offsets, but the 3d "
                           f"operand has {batched.shape[0]} groups (shape {tuple(batched.shape)})")
    if mat_a.ndim == 2 and mat_b.ndim == 3:  # jagged rows of mat_a
        m = mat_a.shape[0]
        groups = _groups(offs, m)
        parts = [ndgrad.matmul(mat_a.narrow(0, s, e - s), mat_b[g]) for g, (s, e) in enumerate(groups)]
        used = groups[-1][1] if groups else 0
        parts.append(ndgrad.zeros(m - used, mat_b.shape[2], dtype=mat_a.dtype, device=mat_a.device))
        return ndgrad.cat(parts, 0)
    if mat_a.ndim == 3:  # jagged columns of mat_b
        n = mat_b.shape[1]
        groups = _groups(offs, n)
        parts = [ndgrad.matmul(mat_a[g], mat_b.narrow(1, s, e - s)) for g, (s, e) in enumerate(groups)]
        used = groups[-1][1] if groups else 0
        parts.append(ndgrad.zeros(mat_a.shape[1], n - used, dtype=mat_a.dtype, device=mat_a.device))
        return ndgrad.cat(parts, 1)
    groups = _groups(offs, k_a)  # 2d x 2d: the shared dimension is split
    parts = [ndgrad.matmul(mat_a.narrow(1, s, e - s), mat_b.narrow(0, s, e - s)) for s, e in groups]
    return ndgrad.stack(parts, 0)

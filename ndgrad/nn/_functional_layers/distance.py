"""Pairwise and condensed (pdist) distances."""

from ._common import _const, _shape


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """p-norm of x1 - x2 + eps over the last dim."""
    d = x1 - x2 + eps
    if d.ndim == 0:
        d = d.reshape(1)
        return d.norm(p, dim=-1, keepdim=keepdim).reshape(()) if not keepdim else d.norm(p, dim=-1, keepdim=True)
    return d.norm(p, dim=-1, keepdim=keepdim)


def pdist(input, p=2):
    """p-norm distances between the rows of (N, M), for every pair i < j (row-major), shape N(N-1)/2."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist: only 2D tensors (N, M) are supported, got input of shape {_shape(input)}")
    if p < 0:
        raise RuntimeError(f"pdist: only supports non-negative p values, got p={p}")
    xp = input.xp
    i, j = xp.triu_indices(input.shape[0], 1)
    a = input.index_select(0, _const(i.astype(xp.int64), input))
    b = input.index_select(0, _const(j.astype(xp.int64), input))
    return (a - b).norm(p, dim=-1)

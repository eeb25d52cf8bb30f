"""Helpers shared by weight_norm and spectral_norm (legacy hooks and parametrizations)."""


def norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dim but ``dim``, kept broadcastable to ``v``; dim=-1: one norm of all of v
    (PyTorch's convention for weight_norm(dim=None))."""
    if dim == -1:
        return (v * v).sum().sqrt()
    dim = dim % v.dim() if v.dim() else 0
    others = tuple(d for d in range(v.dim()) if d != dim)
    if not others:
        return v.abs()
    return (v * v).sum(others, keepdim=True).sqrt()


def weight_from_g_v(g, v, dim):
    """w = g * v / ||v|| (the norm taken over all dims but ``dim``)."""
    return v * (g / norm_except_dim(v, dim))


def reshape_weight_to_matrix(weight, dim):
    """``weight`` with ``dim`` moved first and the rest flattened: (size(dim), -1)."""
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.dim()) if d != dim])
    return weight.reshape(weight.shape[0], -1)


def normalize_array(xp, a, eps):
    """a / max(||a||, eps) on a raw 1-d array."""
    return a / max(float(xp.sqrt(xp.sum(a * a))), eps)

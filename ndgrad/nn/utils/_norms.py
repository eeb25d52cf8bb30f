"""Helpers shared by weight_norm and spectral_norm (legacy hooks and parametrizations)."""
import ndgrad


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


def random_singular_vectors(weight, weight_mat, eps):
    """Unit-norm random starting vectors (u, v) for the power iteration on ``weight_mat`` (h x w)."""
    h, w = weight_mat.shape
    xp = weight.xp
    u = ndgrad.randn(h, dtype=weight.dtype, device=weight.device)
    v = ndgrad.randn(w, dtype=weight.dtype, device=weight.device)
    u._data = normalize_array(xp, u._data, eps).astype(u._data.dtype)
    v._data = normalize_array(xp, v._data, eps).astype(v._data.dtype)
    return u, v


def remove_hook(module, hook_type, name, what):
    """Undo and unregister the ``hook_type`` forward pre-hook on ``module.<name>``; ValueError if there is none."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, hook_type) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")

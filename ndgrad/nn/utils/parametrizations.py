"""Ready-made parametrizations (``torch.nn.utils.parametrizations``): weight_norm, spectral_norm, orthogonal.

Each registers a small Module through :func:`parametrize.register_parametrization`, so the state_dict
keys match PyTorch's (``parametrizations.weight.original0`` / ``original1`` for weight_norm,
``parametrizations.weight.original`` and ``parametrizations.weight.0._u`` / ``_v`` for spectral_norm).
"""
from ndgrad.nn.module import Module
from ndgrad.nn.utils import parametrize
from ndgrad.nn.utils._norms import (norm_except_dim, normalize_array, random_singular_vectors,
                                    reshape_weight_to_matrix, weight_from_g_v)
from ndgrad.nn.utils._orthogonal import orthogonal
from ndgrad.tensor import Tensor

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


class _WeightNorm(Module):
    """weight = g * v / ||v||, the norm over every dim but ``dim`` (dim=None: one norm of everything)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_from_g_v(weight_g, weight_v, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` by its magnitude (original0) and direction (original1)."""
    if not isinstance(getattr(module, name, None), Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """weight / sigma, sigma the largest singular value of the weight as a matrix, estimated by power
    iteration on the buffers ``_u`` and ``_v`` (updated in training mode only)."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = reshape_weight_to_matrix(weight.detach(), self.dim)
            u, v = random_singular_vectors(weight, weight_mat, eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(weight_mat, 15)

    def _power_method(self, weight_mat, n_power_iterations):
        """u <- normalize(W v), v <- normalize(W^T u), in place in the buffers, without a graph."""
        xp = weight_mat.xp
        w = weight_mat._data
        u, v = self._u._data, self._v._data
        for _ in range(n_power_iterations):
            u[...] = normalize_array(xp, w @ v, self.eps)
            v[...] = normalize_array(xp, w.T @ u, self.eps)
        self._u._bump_version()
        self._v._bump_version()

    def forward(self, weight):
        if weight.dim() == 1:
            from ndgrad.nn import functional as F
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = reshape_weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = (u * weight_mat.matmul(v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm on every access (a parametrization)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if _is_conv_transpose(module) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


def _is_conv_transpose(module):
    """ConvTranspose weights are (in, out, ...): their output dim is 1."""
    import ndgrad.nn as nn
    kinds = tuple(getattr(nn, n) for n in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d") if hasattr(nn, n))
    return isinstance(module, kinds)

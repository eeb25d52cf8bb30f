"""The legacy spectral_norm hook (``torch.nn.utils.spectral_norm``): before every forward,
``module.<name> = <name>_orig / sigma`` with sigma estimated by power iteration on the buffers
``<name>_u`` and ``<name>_v`` (one step per forward in training mode)."""
import ndgrad
from ndgrad.nn.parameter import Parameter
from ndgrad.nn.utils._norms import normalize_array, random_singular_vectors, remove_hook, reshape_weight_to_matrix

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>``."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        weight_mat = reshape_weight_to_matrix(weight, self.dim)
        if do_power_iteration:
            xp, w = weight.xp, weight_mat._data
            for _ in range(self.n_power_iterations):
                v._data[...] = normalize_array(xp, w.T @ u._data, self.eps)
                u._data[...] = normalize_array(xp, w @ v._data, self.eps)
            u._bump_version()
            v._bump_version()
        u, v = u.clone(), v.clone()
        sigma = (u * weight_mat.matmul(v)).sum()
        return weight / sigma

    def remove(self, module):
        with ndgrad.no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"spectral_norm: module {module._get_name()} has no parameter named {name!r}")
        weight_mat = reshape_weight_to_matrix(weight.detach(), dim)
        u, v = random_singular_vectors(weight, weight_mat, eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm before every forward (legacy hook form)."""
    if dim is None:
        from ndgrad.nn.utils.parametrizations import _is_conv_transpose
        dim = 1 if _is_conv_transpose(module) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Put back a plain parameter ``<name>`` holding the current normalized weight."""
    return remove_hook(module, SpectralNorm, name, "spectral_norm")

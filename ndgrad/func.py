"""``ndgrad.func``: composable function transforms (JAX / torch.func style)."""
from .autograd.functional import grad, hessian, jacobian, jacrev, jvp, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacobian", "hessian"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the named parameters/buffers replaced (see nn.utils.stateless)."""
    from .nn.utils.stateless import functional_call as call  # lazy: ndgrad.nn imports after ndgrad.func
    return call(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict)


__all__.append("functional_call")

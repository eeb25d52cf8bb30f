"""``ndgrad.func``: composable function transforms (JAX / torch.func style)."""
from .autograd.functional import grad, hessian, jacobian, jacrev, jvp, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacobian", "hessian"]

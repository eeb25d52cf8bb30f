"""SparseAdam (``torch.optim.SparseAdam``): Adam that only updates the rows present in a sparse gradient.

ndgrad has no sparse gradients yet (``nn.Embedding(sparse=True)`` is refused), and torch's
SparseAdam refuses dense gradients; so, exactly like torch given a dense gradient, ``step``
raises a RuntimeError that points to Adam. Construction, param groups and state_dict work.
"""
from .optimizer import Optimizer, _check_betas

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Implements the masked Adam of ``torch.optim.SparseAdam`` (for sparse gradients only).

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 1e-3.
        betas (tuple[float, float]): coefficients of the running averages. Default: (0.9, 0.999).
        eps (float): term added to the denominator. Default: 1e-8.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"SparseAdam: Invalid learning rate: {lr} (lr must be > 0)")
        if not 0.0 < eps:
            raise ValueError(f"SparseAdam: Invalid epsilon value: {eps} (eps must be > 0)")
        betas = _check_betas("SparseAdam", betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Raises for every (dense) gradient, as torch does; returns the closure's loss if nothing has a grad."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    raise RuntimeError(
                        "SparseAdam does not support dense gradients, please consider Adam instead "
                        f"(got a dense gradient of shape {tuple(p.grad.shape)}; ndgrad has no sparse gradients)")
        return loss

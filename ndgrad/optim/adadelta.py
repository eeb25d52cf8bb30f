"""Adadelta (``torch.optim.Adadelta``): step sizes from running averages of squared gradients and updates."""
from .optimizer import Optimizer, _check_non_negative, _check_unsupported

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Implements Adadelta, like ``torch.optim.Adadelta``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): scale applied to the delta before it is added to the parameters. Default: 1.0.
        rho (float): decay of the running averages. Default: 0.9.
        eps (float): term added inside the square roots. Default: 1e-6.
        weight_decay (float): L2 penalty. Default: 0.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_non_negative("Adadelta", "learning rate", lr, "lr")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: Invalid rho value: {rho} (rho must be in [0, 1])")
        _check_non_negative("Adadelta", "epsilon value", eps, "eps")
        _check_non_negative("Adadelta", "weight_decay value", weight_decay, "weight_decay")
        _check_unsupported("Adadelta", differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_for(self, p):
        return self._lazy_state(p, "square_avg", "acc_delta")

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's Adadelta update, in torch's single-tensor order."""
        rho, eps = group["rho"], group["eps"]
        xp = p.xp
        state = self._state_for(p)
        self._count_step(p, group, state)
        grad = self._grad_for_update(p, group["maximize"], group["weight_decay"])
        square_avg = state["square_avg"]._data
        acc_delta = state["acc_delta"]._data
        std = self._scratch(p, "tmp")
        delta = self._scratch(p, "delta")
        self._update_square_avg_(xp, square_avg, grad, rho, std)
        # std = (square_avg + eps).sqrt(); delta = (acc_delta + eps).sqrt() / std * grad
        xp.add(square_avg, eps, out=std)
        xp.sqrt(std, out=std)
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        xp.divide(delta, std, out=delta)
        xp.multiply(delta, grad, out=delta)
        self._update_square_avg_(xp, acc_delta, delta, rho, std)
        self._add_scaled_(p, delta, -lr)
        state["square_avg"]._bump_version()
        state["acc_delta"]._bump_version()
        p._bump_version()

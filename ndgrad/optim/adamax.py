"""Adamax (``torch.optim.Adamax``): Adam with the infinity norm of past gradients as the denominator."""
from .optimizer import Optimizer, _check_adam_options, _check_unsupported

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Implements Adamax, like ``torch.optim.Adamax``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 2e-3.
        betas (tuple[float, float]): decay of the gradient average and of the infinity norm. Default: (0.9, 0.999).
        eps (float): term added to the gradient magnitude. Default: 1e-8.
        weight_decay (float): L2 penalty. Default: 0.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        betas = _check_adam_options("Adamax", lr, eps, betas, weight_decay)
        _check_unsupported("Adamax", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _state_for(self, p):
        return self._lazy_state(p, "exp_avg", "exp_inf")

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's Adamax update, in torch's single-tensor order."""
        beta1, beta2 = group["betas"]
        xp = p.xp
        state = self._state_for(p)
        step = self._increment(state["step"])
        grad = self._grad_for_update(p, group["maximize"], group["weight_decay"])
        exp_avg = state["exp_avg"]._data
        exp_inf = state["exp_inf"]._data
        tmp = self._scratch(p, "tmp")
        self._lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
        # exp_inf = max(exp_inf * beta2, |grad| + eps)
        xp.multiply(exp_inf, beta2, out=exp_inf)
        xp.abs(grad, out=tmp)
        xp.add(tmp, group["eps"], out=tmp)
        xp.maximum(exp_inf, tmp, out=exp_inf)
        clr = lr / (1 - beta1**step)
        self._addcdiv_(p, exp_avg, exp_inf, -clr)
        state["exp_avg"]._bump_version()
        state["exp_inf"]._bump_version()
        p._bump_version()

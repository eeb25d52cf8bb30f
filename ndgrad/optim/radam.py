"""RAdam (``torch.optim.RAdam``): Adam with a rectified (variance-corrected) adaptive learning rate."""
from .optimizer import Optimizer, _check_adam_options, _check_unsupported

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Implements RAdam, like ``torch.optim.RAdam``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 1e-3.
        betas (tuple[float, float]): coefficients of the running averages. Default: (0.9, 0.999).
        eps (float): term added to the denominator. Default: 1e-8.
        weight_decay (float): weight decay. Default: 0.
        decoupled_weight_decay (bool): decay the weights directly (AdamW-style). Default: False.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        betas = _check_adam_options("RAdam", lr, eps, betas, weight_decay)
        _check_unsupported("RAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_for(self, p):
        return self._lazy_state(p, "exp_avg", "exp_avg_sq")

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's RAdam update, in torch's single-tensor order."""
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        xp = p.xp
        state = self._state_for(p)
        step = self._increment(state["step"])
        grad = self._grad_after_decay(p, group["maximize"], weight_decay, lr, group["decoupled_weight_decay"])
        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        update = self._scratch(p, "update")
        tmp = self._scratch(p, "tmp")
        self._lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
        self._update_square_avg_(xp, exp_avg_sq, grad, beta2, tmp)

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        # the length of the approximated simple moving average, and its limit
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        # update = exp_avg / bias_correction1 * lr [* adaptive_lr * rect]
        xp.divide(exp_avg, bias_correction1, out=update)
        xp.multiply(update, lr, out=update)
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            # adaptive_lr = bias_correction2 ** 0.5 / (exp_avg_sq.sqrt() + eps)
            xp.sqrt(exp_avg_sq, out=tmp)
            xp.add(tmp, group["eps"], out=tmp)
            xp.divide(bias_correction2**0.5, tmp, out=tmp)
            xp.multiply(update, tmp, out=update)
            xp.multiply(update, rect, out=update)
        xp.subtract(p._data, update, out=p._data)
        state["exp_avg"]._bump_version()
        state["exp_avg_sq"]._bump_version()
        p._bump_version()

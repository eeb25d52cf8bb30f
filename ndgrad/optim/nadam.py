"""NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum and a momentum-decay schedule."""
from .optimizer import Optimizer, _check_adam_options, _check_non_negative, _check_unsupported, _zeros_state

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """Implements NAdam, like ``torch.optim.NAdam``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 2e-3.
        betas (tuple[float, float]): coefficients of the running averages. Default: (0.9, 0.999).
        eps (float): term added to the denominator. Default: 1e-8.
        weight_decay (float): weight decay. Default: 0.
        momentum_decay (float): psi, the decay of the momentum schedule. Default: 4e-3.
        decoupled_weight_decay (bool): decay the weights directly (as AdamW) instead of via the
            gradient. Default: False.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        betas = _check_adam_options("NAdam", lr, eps, betas, weight_decay)
        _check_non_negative("NAdam", "momentum_decay value", momentum_decay, "momentum_decay")
        _check_unsupported("NAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_for(self, p):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_counter()
            # a 0-d tensor like step: the product is rounded to its dtype every step, as in torch
            state["mu_product"] = self._step_counter_at(1.0)
            state["exp_avg"] = _zeros_state(p)
            state["exp_avg_sq"] = _zeros_state(p)
        return state

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's NAdam update, in torch's single-tensor order."""
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        momentum_decay = group["momentum_decay"]
        xp = p.xp
        state = self._state_for(p)
        step = self._increment(state["step"])
        bias_correction2 = 1 - beta2**step
        grad = self._grad_after_decay(p, group["maximize"], weight_decay, lr, group["decoupled_weight_decay"])

        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product_t = state["mu_product"]
        mu_product_t._data *= mu
        mu_product_t._bump_version()
        mu_product = float(mu_product_t._data)

        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        denom = self._scratch(p, "tmp")
        self._lerp_(xp, exp_avg, grad, 1 - beta1, denom)
        self._update_square_avg_(xp, exp_avg_sq, grad, beta2, denom)
        # denom = (exp_avg_sq / bias_correction2).sqrt() + eps
        xp.divide(exp_avg_sq, bias_correction2, out=denom)
        xp.sqrt(denom, out=denom)
        xp.add(denom, group["eps"], out=denom)
        mu_product_next = mu_product * mu_next
        self._addcdiv_(p, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
        self._addcdiv_(p, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_product_next))
        state["exp_avg"]._bump_version()
        state["exp_avg_sq"]._bump_version()
        p._bump_version()

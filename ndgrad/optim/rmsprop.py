"""RMSprop with centering, momentum and weight decay (``torch.optim.RMSprop``)."""
from .optimizer import Optimizer, _check_non_negative, _check_unsupported, _zeros_state

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Implements RMSprop, like ``torch.optim.RMSprop``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 1e-2.
        alpha (float): smoothing constant of the squared-gradient average. Default: 0.99.
        eps (float): term added to the denominator. Default: 1e-8.
        weight_decay (float): L2 penalty. Default: 0.
        momentum (float): momentum factor. Default: 0.
        centered (bool): normalize by an estimate of the gradient variance. Default: False.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_non_negative("RMSprop", "learning rate", lr, "lr")
        _check_non_negative("RMSprop", "epsilon value", eps, "eps")
        _check_non_negative("RMSprop", "momentum value", momentum, "momentum")
        _check_non_negative("RMSprop", "weight_decay value", weight_decay, "weight_decay")
        _check_non_negative("RMSprop", "alpha value", alpha, "alpha")
        _check_unsupported("RMSprop", differentiable=differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_for(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_counter()
            state["square_avg"] = _zeros_state(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = _zeros_state(p)
            if group["centered"]:
                state["grad_avg"] = _zeros_state(p)
        return state

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's RMSprop update, in torch's single-tensor order."""
        alpha = group["alpha"]
        eps = group["eps"]
        momentum = group["momentum"]
        xp = p.xp
        state = self._state_for(p, group)
        self._count_step(p, group, state)
        grad = self._grad_for_update(p, group["maximize"], group["weight_decay"])
        square_avg = state["square_avg"]._data
        avg = self._scratch(p, "tmp")
        self._update_square_avg_(xp, square_avg, grad, alpha, avg)
        state["square_avg"]._bump_version()

        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            self._lerp_(xp, grad_avg, grad, 1 - alpha, avg)
            state["grad_avg"]._bump_version()
            # avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
            xp.multiply(grad_avg, grad_avg, out=avg)
            xp.subtract(square_avg, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        xp.add(avg, eps, out=avg)

        if momentum > 0:
            buf = state["momentum_buffer"]._data
            # buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)
            xp.multiply(buf, momentum, out=buf)
            xp.divide(grad, avg, out=avg)
            xp.add(buf, avg, out=buf)
            state["momentum_buffer"]._bump_version()
            self._add_scaled_(p, buf, -lr)
        else:
            self._addcdiv_(p, grad, avg, -lr)
        p._bump_version()

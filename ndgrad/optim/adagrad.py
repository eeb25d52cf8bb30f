"""Adagrad with learning-rate decay and weight decay (``torch.optim.Adagrad``)."""
from ndgrad.tensor import Tensor

from .optimizer import Optimizer, _check_non_negative, _check_unsupported

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Implements Adagrad, like ``torch.optim.Adagrad``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 1e-2.
        lr_decay (float): learning rate decay. Default: 0.
        weight_decay (float): L2 penalty. Default: 0.
        initial_accumulator_value (float): starting value of the squared-gradient sums. Default: 0.
        eps (float): term added to the denominator. Default: 1e-10.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_non_negative("Adagrad", "learning rate", lr, "lr")
        _check_non_negative("Adagrad", "lr_decay value", lr_decay, "lr_decay")
        _check_non_negative("Adagrad", "weight_decay value", weight_decay, "weight_decay")
        _check_non_negative("Adagrad", "initial_accumulator_value value", initial_accumulator_value,
                           "initial_accumulator_value")
        _check_non_negative("Adagrad", "epsilon value", eps, "eps")
        _check_unsupported("Adagrad", differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # like torch, the state exists from construction (sum starts at initial_accumulator_value)
        for group in self.param_groups:
            for p in group["params"]:
                self._state_for(p, group)

    def _state_for(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_counter()
            start = group["initial_accumulator_value"]
            if p._data.dtype.kind == "c":  # torch starts both parts of a complex sum at the value
                start = complex(start, start)
            state["sum"] = Tensor._wrap(p.xp.full_like(p._data, start))
        return state

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's Adagrad update, in torch's single-tensor order."""
        xp = p.xp
        state = self._state_for(p, group)
        step = self._increment(state["step"])
        grad = self._grad_for_update(p, group["maximize"], group["weight_decay"])
        clr = lr / (1 + (step - 1) * group["lr_decay"])

        # state_sum.addcmul_(grad, grad, value=1)
        state_sum = state["sum"]._data
        std = self._scratch(p, "tmp")
        xp.multiply(grad, grad, out=std)
        xp.add(state_sum, std, out=state_sum)
        state["sum"]._bump_version()
        # std = state_sum.sqrt().add_(eps)
        xp.sqrt(state_sum, out=std)
        xp.add(std, group["eps"], out=std)
        self._addcdiv_(p, grad, std, -clr)
        p._bump_version()

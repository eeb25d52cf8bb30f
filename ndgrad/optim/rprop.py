"""Resilient backpropagation (``torch.optim.Rprop``): per-element step sizes driven by gradient signs only."""
from ndgrad.tensor import Tensor

from .optimizer import Optimizer, _check_non_negative, _check_unsupported, _zeros_state

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Implements the resilient backpropagation algorithm, like ``torch.optim.Rprop``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): initial step size. Default: 1e-2.
        etas (tuple[float, float]): (etaminus, etaplus), the factors that shrink / grow the step size
            when the gradient's sign flips / stays. Default: (0.5, 1.2).
        step_sizes (tuple[float, float]): minimal and maximal step sizes. Default: (1e-6, 50).
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        _check_non_negative("Rprop", "learning rate", lr, "lr")
        etas = tuple(etas)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: Invalid eta values: {etas[0]}, {etas[1]} (need 0 < etaminus < 1 < etaplus)")
        _check_unsupported("Rprop", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=tuple(step_sizes), foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _state_for(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_counter()
            state["prev"] = _zeros_state(p)
            state["step_size"] = Tensor._wrap(p.xp.full_like(p.grad._data, float(group["lr"])))
        return state

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's Rprop update, in torch's single-tensor order."""
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        xp = p.xp
        state = self._state_for(p, group)
        self._increment(state["step"])
        grad = self._grad_for_update(p, group["maximize"], 0)
        prev = state["prev"]._data
        step_size = state["step_size"]._data
        # factor: etaplus where the gradient kept its sign, etaminus where it flipped, 1 where one is zero
        sign = self._scratch(p, "tmp")
        xp.multiply(grad, prev, out=sign)
        xp.sign(sign, out=sign)
        flipped = sign < 0
        factor = xp.where(sign > 0, etaplus, xp.where(flipped, etaminus, 1.0)).astype(sign.dtype, copy=False)
        xp.multiply(step_size, factor, out=step_size)
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        # where the sign flipped, skip this update and forget the gradient (prev = 0)
        xp.copyto(prev, grad)
        prev[flipped] = 0
        update = self._scratch(p, "update")
        xp.sign(prev, out=update)
        xp.multiply(update, step_size, out=update)
        xp.subtract(p._data, update, out=p._data)
        state["prev"]._bump_version()
        state["step_size"]._bump_version()
        p._bump_version()

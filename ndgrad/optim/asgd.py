"""Averaged SGD (``torch.optim.ASGD``): SGD with a decaying step size and a running average ``ax`` of the iterates."""
from .optimizer import Optimizer, _check_non_negative, _check_unsupported, _zeros_state

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Implements averaged stochastic gradient descent, like ``torch.optim.ASGD``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 1e-2.
        lambd (float): decay term. Default: 1e-4.
        alpha (float): power of the eta update. Default: 0.75.
        t0 (float): step at which averaging starts. Default: 1e6.
        weight_decay (float): L2 penalty. Default: 0.
        maximize (bool): maximize the objective. Default: False.

    The state keeps ``eta`` and ``mu`` as 0-d tensors of the step's dtype, like torch
    (so their values are rounded to float32 unless the default dtype is float64).
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_non_negative("ASGD", "learning rate", lr, "lr")
        _check_non_negative("ASGD", "weight_decay value", weight_decay, "weight_decay")
        _check_unsupported("ASGD", differentiable=differentiable, capturable=capturable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _state_for(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_counter()
            state["eta"] = self._step_counter_at(float(group["lr"]))
            state["mu"] = self._step_counter_at(1.0)
            state["ax"] = _zeros_state(p)
        return state

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's ASGD update, in torch's single-tensor order."""
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        xp = p.xp
        state = self._state_for(p, group)
        step = self._increment(state["step"])
        grad = self._grad_for_update(p, group["maximize"], group["weight_decay"])
        eta = float(state["eta"]._data)
        mu = float(state["mu"]._data)
        xp.multiply(p._data, 1 - lambd * eta, out=p._data)
        self._add_scaled_(p, grad, -eta)
        ax = state["ax"]._data
        if mu != 1:
            # ax += (param - ax) * mu
            diff = self._scratch(p, "tmp")
            xp.subtract(p._data, ax, out=diff)
            xp.multiply(diff, mu, out=diff)
            xp.add(ax, diff, out=ax)
        else:
            ax[...] = p._data
        state["ax"]._bump_version()
        # the next step's eta and mu, rounded to the counters' dtype first (torch.as_tensor) even when
        # a loaded state dict made eta and mu float64
        state["eta"]._data[()] = self._step_counter_at(lr / ((1 + lambd * lr * step) ** alpha))._data
        state["mu"]._data[()] = self._step_counter_at(1 / max(1, step - t0))._data
        state["eta"]._bump_version()
        state["mu"]._bump_version()
        p._bump_version()

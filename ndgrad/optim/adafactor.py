"""Adafactor (``torch.optim.Adafactor``): Adam-like steps with a factored (row x column) second moment."""
from .optimizer import Optimizer, _check_non_negative

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Implements Adafactor, like ``torch.optim.Adafactor``.

    Parameters with 2 or more dimensions keep a row and a column average of the squared
    gradient over their last two dimensions (``row_var``, ``col_var``); others keep a full
    ``variance``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): the maximal relative step size. Default: 1e-2.
        beta2_decay (float): the decay rate of beta2 is ``step ** beta2_decay``. Default: -0.8.
        eps (tuple[float | None, float]): eps1 (added to the variance; None: the dtype's machine
            epsilon) and eps2 (lower bound of the parameter scale). Default: (None, 1e-3).
        d (float): clipping threshold of the update's RMS. Default: 1.0.
        weight_decay (float): decoupled weight decay. Default: 0.0.
        maximize (bool): maximize the objective. Default: False.
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        _check_non_negative("Adafactor", "learning rate", lr, "lr")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"Adafactor: beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"Adafactor: epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"Adafactor: epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Adafactor: Clipping threshold d should be >= 1 but is: {d}")
        _check_non_negative("Adafactor", "weight_decay value", weight_decay, "weight_decay")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _state_for(self, p):
        state = self.state[p]
        if len(state) == 0:
            from ndgrad.tensor import Tensor
            xp = p.xp
            grad = p.grad._data
            state["step"] = self._step_counter()
            if grad.ndim > 1:
                state["row_var"] = Tensor._wrap(xp.zeros(grad.shape[:-1] + (1,), dtype=grad.dtype))
                state["col_var"] = Tensor._wrap(xp.zeros(grad.shape[:-2] + (1,) + grad.shape[-1:], dtype=grad.dtype))
            else:
                state["variance"] = Tensor._wrap(xp.zeros_like(grad))
        return state

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            eps1 = group["eps"][0]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p._data.dtype.kind == "c":
                    raise RuntimeError(
                        f"Adafactor does not support complex parameters (got a {p.dtype} parameter of shape "
                        f"{tuple(p.shape)}); optimize torch.view_as_real(param) as a real parameter instead")
                if eps1 is None:  # like torch, the first parameter's dtype decides for the whole group
                    eps1 = float(p.xp.finfo(p._data.dtype).eps)
                self._update_param(p, group, lr, eps1)
        return loss

    def _update_param(self, p, group, lr, eps1):
        """One parameter's Adafactor update, in torch's single-tensor order."""
        xp = p.xp
        state = self._state_for(p)
        step = self._increment(state["step"])
        grad = self._grad_for_update(p, group["maximize"], 0)
        param = p._data
        one_minus_beta2_t = step ** group["beta2_decay"]
        rho_t = min(lr, 1 / (step**0.5))
        alpha = max(group["eps"][1], float(xp.linalg.norm(param.reshape(-1))) / (param.size**0.5)) * rho_t
        if group["weight_decay"] != 0:
            xp.multiply(param, 1 - lr * group["weight_decay"], out=param)

        if grad.ndim > 1:
            row_var = state["row_var"]._data
            col_var = state["col_var"]._data
            # mean of grad**2 along the last and the next-to-last dimension (as norm**2 / size)
            row_mean = xp.linalg.norm(grad, axis=-1, keepdims=True) ** 2 / grad.shape[-1]
            self._lerp_(xp, row_var, row_mean, one_minus_beta2_t, xp.empty_like(row_var))
            col_mean = xp.linalg.norm(grad, axis=-2, keepdims=True) ** 2 / grad.shape[-2]
            self._lerp_(xp, col_var, col_mean, one_minus_beta2_t, xp.empty_like(col_var))
            var_estimate = xp.matmul(row_var, col_var)
            var_estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
            state["row_var"]._bump_version()
            state["col_var"]._bump_version()
        else:
            variance = state["variance"]._data
            self._lerp_(xp, variance, grad * grad, one_minus_beta2_t, self._scratch(p, "tmp"))
            var_estimate = variance.copy()
            state["variance"]._bump_version()

        # update = grad / sqrt(max(var_estimate, eps1**2)), scaled down when its RMS exceeds d
        update = xp.maximum(var_estimate, eps1 * eps1)
        update = xp.multiply(1.0 / xp.sqrt(update), grad)
        denom = max(1.0, float(xp.linalg.norm(update.reshape(-1))) / ((update.size**0.5) * group["d"]))
        self._add_scaled_(p, update, -alpha / denom)
        p._bump_version()

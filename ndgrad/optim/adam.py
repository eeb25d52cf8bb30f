"""Adam and AdamW (``torch.optim.Adam`` / ``torch.optim.AdamW``), with amsgrad, maximize and weight decay."""
from .optimizer import Optimizer, _check_adam_options, _check_unsupported, _zeros_state

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Implements Adam, like ``torch.optim.Adam``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 1e-3.
        betas (tuple[float, float]): coefficients of the running averages of the
            gradient and its square. Default: (0.9, 0.999).
        eps (float): term added to the denominator. Default: 1e-8.
        weight_decay (float): weight decay (L2 penalty). Default: 0.
        amsgrad (bool): use the AMSGrad variant. Default: False.
        maximize (bool): maximize the objective. Default: False.
        decoupled_weight_decay (bool): decay the weights directly (AdamW). Default: False.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        name = type(self).__name__
        betas = _check_adam_options(name, lr, eps, betas, weight_decay)
        _check_unsupported(name, differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _state_for(self, p, amsgrad):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_counter()
            state["exp_avg"] = _zeros_state(p)
            state["exp_avg_sq"] = _zeros_state(p)
            if amsgrad:
                state["max_exp_avg_sq"] = _zeros_state(p)
        elif amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = _zeros_state(p)
        return state

    @staticmethod
    def _fused_gpu_step(p, state, group, lr, step, decoupled):
        """The whole Adam/AdamW update as one CUDA kernel; False if the kernel could not be built."""
        from ..backend import fused
        if not fused.gpu_kernels_ok:
            return False
        beta1, beta2 = group["betas"]
        try:
            fused.adam_(p._data, p.grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data, lr, beta1,
                        beta2, group["eps"], group["weight_decay"], decoupled, step, group["maximize"])
        except Exception:  # a CuPy compile failure: fall back for the rest of the run
            fused.gpu_kernels_ok = False
            return False
        state["exp_avg"]._bump_version()
        state["exp_avg_sq"]._bump_version()
        p._bump_version()
        return True

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's Adam/AdamW update, in torch's single-tensor order."""
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        amsgrad = group["amsgrad"]
        decoupled = group.get("decoupled_weight_decay", False)
        xp = p.xp
        state = self._state_for(p, amsgrad)
        if group["capturable"]:
            return self._capturable_update(p, group, lr, state, decoupled)
        step = self._count_step(p, group, state)
        if p._device.type == "cuda" and not amsgrad and self._fused_gpu_step(
                p, state, group, lr, step, decoupled):
            return
        grad = self._grad_after_decay(p, group["maximize"], weight_decay, lr, decoupled)
        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        tmp = self._scratch(p, "tmp")

        # exp_avg.lerp_(grad, 1 - beta1)
        self._lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
        self._update_square_avg_(xp, exp_avg_sq, grad, beta2, tmp)

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5

        second_moment = self._second_moment(xp, state, exp_avg_sq, amsgrad)
        # denom = (second_moment.sqrt() / bias_correction2_sqrt).add_(eps)
        denom = tmp
        xp.sqrt(second_moment, out=denom)
        xp.divide(denom, bias_correction2_sqrt, out=denom)
        xp.add(denom, eps, out=denom)
        self._addcdiv_(p, exp_avg, denom, -step_size)

        state["exp_avg"]._bump_version()
        state["exp_avg_sq"]._bump_version()
        p._bump_version()


    @staticmethod
    def _second_moment(xp, state, exp_avg_sq, amsgrad):
        """The running mean of grad**2 the step divides by: with amsgrad, its running maximum (updated here)."""
        if not amsgrad:
            return exp_avg_sq
        max_exp_avg_sq = state["max_exp_avg_sq"]._data
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        state["max_exp_avg_sq"]._bump_version()
        return max_exp_avg_sq

    def _capturable_update(self, p, group, lr, state, decoupled):
        """The update with the step count and bias corrections as 0-d arrays on the parameter's device
        (torch's capturable formula): nothing is read on the host, so a CUDA graph can replay it."""
        xp = p.xp
        beta1, beta2 = group["betas"]
        eps, amsgrad = group["eps"], group["amsgrad"]
        self._count_step(p, group, state)
        step = state["step"]._data
        grad = self._grad_after_decay(p, group["maximize"], group["weight_decay"], lr, decoupled)
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        tmp = self._scratch(p, "tmp")
        self._lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
        self._update_square_avg_(xp, exp_avg_sq, grad, beta2, tmp)
        bias_correction1 = 1 - xp.power(step.dtype.type(beta1), step)
        bias_correction2 = 1 - xp.power(step.dtype.type(beta2), step)
        step_size_neg = -(lr / bias_correction1)
        second_moment = self._second_moment(xp, state, exp_avg_sq, amsgrad)
        # denom = (v.sqrt() / (sqrt(bc2) * step_size_neg)) + eps / step_size_neg; p += exp_avg / denom
        denom = tmp
        xp.sqrt(second_moment, out=denom)
        xp.divide(denom, (xp.sqrt(bias_correction2) * step_size_neg).astype(denom.dtype), out=denom)
        xp.add(denom, (eps / step_size_neg).astype(denom.dtype), out=denom)
        self._addcdiv_(p, exp_avg, denom, 1)
        state["exp_avg"]._bump_version()
        state["exp_avg_sq"]._bump_version()
        p._bump_version()


class AdamW(Adam):
    """Implements AdamW (Adam with decoupled weight decay), like ``torch.optim.AdamW``.

    Same arguments as :class:`Adam`; ``weight_decay`` defaults to 1e-2 and is
    applied as ``p *= 1 - lr * weight_decay`` before the Adam update.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

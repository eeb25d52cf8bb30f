"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (``torch.optim.SGD``)."""
from ndgrad.tensor import Tensor

from .optimizer import Optimizer, _check_non_negative, _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """Implements stochastic gradient descent (optionally with momentum), like ``torch.optim.SGD``.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr (float): learning rate. Default: 1e-3.
        momentum (float): momentum factor. Default: 0.
        dampening (float): dampening for momentum. Default: 0.
        weight_decay (float): L2 penalty. Default: 0.
        nesterov (bool): enables Nesterov momentum. Default: False.
        maximize (bool): maximize the objective instead of minimizing. Default: False.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_non_negative("SGD", "learning rate", lr, "lr")
        _check_non_negative("SGD", "momentum value", momentum, "momentum")
        _check_non_negative("SGD", "weight_decay value", weight_decay, "weight_decay")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum and zero dampening (got momentum={momentum}, "
                f"dampening={dampening}); set momentum > 0 and dampening=0, or nesterov=False")
        _check_unsupported("SGD", differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _creates_state(self, group):
        return group["momentum"] != 0

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's SGD update (the fused CUDA kernel when it applies)."""
        momentum = group["momentum"]
        dampening = group["dampening"]
        nesterov = group["nesterov"]
        if momentum != 0 and p._device.type == "cuda" and _fused_gpu_step(self, p, group, lr):
            return
        xp = p.xp
        grad = self._grad_for_update(p, group["maximize"], group["weight_decay"])
        update = grad
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = Tensor._wrap(grad.copy())
                state["momentum_buffer"] = buf
            else:
                b = buf._data
                xp.multiply(b, momentum, out=b)
                if dampening == 0:
                    xp.add(b, grad, out=b)
                else:
                    tmp = self._scratch(p, "tmp")
                    xp.multiply(grad, 1 - dampening, out=tmp)
                    xp.add(b, tmp, out=b)
                buf._bump_version()
            if nesterov:
                update = self._scratch(p, "tmp")
                xp.multiply(buf._data, momentum, out=update)
                xp.add(grad, update, out=update)
            else:
                update = buf._data
        self._add_scaled_(p, update, -lr)
        p._bump_version()


def _fused_gpu_step(opt, p, group, lr):
    """The whole momentum update as one CUDA kernel (weight decay, maximize, nesterov included).

    Returns False (and the caller takes the generic path) if the kernel could not be built.
    """
    from ..backend import fused
    if not fused.gpu_kernels_ok:
        return False
    state = opt.state[p]
    buf = state.get("momentum_buffer")
    first = buf is None
    if first:
        buf = Tensor._wrap(p.xp.empty_like(p._data))
    try:
        fused.sgd_momentum_(p._data, p.grad._data, buf._data, lr, group["momentum"], group["dampening"],
                            group["weight_decay"], group["nesterov"], group["maximize"], first)
    except Exception:  # a CuPy compile failure: fall back for the rest of the run
        fused.gpu_kernels_ok = False
        return False
    state["momentum_buffer"] = buf
    buf._bump_version()
    p._bump_version()
    return True

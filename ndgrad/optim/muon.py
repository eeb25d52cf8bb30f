"""Muon (``torch.optim.Muon``): momentum SGD whose update is orthogonalized by a Newton-Schulz iteration.

torch runs the Newton-Schulz iteration in bfloat16. NumPy and CuPy have no bfloat16 matmul,
so it is emulated: every intermediate is rounded to bfloat16 (round to nearest even) while
products accumulate in float32, the way torch's CPU bfloat16 kernels do.
"""
import math

from .optimizer import Optimizer

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def _round_bfloat16(xp, x):
    """float32 values rounded to the nearest bfloat16 (ties to even), still stored as float32."""
    x = xp.ascontiguousarray(x, dtype=xp.float32)
    bits = x.view(xp.uint32)
    rounded = (bits + (xp.uint32(0x7FFF) + ((bits >> 16) & xp.uint32(1)))) & xp.uint32(0xFFFF0000)
    return xp.where(xp.isnan(x), x, rounded.view(xp.float32))


def _addmm_bfloat16(xp, bias, a, b, beta=1.0, alpha=1.0):
    """``beta * bias + alpha * (a @ b)`` rounded once to bfloat16 (torch.addmm on bfloat16).

    The product accumulates in float32; the scaled sum is formed without an intermediate
    float32 rounding (torch's kernel fuses it), hence float64 for that one step.
    """
    product = xp.matmul(a, b).astype(xp.float64)
    combined = beta * bias.astype(xp.float64) + alpha * product
    return _round_bfloat16(xp, combined.astype(xp.float32))


def zeropower_via_newtonschulz(xp, grad, ns_coefficients, ns_steps, eps):
    """Approximately orthogonalize the 2-D ``grad`` (U S V^T -> about U V^T) with a quintic Newton-Schulz iteration."""
    if ns_steps >= 100:
        raise ValueError(f"Muon: ns_steps must be less than 100 for computational efficiency, got {ns_steps}")
    if grad.ndim != 2:
        raise ValueError(f"Muon: the gradient must be a 2-D matrix, got shape {tuple(grad.shape)}")
    if len(ns_coefficients) != 3:
        raise ValueError(f"Muon: ns_coefficients must be a tuple of exactly 3 values, got {ns_coefficients}")
    a, b, c = ns_coefficients
    ortho = _round_bfloat16(xp, grad)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        ortho = ortho.T
    # scale so that the spectral norm is at most 1 (the Frobenius norm bounds it)
    norm = _round_bfloat16(xp, xp.sqrt(xp.sum(ortho * ortho, dtype=xp.float32)))
    norm = xp.maximum(norm, _round_bfloat16(xp, xp.asarray(eps, dtype=xp.float32)))
    ortho = _round_bfloat16(xp, ortho / norm)
    for _ in range(ns_steps):
        gram = _round_bfloat16(xp, xp.matmul(ortho, ortho.T))
        gram_update = _addmm_bfloat16(xp, gram, gram, gram, beta=b, alpha=c)
        ortho = _addmm_bfloat16(xp, ortho, gram_update, ortho, beta=a)
    return ortho.T if tall else ortho


def _adjust_lr(lr, adjust_lr_fn, param_shape):
    """The learning rate scaled for the parameter's shape (A x B)."""
    rows, cols = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Implements Muon, like ``torch.optim.Muon`` (2-D parameters only).

    Args:
        params: iterable of 2-D parameters or dicts defining parameter groups. Optimize biases,
            embeddings and other parameters with another optimizer (e.g. AdamW).
        lr (float): learning rate. Default: 1e-3.
        weight_decay (float): decoupled weight decay. Default: 0.1.
        momentum (float): momentum factor. Default: 0.95.
        nesterov (bool): use Nesterov momentum. Default: True.
        ns_coefficients (tuple): (a, b, c) of the Newton-Schulz polynomial. Default: (3.4445, -4.7750, 2.0315).
        eps (float): lower bound of the norm the gradient is divided by. Default: 1e-7.
        ns_steps (int): Newton-Schulz iterations. Default: 5.
        adjust_lr_fn (str): None/'original' (lr * sqrt(max(1, A/B))) or 'match_rms_adamw'
            (lr * 0.2 * sqrt(max(A, B))). Default: None.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Muon: Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"Muon: momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Muon: weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(
                f"Muon: Adjust learning rate function {adjust_lr_fn} is not supported; use None, 'original' "
                "or 'match_rms_adamw'")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(
                        f"Muon only supports 2D parameters whereas we found a parameter with size: "
                        f"{tuple(p.shape)}; optimize it with another optimizer (e.g. AdamW)")

    _supports_complex = False  # Newton-Schulz orthogonalization is defined for real matrices, as in torch

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if one is given."""
        return self._step_params(closure, self._update_param)

    def _update_param(self, p, group, lr):
        """One parameter's Muon update, in torch's order."""
        from ndgrad.tensor import Tensor
        xp = p.xp
        grad = p.grad._data
        if grad.ndim != 2:
            raise ValueError(f"Muon: Param gradient must be a 2D matrix, got shape {tuple(grad.shape)}")
        momentum = group["momentum"]
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor._wrap(xp.zeros_like(grad))
        buf = state["momentum_buffer"]._data
        tmp = self._scratch(p, "tmp")
        self._lerp_(xp, buf, grad, 1 - momentum, tmp)
        state["momentum_buffer"]._bump_version()
        if group["nesterov"]:
            update = self._scratch(p, "nesterov")
            update[...] = grad
            self._lerp_(xp, update, buf, momentum, tmp)  # grad.lerp(buf, momentum)
        else:
            update = buf
        update = zeropower_via_newtonschulz(xp, update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
        xp.multiply(p._data, 1 - lr * group["weight_decay"], out=p._data)
        self._add_scaled_(p, update.astype(p._data.dtype, copy=False), -adjusted_lr)
        p._bump_version()

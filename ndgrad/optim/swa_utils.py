"""Stochastic Weight Averaging and EMA of weights (``torch.optim.swa_utils``).

``AveragedModel`` keeps a running average (SWA) or exponential moving average (EMA) of a
model's parameters; ``SWALR`` anneals the learning rate to a constant SWA rate; ``update_bn``
recomputes BatchNorm statistics for the averaged weights.
"""
import itertools
import math
import warnings
from copy import deepcopy

from ndgrad.autograd.grad_mode import no_grad
from ndgrad.nn.module import Module
from ndgrad.tensor import Tensor

from .lr_scheduler import LRScheduler, _format_param
from .optimizer import Optimizer

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _weight_value(num_averaged):
    """``1 / (n + 1)`` as torch computes it: a default-dtype (float32) scalar when n is a tensor."""
    if isinstance(num_averaged, Tensor):
        import ndgrad
        return (1 / (num_averaged.to(ndgrad.get_default_dtype()) + 1)).item()
    return 1 / (num_averaged + 1)


def _lerp_into(averaged, current, weight):
    """``averaged.lerp_(current, weight)`` on the raw arrays (torch's two-sided formula)."""
    start, end = averaged._data, current._data
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
    averaged._bump_version()


def get_ema_multi_avg_fn(decay=0.999):
    """An in-place EMA update for lists of tensors: ``ema = decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        with no_grad():
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                if p_ema.dtype.is_floating_point:
                    _lerp_into(p_ema, p_model, 1 - decay)
                else:
                    p_ema._data[...] = p_ema._data * decay + p_model._data * (1 - decay)
                    p_ema._bump_version()

    return ema_update


def get_swa_multi_avg_fn():
    """An in-place running-average update for lists of tensors: ``avg += (current - avg) / (n + 1)``."""

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with no_grad():
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                if p_avg.dtype.is_floating_point:
                    _lerp_into(p_avg, p_model, _weight_value(num_averaged))
                else:
                    n = num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged
                    p_avg._data[...] = p_avg._data + (p_model._data - p_avg._data) / (n + 1)
                    p_avg._bump_version()

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """An EMA of one tensor: returns ``decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """A running average of one tensor: returns ``avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters hold an average of the ``model``'s parameters over time.

    Args:
        model (Module): the model to average (deep-copied).
        device: where to keep the averaged copy. Default: the model's device.
        avg_fn: ``avg_fn(averaged, current, n_averaged) -> new averaged`` for one tensor.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, n_averaged)`` updating in place.
            Default (neither given): the equal-weight running average (SWA).
        use_buffers (bool): average the buffers too (else copy them from ``model``). Default: False.

    Call ``update_parameters(model)`` after optimizer steps; ``n_averaged`` counts the updates.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError(  # torch's error type
                "AveragedModel: only one of avg_fn and multi_avg_fn should be provided; pass one of them")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        import ndgrad
        self.register_buffer("n_averaged", ndgrad.tensor(0, dtype=ndgrad.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        """Run the averaged copy of the model."""
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Fold ``model``'s current parameters (and buffers with ``use_buffers``) into the average."""
        if self.use_buffers:
            self_params = itertools.chain(self.module.parameters(), self.module.buffers())
            model_params = itertools.chain(model.parameters(), model.buffers())
        else:
            self_params, model_params = self.parameters(), model.parameters()
        averaged, current = [], []
        first = int(self.n_averaged.item()) == 0
        with no_grad():
            for p_averaged, p_model in zip(self_params, model_params):
                p_model_ = p_model.detach().to(p_averaged.device)
                averaged.append(p_averaged.detach())
                current.append(p_model_)
                if first:
                    _copy_into(p_averaged, p_model_._data)
            if not first:
                self._average(averaged, current)
            if not self.use_buffers:
                # buffers are not averaged: keep them in sync with the source model
                for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                    _copy_into(b_swa, b_model.detach().to(b_swa.device)._data)
        self.n_averaged._data[...] = self.n_averaged._data + 1
        self.n_averaged._bump_version()

    def _average(self, averaged, current):
        if self.multi_avg_fn is not None:
            self.multi_avg_fn(averaged, current, self.n_averaged)
        elif self.avg_fn is not None:
            for p_averaged, p_model in zip(averaged, current):
                _copy_into(p_averaged, self.avg_fn(p_averaged, p_model, self.n_averaged)._data)
        else:
            n = int(self.n_averaged.item())
            for p_averaged, p_model in zip(averaged, current):
                data = p_averaged._data
                _copy_into(p_averaged, data + (p_model._data - data) / (n + 1))


def _copy_into(tensor, array):
    tensor._data[...] = array
    tensor._bump_version()


def update_bn(loader, model, device=None):
    """Recompute every BatchNorm's running statistics with one pass over ``loader`` (for SWA weights).

    Each batch (or the first element of a list/tuple batch) is fed to ``model`` in training
    mode with cumulative averaging (``momentum=None``); the modes and momenta are restored.
    """
    from ndgrad.nn.layers.normalization import _BatchNorm
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` epochs, then keep it constant.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        swa_lr (float or list): the SWA learning rate (per group).
        anneal_epochs (int): epochs of the annealing phase. Default: 10.
        anneal_strategy (str): 'cos' or 'linear'. Default: 'cos'.
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"SWALR: {type(optimizer).__name__} is not an Optimizer; pass an ndgrad.optim optimizer")
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(
                f"SWALR: anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        # recover the lr the annealing started from, then move the fraction alpha towards swa_lr
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def state_dict(self):
        """Every attribute but the optimizer and the annealing function."""
        return {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)

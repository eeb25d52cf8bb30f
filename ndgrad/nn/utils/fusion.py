"""Fold an eval-mode BatchNorm into the preceding Conv or Linear (``torch.nn.utils.fusion``)."""
import copy

import ndgrad
from ndgrad.nn.parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _bn_scale(bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    bn_w = ndgrad.ones_like(bn_rm) if bn_w is None else bn_w
    bn_b = ndgrad.zeros_like(bn_rm) if bn_b is None else bn_b
    return bn_w * (bn_rv + bn_eps).rsqrt(), bn_b


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """(weight, bias) Parameters of one conv equal to conv followed by batch norm with running stats."""
    with ndgrad.no_grad():
        scale, bn_b = _bn_scale(bn_rm, bn_rv, bn_eps, bn_w, bn_b)
        conv_b = ndgrad.zeros_like(bn_rm) if conv_b is None else conv_b
        shape = [1] * conv_w.dim()
        shape[1 if transpose else 0] = -1
        fused_w = (conv_w * scale.reshape(shape)).to(conv_w.dtype)
        fused_b = ((conv_b - bn_rm) * scale + bn_b).to(conv_w.dtype)
    return Parameter(fused_w, conv_w.requires_grad), Parameter(fused_b, conv_b.requires_grad)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` (eval mode) with ``bn`` folded into its weight and bias."""
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("fuse_conv_bn_eval: the batch norm needs running statistics")
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(weight, bias) Parameters of one linear layer equal to linear followed by batch norm."""
    if linear_w.shape[0] != bn_rm.shape[0] and bn_rm.shape[0] != 1:
        raise AssertionError("To fuse, linear.out_features == bn.num_features or bn.num_features == 1")
    with ndgrad.no_grad():
        scale, bn_b = _bn_scale(bn_rm, bn_rv, bn_eps, bn_w, bn_b)
        linear_b = ndgrad.zeros_like(bn_rm) if linear_b is None else linear_b
        fused_w = linear_w * scale.unsqueeze(-1)
        fused_b = (linear_b - bn_rm) * scale + bn_b
    return Parameter(fused_w, linear_w.requires_grad), Parameter(fused_b, linear_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` (eval mode) with ``bn`` folded in."""
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused

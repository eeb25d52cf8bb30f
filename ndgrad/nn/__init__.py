"""ndgrad.nn: modules, layers, losses, initialisation and utilities with torch.nn's names.

``ndgrad.nn.functional`` holds the stateless functions the layers call.
"""
from ndgrad.nn.parameter import Parameter
from ndgrad.nn.buffer import Buffer  # noqa: F401  (torch 2.13's buffer marker)
from ndgrad.nn.module import Module
from ndgrad.nn import functional
from ndgrad.nn import init
from ndgrad.nn import utils
from ndgrad.nn.containers import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from ndgrad.nn import layers as _layers
from ndgrad.nn.layers import *  # noqa: F401,F403
from ndgrad.nn.loss import *  # noqa: F401,F403
from ndgrad.nn import loss as _loss

__all__ = (["Parameter", "Module", "functional", "init", "utils", "Sequential", "ModuleList", "ModuleDict",
            "ParameterList", "ParameterDict"]
           + _layers.__all__ + _loss.__all__)

from ndgrad.nn import modules, parallel  # noqa: E402  torch's import paths (torch.nn.modules.conv, ...)
from ndgrad.nn.parallel import DataParallel  # noqa: E402
__all__ += ["modules", "parallel", "DataParallel", "Buffer"]

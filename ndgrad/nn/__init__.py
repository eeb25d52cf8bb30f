"""ndgrad.nn: modules, layers, losses, initialisation and utilities with torch.nn's names.

``ndgrad.nn.functional`` holds the stateless functions the layers call.
"""
from ndgrad.nn.parameter import Parameter
from ndgrad.nn.module import Module
from ndgrad.nn import functional
from ndgrad.nn import init
from ndgrad.nn import utils
from ndgrad.nn.containers import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from ndgrad.nn.layers import *  # noqa: F401,F403
from ndgrad.nn.layers import (linear as _linear, conv as _conv, pooling as _pooling,
                              normalization as _normalization, dropout as _dropout, embedding as _embedding,
                              activation as _activation, rnn as _rnn, attention as _attention,
                              transformer as _transformer)
from ndgrad.nn.loss import *  # noqa: F401,F403
from ndgrad.nn import loss as _loss

__all__ = (["Parameter", "Module", "functional", "init", "utils", "Sequential", "ModuleList", "ModuleDict",
            "ParameterList", "ParameterDict"]
           + [name for mod in (_linear, _conv, _pooling, _normalization, _dropout, _embedding, _activation,
                               _rnn, _attention, _transformer, _loss) for name in mod.__all__])

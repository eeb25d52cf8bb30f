"""``ndgrad.onnx``: export a model to ONNX (``export``), and the tracer behind it (``ndgrad.trace``).

The ``onnx`` package is imported only when a model is exported, so importing
this module stays cheap (programs ``import torch.onnx`` at the top).
"""
from .builder import UnsupportedOperatorError
from .export import TrainingMode, export, is_in_onnx_export
from .graph import Graph, Op, Value
from .tracer import TracerWarning, trace


def supported_ops():
    """Names of the traced ops (ndgrad's Node classes, raw ops and modules) that export to ONNX."""
    from .mapping import supported_ops as names
    return names()


__all__ = ["export", "trace", "TrainingMode", "Graph", "Op", "Value", "TracerWarning", "UnsupportedOperatorError",
           "is_in_onnx_export", "supported_ops"]

"""Pictures for people learning how tensors and backpropagation work.

- ``draw_graph(t)``: the computation graph behind a tensor (Graphviz DOT; SVG/PNG with ``dot``);
- ``show_tensor(t, path)``: a 0-d to 5-d tensor as a picture;
- ``plot_curve(history, path)``: training curves;
- ``explain(loss)``: the backward pass step by step with the real numbers (``record_sources()`` adds where
  each op came from).

matplotlib (for the last two) is imported only when a picture is drawn.
"""
from ._sources import record_sources
from .curves import plot_curve
from .explain import explain
from .graph import draw_graph
from .tensor_image import show_tensor

__all__ = ["draw_graph", "show_tensor", "plot_curve", "explain", "record_sources"]

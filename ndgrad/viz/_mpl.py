"""Shared plumbing for the matplotlib pictures: the optional import and host arrays."""
import os

from ..backend import np


def new_figure(figsize):
    """A matplotlib Figure drawn with Agg, without pyplot's global state (safe in scripts and threads)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("ndgrad.viz pictures need matplotlib: pip install ndgrad[viz]  "
                          "(or: pip install matplotlib)") from None
    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def host_array(t, who):
    """A NumPy copy of a Tensor / NumPy / CuPy array / nested list, in a dtype matplotlib can draw."""
    data = getattr(t, "_data", t)
    if hasattr(data, "get") and not isinstance(data, np.ndarray):  # a CuPy array: copy to host memory
        data = data.get()
    try:
        a = np.asarray(data)
    except Exception as e:
        raise TypeError(f"{who}: expected a tensor or an array, got {type(t).__name__} ({e})") from None
    if a.dtype == bool:
        return a.astype(np.uint8)
    if a.dtype.kind not in "iuf":  # bfloat16 (ml_dtypes) and friends: draw as float32
        try:
            return a.astype(np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"{who}: cannot draw an array of dtype {a.dtype}") from None
    return a


def dtype_name(t):
    dt = getattr(t, "dtype", None)
    return str(dt).replace("ndgrad.", "") if dt is not None else "?"

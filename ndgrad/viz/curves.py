"""``plot_curve``: training curves (loss, accuracy, ...) per epoch as one picture."""
import math

from ._mpl import new_figure, save_figure


def plot_curve(history, path, title=None, xlabel="epoch"):
    """Draw ``history`` (``{'train_loss': [...], 'test_acc': [...]}``) to ``path``; return ``path``.

    Series whose name contains "loss" share the left panel; all others
    (accuracies, learning rates, ...) share the right one. Point ``i`` of
    every series is plotted at x = i + 1 (epoch 1, 2, ...). Missing points
    may be None; values may be numbers or 0-d tensors.
    """
    series = _check_history(history)
    fig = new_figure((5.0, 3.6))  # checks that matplotlib is there before importing its parts
    from matplotlib.ticker import MaxNLocator
    losses = {k: v for k, v in series.items() if "loss" in k.lower()}
    others = {k: v for k, v in series.items() if k not in losses}
    panels = [(p, name) for p, name in ((losses, "loss"), (others, _others_label(others))) if p]
    fig.set_size_inches(5.0 * len(panels), 3.6)
    for i, (panel, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for name, values in panel.items():
            xs = [j + 1 for j, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            ax.plot(xs, ys, marker="o" if len(ys) <= 30 else None, markersize=3, label=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if ylabel == "loss" and _all_positive(panel) and _spread(panel) > 100:
            ax.set_yscale("log")  # losses often fall by orders of magnitude
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _check_history(history):
    if not isinstance(history, dict) or not history:
        raise TypeError("plot_curve: history must be a non-empty dict of lists, e.g. "
                        f"{{'train_loss': [0.9, 0.5], 'test_acc': [0.8, 0.9]}}; got {type(history).__name__}")
    series = {}
    for name, values in history.items():
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"plot_curve: history[{name!r}] must be a list of numbers, "
                            f"got {type(values).__name__}")
        clean = []
        for j, v in enumerate(values):
            if v is None:
                clean.append(None)
                continue
            try:
                clean.append(float(v.item() if hasattr(v, "item") else v))
            except (TypeError, ValueError):
                raise TypeError(f"plot_curve: history[{name!r}][{j}] = {v!r} is not a number") from None
        series[str(name)] = clean
    return series


def _others_label(others):
    names = [k.lower() for k in others]
    return "accuracy" if names and all("acc" in k for k in names) else "value"


def _all_positive(panel):
    return all(v > 0 for values in panel.values() for v in values if v is not None)


def _spread(panel):
    vals = [v for values in panel.values() for v in values if v is not None and math.isfinite(v)]
    return max(vals) / min(vals) if vals and min(vals) > 0 else 1.0

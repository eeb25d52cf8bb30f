"""``show_tensor``: a 0-d to 5-d tensor as a picture."""
import math

from ..backend import np
from ._mpl import dtype_name, host_array, new_figure, save_figure

_ANNOTATE_MAX = 10  # write the numbers into matrix cells up to this many rows and columns


def show_tensor(t, path, title=None, video=False, max_images=64, labels=None):
    """Draw ``t`` to an image file (PNG, SVG, PDF by the extension of ``path``) and return ``path``.

    How each rank is drawn:

    - 0-d: the number, large;  1-d: one bar per element;
    - 2-d ``(H, W)``: a heat map with a colorbar (small matrices show their values);
    - 3-d ``(C, H, W)``: an RGB image when C is 3, a grayscale heat map when C is 1, else one panel per channel;
    - 4-d ``(N, C, H, W)``: a grid of the batch's images;
    - 5-d ``(N, T, C, H, W)``: one strip of T frames per clip.

    With ``video=True``, a 4-d tensor is one clip ``(T, C, H, W)`` and a 3-d tensor is
    ``(T, H, W)``, drawn as a strip of frames. A Conv3d layout ``(N, C, T, H, W)``
    (or ``(C, T, H, W)``) is recognised when only the channel dimension has 1 or 3
    entries (the title then says how it was read); otherwise pass
    ``t.permute(0, 2, 1, 3, 4)``. At most ``max_images`` images are drawn; the title
    says when some were left out. ``labels`` (one per image of a 4-d batch, e.g. the
    targets) are written in the corner of each image.
    """
    a = host_array(t, "show_tensor")
    shape = tuple(a.shape)
    desc = f"{tuple(shape)} {dtype_name(t)}"
    heading = f"{title}\n{desc}" if title else desc
    if a.ndim > 5:
        raise ValueError(f"show_tensor: a tensor of shape {shape} has {a.ndim} dimensions; it draws 0 to 5 "
                         "(scalar, vector, matrix, (C,H,W) image, (N,C,H,W) batch, (N,T,C,H,W) video): "
                         "select or reshape first")
    if a.ndim >= 3 and a.size == 0:
        raise ValueError(f"show_tensor: the tensor of shape {shape} is empty; nothing to draw")
    if labels is not None and (a.ndim != 4 or video):
        raise ValueError(f"show_tensor: labels= is for a 4-d batch (N, C, H, W), not shape {shape}")
    if a.ndim == 0:
        fig = _scalar(a, heading)
    elif a.ndim == 1:
        fig = _vector(a, heading)
    elif a.ndim == 2:
        fig = _matrix(a, heading)
    elif video:
        if a.ndim == 3:  # (T, H, W): one grayscale clip
            clips = a[None, :, None]
        else:            # (T, C, H, W): one clip, or (N, T, C, H, W)
            batch = a[None] if a.ndim == 4 else a
            clips = _time_first(batch)
            if clips is not batch:
                heading += "\nread as (C, T, H, W)" if a.ndim == 4 else "\nread as (N, C, T, H, W)"
        fig = _clips(clips, heading, max_images)
    elif a.ndim == 3:
        fig = _image(a, heading)
    elif a.ndim == 4:
        fig = _batch(a, heading, max_images, _check_labels(labels, a.shape[0]))
    else:
        clips = _time_first(a)
        if clips is not a:
            heading += "\nread as (N, C, T, H, W)"
        fig = _clips(clips, heading, max_images)
    return save_figure(fig, path)


# ----------------------------------------------------------------------------- one kind each

def _scalar(a, heading):
    fig = new_figure((3.5, 2.2))
    ax = fig.add_subplot()
    ax.axis("off")
    value = a.item()
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    ax.text(0.5, 0.5, text, fontsize=40, ha="center", va="center", transform=ax.transAxes)
    ax.set_title(heading, fontsize=9)
    return fig


def _vector(a, heading):
    n = a.shape[0]
    fig = new_figure((min(max(4.0, 0.3 * n), 12.0), 3.0))
    ax = fig.add_subplot()
    values = a.astype(np.float64)
    colors = np.where(values < 0, "tab:red", "tab:blue")
    ax.bar(np.arange(n), values, width=0.8 if n <= 64 else 1.0, color=colors)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel("index")
    ax.set_ylabel("value")
    if 0 < n <= 20:
        ax.set_xticks(range(n))
    ax.set_title(heading, fontsize=9)
    return fig


def _matrix(a, heading, image_like=False):
    h, w = a.shape
    scale = 6.0 / max(h, w, 1)
    fig = new_figure((min(max(3.0, w * scale + 1.5), 9.0), min(max(2.5, h * scale + 0.8), 8.0)))
    ax = fig.add_subplot()
    values = a.astype(np.float64)
    cmap, vmin, vmax = _colormap(values, image_like)
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="equal")
    fig.colorbar(im, ax=ax, shrink=0.85)
    if image_like:
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.set_xlabel("column (dim 1)")
        ax.set_ylabel("row (dim 0)")
        if 0 < h <= _ANNOTATE_MAX and 0 < w <= _ANNOTATE_MAX:
            _annotate(ax, values, im)
    ax.set_title(heading, fontsize=9)
    return fig


def _image(a, heading):
    c = a.shape[0]
    if c == 1:
        return _matrix(a[0], heading, image_like=True)
    if c in (3, 4):
        rgb, note = _as_rgb(a)
        fig = new_figure(_fit_size(rgb.shape[1], rgb.shape[0]))
        ax = fig.add_subplot()
        ax.imshow(rgb, interpolation="nearest")
        ax.axis("off")
        ax.set_title(heading + note, fontsize=9)
        return fig
    # Any other channel count (feature maps): one grayscale panel per channel.
    return _batch(a[:, None], heading + "\none panel per channel", max_images=64)


def _check_labels(labels, n):
    if labels is None:
        return None
    labels = [x.item() if hasattr(x, "item") else x for x in host_array(labels, "show_tensor").ravel()] \
        if hasattr(labels, "shape") else list(labels)
    if len(labels) != n:
        raise ValueError(f"show_tensor: got {len(labels)} labels for a batch of {n} images; give one per image")
    return labels


def _batch(a, heading, max_images, labels=None):
    n, c = a.shape[:2]
    if c not in (1, 3, 4):
        # Feature maps: a row per sample, a column per channel (one sample: a square grid of channels).
        if n == 1:
            return _batch(a[0][:, None], heading + "\none panel per channel", max_images)
        return _clips(a[:, :, None], heading + "\nrows: samples, columns: channels", max_images,
                      column_word="channel")
    shown = min(n, max_images)
    cols = _grid_columns(shown)
    rows = math.ceil(shown / cols)
    tiles = [a[i] for i in range(shown)] + [None] * (rows * cols - shown)
    grid = [tiles[r * cols:(r + 1) * cols] for r in range(rows)]
    note = f" (first {shown} of {n})" if shown < n else ""
    return _mosaic(grid, heading + note, a[:shown], labels=labels)


def _time_first(a):
    """(N, T, C, H, W) as is; a Conv3d layout (N, C, T, H, W) is recognised when only dim 1 looks like
    channels (1 or 3 of them), and moved to (N, T, C, H, W)."""
    if a.shape[2] not in (1, 3) and a.shape[1] in (1, 3):
        return np.swapaxes(a, 1, 2)
    return a


def _grid_columns(n):
    """About square, but a divisor of n when one is near (32 images: 8 x 4, not 6 x 6 with 4 holes)."""
    side = math.ceil(math.sqrt(n))
    for cols in range(side, 2 * side + 1):
        if n % cols == 0:
            return cols
    return side


def _clips(a, heading, max_images, column_word="frame"):
    n, t, c = a.shape[:3]
    if c not in (1, 3, 4):
        a = a[:, :, :1]
        heading += f"\nchannel 0 of {c}"
    rows = max(1, min(n, max_images // max(t, 1)))
    cols = min(t, max_images)
    grid = [[a[i, j] for j in range(cols)] for i in range(rows)]
    note = ""
    if rows < n or cols < t:
        note = f" (first {rows} of {n} rows, {cols} of {t} {column_word}s)"
    return _mosaic(grid, heading + note, a[:rows, :cols], column_word=column_word, label_axes=True)


# ----------------------------------------------------------------------------- helpers

def _mosaic(grid, heading, shown, column_word="frame", label_axes=False, labels=None):
    """Tiles (C,H,W) images (None = blank) into one array, so even 64 images are one fast imshow."""
    sample = next(x for row in grid for x in row if x is not None)
    c, h, w = sample.shape
    rows, cols = len(grid), len(grid[0])
    pad = 1
    color = c in (3, 4)
    if color:
        # One scaling for every tile, so brightness compares across the grid.
        rgb_all, note = _as_rgb(shown.reshape((-1,) + sample.shape))
        canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, 3))
        images = iter(rgb_all)
    else:
        note = ""
        canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), np.nan)
    for r, row in enumerate(grid):
        for k, tile in enumerate(row):
            if tile is None:
                continue
            y, x = pad + r * (h + pad), pad + k * (w + pad)
            canvas[y:y + h, x:x + w] = next(images)[..., :3] if color else tile[0]
    fig = new_figure(_fit_size(canvas.shape[1], canvas.shape[0], extra_w=0.0 if color else 1.2))
    ax = fig.add_subplot()
    if color:
        ax.imshow(canvas, interpolation="nearest")
    else:
        cmap, vmin, vmax = _colormap(shown.astype(np.float64), image_like=True)
        im = ax.imshow(canvas, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.85)
    if label_axes:
        ax.set_xticks([pad + k * (w + pad) + (w - 1) / 2 for k in range(cols)])
        ax.set_xticklabels([str(k) for k in range(cols)], fontsize=7)
        ax.set_yticks([pad + r * (h + pad) + (h - 1) / 2 for r in range(rows)])
        ax.set_yticklabels([str(r) for r in range(rows)], fontsize=7)
        ax.set_xlabel(column_word)
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
    else:
        ax.axis("off")
    if labels is not None:
        for i in range(len(shown)):
            r, k = divmod(i, cols)
            ax.text(pad + k * (w + pad) - 0.3, pad + r * (h + pad) - 0.3, str(labels[i]), ha="left",
                    va="top", fontsize=8, color="white",
                    bbox=dict(boxstyle="square,pad=0.1", facecolor="black", alpha=0.6, linewidth=0))
    ax.set_title(heading + note, fontsize=9)
    return fig


def _as_rgb(a):
    """(..., C, H, W) with C = 3 or 4 -> (..., H, W, C) in [0, 1], and a note if values were rescaled."""
    x = np.moveaxis(a, -3, -1).astype(np.float64)
    if a.dtype.kind in "iu" and x.min(initial=0) >= 0 and x.max(initial=0) <= 255 and x.max(initial=0) > 1:
        return x / 255.0, ""
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if lo >= 0.0 and hi <= 1.0:
        return x, ""
    span = hi - lo if hi > lo else 1.0
    return (x - lo) / span, f"\n(colors rescaled from [{lo:.3g}, {hi:.3g}])"


def _colormap(values, image_like):
    finite = values[np.isfinite(values)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if lo < 0.0 < hi:  # signed data (weights, gradients): a diverging map centered at zero
        m = max(-lo, hi)
        return "RdBu_r", -m, m
    return ("gray" if image_like else "viridis"), lo, (hi if hi > lo else lo + 1.0)


def _annotate(ax, values, im):
    norm, cmap = im.norm, im.cmap
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            r, g, b, _ = cmap(norm(v))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")


def _fit_size(width_px, height_px, extra_w=0.0):
    scale = 7.0 / max(width_px, height_px, 1)
    return (max(2.5, width_px * scale + extra_w), max(2.0, height_px * scale + 0.6))

"""Pictures: draw_graph's DOT text (and rendering), show_tensor for every rank, plot_curve."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.tensor import Tensor
from ndgrad.viz import draw_graph, plot_curve, show_tensor

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)", fillcolor="([^"]+)"', re.M)
EDGE = re.compile(r"^  (\w+) -> (\w+);", re.M)


def parse_dot(text):
    """{node id: label lines} and the set of (source label head, target label head) edges."""
    labels = {nid: label.replace('\\"', '"').split("\\n") for nid, label, _ in NODE.findall(text)}
    edges = [(src, dst) for src, dst in EDGE.findall(text)]
    return labels, edges


def by_title(labels, prefix):
    found = [nid for nid, lines in labels.items() if lines[0].startswith(prefix)]
    assert len(found) == 1, (prefix, labels)
    return found[0]


def leaf(array, requires_grad):
    return Tensor._wrap(np.array(array, order="C"), requires_grad=requires_grad)


@pytest.fixture
def small_graph():
    """loss = relu(x @ w + b).sum() with x (4,3) data, w (3,2) and b (2,) weights, float64."""
    rng = np.random.default_rng(0)
    xs, ws, bs = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    x, w, b = leaf(xs, False), leaf(ws, True), leaf(bs, True)
    loss = (x @ w + b).relu().sum()
    return loss, {"x": x, "w": w, "b": b}, (xs, ws, bs)


# ----------------------------------------------------------------------------- draw_graph

def test_dot_has_ops_shapes_leaves_and_edges(small_graph):
    loss, params, _ = small_graph
    text = draw_graph(loss, params=params)
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    labels, edges = parse_dot(text)
    matmul, add = by_title(labels, "MatMul"), by_title(labels, "Add")
    relu, total = by_title(labels, "Relu"), by_title(labels, "Sum")
    x, w, b, out = by_title(labels, "x"), by_title(labels, "w"), by_title(labels, "b"), by_title(labels, "output")
    assert labels[matmul][1] == "(4, 2) float64"
    assert labels[add][1] == "(4, 2) float64"
    assert labels[relu][1] == "(4, 2) float64"
    assert labels[total][1] == "() float64"
    assert labels[out][1:] == ["() float64"]
    assert labels[w][1:] == ["(3, 2) float64", "requires_grad"]
    assert labels[b][1:] == ["(2,) float64", "requires_grad"]
    assert labels[x][1:] == ["(4, 3) float64", "no grad"]
    assert sorted(edges) == sorted([(x, matmul), (w, matmul), (matmul, add), (b, add), (add, relu),
                                    (relu, total), (total, out)])


def test_dot_without_names_or_constants(small_graph):
    loss, _, _ = small_graph
    labels, edges = parse_dot(draw_graph(loss, show_constants=False))
    assert sum(lines[0] == "leaf" for lines in labels.values()) == 2
    assert not any(lines[0] == "input" for lines in labels.values())
    assert len(edges) == 6


def test_grad_norms_after_backward_match_pytorch(small_graph):
    loss, params, (xs, ws, bs) = small_graph
    loss.backward(retain_graph=True)
    tx, tw, tb = torch.tensor(xs), torch.tensor(ws, requires_grad=True), torch.tensor(bs, requires_grad=True)
    (tx @ tw + tb).relu().sum().backward()
    labels, _ = parse_dot(draw_graph(loss, params=params, show_grad_norms=True))
    assert labels[by_title(labels, "w")][-1] == f"|grad| = {tw.grad.norm().item():.4g}"
    assert labels[by_title(labels, "b")][-1] == f"|grad| = {tb.grad.norm().item():.4g}"
    assert labels[by_title(labels, "MatMul")][1] == "(4, 2) float64"  # retain_graph kept the shapes


def test_graph_freed_by_backward_is_still_drawn(small_graph):
    loss, params, _ = small_graph
    before = parse_dot(draw_graph(loss, params=params))[0]
    loss.backward()
    text = draw_graph(loss, params=params)
    labels, edges = parse_dot(text)
    # each node keeps its output's shape and dtype, so the freed graph still shows them
    assert labels[by_title(labels, "Add")][1] == before[by_title(before, "Add")][1] != "shape ?"
    assert "retain_graph=True" not in text
    assert len(edges) == 6  # the constant x is gone with the freed inputs, the structure is not


def test_op_settings_and_quotes_are_in_labels():
    t = leaf(np.ones((2, 3)), True)
    out = t.sum(dim=1, keepdim=True)
    labels, _ = parse_dot(draw_graph(out, params={'my "w"': t}))
    assert labels[by_title(labels, "Sum")][1] == "(2, 1) float64"
    assert "keepdim=True" in labels[by_title(labels, "Sum")][0]
    assert by_title(labels, 'my "w"')


def test_deep_graph_needs_no_recursion():
    t = leaf(np.ones(3), True)
    y = t
    for _ in range(3000):
        y = y * 1.0001
    labels, edges = parse_dot(draw_graph(y))
    assert len(labels) == 3002 and len(edges) == 3001


def test_scalar_constants_are_drawn_as_their_value():
    t = leaf(np.ones(3), True)
    y = t * leaf(np.array(2.5), False) + leaf(np.array(3), False)
    labels, edges = parse_dot(draw_graph(y))
    assert labels[by_title(labels, "2.5")][1] == "() float64"
    assert labels[by_title(labels, "3")][1] == "() int64"
    assert len(labels) == 6 and len(edges) == 5
    labels, edges = parse_dot(draw_graph(y, show_constants=False))
    assert len(labels) == 4 and len(edges) == 3


def test_leaf_without_graph_and_bad_input():
    labels, edges = parse_dot(draw_graph(leaf(np.zeros((2, 2), np.float32), False)))
    assert list(labels.values()) == [["output", "(2, 2) float32"]] and edges == []
    with pytest.raises(TypeError, match="draw_graph: expected an ndgrad Tensor, got ndarray"):
        draw_graph(np.zeros(3))
    with pytest.raises(ValueError, match="format='jpeg' is not supported"):
        draw_graph(leaf(np.zeros(1), False), format="jpeg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_renders_svg_and_png_with_dot(small_graph, tmp_path):
    loss, params, _ = small_graph
    draw_graph(loss, tmp_path / "g.svg", params=params)
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "MatMul" in svg and "(4, 3) float64" in svg
    draw_graph(loss, tmp_path / "g", format="png")
    assert (tmp_path / "g.png").read_bytes().startswith(PNG_MAGIC)


def test_without_dot_writes_the_dot_file(small_graph, tmp_path, monkeypatch):
    loss, params, _ = small_graph
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.warns(RuntimeWarning, match=r"'dot' program was not found.*g\.dot"):
        text = draw_graph(loss, tmp_path / "g.svg", params=params)
    assert (tmp_path / "g.dot").read_text() == text
    assert not (tmp_path / "g.svg").exists()


# ----------------------------------------------------------------------------- show_tensor

def read_png(path):
    import matplotlib.image
    assert open(path, "rb").read(8) == PNG_MAGIC
    return matplotlib.image.imread(str(path))


@pytest.mark.parametrize("shape, video", [
    ((), False), ((7,), False), ((200,), False), ((4, 5), False), ((30, 40), False),
    ((1, 8, 8), False), ((3, 8, 8), False), ((5, 6, 6), False),
    ((10, 1, 8, 8), False), ((6, 3, 8, 8), False), ((2, 4, 6, 6), False), ((1, 4, 6, 6), False),
    ((2, 5, 1, 8, 8), False), ((5, 1, 8, 8), True), ((5, 8, 8), True),
])
def test_show_tensor_every_rank(tmp_path, shape, video):
    rng = np.random.default_rng(1)
    t = leaf(rng.standard_normal(shape).astype(np.float32), False)
    path = show_tensor(t, tmp_path / "t.png", title="a tensor", video=video)
    image = read_png(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert image[..., :3].std() > 0.01  # something was drawn, not a blank canvas


def test_show_tensor_rgb_colors_and_dtypes(tmp_path):
    red = np.zeros((3, 16, 16), np.float32)
    red[0] = 1.0
    image = read_png(show_tensor(leaf(red, False), tmp_path / "red.png"))
    pure_red = (image[..., 0] > 0.99) & (image[..., 1] < 0.01) & (image[..., 2] < 0.01)
    assert pure_red.sum() > 1000
    for array in [np.arange(12).reshape(3, 4) % 2 == 0, np.arange(6, dtype=np.int64),
                  np.ones((2, 3), ndgrad.bfloat16.np)]:
        read_png(show_tensor(leaf(array, False), tmp_path / "d.png"))


def test_show_tensor_conv3d_layout_and_labels(tmp_path):
    clip = np.zeros((2, 1, 4, 8, 8), np.float32)  # (N, C, T, H, W), as Conv3d takes it
    for t in range(4):
        clip[:, 0, t, 2, t] = 1.0  # a dot moving right
    image = read_png(show_tensor(leaf(clip, False), tmp_path / "clip.png"))
    swapped = read_png(show_tensor(leaf(clip.transpose(0, 2, 1, 3, 4), False), tmp_path / "same.png"))
    assert image.shape[0] > swapped.shape[0]  # same frames, plus one title line saying how it was read
    wide = read_png(show_tensor(leaf(clip[0], False), tmp_path / "one.png", video=True))
    assert wide.shape[1] > 2 * wide.shape[0]  # one clip: a strip of 4 frames
    digits = leaf(np.random.default_rng(0).random((32, 1, 8, 8)), False)
    grid = read_png(show_tensor(digits, tmp_path / "grid.png", labels=list(range(32))))
    assert grid.shape[1] > grid.shape[0]  # 32 images: 8 columns x 4 rows
    with pytest.raises(ValueError, match="got 3 labels for a batch of 32 images"):
        show_tensor(digits, tmp_path / "grid.png", labels=[1, 2, 3])


def test_readme_pictures_script(tmp_path):
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_readme_pictures.py"
    done = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    read_png(tmp_path / "digits_grid.png")
    graph = tmp_path / ("graph.svg" if shutil.which("dot") else "graph.dot")
    text = graph.read_text()
    for expected in ("Linear", "Relu", "CrossEntropy", "0.weight", "(16, 64) float32", "|grad| ="):
        assert expected in text


def test_show_tensor_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(1, 1, 1, 1, 1, 1\) has 6 dimensions.*select or reshape"):
        show_tensor(leaf(np.zeros((1,) * 6), False), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"shape \(0, 4, 4\) is empty"):
        show_tensor(leaf(np.zeros((0, 4, 4)), False), tmp_path / "x.png")


# ----------------------------------------------------------------------------- plot_curve

def test_plot_curve_writes_png(tmp_path):
    history = {"train_loss": [2.3, 1.1, 0.6, 0.3], "train_acc": [0.3, 0.6, 0.8, 0.9],
               "test_acc": [0.35, 0.55, None, 0.85]}
    image = read_png(plot_curve(history, tmp_path / "sub" / "curve.png", title="digits"))
    assert image.shape[1] > image.shape[0]  # two panels side by side
    only_loss = read_png(plot_curve({"loss": [1e3, 1.0, 1e-3]}, tmp_path / "loss.png"))
    assert only_loss.shape[1] < image.shape[1]


def test_plot_curve_bad_input(tmp_path):
    with pytest.raises(TypeError, match="history must be a non-empty dict of lists"):
        plot_curve([1, 2], tmp_path / "c.png")
    with pytest.raises(TypeError, match=r"history\['acc'\]\[1\] = 'high' is not a number"):
        plot_curve({"acc": [0.5, "high"]}, tmp_path / "c.png")


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install ndgrad\[viz\]"):
        plot_curve({"loss": [1.0]}, tmp_path / "c.png")


@pytest.mark.cuda
def test_gpu_tensors_are_drawn_through_host_memory(tmp_path):
    rng = np.random.default_rng(4)
    xs, ws = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    x, w = leaf(xs, False).to("cuda"), leaf(ws, False).to("cuda").requires_grad_()  # leaves on the GPU
    loss = (x @ w).relu().sum()
    loss.backward(retain_graph=True)
    tw = torch.tensor(ws, requires_grad=True)
    (torch.tensor(xs) @ tw).relu().sum().backward()
    labels, _ = parse_dot(draw_graph(loss, params={"w": w}, show_grad_norms=True))
    assert labels[by_title(labels, "w")][-1] == f"|grad| = {tw.grad.norm().item():.4g}"
    assert labels[by_title(labels, "MatMul")][1] == "(4, 2) float64"
    read_png(show_tensor(w, tmp_path / "w.png"))
    read_png(show_tensor(leaf(rng.random((6, 3, 8, 8)), False).to("cuda"), tmp_path / "batch.png"))

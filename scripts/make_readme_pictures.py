"""Make the README's pictures: a small MLP's computation graph and a grid of digits.

    python scripts/make_readme_pictures.py            # writes docs/img/graph.svg and docs/img/digits_grid.png

Needs the extras: pip install ndgrad[viz,train] (matplotlib, scikit-learn for
the digits) and Graphviz's `dot` program for the SVG (without it the graph is
written as docs/img/graph.dot).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import ndgrad  # noqa: E402
import ndgrad.nn as nn  # noqa: E402
import ndgrad.nn.functional as F  # noqa: E402
from ndgrad.data.datasets import Digits  # noqa: E402
from ndgrad.viz import draw_graph, show_tensor  # noqa: E402


def graph_picture(out_dir, digits):
    """One training step's graph of a 64 -> 16 -> 10 MLP, with gradient norms after backward."""
    ndgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    x = ndgrad.tensor(digits.data[:8].reshape(8, 64))
    labels = ndgrad.tensor(digits.targets[:8])
    loss = F.cross_entropy(model(x), labels)
    loss.backward(retain_graph=True)  # keep the graph's shapes for the picture
    params = dict(model.named_parameters())
    params["images"] = x
    path = os.path.join(out_dir, "graph.svg")
    draw_graph(loss, path, params=params, show_grad_norms=True)
    return path


def digits_picture(out_dir, digits):
    images = ndgrad.tensor(digits.data[:32])  # (32, 1, 8, 8): a batch, drawn as a grid
    path = os.path.join(out_dir, "digits_grid.png")
    show_tensor(images, path, title="the first 32 test digits (8x8, scikit-learn), with their labels",
                labels=digits.targets[:32])
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "img"),
                        help="folder for the pictures (default: docs/img)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    digits = Digits(train=False)
    for path in (graph_picture(args.out, digits), digits_picture(args.out, digits)):
        print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()

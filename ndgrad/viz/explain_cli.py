"""``ndgrad explain``: fit StatQuest's dosage network a few steps, then explain one backward pass.

The loss is the sum of squared residuals (SSR) over the three dosages, as in the
lesson, fitted with plain gradient descent (step size = learning rate * slope).
At step N the walk-through shows how dSSR/d(parameter) comes about through the
chain rule, for the final bias and one weight by default.
"""
import math
import os

DEFAULT_PARAMS = ("output.bias", "hidden.weight")
PICTURE_FORMATS = ("svg", "png", "pdf", "dot")
MAX_STEP = 100_000


def add_parser(sub):
    p = sub.add_parser("explain", help="explain one backward pass of the dosage network, step by step",
                       description="Fit StatQuest's dosage network (1 -> 2 softplus -> 1) with gradient descent on "
                                   "the sum of squared residuals, and explain the backward pass of step N: every "
                                   "op, its values, its local derivative and the chain rule.")
    p.add_argument("--step", type=int, default=3, metavar="N",
                   help="explain the backward pass of this gradient-descent step (default 3)")
    p.add_argument("--param", action="append", default=None, metavar="NAME",
                   help="a parameter to follow (repeatable): hidden.weight, hidden.bias, output.weight or "
                        f"output.bias (default {' and '.join(DEFAULT_PARAMS)})")
    p.add_argument("--picture", default=None, metavar="PATH",
                   help="also draw the graph with each node's value and gradient (PATH.svg/png/pdf; the DOT "
                        "text is always written next to it, the picture needs Graphviz's dot)")
    p.add_argument("--markdown", default=None, metavar="PATH",
                   help="also write the walk-through as a Markdown page (PATH.md) with the picture")
    p.add_argument("--seed", type=int, default=0, help="seed for the random starting weights (default 0)")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    p.add_argument("--max-nodes", type=int, default=50, help="print at most this many steps (default 50)")
    return p


def validate(args):
    """CLIError (one line, exit 2) for anything wrong, before any fitting."""
    from ndgrad.cli import CLIError
    if not 1 <= args.step <= MAX_STEP:
        raise CLIError(f"--step must be between 1 and {MAX_STEP}, got {args.step}")
    if args.max_nodes < 1:
        raise CLIError(f"--max-nodes must be at least 1, got {args.max_nodes}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise CLIError(f"--lr must be a positive finite number, got {args.lr}")
    if not 0 <= args.seed < 2 ** 32:
        raise CLIError(f"--seed must be in [0, 2**32), got {args.seed}")
    from ndgrad.models import DosageNet
    known = [name for name, _ in DosageNet().named_parameters()]
    for name in args.param or ():
        if name not in known:
            raise CLIError(f"--param {name!r} is not a parameter of the dosage network; choose one of "
                           f"{', '.join(known)}")
    if args.picture is not None:
        ext = os.path.splitext(args.picture)[1][1:].lower()
        if ext not in PICTURE_FORMATS:
            raise CLIError(f"--picture {args.picture!r} must end in one of "
                           f"{', '.join('.' + f for f in PICTURE_FORMATS)}")
        _check_writable(args.picture, "--picture")
    if args.markdown is not None:
        if not args.markdown.lower().endswith(".md"):
            raise CLIError(f"--markdown {args.markdown!r} must end in .md")
        _check_writable(args.markdown, "--markdown")


def _check_writable(path, option):
    from ndgrad.cli import CLIError
    if os.path.isdir(path):
        raise CLIError(f"{option} {path!r} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    probe = folder
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
        raise CLIError(f"{option} {path!r}: cannot write into {folder!r}; choose another path")


def run(args):
    import ndgrad
    from ndgrad.data.datasets import Dosage
    from ndgrad.models import DosageNet
    from ndgrad.viz import explain, record_sources

    validate(args)
    params = list(args.param or DEFAULT_PARAMS)
    x, y = Dosage().tensors()
    ndgrad.manual_seed(args.seed)
    model = DosageNet()
    print("StatQuest's dosage network: dosage -> 2 softplus units -> efficacy; loss: SSR, the sum of squared "
          "residuals (observed - predicted)^2 over dosages 0, 0.5, 1")
    print(f"gradient descent, learning rate {args.lr}: each step moves every parameter by -lr * dSSR/dparameter")
    for step in range(1, args.step):
        ssr = _ssr(model, x, y)
        model.zero_grad()
        ssr.backward()
        with ndgrad.no_grad():
            for p in model.parameters():
                p -= args.lr * p.grad
        print(f"  step {step:3d}  SSR {ssr.item():.4f}")
    with record_sources():
        ssr = _ssr(model, x, y)
    print(f"\nstep {args.step}: the parameters now are")
    for name, p in model.named_parameters():
        print(f"  {name:14s} = {[round(v, 4) for v in p.detach().reshape(-1).tolist()]}")
    print()
    named = dict(model.named_parameters())
    explanation = explain(ssr, {name: named[name] for name in params}, max_nodes=args.max_nodes,
                          output_name="SSR")
    picture = None
    if args.picture is not None or args.markdown is not None:
        picture = args.picture or os.path.splitext(args.markdown)[0] + ".svg"
        picture = _draw(explanation, picture, named)
    if args.markdown is not None:
        _write_markdown(args.markdown, explanation, picture, args, params)
        print(f"walk-through page: {args.markdown}")
    return 0


def _ssr(model, x, y):
    residuals = y - model(x)
    return (residuals ** 2).sum()


def _draw(explanation, path, named):
    import shutil
    base, ext = os.path.splitext(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    text = explanation.draw(params=named)
    with open(base + ".dot", "w") as f:  # always: readable without Graphviz, pasteable into online viewers
        f.write(text)
    print(f"graph (DOT text): {base}.dot")
    if ext.lower() == ".dot":
        return base + ".dot"
    if shutil.which("dot") is None:
        print(f"(Graphviz's dot is not installed, so {path} was not drawn: apt install graphviz / "
              f"brew install graphviz)")
        return base + ".dot"
    explanation.draw(path, params=named, format=ext[1:].lower())
    print(f"picture of the graph: {path}")
    return path


def _write_markdown(path, explanation, picture, args, params):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    lines = [f"# Backpropagation of the dosage network, step {args.step}", "",
             "StatQuest's dosage network (dosage -> 2 softplus units -> efficacy), fitted by gradient descent on "
             "the sum of squared residuals (SSR). Below, ndgrad walks the backward pass of step "
             f"{args.step} in the order its engine runs it, following {', '.join(params)}.", ""]
    if picture is not None:
        rel = os.path.relpath(os.path.abspath(picture), folder)
        if picture.endswith(".dot"):
            lines += [f"The graph is in [{rel}]({rel}) (Graphviz DOT text; install Graphviz to draw it).", ""]
        else:
            lines += [f"![the graph with each node's value and gradient]({rel})", ""]
    lines += ["```text", explanation.text.rstrip("\n"), "```", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))

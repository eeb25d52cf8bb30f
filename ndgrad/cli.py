"""The ``ndgrad`` command (also ``python -m ndgrad``): demo, train, info, bench."""
import argparse
import math
import os
import platform
import sys
import time

from ndgrad.backend import np

DATASET_NAMES = ("digits", "mnist", "fashion-mnist", "shapes")
MODEL_NAMES = ("mlp", "cnn", "video-cnn")
OPTIMIZER_NAMES = ("sgd", "adam")

# Which models fit which data, and the settings that train each well in about a minute here.
# (epochs, batch size, learning rate, optimizer)
TRAIN_DEFAULTS = {
    ("digits", "cnn"): (15, 32, 3e-3, "adam"),
    ("digits", "mlp"): (20, 32, 1e-3, "adam"),
    ("mnist", "cnn"): (3, 64, 1e-3, "adam"),
    ("mnist", "mlp"): (5, 64, 1e-3, "adam"),
    ("fashion-mnist", "cnn"): (5, 64, 1e-3, "adam"),
    ("fashion-mnist", "mlp"): (8, 64, 1e-3, "adam"),
    ("shapes", "video-cnn"): (4, 32, 3e-3, "adam"),
    ("shapes", "mlp"): (10, 32, 1e-3, "adam"),
}
DEFAULT_MODEL = {"digits": "cnn", "mnist": "cnn", "fashion-mnist": "cnn", "shapes": "video-cnn"}
CHECKPOINT_NAME = "checkpoint.safetensors"
CURVE_NAME = "training_curve.png"


class CLIError(Exception):
    """A problem with what the user asked for: printed without a traceback, exit status 2."""


# ----------------------------------------------------------------------------- arguments

class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block): ``ndgrad train: error: ... (see --help)``, exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="ndgrad", description="ndgrad: tensors that differentiate themselves. Train, inspect, benchmark.")
    parser.add_argument("--version", action="version", version=f"ndgrad {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,train,info,bench,run,export,explain}")
    sub.required = True

    demo = sub.add_parser("demo", help="fit StatQuest's dosage network (1 -> 2 softplus -> 1) with backprop + SGD")
    demo.add_argument("--seed", type=int, default=0, help="seed for the random starting weights (default 0)")
    demo.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    demo.add_argument("--steps", type=int, default=2000, help="SGD steps per attempt (default 2000)")
    demo.add_argument("--out", default=os.path.join("runs", "demo"),
                      help="folder for dosage_fit.png (default runs/demo)")

    train = sub.add_parser("train", help="train a network on a built-in dataset",
                           description="Train a network, printing loss and accuracy per epoch; writes "
                                       f"{CHECKPOINT_NAME} and {CURVE_NAME} to --out.")
    train.add_argument("dataset", choices=DATASET_NAMES, help="the data to train on")
    train.add_argument("--model", choices=MODEL_NAMES, default=None,
                       help="network (default: cnn for images, video-cnn for shapes)")
    train.add_argument("--epochs", type=int, default=None, help="total number of epochs (including resumed ones)")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--lr", type=float, default=None, help="peak learning rate")
    train.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=None)
    train.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                       help="learning rate per epoch: cosine decay to 0 over --epochs, or constant")
    train.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling (default 0)")
    train.add_argument("--out", default=None, help="output folder (default runs/<dataset>-<model>)")
    train.add_argument("--data", default="data",
                       help="folder with the MNIST / Fashion-MNIST IDX files (default ./data)")
    train.add_argument("--resume", default=None, metavar="CKPT", help="continue from this checkpoint")
    train.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    train.add_argument("--limit", type=int, default=None, metavar="N",
                       help="use only the first N training and test samples (quick checks)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--nproc", type=int, default=None, metavar="N",
                       help="train data-parallel on N processes (ndgrad.distributed over MPI; rank 0 reports)")

    sub.add_parser("info", help="versions, BLAS library and threads, devices")
    sub.add_parser("bench", help="benchmarks against PyTorch (ndgrad bench --help)", add_help=False)
    sub.add_parser("run", help="start a program on N processes with mpiexec (ndgrad run -n N script.py)",
                   add_help=False)
    from ndgrad.onnx.cli_export import add_parser as add_export_parser
    add_export_parser(sub)
    from ndgrad.viz.explain_cli import add_parser as add_explain_parser
    add_explain_parser(sub)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":  # the benchmark runner has its own options
        from ndgrad.bench import main as bench_main
        return bench_main(argv[1:])
    if argv and argv[0] == "run":  # the multi-process launcher (ndgrad.distributed) has its own options
        from ndgrad.distributed.run import main as run_main
        return run_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "train" and args.nproc is not None and args.nproc != 1:  # relaunched under MPI
        from ndgrad.distributed.train import _without_nproc, launch
        return launch(_without_nproc(argv[1:]), args.nproc)
    try:
        validate_args(args)
        return {"demo": run_demo, "train": run_train, "info": run_info, "export": _run_export,
                "explain": _run_explain}[args.command](args) or 0
    except CLIError as exc:
        print(f"ndgrad {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run_export(args):
    from ndgrad.onnx.cli_export import run_export
    return run_export(args)


def _run_explain(args):
    from ndgrad.viz.explain_cli import run
    return run(args)


# ----------------------------------------------------------------------------- checked before any work

def validate_args(args):
    """Refuse impossible numbers and output folders up front (one line, exit 2), before any fitting."""
    for name in ("steps", "epochs", "batch_size", "limit"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed < 2 ** 32:
        raise CLIError(f"--seed must be in [0, 2**32), got {seed}")
    lr = getattr(args, "lr", None)
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise CLIError(f"--lr must be a positive finite number, got {lr}")
    if getattr(args, "out", None) is not None:
        check_output_folder(args.out)


def check_output_folder(path):
    """CLIError unless ``path`` is, or can be created as, a writable folder."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"--out {path!r} is a file, not a folder; choose another --out")
    existing = path
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise CLIError(f"--out {path!r} cannot be created: {existing!r} is a file, not a folder; "
                       f"choose another --out")
    try:  # create it and write a probe file: permissions (and read-only or virtual file systems) say no here
        os.makedirs(path, exist_ok=True)
        import tempfile
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise CLIError(f"--out {path!r} is not a writable folder ({exc.strerror or exc}); choose another --out") \
            from None


def _version():
    import ndgrad
    return ndgrad.__version__


# ----------------------------------------------------------------------------- demo

def run_demo(args):
    import ndgrad
    from ndgrad.data.datasets import Dosage
    from ndgrad.models import DosageNet

    x, y = Dosage().tensors()
    print("StatQuest's drug-dosage data: dosage", _fmt_list(x.reshape(-1).tolist()),
          "-> efficacy", _fmt_list(y.reshape(-1).tolist()))
    print("network: dosage -> 2 softplus units -> efficacy; loss: mean squared error; "
          f"optimizer: SGD (lr {args.lr}, momentum 0.9)")
    ndgrad.manual_seed(args.seed)
    # A 2-unit network from random weights ends in a poor local minimum now and then
    # (both units bending the same way); then start again from new random weights.
    for attempt in range(1, 6):
        model = DosageNet()
        print(f"\nattempt {attempt}: random starting weights")
        _print_dosage_params(model)
        loss = _fit_dosage(model, x, y, args.lr, args.steps)
        if loss < 0.01:
            break
        print(f"stuck in a local minimum (loss {loss:.4f}); starting again from new random weights")
    with ndgrad.no_grad():
        pred = model(x)
    print("\nfitted:")
    for d, target, p in zip(x.reshape(-1).tolist(), y.reshape(-1).tolist(), pred.reshape(-1).tolist()):
        print(f"  dosage {d:4.2f}  efficacy {target:4.2f}  prediction {p:7.4f}")
    print(f"final loss {loss:.6f}")
    print("final weights and biases:")
    _print_dosage_params(model)
    path = _plot_dosage(model, x, y, args.out)
    if path:
        print(f"picture of the fitted curve: {path}")
    return 0 if loss < 0.01 else 1


def _fit_dosage(model, x, y, lr, steps):
    import ndgrad
    from ndgrad import nn
    optimizer = ndgrad.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.MSELoss()
    report_every = max(1, steps // 4)
    for step in range(1, steps + 1):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item()
        if step % report_every == 0 or step == 1:
            print(f"  step {step:5d}  loss {value:.6f}")
        if value < 1e-6:  # converged; more steps change nothing visible
            print(f"  step {step:5d}  loss {value:.6f} (converged)")
            break
    with ndgrad.no_grad():
        return loss_fn(model(x), y).item()


def _print_dosage_params(model):
    w1 = model.hidden.weight.reshape(-1).tolist()
    b1 = model.hidden.bias.tolist()
    w2 = model.output.weight.reshape(-1).tolist()
    b2 = model.output.bias.tolist()
    print(f"  hidden: weights {_fmt_list(w1)}  biases {_fmt_list(b1)}")
    print(f"  output: weights {_fmt_list(w2)}  bias {_fmt_list(b2)}")


def _plot_dosage(model, x, y, out):
    import ndgrad
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(matplotlib is not installed: no picture; pip install 'ndgrad[train]')")
        return None
    grid = ndgrad.linspace(0, 1, 101).reshape(-1, 1)
    with ndgrad.no_grad():
        curve = model(grid)
    fig = Figure(figsize=(4.5, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(grid.reshape(-1).tolist(), curve.reshape(-1).tolist(), label="network")
    ax.scatter(x.reshape(-1).tolist(), y.reshape(-1).tolist(), color="C3", zorder=3, label="data")
    ax.set_xlabel("dosage")
    ax.set_ylabel("efficacy")
    ax.set_title("dosage network fitted with backprop + SGD")
    ax.legend()
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "dosage_fit.png")
    fig.savefig(path, dpi=120)
    return path


def _fmt_list(values):
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


# ----------------------------------------------------------------------------- train

def load_datasets(name, root, limit=None):
    """(train set, test set) for a dataset name; errors say what is missing."""
    from ndgrad.data import Subset
    from ndgrad.data.datasets import Digits, FashionMNIST, IDXError, MNIST, MovingShapes
    try:
        if name == "digits":
            train_set, test_set = Digits(train=True), Digits(train=False)
        elif name in ("mnist", "fashion-mnist"):
            cls = MNIST if name == "mnist" else FashionMNIST
            train_set, test_set = cls(root, train=True), cls(root, train=False)
        elif name == "shapes":
            train_set, test_set = MovingShapes(train=True), MovingShapes(train=False)
        else:
            raise CLIError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    except (FileNotFoundError, IDXError, ImportError) as exc:
        raise CLIError(str(exc)) from None
    if limit is not None:
        train_set = Subset(train_set, range(min(limit, len(train_set))))
        test_set = Subset(test_set, range(min(limit, len(test_set))))
    return train_set, test_set


def _base(dataset):
    while hasattr(dataset, "indices") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset


def _settings(args, saved):
    """Fill the options the user left out: from the checkpoint when resuming, else the defaults."""
    saved = saved or {}
    model = args.model or saved.get("model") or DEFAULT_MODEL[args.dataset]
    if (args.dataset, model) not in TRAIN_DEFAULTS:
        fits = [m for m in MODEL_NAMES if (args.dataset, m) in TRAIN_DEFAULTS]
        raise CLIError(f"model {model!r} does not fit dataset {args.dataset!r} "
                       f"({'clips' if args.dataset == 'shapes' else 'images'}); choose one of {', '.join(fits)}")
    epochs, batch_size, lr, optimizer = TRAIN_DEFAULTS[(args.dataset, model)]
    same = saved.get("model") == model
    pick = lambda given, key, default: given if given is not None else (saved[key] if same and key in saved
                                                                         else default)
    return dict(dataset=args.dataset, model=model, epochs=pick(args.epochs, "epochs", epochs),
                batch_size=pick(args.batch_size, "batch_size", batch_size), lr=pick(args.lr, "lr", lr),
                optimizer=pick(args.optimizer, "optimizer", optimizer), schedule=args.schedule, seed=args.seed)


def _make_optimizer(name, params, lr):
    import ndgrad
    if name == "sgd":
        return ndgrad.optim.SGD(params, lr=lr, momentum=0.9)
    return ndgrad.optim.Adam(params, lr=lr)


def _lr_at(config, epoch):
    if config["schedule"] == "constant":
        return config["lr"]
    return config["lr"] * 0.5 * (1 + math.cos(math.pi * epoch / config["epochs"]))


def _read_checkpoint(path):
    import ndgrad
    if not os.path.isfile(path):
        raise CLIError(f"--resume: no checkpoint file at {path!r}")
    try:
        ckpt = ndgrad.load(path)
    except (ndgrad.io.CheckpointError, ValueError, OSError) as exc:
        raise CLIError(f"--resume: cannot read {path!r}: {exc}") from None
    missing = [k for k in ("model", "optimizer", "epoch", "history", "config") if k not in ckpt]
    if missing:
        raise CLIError(f"--resume: {path!r} is not an 'ndgrad train' checkpoint (no {', '.join(missing)})")
    return ckpt


def check_state_dict_matches(model, state, where):
    """Raise CLIError naming the keys that differ and the shapes that disagree."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        lines = [f"{where} was saved from a different model; the keys differ:"]
        if missing:
            lines.append("  missing from the checkpoint: " + ", ".join(missing))
        if unexpected:
            lines.append("  in the checkpoint but not in the model: " + ", ".join(unexpected))
        if mismatched:
            lines.append("  different shapes: " + "; ".join(mismatched))
        raise CLIError("\n".join(lines))


def _device(spec):
    import ndgrad
    from ndgrad.backend import get_device
    try:
        device = get_device(spec)
    except (ValueError, TypeError, RuntimeError, ImportError) as exc:
        raise CLIError(f"--device {spec!r}: {exc}") from None
    if device.type == "cuda" and not ndgrad.cuda.is_available():
        raise CLIError(f"--device {spec}: no CUDA device is available here (needs CuPy and an NVIDIA GPU); "
                       "use --device cpu")
    return device


def run_train(args):
    import ndgrad
    from ndgrad.models import build_model

    ckpt = _read_checkpoint(args.resume) if args.resume else None
    if ckpt is not None and ckpt["config"].get("dataset") != args.dataset:
        raise CLIError(f"--resume: {args.resume!r} was trained on {ckpt['config'].get('dataset')!r}, "
                       f"not {args.dataset!r}")
    config = _settings(args, ckpt["config"] if ckpt else None)
    for key in ("epochs", "batch_size"):
        if config[key] < 1:
            raise CLIError(f"--{key.replace('_', '-')} must be at least 1, got {config[key]}")
    device = _device(args.device)
    out = args.out or os.path.join("runs", f"{args.dataset}-{config['model']}")
    check_output_folder(out)
    train_set, test_set = load_datasets(args.dataset, args.data, args.limit)
    base = _base(train_set)
    in_shape, classes = base.sample_shape, base.classes

    ndgrad.manual_seed(config["seed"])
    model = build_model(config["model"], in_shape, len(classes)).to(device)
    optimizer = _make_optimizer(config["optimizer"], model.parameters(), config["lr"])
    history = {"train_loss": [], "test_loss": [], "train_acc": [], "test_acc": []}
    start = 0
    if ckpt is not None:
        check_state_dict_matches(model, ckpt["model"], f"--resume: {args.resume!r}")
        if ckpt["config"].get("optimizer") != config["optimizer"]:
            raise CLIError(f"--resume: {args.resume!r} holds {ckpt['config'].get('optimizer')} optimizer state; "
                           f"--optimizer {config['optimizer']} cannot continue it (leave --optimizer out)")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        history = {k: list(v) for k, v in ckpt["history"].items()}
        start = int(ckpt["epoch"])
        print(f"resuming from {args.resume} after epoch {start}")
    if start >= config["epochs"]:
        print(f"the checkpoint has already trained {start} of {config['epochs']} epochs; "
              "pass a larger --epochs to train more")
        return 0

    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.dataset}: {len(train_set)} training and {len(test_set)} test samples of shape {in_shape}, "
          f"{len(classes)} classes")
    print(f"model {config['model']} ({n_params:,} parameters) on {device}; {config['optimizer']} lr {config['lr']:g} "
          f"({config['schedule']}), batch size {config['batch_size']}, epochs {config['epochs']}, "
          f"seed {config['seed']}")
    os.makedirs(out, exist_ok=True)
    total_start = time.perf_counter()
    for epoch in range(start, config["epochs"]):
        lr = _lr_at(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        t0 = time.perf_counter()
        train_loss, train_acc = _train_epoch(model, optimizer, train_set, config, epoch, device,
                                             progress=not args.no_progress)
        seconds = time.perf_counter() - t0
        test_loss, test_acc, _ = evaluate(model, test_set, device)
        for key, value in (("train_loss", train_loss), ("test_loss", test_loss),
                           ("train_acc", train_acc), ("test_acc", test_acc)):
            history[key].append(value)
        print(f"epoch {epoch + 1}/{config['epochs']}  train loss {train_loss:.4f}  train acc {100 * train_acc:.2f}%  "
              f"test loss {test_loss:.4f}  test acc {100 * test_acc:.2f}%  lr {lr:.2g}  "
              f"{seconds:.1f}s ({len(train_set) / seconds:,.0f} samples/s)", flush=True)
        ckpt_path = os.path.join(out, CHECKPOINT_NAME)
        ndgrad.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                     "history": history, "config": config}, ckpt_path)
    curve = _plot_history(history, os.path.join(out, CURVE_NAME), f"{args.dataset} {config['model']}")
    _, test_acc, confusion = evaluate(model, test_set, device, num_classes=len(classes))
    print(f"\nconfusion matrix on the {len(test_set)} test samples (rows: true class, columns: predicted):")
    print(format_confusion(confusion, classes))
    print(f"\ntest accuracy {100 * test_acc:.2f}% after {config['epochs']} epochs "
          f"({time.perf_counter() - total_start:.1f}s)")
    print(f"checkpoint: {ckpt_path}")
    if curve:
        print(f"training curve: {curve}")
    return 0


def _progress(iterable, total, desc, enabled):
    if enabled:
        try:
            from tqdm import tqdm
            return tqdm(iterable, total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)
        except ImportError:
            pass
    return None


def _train_epoch(model, optimizer, dataset, config, epoch, device, progress=True):
    from ndgrad.data import DataLoader
    from ndgrad.nn import functional as F
    # One generator per (seed, epoch): a resumed run shuffles exactly like an uninterrupted one.
    loader = DataLoader(dataset, batch_size=config["batch_size"], shuffle=True,
                        generator=np.random.default_rng([config["seed"], epoch]))
    desc = f"epoch {epoch + 1}/{config['epochs']}"
    bar = _progress(loader, len(loader), desc, progress)
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    t0 = time.perf_counter()
    report_every = max(1, len(loader) // 5)
    for i, (x, y) in enumerate(bar if bar is not None else loader):
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = len(y)
        total_loss += loss.item() * n
        correct += int((logits.argmax(1) == y).sum().item())
        seen += n
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        if bar is not None:
            bar.set_postfix({"loss": f"{total_loss / seen:.4f}", "samples/s": f"{rate:,.0f}"}, refresh=False)
        elif progress and (i + 1) % report_every == 0:
            print(f"  {desc} batch {i + 1}/{len(loader)}  loss {total_loss / seen:.4f}  {rate:,.0f} samples/s",
                  flush=True)
    if bar is not None:
        bar.close()
    return total_loss / seen, correct / seen


def evaluate(model, dataset, device, batch_size=256, num_classes=None):
    """(mean loss, accuracy, confusion matrix or None) over ``dataset`` in eval mode."""
    import ndgrad
    from ndgrad.data import DataLoader
    from ndgrad.nn import functional as F
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64) if num_classes else None
    with ndgrad.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size):
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            pred = logits.argmax(1)
            correct += int((pred == y).sum().item())
            seen += len(y)
            if confusion is not None:
                np.add.at(confusion, (np.asarray(y.tolist()), np.asarray(pred.tolist())), 1)
    model.train()
    return total_loss / max(seen, 1), correct / max(seen, 1), confusion


def format_confusion(confusion, classes):
    """The matrix as text: one row per true class, columns = predicted class index."""
    width = max(4, len(str(int(confusion.max()))) + 1)
    label_width = max(len(str(c)) for c in classes) + (2 if all(str(c) == str(i) for i, c in enumerate(classes)) else 5)
    head = " " * label_width + "".join(f"{j:>{width}d}" for j in range(len(classes)))
    rows = [head]
    for i, name in enumerate(classes):
        label = str(name) if str(name) == str(i) else f"{i:>2d} {name}"
        rows.append(f"{label:<{label_width}}" + "".join(f"{int(v):>{width}d}" for v in confusion[i]))
    return "\n".join(rows)


def _plot_history(history, path, title):
    try:
        from ndgrad.viz import plot_curve
        return plot_curve(history, path, title=title)
    except ImportError as exc:
        print(f"(no training-curve picture: {exc})")
        return None


# ----------------------------------------------------------------------------- info

def run_info(args):
    import ndgrad
    print(f"ndgrad {ndgrad.__version__}  ({os.path.dirname(ndgrad.__file__)})")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}")
    print(f"NumPy {np.__version__}")
    print(f"BLAS: {_blas_build()}")
    for line in _blas_runtime():
        print(f"  {line}")
    print(f"CPU cores: {os.cpu_count()}")
    print("optional packages: " + ", ".join(_optional_versions()))
    print("devices:")
    for line in _devices():
        print(f"  {line}")
    return 0


def _blas_build():
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        name, version = blas.get("name", "unknown"), blas.get("version", "")
        return f"NumPy was built with {name} {version}".rstrip()
    except Exception:  # older NumPy: no dict mode
        return "see numpy.show_config()"


def _blas_runtime():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threads: unknown (pip install threadpoolctl to see them)"]
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"] or threadpool_info()
    if not pools:
        return ["no BLAS thread pool loaded"]
    return [f"{p.get('internal_api', p.get('user_api'))} {p.get('version') or ''}: {p.get('num_threads')} threads"
            + (f", {p['architecture']}" if p.get("architecture") else "") for p in pools]


def _optional_versions():
    import importlib
    found = []
    for module, name in (("tqdm", "tqdm"), ("matplotlib", "matplotlib"), ("sklearn", "scikit-learn"),
                         ("safetensors", "safetensors"), ("graphviz", "graphviz"), ("cupy", "cupy"),
                         ("threadpoolctl", "threadpoolctl")):
        try:
            version = getattr(importlib.import_module(module), "__version__", "?")
            found.append(f"{name} {version}")
        except Exception:
            found.append(f"{name} (not installed)")
    return found


def _devices():
    import ndgrad
    lines = ["cpu"] + [f"  {line}" for line in _cpu_kernels()]
    try:
        available = ndgrad.cuda.is_available()
    except Exception as exc:
        return lines + [f"cuda: not available ({exc})"] + [f"  {line}" for line in _gpu_kernels()]
    if not available:
        lines.append("cuda: not available (needs CuPy and an NVIDIA GPU; pip install 'ndgrad[cuda]')")
    for i in range(ndgrad.cuda.device_count() if available else 0):
        try:
            name = ndgrad.cuda.get_device_name(i)
        except Exception:
            name = "NVIDIA GPU"
        lines.append(f"cuda:{i} {name}")
    return lines + [f"  {line}" for line in _gpu_kernels()]


def _cpu_kernels():
    """Which code runs convolutions, normalisation and attention on the CPU."""
    from ndgrad.backend import onednn
    from ndgrad.backends import mkldnn
    if not onednn.available():
        conv = "im2col + BLAS (oneDNN not installed: pip install 'ndgrad[cpu]')"
    elif not mkldnn.enabled:
        conv = "im2col + BLAS (oneDNN disabled: ndgrad.backends.mkldnn.enabled = False)"
    else:
        conv = f"oneDNN {onednn.version()} (float32; other dtypes: im2col + BLAS)"
    return [f"convolutions: {conv}", "normalisation, attention: ndgrad's NumPy kernels"]


def _gpu_kernels():
    """Which code runs convolutions, normalisation and attention on a GPU, and why not cuDNN."""
    from ndgrad.backend import cudnn_frontend
    why_not = cudnn_frontend.unavailable_reason()
    if why_not is None:
        library = f"cuDNN {cudnn_frontend.version_string()}"
        return [f"convolutions, batch norm: {library} (float16/bfloat16/float32; other cases: im2col + cuBLAS)",
                f"attention: {library} (float16/bfloat16; other cases: ndgrad's CuPy kernels)",
                "other normalisation: ndgrad's CuPy kernels"]
    return ["convolutions: im2col + cuBLAS; normalisation, attention: ndgrad's CuPy kernels "
            f"(cuDNN not used: {why_not})"]


if __name__ == "__main__":
    sys.exit(main())

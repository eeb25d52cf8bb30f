"""``ndgrad export CHECKPOINT --format onnx --out model.onnx``: a model trained by ``ndgrad train``, as ONNX."""
import os

# The sample shape of each built-in dataset, so exporting needs no data files.
SAMPLE_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "shapes": (1, 8, 16, 16)}


def add_parser(sub):
    p = sub.add_parser("export", help="export a checkpoint of 'ndgrad train' to ONNX",
                       description="Rebuild the trained network from an 'ndgrad train' checkpoint and write it "
                                   "as an ONNX model with a dynamic batch axis (input 'input', output 'logits').")
    p.add_argument("checkpoint", help="the checkpoint.safetensors written by 'ndgrad train'")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="output format (default onnx)")
    # dest is not "out": for the other commands --out is a folder, checked (and created) as one up front
    p.add_argument("--out", dest="onnx_path", default="model.onnx", metavar="FILE",
                   help="where to write the model (default model.onnx)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version (default 18)")
    return p


def run_export(args):
    import ndgrad
    import ndgrad.onnx
    from ndgrad.cli import CLIError, check_state_dict_matches
    from ndgrad.models import build_model
    path = args.checkpoint
    if not os.path.isfile(path):
        raise CLIError(f"no checkpoint file at {path!r}")
    try:
        ckpt = ndgrad.load(path)
    except (ndgrad.io.CheckpointError, ValueError, OSError) as exc:
        raise CLIError(f"cannot read {path!r}: {exc}") from None
    if "model" not in ckpt or "config" not in ckpt:
        raise CLIError(f"{path!r} is not an 'ndgrad train' checkpoint (it needs 'model' and 'config')")
    config, state = ckpt["config"], ckpt["model"]
    dataset, name = config.get("dataset"), config.get("model")
    if dataset not in SAMPLE_SHAPES:
        raise CLIError(f"{path!r} was trained on {dataset!r}; export knows {', '.join(SAMPLE_SHAPES)}")
    in_shape = SAMPLE_SHAPES[dataset]
    last_weight = [k for k in state if k.endswith("weight")][-1]
    model = build_model(name, in_shape, int(state[last_weight].shape[0]))
    check_state_dict_matches(model, state, path)
    model.load_state_dict(state)
    model.eval()
    example = ndgrad.zeros((2,) + in_shape)
    if os.path.isdir(args.onnx_path):
        raise CLIError(f"--out {args.onnx_path!r} is a folder; give a file name such as model.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(args.onnx_path)), exist_ok=True)
    try:
        ndgrad.onnx.export(model, (example,), args.onnx_path, input_names=["input"], output_names=["logits"],
                           dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                           opset_version=args.opset)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    print(f"wrote {args.onnx_path}: {name} for {dataset}, input 'input' (batch, {', '.join(map(str, in_shape))}) "
          f"float32, output 'logits' (batch, {int(state[last_weight].shape[0])})")
    return 0

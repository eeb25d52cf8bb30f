"""``ndgrad train DATASET --nproc N``: the built-in training, data-parallel over N processes.

``launch`` restarts the same command under ``ndgrad run -n N`` (as ``python -m ndgrad.distributed.train``);
each rank then trains a DistributedDataParallel copy of the model on its DistributedSampler share of
every epoch, with ``--batch-size`` as the global batch (split over the ranks, so the learning rate
keeps its meaning). Rank 0 prints progress, evaluates, and writes the checkpoint (the plain model's
state_dict: it resumes and loads like a single-process one).
"""
import os
import sys
import time



def launch(argv, nproc):
    """Run ``ndgrad train`` with ``argv`` (without --nproc) on ``nproc`` processes."""
    from ndgrad.distributed.run import main as run_main
    if nproc < 1:
        print(f"ndgrad train: error: --nproc must be at least 1, got {nproc}", file=sys.stderr)
        return 2
    return run_main(["-n", str(nproc), "-m", "ndgrad.distributed.train"] + list(argv))


def _without_nproc(argv):
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def _sum_over_ranks(*values):
    import ndgrad
    import ndgrad.distributed as dist
    t = ndgrad.tensor([float(v) for v in values], dtype=ndgrad.float64)
    dist.all_reduce(t)
    return t.tolist()


def run(args):
    """One rank's part of ``ndgrad train`` (called under MPI)."""
    import ndgrad
    import ndgrad.distributed as dist
    from ndgrad import cli
    from ndgrad.data import DataLoader
    from ndgrad.data.distributed import DistributedSampler
    from ndgrad.models import build_model
    from ndgrad.nn import functional as F
    from ndgrad.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    ckpt = cli._read_checkpoint(args.resume) if args.resume else None
    config = cli._settings(args, ckpt["config"] if ckpt else None)
    if config["batch_size"] < world:
        raise cli.CLIError(f"--batch-size {config['batch_size']} is the global batch and must be at least "
                           f"--nproc ({world})")
    device = cli._device(args.device)
    out = args.out or os.path.join("runs", f"{args.dataset}-{config['model']}")
    if rank == 0:
        cli.check_output_folder(out)
    train_set, test_set = cli.load_datasets(args.dataset, args.data, args.limit)
    base = cli._base(train_set)
    ndgrad.manual_seed(config["seed"])
    model = build_model(config["model"], base.sample_shape, len(base.classes)).to(device)
    optimizer = cli._make_optimizer(config["optimizer"], model.parameters(), config["lr"])
    history = {"train_loss": [], "test_loss": [], "train_acc": [], "test_acc": []}
    start = 0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        history = {k: list(v) for k, v in ckpt["history"].items()}
        start = int(ckpt["epoch"])
    ddp = DistributedDataParallel(model)
    sampler = DistributedSampler(train_set, shuffle=True, seed=config["seed"])
    loader = DataLoader(train_set, batch_size=config["batch_size"] // world, sampler=sampler)
    say(f"{args.dataset}: {len(train_set)} training and {len(test_set)} test samples; model {config['model']} "
        f"on {world} processes x {device}; global batch {config['batch_size']} "
        f"({config['batch_size'] // world} per process), {config['optimizer']} lr {config['lr']:g}", flush=True)
    if rank == 0:
        os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, cli.CHECKPOINT_NAME)
    total_start = time.perf_counter()
    for epoch in range(start, config["epochs"]):
        lr = cli._lr_at(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        ddp.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = ddp(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum().item())
            seen += len(y)
        loss_sum, correct, seen = _sum_over_ranks(loss_sum, correct, seen)
        seconds = time.perf_counter() - t0
        if rank == 0:
            test_loss, test_acc, _ = cli.evaluate(model, test_set, device)
            for key, value in (("train_loss", loss_sum / seen), ("test_loss", test_loss),
                               ("train_acc", correct / seen), ("test_acc", test_acc)):
                history[key].append(value)
            say(f"epoch {epoch + 1}/{config['epochs']}  train loss {loss_sum / seen:.4f}  train acc "
                f"{100 * correct / seen:.2f}%  test loss {test_loss:.4f}  test acc {100 * test_acc:.2f}%  lr {lr:.2g}  "
                f"{seconds:.1f}s ({seen / seconds:,.0f} samples/s on {world} processes)", flush=True)
            ndgrad.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                         "history": history, "config": config}, ckpt_path)
        dist.barrier()
    if rank == 0:
        _, test_acc, confusion = cli.evaluate(model, test_set, device, num_classes=len(base.classes))
        print(f"\nconfusion matrix on the {len(test_set)} test samples (rows: true class, columns: predicted):")
        print(cli.format_confusion(confusion, base.classes))
        print(f"\ntest accuracy {100 * test_acc:.2f}% after {config['epochs']} epochs "
              f"({time.perf_counter() - total_start:.1f}s on {world} processes)")
        print(f"checkpoint: {ckpt_path}")
        curve = cli._plot_history(history, os.path.join(out, cli.CURVE_NAME), f"{args.dataset} {config['model']}")
        if curve:
            print(f"training curve: {curve}")
    dist.barrier()
    dist.destroy_process_group()
    return 0


def main(argv=None):
    from ndgrad import cli
    argv = list(sys.argv[1:] if argv is None else argv)
    args = cli.build_parser().parse_args(["train"] + _without_nproc(argv))
    try:
        cli.validate_args(args)
        return run(args)
    except cli.CLIError as exc:
        print(f"ndgrad train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

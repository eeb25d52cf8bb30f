"""ndgrad.distributed in one process (no MPI launcher): sampler arithmetic against PyTorch, API errors,
the launcher, and short multi-process jobs started with ``ndgrad run`` (a raising rank ends the job)."""
import json
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import torch.utils.data.distributed as torch_distributed

import ndgrad
import ndgrad.distributed as dist
from ndgrad import nn
from ndgrad.utils.data.distributed import DistributedSampler

SAMPLER_CASES = [  # (dataset length, num_replicas, drop_last)
    (10, 2, False), (11, 2, False), (11, 2, True), (10, 3, False), (10, 3, True), (2, 5, False), (1, 3, False),
    (0, 2, False), (7, 1, False), (100, 8, True), (5, 4, True),
]


@pytest.mark.parametrize("length,replicas,drop_last", SAMPLER_CASES)
def test_sampler_matches_torch_without_shuffle(length, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(length), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_distributed.DistributedSampler(range(length), replicas, rank, shuffle=False,
                                                      drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


@pytest.mark.parametrize("length,replicas,drop_last", [c for c in SAMPLER_CASES if c[0] > 0])
def test_sampler_shuffle_covers_once_and_repeats_per_epoch(length, replicas, drop_last):
    def epoch_indices(epoch, seed=0):
        shares = []
        for rank in range(replicas):
            sampler = DistributedSampler(range(length), replicas, rank, shuffle=True, seed=seed, drop_last=drop_last)
            sampler.set_epoch(epoch)
            shares.append(list(sampler))
        return shares
    shares = epoch_indices(0)
    flat = [i for share in shares for i in share]
    assert all(len(s) == len(shares[0]) for s in shares)
    if drop_last:
        assert len(set(flat)) == len(flat) == (length // replicas) * replicas
    else:
        assert set(flat) == set(range(length))
    assert epoch_indices(0) == shares  # the same on every call (every rank computes it alone)
    if length > 4:
        assert epoch_indices(1) != shares and epoch_indices(0, seed=1) != shares


def test_sampler_errors_and_names():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))
    assert ndgrad.utils.data.DistributedSampler is DistributedSampler
    assert ndgrad.data.DistributedSampler is DistributedSampler


def test_calls_before_init_process_group_fail_like_pytorch():
    assert dist.is_available() and not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(ndgrad.ones(2)),
                 lambda: dist.broadcast_object_list([1]), lambda: dist.new_group([0])):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_names_match_pytorch():
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert getattr(dist.ReduceOp, name).name == getattr(torch.distributed.ReduceOp, name).name
    assert dist.Backend("GLOO") == "gloo" == dist.Backend.GLOO and dist.Backend("nccl") == "nccl"
    with pytest.raises(ValueError, match="Invalid backend: 'tcp'"):
        dist.Backend("tcp")
    assert dist.default_pg_timeout == torch.distributed.default_pg_timeout
    assert ndgrad.distributed is dist  # `import ndgrad as torch; torch.distributed....` works
    for name in ("init_process_group", "all_reduce", "all_gather_into_tensor", "reduce_scatter_tensor",
                 "all_to_all", "broadcast_object_list", "all_gather_object", "isend", "irecv", "new_group"):
        assert callable(getattr(dist, name))


def test_sync_batchnorm_without_a_group_is_batchnorm():
    ndgrad.manual_seed(0)
    x = ndgrad.randn(4, 3, 5, 5)
    reference = torch.nn.SyncBatchNorm(3)
    sync = nn.SyncBatchNorm(3)
    assert list(sync.state_dict()) == list(reference.state_dict())
    plain = nn.BatchNorm2d(3)
    assert ndgrad.allclose(sync(x), plain(x))
    assert ndgrad.allclose(sync.running_var, plain.running_var)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        sync(ndgrad.ones(3))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(2)))
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], nn.SyncBatchNorm) and isinstance(converted[2][0], nn.SyncBatchNorm)
    assert converted[1].weight is model[1].weight and converted[1].running_mean is model[1].running_mean


# -- the launcher -------------------------------------------------------------------------------------------

def test_launcher_command_line(tmp_path):
    from ndgrad.distributed.run import add_arguments, build_command
    import argparse
    script = tmp_path / "train.py"
    script.write_text("")
    parse = add_arguments(argparse.ArgumentParser()).parse_args
    command = build_command(parse(["-n", "3", "--hosts", "a,b", str(script), "--lr", "0.1"]))
    assert command[1:3] == ["-n", "3"] and command[-3:] == [str(script), "--lr", "0.1"]
    assert "ndgrad.distributed._bootstrap" in command and ("-hosts" in command or "--host" in command)
    with pytest.raises(SystemExit, match="-n must be at least 1"):
        build_command(parse(["-n", "0", str(script)]))
    with pytest.raises(SystemExit, match="not found"):
        build_command(parse(["-n", "2", str(tmp_path / "missing.py")]))
    assert build_command(parse(["--nproc-per-node", "2", "-m", "json.tool"]))[-2:] == ["-m", "json.tool"]


def _run(tmp_path, body, n=2, timeout=60):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(body))
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ndgrad.cli", "run", "-n", str(n), str(script)],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    return done, time.monotonic() - start


def test_run_sets_torchrun_variables_and_trains(tmp_path):
    done, _ = _run(tmp_path, """
        import json, os
        import ndgrad, ndgrad.distributed as dist
        from ndgrad import nn
        dist.init_process_group("gloo", world_size=int(os.environ["WORLD_SIZE"]), rank=int(os.environ["RANK"]))
        t = ndgrad.ones(2) * (dist.get_rank() + 1)
        dist.all_reduce(t)
        ndgrad.manual_seed(dist.get_rank())
        model = nn.parallel.DistributedDataParallel(nn.Linear(3, 1))
        model(ndgrad.ones(2, 3) * dist.get_rank()).sum().backward()
        row = ({k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")}
               | {"sum": t.tolist(), "grad": model.module.weight.grad.tolist()})
        with open(f"rank{os.environ['RANK']}.json", "w") as f:  # one file each: stdout lines may interleave
            json.dump(row, f)
        dist.destroy_process_group()
    """)
    assert done.returncode == 0, done.stderr
    rows = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["RANK"] for r in rows] == ["0", "1"] and {r["WORLD_SIZE"] for r in rows} == {"2"}
    assert rows[0]["sum"] == rows[1]["sum"] == [3.0, 3.0]
    assert rows[0]["grad"] == rows[1]["grad"] == [[1.0, 1.0, 1.0]]  # mean of rank 0's 0 and rank 1's 2


def test_a_raising_rank_ends_the_job(tmp_path):
    # a job that hung instead would exceed _run's timeout (subprocess.TimeoutExpired fails the test)
    done, _ = _run(tmp_path, """
        import ndgrad, ndgrad.distributed as dist
        dist.init_process_group("gloo")
        if dist.get_rank() == 1:
            raise ValueError("rank one fails")
        dist.all_reduce(ndgrad.ones(2))  # rank 0 would wait here forever
    """)
    assert done.returncode != 0
    assert "rank one fails" in done.stderr and "[rank 1]" in done.stderr


def test_a_stuck_collective_times_out(tmp_path):
    # rank 1 sleeps past _run's timeout: only the collective's own 2 s timeout can end the job in time
    done, _ = _run(tmp_path, """
        import time, datetime
        import ndgrad, ndgrad.distributed as dist
        dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=2))
        if dist.get_rank() == 1:
            time.sleep(120)
        dist.all_reduce(ndgrad.ones(2))
    """)
    assert done.returncode != 0
    assert "DistBackendError" in done.stderr and "did not finish within the timeout of 2 s" in done.stderr


def test_one_process_world_and_clear_init_errors(tmp_path):
    done, _ = _run(tmp_path, """
        import json, ndgrad, ndgrad.distributed as dist
        from ndgrad import nn
        errors = {}
        for name, kwargs in (("size", {"world_size": 4}), ("nccl", {"backend": "nccl"})):
            try:
                dist.init_process_group(**kwargs)
                dist.destroy_process_group()
            except RuntimeError as e:
                errors[name] = str(e)
        dist.init_process_group("cpu:gloo,cuda:nccl")  # PyTorch's per-device form: MPI carries both
        composite = dist.get_backend()
        dist.destroy_process_group()
        dist.init_process_group("mpi")
        t = ndgrad.arange(3.0)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        out = [ndgrad.zeros(3)]
        dist.all_gather(out, t)
        ndgrad.manual_seed(0)
        model = nn.Linear(2, 1)
        ddp = nn.parallel.DistributedDataParallel(model)
        ddp(ndgrad.ones(1, 2)).sum().backward()
        print(json.dumps({"errors": errors, "t": t.tolist(), "out": out[0].tolist(),
                          "grad": model.weight.grad.tolist(), "backend": dist.get_backend(),
                          "composite": composite}))
    """, n=1)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "world_size=4 was asked for" in result["errors"]["size"] and "ndgrad run -n 4" in result["errors"]["size"]
    assert "[rank 0] backend='nccl' needs" in result["errors"]["nccl"] and "gloo" in result["errors"]["nccl"]
    assert result["t"] == result["out"] == [0.0, 1.0, 2.0]
    assert result["grad"] == [[1.0, 1.0]] and result["backend"] == "mpi" and result["composite"] == "gloo"


def test_cli_lists_run():
    from ndgrad.cli import build_parser
    assert "run" in build_parser().format_help()


def test_train_data_parallel(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ndgrad.cli", "train", "digits", "--model", "mlp", "--nproc", "2",
                           "--epochs", "1", "--limit", "64", "--out", str(tmp_path / "out"), "--no-progress"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "on 2 processes" in done.stdout and done.stdout.count("epoch 1/1") == 1  # rank 0 reports, once
    state = ndgrad.load(str(tmp_path / "out" / "checkpoint.safetensors"))
    assert state["epoch"] == 1 and not any(k.startswith("module.") for k in state["model"])


def test_train_nproc_must_be_positive(capsys):
    from ndgrad.cli import main
    assert main(["train", "digits", "--nproc", "0"]) == 2
    assert "--nproc must be at least 1" in capsys.readouterr().err

"""Data-parallel scaling on this machine: the ``mlp`` and ``cnn`` benchmark workloads trained with
DistributedDataParallel on 1 process versus N processes (1 BLAS thread each), same global batch.

    python benchmarks/distributed_scaling.py [--nproc 2] [--steps 20] [--workloads mlp cnn]

Prints samples/s, scaling efficiency (speed-up / N) and the communication time per step: the time
DDP spends waiting for its gradient all-reduces (what the overlap did not hide), and the time of one
blocking all-reduce of all the gradients (the whole cost of moving them).
"""
import argparse
import json
import os
import subprocess
import sys
import time


BATCH = {"mlp": 128, "cnn": 64}  # the global batch of each workload (ndgrad/bench/workloads.py)


def build(name, fw):
    from ndgrad.bench import workloads
    nn = fw.nn
    if name == "mlp":  # workloads.mlp's network
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        x = workloads._host_data((BATCH[name], 784))
    else:
        model = workloads._cnn_model(fw)
        x = workloads._host_data((BATCH[name], 1, 28, 28))
    y = workloads._host_data((BATCH[name],), "labels", 10)
    return model, x, y


def worker(name, steps):
    """One rank: train on its share of the global batch; rank 0 prints the measurements as JSON."""
    import ndgrad
    import ndgrad.distributed as dist
    from ndgrad.nn.parallel import DistributedDataParallel
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    ndgrad.manual_seed(0)
    model, x, y = build(name, ndgrad)
    share = BATCH[name] // world
    x = ndgrad.tensor(x[rank * share:(rank + 1) * share])
    y = ndgrad.tensor(y[rank * share:(rank + 1) * share])
    ddp = DistributedDataParallel(model)
    waited = [0.0]
    original_wait = ddp._wait

    def timed_wait(requests, what):
        start = time.perf_counter()
        original_wait(requests, what)
        waited[0] += time.perf_counter() - start
    ddp._wait = timed_wait
    opt = ndgrad.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    F = ndgrad.nn.functional

    def step():
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
    for _ in range(3):
        step()
    dist.barrier()
    waited[0] = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    seconds = time.perf_counter() - start
    flat = ndgrad.zeros(sum(p.numel() for p in model.parameters()))
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(5):
        dist.all_reduce(flat)
    allreduce = (time.perf_counter() - t0) / 5
    if rank == 0:
        print(json.dumps({"seconds_per_step": seconds / steps, "samples_per_s": BATCH[name] * steps / seconds,
                          "wait_per_step": waited[0] / steps, "allreduce_s": allreduce,
                          "parameters": int(flat.numel())}))
    dist.destroy_process_group()


def launch(name, nproc, steps):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "ndgrad.distributed.run", "-n", str(nproc), os.path.abspath(__file__),
               "--worker", name, "--steps", str(steps)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workloads", nargs="+", default=["mlp", "cnn"], choices=sorted(BATCH))
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.steps)
    print(f"{'workload':8} {'procs':>5} {'samples/s':>10} {'ms/step':>8} {'speed-up':>8} {'efficiency':>10} "
          f"{'DDP wait ms':>11} {'all-reduce ms':>13}")
    for name in args.workloads:
        one = launch(name, 1, args.steps)
        many = launch(name, args.nproc, args.steps)
        for procs, r in ((1, one), (args.nproc, many)):
            speedup = r["samples_per_s"] / one["samples_per_s"]
            print(f"{name:8} {procs:5d} {r['samples_per_s']:10.1f} {1000 * r['seconds_per_step']:8.1f} "
                  f"{speedup:8.2f} {speedup / procs:10.0%} {1000 * r['wait_per_step']:11.2f} "
                  f"{1000 * r['allreduce_s']:13.2f}")
        print(f"{'':8} ({one['parameters']:,} parameters, global batch {BATCH[name]})")


if __name__ == "__main__":
    main()

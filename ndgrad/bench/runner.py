"""Benchmark runner: ndgrad against PyTorch eager, side by side, in fresh processes.

The parent process (``main``) never imports ndgrad or torch. For every repeat,
workload and framework it starts a child process (this file run as a script
with ``--child``) that imports only the framework it measures, builds the
workload, probes it, runs warm-up steps, times each of the timed steps, probes
again and prints one JSON line. With ``--graphs`` (GPU only) the same child
then builds a fresh copy of the workload, captures its step in a CUDA graph
(workloads.capture_graph) and measures the replays the same way: a second
JSON line, the ``NAME+graph`` row. The parent interleaves the children
(repeat 1: tiny/ndgrad, tiny/torch, mlp/ndgrad, ...; repeat 2: ...) so that a
slow patch of the machine hits both frameworks alike, then reports the median
of the per-run medians, the ndgrad/PyTorch ratios and the targets of issues 5
and 12 (CPU) or 15 (GPU).
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER_PATH = os.path.join(HERE, "runner.py")
WORKLOADS_PATH = os.path.join(HERE, "workloads.py")
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))   # the folder holding the ndgrad package

MICRO_WORKLOADS = ("tiny", "mlp", "cnn", "cnn_infer", "matmul_grad")
# Models shaped like the public example programs (issue 12; ndgrad/bench/models.py).
MODEL_WORKLOADS = ("mnist_cnn", "lstm_lm", "gru_lm", "gpt", "vae", "dcgan", "resnet18_infer")
# Compute-bound GPU workloads (issue 15): selectable on the CPU by name, but not in its default set.
GPU_WORKLOADS = ("gpt_medium", "resnet18_train")
ALL_WORKLOADS = MICRO_WORKLOADS + MODEL_WORKLOADS + GPU_WORKLOADS
CPU_DEFAULT_WORKLOADS = MICRO_WORKLOADS + MODEL_WORKLOADS
# --device cuda's default set (workloads.CUDA_WORKLOADS says the same; a test keeps them equal), in run order:
# the workloads with issue 15's tightest targets first, so a spent --time-budget cuts the others.
CUDA_DEFAULT_WORKLOADS = ("tiny", "mlp", "cnn", "gpt_medium", "resnet18_train", "cnn_infer", "matmul_grad",
                          "mnist_cnn", "gpt", "vae", "dcgan", "resnet18_infer", "lstm_lm")
FRAMEWORKS = ("ndgrad", "torch")
FRAMEWORK_TITLES = {"ndgrad": "ndgrad", "torch": "PyTorch"}
# `--graphs` adds, per workload, a row for its step captured in a CUDA graph and replayed, named with this suffix
# (the names are accepted by --workloads too: mlp+graph).
GRAPH_SUFFIX = "+graph"

# Steps per process: (warm-up, timed). The big GPU workloads take tens of ms a step on a GPU (and seconds on
# a CPU), so fewer steps keep the GPU run within its budget; their medians are still stable.
DEFAULT_WARMUP, DEFAULT_STEPS = 5, 30
WORKLOAD_STEPS = {"gpt_medium": (3, 10), "resnet18_train": (3, 10)}

# Issue 12's targets (tightening issue 5's): ndgrad time / PyTorch eager time, same run, on the CPU.
TIME_TARGETS = {"tiny": 0.8, "mlp": 1.0, "matmul_grad": 1.05, "cnn": 1.0, "cnn_infer": 0.8,
                **{name: 1.0 for name in MODEL_WORKLOADS}, "lstm_lm": 1.2, "gru_lm": 1.2}
RSS_TARGET = 0.5   # issue 12: peak RSS ratio of every training workload (the table names the worst one)
TRAINING_WORKLOADS = ("tiny", "mlp", "cnn", "mnist_cnn", "lstm_lm", "gru_lm", "gpt", "vae", "dcgan")
IMPORT_TARGET = 2.0                                    # import ndgrad time / import numpy time

# Issue 15's targets on a GPU, same run. Eager: ndgrad ÷ PyTorch eager for every workload (tighter for the
# compute-bound ones, where both should be bound by the same cuBLAS/cuDNN kernels).
CUDA_EAGER_TARGET = 1.5
CUDA_EAGER_TARGETS = {"gpt_medium": 1.1, "resnet18_train": 1.1}
# Graphs: (ndgrad graphed ÷ PyTorch eager, ndgrad graphed ÷ PyTorch graphed) for the launch-bound workloads.
CUDA_GRAPH_TARGETS = {"tiny": (0.5, 1.0), "mlp": (0.5, 1.0), "cnn": (0.5, 1.0)}

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RESULT_MARK = "BENCH_RESULT "
PYCACHE_DIR = os.path.join(tempfile.gettempdir(), "ndgrad-bench-pycache")
GRAD_TOLERANCE = 1e-3
NOISY_SPREAD = 1.5


# --------------------------------------------------------------------------- child


def _load_workloads():
    """Import workloads.py by path: importing it as ndgrad.bench.workloads would import ndgrad."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ndgrad_bench_workloads", WORKLOADS_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _peak_rss_mib():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _error_text(stage, exc):
    """One line naming the stage, the exception and the innermost frame it came from."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {os.path.relpath(last.filename, REPO_ROOT) if last.filename.startswith(REPO_ROOT) else os.path.basename(last.filename)}:{last.lineno})"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{stage}: {type(exc).__name__}: {message}{where}"
    return text if len(text) <= 300 else text[:297] + "..."


def judge_check(check, before, after):
    """Whether the probe values show a working step (see workloads.CHECKS)."""
    if not math.isfinite(after):
        return False
    if check == "falls":
        return math.isfinite(before) and after < before
    if check == "steady":
        return math.isfinite(before) and abs(after - before) <= 1e-4 * max(1.0, abs(before))
    if check == "grad_matches":
        return after < GRAD_TOLERANCE
    raise ValueError(f"unknown check {check!r}")


def _run_child(spec, emit=None):
    """Measure one framework on one workload, eagerly and/or as a replayed CUDA graph (spec["modes"]).

    Returns one result dict per mode (never raises); ``emit`` is called with each as soon as it is ready, so a
    later mode that crashes the process or hangs cannot take the earlier results with it.
    """
    framework, device = spec["framework"], spec["device"]
    base, modes = split_name(spec["workload"])[0], spec.get("modes") or [split_name(spec["workload"])[1]]
    emit = emit or (lambda result: None)
    results = []
    fw = synchronize = workloads = None
    setup_error = setup_skip = None
    try:
        import importlib

        start = time.perf_counter()
        # By name: this child imports only the framework it measures (and ndgrad never imports torch).
        fw = importlib.import_module(framework)
        import_s = time.perf_counter() - start
        if framework == "torch":
            fw.set_num_threads(spec["threads"])
        try:
            synchronize = _synchronizer(fw, framework, device)
        except BaseException as exc:
            setup_error = _error_text("device", exc)
        if synchronize is None and setup_error is None:
            setup_skip = f"{FRAMEWORK_TITLES[framework]}: CUDA not available"
        workloads = _load_workloads() if setup_error is None and setup_skip is None else None
    except BaseException as exc:
        import_s, setup_error = None, _error_text("import", exc)
    for mode in modes:
        result = {"framework": framework, "workload": row_name(base, mode), "device": device, "mode": mode,
                  "status": "error"}
        if import_s is not None:
            result["import_s"] = import_s
        if setup_error:
            result["error"] = setup_error
        elif setup_skip:
            result.update(status="skipped", note=setup_skip)
        else:
            _measure(fw, workloads, synchronize, spec, base, mode, result)
        result["peak_rss_mib"] = _peak_rss_mib()
        emit(result)
        results.append(result)
    return results


def _measure(fw, workloads, synchronize, spec, base, mode, result):
    """Build, probe, warm up, time and probe again, filling ``result`` (a failure becomes its error)."""
    import gc

    stage = "build"
    prepared = None
    try:
        builder = getattr(workloads, base)
        result["gemm_flops"] = workloads.GEMM_FLOPS_PER_STEP.get(base)
        warmup, steps = _steps_for(spec, base)
        fw.manual_seed(0)
        if mode == "graph":
            prepared = builder(fw, spec["device"], graphed=True)
            stage = "capture"
            try:
                prepared = workloads.capture_graph(fw, prepared)
            except workloads.NotGraphable as exc:
                result.update(status="not graphable", note=str(exc))
                return
        else:
            prepared = builder(fw, spec["device"])

        # For a graph, the probe comes after capture: the loss must fall during the replays themselves.
        stage = "probe"
        before = float(prepared.probe())

        stage = "step"
        for _ in range(warmup):
            prepared.step()
        synchronize()
        profiler = None
        if spec.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            prepared.step()
            synchronize()
            times.append(time.perf_counter() - t0)
        if profiler is not None:
            profiler.disable()
            result["profile"] = _profile_text(profiler, steps)

        stage = "probe"
        after = float(prepared.probe())
        result.update(
            status="ok",
            ms_per_step=statistics.median(times) * 1e3,
            ms_min=min(times) * 1e3,
            steps=steps,
            warmup=warmup,
            check=prepared.check,
            probe_before=before,
            probe_after=after,
            check_passed=judge_check(prepared.check, before, after),
        )
    except BaseException as exc:  # a broken workload is a result row, not a crash
        import traceback

        result["error"] = _error_text(stage, exc)
        result["traceback"] = traceback.format_exc()
    finally:
        # The next mode builds its own copy: free this one's model, optimizer state and graph first.
        prepared = None
        gc.collect()


def _steps_for(spec, workload):
    """(warm-up steps, timed steps): the command line's when given, else the workload's default."""
    warmup, steps = WORKLOAD_STEPS.get(workload, (DEFAULT_WARMUP, DEFAULT_STEPS))
    return (warmup if spec.get("warmup") is None else spec["warmup"],
            steps if spec.get("steps") is None else spec["steps"])


def split_name(name):
    """'mlp+graph' -> ('mlp', 'graph'); 'mlp' -> ('mlp', 'eager')."""
    if name.endswith(GRAPH_SUFFIX):
        return name[: -len(GRAPH_SUFFIX)], "graph"
    return name, "eager"


def row_name(workload, mode):
    return workload + GRAPH_SUFFIX if mode == "graph" else workload


def _synchronizer(fw, framework, device):
    """A function that waits for the device; None when that framework has no usable GPU."""
    if not device.startswith("cuda"):
        return lambda: None
    cuda = getattr(fw, "cuda", None)
    if cuda is None or not cuda.is_available():
        if framework == "torch":
            return None
        raise RuntimeError("ndgrad.cuda.is_available() is False: install CuPy (pip install ndgrad[cuda]) on a machine with an NVIDIA GPU")
    return cuda.synchronize


def _profile_text(profiler, steps, top=30):
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(f"cProfile over {steps} timed steps, sorted by own time (tottime):\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write("\nsorted by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _child_entry(argv):
    spec = json.loads(argv[0])

    def emit(result):
        sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
        sys.stdout.flush()

    _run_child(spec, emit)


# --------------------------------------------------------------------------- parent


def _child_env(threads):
    env = dict(os.environ)
    for name in THREAD_ENV_VARS:
        env[name] = str(threads)
    # ndgrad imports from this checkout even when it is not pip-installed.
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # Import with a warm bytecode cache, as an installed package does: without one (PYTHONDONTWRITEBYTECODE
    # and no __pycache__ in the checkout) every fresh process compiles all of ndgrad from source again,
    # which triples its import time. The cache lives outside the checkout.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = PYCACHE_DIR
    return env


def spawn(spec, env, timeout):
    """Run one child for one mode; a crash, a timeout or garbage output becomes an error result."""
    return spawn_modes(spec, env, timeout)[0]


def spawn_modes(spec, env, timeout):
    """Run one child (one framework, one workload, each of spec["modes"]) and return a result per mode.

    A mode whose result never came back (the process crashed, hung past ``timeout`` or printed garbage)
    becomes an error result; the modes reported before that keep their numbers.
    """
    base, default_mode = split_name(spec["workload"])
    modes = spec.get("modes") or [default_mode]
    stdout, failure = "", None
    try:
        proc = subprocess.run(
            [sys.executable, RUNNER_PATH, "--child", json.dumps(spec)],
            env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
        )
        stdout = proc.stdout
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        failure = f"child exited with status {proc.returncode}: {tail[:250]}"
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        failure = f"timed out after {timeout:g} s"
    reported = {}
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
            reported[result.get("mode", "eager")] = result
    return [reported.get(mode) or {"framework": spec["framework"], "workload": row_name(base, mode),
                                   "device": spec["device"], "mode": mode, "status": "error", "error": failure}
            for mode in modes]


_IMPORT_SNIPPET = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"


def measure_imports(modules, repeats, env):
    """Median in-process wall time of `import <module>`, each in a fresh interpreter, interleaved."""
    samples = {m: [] for m in modules}
    errors = {}
    for module in modules:  # untimed: fills the bytecode cache (see _child_env)
        subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True, cwd=REPO_ROOT)
    for _ in range(repeats):
        for module in modules:
            if module in errors:
                continue
            proc = subprocess.run([sys.executable, "-c", _IMPORT_SNIPPET.format(m=module)],
                                  env=env, capture_output=True, text=True, cwd=REPO_ROOT)
            try:
                samples[module].append(float(proc.stdout.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                errors[module] = (proc.stderr.strip().splitlines() or ["failed"])[-1][:250]
    out = {}
    for module in modules:
        if module in errors:
            out[module] = {"error": errors[module]}
        else:
            out[module] = {"median_s": statistics.median(samples[module]), "samples_s": samples[module]}
    return out


_BLAS_SNIPPET = """
import json, time
import numpy as np
n = {n}
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
a @ b
best = min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(10))
print(json.dumps({{"n": n, "gflops": 2 * n ** 3 / best / 1e9}}))
"""

_CUBLAS_SNIPPET = """
import json, time
import cupy as cp
n = {n}
a = cp.random.standard_normal((n, n), dtype=cp.float32)
b = cp.random.standard_normal((n, n), dtype=cp.float32)
a @ b; cp.cuda.Device().synchronize()
times = []
for _ in range(5):
    t0 = time.perf_counter(); a @ b; cp.cuda.Device().synchronize(); times.append(time.perf_counter() - t0)
print(json.dumps({{"n": n, "gflops": 2 * n ** 3 / min(times) / 1e9}}))
"""


def measure_blas(env, device):
    """The machine's float32 matrix-product rate: NumPy's BLAS (and cuBLAS through CuPy on cuda)."""
    out = {}
    snippets = [("numpy", _BLAS_SNIPPET.format(n=2048))]
    if device.startswith("cuda"):
        snippets.append(("cupy", _CUBLAS_SNIPPET.format(n=8192)))
    for name, code in snippets:
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        try:
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            out[name] = {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:250]}
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_average():
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _module_available(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _versions(env):
    code = ("import json, importlib\nout = {}\nfor m in ('numpy', 'torch', 'cupy'):\n"
            "    try: out[m] = importlib.import_module(m).__version__\n"
            "    except Exception: pass\n"
            "try:\n    from ndgrad.backend import onednn\n    v = onednn.version()\n"
            "    if v: out['oneDNN (ndgrad convolutions)'] = v\nexcept Exception: pass\n"
            "print(json.dumps(out))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    try:
        versions = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        versions = {}
    versions["python"] = platform.python_version()
    return versions


def summarize(runs, framework, workload):
    """Aggregate one (framework, workload) over its repeats."""
    mine = [r for r in runs if r["framework"] == framework and r["workload"] == workload]
    ok = [r for r in mine if r["status"] == "ok"]
    row = {"framework": framework, "workload": workload, "repeats": len(mine)}
    if not mine:
        row["status"] = "not run"
        return row
    if not ok:
        for status in ("not graphable", "skipped"):
            same = [r for r in mine if r["status"] == status]
            if same:
                row.update(status=status, note=same[0].get("note", ""))
                return row
        row.update(status="error", error=mine[0].get("error", "unknown error"))
        return row
    medians = [r["ms_per_step"] for r in ok]
    row.update(
        status="ok",
        ms_per_step=statistics.median(medians),
        ms_per_step_runs=medians,
        peak_rss_mib=statistics.median(r["peak_rss_mib"] for r in ok),
        check=ok[0]["check"],
        check_passed=all(r["check_passed"] for r in ok),
        probe_before=ok[0]["probe_before"],
        probe_after=ok[0]["probe_after"],
        failed_repeats=len(mine) - len(ok),
    )
    row["spread"] = max(medians) / min(medians)   # > NOISY_SPREAD: the repeats disagree, the machine was busy
    flops = ok[0].get("gemm_flops")
    if flops:
        row["gemm_gflops"] = flops / (row["ms_per_step"] * 1e-3) / 1e9
    if row["failed_repeats"]:
        row["error"] = next(r.get("error") for r in mine if r["status"] != "ok")
    return row


def _ratio(a, b):
    return a / b if a is not None and b else None


def _passed(summary):
    return summary.get("check_passed", False)


def build_rows(summaries, workloads, device):
    """One comparison row per workload (base name), with the device's targets where they apply.

    On a GPU with graphed runs (``name+graph`` summaries), the row also compares ndgrad's replayed graph with
    PyTorch eager and with PyTorch's replayed graph (issue 15).
    """
    rows = []
    on_cpu = device == "cpu"
    missing = {"status": "not run"}
    for workload in workloads:
        nd, pt = summaries.get(("ndgrad", workload), missing), summaries.get(("torch", workload), missing)
        nd_ms, pt_ms = nd.get("ms_per_step"), pt.get("ms_per_step")
        valid = _passed(nd) and pt.get("check_passed", pt["status"] != "ok")
        ratio = _ratio(nd_ms, pt_ms)
        target = TIME_TARGETS.get(workload) if on_cpu else CUDA_EAGER_TARGETS.get(workload, CUDA_EAGER_TARGET)
        row = {
            "workload": workload,
            "ndgrad_ms": nd_ms,
            "torch_ms": pt_ms,
            "ratio": ratio,
            "target": target,
            "met": _met(ratio, target, valid),
            "ndgrad_rss_mib": nd.get("peak_rss_mib"),
            "torch_rss_mib": pt.get("peak_rss_mib"),
            "rss_ratio": _ratio(nd.get("peak_rss_mib"), pt.get("peak_rss_mib")),
            "ndgrad_gemm_gflops": nd.get("gemm_gflops"),
            "torch_gemm_gflops": pt.get("gemm_gflops"),
        }
        graphed = row_name(workload, "graph")
        if not on_cpu and (("ndgrad", graphed) in summaries or ("torch", graphed) in summaries):
            nd_g, pt_g = summaries.get(("ndgrad", graphed), missing), summaries.get(("torch", graphed), missing)
            nd_g_ms, pt_g_ms = nd_g.get("ms_per_step"), pt_g.get("ms_per_step")
            vs_eager, vs_graph = CUDA_GRAPH_TARGETS.get(workload, (None, None))
            row.update({
                "ndgrad_graph_ms": nd_g_ms,
                "torch_graph_ms": pt_g_ms,
                "graph_vs_torch_eager": _ratio(nd_g_ms, pt_ms),
                "graph_vs_torch_eager_target": vs_eager,
                "graph_vs_torch_eager_met": _met(_ratio(nd_g_ms, pt_ms), vs_eager, _passed(nd_g) and _passed(pt)),
                "graph_vs_torch_graph": _ratio(nd_g_ms, pt_g_ms),
                "graph_vs_torch_graph_target": vs_graph,
                "graph_vs_torch_graph_met": _met(_ratio(nd_g_ms, pt_g_ms), vs_graph, _passed(nd_g) and _passed(pt_g)),
            })
        rows.append(row)
    return rows


def _met(ratio, target, valid=True):
    if target is None:
        return None
    if ratio is None:
        return "not measured"
    if not valid:
        return "invalid (check failed)"
    return "yes" if ratio <= target else "no"


class NoCudaDevice(RuntimeError):
    """--device cuda on a machine where neither framework sees a GPU."""


_CUDA_SNIPPET = r"""
import json
out = {}
def attempt(name, fn):
    try:
        out[name] = fn()
    except Exception as exc:
        text = str(exc).strip()
        out[name] = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:250]
def ndgrad_sees_gpu():
    import ndgrad
    return bool(ndgrad.cuda.is_available())
def torch_sees_gpu():
    torch = __import__("torch")   # in the child only; the library never imports torch
    found = bool(torch.cuda.is_available())
    if found:
        out["gpu"] = torch.cuda.get_device_name(0)
        out["torch_cuda"] = torch.version.cuda
        out["torch_cudnn"] = torch.backends.cudnn.version()
    return found
def cupy_version():
    import cupy
    out["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
    out["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
    return cupy.__version__
attempt("ndgrad", ndgrad_sees_gpu)
attempt("torch", torch_sees_gpu)
attempt("cupy", cupy_version)
print(json.dumps(out))
"""


def probe_cuda(env):
    """What each framework says about the GPU, from a fresh process: {"ndgrad": bool or error text, "torch": ...,
    "cupy": version or error text, "gpu": name, ...}."""
    try:
        proc = subprocess.run([sys.executable, "-c", _CUDA_SNIPPET], env=env, capture_output=True, text=True,
                              cwd=REPO_ROOT, timeout=300)
    except subprocess.TimeoutExpired:
        return {"ndgrad": "the GPU check timed out after 300 s", "torch": "not checked"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ndgrad": (proc.stderr.strip().splitlines() or ["failed"])[-1][:250], "torch": "not checked"}


def _require_gpu(cuda, graphs):
    """Raise NoCudaDevice with what each framework said, unless one of them sees a GPU."""
    if cuda.get("ndgrad") is True or cuda.get("torch") is True:
        return

    def said(name, value):
        return f"{name}: {'no GPU (cuda.is_available() is False)' if value is False else value}"

    raise NoCudaDevice(
        ("--graphs captures CUDA graphs, and " if graphs else "") + "--device cuda needs an NVIDIA GPU, but none was "
        f"found ({said('ndgrad', cuda.get('ndgrad'))}; {said('PyTorch', cuda.get('torch'))}). "
        "On a GPU machine: pip install 'ndgrad[cuda]' (CuPy) and a CUDA build of PyTorch.")


def plan(workloads, graphs):
    """[(workload, [modes])] in order: `name+graph` asks for the graph only; --graphs adds it to every workload."""
    jobs = {}
    for name in workloads:
        base, mode = split_name(name)
        modes = jobs.setdefault(base, [])
        for m in (("eager", "graph") if graphs else (mode,)):
            if m not in modes:
                modes.append(m)
    return [(base, sorted(modes, key=("eager", "graph").index)) for base, modes in jobs.items()]


def run(args):
    threads = args.threads or os.cpu_count() or 1
    env = _child_env(threads)
    device = args.device
    on_cuda = device.startswith("cuda")
    jobs = plan(args.workloads or (CUDA_DEFAULT_WORKLOADS if on_cuda else CPU_DEFAULT_WORKLOADS), args.graphs)
    bases = [base for base, _ in jobs]
    names = [row_name(base, mode) for base, modes in jobs for mode in modes]
    repeats = args.repeats or (1 if on_cuda else 3)
    import_repeats = args.import_repeats if args.import_repeats is not None else (0 if on_cuda else 7)
    notes = []
    frameworks = [f for f in args.frameworks]
    torch_installed = _module_available("torch")
    if "torch" in frameworks and not torch_installed:
        frameworks.remove("torch")
        notes.append("PyTorch is not installed: its rows are skipped (pip install torch).")

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    started = time.monotonic()
    cuda = None
    if on_cuda:
        log("checking the GPU ...")
        cuda = probe_cuda(env)
        _require_gpu(cuda, any(mode == "graph" for _, modes in jobs for mode in modes))
    load_before = _load_average()
    if load_before is not None and load_before > 0.5:
        notes.append(f"1-minute load average was {load_before:.2f} before the run: other processes shared the CPU, "
                     "so the times are noisier (and multi-threaded BLAS can slow down sharply).")
    log("measuring BLAS ...")   # first, before the workloads warm the machine up
    blas = measure_blas(env, device)
    runs, out_of_time = [], []
    for repeat in range(repeats):
        for base, modes in jobs:
            for framework in frameworks:
                if args.time_budget is not None and time.monotonic() - started > args.time_budget:
                    out_of_time.append(f"{base}/{FRAMEWORK_TITLES[framework]}")
                    continue
                spec = {"framework": framework, "workload": base, "modes": modes, "device": device,
                        "threads": threads, "warmup": args.warmup, "steps": args.steps}
                for result in spawn_modes(spec, env, args.timeout):
                    result["repeat"] = repeat
                    runs.append(result)
                    shown = (f"{result['ms_per_step']:.3f} ms/step" if result["status"] == "ok"
                             else result.get("error") or result.get("note", result["status"]))
                    log(f"[repeat {repeat + 1}/{repeats}] {result['workload']:<20} "
                        f"{FRAMEWORK_TITLES[framework]:<8} {shown}")
    if out_of_time:
        notes.append(f"--time-budget {args.time_budget:g} s was spent before these runs could start (their cells "
                     f"say 'not run' or count fewer repeats): {', '.join(out_of_time)}.")

    summaries = {(f, w): summarize(runs, f, w) for f in FRAMEWORKS for w in names}
    if not torch_installed:
        for w in names:
            summaries[("torch", w)].update(status="skipped", note="PyTorch not installed")

    import_modules = ["numpy", "ndgrad"] + (["torch"] if torch_installed else [])
    imports = {}
    if import_repeats:
        log("timing imports ...")
        imports = measure_imports(import_modules, import_repeats, env)

    rows = build_rows(summaries, bases, device)
    report = {
        "config": {"device": device, "threads": threads, "repeats": repeats, "steps": args.steps,
                   "warmup": args.warmup, "workloads": names, "frameworks": frameworks, "graphs": args.graphs,
                   "steps_per_workload": {b: list(_steps_for({"warmup": args.warmup, "steps": args.steps}, b))
                                          for b in bases},
                   "thread_env": {v: str(threads) for v in THREAD_ENV_VARS}},
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "versions": _versions(env), "load_average_before": load_before,
                    "load_average_after": _load_average(), **({"cuda": cuda} if cuda is not None else {})},
        "blas": blas,
        "imports": imports,
        "summaries": [summaries[k] for k in sorted(summaries)],
        "rows": rows,
        "targets": _target_rows(rows, imports, device),
        "notes": notes,
        "runs": runs,
        "wall_s": time.monotonic() - started,
    }
    return report


def _target_rows(rows, imports, device):
    """The device's targets with their measured values: issues 5 and 12 on the CPU, issue 15 on a GPU."""
    if device != "cpu":
        return _cuda_target_rows(rows)
    targets = [{"target": f"{r['workload']} time ratio", "limit": r["target"], "value": r["ratio"], "met": r["met"]}
               for r in rows if r["target"] is not None]
    training = [r for r in rows if r["workload"] in TRAINING_WORKLOADS and r["rss_ratio"] is not None]
    if training:
        worst = max(training, key=lambda r: r["rss_ratio"])
        targets.append({"target": "training peak RSS ratio", "limit": RSS_TARGET, "workload": worst["workload"],
                        "value": worst["rss_ratio"], "met": _met(worst["rss_ratio"], RSS_TARGET)})
    nd, np_ = imports.get("ndgrad", {}).get("median_s"), imports.get("numpy", {}).get("median_s")
    if imports:
        value = _ratio(nd, np_)
        targets.append({"target": "import ndgrad / import numpy time", "limit": IMPORT_TARGET,
                        "value": value, "met": _met(value, IMPORT_TARGET)})
    return targets


def _cuda_target_rows(rows):
    """Issue 15: every workload's eager ratio, and the graph ratios of the launch-bound ones when graphs ran."""
    targets = []
    for r in rows:
        targets.append({"target": f"{r['workload']} eager time ratio (ndgrad ÷ PyTorch eager)",
                        "workload": r["workload"], "limit": r["target"], "value": r["ratio"], "met": r["met"]})
        if r.get("graph_vs_torch_eager_target") is not None:
            targets.append({"target": f"{r['workload']} graphed ÷ PyTorch eager", "workload": r["workload"],
                            "limit": r["graph_vs_torch_eager_target"], "value": r["graph_vs_torch_eager"],
                            "met": r["graph_vs_torch_eager_met"]})
        if r.get("graph_vs_torch_graph_target") is not None:
            targets.append({"target": f"{r['workload']} graphed ÷ PyTorch graphed", "workload": r["workload"],
                            "limit": r["graph_vs_torch_graph_target"], "value": r["graph_vs_torch_graph"],
                            "met": r["graph_vs_torch_graph_met"]})
    return targets


# --------------------------------------------------------------------------- report


def _fmt(value, digits=3):
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _ms_cell(summary):
    if summary["status"] == "ok":
        cell = _fmt(summary["ms_per_step"])
        if summary.get("spread", 1.0) > NOISY_SPREAD:
            cell += " ~"
        if summary.get("failed_repeats"):
            cell += f" ({summary['failed_repeats']} repeat(s) failed)"
        return cell
    if summary["status"] == "skipped":
        return f"skipped: {summary.get('note', '')}"
    if summary["status"] == "not graphable":
        return "not graphable: " + summary.get("note", "").replace("|", "\\|")
    if summary["status"] == "error":
        return "**error**: " + summary["error"].replace("|", "\\|")
    return summary["status"]


def _check_cell(summary):
    if summary["status"] != "ok":
        return "—"
    before, after = summary["probe_before"], summary["probe_after"]
    mark = "ok" if summary["check_passed"] else "**FAILED**"
    if summary["check"] == "grad_matches":
        return f"grad err {after:.1e} {mark}"
    return f"{before:.3g}→{after:.3g} {mark}"


def _target_cell(limit):
    return f"≤ {limit}" if limit is not None else "—"


def _cpu_table(report, summaries):
    lines = [
        "| workload | ndgrad ms/step | PyTorch ms/step | ndgrad ÷ PyTorch | target | met "
        "| ndgrad peak RSS MiB | PyTorch peak RSS MiB | RSS ratio | loss check (ndgrad; PyTorch) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in report["rows"]:
        nd, pt = summaries[("ndgrad", row["workload"])], summaries[("torch", row["workload"])]
        lines.append(
            f"| {row['workload']} | {_ms_cell(nd)} | {_ms_cell(pt)} | {_fmt(row['ratio'], 2)} "
            f"| {_target_cell(row['target'])} "
            f"| {row['met'] or '—'} | {_fmt(row['ndgrad_rss_mib'], 0)} | {_fmt(row['torch_rss_mib'], 0)} "
            f"| {_fmt(row['rss_ratio'], 2)} | {_check_cell(nd)}; {_check_cell(pt)} |"
        )
    for t in report["targets"]:
        if t["target"].endswith("peak RSS ratio"):
            row = next(r for r in report["rows"] if r["workload"] == t["workload"])
            lines.append(
                f"| peak RSS, worst training workload ({t['workload']}) | | | | ≤ {t['limit']} (RSS) | {t['met']} "
                f"| {_fmt(row['ndgrad_rss_mib'], 0)} | {_fmt(row['torch_rss_mib'], 0)} | {_fmt(t['value'], 2)} | |"
            )
    imports = report["imports"]
    if imports:
        def imp(m):
            entry = imports.get(m)
            if entry is None:
                return "—"
            if "error" in entry:
                return "**error**: " + entry["error"].replace("|", "\\|")
            return f"{entry['median_s'] * 1e3:.0f} ms"

        import_target = next((t for t in report["targets"] if t["target"].startswith("import")), None)
        ratio = _ratio(imports.get("ndgrad", {}).get("median_s"), imports.get("numpy", {}).get("median_s"))
        lines.append(
            f"| `import` wall time (numpy: {imp('numpy')}) | {imp('ndgrad')} | {imp('torch')} "
            f"| {_fmt(ratio, 2)} ÷ numpy | {'≤ ' + str(IMPORT_TARGET) + ' ÷ numpy' if import_target else '—'} "
            f"| {import_target['met'] if import_target else '—'} | | | | |"
        )
    return lines


def _cuda_table(report, summaries):
    """Issue 15's GPU table: eager columns, then (when graphs ran) the graphed ones and their two ratios."""
    missing = {"status": "not run"}
    graphs = any("ndgrad_graph_ms" in row or "torch_graph_ms" in row or "graph_vs_torch_eager" in row
                 for row in report["rows"])
    header = ("| workload | ndgrad ms/step | PyTorch ms/step | ndgrad ÷ PyTorch | target | met "
              "| loss check (ndgrad; PyTorch) |")
    align = "| --- | ---: | ---: | ---: | ---: | --- | --- |"
    if graphs:
        header += (" ndgrad graphed ms/step | PyTorch graphed ms/step | ndgrad graphed ÷ PyTorch eager | target | met "
                   "| ndgrad graphed ÷ PyTorch graphed | target | met | graphed loss check (ndgrad; PyTorch) |")
        align += " ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |"
    lines = [header, align]
    for row in report["rows"]:
        name = row["workload"]
        nd, pt = summaries.get(("ndgrad", name), missing), summaries.get(("torch", name), missing)
        line = (f"| {name} | {_ms_cell(nd)} | {_ms_cell(pt)} | {_fmt(row['ratio'], 2)} | {_target_cell(row['target'])} "
                f"| {row['met'] or '—'} | {_check_cell(nd)}; {_check_cell(pt)} |")
        if graphs:
            graphed = row_name(name, "graph")
            nd_g, pt_g = summaries.get(("ndgrad", graphed), missing), summaries.get(("torch", graphed), missing)
            line += (f" {_ms_cell(nd_g)} | {_ms_cell(pt_g)} | {_fmt(row.get('graph_vs_torch_eager'), 2)} "
                     f"| {_target_cell(row.get('graph_vs_torch_eager_target'))} "
                     f"| {row.get('graph_vs_torch_eager_met') or '—'} | {_fmt(row.get('graph_vs_torch_graph'), 2)} "
                     f"| {_target_cell(row.get('graph_vs_torch_graph_target'))} "
                     f"| {row.get('graph_vs_torch_graph_met') or '—'} | {_check_cell(nd_g)}; {_check_cell(pt_g)} |")
        lines.append(line)
    return lines


def _targets_met_line(targets):
    counted = [t for t in targets if t.get("met") is not None]
    if not counted:
        return None
    met = sum(t["met"] == "yes" for t in counted)
    missed = [t["target"] for t in counted if t["met"] != "yes"]
    return (f"Targets met: {met} of {len(counted)}"
            + (f"; not met or not measured: {', '.join(missed)}" if missed else "") + ".")


def _steps_text(cfg):
    per = cfg.get("steps_per_workload") or {}
    default = [DEFAULT_WARMUP, DEFAULT_STEPS]
    if cfg.get("steps") is not None:
        default[1] = cfg["steps"]
    if cfg.get("warmup") is not None:
        default[0] = cfg["warmup"]
    text = f"{default[1]} timed steps after {default[0]} warm-up steps"
    others = [f"{w}: {s} after {wu}" for w, (wu, s) in per.items() if [wu, s] != default]
    return text + (f" ({', '.join(others)})" if others else "")


def format_markdown(report):
    cfg, machine = report["config"], report["machine"]
    summaries = {(s["framework"], s["workload"]): s for s in report["summaries"]}
    on_cpu = cfg["device"] == "cpu"
    lines = _cpu_table(report, summaries) if on_cpu else _cuda_table(report, summaries)

    blas = report["blas"]
    blas_text = ", ".join(
        f"{name} {entry['gflops']:.0f} GFLOP/s (float32 {entry['n']}×{entry['n']} matmul)" if "gflops" in entry
        else f"{name}: error {entry['error']}" for name, entry in blas.items()
    )
    versions = machine["versions"]
    cuda = machine.get("cuda") or {}
    gpu = f" · GPU: {cuda['gpu']}" if cuda.get("gpu") else ""
    lines += [
        "",
        f"Device: {cfg['device']}{gpu} · CPU: {machine['cpu']} ({machine['cores']} cores) "
        f"· threads: {cfg['threads']} "
        f"for both frameworks ({', '.join(THREAD_ENV_VARS)}, torch.set_num_threads)",
        f"BLAS ceiling: {blas_text}",
    ]
    achieved = [f"{r['workload']} {_fmt(r['ndgrad_gemm_gflops'], 1)} / {_fmt(r['torch_gemm_gflops'], 1)}"
                for r in report["rows"] if r.get("ndgrad_gemm_gflops") or r.get("torch_gemm_gflops")]
    if achieved:
        lines.append("Matrix-product work done per second, GFLOP/s (ndgrad / PyTorch; the step's GEMM flops "
                     "÷ its time): " + ", ".join(achieved))
    lines += [
        f"Each cell: median over {cfg['repeats']} fresh processes of the median of {_steps_text(cfg)} · versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]
    if not on_cpu:
        lines.append(
            f"Targets (issue 15, same run): eager ndgrad ÷ PyTorch eager ≤ {CUDA_EAGER_TARGET} for every workload, "
            + ", ".join(f"≤ {v} for {k}" for k, v in CUDA_EAGER_TARGETS.items())
            + "; with --graphs, " + ", ".join(CUDA_GRAPH_TARGETS)
            + ": ndgrad graphed ≤ 0.5 × PyTorch eager and ≤ 1.0 × PyTorch graphed.")
        if cfg.get("graphs") or any(split_name(w)[1] == "graph" for w in cfg.get("workloads", [])):
            lines.append("Graphed columns: the whole step (zero_grad, forward, loss, backward, optimizer step; "
                         "inference: the forward) captured once in a CUDA graph with PyTorch's pattern (3 eager "
                         "warm-up steps on a side stream, then capture) and replayed, in the same process after the "
                         "eager run, on a fresh copy of the model; their loss check spans the replays only.")
    met_line = _targets_met_line(report["targets"])
    if met_line:
        lines.append(met_line)
    load = [machine.get("load_average_before"), machine.get("load_average_after")]
    if None not in load:
        lines.append(f"1-minute load average before/after the run: {load[0]:.2f} / {load[1]:.2f}")
    noisy = [f"{s['workload']}/{FRAMEWORK_TITLES[s['framework']]}" for s in report["summaries"]
             if s.get("spread", 1.0) > NOISY_SPREAD]
    if noisy:
        lines.append(f"Note: cells marked ~ ({', '.join(noisy)}) varied by more than {NOISY_SPREAD}× between "
                     "repeats: the machine was busy; rerun them before trusting their ratio.")
    lines += [f"Note: {n}" for n in report["notes"]]
    table_end = lines.index("")
    # The lines under the table as a Markdown list (plain lines would run together into one paragraph).
    return "\n".join(lines[:table_end + 1] + ["- " + line for line in lines[table_end + 1:]]) + "\n"


# --------------------------------------------------------------------------- entry point


def _parse(argv, prog):
    parser = argparse.ArgumentParser(
        prog=prog, description="Benchmark ndgrad against PyTorch eager, each (framework, workload) in a fresh process.")
    parser.add_argument("--workloads", nargs="+", metavar="NAME",
                        help=f"workloads to run (default on cpu: {' '.join(CPU_DEFAULT_WORKLOADS)}; on cuda: "
                             f"{' '.join(CUDA_DEFAULT_WORKLOADS)}); choices: {', '.join(ALL_WORKLOADS)}, each also "
                             f"as NAME{GRAPH_SUFFIX} (its CUDA-graphed row only)")
    parser.add_argument("--graphs", action="store_true",
                        help=f"cuda only: also run each workload's step captured in a CUDA graph and replayed (rows "
                             f"NAME{GRAPH_SUFFIX}), on both frameworks, compared with PyTorch eager and graphed")
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--repeats", type=int, default=None,
                        help="fresh processes per (framework, workload) (default 3 on cpu, 1 on cuda)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"timed steps per process (default {DEFAULT_STEPS}; "
                             + ", ".join(f"{w} {s}" for w, (_, s) in WORKLOAD_STEPS.items()) + ")")
    parser.add_argument("--warmup", type=int, default=None,
                        help=f"untimed warm-up steps per process (default {DEFAULT_WARMUP}; "
                             + ", ".join(f"{w} {wu}" for w, (wu, _) in WORKLOAD_STEPS.items()) + ")")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=None, help="threads for both frameworks (default: all cores)")
    parser.add_argument("--json", default="bench_results.json", metavar="PATH",
                        help="where to write the JSON report (default bench_results.json; '' to skip)")
    parser.add_argument("--markdown", default=None, metavar="PATH", help="also write the Markdown table here")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a child is given up (default 600)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="start no new child after this many seconds; the rest are reported as not run "
                             "(default: no limit)")
    parser.add_argument("--import-repeats", type=int, default=None,
                        help="fresh interpreters per module for the import timing (default 7 on cpu, 0 on cuda; "
                             "0 skips it)")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the table: cProfile the timed steps of each workload (ndgrad unless "
                             "--frameworks says otherwise) and print where the time goes")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    names = [n for item in (args.workloads or []) for n in item.split(",") if n]
    unknown = [n for n in names if split_name(n)[0] not in ALL_WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(ALL_WORKLOADS)} "
                     f"(or NAME{GRAPH_SUFFIX})")
    args.workloads = names or None
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        parser.error(f"--device must be cpu or cuda[:N], got {args.device!r}")
    wants_graphs = args.graphs or any(split_name(n)[1] == "graph" for n in names)
    if wants_graphs and not args.device.startswith("cuda"):
        parser.error(f"--graphs (and NAME{GRAPH_SUFFIX} workloads) capture CUDA graphs: they need --device cuda "
                     f"and a GPU, got --device {args.device}")
    if (args.repeats is not None and args.repeats < 1) or (args.steps is not None and args.steps < 1) \
            or (args.warmup is not None and args.warmup < 0):
        parser.error("--repeats and --steps must be at least 1, --warmup at least 0")
    return args


def profile(args):
    threads = args.threads or os.cpu_count() or 1
    env = _child_env(threads)
    frameworks = args.frameworks if args.frameworks != list(FRAMEWORKS) else ["ndgrad"]
    workloads = args.workloads or (CUDA_DEFAULT_WORKLOADS if args.device.startswith("cuda") else CPU_DEFAULT_WORKLOADS)
    for workload in workloads:
        for framework in frameworks:
            spec = {"framework": framework, "workload": workload, "device": args.device, "threads": threads,
                    "warmup": args.warmup, "steps": args.steps, "profile": True}
            result = spawn(spec, env, args.timeout)
            print(f"=== {workload} / {FRAMEWORK_TITLES[framework]} ===")
            if result["status"] == "ok":
                print(f"{result['ms_per_step']:.3f} ms/step (under the profiler)")
                print(result["profile"])
            else:
                print(result.get("error") or result.get("note"))
                print(result.get("traceback", ""))
    return 0


def main(argv=None, prog="ndgrad bench"):
    """Run the benchmarks; print the Markdown table and write the JSON report. Returns an exit code."""
    args = _parse(sys.argv[1:] if argv is None else list(argv), prog)
    if args.profile:
        return profile(args)
    try:
        report = run(args)
    except NoCudaDevice as exc:
        # A clear line instead of a table of error rows: nothing can be measured on this machine.
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    table = format_markdown(report)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    # Exit status 1 when a workload errored or failed its check, so scripts notice a broken step.
    broken = any(s["status"] == "error" or (s["status"] == "ok" and not s["check_passed"])
                 for s in report["summaries"])
    return 1 if broken else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child_entry(sys.argv[2:])
    else:
        sys.exit(main(prog="runner.py"))

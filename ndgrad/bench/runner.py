"""Benchmark runner: ndgrad against PyTorch eager, side by side, in fresh processes.

The parent process (``main``) never imports ndgrad or torch. For every repeat,
workload and framework it starts a child process (this file run as a script
with ``--child``) that imports only the framework it measures, builds the
workload, probes it, runs warm-up steps, times each of the timed steps, probes
again and prints one JSON line. The parent interleaves the children
(repeat 1: tiny/ndgrad, tiny/torch, mlp/ndgrad, ...; repeat 2: ...) so that a
slow patch of the machine hits both frameworks alike, then reports the median
of the per-run medians, the ndgrad/PyTorch ratios and the targets of issues 5 and 12.
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
ALL_WORKLOADS = MICRO_WORKLOADS + MODEL_WORKLOADS
CUDA_DEFAULT_WORKLOADS = ("mlp", "cnn", "cnn_infer", "matmul_grad")
FRAMEWORKS = ("ndgrad", "torch")
FRAMEWORK_TITLES = {"ndgrad": "ndgrad", "torch": "PyTorch"}

# Issue 12's targets (tightening issue 5's): ndgrad time / PyTorch eager time, same run, on the CPU.
TIME_TARGETS = {"tiny": 0.8, "mlp": 1.0, "matmul_grad": 1.05, "cnn": 1.0, "cnn_infer": 0.8,
                **{name: 1.0 for name in MODEL_WORKLOADS}, "lstm_lm": 1.2, "gru_lm": 1.2}
RSS_TARGET = 0.5   # issue 12: peak RSS ratio of every training workload (the table names the worst one)
TRAINING_WORKLOADS = ("tiny", "mlp", "cnn", "mnist_cnn", "lstm_lm", "gru_lm", "gpt", "vae", "dcgan")
IMPORT_TARGET = 2.0                                    # import ndgrad time / import numpy time

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


def _run_child(spec):
    """Measure one (framework, workload); returns the result dict (never raises)."""
    framework, workload, device = spec["framework"], spec["workload"], spec["device"]
    result = {"framework": framework, "workload": workload, "device": device, "status": "error"}
    stage = "import"
    try:
        import importlib

        start = time.perf_counter()
        # By name: this child imports only the framework it measures (and ndgrad never imports torch).
        fw = importlib.import_module(framework)
        result["import_s"] = time.perf_counter() - start
        if framework == "torch":
            fw.set_num_threads(spec["threads"])

        stage = "device"
        synchronize = _synchronizer(fw, framework, device)
        if synchronize is None:
            result.update(status="skipped", note=f"{FRAMEWORK_TITLES[framework]}: CUDA not available")
            return result

        stage = "build"
        workloads = _load_workloads()
        builder = getattr(workloads, workload)
        result["gemm_flops"] = workloads.GEMM_FLOPS_PER_STEP.get(workload)
        fw.manual_seed(0)
        prepared = builder(fw, device)

        stage = "probe"
        before = float(prepared.probe())

        stage = "step"
        for _ in range(spec["warmup"]):
            prepared.step()
        synchronize()
        profiler = None
        if spec.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        times = []
        for _ in range(spec["steps"]):
            t0 = time.perf_counter()
            prepared.step()
            synchronize()
            times.append(time.perf_counter() - t0)
        if profiler is not None:
            profiler.disable()
            result["profile"] = _profile_text(profiler, spec["steps"])

        stage = "probe"
        after = float(prepared.probe())
        result.update(
            status="ok",
            ms_per_step=statistics.median(times) * 1e3,
            ms_min=min(times) * 1e3,
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
        result["peak_rss_mib"] = _peak_rss_mib()
    return result


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
    result = _run_child(spec)
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


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
    """Run one child; a crash, a timeout or garbage output becomes an error result."""
    base = {"framework": spec["framework"], "workload": spec["workload"], "device": spec["device"], "status": "error"}
    try:
        proc = subprocess.run(
            [sys.executable, RUNNER_PATH, "--child", json.dumps(spec)],
            env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
        )
    except subprocess.TimeoutExpired:
        return {**base, "error": f"timed out after {timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {**base, "error": f"child exited with status {proc.returncode}: {tail[:250]}"}


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
        skipped = [r for r in mine if r["status"] == "skipped"]
        if skipped:
            row.update(status="skipped", note=skipped[0].get("note", ""))
        else:
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


def build_rows(summaries, workloads, device):
    """One comparison row per workload, with issue 12's target where it applies (CPU only)."""
    rows = []
    on_cpu = device == "cpu"
    for workload in workloads:
        nd, pt = summaries[("ndgrad", workload)], summaries[("torch", workload)]
        nd_ms, pt_ms = nd.get("ms_per_step"), pt.get("ms_per_step")
        valid = nd.get("check_passed", False) and pt.get("check_passed", pt["status"] != "ok")
        ratio = _ratio(nd_ms, pt_ms)
        target = TIME_TARGETS.get(workload) if on_cpu else None
        rows.append({
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
        })
    return rows


def _met(ratio, target, valid=True):
    if target is None:
        return None
    if ratio is None:
        return "not measured"
    if not valid:
        return "invalid (check failed)"
    return "yes" if ratio <= target else "no"


def run(args):
    threads = args.threads or os.cpu_count() or 1
    env = _child_env(threads)
    device = args.device
    workloads = args.workloads or (CUDA_DEFAULT_WORKLOADS if device.startswith("cuda") else ALL_WORKLOADS)
    notes = []
    frameworks = [f for f in args.frameworks]
    torch_installed = _module_available("torch")
    if "torch" in frameworks and not torch_installed:
        frameworks.remove("torch")
        notes.append("PyTorch is not installed: its rows are skipped (pip install torch).")

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    load_before = _load_average()
    if load_before is not None and load_before > 0.5:
        notes.append(f"1-minute load average was {load_before:.2f} before the run: other processes shared the CPU, "
                     "so the times are noisier (and multi-threaded BLAS can slow down sharply).")
    log("measuring BLAS ...")   # first, before the workloads warm the machine up
    blas = measure_blas(env, device)
    runs = []
    for repeat in range(args.repeats):
        for workload in workloads:
            for framework in frameworks:
                spec = {"framework": framework, "workload": workload, "device": device, "threads": threads,
                        "warmup": args.warmup, "steps": args.steps}
                result = spawn(spec, env, args.timeout)
                result["repeat"] = repeat
                runs.append(result)
                shown = (f"{result['ms_per_step']:.3f} ms/step" if result["status"] == "ok"
                         else result.get("error") or result.get("note", result["status"]))
                log(f"[repeat {repeat + 1}/{args.repeats}] {workload:<12} {FRAMEWORK_TITLES[framework]:<8} {shown}")

    summaries = {(f, w): summarize(runs, f, w) for f in FRAMEWORKS for w in workloads}
    if not torch_installed:
        for w in workloads:
            summaries[("torch", w)].update(status="skipped", note="PyTorch not installed")

    import_modules = ["numpy", "ndgrad"] + (["torch"] if torch_installed else [])
    log("timing imports ...")
    imports = measure_imports(import_modules, args.import_repeats, env) if args.import_repeats else {}

    rows = build_rows(summaries, workloads, device)
    report = {
        "config": {"device": device, "threads": threads, "repeats": args.repeats, "steps": args.steps,
                   "warmup": args.warmup, "workloads": list(workloads), "frameworks": frameworks,
                   "thread_env": {v: str(threads) for v in THREAD_ENV_VARS}},
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "versions": _versions(env), "load_average_before": load_before,
                    "load_average_after": _load_average()},
        "blas": blas,
        "imports": imports,
        "summaries": [summaries[k] for k in sorted(summaries)],
        "rows": rows,
        "targets": _target_rows(rows, imports, device),
        "notes": notes,
        "runs": runs,
    }
    return report


def _target_rows(rows, imports, device):
    """Issue 5's targets with their measured values (CPU only)."""
    if device != "cpu":
        return []
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


def format_markdown(report):
    cfg, machine = report["config"], report["machine"]
    summaries = {(s["framework"], s["workload"]): s for s in report["summaries"]}
    on_cpu = cfg["device"] == "cpu"
    lines = [
        "| workload | ndgrad ms/step | PyTorch ms/step | ndgrad ÷ PyTorch | target | met "
        "| ndgrad peak RSS MiB | PyTorch peak RSS MiB | RSS ratio | loss check (ndgrad; PyTorch) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in report["rows"]:
        nd, pt = summaries[("ndgrad", row["workload"])], summaries[("torch", row["workload"])]
        target = f"≤ {row['target']}" if row["target"] is not None else "—"
        lines.append(
            f"| {row['workload']} | {_ms_cell(nd)} | {_ms_cell(pt)} | {_fmt(row['ratio'], 2)} | {target} "
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

    blas = report["blas"]
    blas_text = ", ".join(
        f"{name} {entry['gflops']:.0f} GFLOP/s (float32 {entry['n']}×{entry['n']} matmul)" if "gflops" in entry
        else f"{name}: error {entry['error']}" for name, entry in blas.items()
    )
    versions = machine["versions"]
    lines += [
        "",
        f"Device: {cfg['device']} · CPU: {machine['cpu']} ({machine['cores']} cores) · threads: {cfg['threads']} "
        f"for both frameworks ({', '.join(THREAD_ENV_VARS)}, torch.set_num_threads)",
        f"BLAS ceiling: {blas_text}",
    ]
    achieved = [f"{r['workload']} {_fmt(r['ndgrad_gemm_gflops'], 1)} / {_fmt(r['torch_gemm_gflops'], 1)}"
                for r in report["rows"] if r.get("ndgrad_gemm_gflops") or r.get("torch_gemm_gflops")]
    if achieved:
        lines.append("Matrix-product work done per second, GFLOP/s (ndgrad / PyTorch; the step's GEMM flops "
                     "÷ its time): " + ", ".join(achieved))
    lines += [
        f"Each cell: median over {cfg['repeats']} fresh processes of the median of {cfg['steps']} timed steps "
        f"after {cfg['warmup']} warm-up steps · versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]
    if not on_cpu:
        lines.append("Targets (issues 5, 12) are for the CPU; on a GPU the ratios are reported without targets.")
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
                        help=f"workloads to run (default: all on cpu, {' '.join(CUDA_DEFAULT_WORKLOADS)} on cuda); "
                             f"choices: {', '.join(ALL_WORKLOADS)}")
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per (framework, workload) (default 3)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per process (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps per process (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=None, help="threads for both frameworks (default: all cores)")
    parser.add_argument("--json", default="bench_results.json", metavar="PATH",
                        help="where to write the JSON report (default bench_results.json; '' to skip)")
    parser.add_argument("--markdown", default=None, metavar="PATH", help="also write the Markdown table here")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a child is given up (default 600)")
    parser.add_argument("--import-repeats", type=int, default=7,
                        help="fresh interpreters per module for the import timing (default 7; 0 skips it)")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the table: cProfile the timed steps of each workload (ndgrad unless "
                             "--frameworks says otherwise) and print where the time goes")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    names = [n for item in (args.workloads or []) for n in item.split(",") if n]
    unknown = [n for n in names if n not in ALL_WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(ALL_WORKLOADS)}")
    args.workloads = names or None
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        parser.error(f"--device must be cpu or cuda[:N], got {args.device!r}")
    if args.repeats < 1 or args.steps < 1 or args.warmup < 0:
        parser.error("--repeats and --steps must be at least 1, --warmup at least 0")
    return args


def profile(args):
    threads = args.threads or os.cpu_count() or 1
    env = _child_env(threads)
    frameworks = args.frameworks if args.frameworks != list(FRAMEWORKS) else ["ndgrad"]
    workloads = args.workloads or (CUDA_DEFAULT_WORKLOADS if args.device.startswith("cuda") else ALL_WORKLOADS)
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
    report = run(args)
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

#!/usr/bin/env bash
# The GPU check (issue 15): on a machine with an NVIDIA GPU, CuPy and a CUDA build of PyTorch, run the `cuda`
# tests and the GPU benchmarks against PyTorch CUDA, eager and CUDA-graphed, in the same run, and write
# summary.md. Installs nothing from the network (the GPU machine has none): a cuDNN frontend wheel placed in
# gpu_wheels/ is installed from there. Every part has a timeout, so a stuck one cannot eat the device budget
# (total under ~9 minutes: pip 120 s, info 60 s, tests TEST_TIMEOUT 180 s, benchmarks BENCH_TIMEOUT 300 s).
# On a machine without a GPU it finishes in seconds with a summary that says so.
#   usage: scripts/gpu_check.sh [OUTDIR]      (default: $OUT or ./gpu_check_out)
#   env:   PYTHON, TEST_TIMEOUT, BENCH_TIMEOUT, BENCH_BUDGET (seconds after which the benchmark starts no new
#          process), CHILD_TIMEOUT (one benchmark process), REPEATS, BENCH_ARGS (extra benchmark options)
set -u
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-gpu_check_out}}
mkdir -p "$out_dir"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
summary="$out_dir/summary.md"
started=$(date +%s)

section() { echo; echo "== $1 ($(( $(date +%s) - started )) s)"; }

# (a) The cuDNN frontend wheel, carried in because the GPU machine cannot download it (pip download --no-deps
#     -d gpu_wheels nvidia-cudnn-frontend==1.32.0; about 12 MB). --no-deps: its CUTLASS-DSL dependencies are
#     for kernels ndgrad does not use, and cuDNN itself comes with PyTorch's CUDA wheels (nvidia.cudnn).
section "wheels"
if [ -d gpu_wheels ]; then
  timeout 120 $py -m pip install --no-index --no-deps --find-links gpu_wheels nvidia-cudnn-frontend 2>&1 \
    | tail -n 3 | tee "$out_dir/pip.txt"
else
  echo "no gpu_wheels/ folder: nothing to install" | tee "$out_dir/pip.txt"
fi

# (b) What ndgrad sees.
section "python -m ndgrad info"
timeout 60 $py -m ndgrad info 2>&1 | tee "$out_dir/info.txt"

# Versions and the GPU, each looked up on its own so one missing package does not hide the others.
timeout 120 $py - > "$out_dir/versions.txt" 2>&1 <<'EOF'
def show(label, get):
    try:
        value = get()
    except Exception as exc:
        text = str(exc).strip()
        value = f"unavailable ({type(exc).__name__}: {text.splitlines()[0] if text else ''})"
    print(f"{label}: {value}")

def cupy_cuda():
    import cupy
    rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
    return f"runtime {rt // 1000}.{rt % 1000 // 10}, driver API {drv // 1000}.{drv % 1000 // 10}"

def torch_cuda():
    import torch
    cudnn = torch.backends.cudnn.version()
    return f"CUDA {torch.version.cuda}, cuDNN {cudnn}, GPU available: {torch.cuda.is_available()}"

def cudnn_frontend():
    import cudnn
    return f"{getattr(cudnn, '__version__', '?')} (cuDNN backend {cudnn.backend_version()})"

def ndgrad_cuda():
    import ndgrad
    available = ndgrad.cuda.is_available()
    return f"{available}" + (f" ({ndgrad.cuda.get_device_name()})" if available else "")

show("ndgrad", lambda: __import__("ndgrad").__version__)
show("ndgrad.cuda.is_available()", ndgrad_cuda)
show("NumPy", lambda: __import__("numpy").__version__)
show("CuPy", lambda: __import__("cupy").__version__)
show("CuPy CUDA", cupy_cuda)
show("cuDNN frontend (nvidia-cudnn-frontend)", cudnn_frontend)
show("PyTorch", lambda: __import__("torch").__version__)
show("PyTorch CUDA", torch_cuda)
EOF
cat "$out_dir/versions.txt"

gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
ndgrad_gpu=$(grep -c "^ndgrad.cuda.is_available(): True" "$out_dir/versions.txt")
torch_gpu=$(grep -c "GPU available: True" "$out_dir/versions.txt")

{
  echo "# ndgrad GPU check ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- GPU (nvidia-smi: name, memory, driver): ${gpu:-none found}"
  sed 's/^/- /' "$out_dir/versions.txt"
  echo "- cuDNN frontend wheel: $(tail -n 1 "$out_dir/pip.txt")"
  echo
} > "$summary"

if [ -z "$gpu" ] && [ "$ndgrad_gpu" = 0 ] && [ "$torch_gpu" = 0 ]; then
  {
    echo "## No GPU found"
    echo
    echo "nvidia-smi found no GPU, ndgrad.cuda.is_available() and torch.cuda.is_available() are not True:"
    echo "the cuda tests and the GPU benchmarks were not run. Run this script on a machine with an NVIDIA GPU,"
    echo "CuPy (pip install 'ndgrad[cuda]') and a CUDA build of PyTorch."
  } >> "$summary"
  section "summary"
  cat "$summary"
  exit 0
fi

# (c) The cuda tests.
section "pytest -m cuda"
test_timeout=${TEST_TIMEOUT:-180}
timeout "$test_timeout" $py -m pytest -m cuda -q -rfE -p no:cacheprovider -o addopts="" tests/ \
  > "$out_dir/tests.txt" 2>&1
test_rc=$?
tail -n 40 "$out_dir/tests.txt"
{
  echo "## Tests (pytest -m cuda)"
  echo
  if [ "$test_rc" = 124 ]; then
    echo "**Timed out after ${test_timeout} s** (the counts below are what had run; see tests.txt)."
    echo
  fi
  echo '```'
  grep -E "[0-9]+ (passed|failed|error|skipped|deselected)" "$out_dir/tests.txt" | tail -n 1
  grep -E "^(FAILED|ERROR) " "$out_dir/tests.txt" | head -n 40
  echo '```'
  echo
} >> "$summary"

# (d) The benchmarks: every GPU workload, eager and graphed, both frameworks, one process each per framework.
section "GPU benchmarks vs PyTorch CUDA (eager and CUDA graphs)"
bench_timeout=${BENCH_TIMEOUT:-300}
# shellcheck disable=SC2086  # BENCH_ARGS is a list of options
timeout "$bench_timeout" $py benchmarks/run.py --device cuda --graphs --repeats "${REPEATS:-1}" \
  --time-budget "${BENCH_BUDGET:-180}" --timeout "${CHILD_TIMEOUT:-90}" \
  --json "$out_dir/bench.json" --markdown "$out_dir/bench.md" ${BENCH_ARGS:-} \
  > "$out_dir/bench.txt" 2> "$out_dir/bench_progress.txt"
bench_rc=$?
cat "$out_dir/bench_progress.txt" "$out_dir/bench.txt"
{
  echo "## Benchmarks (ms/step; ndgrad ÷ PyTorch CUDA, eager and graphed, same run)"
  echo
  case $bench_rc in
    0) ;;
    1) echo "Exit status 1: a workload errored or failed its loss check (see its row)."; echo ;;
    124) echo "**Timed out after ${bench_timeout} s**: no table; the progress lines are below."; echo ;;
    *) echo "Exit status $bench_rc (see bench_progress.txt)."; echo ;;
  esac
  if [ -s "$out_dir/bench.md" ]; then
    cat "$out_dir/bench.md"
  else
    echo '```'
    tail -n 40 "$out_dir/bench_progress.txt"
    echo '```'
  fi
  echo
  echo "Total time of this check: $(( $(date +%s) - started )) s."
} >> "$summary"

section "summary"
cat "$summary"

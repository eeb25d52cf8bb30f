#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, CuPy and PyTorch, run the `cuda` tests and the GPU
# benchmarks against PyTorch CUDA (same run), and write a summary. Installs nothing from the network.
#   usage: scripts/gpu_check.sh [OUTDIR]      (default: $OUT or ./gpu_check_out)
set -u
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-gpu_check_out}}
mkdir -p "$out_dir"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
summary="$out_dir/summary.md"

{
  echo "# ndgrad GPU check ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo unknown)"
  $py -c "import cupy, numpy, torch; print(f'CuPy {cupy.__version__}, NumPy {numpy.__version__}, PyTorch {torch.__version__}')" 2>&1
  echo
} > "$summary"

echo "== cuda tests"
timeout "${TEST_TIMEOUT:-300}" $py -m pytest -m cuda -q -p no:cacheprovider -o addopts="" tests/ \
  2>&1 | tee "$out_dir/tests.txt"
{
  echo "## Tests (pytest -m cuda)"
  echo
  echo '```'
  grep -E "passed|failed|error" "$out_dir/tests.txt" | tail -n 1
  grep -E "^(FAILED|ERROR) " "$out_dir/tests.txt" | head -n 30
  echo '```'
  echo
} >> "$summary"

echo "== GPU benchmarks vs PyTorch CUDA"
timeout "${BENCH_TIMEOUT:-240}" $py benchmarks/run.py --device cuda --repeats "${REPEATS:-2}" \
  --json "$out_dir/bench.json" 2>&1 | tee "$out_dir/bench.txt"
{
  echo "## Benchmarks (ms/step, ratio ndgrad / PyTorch CUDA eager, same run)"
  echo
  grep -E "^\|" "$out_dir/bench.txt" || tail -n 20 "$out_dir/bench.txt"
} >> "$summary"

cat "$summary"

"""Benchmark ndgrad against PyTorch eager: see benchmarks/README.md.

    python benchmarks/run.py [--workloads tiny mlp ...] [--repeats 3] [--device cpu|cuda] [--json out.json]
"""

import importlib.util
import os
import sys

# Load the runner by path rather than through `import ndgrad.bench`: the parent
# process must not import ndgrad (a broken `import ndgrad` still gives a table
# with PyTorch rows and an error row for ndgrad, and the parent's imports stay
# out of the children it starts).
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "ndgrad", "bench", "runner.py")
spec = importlib.util.spec_from_file_location("ndgrad_bench_runner", os.path.normpath(RUNNER))
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)

if __name__ == "__main__":
    sys.exit(runner.main(sys.argv[1:], prog="benchmarks/run.py"))

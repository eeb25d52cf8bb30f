"""ndgrad's benchmarks against PyTorch eager: ``ndgrad bench`` or ``python benchmarks/run.py``.

``main(argv)`` runs each (framework, workload) in a fresh process, prints one
Markdown table (ms/step, ndgrad/PyTorch ratios, peak RSS, issue 12's targets on
the CPU; on a GPU issue 15's, with ``--graphs`` also CUDA-graphed steps on both
frameworks) and writes the same numbers as JSON. See benchmarks/README.md.
"""

from .runner import main

__all__ = ["main"]

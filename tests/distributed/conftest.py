"""Tests that need several processes: run them with ``mpiexec -n 2 python -m pytest tests/distributed``
(and ``-n 3`` for uneven splits). The main ``pytest`` run (one process, no MPI launcher) skips this folder.
"""
import datetime
import os

import pytest

_LAUNCHED = any(os.environ.get(v) for v in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"))
if not _LAUNCHED:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session", autouse=True)
def process_group():
    """One default group for the session; a short timeout so a diverging rank fails instead of hanging."""
    import ndgrad.distributed as dist
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    yield
    dist.barrier()
    dist.destroy_process_group()

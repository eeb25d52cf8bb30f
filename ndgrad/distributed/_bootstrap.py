"""What each process ``ndgrad run`` starts: set torchrun's environment from MPI, then run the program.

PyTorch programs read ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` (torchrun sets them); here MPI knows the ranks, so they are set from it before the
program's first line. An uncaught error on any rank aborts the whole job (MPI_Abort).
"""
import os
import runpy
import sys


def _set_environment():
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    local = world.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine
    values = {"RANK": world.Get_rank(), "WORLD_SIZE": world.Get_size(), "LOCAL_RANK": local.Get_rank(),
              "LOCAL_WORLD_SIZE": local.Get_size(), "GROUP_RANK": 0, "MASTER_ADDR": "localhost",
              "MASTER_PORT": 29500}
    local.Free()
    for name, value in values.items():
        os.environ.setdefault(name, str(value)) if name.startswith("MASTER") else \
            os.environ.__setitem__(name, str(value))
    return world


def _abort_on_error(world):
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        sys.stderr.write(f"[rank {world.Get_rank()}] ndgrad run: aborting the job because this rank raised "
                         f"{exc_type.__name__}\n")
        sys.stderr.flush()
        world.Abort(1)
    sys.excepthook = hook


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    world = _set_environment()
    if world.Get_size() > 1:
        _abort_on_error(world)
    if argv[0] == "-m":
        sys.argv = [argv[1]] + argv[2:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main()

"""The launcher: ``ndgrad run -n N script.py args...`` (also ``python -m ndgrad.distributed.run``).

Starts N processes with ``mpiexec`` (the one beside this Python first: the ``mpich`` wheel puts it
there), each running ``script.py`` after torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, ...)
were set from MPI. ``--hosts a,b`` or ``--hostfile FILE`` spread the processes over machines.
"""
import argparse
import os
import shutil
import subprocess
import sys

__all__ = ["main", "build_command", "add_arguments"]


def add_arguments(parser):
    parser.add_argument("-n", "--nproc", "--nproc-per-node", "--nproc_per_node", dest="nproc", type=int,
                        default=1, help="number of processes (default 1)")
    parser.add_argument("--hosts", default=None, help="comma-separated host names to spread the processes over")
    parser.add_argument("--hostfile", default=None, help="an MPI host file (one host per line)")
    parser.add_argument("--mpiexec", default=None, help="the mpiexec to use (default: beside python, else PATH)")
    parser.add_argument("-m", dest="module", action="store_true", help="run the program as a module (python -m)")
    parser.add_argument("program", help="the script (or module with -m) to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the program")
    return parser


def find_mpiexec(explicit=None):
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(beside):
        return beside
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit('ndgrad run: no mpiexec found. Fix: pip install "ndgrad[mpi]" (brings the mpich wheel '
                         'with its mpiexec), or install an MPI implementation (Open MPI, MPICH)')
    return found


def _is_open_mpi(mpiexec):
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in out.stdout + out.stderr or "OpenRTE" in out.stdout + out.stderr


def build_command(options):
    """The mpiexec command line for parsed ``options``."""
    if options.nproc < 1:
        raise SystemExit(f"ndgrad run: -n must be at least 1, got {options.nproc}")
    if options.hosts and options.hostfile:
        raise SystemExit("ndgrad run: pass --hosts or --hostfile, not both")
    if options.hostfile and not os.path.exists(options.hostfile):
        raise SystemExit(f"ndgrad run: host file {options.hostfile!r} not found")
    if not options.module and not os.path.exists(options.program):
        raise SystemExit(f"ndgrad run: program {options.program!r} not found (pass -m to run a module)")
    mpiexec = find_mpiexec(options.mpiexec)
    command = [mpiexec, "-n", str(options.nproc)]
    open_mpi = _is_open_mpi(mpiexec)
    if options.hosts:
        command += ["--host" if open_mpi else "-hosts", options.hosts]
    if options.hostfile:
        command += ["--hostfile" if open_mpi else "-f", options.hostfile]
    cores = os.cpu_count() or 1
    if not (options.hosts or options.hostfile) and options.nproc > cores:
        print(f"ndgrad run: warning: {options.nproc} processes on {cores} cores: they will take turns on the cores "
              f"(correct but slow). Fix: -n {cores} or fewer here, or --hosts/--hostfile to use more machines",
              file=sys.stderr)
    if open_mpi and not (options.hosts or options.hostfile):
        command += ["--oversubscribe"]  # more processes than cores on one machine: allowed, as MPICH does
    command += [sys.executable, "-m", "ndgrad.distributed._bootstrap"]
    command += (["-m", options.program] if options.module else [options.program]) + list(options.args)
    return command


def main(argv=None):
    parser = add_arguments(argparse.ArgumentParser(
        prog="ndgrad run", description="start a program on N processes with mpiexec (ndgrad.distributed)"))
    options = parser.parse_args(argv)
    command = build_command(options)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

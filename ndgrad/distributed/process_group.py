"""Process groups on MPI: the default (world) group, ``new_group``, timeouts, work handles, errors.

Every group holds an mpi4py communicator of its own (a ``Dup`` of MPI's), so collectives issued by
ndgrad never collide with a program's own mpi4py calls. ``"gloo"`` is accepted as a name for the
MPI backend on the CPU, so PyTorch programs that pick it run unchanged; ``"nccl"`` adds a NCCL
communicator (``ndgrad.distributed.nccl``) for CUDA tensors and keeps MPI for objects and set-up.
"""
import datetime
import importlib.util
import os
import sys
import time
import traceback

from ndgrad.distributed.reduce_op import Backend

__all__ = ["is_available", "is_mpi_available", "is_gloo_available", "is_nccl_available", "is_initialized",
           "is_torchelastic_launched", "init_process_group", "destroy_process_group", "new_group", "get_rank",
           "get_world_size", "get_backend", "get_global_rank", "get_group_rank", "get_process_group_ranks",
           "ProcessGroup", "Work", "GroupMember", "group", "DistError", "DistBackendError", "DistNetworkError",
           "DistStoreError", "default_pg_timeout"]

default_pg_timeout = datetime.timedelta(minutes=30)


class DistError(RuntimeError):
    """A distributed error (PyTorch's ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """The communication backend failed, e.g. a collective ran past the group's timeout."""


class DistNetworkError(DistError):
    pass


class DistStoreError(DistError):
    pass


def _mpi():
    """mpi4py's MPI module (imported on first use: importing it initialises MPI)."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError('ndgrad.distributed needs mpi4py and an MPI library. Fix: pip install "ndgrad[mpi]" '
                           '(brings mpi4py and the mpich wheel), or install mpi4py against your system MPI') from None
    return MPI


def is_available():
    """True when mpi4py can be imported (ndgrad's distributed package runs on it)."""
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available
is_gloo_available = is_available  # "gloo" runs over MPI


def is_nccl_available():
    """True when CuPy with its NCCL bindings can be imported (a GPU is checked at init time)."""
    try:
        from cupy.cuda import nccl  # noqa: F401
    except Exception:
        return False
    return True


def is_torchelastic_launched():
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _seconds(timeout):
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


class ProcessGroup:
    """A set of ranks that run collectives together. ``rank()`` and ``size()`` are within the group."""

    def __init__(self, comm, ranks, backend, timeout):
        self.comm = comm        # mpi4py communicator over the members, group ranks = comm ranks
        self.ranks = list(ranks)  # global rank of each group rank
        self.backend_name = backend
        self.timeout = timeout  # seconds
        self.nccl = None        # a NCCL communicator with backend "nccl"

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return len(self.ranks)

    def name(self):
        return self.backend_name

    def group_rank(self, global_rank, op):
        """The group rank of ``global_rank``, or a clear error when it is not a member."""
        try:
            return self.ranks.index(int(global_rank))
        except ValueError:
            raise ValueError(f"[rank {_state.rank}] {op}: global rank {global_rank} is not part of the group "
                             f"(its ranks are {self.ranks}). Fix: pass a rank of the group, or use "
                             f"group_src/group_dst for ranks counted within the group") from None

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend_name!r}, ranks={self.ranks})"


class _NonMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = _NonMember()


class group:
    """``dist.group.WORLD``: the default group once init_process_group ran."""
    WORLD = None


_group_namespace = group  # destroy_process_group's `group` argument hides the class's name


class _State:
    def __init__(self):
        self.world = None
        self.rank = 0
        self.previous_excepthook = None


_state = _State()


def is_initialized():
    return _state.world is not None


def default_group(op="this call"):
    """The world group, or PyTorch's error when init_process_group was not called."""
    if _state.world is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _state.world


def resolve(group_arg, op):
    """``group`` argument -> ProcessGroup (None = world); None when this rank is not a member."""
    world = default_group(op)
    if group_arg is None or group_arg is GroupMember.WORLD:
        return world
    if group_arg is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group_arg, ProcessGroup):
        raise TypeError(f"{op}: group must be a ProcessGroup from new_group() (or None for the default group), "
                        f"got {type(group_arg).__name__}")
    return group_arg


def _environment_world_size():
    for name in ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the job's processes (started by ``ndgrad run -n N`` or ``mpiexec``) into the default group.

    MPI finds the ranks, so ``init_method``, ``store`` and ``MASTER_ADDR``/``MASTER_PORT`` are accepted
    and not needed; ``world_size``/``rank`` when given must agree with MPI's.
    """
    if _state.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if isinstance(backend, str) and ":" in backend:  # "cpu:gloo,cuda:nccl": MPI carries both device types
        per_device = dict(part.split(":", 1) for part in backend.replace(" ", "").split(","))
        backend = per_device.get("cpu", "gloo")
    name = Backend(backend if backend is not None else "gloo")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    expected = world_size if world_size not in (None, -1) else _environment_world_size()
    if expected is not None and expected != size:
        raise RuntimeError(
            f"[rank {me}] init_process_group: world_size={expected} was asked for (argument or WORLD_SIZE) but "
            f"this job has {size} MPI process(es). ndgrad.distributed runs on MPI: start the program with "
            f"`ndgrad run -n {expected} script.py` (or `mpiexec -n {expected} python script.py`), not torchrun")
    if rank not in (None, -1) and rank != me:
        raise RuntimeError(f"[rank {me}] init_process_group: rank={rank} was asked for but MPI gave this "
                           f"process rank {me}. Fix: leave rank out (MPI numbers the processes)")
    seconds = _seconds(timeout)
    if seconds <= 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    pg = ProcessGroup(_duplicate(world, seconds), range(size), str(name), seconds)
    if name == "nccl":
        from ndgrad.distributed import nccl
        nccl.attach(pg, device_id)
    _state.world, _state.rank = pg, me
    GroupMember.WORLD = group.WORLD = pg
    if size > 1 and _state.previous_excepthook is None:
        _state.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught


def _duplicate(comm, seconds):
    """``comm.Dup()`` that gives up after ``seconds`` (a rank that never calls init must not hang the others)."""
    if comm.Get_size() == 1:
        return comm.Dup()
    new, request = comm.Idup()
    wait_requests([request], seconds, "init_process_group (waiting for every rank to call it)")
    return new


def _abort_on_uncaught(exc_type, exc, tb):
    """An uncaught error on one rank ends the whole job (others would wait in a collective forever)."""
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write("".join(f"[rank {_state.rank}] {line}\n" for line in text.rstrip().splitlines()))
    sys.stderr.write(f"[rank {_state.rank}] ndgrad.distributed: aborting the job (MPI_Abort) because this rank "
                     f"raised {exc_type.__name__}\n")
    sys.stderr.flush()
    _mpi().COMM_WORLD.Abort(1)


def destroy_process_group(group=None):
    """Free a group's communicators; without ``group``, every group and the default one."""
    if group is None or group is _state.world:
        default_group("destroy_process_group")
        for pg in list(_created):
            _free(pg)
        _free(_state.world)
        _state.world = GroupMember.WORLD = None
        _group_namespace.WORLD = None
        if _state.previous_excepthook is not None:
            sys.excepthook = _state.previous_excepthook
            _state.previous_excepthook = None
        _created.clear()
    elif isinstance(group, ProcessGroup):
        _free(group)
        if group in _created:
            _created.remove(group)


_created = []  # groups made by new_group, freed with the default group


def _free(pg):
    if pg.nccl is not None:
        pg.nccl = None
    if pg.comm is not None:
        try:
            pg.comm.Free()
        except Exception:  # already freed, or MPI finalised at exit
            pass
        pg.comm = None


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of some ranks. As in PyTorch every rank of the world must call it, members or not;
    non-members get ``GroupMember.NON_GROUP_MEMBER``."""
    world = default_group("new_group")
    size = world.size()
    members = sorted(set(int(r) for r in ranks)) if ranks is not None else list(range(size))
    bad = [r for r in members if not 0 <= r < size]
    if bad:
        raise ValueError(f"new_group: ranks {bad} are not in the world of {size} process(es) (valid: 0..{size - 1})")
    comm = world.comm.Create(world.comm.Get_group().Incl(members))
    if comm == _mpi().COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    name = str(Backend(backend)) if backend is not None else world.backend_name
    pg = ProcessGroup(comm, members, name, world.timeout if timeout is None else _seconds(timeout))
    if name == "nccl":
        from ndgrad.distributed import nccl
        nccl.attach(pg, device_id)
    _created.append(pg)
    return pg


def get_rank(group=None):
    """This process's rank in ``group`` (the world by default); -1 when it is not a member."""
    pg = resolve(group, "get_rank")
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    pg = resolve(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    pg = resolve(group, "get_backend")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg.backend_name


def get_global_rank(group, group_rank):
    pg = resolve(group, "get_global_rank")
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {pg}")
    return pg.ranks[group_rank]


def get_group_rank(group, global_rank):
    return resolve(group, "get_group_rank").group_rank(global_rank, "get_group_rank")


def get_process_group_ranks(group):
    return list(resolve(group, "get_process_group_ranks").ranks)


# -- waiting with a timeout --------------------------------------------------------------------------------

def wait_requests(requests, seconds, what):
    """Poll ``requests`` (objects with ``Test()``) until all completed; DistBackendError after ``seconds``.

    MPI's own waits never time out; polling lets a stuck collective become an error (and, uncaught,
    an MPI abort of the whole job) instead of a hang.
    """
    pending = [r for r in requests if not r.Test()]
    if not pending:
        return
    deadline = time.monotonic() + seconds
    spins = 0
    while pending:
        pending = [r for r in pending if not r.Test()]
        if not pending:
            return
        spins += 1
        if spins > 200:  # after a short spin, yield the core (2-core machines run several ranks)
            if time.monotonic() > deadline:
                raise DistBackendError(
                    f"[rank {_state.rank}] {what} did not finish within the timeout of {seconds:g} s. Another "
                    f"rank is stuck, crashed, or called a different collective (every rank must call the same "
                    f"collectives in the same order). Fix: find the rank that diverged, or raise `timeout` in "
                    f"init_process_group / new_group for long steps")
            time.sleep(min(0.002, 2e-6 * (spins - 200)))


class Work:
    """The handle ``async_op=True`` returns: ``wait()``, ``is_completed()``, ``result()``, ``get_future()``."""

    def __init__(self, what, requests=(), seconds=None, finish=None, result=None):
        self._what = what
        self._requests = list(requests)
        self._seconds = seconds if seconds is not None else default_pg_timeout.total_seconds()
        self._finish = finish
        self._result = result
        self._done = False

    def wait(self, timeout=None):
        """Block until the operation finished (and its results are in the output tensors)."""
        if not self._done:
            wait_requests(self._requests, self._seconds if timeout is None else _seconds(timeout), self._what)
            self._done = True
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self):
        if not self._done and all(r.Test() for r in self._requests):
            self.wait()
        return self._done

    def is_success(self):
        return self.is_completed()

    def exception(self):
        return None

    def result(self):
        self.wait()
        return self._result

    def get_future(self):
        return _Future(self)

    def __repr__(self):
        return f"Work({self._what}, completed={self._done})"


class _Future:
    """A minimal ``torch.futures.Future`` over a Work: ``wait()``/``value()`` return the output tensors."""

    def __init__(self, work):
        self._work = work

    def wait(self):
        return self._work.result()

    value = wait

    def done(self):
        return self._work.is_completed()

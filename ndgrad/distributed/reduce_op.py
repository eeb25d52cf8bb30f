"""``ReduceOp`` and ``Backend``: the names PyTorch programs pass to collectives and init_process_group."""
import enum

__all__ = ["ReduceOp", "Backend", "reduce_op"]


class _RedOpType(enum.Enum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7

    def __str__(self):
        return f"RedOpType.{self.name}"


class ReduceOp:
    """``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``, ``BAND``, ``BOR``, ``BXOR``."""
    RedOpType = _RedOpType
    SUM = _RedOpType.SUM
    AVG = _RedOpType.AVG
    PRODUCT = _RedOpType.PRODUCT
    MIN = _RedOpType.MIN
    MAX = _RedOpType.MAX
    BAND = _RedOpType.BAND
    BOR = _RedOpType.BOR
    BXOR = _RedOpType.BXOR


reduce_op = ReduceOp  # PyTorch's deprecated lower-case alias


class Backend(str):
    """A backend name: ``Backend("GLOO") == "gloo"``; ``Backend.MPI``, ``Backend.GLOO``, ``Backend.NCCL``."""
    UNDEFINED = "undefined"
    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"
    backend_list = ["mpi", "gloo", "nccl"]

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value not in cls.backend_list:
            raise ValueError(f"Invalid backend: {name!r}. ndgrad.distributed supports {cls.backend_list}: "
                             f"'mpi' (and its CPU alias 'gloo') through mpi4py, 'nccl' for CUDA tensors")
        return super().__new__(cls, value)

"""LDL^T factorization of symmetric (possibly indefinite) matrices: ldl_factor(_ex), ldl_solve.

LAPACK's Bunch-Kaufman ``sytrf`` / ``sytrs`` through SciPy, one matrix at a time (on the host for GPU
tensors: CuPy has no sytrf). Complex matrices are complex-symmetric (A = A^T, sytrf) by default and
Hermitian (A = A^H, hetrf / hetrs) with ``hermitian=True``; for real ones the two are the same.
As in PyTorch, the results are in the graph but have no derivative.
"""
from ..autograd.node import Node
from ..backend import np, to_device
from ._common import (LinAlgError, batch_prefix, check_float, check_float_pair, check_matrix, check_square, host,
                      result_type, scipy_linalg, wrap)

__all__ = ["ldl_factor", "ldl_factor_ex", "ldl_solve"]

_LDL_FACTOR = result_type("linalg_ldl_factor", ["LD", "pivots"])
_LDL_FACTOR_EX = result_type("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


def _count(batch):
    return int(np.prod(batch, dtype=np.int64))


def _lapack(name, matrix, hermitian=False):
    """``sy<name>``, or ``he<name>`` for a Hermitian complex matrix (LAPACK has no real he- routines)."""
    prefix = "he" if hermitian and np.iscomplexobj(matrix) else "sy"
    return scipy_linalg(np).lapack.get_lapack_funcs(prefix + name, (matrix,))


class LDLFactor(Node):
    __slots__ = ("pivots", "infos", "hermitian")

    def __init__(self, hermitian):
        self.hermitian = hermitian

    def forward(self, a):
        mats = host(a).reshape((_count(a.shape[:-2]),) + a.shape[-2:])
        lds, pivots, infos = [], [], []
        for m in mats:
            if m.size == 0:
                lds.append(m.copy())
                pivots.append(np.zeros((0,), np.int32))
                infos.append(0)
                continue
            ld, piv, info = _lapack("trf", m, self.hermitian)(m, lower=1)
            lds.append(np.tril(ld))
            pivots.append(piv.astype(np.int32))
            infos.append(info)
        n = a.shape[-1]
        batch = a.shape[:-2]
        self.pivots = np.stack(pivots).reshape(batch + (n,)) if mats.shape[0] else np.zeros(batch + (n,), np.int32)
        self.infos = np.asarray(infos, dtype=np.int32).reshape(batch)
        ld = np.stack(lds).reshape(a.shape) if mats.shape[0] else host(a).copy()
        return self.xp.asarray(ld.astype(a.dtype, copy=False))

    def backward(self, grad):
        raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


def _ldl(op, A, hermitian):
    check_square(op, A)
    check_float(op, A, complex_ok=True)
    node = LDLFactor(hermitian)
    LD = node.apply(A)
    return LD, wrap(to_device(node.pivots, A._device), A._device), node.infos


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """(LD, pivots, info): L (unit lower) and the block-diagonal D packed in LD, LAPACK's pivots."""
    LD, pivots, infos = _ldl("torch.linalg.ldl_factor_ex", A, hermitian)
    if check_errors:
        _raise_singular("torch.linalg.ldl_factor_ex", infos)
    return _LDL_FACTOR_EX(LD, pivots, wrap(to_device(infos, A._device), A._device))


def ldl_factor(A, *, hermitian=False, out=None):
    """(LD, pivots) of a symmetric A = P L D L^T P^T; raises LinAlgError when D is singular."""
    LD, pivots, infos = _ldl("torch.linalg.ldl_factor", A, hermitian)
    _raise_singular("torch.linalg.ldl_factor", infos)
    return _LDL_FACTOR(LD, pivots)


def _raise_singular(op, infos):
    flat = infos.reshape(-1)
    bad = np.flatnonzero(flat > 0)
    if bad.size:
        k = int(bad[0])
        raise LinAlgError(f"{op}: {batch_prefix(infos.shape, k)}The factorization could not be completed because "
                          f"the input is singular (D[{flat[k]}, {flat[k]}] is exactly zero).")


class LDLSolve(Node):
    __slots__ = ("pivots", "hermitian")

    def __init__(self, pivots, hermitian):
        self.pivots = pivots
        self.hermitian = hermitian

    def forward(self, ld, b):
        batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2], self.pivots.shape[:-1])
        count = _count(batch)
        lds = np.broadcast_to(host(ld), batch + ld.shape[-2:]).reshape((count,) + ld.shape[-2:])
        bs = np.broadcast_to(host(b), batch + b.shape[-2:]).reshape((count,) + b.shape[-2:])
        pivs = np.broadcast_to(self.pivots, batch + self.pivots.shape[-1:]).reshape((count, self.pivots.shape[-1]))
        out = []
        for m, rhs, piv in zip(lds, bs, pivs):
            if m.size == 0 or rhs.size == 0:
                out.append(np.zeros(rhs.shape, dtype=ld.dtype))
                continue
            x, _ = _lapack("trs", m, self.hermitian)(m, piv, rhs, lower=1)
            out.append(x)
        result = np.stack(out).reshape(batch + b.shape[-2:]) if out else np.zeros(batch + b.shape[-2:], ld.dtype)
        return self.xp.asarray(result.astype(ld.dtype, copy=False))

    def backward(self, grad):
        raise RuntimeError("derivative for aten::linalg_ldl_solve is not implemented")


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """X with A X = B, given ldl_factor(A) = (LD, pivots)."""
    op = "torch.linalg.ldl_solve"
    check_square(op, LD, "LD")
    check_matrix(op, B, "B")
    check_float_pair(op, B, LD, "b", "A")
    if B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B ({LD.shape[-1]}x"
                           f"{LD.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
    return LDLSolve(host(pivots._data), hermitian).apply(LD, B)

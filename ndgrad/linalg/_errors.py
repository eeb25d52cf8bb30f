"""Finding which matrix of a batch failed, and saying so in PyTorch's words (only on the error path)."""
import warnings

from ..backend import np
from ._common import LinAlgError, batch_prefix, host


def _matrices(a):
    a = host(a)
    batch = a.shape[:-2]
    return batch, a.reshape((int(np.prod(batch, dtype=np.int64)),) + a.shape[-2:])


def singular_infos(a):
    """Per matrix: 0, or the 1-based index of the first exactly-zero pivot of its LU factorization."""
    from ._common import scipy_linalg
    lu_factor = scipy_linalg(np).lu_factor
    batch, mats = _matrices(a)
    infos = np.zeros(len(mats), dtype=np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # scipy warns about the exact zero we are looking for
        for k, m in enumerate(mats):
            if m.size == 0:
                continue
            diag = np.diagonal(lu_factor(m, check_finite=False)[0])
            zeros = np.flatnonzero(diag == 0)
            infos[k] = zeros[0] + 1 if zeros.size else 0
    return infos.reshape(batch)


def _first_failure(infos):
    """(flat index, LAPACK order) of the first failed matrix in ``infos``; (0, 1) when none failed."""
    flat = infos.reshape(-1)
    bad = np.flatnonzero(flat)
    return (int(bad[0]), int(flat[bad[0]])) if bad.size else (0, 1)


def raise_singular(op, a):
    infos = singular_infos(a)
    k, order = _first_failure(infos)
    raise LinAlgError(f"{op}: {batch_prefix(infos.shape, k)}The diagonal element {order} is zero, the "
                      f"{'inversion' if 'inv' in op else 'solve'} could not be completed because the input matrix "
                      f"is singular.")


def cholesky_infos(a):
    """Per matrix: 0, or the order of the first leading minor that is not positive-definite (LAPACK potrf)."""
    from ._common import scipy_linalg
    lapack = scipy_linalg(np).lapack
    batch, mats = _matrices(a)
    infos = np.zeros(len(mats), dtype=np.int32)
    for k, m in enumerate(mats):
        if m.size == 0:
            continue
        potrf = lapack.get_lapack_funcs("potrf", (m,))
        _, info = potrf(m, lower=True, clean=True, overwrite_a=False)
        infos[k] = info
    return infos.reshape(batch)


def raise_not_pd(op, infos):
    k, order = _first_failure(infos)
    raise LinAlgError(f"{op}: {batch_prefix(infos.shape, k)}The factorization could not be completed because "
                      f"the input is not positive-definite (the leading minor of order {order} is not "
                      f"positive-definite).")

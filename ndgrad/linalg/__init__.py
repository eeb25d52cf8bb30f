"""``ndgrad.linalg``: PyTorch's ``torch.linalg`` for float32/float64 tensors, batched, differentiable.

Kernels are LAPACK through NumPy (``xp.linalg``), with SciPy for what NumPy lacks (lu, solve_triangular,
expm, ldl) and CuPy / cupyx.scipy on the GPU. Files by kind: solvers (inv, det, solve), decompositions
(cholesky, qr, eigh, svd), lu_decomposition, householder, ldl, pseudo (pinv, rank, lstsq),
factored_solvers (lu_solve, cholesky_solve, tensor forms), norms, products, lowrank (torch.svd_lowrank).
eig and eigvals (always complex results) live in eig.py. Complex inputs work everywhere torch takes them (LU, LDL,
Householder, matrix_exp and the low-rank SVD included); check_float without complex_ok refuses them where torch does.
"""
from ._common import LinAlgError, with_out as _with_out
from .solvers import inv, inv_ex, det, slogdet, solve, solve_ex, solve_triangular
from .decompositions import cholesky, cholesky_ex, qr, eigh, eigvalsh, svd, svdvals
from .lu_decomposition import lu_factor, lu_factor_ex, lu
from .householder import householder_product
from .pseudo import pinv, matrix_rank, lstsq
from .factored_solvers import lu_solve, tensorinv, tensorsolve
from .norms import vector_norm, matrix_norm, norm, cond
from .ldl import ldl_factor, ldl_factor_ex, ldl_solve
from .eig import eig, eigvals
from .products import matrix_power, matrix_exp, multi_dot, cross, vecdot, diagonal, vander, matmul

__all__ = ["LinAlgError", "inv", "inv_ex", "det", "slogdet", "solve", "solve_ex", "solve_triangular", "cholesky",
           "cholesky_ex", "qr", "eigh", "eigvalsh", "svd", "svdvals", "lu_factor", "lu_factor_ex", "lu",
           "householder_product", "pinv", "matrix_rank", "lstsq", "lu_solve", "tensorinv", "tensorsolve",
           "vector_norm", "matrix_norm", "norm", "cond", "matrix_power", "matrix_exp", "multi_dot", "cross",
           "vecdot", "diagonal", "vander", "matmul", "ldl_factor", "ldl_factor_ex", "ldl_solve", "eig", "eigvals"]

# out= on every function that takes one (the implementations accept and ignore it)
globals().update({_name: _with_out(globals()[_name], f"linalg.{_name}") for _name in __all__ if _name != "LinAlgError"})

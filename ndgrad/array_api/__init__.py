"""``ndgrad.array_api``: the Python array API standard (2024.12) namespace over ndgrad tensors.

``tensor.__array_namespace__()`` returns this module. The ``ndgrad`` namespace keeps PyTorch's names and
semantics; this one follows the standard where the two differ (``axis``/``keepdims``, ``std(correction=0)``,
``concat``, ``permute_dims``, ``astype``, ``unique_*``, stable ``sort``, promotion in which 0-d arrays count
like any array, ...). Its arrays are ordinary ndgrad Tensors, so autograd works through most functions.
It has the ``linalg`` and ``fft`` extensions (on ``ndgrad.linalg`` and ``ndgrad.fft``).
complex64/complex128 are supported (``linalg`` on complex arrays is computed without gradients), and so are
uint16/uint32/uint64 with the standard's promotion (``ndgrad`` itself refuses most mixes with them, as PyTorch).
"""
import math as _math

from . import _creation, _dtypes, _elementwise, _info, _manipulation, _reductions, _sets_sorting
from . import _tensor_methods
from ._creation import *  # noqa: F401,F403
from ._dtypes import *  # noqa: F401,F403
from ._elementwise import *  # noqa: F401,F403
from ._info import __array_namespace_info__  # noqa: F401
from ._manipulation import *  # noqa: F401,F403
from ._reductions import *  # noqa: F401,F403
from ._sets_sorting import *  # noqa: F401,F403

__array_api_version__ = "2024.12"
_SUPPORTED_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")

e, inf, nan, pi, newaxis = _math.e, _math.inf, _math.nan, _math.pi, None

__all__ = ["__array_api_version__", "__array_namespace_info__", "e", "inf", "nan", "pi", "newaxis"]
for _mod in (_creation, _dtypes, _elementwise, _manipulation, _reductions, _sets_sorting):
    __all__ += _mod.__all__

try:  # the linalg extension exists once ndgrad.linalg does
    from . import linalg  # noqa: F401
    __all__.append("linalg")
except ImportError:  # pragma: no cover - only while ndgrad.linalg is missing
    pass

try:  # the fft extension, on ndgrad.fft
    from . import fft  # noqa: F401
    __all__.append("fft")
except ImportError:  # pragma: no cover - only while ndgrad.fft is missing
    pass

_tensor_methods.attach()


def _namespace_for(api_version):
    """This module, after checking that ``api_version`` is one it answers for."""
    if api_version is not None and api_version not in _SUPPORTED_VERSIONS:
        raise ValueError(f"__array_namespace__: api_version {api_version!r} is not supported; ndgrad.array_api "
                         f"implements {', '.join(_SUPPORTED_VERSIONS)} (None means {__array_api_version__})")
    import sys
    return sys.modules[__name__]

"""``ndgrad.cuda.amp``: PyTorch's older spellings, ``torch.cuda.amp.autocast`` and ``torch.cuda.amp.GradScaler``."""
from .. import amp as _amp
from ..grad_scaler import GradScaler as _GradScaler

__all__ = ["autocast", "GradScaler"]


class autocast(_amp.autocast):
    """``torch.cuda.amp.autocast(...)`` is ``torch.autocast("cuda", ...)``."""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__("cuda", dtype=dtype, enabled=enabled)


class GradScaler(_GradScaler):
    """``torch.cuda.amp.GradScaler(...)`` is ``torch.amp.GradScaler("cuda", ...)``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

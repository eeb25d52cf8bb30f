"""Seeded random generators, one per device, so that ndgrad.manual_seed makes runs repeatable."""
from .backend import CPU, cpu

_seed = None
_generators = {}


def manual_seed(seed):
    """Seed every device's generator (CPU and any GPU used later)."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    return _seed


seed = manual_seed


def initial_seed():
    return _seed


def generator(device=CPU):
    """The generator that draws random numbers on ``device``."""
    gen = _generators.get(device)
    if gen is None:
        if device.type == "cpu":
            gen = cpu.new_generator(_seed)
        else:
            from .backend import cuda
            gen = cuda.new_generator(None if _seed is None else _seed + 1 + device.index, device.index)
        _generators[device] = gen
    return gen


class Generator:
    """A separate, seedable stream of random numbers (``ndgrad.Generator().manual_seed(0)``)."""

    def __init__(self, device="cpu"):
        from .backend import get_device
        self.device = get_device(device)
        self._seed = None
        self._gen = None

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._gen = None
        return self

    def initial_seed(self):
        return self._seed

    @property
    def rng(self):
        if self._gen is None:
            if self.device.type == "cpu":
                self._gen = cpu.new_generator(self._seed)
            else:
                from .backend import cuda
                self._gen = cuda.new_generator(self._seed, self.device.index)
        return self._gen


def rng_for(device, generator=None):
    """The numpy/cupy generator to draw from: the given ndgrad.Generator or the device's global one."""
    return generator.rng if generator is not None else globals()["generator"](device)

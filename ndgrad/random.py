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


def seed(value=None):
    """Seed every generator with a fresh non-deterministic number (torch.seed()) and return it."""
    if value is None:
        import secrets
        value = secrets.randbits(63)
    return manual_seed(value)


# -- generator state as a uint8 tensor (torch.get_rng_state / set_rng_state) ------------------------------

def _state_tensor(gen, what):
    """The state of a numpy/cupy generator as a uint8 tensor: its bit generator's state, as JSON bytes."""
    import json
    from .backend import np
    from .tensor import Tensor
    try:
        state = gen.bit_generator.state
    except AttributeError:
        raise RuntimeError(f"{what}: this generator ({type(gen).__name__}) cannot report its state") from None
    raw = json.dumps(state, sort_keys=True).encode()
    return Tensor._wrap(np.frombuffer(raw, dtype=np.uint8).copy())


def _load_state(gen, new_state, what):
    import json
    from .backend import np
    from .tensor import Tensor
    if not isinstance(new_state, Tensor) or new_state.dtype.name != "uint8" or new_state.ndim != 1:
        raise TypeError(f"{what}: expected a 1-D uint8 tensor from get_rng_state()/get_state(), got "
                        f"{type(new_state).__name__}" + (f" of dtype {new_state.dtype} and shape "
                                                         f"{tuple(new_state.shape)}"
                                                         if isinstance(new_state, Tensor) else ""))
    try:
        state = json.loads(bytes(np.asarray(new_state._host(), dtype=np.uint8)).decode())
        gen.bit_generator.state = state
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RuntimeError(f"{what}: the tensor is not a state saved by ndgrad's get_rng_state() ({exc})") \
            from None


def get_rng_state():
    """The CPU generator's state as a uint8 tensor; ``set_rng_state`` restores it."""
    return _state_tensor(generator(CPU), "get_rng_state")


def set_rng_state(new_state):
    """Restore the CPU generator to a state from ``get_rng_state()``: later draws repeat."""
    _load_state(generator(CPU), new_state, "set_rng_state")


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

    def seed(self):
        """Reseed with a fresh non-deterministic number and return it."""
        import secrets
        return self.manual_seed(secrets.randbits(63))._seed

    def get_state(self):
        """This generator's state as a uint8 tensor (for ``set_state``)."""
        return _state_tensor(self.rng, "Generator.get_state")

    def set_state(self, new_state):
        _load_state(self.rng, new_state, "Generator.set_state")
        return self

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

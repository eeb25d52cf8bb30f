"""``ndgrad.jit`` and ``ndgrad.compile``: PyTorch's compilers, here as eager execution.

ndgrad runs every program eagerly (each op executes when it is called), so ``jit.script``, ``jit.trace``
and ``compile`` return what they are given, which then behaves exactly as the original. The decorators
(``ignore``, ``export``, ``unused``) leave functions unchanged. Programs that script or compile their
models run unmodified, at eager speed.
"""
import functools

__all__ = ["script", "trace", "trace_module", "ignore", "export", "unused", "is_scripting", "is_tracing",
           "annotate", "script_method", "interface", "freeze", "optimize_for_inference", "fork", "wait",
           "Final", "Attribute", "ScriptModule", "ScriptFunction", "compile", "save", "load"]


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Return ``obj`` (a module, function or class) unchanged: ndgrad executes eagerly.

    Warns as PyTorch 2.13 does: TorchScript is deprecated there."""
    import warnings
    warnings.warn("`ndgrad.jit.script` is deprecated (as `torch.jit.script` is). Please switch to "
                  "`ndgrad.compile`; in ndgrad both run the code eagerly", DeprecationWarning, stacklevel=2)
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, example_kwarg_inputs=None, **kwargs):
    """Return ``func`` unchanged (no graph is recorded: ndgrad executes eagerly)."""
    return func


def trace_module(mod, inputs, **kwargs):
    return mod


def _decorator(fn=None, **kwargs):
    # usable bare (@ignore) and with arguments (@ignore(drop=True))
    if fn is None or not callable(fn):
        return lambda f: f
    return fn


def ignore(drop=False, **kwargs):
    """``@jit.ignore`` / ``@jit.ignore(drop=True)``: the function is left as it is."""
    return _decorator(drop if callable(drop) else None)


def export(fn):
    return fn


def unused(fn):
    return fn


def script_method(fn):
    return fn


def interface(obj):
    return obj


def is_scripting():
    """False: code never runs under TorchScript in ndgrad."""
    return False


def is_tracing():
    return False


def annotate(the_type, the_value):
    return the_value


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    return mod


def optimize_for_inference(mod, other_methods=None):
    return mod


class _Future:
    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value


def fork(func, *args, **kwargs):
    """Runs ``func`` now; ``wait`` returns its result (no parallelism in eager mode)."""
    return _Future(func(*args, **kwargs))


def wait(future):
    return future.wait()


def save(m, f, _extra_files=None):
    """``jit.save(module, f)``: the module is saved whole with ``ndgrad.save`` (safetensors, no pickle)."""
    from .io import save as _save
    _save(m, f)


def load(f, map_location=None, _extra_files=None):
    """``jit.load(f)``: ``ndgrad.load`` (the module's class must be ndgrad's own or allow-listed)."""
    from .io import load as _load
    return _load(f, map_location=map_location)


class _FinalMeta(type):
    def __getitem__(cls, item):
        return item


class Final(metaclass=_FinalMeta):
    """``jit.Final[int]`` is ``int``."""


def Attribute(value, type=None):  # noqa: N802  (PyTorch's name)
    return value


def __getattr__(name):
    # ScriptModule: a plain Module subclass (old-style `class M(jit.ScriptModule)` code runs eagerly);
    # script()/trace() return the module itself, so isinstance(m, ScriptModule) stays False for them.
    if name in ("ScriptModule", "RecursiveScriptModule", "TopLevelTracedModule", "TracedModule"):
        from .nn import Module
        cls = globals().get("_ScriptModule")
        if cls is None:
            cls = globals()["_ScriptModule"] = type("ScriptModule", (Module,), {
                "__module__": __name__, "__doc__": "A Module (ndgrad executes eagerly; nothing is scripted)."})
        return cls
    if name == "ScriptFunction":
        import types
        return types.FunctionType
    raise AttributeError(f"module 'ndgrad.jit' has no attribute {name!r}")


_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            name=None, disable=False, **kwargs):
    """``ndgrad.compile(model)`` returns ``model`` unchanged: ndgrad executes eagerly.

    Works as ``compile(fn)``, ``@compile`` and ``@compile(mode=...)``; checks ``mode``/``options`` as
    PyTorch does so that a misspelt mode fails here too."""
    if mode is not None and options is not None:
        raise RuntimeError("compile: Either mode or options can be specified, but both can't be specified at the "
                           "same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"compile: Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if model is None:
        return functools.partial(_return_model)
    if not callable(model):
        raise RuntimeError(f"compile: the model must be callable, got {type(model).__name__}")
    return model


def _return_model(model):
    return model

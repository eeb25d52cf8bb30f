"""The in-place ``_`` twin of every elementwise method, made from one table.

Each twin runs the out-of-place method through ``ops.inplace._inplace``, which writes the
result back, bumps the version counter and records autograd history (views included). This
module is imported after every other op family, so the table can name methods they add;
twins that ops/inplace.py already defines by hand are left as they are.
"""
from ..tensor import Tensor
from .inplace import _inplace

# method names whose ``name_`` twin torch has; the twin calls ``Tensor.name``
TWINS = """
abs absolute neg negative exp exp2 expm1 log log2 log10 log1p sqrt rsqrt square reciprocal sign sgn
sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh
sigmoid relu floor ceil round trunc fix frac erf erfc erfinv lgamma digamma polygamma mvlgamma i0 sinc
logit nan_to_num deg2rad rad2deg clamp clip clamp_min clamp_max
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow float_power
atan2 arctan2 hypot copysign xlogy ldexp nextafter heaviside gcd lcm maximum minimum lerp
addcmul addcdiv addmm addmv addr addbmm baddbmm renorm
eq ne not_equal lt less le less_equal gt greater ge greater_equal
logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not
cumsum cumprod tril triu
""".split()

# the twins torch also exports as functions (``torch.sin_(x)``)
FUNCTIONS = """
abs acos acosh addmv arccos arccosh arcsin arcsinh arctan arctanh asin asinh atan atanh ceil clamp
clamp_max clamp_min clip cos cosh deg2rad erf erfc exp2 exp expm1 fix floor frac gcd i0 lcm ldexp log10
log1p log2 log logit nan_to_num neg negative rad2deg reciprocal relu round rsqrt sigmoid sin sinc sinh
sqrt square tan tanh trunc xlogy
""".split()


def _check_float_power(self, *args, **kwargs):
    if self.dtype.name != "float64":
        raise RuntimeError(f"float_power_: the base has dtype {self.dtype} but the operation's result requires "
                           f"dtype float64; call x.double() first, or use the out-of-place float_power")


_CHECKS = {"float_power": _check_float_power}


def _twin(name):
    method = name + "_"
    check = _CHECKS.get(name)

    def twin(self, *args, **kwargs):
        if check is not None:
            check(self, *args, **kwargs)
        fn = getattr(Tensor, name)
        others = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        return _inplace(self, method, lambda t: fn(t, *args, **kwargs), *others)
    twin.__name__ = twin.__qualname__ = method
    twin.__doc__ = f"In-place version of :meth:`Tensor.{name}`."
    return twin


METHODS = {name + "_": _twin(name) for name in TWINS
           if hasattr(Tensor, name) and not hasattr(Tensor, name + "_")}


def _operator(method):
    def op(self, other):
        return getattr(self, method)(other)
    op.__name__ = op.__qualname__ = method
    return op


# x %= y, x //= y, x &= y, ... write into x as PyTorch's in-place twins do (else Python rebinds x).
METHODS.update({"__imod__": _operator("remainder_"), "__ifloordiv__": _operator("floor_divide_"),
                "__iand__": _operator("bitwise_and_"), "__ior__": _operator("bitwise_or_"),
                "__ixor__": _operator("bitwise_xor_")})


def _function(name):
    def fn(input, *args, **kwargs):
        return getattr(Tensor, name + "_")(input, *args, **kwargs)
    fn.__name__ = fn.__qualname__ = name + "_"
    return fn


_exported = {name + "_": _function(name) for name in FUNCTIONS if hasattr(Tensor, name)}
globals().update(_exported)
__all__ = sorted(_exported)

"""Activation modules (element-wise functions and softmaxes) over nn.functional."""
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import new_param, layer_error

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Softplus",
           "ELU", "SELU", "CELU", "Hardtanh", "Hardsigmoid", "Hardswish", "Softsign", "LogSigmoid",
           "Softmax", "LogSoftmax", "Softmin", "GLU"]


class _Elementwise(Module):
    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


class _InplaceElementwise(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_InplaceElementwise):
    """max(0, x)."""

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)


class ReLU6(_InplaceElementwise):
    def forward(self, input):
        return F.relu6(input, inplace=self.inplace)


class LeakyReLU(Module):
    """max(0, x) + negative_slope * min(0, x)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """LeakyReLU with a learned slope (one, or one per channel), initialised to ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = new_param((num_parameters,), dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        weight = self.weight
        if self.num_parameters > 1:
            if input.dim() < 2 or input.shape[1] != self.num_parameters:
                raise layer_error(self, f"input with {self.num_parameters} channels in dimension 1", input)
            weight = weight.reshape((self.num_parameters,) + (1,) * (input.dim() - 2))
        # x for x >= 0, weight * x below: written with relu so both gradients are exact.
        return F.relu(input) - weight * F.relu(-input)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class GELU(Module):
    """x * Phi(x); ``approximate='tanh'`` uses the tanh formula."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(_InplaceElementwise):
    """x * sigmoid(x)."""

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)


class Mish(_InplaceElementwise):
    def forward(self, input):
        return F.mish(input, inplace=self.inplace)


class Sigmoid(_Elementwise):
    _fn = staticmethod(lambda x: F.sigmoid(x))


class Tanh(_Elementwise):
    _fn = staticmethod(lambda x: F.tanh(x))


class Softsign(_Elementwise):
    _fn = staticmethod(lambda x: F.softsign(x))


class LogSigmoid(_Elementwise):
    _fn = staticmethod(lambda x: F.logsigmoid(x))


class Hardsigmoid(_InplaceElementwise):
    """relu6(x + 3) / 6."""

    def forward(self, input):
        return F.relu6(input + 3.0) * (1.0 / 6.0)


class Hardswish(_InplaceElementwise):
    """x * relu6(x + 3) / 6."""

    def forward(self, input):
        return input * F.relu6(input + 3.0) * (1.0 / 6.0)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear above ``threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) = alpha * elu(x / alpha)."""

    def forward(self, input):
        return F.elu(input * (1.0 / self.alpha)) * self.alpha


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class SELU(_InplaceElementwise):
    """scale * elu(x, alpha) with the self-normalising constants."""

    def forward(self, input):
        return F.elu(input, _SELU_ALPHA) * _SELU_SCALE


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class _SoftmaxBase(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def _dim(self, input):
        # PyTorch's legacy rule when dim is not given: 0 for 0-d, 1-d and 3-d input, else 1.
        if self.dim is not None:
            return self.dim
        return 0 if input.dim() in (0, 1, 3) else 1

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along ``dim``."""

    def forward(self, input):
        return F.softmax(input, self._dim(input))


class LogSoftmax(_SoftmaxBase):
    def forward(self, input):
        return F.log_softmax(input, self._dim(input))


class Softmin(_SoftmaxBase):
    def forward(self, input):
        return F.softmin(input, self._dim(input))


class GLU(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        n = input.shape[self.dim]
        if n % 2:
            raise layer_error(self, f"an even size in dimension {self.dim}", input)
        a = input.narrow(self.dim, 0, n // 2)
        b = input.narrow(self.dim, n // 2, n // 2)
        return a * b.sigmoid()

    def extra_repr(self):
        return f"dim={self.dim}"

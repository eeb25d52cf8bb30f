"""Identity, Linear, Bilinear, Flatten, Unflatten."""
import math

from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.layers._util import register_weight_and_bias, layer_error, shape_str

__all__ = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features)."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        register_weight_and_bias(self, (out_features, in_features), (out_features,) if bias else None,
                                 dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        # PyTorch's default: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _short_repr(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def forward(self, input):
        shape = input._data.shape  # the raw shape: this check runs on every call of the hot path
        if not shape or shape[-1] != self.in_features:
            raise layer_error(self, f"input of shape (*, {self.in_features}) (last dimension = in_features "
                              f"= {self.in_features})", input)
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y = x1^T A x2 + b, with A of shape (out_features, in1_features, in2_features)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        register_weight_and_bias(self, (out_features, in1_features, in2_features),
                                 (out_features,) if bias else None, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def _short_repr(self):
        return (f"Bilinear(in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features})")

    def forward(self, input1, input2):
        if input1.dim() == 0 or input1.shape[-1] != self.in1_features:
            raise layer_error(self, f"input1 of shape (*, {self.in1_features})", input1)
        if input2.dim() == 0 or input2.shape[-1] != self.in2_features:
            raise layer_error(self, f"input2 of shape (*, {self.in2_features})", input2)
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one (default: all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dimension ``dim`` into ``unflattened_size``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def _short_repr(self):
        return f"Unflatten(dim={self.dim}, unflattened_size={self.unflattened_size})"

    def forward(self, input):
        dim = self.dim if self.dim >= 0 else self.dim + input.dim()
        if not 0 <= dim < input.dim():
            raise layer_error(self, f"an input with dimension {self.dim}", input)
        new_shape = tuple(input.shape[:dim]) + self.unflattened_size + tuple(input.shape[dim + 1:])
        known = 1
        for s in self.unflattened_size:
            if s != -1:
                known *= s
        if (-1 not in self.unflattened_size and known != input.shape[dim]) or \
                (-1 in self.unflattened_size and (known == 0 or input.shape[dim] % known)):
            raise layer_error(self, f"dimension {self.dim} of size {shape_str(self.unflattened_size)} "
                              "elements in total", input)
        return input.reshape(new_shape)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

"""Plain-language local derivatives for ``viz.explain``, one entry per recorded op (Node) name.

Each ``Template`` says what the op computes and, for each input, the rule its
backward uses. ``elementwise`` ops have a diagonal Jacobian, so ``explain`` can
show the local derivative as numbers and the chain rule as a plain product;
the others state the vector-Jacobian product in words. Symbols: ``x`` (one
input), ``a``/``b`` (two inputs), ``y`` (the output), ``g`` (the gradient
arriving at the output). ``{name}`` fields are filled from the node's own
attributes (a scalar ``c``, an ``exponent``, a ``slope``).
"""


class Template:
    __slots__ = ("computes", "rules", "elementwise")

    def __init__(self, computes, rules, elementwise=False):
        self.computes = computes
        self.rules = tuple(rules)
        self.elementwise = elementwise

    def rule(self, i):
        return self.rules[i] if i < len(self.rules) else self.rules[-1]


def _unary(computes, derivative):
    return Template(computes, [derivative], elementwise=True)


def _flat(computes, why="it is flat almost everywhere"):
    return _unary(computes, f"dy/dx = 0 ({why}): no gradient flows back")


def _same(computes, rule):
    """A non-elementwise op with one input: ``rule`` says where the gradient goes."""
    return Template(computes, [rule])


_COPY_BACK = "dy/dx = 1: the gradient passes through unchanged"

TEMPLATES = {
    # -- arithmetic -----------------------------------------------------------------------
    "Add": Template("y = a + b", ["dy/da = 1", "dy/db = 1"], True),
    "Sub": Template("y = a - b", ["dy/da = 1", "dy/db = -1"], True),
    "Mul": Template("y = a * b", ["dy/da = b", "dy/db = a"], True),
    "Div": Template("y = a / b", ["dy/da = 1/b", "dy/db = -a/b^2"], True),
    "Pow": Template("y = a ^ b", ["dy/da = b * a^(b-1)", "dy/db = a^b * ln(a)"], True),
    "Atan2": Template("y = atan2(a, b)", ["dy/da = b/(a^2+b^2)", "dy/db = -a/(a^2+b^2)"], True),
    "Maximum": Template("y = max(a, b)", ["dy/da = 1 where a is larger (1/2 on ties), else 0",
                                          "dy/db = 1 where b is larger (1/2 on ties), else 0"], True),
    "Minimum": Template("y = min(a, b)", ["dy/da = 1 where a is smaller (1/2 on ties), else 0",
                                          "dy/db = 1 where b is smaller (1/2 on ties), else 0"], True),
    "Where": Template("y = where(condition, a, b)", ["dy/da = 1 where the condition holds, else 0",
                                                     "dy/db = 1 where the condition fails, else 0"], True),
    "Hypot": Template("y = sqrt(a^2 + b^2)", ["dy/da = a/y", "dy/db = b/y"], True),
    "Copysign": Template("y = |a| with the sign of b", ["dy/da = sign(a) * sign(y)", "dy/db = 0"], True),
    "LogAddExp": Template("y = log(e^a + e^b)", ["dy/da = e^a/(e^a+e^b)", "dy/db = e^b/(e^a+e^b)"], True),
    "XLogY": Template("y = a * log(b)", ["dy/da = log(b)", "dy/db = a/b"], True),
    "AddScalar": _unary("y = x + {c}", "dy/dx = 1"),
    "RSubScalar": _unary("y = {c} - x", "dy/dx = -1"),
    "MulScalar": _unary("y = {c} * x", "dy/dx = {c}"),
    "DivScalar": _unary("y = x / {c}", "dy/dx = 1/{c}"),
    "RDivScalar": _unary("y = {c} / x", "dy/dx = -{c}/x^2"),
    "PowScalar": _unary("y = x ^ {exponent}", "dy/dx = {exponent} * x^({exponent} - 1)"),
    "RPowScalar": _unary("y = {c} ^ x", "dy/dx = {c}^x * ln({c})"),
    "Neg": _unary("y = -x", "dy/dx = -1"),
    "Abs": _unary("y = |x|", "dy/dx = sign(x)"),
    "Clamp": _unary("y = clamp(x, min, max)", "dy/dx = 1 inside [min, max], 0 where clamped"),
    "Sign": _flat("y = sign(x)"), "Ceil": _flat("y = ceil(x)"), "Floor": _flat("y = floor(x)"),
    "Round": _flat("y = round(x)"), "Trunc": _flat("y = trunc(x)"),
    "Cast": _unary("y = x in another dtype", _COPY_BACK + " (cast back to x's dtype)"),
    "ToDevice": _unary("y = x on another device", _COPY_BACK + " (moved back to x's device)"),
    "Clone": _unary("y = a copy of x", _COPY_BACK),
    "ZeroNaN": _unary("y = x (nan gradients become 0)", "dy/dx = 1 where the value is finite, else 0"),
    # -- exponentials, logs, powers -----------------------------------------------------------
    "Exp": _unary("y = e^x", "dy/dx = e^x = y"),
    "Exp2": _unary("y = 2^x", "dy/dx = 2^x * ln 2"),
    "Expm1": _unary("y = e^x - 1", "dy/dx = e^x"),
    "Log": _unary("y = ln(x)", "dy/dx = 1/x"),
    "Log2": _unary("y = log2(x)", "dy/dx = 1/(x * ln 2)"),
    "Log10": _unary("y = log10(x)", "dy/dx = 1/(x * ln 10)"),
    "Log1p": _unary("y = ln(1 + x)", "dy/dx = 1/(1 + x)"),
    "Sqrt": _unary("y = sqrt(x)", "dy/dx = 1/(2 sqrt(x))"),
    "Rsqrt": _unary("y = 1/sqrt(x)", "dy/dx = -1/(2 x^1.5)"),
    # -- trigonometry -------------------------------------------------------------------------
    "Sin": _unary("y = sin(x)", "dy/dx = cos(x)"),
    "Cos": _unary("y = cos(x)", "dy/dx = -sin(x)"),
    "Tan": _unary("y = tan(x)", "dy/dx = 1 + tan(x)^2"),
    "Asin": _unary("y = asin(x)", "dy/dx = 1/sqrt(1 - x^2)"),
    "Acos": _unary("y = acos(x)", "dy/dx = -1/sqrt(1 - x^2)"),
    "Atan": _unary("y = atan(x)", "dy/dx = 1/(1 + x^2)"),
    "Sinh": _unary("y = sinh(x)", "dy/dx = cosh(x)"),
    "Cosh": _unary("y = cosh(x)", "dy/dx = sinh(x)"),
    "Tanh": _unary("y = tanh(x)", "dy/dx = 1 - tanh(x)^2 = 1 - y^2"),
    "Asinh": _unary("y = asinh(x)", "dy/dx = 1/sqrt(x^2 + 1)"),
    "Acosh": _unary("y = acosh(x)", "dy/dx = 1/sqrt(x^2 - 1)"),
    "Atanh": _unary("y = atanh(x)", "dy/dx = 1/(1 - x^2)"),
    # -- special functions --------------------------------------------------------------------
    "Erf": _unary("y = erf(x)", "dy/dx = 2/sqrt(pi) * e^(-x^2)"),
    "Erfc": _unary("y = erfc(x)", "dy/dx = -2/sqrt(pi) * e^(-x^2)"),
    "Erfinv": _unary("y = erfinv(x)", "dy/dx = sqrt(pi)/2 * e^(y^2)"),
    "Lgamma": _unary("y = ln|gamma(x)|", "dy/dx = digamma(x)"),
    "Polygamma": _unary("y = polygamma(n, x)", "dy/dx = polygamma(n + 1, x)"),
    "I0": _unary("y = I0(x) (Bessel)", "dy/dx = I1(x)"),
    "I1": _unary("y = I1(x) (Bessel)", "dy/dx = I0(x) - I1(x)/x"),
    # -- activations ----------------------------------------------------------------------------
    "Relu": _unary("y = relu(x) = max(0, x)", "dy/dx = 1 where x > 0, else 0"),
    "Sigmoid": _unary("y = sigmoid(x) = 1/(1 + e^-x)", "dy/dx = sigmoid(x) * (1 - sigmoid(x)) = y(1 - y)"),
    "Softplus": _unary("y = softplus(x) = ln(1 + e^x)", "dy/dx = sigmoid(x) = e^x/(1 + e^x)"),
    "GELU": _unary("y = gelu(x) = x * Phi(x)", "dy/dx = Phi(x) + x * phi(x) (normal cdf and density)"),
    "GELUTanh": _unary("y = gelu(x), tanh approximation", "dy/dx = the derivative of "
                       "0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))"),
    "SiLU": _unary("y = silu(x) = x * sigmoid(x)", "dy/dx = sigmoid(x) * (1 + x (1 - sigmoid(x)))"),
    "Mish": _unary("y = x * tanh(softplus(x))", "dy/dx = tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)^2), "
                   "sp = softplus(x)"),
    "LeakyReLU": _unary("y = x if x > 0 else {slope} * x", "dy/dx = 1 where x > 0, else {slope}"),
    "ELU": _unary("y = x if x > 0 else {alpha} (e^x - 1)", "dy/dx = 1 where x > 0, else {alpha} e^x"),
    "ScaledELU": _unary("y = scale * elu(x) (SELU/CELU)", "dy/dx = scale where x > 0, else scale * alpha e^x"),
    "Hardtanh": _unary("y = clamp(x, {low}, {high})", "dy/dx = 1 inside ({low}, {high}), else 0"),
    "Softsign": _unary("y = x/(1 + |x|)", "dy/dx = 1/(1 + |x|)^2"),
    "LogSigmoid": _unary("y = ln(sigmoid(x))", "dy/dx = 1 - sigmoid(x) = sigmoid(-x)"),
    "Hardsigmoid": _unary("y = clamp(x/6 + 1/2, 0, 1)", "dy/dx = 1/6 inside (-3, 3), else 0"),
    "Hardswish": _unary("y = x * hardsigmoid(x)", "dy/dx = x/3 + 1/2 inside (-3, 3), 0 below, 1 above"),
    "Hardshrink": _unary("y = x where |x| > {lambd}, else 0", "dy/dx = 1 where |x| > {lambd}, else 0"),
    "Softshrink": _unary("y = x -+ {lambd} where |x| > {lambd}, else 0",
                         "dy/dx = 1 where |x| > {lambd}, else 0"),
    "Threshold": _unary("y = x where x > {threshold}, else {value}", "dy/dx = 1 where x > {threshold}, else 0"),
    # -- reductions -----------------------------------------------------------------------------
    "Sum": _same("y = sum of x", "dy/dx = 1 for every entry summed: the gradient is copied back to each of them"),
    "Prod": _same("y = product of x", "dy/dx_i = product of the other entries (y / x_i where x_i != 0)"),
    "ProdOthers": _same("y = product of x", "dy/dx_i = product of all entries except x_i"),
    "Var": _same("y = variance of x", "dy/dx_i = 2 (x_i - mean) / (n - correction)"),
    "StdFromVar": _unary("y = sqrt(variance)", "dy/dvar = 1/(2 y)"),
    "Amax": _same("y = max (or min) of x", "only the entries equal to the max get the gradient "
                  "(shared evenly on ties), the rest get 0"),
    "MaxDim": _same("y = max (or min) along a dim", "only the winning entry of each row gets the gradient"),
    "Cumsum": _same("y = cumulative sum of x", "dy_j/dx_i = 1 for j >= i: the gradient is the reversed "
                    "cumulative sum of g"),
    "LogCumSumExp": _same("y = log of the cumulative sum of e^x", "dy_j/dx_i = e^(x_i - y_j) for j >= i"),
    "Norm2": _same("y = ||x|| (2-norm)", "dy/dx = x / ||x||"),
    # -- shapes: the gradient goes back to where each entry came from ---------------------------
    "View": _same("y = x reshaped", "the gradient is reshaped back to x's shape"),
    "ReshapeCopy": _same("y = x reshaped", "the gradient is reshaped back to x's shape"),
    "Permute": _same("y = x with its dims permuted", "the gradient's dims are permuted back"),
    "Expand": _same("y = x broadcast to a larger shape", "the gradient is summed over the broadcast dims"),
    "Repeat": _same("y = x tiled", "each entry's gradient is the sum over its copies"),
    "Cat": Template("y = the inputs joined along a dim", ["each input gets its own slice of the gradient"]),
    "Narrow": _same("y = a slice of x", "the gradient goes back into the slice, zeros elsewhere"),
    "Flip": _same("y = x reversed along dims", "the gradient is reversed back"),
    "Roll": _same("y = x rolled along dims", "the gradient is rolled back"),
    "Triangle": _same("y = triu/tril of x", "the gradient keeps the same triangle, zeros elsewhere"),
    "Diagonal": _same("y = a diagonal of x", "the gradient goes back onto the diagonal, zeros elsewhere"),
    "DiagEmbed": _same("y = x placed on a diagonal", "x gets the gradient's diagonal"),
    "ConstantPad": _same("y = x padded", "the padding is cropped off the gradient"),
    "Unfold": _same("y = sliding windows of x", "each entry's gradient is the sum over the windows it is in"),
    "AsStrided": _same("y = a strided view of x", "each entry's gradient is the sum over the places it appears"),
    # -- indexing -------------------------------------------------------------------------------
    "BasicIndex": _same("y = x[index]", "the gradient goes back to the indexed positions, zeros elsewhere"),
    "BasicIndexBackward": _same("y = zeros with g placed at an index", "x gets y's entries at that index"),
    "AdvancedIndex": _same("y = x[indices]", "the gradient is added back at the indices (repeats add up)"),
    "IndexSelect": _same("y = x.index_select(dim, index)", "the gradient is added back at the selected "
                         "rows (repeats add up)"),
    "TakeFlat": _same("y = entries of x taken by index", "the gradient is added back at the taken entries"),
    "PutAddFlat": Template("y = x with source added at indices", ["dy/dx = 1", "the source gets g at "
                                                                               "its indices"]),
    "IndexAddInto": Template("y = x with source added at indices", ["dy/dx = 1", "the source gets g at "
                                                                                 "its indices"]),
    "IndexPut": Template("y = x with values written at indices", ["g, with zeros where x was overwritten",
                                                                  "the values get g at their indices"]),
    "ScatterFlat": Template("y = x with source scattered in", ["g, with zeros where x was overwritten",
                                                                "the source gets g where it landed"]),
    "ScatterReduceFlat": Template("y = x with source reduced in (sum/prod/amax/mean)",
                                  ["the share of g that x's entry contributed to",
                                   "the share of g that each source entry contributed to"]),
    "MaskedFill": _same("y = x with masked entries set to a value", "g where the mask is false, 0 where "
                        "filled"),
    "CopySlices": Template("y = x with a slice overwritten in place", ["g, with zeros in the overwritten "
                                                                       "slice", "the written values get "
                                                                                "the slice of g"]),
    # -- linear algebra and layers ----------------------------------------------------------------
    "MatMul": Template("y = a @ b", ["dL/da = g @ b^T: each entry of a collects the gradient of the outputs "
                                     "it fed, times the weights it was multiplied by",
                                     "dL/db = a^T @ g: each entry of b collects the inputs it multiplied, "
                                     "times their outputs' gradient"]),
    "Einsum": Template("y = einsum(...)", ["the same einsum with g in place of y and this input left out"]),
    "Linear": Template("y = x @ W^T + b", [
        "dL/dx = g @ W: each input gets the gradient of every output it fed, times that weight",
        "dL/dW = g^T @ x: each weight's gradient is the incoming gradient times the input it multiplied, "
        "summed over the batch",
        "dL/db = g summed over the batch: dy/db = 1 for every row"]),
    "ConvNd": Template("y = convolution of x with kernel W, plus b", [
        "dL/dx = the transposed convolution of g with W: each input pixel collects g from every window it "
        "was in",
        "dL/dW = each weight's gradient is the correlation of the input with the output gradient",
        "dL/db = g summed over the batch and every position"]),
    "ConvTransposeNd": Template("y = transposed convolution of x with W", [
        "dL/dx = the ordinary convolution of g with W",
        "dL/dW = the correlation of g with the input"]),
    "ConvWeightGrad": Template("y = correlation of the input with the output gradient (a conv's weight "
                               "gradient)", ["the double-backward of a convolution"]),
    "MaxPoolNd": _same("y = max over each window", "only the largest entry of each window gets the "
                       "window's gradient"),
    "WindowScatter": _same("y = g placed at each window's max", "x gets the entries at each window's max"),
    "WindowGather": _same("y = entries at each window's max", "the gradient goes back to the max positions"),
    "AvgPoolNd": _same("y = mean over each window", "each window's gradient is spread equally over its entries"),
    "AvgPoolNdAdjoint": _same("y = g spread over each window", "x gets each window's mean of the gradient"),
    "Normalize": Template("y = (x - mean) / sqrt(var + eps) * weight + bias (batch/layer/group norm)", [
        "dL/dx = (g' - mean(g') - x_hat * mean(g' * x_hat)) / std, g' = g * weight: the mean and the "
        "spread are removed from the gradient too",
        "dL/dweight = sum of g * x_hat", "dL/dbias = sum of g"]),
    "Softmax": _same("y = softmax(x) = e^x / sum(e^x)", "dL/dx = y * (g - sum(g * y))"),
    "LogSoftmax": _same("y = log_softmax(x) = x - log(sum(e^x))", "dL/dx = g - softmax(x) * sum(g)"),
    "CrossEntropy": Template("L = cross-entropy of the logits against the targets (mean of -log p[target])",
                             ["dL/dlogits = (softmax(logits) - one_hot(target)) / N: push the right class "
                              "up and the others down", "dL/dtarget = -log_softmax(logits) / N"]),
    "NLLLoss": Template("L = -mean(x[target])", ["dL/dx = -1/N at each target class, 0 elsewhere"]),
    "BinaryCrossEntropy": Template("L = -mean(t log p + (1 - t) log(1 - p))",
                                   ["dL/dp = (p - t) / (p (1 - p)) / N", "dL/dt = log((1 - p)/p) / N"]),
    "Embedding": Template("y = rows of the weight picked by the indices",
                          ["each looked-up row gets the gradient of every position that used it (summed)"]),
    "FusedRecurrence": Template("y = a recurrent layer over the sequence (RNN/LSTM/GRU)",
                                ["backpropagation through time: the gradient flows back step by step "
                                 "through the recurrence"]),
    "FunctionBackward": Template("y = a custom autograd.Function", ["your Function.backward"]),
}

# private class names that name() does not rename, and the fused recurrent layers
for _private, _public in (("_Embedding", "Embedding"), ("_BinaryCrossEntropy", "BinaryCrossEntropy"),
                          ("_FusedRecurrence", "FusedRecurrence"), ("FusedLSTM", "FusedRecurrence"),
                          ("FusedGRU", "FusedRecurrence"), ("FusedRNN", "FusedRecurrence")):
    TEMPLATES.setdefault(_private, TEMPLATES[_public])


def template_for(node):
    """The template of a node (by its op name, then its class name), or None for the generic VJP."""
    name = node.name()
    found = TEMPLATES.get(name)
    if found is None:
        found = TEMPLATES.get(type(node).__name__)
    if found is None and name.endswith("Backward"):
        found = TEMPLATES.get(name[:-len("Backward")])
    return found


def fill(text, node):
    """``text`` with ``{attr}`` replaced by the node's attributes (numbers shown briefly)."""
    if "{" not in text:
        return text
    values = {}
    for cls in type(node).__mro__:
        for attr in cls.__dict__.get("__slots__", ()):
            value = getattr(node, attr, None)
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif hasattr(value, "item") and getattr(value, "size", 2) == 1:
                value = f"{float(value.item()):.4g}"
            values[attr] = value
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text

"""Numerical gradient checks (float64 central differences) for users' own functions and for ndgrad's rules."""
from ..backend import np


def _tensors(inputs):
    from ..tensor import Tensor
    inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    return [x for x in inputs if isinstance(x, Tensor)], inputs


def _outputs(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, (tuple, list)) else (out,)


def _differentiable(o):
    return o.dtype.is_floating_point or o.dtype.is_complex


def _as_reals(o):
    """An output's values as float64 numbers: complex outputs count as their real parts, then imaginary parts."""
    a = o._host()
    if a.dtype.kind == "c":
        return np.concatenate([np.asarray(a.real, np.float64).ravel(), np.asarray(a.imag, np.float64).ravel()])
    return np.asarray(a, np.float64).ravel()


def _real_size(t):
    return t.numel() * (2 if t.dtype.is_complex else 1)


def _numerical_jacobian(fn, inputs, wrt, eps):
    """d out_j / d x_i, one row per real coordinate of the inputs (complex: real and imaginary parts
    perturbed in turn, as torch's gradcheck), by central differences."""
    from . import grad_mode
    columns = []
    with grad_mode.no_grad():
        outs = [o for o in _outputs(fn, inputs) if _differentiable(o)]
        for x in wrt:
            data = x._data  # perturbed in place, element by element in C order (any strides)
            positions = list(np.ndindex(data.shape))
            steps = (eps, 1j * eps) if x.dtype.is_complex else (eps,)
            jac = np.zeros((len(positions) * len(steps), sum(_real_size(o) for o in outs)))
            for k, position in enumerate(positions):
                orig = data[position].item()
                for s, step in enumerate(steps):
                    data[position] = orig + step
                    plus = np.concatenate([_as_reals(o) for o in _outputs(fn, inputs) if _differentiable(o)])
                    data[position] = orig - step
                    minus = np.concatenate([_as_reals(o) for o in _outputs(fn, inputs) if _differentiable(o)])
                    data[position] = orig
                    jac[k * len(steps) + s] = (plus - minus) / (2 * eps)
            columns.append(jac)
    return columns


def _analytical_jacobian(fn, inputs, wrt):
    """The same matrix from backward(): for complex tensors torch's convention, where the gradient of a
    real number L is dL/dx + i dL/dy, and a seed of 1j picks the imaginary part of a complex output."""
    from . import grad as autograd_grad
    from ..creation import zeros_like
    outs = [o for o in _outputs(fn, inputs) if _differentiable(o)]
    jacs = [np.zeros((_real_size(x), sum(_real_size(o) for o in outs))) for x in wrt]
    col = 0
    for o in outs:
        for unit in ((1.0, 1j) if o.dtype.is_complex else (1.0,)):
            for k in range(o.numel()):
                seed = zeros_like(o)
                seed._data.reshape(-1)[k] = unit
                grads = autograd_grad([o], wrt, [seed], retain_graph=True, allow_unused=True)
                for j, g in enumerate(grads):
                    if g is not None:
                        g = np.asarray(g._host()).ravel()
                        if wrt[j].dtype.is_complex:
                            jacs[j][0::2, col], jacs[j][1::2, col] = g.real, g.imag
                        else:
                            jacs[j][:, col] = np.asarray(g.real if g.dtype.kind == "c" else g, np.float64)
                col += 1
    return jacs


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare autograd's gradients of ``fn`` with central differences; inputs should be float64."""
    tensors, inputs = _tensors(inputs)
    wrt = [x for x in tensors if x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")
    for x in wrt:
        if x.dtype.name not in ("float64", "complex128"):
            import warnings
            warnings.warn(f"gradcheck: input of dtype {x.dtype} is not float64; the check may fail from rounding "
                          f"alone. Use .double() inputs.")
    numerical = _numerical_jacobian(fn, inputs, wrt, eps)
    analytical = _analytical_jacobian(fn, inputs, wrt)
    for i, (num, ana) in enumerate(zip(numerical, analytical)):
        if not np.allclose(ana, num, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(ana - num)), ana.shape)
            msg = (f"gradcheck: Jacobian mismatch for input {i} (shape {tuple(wrt[i].shape)}): at (input element, "
                   f"output element) {tuple(int(w) for w in worst)} autograd gives {ana[worst]:.6g} but numerical "
                   f"differences give {num[worst]:.6g}; max abs difference {np.abs(ana - num).max():.3g}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check second derivatives: gradcheck of the function (inputs, v) -> vjp of fn."""
    from . import grad as autograd_grad
    from ..creation import randn_like
    tensors, inputs = _tensors(inputs)
    wrt = [x for x in tensors if x.requires_grad]
    outs = [o for o in _outputs(fn, inputs) if _differentiable(o)]
    if grad_outputs is None:
        grad_outputs = [randn_like(o).requires_grad_(True) for o in outs]
    n_in = len(inputs)

    def first_derivative(*args):
        from .grad_mode import enable_grad
        xs, vs = args[:n_in], args[n_in:]
        with enable_grad():  # the numerical Jacobian calls this under no_grad, but it needs a graph
            ys = [o for o in _outputs(fn, xs) if _differentiable(o)]
            targets = [x for x in xs if hasattr(x, "requires_grad") and x.requires_grad]
            grads = autograd_grad(ys, targets, list(vs), create_graph=True, allow_unused=True)
        from ..creation import zeros_like
        return tuple(g if g is not None else zeros_like(t) for g, t in zip(grads, targets))

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


class GradcheckError(RuntimeError):
    pass

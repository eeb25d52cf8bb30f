"""Numerical gradient checks (float64 central differences) for users' own functions and for ndgrad's rules."""
from ..backend import np


def _tensors(inputs):
    from ..tensor import Tensor
    inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    return [x for x in inputs if isinstance(x, Tensor)], inputs


def _outputs(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, (tuple, list)) else (out,)


def _numerical_jacobian(fn, inputs, wrt, eps):
    """d out_j / d x_i, one column per input element, by central differences."""
    from . import grad_mode
    columns = []
    with grad_mode.no_grad():
        outs = [o for o in _outputs(fn, inputs) if o.dtype.is_floating_point]
        for x in wrt:
            flat = x._data.reshape(-1)  # a view: perturbing it perturbs x
            jac = np.zeros((flat.size, sum(o.numel() for o in outs)))
            for k in range(flat.size):
                orig = flat[k].item()
                flat[k] = orig + eps
                plus = np.concatenate([np.asarray(o._host(), np.float64).ravel()
                                       for o in _outputs(fn, inputs) if o.dtype.is_floating_point])
                flat[k] = orig - eps
                minus = np.concatenate([np.asarray(o._host(), np.float64).ravel()
                                        for o in _outputs(fn, inputs) if o.dtype.is_floating_point])
                flat[k] = orig
                jac[k] = (plus - minus) / (2 * eps)
            columns.append(jac)
    return columns


def _analytical_jacobian(fn, inputs, wrt):
    from . import grad as autograd_grad
    from ..creation import zeros_like
    outs = [o for o in _outputs(fn, inputs) if o.dtype.is_floating_point]
    sizes = [o.numel() for o in outs]
    jacs = [np.zeros((x.numel(), sum(sizes))) for x in wrt]
    col = 0
    for oi, o in enumerate(outs):
        for k in range(sizes[oi]):
            seed = zeros_like(o)
            seed._data.reshape(-1)[k] = 1.0
            grads = autograd_grad([o], wrt, [seed], retain_graph=True, allow_unused=True)
            for j, g in enumerate(grads):
                if g is not None:
                    jacs[j][:, col] = np.asarray(g._host(), np.float64).ravel()
            col += 1
    return jacs


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare autograd's gradients of ``fn`` with central differences; inputs should be float64."""
    tensors, inputs = _tensors(inputs)
    wrt = [x for x in tensors if x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")
    for x in wrt:
        if x.dtype.name != "float64":
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
    outs = [o for o in _outputs(fn, inputs) if o.dtype.is_floating_point]
    if grad_outputs is None:
        grad_outputs = [randn_like(o).requires_grad_(True) for o in outs]
    n_in = len(inputs)

    def first_derivative(*args):
        from .grad_mode import enable_grad
        xs, vs = args[:n_in], args[n_in:]
        with enable_grad():  # the numerical Jacobian calls this under no_grad, but it needs a graph
            ys = [o for o in _outputs(fn, xs) if o.dtype.is_floating_point]
            targets = [x for x in xs if hasattr(x, "requires_grad") and x.requires_grad]
            grads = autograd_grad(ys, targets, list(vs), create_graph=True, allow_unused=True)
        from ..creation import zeros_like
        return tuple(g if g is not None else zeros_like(t) for g, t in zip(grads, targets))

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


class GradcheckError(RuntimeError):
    pass

"""Function transforms in the style of JAX and torch.func: grad, value_and_grad, vjp, jvp, jacrev, hessian.

They are thin layers over the engine: each call makes fresh leaves for the
arguments it differentiates, runs the function, and asks autograd.grad with
create_graph=True, so transforms nest (hessian = jacobian of grad).
"""
from . import grad_mode


def _fresh_leaf(x):
    # A new leaf that shares memory with x but whose graph stays inside this transform; when x itself
    # is part of an outer graph (nested transforms), keep that link so the outer level sees through.
    if x.requires_grad:
        return x * 1.0
    return x.detach().requires_grad_(True)


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def value_and_grad(func, argnums=0, has_aux=False):
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs[argnums])``; f must return a scalar."""
    def wrapped(*args, **kwargs):
        from . import grad as autograd_grad
        nums = _argnums_tuple(argnums)
        args = list(args)
        # At the outermost level nothing needs the graph of the result; nested levels keep it.
        nested = any(getattr(args[i], "requires_grad", False) for i in nums)
        with grad_mode.enable_grad():
            for i in nums:
                args[i] = _fresh_leaf(args[i])
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                out, aux = out
            if out.numel() != 1:
                raise RuntimeError(f"grad: the function must return a scalar tensor, got shape {tuple(out.shape)}")
            grads = autograd_grad([out], [args[i] for i in nums], create_graph=True, allow_unused=True,
                                  materialize_grads=True)
        if not nested:
            grads = tuple(g.detach() for g in grads)
            out = out.detach()
        g = grads[0] if isinstance(argnums, int) else grads
        value = out if not has_aux else (out, aux)
        return value, g
    return wrapped


def grad(func, argnums=0, has_aux=False):
    """``grad(f)(*args)``: the gradient of scalar ``f`` w.r.t. argument(s) ``argnums``."""
    vg = value_and_grad(func, argnums, has_aux)

    def wrapped(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapped


def vjp(func, *primals, has_aux=False):
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(v)`` returns v^T J for each primal."""
    from . import grad as autograd_grad
    with grad_mode.enable_grad():
        leaves = [_fresh_leaf(p) for p in primals]
        out = func(*leaves)
    aux = None
    if has_aux:
        out, aux = out

    def vjp_fn(*cotangents):
        outs = _as_tuple(out)
        with grad_mode.enable_grad():
            return autograd_grad(list(outs), leaves, list(cotangents), retain_graph=True, create_graph=True,
                                 allow_unused=True, materialize_grads=True)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jvp(func, primals, tangents):
    """``out, tangent_out = jvp(f, primals, tangents)``: forward-mode product J v (by the double-vjp trick)."""
    from . import grad as autograd_grad
    from ..creation import zeros_like
    primals, tangents = _as_tuple(primals), _as_tuple(tangents)
    with grad_mode.enable_grad():
        leaves = [_fresh_leaf(p) for p in primals]
        out = func(*leaves)
        outs = _as_tuple(out)
        # u is a dummy cotangent: g(u) = J^T u is linear in u, so d/du <g(u), v> = J v.
        us = [zeros_like(o).requires_grad_(True) for o in outs]
        g = autograd_grad(list(outs), leaves, us, create_graph=True, allow_unused=True, materialize_grads=True)
        jv = autograd_grad(list(g), us, list(tangents), create_graph=True, allow_unused=True,
                           materialize_grads=True)
    tangent_out = jv[0] if not isinstance(out, (tuple, list)) else tuple(jv)
    return out, tangent_out


def jacrev(func, argnums=0):
    """The Jacobian of ``func`` w.r.t. argument ``argnums``, shape out.shape + arg.shape (reverse mode)."""
    def wrapped(*args):
        from . import grad as autograd_grad
        from ..creation import zeros_like
        from ..ops.shape import stack
        args = list(args)
        with grad_mode.enable_grad():
            args[argnums] = _fresh_leaf(args[argnums])
            out = func(*args)
            rows = []
            for k in range(out.numel()):
                seed = zeros_like(out)
                seed._data.reshape(-1)[k] = 1
                (g,) = autograd_grad([out], [args[argnums]], [seed], retain_graph=True, create_graph=True,
                                     allow_unused=True, materialize_grads=True)
                rows.append(g)
        jac = stack(rows, 0) if rows else zeros_like(out)
        return jac.reshape(tuple(out.shape) + tuple(args[argnums].shape))
    return wrapped


jacobian = jacrev


def hessian(func, argnums=0):
    """The Hessian of scalar ``func``: the Jacobian of its gradient."""
    return jacrev(grad(func, argnums), argnums)

"""L-BFGS (``torch.optim.LBFGS``), with an optional strong-Wolfe line search.

All parameters are handled as one flat vector (raw arrays of the parameters' device);
scalars such as ``ys`` or ``H_diag`` stay 0-d arrays of the parameters' dtype, as torch
keeps them as 0-d tensors, so the arithmetic rounds the same way.
"""
from ndgrad.backend import np
from ndgrad.tensor import Tensor

from .line_search import strong_wolfe
from .optimizer import Optimizer, _check_non_negative

__all__ = ["LBFGS"]

# state entries that hold arrays (wrapped as Tensors in ``state``) or lists of them
_ARRAY_KEYS = ("d", "t", "H_diag", "prev_flat_grad")
_LIST_KEYS = ("old_dirs", "old_stps", "ro", "al")


def _to_state(value):
    """Raw arrays (and numpy scalars) become Tensors, as torch stores 0-d tensors; numbers and None stay."""
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if hasattr(value, "shape") and not isinstance(value, Tensor):
        return Tensor._wrap(value)
    return value


def _from_state(value):
    return value._data if isinstance(value, Tensor) else value


def _as_real(data):
    """A complex array's memory seen as (real, imag) pairs in a last dim of 2; a real array as is."""
    return data[..., None].view(data.real.dtype) if data.dtype.kind == "c" else data


def _real_flat(data):
    return _as_real(data).reshape(-1)


class LBFGS(Optimizer):
    """Implements L-BFGS, like ``torch.optim.LBFGS`` (one parameter group; ``step`` needs a closure).

    Args:
        params: iterable of parameters to optimize (a single group).
        lr (float): learning rate. Default: 1.
        max_iter (int): maximal number of iterations per ``step``. Default: 20.
        max_eval (int): maximal number of function evaluations per ``step``. Default: max_iter * 5 // 4.
        tolerance_grad (float): stop when the largest gradient entry is at most this. Default: 1e-7.
        tolerance_change (float): stop when the loss or the step changes less than this. Default: 1e-9.
        history_size (int): number of curvature pairs kept. Default: 100.
        line_search_fn (str): None or 'strong_wolfe'. Default: None.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        _check_non_negative("LBFGS", "learning rate", lr, "lr")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(
                "LBFGS doesn't support per-parameter options (parameter groups); pass one list of parameters")
        self._params = self.param_groups[0]["params"]
        self._numel_cache = None

    # -- the parameters as one flat vector ------------------------------------------------------

    def _numel(self):
        if self._numel_cache is None:
            # a complex parameter counts as its (real, imag) pairs, as in torch
            self._numel_cache = sum(p._data.size * (2 if p._data.dtype.kind == "c" else 1) for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self):
        xp = self._params[0].xp
        views = [_real_flat(p.grad._data if p.grad is not None else xp.zeros(p.numel(), dtype=p._data.dtype))
                 for p in self._params]
        return xp.concatenate(views, 0)

    def _add_grad(self, step_size, update):
        """``params += step_size * update`` (update is the flat direction)."""
        offset = 0
        step_size = float(step_size)
        for p in self._params:
            data = _as_real(p._data)
            numel = data.size
            data += step_size * update[offset:offset + numel].reshape(data.shape)
            p._bump_version()
            offset += numel

    def _clone_param(self):
        return [p._data.copy() for p in self._params]

    def _set_param(self, params_data):
        for p, data in zip(self._params, params_data):
            p._data[...] = data
            p._bump_version()

    def _directional_evaluate(self, closure, x, t, d):
        """Loss and flat gradient at ``x + t * d``; the parameters are put back to ``x`` afterwards."""
        self._add_grad(t, d)
        loss = float(self._evaluate_closure(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # -- the step ----------------------------------------------------------------------------

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the model and returns the loss."""
        if closure is None:
            raise TypeError(
                "LBFGS.step: needs a closure that clears the gradients, computes the loss, calls "
                "loss.backward() and returns the loss: optimizer.step(closure)")
        group = self.param_groups[0]
        lr = group["lr"].item() if isinstance(group["lr"], Tensor) else group["lr"]
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]
        xp = self._params[0].xp

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate_closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        if xp.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t, H_diag, prev_flat_grad = (_from_state(state.get(k)) for k in _ARRAY_KEYS)
        old_dirs, old_stps, ro = ([_from_state(v) for v in state[k]] if k in state else None
                                  for k in _LIST_KEYS[:3])
        prev_loss = state.get("prev_loss")
        if "al" in state:
            state["al"] = [_from_state(v) for v in state["al"]]

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the descent direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = xp.dot(y, s)
                if ys > 1e-10:
                    # a new curvature pair (only when the curvature is positive)
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / xp.dot(y, y)
                d = self._two_loop_direction(state, flat_grad, old_dirs, old_stps, ro, H_diag, history_size)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = xp.dot(flat_grad, d)
            if gtd > -tolerance_change:
                break  # not a descent direction any more

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    xp, obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # re-evaluate unless this is the last iteration
                    loss = float(self._evaluate_closure(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = _to_state(d)
        state["t"] = _to_state(t)
        state["old_dirs"] = [_to_state(v) for v in old_dirs]
        state["old_stps"] = [_to_state(v) for v in old_stps]
        state["ro"] = [_to_state(v) for v in ro]
        state["H_diag"] = _to_state(H_diag)
        state["prev_flat_grad"] = _to_state(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if "al" in state:
            state["al"] = [_to_state(v) for v in state["al"]]
        return orig_loss

    @staticmethod
    def _two_loop_direction(state, flat_grad, old_dirs, old_stps, ro, H_diag, history_size):
        """The L-BFGS two-loop recursion: ``-H @ grad`` from the stored curvature pairs."""
        num_old = len(old_dirs)
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        q = -flat_grad
        for i in range(num_old - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q += -al[i] * old_dirs[i]
        r = q * H_diag
        for i in range(num_old):
            be_i = old_dirs[i].dot(r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r

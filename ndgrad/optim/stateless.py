"""``swap_in_optimizer_params_and_state``: run an optimizer on other parameters and state for a while."""
import contextlib
from collections import defaultdict

__all__ = ["swap_in_optimizer_params_and_state"]


def _swap_in_groups(optimizer, swapin_parameters, swapin_optim_state):
    """Pair each live param group with its saved group and its slice of the swap-in parameters."""
    if not optimizer.state:
        raise RuntimeError("swap_in_optimizer_params_and_state requires initialized optimizer state "
                           "(take one optimizer.step() first).")
    if not isinstance(swapin_optim_state, dict) or not isinstance(swapin_optim_state.get("state"), dict) \
            or not isinstance(swapin_optim_state.get("param_groups"), list):
        raise RuntimeError("swap_in_optimizer_params_and_state requires an optimizer.state_dict()-shaped dict "
                           "with 'state' (a dict) and 'param_groups' (a list).")
    saved_groups = swapin_optim_state["param_groups"]
    if len(saved_groups) != len(optimizer.param_groups):
        raise RuntimeError(
            f"swap_in_optimizer_params_and_state: the state has {len(saved_groups)} param groups, the optimizer "
            f"{len(optimizer.param_groups)}.")
    flat = list(swapin_parameters.values())
    offset, pairs, seen = 0, [], set()
    for i, (group, saved) in enumerate(zip(optimizer.param_groups, saved_groups)):
        ids = list(saved["params"])
        if len(ids) != len(group["params"]) or offset + len(ids) > len(flat):
            raise RuntimeError(
                f"swap_in_optimizer_params_and_state requires the explicit parameter state to match "
                f"optimizer.param_groups ordering (group {i} has {len(group['params'])} parameters).")
        pairs.append((group, saved, flat[offset:offset + len(ids)]))
        offset += len(ids)
        seen.update(ids)
    extra = [k for k in swapin_optim_state["state"] if k not in seen]
    if extra:
        raise RuntimeError("swap_in_optimizer_params_and_state requires swapin_optim_state['state'] to be keyed "
                           f"only by packed parameter ids from param_groups[*]['params']; got extra keys {extra!r}.")
    return pairs


@contextlib.contextmanager
def swap_in_optimizer_params_and_state(optimizer, swapin_parameters, swapin_optim_state):
    """Temporarily replace ``optimizer``'s parameters and state (restored on exit).

    ``swapin_parameters`` maps names to tensors in the optimizer's parameter order;
    ``swapin_optim_state`` is shaped like ``optimizer.state_dict()``. In-place changes to its
    state tensors during the context are visible to the caller; other changes stay local.
    """
    pairs = _swap_in_groups(optimizer, swapin_parameters, swapin_optim_state)
    original_state = optimizer.state
    snapshots = [dict(g) for g in optimizer.param_groups]
    try:
        state = defaultdict(dict)
        for group, saved, params in pairs:
            group.update({k: v for k, v in saved.items() if k != "params"})
            group["params"] = params
            for param, index in zip(params, saved["params"]):
                state[param] = dict(swapin_optim_state["state"].get(index, {}))
        optimizer.state = state
        yield
    finally:
        for group, snapshot in zip(optimizer.param_groups, snapshots):
            group.clear()
            group.update(snapshot)
        optimizer.state = original_state

"""``ndgrad.utils.checkpoint``: activation checkpointing's API, run eagerly.

``checkpoint(fn, *args)`` returns ``fn(*args)`` with the same values and gradients as PyTorch's; it does
not trade memory for recomputation (the activations are kept, as without checkpointing).
"""
__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``: same results and gradients; no recomputation in backward."""
    return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run the modules of ``functions`` (a Sequential or a list) one after another on ``input``."""
    modules = list(functions.children()) if hasattr(functions, "children") else list(functions)
    for module in modules:
        input = module(input)
    return input

"""``ndgrad.utils.data`` is ``ndgrad.data``, so ``torch.utils.data`` code ports by changing the import."""
import importlib
import sys

data = importlib.import_module("ndgrad.data")
sys.modules[__name__ + ".data"] = data

"""The pieces of ``ndgrad.nn.functional_layers``, one file per kind of layer."""

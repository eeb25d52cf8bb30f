"""``torch.nn.modules.module``'s names, resolved lazily in ndgrad.nn (see _reexport)."""
from ndgrad.nn.modules._reexport import install

install(__name__, """
register_module_forward_pre_hook register_module_forward_hook register_module_full_backward_pre_hook
register_module_backward_hook register_module_full_backward_hook
register_module_buffer_registration_hook register_module_module_registration_hook
register_module_parameter_registration_hook Module
""")

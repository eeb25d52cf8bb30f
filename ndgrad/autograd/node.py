"""Node: one recorded differentiable op (PyTorch's grad_fn), forward on raw arrays and backward on Tensors.

An op is a small subclass: ``forward`` computes the output array, ``backward``
says how the gradient flows to each input, written with Tensor operations so
that it can be differentiated again (create_graph=True). ``apply`` records the
node only when some input requires grad, so inference pays for no graph.
"""
import weakref

from . import grad_mode
from ..backend import CPU, np, namespace

_ndarray = np.ndarray
_state = grad_mode.state
Tensor = None  # set by ndgrad.tensor to break the import cycle
_new_tensor = None  # Tensor's fast constructor, set likewise
_ONE_NEEDED = (True,)
_recorder = None  # set only while ndgrad.trace / ndgrad.onnx.export records ops: f(node, inputs, result)


class Node:
    __slots__ = ("inputs", "needs_input_grad", "next_functions", "xp", "device", "out_meta",
                 "_versions", "_out", "_out_ref", "_out_ver", "_pre_hooks", "_retained", "__weakref__")

    needs_output = False  # keep the output array so backward can use self.output()
    is_view = False       # the output shares memory with input 0 (version counting)

    def apply(self, *inputs):
        first = inputs[0]
        device = first._device
        if len(inputs) == 1:
            arrays = (first._data,)
        else:
            for t in inputs:
                if t._device is not device and t._device != device:
                    raise _device_mismatch(self, inputs)
            arrays = [t._data for t in inputs]
        self.device = device
        self.xp = np if device is CPU else namespace(device)
        try:
            out = self.forward(*arrays)
        except ValueError as e:  # numpy's broadcast message names neither the op nor the fix
            if len(inputs) > 1 and "broadcast" in str(e):
                raise _broadcast_mismatch(self, inputs) from None
            raise
        if type(out) is not _ndarray and device is CPU:
            out = np.asarray(out)  # numpy ufuncs on 0-d arrays return numpy scalars

        result = _new_tensor(out, device)
        if self.is_view:
            result._base = first._base if first._base is not None else first
            result._extra = {"view": True}  # a real view (not a detach() alias): in-place ops rebase its base
        if _recorder is not None:  # tracing for ndgrad.trace / onnx export; one global check otherwise
            _recorder(self, inputs, result)
        if _state.enabled:
            if len(inputs) == 1:  # the common one-input case without building lists
                if not first.requires_grad:
                    return result
                self.needs_input_grad = _ONE_NEEDED
                self.next_functions = (first.grad_fn or first,)
                self._versions = (first._ver if first._base is None else first._base._ver,)
            else:
                needs = tuple([t.requires_grad for t in inputs])
                if True not in needs:
                    return result
                self.needs_input_grad = needs
                self.next_functions = tuple([(t.grad_fn or t) if t.requires_grad else None for t in inputs])
                self._versions = tuple([t._ver if t._base is None else t._base._ver for t in inputs])
            self.inputs = inputs
            self.out_meta = (out.shape, out.dtype)  # survives release(), for pictures of the graph
            self._pre_hooks = self._retained = None
            result.requires_grad = True
            result.grad_fn = self
            if self.needs_output:
                self._out = out
                self._out_ref = weakref.ref(result)
                self._out_ver = result._version
        return result

    # -- what backward rules use -------------------------------------------------------------
    def input(self, i):
        """Input ``i`` as saved by forward, after checking nobody changed it in place since."""
        t = self.inputs[i]
        if t._version != self._versions[i]:
            raise RuntimeError(
                f"{self.name()}: one of the tensors needed for its gradient (input {i}, shape "
                f"{tuple(t.shape)}, {t.dtype}) was modified by an in-place operation: it is at version "
                f"{t._version}, expected version {self._versions[i]}. Fix: use the out-of-place op "
                f"(e.g. x = x + y instead of x.add_(y)) or .clone() the tensor before changing it.")
        return t

    def output(self):
        """The forward output as a Tensor attached to this node (so its use is differentiable)."""
        return Tensor._wrap(self.output_array(), self.device, requires_grad=True, grad_fn=self)

    def output_array(self):
        """The forward output as a raw array, for first-order fast paths (same in-place check)."""
        out = self._out_ref()
        # compared with the version at forward time, so writes through detach() or no_grad count too
        if out is not None and out._version != self._out_ver:
            raise RuntimeError(
                f"{self.name()}: its output (shape {tuple(out.shape)}) was modified by an in-place "
                f"operation after the forward pass, and the gradient needs it. Fix: use the out-of-place "
                f"op or .clone() the output before changing it.")
        return self._out

    def forward(self, *arrays):
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, grad):
        raise RuntimeError(f"{self.name()} is not differentiable")

    # -- graph bookkeeping ---------------------------------------------------------------------
    def name(self):
        return type(self).__name__

    def release(self):
        """Drop what was saved for backward; called once backward has used it."""
        self.inputs = None
        self._out = None

    @property
    def freed(self):
        return self.inputs is None

    def register_prehook(self, hook):
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(hook)

    def __repr__(self):
        return f"<{self.name()}Backward>"


def _device_mismatch(op, inputs):
    devices = ", ".join(f"{tuple(t.shape)} on {t._device}" for t in inputs)
    return RuntimeError(f"{op.name()}: expected all tensors on the same device, got {devices}. "
                        f"ndgrad never copies silently: move them with .to(device) first.")


def _broadcast_mismatch(op, inputs):
    shapes = " and ".join(str(tuple(t.shape)) for t in inputs)
    return ValueError(f"{op.name()}: shapes {shapes} cannot be broadcast together: in each dimension "
                      f"(aligned from the right) the sizes must be equal or 1. Fix: reshape or unsqueeze "
                      f"an operand so its dimensions line up.")

"""A stand-in for CuPy and NVIDIA's cuDNN frontend, so the CPU can test ndgrad's cuDNN wiring.

``FakeCuPy`` is NumPy whose arrays are of a subclass (``DeviceArray``), so ndgrad's eligibility checks
see "GPU" arrays. ``FakeCudnn`` records the graphs ndgrad builds with the frontend's Python API (the
same calls and keywords) and executes them with PyTorch in float64, reading and writing every bound
array through the dims and strides the graph *declared* - so a wrong stride, layout or shape in
ndgrad's graph gives wrong numbers here, as it would on a GPU. What it cannot check is cuDNN itself:
the real library runs in the ``cuda`` tests.
"""
import contextlib
import types

import numpy as np
import torch
import torch.nn.functional as TF


class DeviceArray(np.ndarray):
    """A NumPy array that says it lives on GPU 0."""

    @property
    def device(self):
        return types.SimpleNamespace(id=0)


def _dev(a):
    return np.asarray(a).view(DeviceArray)


class FakeCuPy(types.ModuleType):
    ndarray = DeviceArray
    float16, float32, float64, uint8, uint16 = np.float16, np.float32, np.float64, np.uint8, np.uint16

    def __init__(self):
        super().__init__("cupy")
        self.cuda = types.SimpleNamespace(
            Device=lambda i=0: contextlib.nullcontext(),
            get_current_stream=lambda: types.SimpleNamespace(ptr=1234),
            runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))

    def __getattr__(self, name):   # everything else: NumPy's, results as device arrays
        fn = getattr(np, name)
        if not callable(fn):
            return fn

        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            return _dev(out) if isinstance(out, np.ndarray) else out
        return wrapped


class _DataType:
    FLOAT, HALF, BFLOAT16, DOUBLE = "float32", "float16", "bfloat16", "float64"


class _Enum:
    def __getattr__(self, name):
        return name


class GraphRefused(Exception):
    """What the fake raises for a graph it is told to refuse (like cudnnGraphNotSupportedError)."""


class FakeTensor:
    def __init__(self, name, dim=None, stride=None, data_type=None, is_pass_by_value=False):
        self.name, self.dim, self.stride, self.data_type = name, dim, stride, data_type
        self.is_pass_by_value, self.is_output = is_pass_by_value, False

    def set_output(self, value):
        self.is_output = value
        return self

    def set_dim(self, dim):
        self.dim = list(dim)
        return self

    def set_stride(self, stride):
        self.stride = list(stride)
        return self

    def set_data_type(self, data_type):
        self.data_type = data_type
        return self


class FakeGraph:
    def __init__(self, frontend, io_data_type=None, intermediate_data_type=None, compute_data_type=None,
                 handle=None):
        self.frontend, self.io, self.ops, self.notes, self.built = frontend, io_data_type, [], [], False
        assert handle is not None, "graphs are built on ndgrad's handle"

    def tensor(self, name, dim, stride, data_type, is_pass_by_value=False):
        assert len(dim) == len(stride), (name, dim, stride)
        return FakeTensor(name, list(dim), list(stride), data_type, is_pass_by_value)

    def _op(self, kind, inputs, attrs, n_out):
        outs = [FakeTensor(f"{kind}_out{i}", data_type=self.io) for i in range(n_out)]
        self.ops.append((kind, inputs, attrs, outs))
        return outs[0] if n_out == 1 else outs

    def conv_fprop(self, image, weight, compute_data_type=None, **attrs):
        return self._op("conv_fprop", {"x": image, "w": weight}, attrs, 1)

    def conv_dgrad(self, loss, filter, compute_data_type=None, **attrs):
        return self._op("conv_dgrad", {"dy": loss, "w": filter}, attrs, 1)

    def conv_wgrad(self, image, loss, compute_data_type=None, **attrs):
        return self._op("conv_wgrad", {"x": image, "dy": loss}, attrs, 1)

    def batchnorm(self, name, input, scale, bias, in_running_mean, in_running_var, epsilon, momentum):
        return self._op("batchnorm", {"x": input, "scale": scale, "bias": bias, "eps": epsilon}, {}, 5)

    def batchnorm_backward(self, name, grad, input, scale, mean, inv_variance):
        return self._op("batchnorm_backward", {"dy": grad, "x": input, "scale": scale, "mean": mean,
                                               "inv_var": inv_variance}, {}, 3)

    def batchnorm_inference(self, name, input, mean, inv_variance, scale, bias):
        return self._op("batchnorm_inference", {"x": input, "mean": mean, "inv_var": inv_variance,
                                                "scale": scale, "bias": bias}, {}, 1)

    def sdpa(self, name, q, k, v, attn_scale, use_causal_mask, generate_stats=None, bias=None):
        assert generate_stats is True
        return self._op("sdpa", {"q": q, "k": k, "v": v, "bias": bias},
                        {"scale": attn_scale, "causal": use_causal_mask}, 2)

    def sdpa_backward(self, name, q, k, v, o, dO, stats, attn_scale, use_causal_mask, bias=None):
        return self._op("sdpa_backward", {"q": q, "k": k, "v": v, "o": o, "dO": dO, "stats": stats, "bias": bias},
                        {"scale": attn_scale, "causal": use_causal_mask}, 3)

    # -- building --------------------------------------------------------------------------------------
    def validate(self):
        for kind, inputs, attrs, outs in self.ops:
            if kind in self.frontend.refuse:
                raise GraphRefused(f"{kind} refused by the test")
            for t in outs:
                if t.is_output:
                    assert t.dim and t.stride and t.data_type, f"{kind}: output {t.name} needs dims, strides, type"

    def build_operation_graph(self):
        pass

    def create_execution_plans(self, modes):
        assert modes

    def deselect_numeric_notes(self, notes):
        self.notes.extend(notes)

    def check_support(self):
        pass

    def build_plans(self):
        self.built = True
        self.frontend.graphs_built += 1

    def get_workspace_size(self):
        return 64

    # -- execution: PyTorch in float64 through the declared geometry -------------------------------------
    def execute(self, pack, workspace, handle=None):
        assert self.built and handle is not None and workspace.nbytes >= 64
        self.frontend.executions += 1
        bound = {id(t): a for t, a in pack.items()}

        def read(t):
            if t is None:
                return None
            a = bound[id(t)]
            if t.is_pass_by_value:
                return torch.tensor(float(np.asarray(a).reshape(-1)[0]), dtype=torch.float64)
            return torch.from_numpy(np.array(_view(a, t), dtype=np.float64))

        def write(t, value):
            if t.is_output:
                _view(bound[id(t)], t)[...] = value.detach().numpy()

        for kind, inputs, attrs, outs in self.ops:
            getattr(self, "_run_" + kind)({k: read(v) for k, v in inputs.items()}, attrs, outs, write)

    @staticmethod
    def _conv_pads(attrs, nd):
        pre = attrs.get("pre_padding", attrs.get("padding"))
        post = attrs.get("post_padding", attrs.get("padding"))
        assert len(pre) == len(post) == len(attrs["stride"]) == len(attrs["dilation"]) == nd
        pad = []
        for lo, hi in zip(reversed(pre), reversed(post)):
            pad += [lo, hi]
        return pad

    def _conv(self, x, w, attrs):
        conv = {4: TF.conv2d, 5: TF.conv3d}[x.ndim]
        groups = x.shape[1] // w.shape[1]
        return conv(TF.pad(x, self._conv_pads(attrs, x.ndim - 2)), w, stride=attrs["stride"],
                    dilation=attrs["dilation"], groups=groups)

    def _run_conv_fprop(self, t, attrs, outs, write):
        write(outs[0], self._conv(t["x"], t["w"], attrs))

    def _run_conv_dgrad(self, t, attrs, outs, write):
        x = torch.zeros(outs[0].dim, dtype=torch.float64, requires_grad=True)
        y = self._conv(x, t["w"], attrs)
        assert list(y.shape) == list(t["dy"].shape), "dgrad: declared dx does not give dy's shape"
        write(outs[0], torch.autograd.grad(y, x, t["dy"])[0])

    def _run_conv_wgrad(self, t, attrs, outs, write):
        w = torch.zeros(outs[0].dim, dtype=torch.float64, requires_grad=True)
        y = self._conv(t["x"], w, attrs)
        assert list(y.shape) == list(t["dy"].shape), "wgrad: declared dw does not give dy's shape"
        write(outs[0], torch.autograd.grad(y, w, t["dy"])[0])

    @staticmethod
    def _stats(x, eps):
        axes = [0] + list(range(2, x.ndim))
        mean = x.mean(axes, keepdim=True)
        inv_var = ((x - mean) ** 2).mean(axes, keepdim=True).add(eps).rsqrt()
        return mean, inv_var

    def _run_batchnorm(self, t, attrs, outs, write):
        mean, inv_var = self._stats(t["x"], t["eps"])
        write(outs[0], (t["x"] - mean) * inv_var * t["scale"] + t["bias"])
        write(outs[1], mean)
        write(outs[2], inv_var)

    def _run_batchnorm_backward(self, t, attrs, outs, write):
        x, dy = t["x"], t["dy"]
        mean, _ = self._stats(x, 0.0)
        assert torch.allclose(mean, t["mean"], atol=1e-3, rtol=1e-3), "the saved mean does not belong to this x"
        axes = [0] + list(range(2, x.ndim))
        n = x.numel() // x.shape[1]
        xhat = (x - t["mean"]) * t["inv_var"]
        dbias = dy.sum(axes, keepdim=True)
        dscale = (dy * xhat).sum(axes, keepdim=True)
        write(outs[0], t["scale"] * t["inv_var"] / n * (n * dy - dbias - xhat * dscale))
        write(outs[1], dscale)
        write(outs[2], dbias)

    def _run_batchnorm_inference(self, t, attrs, outs, write):
        write(outs[0], (t["x"] - t["mean"]) * t["inv_var"] * t["scale"] + t["bias"])

    @staticmethod
    def _scores(t, attrs):
        s = t["q"] @ t["k"].transpose(-2, -1) * attrs["scale"]
        if t.get("bias") is not None:
            s = s + t["bias"]
        if attrs["causal"]:
            s = s.masked_fill(~torch.ones(s.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
        return s

    def _run_sdpa(self, t, attrs, outs, write):
        s = self._scores(t, attrs)
        write(outs[0], s.softmax(-1) @ t["v"])
        write(outs[1], s.logsumexp(-1, keepdim=True))

    def _run_sdpa_backward(self, t, attrs, outs, write):
        q, k, v = (t[n].clone().requires_grad_(True) for n in "qkv")
        s = self._scores({"q": q, "k": k, "v": v, "bias": t.get("bias")}, attrs)
        assert torch.allclose(s.detach().logsumexp(-1, keepdim=True), t["stats"], atol=1e-2), "stats mismatch"
        o = s.softmax(-1) @ v
        for out, grad in zip(outs, torch.autograd.grad(o, (q, k, v), t["dO"])):
            write(out, grad)


def _view(a, t):
    """The declared (dims, strides) view of bound array ``a``'s memory, checked to stay inside it."""
    a = np.asarray(a)
    if t.data_type == "bfloat16":
        raise AssertionError("the fake has no bfloat16")
    assert a.dtype == np.dtype(t.data_type), f"{t.name}: bound {a.dtype}, declared {t.data_type}"
    assert len(t.dim) == len(t.stride)
    reach = sum((n - 1) * s for n, s in zip(t.dim, t.stride))
    own = sum((n - 1) * s // a.itemsize for n, s in zip(a.shape, a.strides) if s > 0)
    assert reach <= own, f"{t.name}: declared dims {t.dim} strides {t.stride} reach past the bound array"
    return np.lib.stride_tricks.as_strided(a, shape=t.dim, strides=[s * a.itemsize for s in t.stride])


class FakeCudnn(types.ModuleType):
    __version__ = "fake"

    def __init__(self):
        super().__init__("cudnn")
        self.data_type = _DataType
        self.heur_mode = _Enum()
        self.numerical_note = _Enum()
        self.refuse = set()            # op kinds whose graphs the fake refuses
        self.graphs_built = self.executions = 0
        self.streams = []

    def backend_version(self):
        return 91000

    def create_handle(self):
        return object()

    def set_stream(self, handle, stream):
        self.streams.append(stream)

    def pygraph(self, **kwargs):
        return FakeGraph(self, **kwargs)

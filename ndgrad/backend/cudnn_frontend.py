"""Convolutions, batch norm and attention on NVIDIA GPUs through cuDNN's frontend (optional).

CuPy 14 dropped its cuDNN bindings, so ndgrad's own GPU convolution is im2col + one cuBLAS GEMM. When
NVIDIA's ``nvidia-cudnn-frontend`` (module ``cudnn``) and cuDNN 9 (``nvidia-cudnn-cu12``, or the copy
PyTorch's CUDA wheels ship) are installed - ``pip install ndgrad[cudnn]`` - convolutions (forward,
input gradient, weight gradient; 1-d/2-d/3-d, groups, stride, padding, dilation) in float16, bfloat16
and float32, batch norm (training, its backward, inference) and float16/bfloat16 attention run here,
as they do in PyTorch. Anything this file does not take - CPU arrays, float64, shapes cuDNN refuses,
``ndgrad.backends.cudnn.enabled = False`` - returns None and the caller runs its own path.

Mirrors backend/onednn.py: a lazy, failure-proof loader; one cuDNN handle per GPU, bound to CuPy's
current stream on every execution; graphs built once per (op, shapes, strides, dtypes, geometry) and
kept in an LRU cache, where a graph cuDNN refuses is remembered as refused (with one warning naming
the op and shapes). ``calls`` counts the executions per op (tests check that the cuDNN path ran).

Layouts: convolutions keep their input's layout family (NCHW, or channels-last NHWC); anything else
is copied to NCHW first. cuDNN's graph batch norm runs on channels-last data, so its input is copied
to NHWC unless it already is (a chain conv -> BN -> conv then stays NHWC, without further copies).
"""
import collections
import ctypes
import glob
import importlib.util
import os
import sys
import threading
import warnings

import numpy as np

__all__ = ["available", "version", "version_string", "unavailable_reason", "calls", "takes", "conv_forward",
           "conv_backward_data", "conv_backward_weights", "takes_batch_norm", "batch_norm", "takes_attention",
           "attention", "reset"]

calls = collections.Counter()   # op name -> executions through cuDNN

_state = {"module": None, "reason": None, "tried": False}
_lock = threading.RLock()       # loading, handles and the graph cache
_run_lock = threading.Lock()    # one execution at a time per process: a handle is not thread-safe

INSTALL_HINT = "pip install 'ndgrad[cudnn]'"


# -- loading ---------------------------------------------------------------------------------------------
def _nvidia_cudnn_dirs():
    """lib/ folders of the ``nvidia.cudnn`` package (nvidia-cudnn-cu12, also a dependency of PyTorch's
    CUDA wheels), wherever it is importable from."""
    try:
        spec = importlib.util.find_spec("nvidia.cudnn")
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    roots = list(spec.submodule_search_locations or []) or ([os.path.dirname(spec.origin)] if spec.origin else [])
    return [os.path.join(root, "lib") for root in roots if os.path.isdir(os.path.join(root, "lib"))]


def _preload_libcudnn():
    """Make libcudnn.so.9 loadable for the frontend: when the loader cannot find it by name, load the
    wheel's copy (its graph library first, which libcudnn needs) with RTLD_GLOBAL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libcudnn.so.9", mode=ctypes.RTLD_GLOBAL)
        return
    except OSError:
        pass
    for lib_dir in _nvidia_cudnn_dirs():
        for pattern in ("libcudnn_graph.so.*[0-9]", "libcudnn.so.*[0-9]"):
            for path in sorted(glob.glob(os.path.join(lib_dir, pattern))):
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    pass


def _import_frontend():
    """(module, None), or (None, why not)."""
    try:
        found = importlib.util.find_spec("cudnn") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return None, f"nvidia-cudnn-frontend is not installed ({INSTALL_HINT})"
    try:
        _preload_libcudnn()
        import cudnn
    except Exception as exc:   # a broken install, a missing CUDA runtime: never an error for ndgrad
        return None, f"the cuDNN frontend failed to import ({type(exc).__name__}: {exc})"
    try:
        cudnn.backend_version()
    except Exception:
        return None, f"libcudnn.so.9 could not be loaded (pip install nvidia-cudnn-cu12, or {INSTALL_HINT})"
    return cudnn, None


def _load():
    if _state["tried"]:
        return _state["module"]
    with _lock:
        if not _state["tried"]:
            _state["module"], _state["reason"] = _import_frontend()
            _state["tried"] = True
    return _state["module"]


def available():
    """Whether the cuDNN frontend and libcudnn load here (a GPU is a separate question)."""
    return _load() is not None


def version():
    """cuDNN's version as PyTorch reports it (e.g. 90100 for 9.1.0), or None when it does not load."""
    cudnn = _load()
    return None if cudnn is None else int(cudnn.backend_version())


def version_string():
    """cuDNN's version as "major.minor.patch" plus the frontend's, or None when it does not load."""
    v = version()
    if v is None:
        return None
    major, minor, patch = (v // 10000, v // 100 % 100, v % 100) if v >= 90000 else (v // 1000, v // 100 % 10, v % 100)
    return f"{major}.{minor}.{patch} (frontend {getattr(_load(), '__version__', '?')})"


def unavailable_reason():
    """Why GPU convolutions do not run through cuDNN here (not installed / no GPU / libcudnn missing /
    disabled), or None when they do."""
    from . import cuda as _cuda
    from ..backends import cudnn as flags
    loaded = available()
    if not loaded and _state["reason"].startswith("nvidia-cudnn-frontend is not installed"):
        return _state["reason"]
    if not _cuda.is_available():
        return "no GPU (needs CuPy and an NVIDIA GPU)"
    if not loaded:
        return _state["reason"]
    if not flags.enabled:
        return "disabled (ndgrad.backends.cudnn.enabled = False)"
    return None


def reset():
    """Forget the built graphs and the call counts (tests; after changing flags that graphs depend on)."""
    with _lock:
        _graphs.clear()
        _warned.clear()
    calls.clear()


# -- handles, graphs, execution --------------------------------------------------------------------------
_handles = {}   # device id -> cuDNN handle


def _cupy():
    """CuPy, or None (imported once by ndgrad's CUDA backend)."""
    from . import cuda as _cuda
    return _cuda._load()


def _handle(cudnn, device_id):
    handle = _handles.get(device_id)
    if handle is None:
        with _cupy().cuda.Device(device_id):
            handle = _handles[device_id] = cudnn.create_handle()
    return handle


def _data_type(cudnn, dtype):
    return {"float16": cudnn.data_type.HALF, "bfloat16": cudnn.data_type.BFLOAT16,
            "float32": cudnn.data_type.FLOAT}[dtype.name]


class _Plan:
    """A built cuDNN graph: its tensors by our names, its workspace size, the handle it runs on."""
    __slots__ = ("graph", "tensors", "workspace", "handle", "device_id")

    def __init__(self, graph, tensors, handle, device_id):
        self.graph, self.tensors, self.handle, self.device_id = graph, tensors, handle, device_id
        self.workspace = int(graph.get_workspace_size())

    def run(self, bindings):
        """Execute with ``bindings`` (our tensor name -> CuPy array, or a NumPy array for a host scalar)
        on CuPy's current stream; the outputs are written in place."""
        cudnn, cp = _load(), _cupy()
        pack = {self.tensors[name]: _bindable(a) for name, a in bindings.items()}
        with cp.cuda.Device(self.device_id), _run_lock:
            cudnn.set_stream(handle=self.handle, stream=cp.cuda.get_current_stream().ptr)
            workspace = cp.empty(max(self.workspace, 1), dtype=cp.uint8)
            self.graph.execute(pack, workspace, handle=self.handle)


def _bindable(a):
    """An array the frontend reads a pointer from (DLPack): CuPy's DLPack has no bfloat16, so a
    bfloat16 array goes as its uint16 view (same address; the graph declares the real type)."""
    if a.dtype.name == "bfloat16":
        return a.view(np.uint16 if isinstance(a, np.ndarray) else _cupy().uint16)
    return a


_CACHE_SIZE = 256
_graphs = collections.OrderedDict()   # key -> _Plan, or None where cuDNN refused that graph
_warned = set()


def _plan(op, key, build, device_id):
    """The cached plan for ``key`` (``build(cudnn, handle)`` -> (graph, tensors) makes it the first time),
    or None when cuDNN refused it (remembered, and warned about once)."""
    with _lock:
        plan = _graphs.get(key, False)
        if plan is not False:
            _graphs.move_to_end(key)
            return plan
        if _capturing():   # never build (heuristics, allocations) inside a CUDA-graph capture: not this time
            return None
        cudnn = _load()
        try:
            handle = _handle(cudnn, device_id)
            with _cupy().cuda.Device(device_id):
                graph, tensors = build(cudnn, handle)
                _finalize(cudnn, graph, key)
                plan = _Plan(graph, tensors, handle, device_id)
        except Exception as exc:   # cudnnGraphNotSupportedError, RuntimeError, a frontend API mismatch ...
            plan = None
            _warn_once(op, key, exc)
        _graphs[key] = plan
        if len(_graphs) > _CACHE_SIZE:
            _graphs.popitem(last=False)
        return plan


def _capturing():
    from . import host_sync
    return host_sync.capture_active()


def _finalize(cudnn, graph, key):
    """validate -> operation graph -> plans (heuristics A, then the fallback list) -> build, honouring
    ndgrad.backends.cudnn.allow_tf32 (float32 graphs) and .deterministic (both part of ``key``)."""
    from ..backends import cudnn as flags
    graph.validate()
    graph.build_operation_graph()
    graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
    notes = []
    if flags.deterministic:
        notes.append(cudnn.numerical_note.NONDETERMINISTIC)
    if not flags.allow_tf32 and "float32" in key:   # float32 on tensor cores is TF32
        notes.append(cudnn.numerical_note.TENSOR_CORE)
    if notes:
        graph.deselect_numeric_notes(notes)
    graph.check_support()
    graph.build_plans()


def _warn_once(op, key, exc):
    name = (op, key[1] if len(key) > 1 else None)
    if name in _warned:
        return
    _warned.add(name)
    warnings.warn(f"cuDNN does not take {op} for {_describe_key(key)} ({type(exc).__name__}: "
                  f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}); ndgrad runs its "
                  f"own kernels for it", RuntimeWarning, stacklevel=4)


def _describe_key(key):
    return ", ".join(str(part) for part in key[1:4])


def _flag_key():
    from ..backends import cudnn as flags
    return (bool(flags.allow_tf32), bool(flags.deterministic))


def _run(op, plan, bindings):
    """Execute ``plan``; False (and the plan forgotten as refused) if cuDNN fails at run time."""
    try:
        plan.run(bindings)
    except Exception as exc:
        with _lock:
            for key, value in list(_graphs.items()):
                if value is plan:
                    _graphs[key] = None
                    _warn_once(op, key, exc)
        return False
    calls[op] += 1
    return True


# -- eligibility -----------------------------------------------------------------------------------------
_DTYPES = ("float16", "bfloat16", "float32")


def _enabled():
    from ..backends import cudnn as flags
    return flags.enabled


def takes(*arrays):
    """Whether cuDNN takes an op on these arrays (CuPy, one of float16/bfloat16/float32 and all the
    same, not empty; the frontend loaded and ``ndgrad.backends.cudnn.enabled``), shape checks aside."""
    if not arrays or type(arrays[0]) is np.ndarray or (_state["tried"] and _state["module"] is None):
        return False
    cp = _cupy()
    if cp is None:
        return False
    dtype = arrays[0].dtype
    for a in arrays:
        if type(a) is not cp.ndarray or a.dtype != dtype or not a.size:
            return False
    return dtype.name in _DTYPES and _enabled() and available()


# -- layouts ---------------------------------------------------------------------------------------------
def _packed_strides(shape, channels_last):
    """Element strides of a dense (N, C, *sp) array: C order, or channels-last (N, *sp, C) memory."""
    order = [0] + list(range(2, len(shape))) + [1] if channels_last else list(range(len(shape)))
    strides, step = [0] * len(shape), 1
    for axis in reversed(order):
        strides[axis] = step
        step *= max(shape[axis], 1)
    return strides


def _has_strides(a, strides):
    """Whether a's memory is laid out as ``strides`` (size-1 dims may have any stride)."""
    own = [s // a.itemsize for s in a.strides]
    return all(n == 1 or s == t for n, s, t in zip(a.shape, own, strides))


def _is_channels_last(a):
    """a is dense channels-last and not also dense C order (where C order is the better description)."""
    return not _has_strides(a, _packed_strides(a.shape, False)) and _has_strides(a, _packed_strides(a.shape, True))


def _in_layout(a, channels_last):
    """(a, or a copy of it in the layout, its canonical element strides)."""
    strides = _packed_strides(a.shape, channels_last)
    if not _has_strides(a, strides):
        cp = _cupy()
        if channels_last:
            perm = (0,) + tuple(range(2, a.ndim)) + (1,)
            back = (0, a.ndim - 1) + tuple(range(1, a.ndim - 1))
            a = cp.ascontiguousarray(a.transpose(perm)).transpose(back)
        else:
            a = cp.ascontiguousarray(a)
    return a, strides


def _empty(shape, dtype, channels_last):
    """A new (N, C, *sp) array in C order or channels-last memory."""
    cp = _cupy()
    if not channels_last:
        return cp.empty(shape, dtype=dtype)
    n = len(shape)
    memory = cp.empty((shape[0],) + tuple(shape[2:]) + (shape[1],), dtype=dtype)
    return memory.transpose((0, n - 1) + tuple(range(1, n - 1)))


def _as_2d(a):
    """A 1-d convolution's (N, C, L) array as (N, C, 1, L), a view (cuDNN convolves 2-d and 3-d)."""
    return a.reshape(a.shape[:2] + (1,) + a.shape[2:]) if a.ndim == 3 else a


def _from_2d(a, ndim):
    return a[:, :, 0] if ndim == 3 else a


# -- convolution -----------------------------------------------------------------------------------------
def _conv_geometry(kernel, stride, pads, dilation):
    """(pre pads, post pads, strides, dilations) lists, 1-d lifted to 2-d with a height of 1."""
    pre, post = [lo for lo, _ in pads], [hi for _, hi in pads]
    stride, dilation = list(stride), list(dilation)
    if len(kernel) == 1:
        pre, post, stride, dilation = [0] + pre, [0] + post, [1] + stride, [1] + dilation
    return pre, post, stride, dilation


def _hashable(geometry):
    return tuple(tuple(part) for part in geometry)


def _conv_args(pre, post, stride, dilation):
    """The padding keywords: symmetric ``padding`` where it is (every frontend takes that), else
    pre/post padding."""
    args = {"stride": stride, "dilation": dilation}
    if pre == post:
        args["padding"] = pre
    else:
        args["pre_padding"], args["post_padding"] = pre, post
    return args


def _conv_supported(kernel, pads, groups, w_shape):
    return (1 <= len(kernel) <= 3 and all(lo >= 0 and hi >= 0 for lo, hi in pads)
            and w_shape[0] % groups == 0)


def conv_forward(x, w, bias, kernel, stride, pads, dilation, groups, y_spatial, training=True):
    """y = conv(x, w) + bias as an (N, O, *out) array in x's layout family, or None (use im2col)."""
    if not takes(x, w) or (bias is not None and not takes(bias)) or not _conv_supported(kernel, pads, groups, w.shape):
        return None
    nd = x.ndim
    channels_last = _is_channels_last(_as_2d(x))
    x4, x_strides = _in_layout(_as_2d(x), channels_last)
    w4, w_strides = _in_layout(_as_2d(w), channels_last)
    y_shape = (x.shape[0], w.shape[0]) + tuple(y_spatial)
    y = _empty(_as_2d_shape(y_shape), x.dtype, channels_last)
    geometry = _conv_geometry(kernel, stride, pads, dilation)
    device_id = x.device.id
    key = ("conv_forward", (tuple(x4.shape), tuple(w4.shape)), x.dtype.name, _hashable(geometry), channels_last,
           device_id, _flag_key())

    def build(cudnn, handle):
        dt = _data_type(cudnn, x.dtype)
        graph = cudnn.pygraph(io_data_type=dt, intermediate_data_type=cudnn.data_type.FLOAT,
                              compute_data_type=cudnn.data_type.FLOAT, handle=handle)
        X = graph.tensor(name="x", dim=list(x4.shape), stride=x_strides, data_type=dt)
        W = graph.tensor(name="w", dim=list(w4.shape), stride=w_strides, data_type=dt)
        Y = graph.conv_fprop(image=X, weight=W, compute_data_type=cudnn.data_type.FLOAT, **_conv_args(*geometry))
        Y.set_output(True).set_dim(list(y.shape)).set_stride(_packed_strides(y.shape, channels_last)).set_data_type(dt)
        return graph, {"x": X, "w": W, "y": Y}

    plan = _plan("conv_forward", key, build, device_id)
    if plan is None or not _run("conv_forward", plan, {"x": x4, "w": w4, "y": y}):
        return None
    y = _from_2d(y, nd)
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * (nd - 2))
    return y


def _as_2d_shape(shape):
    return tuple(shape[:2]) + (1,) + tuple(shape[2:]) if len(shape) == 3 else tuple(shape)


def conv_backward_data(gy, w, x_shape, kernel, stride, pads, dilation, groups):
    """The input gradient (conv_transpose) as an array of ``x_shape`` in gy's layout family, or None."""
    if not takes(gy, w) or not _conv_supported(kernel, pads, groups, w.shape):
        return None
    return _conv_backward("conv_backward_data", ("dy", gy), ("w", w), ("dx", x_shape),
                          lambda graph, cudnn, DY, W, geometry: graph.conv_dgrad(
                              loss=DY, filter=W, compute_data_type=cudnn.data_type.FLOAT, **_conv_args(*geometry)),
                          kernel, stride, pads, dilation)


def conv_backward_weights(x, gy, w_shape, kernel, stride, pads, dilation, groups):
    """The weight gradient as an array of ``w_shape`` (in x's layout family), or None."""
    if not takes(x, gy) or not _conv_supported(kernel, pads, groups, w_shape):
        return None
    return _conv_backward("conv_backward_weights", ("x", x), ("dy", gy), ("dw", w_shape),
                          lambda graph, cudnn, X, DY, geometry: graph.conv_wgrad(
                              image=X, loss=DY, compute_data_type=cudnn.data_type.FLOAT, **_conv_args(*geometry)),
                          kernel, stride, pads, dilation)


def _conv_backward(op, first, second, result, make_output, kernel, stride, pads, dilation):
    """One of the two convolution gradients: inputs ``first``/``second`` as (name, array), the result as
    (name, shape) in the first input's layout family; ``make_output(graph, cudnn, A, B, geometry)`` adds
    the cuDNN operation."""
    (a_name, a), (b_name, b), (out_name, out_shape) = first, second, result
    nd = a.ndim
    channels_last = _is_channels_last(_as_2d(a))
    a4, a_strides = _in_layout(_as_2d(a), channels_last)
    b4, b_strides = _in_layout(_as_2d(b), channels_last)
    out = _empty(_as_2d_shape(tuple(out_shape)), a.dtype, channels_last)
    geometry = _conv_geometry(kernel, stride, pads, dilation)
    device_id = a.device.id
    key = (op, (tuple(a4.shape), tuple(b4.shape), tuple(out.shape)), a.dtype.name, _hashable(geometry),
           channels_last, device_id, _flag_key())

    def build(cudnn, handle):
        dt = _data_type(cudnn, a.dtype)
        graph = cudnn.pygraph(io_data_type=dt, intermediate_data_type=cudnn.data_type.FLOAT,
                              compute_data_type=cudnn.data_type.FLOAT, handle=handle)
        A = graph.tensor(name=a_name, dim=list(a4.shape), stride=a_strides, data_type=dt)
        B = graph.tensor(name=b_name, dim=list(b4.shape), stride=b_strides, data_type=dt)
        OUT = make_output(graph, cudnn, A, B, geometry)
        OUT.set_output(True).set_dim(list(out.shape)).set_stride(_packed_strides(out.shape, channels_last))
        OUT.set_data_type(dt)
        return graph, {a_name: A, b_name: B, out_name: OUT}

    plan = _plan(op, key, build, device_id)
    if plan is None or not _run(op, plan, {a_name: a4, b_name: b4, out_name: out}):
        return None
    return _from_2d(out, nd)


# -- batch norm and attention: differentiable ops on Tensors (their nodes are in cudnn_nodes.py) ----------
def _no_graph_needed(*tensors):
    """No autograd graph is recorded for an op on ``tensors`` (and no tracer listens)."""
    from ..autograd import node as _node
    from ..autograd.grad_mode import state
    if _node._recorder is not None:
        return False
    return not (state.enabled and any(t is not None and t.requires_grad for t in tensors))


def takes_batch_norm(input, weight=None, bias=None, running_mean=None, running_var=None, training=True):
    """Whether cuDNN takes this batch norm: (N, C, *) input of 2 to 5 dims on the GPU in a cuDNN dtype,
    float parameters and statistics of C elements, more than one value per channel when training; in
    evaluation, a channels-last 4-d/5-d input and no graph to record."""
    if not takes(input._data) or not 2 <= input.ndim <= 5 or _recorder_active():
        return False
    c, cp = input.shape[1], _cupy()
    for t in (weight, bias, running_mean, running_var):
        if t is not None and (type(t._data) is not cp.ndarray or tuple(t.shape) != (c,)
                              or t._data.dtype.name not in _DTYPES):
            return False
    if training:
        return input.numel() // c > 1
    # ndgrad's own inference pass is already one fused multiply-add: cuDNN only pays where no layout copy
    # comes first, on channels-last data (what a cuDNN network's convolutions and training passes produce)
    return (running_mean is not None and running_var is not None and input.ndim >= 4
            and _is_channels_last(input._data) and _no_graph_needed(input, weight, bias))


def _recorder_active():
    from ..autograd import node as _node
    return _node._recorder is not None


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """F.batch_norm through cuDNN (training: batch statistics, running-stat update, a node whose backward
    is cuDNN's), or None where cuDNN does not take it."""
    if not takes_batch_norm(input, weight, bias, running_mean, running_var, training):
        return None
    from . import cudnn_nodes
    if training:
        return cudnn_nodes.batch_norm_training(input, running_mean, running_var, weight, bias, momentum, eps)
    return cudnn_nodes.batch_norm_inference(input, running_mean, running_var, weight, bias, eps)


def takes_attention(query, key, value, attn_mask=None, dropout_p=0.0):
    """Whether cuDNN takes this scaled_dot_product_attention: float16/bfloat16 (B, H, S, D) or (B, S, D)
    q, k, v on the GPU with equal leading dims, D a multiple of 8 up to 128, no dropout, a mask that
    needs no gradient, and ``ndgrad.backends.cuda.cudnn_sdp_enabled()``."""
    arrays = (query._data, key._data, value._data)
    if not takes(*arrays) or query._data.dtype.name == "float32":   # CPU arrays leave at takes' first check
        return False
    from ..backends import cuda as cuda_flags
    if dropout_p > 0.0 or not cuda_flags.cudnn_sdp_enabled() or _recorder_active():
        return False
    if not all(a.ndim == query.ndim for a in arrays) or query.ndim not in (3, 4):
        return False
    d = query.shape[-1]
    if value.shape[-1] != d or d % 8 or d > 128 or tuple(key.shape[:-2]) != tuple(query.shape[:-2]) \
            or tuple(value.shape[:-2]) != tuple(query.shape[:-2]):
        return False
    if attn_mask is not None:
        m = attn_mask._data
        if attn_mask.requires_grad or type(m) is not type(query._data) or m.ndim > 4:
            return False
        if not (m.dtype == bool or m.dtype.kind == "f"):
            return False
    return True


def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """scaled_dot_product_attention through cuDNN (forward and backward), or None where cuDNN does not
    take it. ``scale``: the softmax scale (None: 1/sqrt(D))."""
    if not takes_attention(query, key, value, attn_mask, dropout_p):
        return None
    from . import cudnn_nodes
    scale = 1.0 / float(query.shape[-1]) ** 0.5 if scale is None else float(scale)
    return cudnn_nodes.attention(query, key, value, attn_mask, is_causal, scale)

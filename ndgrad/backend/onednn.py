"""Convolutions on the CPU through oneDNN, the library PyTorch's CPU convolutions run on (optional).

ndgrad's own convolution is im2col + one BLAS product: prod(kernel) copies of the input, then a GEMM
that NumPy's OpenBLAS runs at its ceiling. oneDNN's JIT kernels read the input in place, in a blocked
layout, and on the same core run real networks' convolutions 1.3-2x faster (ResNet-18's 3x3 layers:
51 vs 103 ms). When the ``onednn-cpu-gomp`` wheel (Intel's CPU-only build, `pip install
ndgrad[cpu]`) is installed, float32 convolutions on the CPU - forward, input gradient, weight
gradient, and so also conv_transpose - run here; without it, or for other dtypes, shapes oneDNN
refuses, or with ``ndgrad.backends.mkldnn.enabled = False``, the im2col path runs.

This file speaks oneDNN's C API (v3, ABI-stable across 3.x) through ctypes: memory descriptors are
opaque handles, so the only structs are dims arrays and execution arguments. Each convolution lets
oneDNN pick its layouts ("any"), reorders the user's arrays (any strides) into them and the result
back into a plain C-contiguous array, as PyTorch does for its plain tensors. Primitives are built
once per (kind, shapes, strides, geometry) and cached; oneDNN picks the kernel for the CPU it runs on.
"""
import ctypes
import glob
import os
import sys
import threading
from collections import OrderedDict

import numpy as np

__all__ = ["available", "version", "takes", "conv_forward", "conv_backward_data", "conv_backward_weights", "set_num_threads"]

# -- the C API's constants (oneapi/dnnl/dnnl_types.h, dnnl_common_types.h; fixed across 3.x) --------------
_F32 = 3                       # dnnl_f32
_FORMAT_ANY = 1                # dnnl_format_tag_any: the primitive chooses
_CPU = 1                       # dnnl_cpu
_IN_ORDER = 1                  # dnnl_stream_in_order
_FORWARD_TRAINING, _FORWARD_INFERENCE = 64, 96
_BACKWARD_DATA, _BACKWARD_WEIGHTS = 160, 192
_CONVOLUTION_DIRECT = 1
_Q_SRC, _Q_DIFF_SRC, _Q_WEIGHTS, _Q_DIFF_WEIGHTS, _Q_DST, _Q_DIFF_DST = 129, 130, 131, 132, 133, 134
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS = 1, 17, 33, 41
_ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS = 129, 145, 161
_ARG_FROM, _ARG_TO = 1, 17     # a reorder's input and output

_Dims = ctypes.c_int64 * 12    # dnnl_dims_t
_Handle = ctypes.c_void_p


class _ExecArg(ctypes.Structure):   # dnnl_exec_arg_t
    _fields_ = [("arg", ctypes.c_int), ("memory", _Handle)]


class _OneDNN:
    """The loaded library with its CPU engine and stream."""

    def __init__(self, lib):
        self.lib = lib
        lib.dnnl_primitive_desc_query_md.restype = _Handle
        lib.dnnl_memory_desc_get_size.restype = ctypes.c_size_t
        self.engine, self.stream = _Handle(), _Handle()
        self.check(lib.dnnl_engine_create(ctypes.byref(self.engine), _CPU, ctypes.c_size_t(0)), "engine_create")
        self.check(lib.dnnl_stream_create(ctypes.byref(self.stream), self.engine, ctypes.c_uint(_IN_ORDER)),
                   "stream_create")

    @staticmethod
    def check(status, what):
        if status != 0:
            raise _Unsupported(f"oneDNN {what} returned status {status}")


class _Unsupported(Exception):
    """oneDNN refused (an unimplemented case): the caller falls back to the im2col path."""


_state = {"loaded": None, "tried": False, "threads": None}
_lock = threading.Lock()       # loading the library
_run_lock = threading.Lock()   # executing on the one stream


def _library_paths():
    """Where pip puts the wheel's libdnnl (its data files land in <prefix>/lib), then the loader's path."""
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(sys.executable)))):
        yield from sorted(glob.glob(os.path.join(prefix, "lib", "libdnnl.so.3*")))
    yield "libdnnl.so.3"


def _load():
    if _state["tried"]:
        return _state["loaded"]
    with _lock:
        if not _state["tried"]:
            # OpenMP threads that spin between convolutions take the cores from NumPy's OpenBLAS threads
            # (two pools on the same cores: 2-thread examples/mnist steps 1.3-1.7x slower); passive
            # waiting hands them back. Read once, when libgomp starts; a user's own setting wins.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            for path in _library_paths():
                try:
                    _state["loaded"] = _OneDNN(ctypes.CDLL(path))
                    break
                except (OSError, AttributeError, _Unsupported):
                    continue
            _state["tried"] = True
            if _state["loaded"] is not None and _state["threads"] is not None:
                _set_omp_threads(_state["threads"])
    return _state["loaded"]


def available():
    """Whether oneDNN could be loaded (the ``onednn-cpu-gomp`` wheel is installed and runs here)."""
    return _load() is not None


class _Version(ctypes.Structure):   # dnnl_version_t
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


def version():
    """oneDNN's version as "major.minor.patch", or None when it is not available."""
    dnnl = _load()
    if dnnl is None:
        return None
    dnnl.lib.dnnl_version.restype = ctypes.POINTER(_Version)
    v = dnnl.lib.dnnl_version().contents
    return f"{v.major}.{v.minor}.{v.patch}"


def set_num_threads(n):
    """Threads for oneDNN's OpenMP regions (ndgrad.set_num_threads calls this; applied once loaded)."""
    _state["threads"] = n
    if _state["loaded"] is not None:
        _set_omp_threads(n)


def _set_omp_threads(n):
    try:
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(ctypes.c_int(n))
    except (OSError, AttributeError):
        pass


# -- memory descriptors and primitives ------------------------------------------------------------------
def _dims(values):
    d = _Dims()
    for i, v in enumerate(values):
        d[i] = int(v)
    return d


class _Plan:
    """One convolution primitive with the reorders between the user's layouts and the ones it chose.

    ``user`` maps each argument to the plain descriptor of the user's array (shape and strides, float32);
    ``chosen`` to the primitive's own descriptor; ``reorders`` holds (argument, primitive) for the
    arguments whose layouts differ (inputs: user -> chosen; the output: chosen -> user)."""

    def __init__(self, dnnl, pd, user, queries, output):
        lib = dnnl.lib
        self.dnnl, self.output, self.user, self.chosen, self.reorders, self.sizes = dnnl, output, user, {}, {}, {}
        self._owned_mds = list(user.values())
        self._owned = [(lib.dnnl_primitive_desc_destroy, pd)]   # (destroy function, handle), in creation order
        self.primitive = _Handle()
        dnnl.check(lib.dnnl_primitive_create(ctypes.byref(self.primitive), pd), "primitive_create")
        self._owned.append((lib.dnnl_primitive_destroy, self.primitive))
        for arg, query in queries.items():
            md = _Handle(lib.dnnl_primitive_desc_query_md(pd, query, 0))
            self.chosen[arg] = md
            if arg in user and not lib.dnnl_memory_desc_equal(md, user[arg]):
                src, dst = (md, user[arg]) if arg == output else (user[arg], md)
                rpd = _Handle()
                dnnl.check(lib.dnnl_reorder_primitive_desc_create(ctypes.byref(rpd), src, dnnl.engine, dst,
                                                                   dnnl.engine, None), "reorder")
                self._owned.append((lib.dnnl_primitive_desc_destroy, rpd))
                prim = _Handle()
                dnnl.check(lib.dnnl_primitive_create(ctypes.byref(prim), rpd), "reorder primitive_create")
                self._owned.append((lib.dnnl_primitive_destroy, prim))
                self.reorders[arg] = prim
                self.sizes[arg] = lib.dnnl_memory_desc_get_size(md)

    def run(self, arrays):
        """Execute on ``arrays`` (argument -> float32 ndarray, the output's included) and wait."""
        lib, dnnl = self.dnnl.lib, self.dnnl
        memories, keep, args, back = [], [], [], None

        def memory(md, array):
            m = _Handle()
            dnnl.check(lib.dnnl_memory_create(ctypes.byref(m), md, dnnl.engine, _Handle(array.ctypes.data)),
                       "memory_create")
            memories.append(m)
            return m

        def execute(prim, pairs):
            exec_args = (_ExecArg * len(pairs))(*[_ExecArg(a, m) for a, m in pairs])
            dnnl.check(lib.dnnl_primitive_execute(prim, dnnl.stream, len(pairs), exec_args), "execute")

        with _run_lock:   # one stream: executions from two Python threads must not interleave
            try:
                for arg, array in arrays.items():
                    user_memory = memory(self.user[arg], array)
                    if arg not in self.reorders:
                        args.append((arg, user_memory))
                        continue
                    staging = np.empty(self.sizes[arg], np.uint8)   # the primitive's layout of this argument
                    keep.append(staging)
                    own_memory = memory(self.chosen[arg], staging)
                    args.append((arg, own_memory))
                    if arg != self.output:
                        execute(self.reorders[arg], [(_ARG_FROM, user_memory), (_ARG_TO, own_memory)])
                    else:
                        back = (self.reorders[arg], [(_ARG_FROM, own_memory), (_ARG_TO, user_memory)])
                execute(self.primitive, args)
                if back is not None:
                    execute(*back)
                dnnl.check(lib.dnnl_stream_wait(dnnl.stream), "stream_wait")
            finally:
                for m in memories:
                    lib.dnnl_memory_destroy(m)

    def __del__(self):
        lib = self.dnnl.lib
        for destroy, handle in reversed(self._owned):
            destroy(handle)
        for md in self._owned_mds:
            lib.dnnl_memory_desc_destroy(md)


def _plain(dnnl, array=None, shape=None):
    """A descriptor of ``array`` as it is in memory (any non-negative strides), or C-contiguous ``shape``."""
    if array is not None:
        shape, strides = array.shape, [s // array.itemsize for s in array.strides]
    else:
        strides, step = [], 1
        for n in reversed(shape):
            strides.insert(0, step)
            step *= max(n, 1)
    md = _Handle()
    dnnl.check(dnnl.lib.dnnl_memory_desc_create_with_strides(ctypes.byref(md), len(shape), _dims(shape), _F32,
                                                             _dims(strides)), "memory_desc_create")
    return md


class _AnyLayouts:
    """Descriptors that leave the layout to the primitive ("any"): oneDNN copies them into the primitive
    descriptor, so they are destroyed as soon as that is built."""

    def __init__(self, dnnl):
        self.dnnl, self.mds = dnnl, []

    def __call__(self, shape):
        md = _Handle()
        self.dnnl.check(self.dnnl.lib.dnnl_memory_desc_create_with_tag(ctypes.byref(md), len(shape), _dims(shape),
                                                                       _F32, _FORMAT_ANY), "memory_desc_create")
        self.mds.append(md)
        return md

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for md in self.mds:
            self.dnnl.lib.dnnl_memory_desc_destroy(md)


_CACHE_SIZE = 128
_plans = OrderedDict()   # key -> _Plan, or None where oneDNN refused that convolution


def _cached(key, build):
    plan = _plans.get(key, False)
    if plan is not False:
        _plans.move_to_end(key)
        return plan
    try:
        plan = build()
    except _Unsupported:
        plan = None
    _plans[key] = plan
    if len(_plans) > _CACHE_SIZE:
        _plans.popitem(last=False)
    return plan


# -- the convolution's geometry in oneDNN's terms -------------------------------------------------------
def _weights_shape(w_shape, groups):
    """oneDNN's weights dims: (G, O/G, C/G, *k) when grouped."""
    return w_shape if groups == 1 else (groups, w_shape[0] // groups) + tuple(w_shape[1:])


def _geometry(x_spatial, y_spatial, kernel, stride, pads, dilation):
    """(strides, dilates, padding_l, padding_r) for oneDNN, or None when the sizes do not fit its formula.

    The right padding is what the output size needs (as PyTorch passes it): a floor division in the
    user's output size, or conv_transpose's output_padding, leaves rows the convolution never reads."""
    pad_r = []
    for n, m, k, s, (lo, _), d in zip(x_spatial, y_spatial, kernel, stride, pads, dilation):
        right = (m - 1) * s + (k - 1) * d + 1 - n - lo
        if lo < 0 or right < -s:
            return None
        pad_r.append(right)
    return (_dims(stride), _dims([d - 1 for d in dilation]), _dims([lo for lo, _ in pads]), _dims(pad_r))


def takes(*arrays):
    """Whether oneDNN takes a convolution of these arrays (float32 NumPy, non-negative strides, not
    empty; loaded and enabled), shape checks aside."""
    if _state["tried"] and _state["loaded"] is None:
        return False
    from ..backends import mkldnn
    if not mkldnn.enabled:
        return False
    return all(type(a) is np.ndarray and a.dtype == np.float32 and a.size and min(a.strides) >= 0
               for a in arrays) and available()


def _layout_key(a):
    return a.shape, a.strides


def conv_forward(x, w, bias, kernel, stride, pads, dilation, groups, y_spatial, training):
    """y = conv(x, w) + bias as a C-contiguous (N, O, *out) float32 array, or None (use im2col)."""
    if not takes(x, w) or (bias is not None and not takes(bias)):
        return None
    if bias is not None:
        bias = np.ascontiguousarray(bias)   # oneDNN reads a bias as dense, whatever its descriptor says
    wg = w.reshape(_weights_shape(w.shape, groups))
    y_shape = (x.shape[0], w.shape[0]) + tuple(y_spatial)
    geometry = _geometry(x.shape[2:], y_spatial, kernel, stride, pads, dilation)
    if geometry is None:
        return None
    key = ("forward", training, _layout_key(x), _layout_key(wg), bias is not None, y_shape, stride, pads, dilation,
           groups)

    def build():
        dnnl = _load()
        user = {_ARG_SRC: _plain(dnnl, x), _ARG_WEIGHTS: _plain(dnnl, wg), _ARG_DST: _plain(dnnl, shape=y_shape)}
        bias_md = None
        if bias is not None:
            user[_ARG_BIAS] = bias_md = _plain(dnnl, bias)
        pd = _Handle()
        with _AnyLayouts(dnnl) as any_:
            dnnl.check(dnnl.lib.dnnl_convolution_forward_primitive_desc_create(
                ctypes.byref(pd), dnnl.engine, _FORWARD_TRAINING if training else _FORWARD_INFERENCE,
                _CONVOLUTION_DIRECT, any_(x.shape), any_(wg.shape), bias_md, any_(y_shape), *geometry, None),
                "convolution_forward_primitive_desc_create")
        return _Plan(dnnl, pd, user, {_ARG_SRC: _Q_SRC, _ARG_WEIGHTS: _Q_WEIGHTS, _ARG_DST: _Q_DST}, _ARG_DST)

    arrays = {_ARG_SRC: x, _ARG_WEIGHTS: wg}
    if bias is not None:
        arrays[_ARG_BIAS] = bias
    return _run(key, build, arrays, _ARG_DST, y_shape)


def _forward_hint(dnnl, x_shape, wg_shape, y_shape, geometry):
    """The forward primitive descriptor a backward one is built against (oneDNN requires one)."""
    pd = _Handle()
    with _AnyLayouts(dnnl) as any_:
        dnnl.check(dnnl.lib.dnnl_convolution_forward_primitive_desc_create(
            ctypes.byref(pd), dnnl.engine, _FORWARD_TRAINING, _CONVOLUTION_DIRECT, any_(x_shape), any_(wg_shape),
            None, any_(y_shape), *geometry, None), "forward hint")
    return pd


def _backward_primitive_desc(dnnl, kind, x_shape, wg_shape, y_shape, geometry):
    """The primitive descriptor of the input ("data") or weight ("weights") gradient."""
    lib = dnnl.lib
    hint = _forward_hint(dnnl, x_shape, wg_shape, y_shape, geometry)
    try:
        pd = _Handle()
        with _AnyLayouts(dnnl) as any_:
            if kind == "data":
                status = lib.dnnl_convolution_backward_data_primitive_desc_create(
                    ctypes.byref(pd), dnnl.engine, _CONVOLUTION_DIRECT, any_(x_shape), any_(wg_shape),
                    any_(y_shape), *geometry, hint, None)
            else:   # no bias gradient here: ndgrad sums it itself
                status = lib.dnnl_convolution_backward_weights_primitive_desc_create(
                    ctypes.byref(pd), dnnl.engine, _CONVOLUTION_DIRECT, any_(x_shape), any_(wg_shape), None,
                    any_(y_shape), *geometry, hint, None)
            dnnl.check(status, f"convolution backward {kind} primitive_desc_create")
    finally:
        lib.dnnl_primitive_desc_destroy(hint)
    return pd


def _run(key, build, arrays, output, output_shape):
    """Run the cached plan for ``key`` (built by ``build`` the first time) into a new float32 array
    ``arrays[output]`` of ``output_shape``; None when oneDNN refused this convolution."""
    plan = _cached(key, build)
    if plan is None:
        return None
    arrays[output] = out = np.empty(output_shape, np.float32)
    try:
        plan.run(arrays)
    except _Unsupported:   # an execution oneDNN refused: the im2col path computes it instead
        return None
    return out


def conv_backward_data(gy, w, x_shape, kernel, stride, pads, dilation, groups):
    """The input gradient (conv_transpose) as a C-contiguous float32 array of ``x_shape``, or None."""
    if not takes(gy, w):
        return None
    wg = w.reshape(_weights_shape(w.shape, groups))
    x_shape = tuple(x_shape)
    geometry = _geometry(x_shape[2:], gy.shape[2:], kernel, stride, pads, dilation)
    if geometry is None:
        return None

    def build():
        dnnl = _load()
        user = {_ARG_DIFF_DST: _plain(dnnl, gy), _ARG_WEIGHTS: _plain(dnnl, wg),
                _ARG_DIFF_SRC: _plain(dnnl, shape=x_shape)}
        pd = _backward_primitive_desc(dnnl, "data", x_shape, wg.shape, gy.shape, geometry)
        return _Plan(dnnl, pd, user, {_ARG_DIFF_DST: _Q_DIFF_DST, _ARG_WEIGHTS: _Q_WEIGHTS,
                                      _ARG_DIFF_SRC: _Q_DIFF_SRC}, _ARG_DIFF_SRC)

    key = ("backward_data", _layout_key(gy), _layout_key(wg), x_shape, stride, pads, dilation, groups)
    return _run(key, build, {_ARG_DIFF_DST: gy, _ARG_WEIGHTS: wg}, _ARG_DIFF_SRC, x_shape)


def conv_backward_weights(x, gy, w_shape, kernel, stride, pads, dilation, groups):
    """The weight gradient as a C-contiguous float32 array of ``w_shape``, or None."""
    if not takes(x, gy):
        return None
    wg_shape = _weights_shape(tuple(w_shape), groups)
    geometry = _geometry(x.shape[2:], gy.shape[2:], kernel, stride, pads, dilation)
    if geometry is None:
        return None

    def build():
        dnnl = _load()
        user = {_ARG_SRC: _plain(dnnl, x), _ARG_DIFF_DST: _plain(dnnl, gy),
                _ARG_DIFF_WEIGHTS: _plain(dnnl, shape=wg_shape)}
        pd = _backward_primitive_desc(dnnl, "weights", x.shape, wg_shape, gy.shape, geometry)
        return _Plan(dnnl, pd, user, {_ARG_SRC: _Q_SRC, _ARG_DIFF_DST: _Q_DIFF_DST,
                                      _ARG_DIFF_WEIGHTS: _Q_DIFF_WEIGHTS}, _ARG_DIFF_WEIGHTS)

    key = ("backward_weights", _layout_key(x), _layout_key(gy), wg_shape, stride, pads, dilation, groups)
    gw = _run(key, build, {_ARG_SRC: x, _ARG_DIFF_DST: gy}, _ARG_DIFF_WEIGHTS, wg_shape)
    return None if gw is None else gw.reshape(tuple(w_shape))

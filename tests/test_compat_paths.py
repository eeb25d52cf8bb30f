"""The names real PyTorch programs touch in their first lines, against torch 2.13.

accelerator, jit / compile (eager), backends.*, global switches, torch.nn.modules.<file> paths,
nn.parallel.DataParallel, Tensor flags and introspection, and the legacy constructors.
"""
import importlib
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from oracle import check_error, to_numpy


# --- accelerator -------------------------------------------------------------------------------

def test_accelerator_reports_like_torch_on_this_machine():
    # Neither library sees a GPU here (torch is the CPU build; ndgrad has no CuPy GPU) or both do.
    gpu = ndgrad.cuda.is_available()
    assert ndgrad.accelerator.is_available() == gpu
    assert ndgrad.accelerator.device_count() == ndgrad.cuda.device_count()
    if not gpu:
        assert torch.accelerator.current_accelerator() is None
        assert ndgrad.accelerator.current_accelerator() is None
        assert ndgrad.accelerator.current_accelerator(check_available=True) is None
        for name in ("current_device_index", "synchronize", "empty_cache"):
            check_error(getattr(ndgrad.accelerator, name), "none is available", RuntimeError,
                        torch_fn=getattr(torch.accelerator, name))
        check_error(lambda: ndgrad.accelerator.set_device_index(0), "none is available", RuntimeError,
                    torch_fn=lambda: torch.accelerator.set_device_index(0))
    else:
        dev = ndgrad.accelerator.current_accelerator()
        assert dev.type == "cuda" and ndgrad.accelerator.current_device_index() == dev.index


def test_accelerator_idiom_from_pytorch_examples():
    use = ndgrad.accelerator.is_available()
    device = ndgrad.accelerator.current_accelerator() if use else ndgrad.device("cpu")
    x = ndgrad.ones(2, device=device)
    assert x.device == device


# --- jit and compile -----------------------------------------------------------------------------

def _double(x):
    return x * 2


@pytest.mark.filterwarnings("ignore:.*jit.script. is deprecated")
@pytest.mark.parametrize("wrap", [
    lambda f: ndgrad.jit.script(f),
    lambda f: ndgrad.jit.trace(f, ndgrad.ones(2)),
    lambda f: ndgrad.compile(f),
    lambda f: ndgrad.compile(f, fullgraph=True, dynamic=False, backend="inductor", mode="max-autotune"),
    lambda f: ndgrad.compile(f, options={"triton.cudagraphs": False}),
    lambda f: ndgrad.compile(mode="reduce-overhead")(f),
    lambda f: ndgrad.compile()(f),
    lambda f: ndgrad.compile(f, disable=True),
])
def test_jit_and_compile_return_the_callable(wrap):
    assert wrap(_double) is _double


def test_compile_as_a_decorator_and_on_modules():
    @ndgrad.compile
    def f(x):
        return x + 1

    @ndgrad.compile(dynamic=True)
    def g(x):
        return x - 1

    assert f(ndgrad.ones(1)).item() == 2 and g(ndgrad.ones(1)).item() == 0
    model = ndgrad.nn.Linear(2, 2)
    assert ndgrad.compile(model) is model
    with pytest.warns(DeprecationWarning, match="jit.script. is deprecated"):  # as torch 2.13 warns
        assert ndgrad.jit.script(model) is model


def test_compile_rejects_what_torch_rejects():
    check_error(lambda: ndgrad.compile(_double, mode="bad"), "Unrecognized mode=bad", RuntimeError,
                torch_fn=lambda: torch.compile(_double, mode="bad"))
    check_error(lambda: ndgrad.compile(_double, mode="default", options={}), "Either mode or options",
                RuntimeError, torch_fn=lambda: torch.compile(_double, mode="default", options={}))


def test_jit_decorators_and_flags():
    jit = ndgrad.jit
    assert jit.is_scripting() is False and jit.is_tracing() is False

    @jit.ignore
    def a(x):
        return x

    @jit.ignore(drop=True)
    def b(x):
        return x

    assert a(1) == 1 and b(2) == 2
    assert jit.export(_double) is _double and jit.unused(_double) is _double
    assert jit.annotate(int, 3) == 3 and jit.Final[int] is int
    assert jit.wait(jit.fork(_double, 4)) == 8
    assert issubclass(jit.ScriptModule, ndgrad.nn.Module)
    assert not isinstance(ndgrad.nn.Linear(1, 1), jit.ScriptModule)

    class Old(jit.ScriptModule):  # old-style scripted modules run eagerly
        def __init__(self):
            super().__init__()
            self.lin = ndgrad.nn.Linear(2, 1)

        @jit.script_method
        def forward(self, x):
            return self.lin(x)

    assert Old()(ndgrad.ones(1, 2)).shape == (1, 1)


def test_jit_save_and_load_whole_modules(tmp_path):
    model = ndgrad.nn.Sequential(ndgrad.nn.Linear(2, 3), ndgrad.nn.Tanh())
    ndgrad.jit.save(model, tmp_path / "m.pt")
    loaded = ndgrad.jit.load(tmp_path / "m.pt", map_location="cpu")
    x = ndgrad.randn(4, 2)
    np.testing.assert_array_equal(to_numpy(loaded(x).detach()), to_numpy(model(x).detach()))


# --- backends and global switches ---------------------------------------------------------------

def test_backends_switches_read_and_write():
    cudnn = ndgrad.backends.cudnn
    assert cudnn.is_available() == (cudnn.version() is not None)   # True once ndgrad[cudnn] is installed on a GPU
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    cudnn.benchmark = True
    assert ndgrad.backends.cudnn.benchmark is True
    cudnn.benchmark = False
    with cudnn.flags(enabled=False, deterministic=True):
        assert not cudnn.enabled and cudnn.deterministic
    assert cudnn.enabled and not cudnn.deterministic
    for lib in (torch, ndgrad):  # flags() sets every setting it names, to PyTorch's defaults when not given
        lib.backends.cudnn.benchmark = True
        with lib.backends.cudnn.flags(enabled=True):
            assert lib.backends.cudnn.benchmark is False
        assert lib.backends.cudnn.benchmark is True
        lib.backends.cudnn.benchmark = False
    assert ndgrad.backends.mps.is_available() is False and ndgrad.backends.mps.is_built() is False
    matmul = ndgrad.backends.cuda.matmul
    assert matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    matmul.allow_tf32 = True
    assert ndgrad.backends.cuda.matmul.allow_tf32 is True
    matmul.allow_tf32 = False
    assert isinstance(ndgrad.backends.cuda.is_built(), bool)
    assert isinstance(ndgrad.backends.mkldnn.is_available(), bool)
    assert isinstance(ndgrad.backends.openmp.is_available(), bool)
    assert isinstance(ndgrad.backends.mkl.is_available(), bool)


def test_deterministic_and_matmul_precision_switches():
    assert ndgrad.are_deterministic_algorithms_enabled() is False
    ndgrad.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert ndgrad.are_deterministic_algorithms_enabled() and ndgrad.is_deterministic_algorithms_warn_only_enabled()
        assert ndgrad.get_deterministic_debug_mode() == 1
    finally:
        ndgrad.use_deterministic_algorithms(False)
    check_error(lambda: ndgrad.use_deterministic_algorithms(1), "bool", TypeError,
                torch_fn=lambda: torch.use_deterministic_algorithms(1))
    assert ndgrad.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    ndgrad.set_float32_matmul_precision("high")
    assert ndgrad.get_float32_matmul_precision() == "high"
    ndgrad.set_float32_matmul_precision("highest")
    check_error(lambda: ndgrad.set_float32_matmul_precision("bad"), "highest", ValueError)


def test_num_threads():
    n = ndgrad.get_num_threads()
    assert isinstance(n, int) and n >= 1
    ndgrad.set_num_threads(1)
    assert ndgrad.get_num_threads() == 1
    ndgrad.set_num_threads(n)
    assert ndgrad.get_num_threads() == n
    check_error(lambda: ndgrad.set_num_threads(0), "positive integer", RuntimeError,
                torch_fn=lambda: torch.set_num_threads(0))
    assert ndgrad.get_num_interop_threads() >= 1


# --- torch.nn.modules.<file> paths ---------------------------------------------------------------

MODULE_PATHS = [
    ("module", "Module"), ("container", "Sequential"), ("container", "ModuleList"), ("linear", "Linear"),
    ("linear", "Identity"), ("conv", "Conv2d"), ("conv", "ConvTranspose2d"), ("pooling", "MaxPool2d"),
    ("pooling", "AdaptiveAvgPool2d"), ("normalization", "LayerNorm"), ("batchnorm", "BatchNorm2d"),
    ("dropout", "Dropout"), ("dropout", "AlphaDropout"), ("sparse", "Embedding"), ("activation", "ReLU"),
    ("activation", "MultiheadAttention"), ("loss", "CrossEntropyLoss"), ("loss", "MSELoss"), ("rnn", "LSTM"),
    ("rnn", "GRU"), ("transformer", "TransformerEncoderLayer"), ("flatten", "Flatten"),
]


@pytest.mark.parametrize("file,name", MODULE_PATHS)
def test_nn_modules_paths_resolve_to_ndgrad_nn(file, name):
    module = importlib.import_module(f"ndgrad.nn.modules.{file}")
    assert getattr(module, name) is getattr(ndgrad.nn, name)
    assert getattr(ndgrad.nn.modules, name) is getattr(ndgrad.nn, name)
    assert name in module.__all__ and name in dir(module)
    assert name in getattr(importlib.import_module(f"torch.nn.modules.{file}"), "__all__")


def test_nn_modules_from_import_and_base_classes():
    from ndgrad.nn.modules.batchnorm import _BatchNorm  # programs import torch's private bases too
    from ndgrad.nn.modules.conv import _ConvNd
    from ndgrad.nn.modules.linear import Linear
    assert Linear is ndgrad.nn.Linear
    assert isinstance(ndgrad.nn.BatchNorm2d(2), _BatchNorm) and isinstance(ndgrad.nn.Conv2d(1, 1, 1), _ConvNd)
    assert ndgrad.nn.modules.conv is importlib.import_module("ndgrad.nn.modules.conv")
    with pytest.raises(ImportError):
        exec("from ndgrad.nn.modules.linear import NoSuchLayer")
    check_error(lambda: ndgrad.nn.modules.loss.NoSuchLoss, "NoSuchLoss", AttributeError)


def test_every_file_lists_only_names_that_exist():
    for file in ndgrad.nn.modules.FILES:
        module = importlib.import_module(f"ndgrad.nn.modules.{file}")
        for name in module.__all__:
            assert getattr(module, name) is not None


# --- DataParallel ---------------------------------------------------------------------------------

def test_data_parallel_is_a_pass_through_with_torchs_state_dict_layout():
    t_model = torch.nn.DataParallel(torch.nn.Linear(3, 2).double())
    n_model = ndgrad.nn.DataParallel(ndgrad.nn.Linear(3, 2).double())
    assert ndgrad.nn.parallel.DataParallel is ndgrad.nn.DataParallel
    assert list(n_model.state_dict()) == list(t_model.state_dict()) == ["module.weight", "module.bias"]
    n_model.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in t_model.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(4, 3))
    t_out = t_model(torch.tensor(x))
    n_out = n_model(ndgrad.tensor(x))
    np.testing.assert_allclose(to_numpy(n_out), t_out.detach().numpy(), rtol=1e-12)
    t_out.sum().backward()
    n_out.sum().backward()
    np.testing.assert_allclose(to_numpy(n_model.module.weight.grad), t_model.module.weight.grad.numpy())
    assert isinstance(n_model.module, ndgrad.nn.Linear) and n_model.device_ids == t_model.device_ids
    assert repr(n_model) == repr(t_model).replace("torch", "ndgrad")
    out = ndgrad.nn.parallel.data_parallel(n_model.module, ndgrad.tensor(x))
    np.testing.assert_allclose(to_numpy(out), t_out.detach().numpy(), rtol=1e-12)
    check_error(lambda: ndgrad.nn.DataParallel(lambda x: x), "nn.Module", TypeError)


# --- Tensor flags and introspection ----------------------------------------------------------------

FLAG_CASES = [
    ((2, 3), "float32"), ((), "float64"), ((0, 4), "int64"), ((3,), "uint8"), ((2,), "bool"), ((2, 2), "int8"),
    ((1,), "float16"),
]


@pytest.mark.parametrize("shape,dtype", FLAG_CASES)
def test_flags_match_torch(shape, dtype):
    t = torch.zeros(shape, dtype=getattr(torch, dtype))
    n = ndgrad.zeros(shape, dtype=getattr(ndgrad, dtype))
    for name in ("is_cpu", "is_cuda", "is_xpu", "is_mps", "is_sparse", "is_sparse_csr", "is_quantized", "is_meta",
                 "is_mkldnn", "is_nested", "is_leaf", "ndim", "output_nr", "name"):
        assert getattr(n, name) == getattr(t, name), name
    for name in ("is_complex", "is_signed", "is_inference", "is_floating_point", "is_conj", "is_neg",
                 "is_pinned", "is_shared", "get_device", "dim", "storage_offset", "dim_order", "is_contiguous"):
        assert getattr(n, name)() == getattr(t, name)(), name
    assert n.layout is ndgrad.strided and repr(n.layout) == "ndgrad.strided"
    assert n.is_same_size(ndgrad.zeros(shape)) and not n.is_same_size(ndgrad.zeros((7,)))


def test_view_introspection_matches_torch():
    t = torch.arange(12.0).reshape(3, 4)
    n = ndgrad.arange(12.0).reshape(3, 4)
    for f in (lambda x: x[1], lambda x: x[:, 1:], lambda x: x.t(), lambda x: x[1:, ::2]):
        assert f(n).storage_offset() == f(t).storage_offset()
        assert f(n).dim_order() == f(t).dim_order()
        assert f(n).is_contiguous() == f(t).is_contiguous()
    assert n.pin_memory() is n and n.share_memory_() is n


def test_is_nonzero_matches_torch():
    assert ndgrad.tensor(1.0).is_nonzero() and not ndgrad.tensor([0]).is_nonzero()
    check_error(lambda: ndgrad.zeros(2).is_nonzero(), "more than one value", RuntimeError,
                torch_fn=lambda: torch.zeros(2).is_nonzero())
    check_error(lambda: ndgrad.zeros(0).is_nonzero(), "no values", RuntimeError,
                torch_fn=lambda: torch.zeros(0).is_nonzero())


def test_every_is_flag_of_torch_tensor_exists():
    flags = [n for n in dir(torch.Tensor) if n.startswith("is_") and n not in ("is_set_to", "is_coalesced")]
    missing = [n for n in flags if not hasattr(ndgrad.Tensor, n)]
    assert missing == []


# --- legacy constructors ---------------------------------------------------------------------------

LEGACY_CALLS = [
    ("Tensor", ()), ("Tensor", (2, 3)), ("Tensor", (3,)), ("Tensor", (0,)), ("Tensor", ([1, 2],)),
    ("Tensor", ([[1.5, 2.0], [3.0, 4.0]],)), ("Tensor", ((2, 3),)), ("Tensor", ([],)),
    ("Tensor", (np.array([1, 2]),)), ("Tensor", (np.array([1.0, 2.0]),)),
    ("FloatTensor", ([1, 2],)), ("FloatTensor", (2, 2)), ("DoubleTensor", ([1, 2],)), ("HalfTensor", (3,)),
    ("LongTensor", ([1, 2],)), ("LongTensor", (4,)), ("IntTensor", ([1, -2],)), ("ShortTensor", ([3],)),
    ("CharTensor", ([-1],)), ("ByteTensor", ([1, 255],)), ("BoolTensor", ([1, 0],)), ("BoolTensor", (2,)),
    ("BFloat16Tensor", (2,)), ("LongTensor", ()), ("FloatTensor", (np.array([1, 2]),)),
    ("LongTensor", (np.array([1.7, 2.0]),)),
]


@pytest.mark.parametrize("name,args", LEGACY_CALLS)
def test_legacy_constructors_match_torch(name, args):
    t = getattr(torch, name)(*args)
    n = getattr(ndgrad, name)(*args)
    assert isinstance(n, ndgrad.Tensor)
    assert tuple(n.shape) == tuple(t.shape)
    assert str(n.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    if args and isinstance(args[0], (list, tuple, np.ndarray)):
        np.testing.assert_array_equal(to_numpy(n).astype(np.float64), t.float().numpy().astype(np.float64))
    assert isinstance(n, getattr(ndgrad, t.type().split(".")[-1]))


def test_legacy_constructor_with_a_size_and_a_tensor():
    assert tuple(ndgrad.Tensor(ndgrad.Size([2, 3])).shape) == tuple(torch.Tensor(torch.Size([2, 3])).shape)
    base = ndgrad.zeros(3)
    alias = ndgrad.Tensor(base)
    alias.add_(1)
    assert base.tolist() == [1.0, 1.0, 1.0] and alias.data_ptr() == base.data_ptr()
    ints = ndgrad.Tensor(ndgrad.arange(3))  # torch keeps the tensor's own dtype here
    assert ints.dtype == ndgrad.int64 and torch.Tensor(torch.arange(3)).dtype == torch.int64
    assert tuple(ndgrad.Tensor(2, 3, device="cpu").shape) == (2, 3)


def test_legacy_constructor_follows_the_default_dtype():
    ndgrad.set_default_dtype(ndgrad.float64)
    try:
        assert ndgrad.Tensor([1]).dtype == ndgrad.float64 and ndgrad.Tensor(2).dtype == ndgrad.float64
        assert ndgrad.FloatTensor([1]).dtype == ndgrad.float32
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)


def test_legacy_constructor_errors():
    check_error(lambda: ndgrad.Tensor(2.5), "must be a sequence", TypeError, torch_fn=lambda: torch.Tensor(2.5))
    check_error(lambda: ndgrad.Tensor(None), "must be a sequence", TypeError, torch_fn=lambda: torch.Tensor(None))
    check_error(lambda: ndgrad.Tensor("ab"), "invalid data type 'str'", TypeError,
                torch_fn=lambda: torch.Tensor("ab"))
    check_error(lambda: ndgrad.LongTensor(ndgrad.zeros(2)), "dtype", TypeError,
                torch_fn=lambda: torch.LongTensor(torch.zeros(2)))
    check_error(lambda: ndgrad.Tensor(2, -1), "negative dimension", RuntimeError,
                torch_fn=lambda: torch.Tensor(2, -1))


def test_isinstance_with_legacy_types_and_type_strings():
    f = ndgrad.zeros(2)
    assert isinstance(f, ndgrad.FloatTensor) and not isinstance(f, ndgrad.LongTensor)
    assert isinstance(f.long(), ndgrad.LongTensor) and isinstance(f, ndgrad.Tensor)
    assert not isinstance(3, ndgrad.FloatTensor)
    assert f.type() == "ndgrad.FloatTensor" and f.long().type() == "ndgrad.LongTensor"
    assert f.type(ndgrad.LongTensor).dtype == ndgrad.int64
    assert f.type("torch.DoubleTensor").dtype == ndgrad.float64
    assert f.type(ndgrad.int32).dtype == ndgrad.int32
    # the GPU variants exist as in torch.cuda; a CPU tensor is not one of them
    assert not isinstance(f, ndgrad.cuda.FloatTensor) and not isinstance(f, torch.cuda.FloatTensor)
    assert repr(ndgrad.cuda.LongTensor) == "<class 'ndgrad.cuda.LongTensor'>"


def test_tensor_keyword_constructor_inside_ndgrad_keeps_working():
    t = ndgrad.Tensor([1, 2], dtype=ndgrad.int32)
    assert t.dtype == ndgrad.int32 and t.tolist() == [1, 2]
    assert ndgrad.Tensor([1.0], requires_grad=True).requires_grad
    p = ndgrad.nn.Parameter(ndgrad.ones(2))
    assert isinstance(p, ndgrad.Tensor) and p.requires_grad


def test_no_warnings_on_plain_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ndgrad.Tensor(2, 2)
        ndgrad.LongTensor([1])


# --- on a GPU (skipped without one) ------------------------------------------------------------------

@pytest.mark.cuda
def test_gpu_paths_of_this_issue():
    dev = ndgrad.accelerator.current_accelerator()
    assert dev.type == "cuda" and ndgrad.accelerator.is_available()
    ndgrad.accelerator.synchronize()
    x = ndgrad.Tensor(2, 3, device="cuda")
    assert x.is_cuda and not x.is_cpu and x.get_device() == dev.index and not isinstance(x, ndgrad.FloatTensor)
    model = ndgrad.nn.DataParallel(ndgrad.nn.Linear(3, 1).to("cuda"))
    assert model(ndgrad.ones(2, 3)).is_cuda  # inputs follow the module to device_ids[0], as in torch
    a = ndgrad.arange(12.0).reshape(3, 4).to("cuda").requires_grad_()
    picked = a[range(3), np.array([0, 3, 1])]
    picked.sum().backward()
    assert to_numpy(a.grad).sum() == 3.0 and to_numpy(picked).tolist() == [0.0, 7.0, 9.0]
    dropped = ndgrad.nn.Dropout2d(0.5)(ndgrad.ones(2, 4, 3, 3, device="cuda"))
    assert dropped.is_cuda
    alpha = ndgrad.nn.AlphaDropout(0.5)(ndgrad.ones(5, device="cuda"))
    assert alpha.is_cuda
    g = ndgrad.cuda.FloatTensor(2, 3)
    assert g.is_cuda and isinstance(g, ndgrad.cuda.FloatTensor) and g.type() == "ndgrad.cuda.FloatTensor"
    moved = ndgrad.zeros(2).type(ndgrad.cuda.LongTensor)
    assert moved.is_cuda and moved.dtype == ndgrad.int64 and isinstance(moved, ndgrad.cuda.LongTensor)


def test_set_default_tensor_type_typename_is_storage():
    with pytest.warns(UserWarning, match="deprecated"):
        ndgrad.set_default_tensor_type(ndgrad.DoubleTensor)
    try:
        assert ndgrad.get_default_dtype() == ndgrad.float64 and ndgrad.Tensor(1).dtype == ndgrad.float64
        with pytest.warns(UserWarning):
            ndgrad.set_default_tensor_type("torch.FloatTensor")
        assert ndgrad.get_default_dtype() == ndgrad.float32
        with pytest.warns(UserWarning):
            check_error(lambda: ndgrad.set_default_tensor_type(ndgrad.LongTensor), "floating-point", TypeError,
                        torch_fn=lambda: torch.set_default_tensor_type(torch.LongTensor))
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)
    assert ndgrad.typename(ndgrad.zeros(2)) == "ndgrad.FloatTensor" and ndgrad.typename(3) == torch.typename(3)
    assert ndgrad.is_storage(ndgrad.zeros(2)) is torch.is_storage(torch.zeros(2)) is False


# --- dropout layers: other ranks, alpha dropout -------------------------------------------------------

DROPOUT_CLASSES = ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


def _outcome(lib, name, ndim):
    """('ok', shape, warned) or (error type, message start, warned) for one call in training mode."""
    x = lib.ones(*([2] * ndim)) if ndim else lib.ones(())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = ("ok", tuple(getattr(lib.nn, name)(0.5)(x).shape))
        except Exception as e:
            out = (type(e).__name__, str(e)[:30])
    return out + (any(issubclass(w.category, UserWarning) for w in caught),)


@pytest.mark.parametrize("name", DROPOUT_CLASSES)
@pytest.mark.parametrize("ndim", range(7))
def test_dropout_ranks_warn_and_fall_back_as_torch(name, ndim):
    assert _outcome(ndgrad, name, ndim) == _outcome(torch, name, ndim)


@pytest.mark.parametrize("name,shape,channel_dims", [
    ("Dropout1d", (6, 5, 4), 2), ("Dropout1d", (5, 4), 1), ("Dropout2d", (6, 5, 3, 3), 2),
    ("Dropout2d", (6, 5, 4), 2), ("Dropout3d", (3, 4, 2, 2, 2), 2), ("Dropout3d", (4, 2, 2, 2), 1),
    ("FeatureAlphaDropout", (6, 5, 3), 2),
])
def test_channel_dropout_drops_whole_channels_with_torchs_values(name, shape, channel_dims):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = ndgrad.ones(*shape, requires_grad=True)
        out = getattr(ndgrad.nn, name)(0.4)(x)
        t_out = getattr(torch.nn, name)(0.4)(torch.ones(*shape))
    values = to_numpy(out).reshape(int(np.prod(shape[:channel_dims])), -1)
    assert np.all(values == values[:, :1])  # one draw per channel
    assert set(np.unique(values).round(6)) <= set(np.unique(t_out.numpy()).round(6))
    out.sum().backward()
    assert np.all(to_numpy(x.grad).reshape(values.shape) == to_numpy(x.grad).reshape(values.shape)[:, :1])


@pytest.mark.parametrize("name", ["AlphaDropout", "FeatureAlphaDropout"])
def test_alpha_dropout_keeps_selu_statistics_like_torch(name):
    a = np.random.default_rng(0).normal(size=(4000, 8, 2))
    n_out = to_numpy(getattr(ndgrad.nn, name)(0.2)(ndgrad.tensor(a)))
    t_out = getattr(torch.nn, name)(0.2)(torch.tensor(a)).numpy()
    for stat in (np.mean, np.std):
        assert abs(stat(n_out) - stat(t_out)) < 0.05
    ones_n = np.unique(to_numpy(getattr(ndgrad.nn, name)(0.2)(ndgrad.ones(50, 8, 2, dtype=ndgrad.float64))))
    ones_t = np.unique(getattr(torch.nn, name)(0.2)(torch.ones(50, 8, 2, dtype=torch.float64)).numpy())
    np.testing.assert_allclose(ones_n, ones_t, rtol=1e-12)  # the kept and the dropped values


NATURAL_SHAPE = {"Dropout1d": (2, 3, 4), "Dropout2d": (2, 3, 4, 4), "Dropout3d": (2, 3, 2, 2, 2),
                 "AlphaDropout": (2, 3, 4), "FeatureAlphaDropout": (2, 3, 4, 4)}
FUNCTIONAL = {"Dropout1d": "dropout1d", "Dropout2d": "dropout2d", "Dropout3d": "dropout3d",
              "AlphaDropout": "alpha_dropout", "FeatureAlphaDropout": "feature_alpha_dropout"}


@pytest.mark.parametrize("name", DROPOUT_CLASSES)
def test_dropout_eval_p0_p1_and_inplace_match_torch(name):
    shape = NATURAL_SHAPE[name]
    x = ndgrad.ones(*shape)
    layer = getattr(ndgrad.nn, name)(0.5)
    layer.eval()
    assert layer(x) is x
    assert getattr(ndgrad.nn, name)(0.0)(x) is x
    assert not np.any(to_numpy(getattr(ndgrad.nn, name)(1.0)(x)))
    assert not np.any(getattr(torch.nn, name)(1.0)(torch.ones(*shape)).numpy())
    check_error(lambda: getattr(ndgrad.nn, name)(1.5), "between 0 and 1", ValueError,
                torch_fn=lambda: getattr(torch.nn, name)(1.5))
    y = ndgrad.ones(*shape)
    out = getattr(ndgrad.nn.functional, FUNCTIONAL[name])(y, 0.5, True, inplace=True)
    assert out is y and set(np.unique(to_numpy(y))) != {1.0}

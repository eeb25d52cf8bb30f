"""How much of PyTorch's public API ndgrad has, namespace by namespace.

Run with PyTorch installed (the test extra): ``python scripts/api_coverage.py``
prints one line per namespace; ``--missing`` also lists the names ndgrad lacks;
``--markdown`` prints the table for the README.

What counts as PyTorch's public API: the names of ``dir(namespace)`` that do not
start with an underscore and are of the namespace's kind (functions for
``torch`` and ``nn.functional``, classes for ``nn``, ``optim`` and
``optim.lr_scheduler``, methods and properties for ``Tensor``). Some of those
names are deliberately out of scope: each group of exclusions below says why.
Everything else is in scope, and a name counts as covered when ndgrad has it
at the same place.
"""
import argparse
import fnmatch
import inspect
import types

import torch
import torch.nn.functional
import torch.optim.lr_scheduler
import torch.utils.data

import ndgrad
import ndgrad.nn
import ndgrad.nn.functional
import ndgrad.optim
import ndgrad.optim.lr_scheduler
import ndgrad.utils.data

# Reasons shared by several namespaces, each with the shell patterns of the names it covers.
QUANTIZATION = ("quantization (out of scope for ndgrad)",
                ["quantize*", "dequantize", "fake_quantize*", "q_*", "int_repr", "fbgemm_*", "quantized_*",
                 "choose_qparams*", "empty_quantized", "fused_moving_avg_obs_fake_quant", "qscheme",
                 "is_quantized"])
COMPRESSED_SPARSE = ("CSR/CSC/BSR/BSC sparse layouts (out of scope; COO is supported)",
                     ["sparse_csr_tensor", "sparse_csc_tensor", "sparse_bsr_tensor", "sparse_bsc_tensor",
                      "sparse_compressed_tensor", "*crow_indices*", "*ccol_indices*", "col_indices*",
                      "row_indices*", "to_sparse_csr", "to_sparse_csc", "to_sparse_bsr", "to_sparse_bsc",
                      "resize_as_sparse_", "sparse_resize_*", "sspaddmm", "smm", "hspmm", "saddmm", "dsmm",
                      "hsmm", "to_mkldnn"])
REMOVED_FROM_TORCH = ("removed from PyTorch (since 1.9 they only raise, pointing at torch.linalg)",
                      ["eig", "symeig", "lstsq", "solve", "matrix_rank"])
NO_COMPLEX32 = ("complex32 (`chalf`): NumPy and CuPy have no 32-bit complex dtype", ["chalf"])
VIEW_COPIES = ("``*_copy`` twins of view ops, made for graph compilers' functionalisation",
               ["alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy", "indices_copy",
                "permute_copy", "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy",
                "squeeze_copy", "t_copy", "transpose_copy", "unbind_copy", "unfold_copy", "unsqueeze_copy",
                "values_copy", "view_copy", "slice_inverse"])
COMPILER = ("TorchScript, FX, symbolic shapes and compiler internals (jit/compile run eagerly in ndgrad)",
            ["import_ir_module*", "parse_ir", "parse_schema", "parse_type_comment", "merge_type_from_type_comment",
             "unify_type_list", "fork", "wait", "compiled_with_cxx11_abi", "classproperty", "get_file_path",
             "sym_*", "cond", "while_loop", "vmap", "is_storage", "prepare_multiprocessing_environment",
             "profiler_allow_cudagraph_cupti_lazy_reinit_cuda12", "typename", "thread_safe_generator",
             "from_file", "nonzero_static", "segment_reduce"])
OTHER_DEVICES = ("devices other than CPU and CUDA (Vulkan, IPU, XLA, HPU, MTIA, XPU, MPS)",
                 ["is_vulkan_available", "*_ipu_*", "*_xla_*", "*_hpu_*", "get_autocast_ipu_dtype",
                  "get_autocast_xla_dtype", "set_autocast_ipu_*", "set_autocast_xla_*", "is_autocast_ipu_enabled",
                  "is_autocast_xla_enabled", "xpu", "is_xla", "is_ipu", "is_hpu", "is_mtia", "is_maia",
                  "is_vulkan", "mtia", "ipu"])
ATEN_KERNELS = ("ATen kernels that torch exposes beside its public ops (programs reach them through nn or "
                "nn.functional)",
                ["cudnn_*", "miopen_*", "mkldnn_*", "native_*", "batch_norm_backward_*", "batch_norm_elemt",
                 "batch_norm_gather_stats*", "batch_norm_stats", "batch_norm_update_stats", "conv_tbc",
                 "grid_sampler", "grid_sampler_2d", "grid_sampler_3d", "affine_grid_generator",
                 "constant_pad_nd", "convolution", "rnn_relu", "rnn_tanh", "rnn_relu_cell", "rnn_tanh_cell",
                 "lstm", "gru", "lstm_cell", "gru_cell", "embedding_renorm_", "norm_except_dim",
                 "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes", "split_with_sizes",
                 "max_pool1d_with_indices", "feature_dropout", "feature_dropout_", "feature_alpha_dropout_",
                 "alpha_dropout_", "dropout_", "autocast_increment_nesting", "autocast_decrement_nesting",
                 "clear_autocast_cache", "set_autocast_cache_enabled", "is_autocast_cache_enabled",
                 "set_autocast_cpu_dtype", "set_autocast_cpu_enabled", "set_autocast_gpu_dtype",
                 "get_autocast_cpu_dtype", "get_autocast_gpu_dtype", "is_autocast_cpu_enabled",
                 "init_num_threads", "set_flush_denormal", "rsub", "empty_permuted", "binomial"])

TORCH_EXCLUDED = [QUANTIZATION, COMPRESSED_SPARSE, REMOVED_FROM_TORCH, NO_COMPLEX32, VIEW_COPIES, COMPILER,
                  OTHER_DEVICES, ATEN_KERNELS,
                  ("legacy tensor-type and storage machinery replaced by dtypes",
                   ["set_default_tensor_type", "resize_as_"]),
                  ("anomaly mode and deterministic-debug switches of torch's C++ engine",
                   ["set_anomaly_enabled", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
                    "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_warn_always",
                    "is_warn_always_enabled", "set_num_interop_threads", "get_num_interop_threads"])]
# Top-level classes that programs construct or test against (the rest are TorchScript types and storages).
TORCH_CLASSES = ["Tensor", "Size", "Generator", "dtype", "device", "finfo", "iinfo", "layout", "memory_format",
                 "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "autocast", "FloatTensor",
                 "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor", "ShortTensor",
                 "CharTensor", "ByteTensor", "BoolTensor", "OutOfMemoryError"]

TENSOR_EXCLUDED = [QUANTIZATION, COMPRESSED_SPARSE, REMOVED_FROM_TORCH, NO_COMPLEX32, VIEW_COPIES, OTHER_DEVICES,
                   ("named tensors (a prototype feature)",
                    ["names", "rename", "rename_", "refine_names", "align_to", "align_as", "has_names"]),
                   ("typed and untyped storages, CUDA stream bookkeeping and nested tensors (torch internals)",
                    ["storage", "untyped_storage", "storage_type", "set_", "record_stream", "module_load",
                     "is_set_to", "is_nested", "nested_*", "to_padded_tensor", "map2_", "output_nr"])]

NN_EXCLUDED = [("lazy modules (out of scope)", ["Lazy*", "UninitializedParameter", "UninitializedBuffer"]),
               ("deprecated container kept by torch for old pickles", ["Container"])]
FUNCTIONAL_EXCLUDED = [ATEN_KERNELS,
                       ("float8 GPU matrix-product kernels (NumPy and CuPy have no float8 dtype)",
                        ["scaled_mm", "scaled_grouped_mm"]),
                       ("typing helpers and modules that torch.nn.functional imports",
                        ["Callable", "Optional", "Tensor", "TYPE_CHECKING", "boolean_dispatch",
                         "handle_torch_function", "has_torch_function*", "BroadcastingList*", "DType",
                         "GRID_SAMPLE_*", "importlib", "math", "warnings", "reproducibility_notes", "tf32_notes",
                         "sparse_support_notes", "List", "Union", "Tuple", "Any", "DTypeLike", "sym_int",
                         "sym_float", "assert_int_or_pair", "grid_sampler", "affine_grid_generator"])]
DATA_EXCLUDED = [("DataPipes (deprecated by PyTorch)",
                  ["*DataPipe", "DataChunk", "functional_datapipe", "guaranteed_datapipes_determinism",
                   "non_deterministic", "argument_validation", "runtime_validation",
                   "runtime_validation_disabled", "datapipes"])]


def _excluded(name, groups):
    for reason, patterns in groups:
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return reason
    return None


def _public(namespace, kind):
    names = []
    for name in dir(namespace):
        if name.startswith("_"):
            continue
        obj = getattr(namespace, name, None)
        if isinstance(obj, types.ModuleType):
            continue
        if kind == "function" and (callable(obj) and not isinstance(obj, type)):
            names.append(name)
        elif kind == "class" and isinstance(obj, type):
            names.append(name)
        elif kind == "any":
            names.append(name)
    return names


def _classes_defined_in(module):
    return [n for n in _public(module, "class") if getattr(module, n).__module__.startswith(module.__name__)]


def namespaces():
    """(label, torch's names, ndgrad's object, exclusion groups) for each namespace that is measured."""
    nn_classes = [n for n in _public(torch.nn, "class")
                  if inspect.isclass(getattr(torch.nn, n)) and (issubclass(getattr(torch.nn, n), torch.nn.Module)
                                                                or n in ("Parameter", "Buffer"))]
    optimizers = [n for n in _public(torch.optim, "class")
                  if issubclass(getattr(torch.optim, n), torch.optim.Optimizer)]
    return [
        ("torch (functions and classes)", _public(torch, "function") + TORCH_CLASSES, ndgrad, TORCH_EXCLUDED),
        ("Tensor (methods and attributes)", _public(torch.Tensor, "any"), ndgrad.Tensor, TENSOR_EXCLUDED),
        ("nn (modules)", nn_classes, ndgrad.nn, NN_EXCLUDED),
        ("nn.functional", _public(torch.nn.functional, "function"), ndgrad.nn.functional, FUNCTIONAL_EXCLUDED),
        ("optim (optimizers)", optimizers, ndgrad.optim, []),
        ("optim.lr_scheduler", _classes_defined_in(torch.optim.lr_scheduler), ndgrad.optim.lr_scheduler, []),
        ("utils.data", _public(torch.utils.data, "any"), ndgrad.utils.data, DATA_EXCLUDED),
    ]


def measure():
    rows = []
    for label, names, ours, groups in namespaces():
        in_scope = sorted(n for n in set(names) if _excluded(n, groups) is None)
        missing = [n for n in in_scope if not hasattr(ours, n)]
        excluded = sorted(n for n in set(names) if _excluded(n, groups) is not None)
        rows.append((label, len(in_scope) - len(missing), len(in_scope), missing, excluded))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", action="store_true", help="list the in-scope names ndgrad lacks")
    parser.add_argument("--excluded", action="store_true", help="list the excluded names of each namespace")
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    args = parser.parse_args()
    rows = measure()
    if args.markdown:
        print(f"| namespace (torch {torch.__version__.split('+')[0]}) | ndgrad has | in scope | coverage |")
        print("| --- | ---: | ---: | ---: |")
        for label, have, total, _, _ in rows:
            print(f"| `{label}` | {have} | {total} | {100 * have / total:.0f}% |")
        return
    for label, have, total, missing, excluded in rows:
        print(f"{label:34s} {have:4d} / {total:4d}  {100 * have / total:5.1f}%   ({len(excluded)} excluded)")
        if args.missing and missing:
            print("    missing: " + ", ".join(missing))
        if args.excluded and excluded:
            print("    excluded: " + ", ".join(excluded))


if __name__ == "__main__":
    main()

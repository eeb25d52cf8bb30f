"""Assemble README.md from the sections in docs/readme/ (edit those, then run this)."""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
ORDER = ["_top", "core", "shape_index_linalg", "sorting_scatter", "math_random_sparse", "api_extras", "functional",
         "activations_losses", "nn", "nn_layers_extra", "transformer_rnn_utils", "optim", "optim_extra",
         "programs", "compat", "training", "checkpoints_viz", "explain", "linalg", "special", "fft", "complex", "unsigned_dtypes",
         "distributions", "interop", "distributed", "onnx", "reliability", "gpu", "cuda_graphs", "cudnn", "performance",
         "performance_real", "testing", "architecture"]


def main():
    parts = [(ROOT / "docs" / "readme" / f"{name}.md").read_text().strip() for name in ORDER]
    text = "\n\n".join(parts) + "\n"
    (ROOT / "README.md").write_text(text)
    print(f"README.md: {len(text.splitlines())} lines from {len(parts)} sections")


if __name__ == "__main__":
    main()

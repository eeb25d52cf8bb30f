"""Smoke tests of the benchmark harness (ndgrad.bench): fields, loss checks, error rows.

Timings are never asserted: only that the harness measures, compares and reports.
"""

import json
import math
import os
import subprocess
import sys

import pytest

from ndgrad.bench import runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """One short harness run on the tiny workload, through benchmarks/run.py as a user runs it."""
    out = tmp_path_factory.mktemp("bench")
    json_path, md_path = out / "bench.json", out / "bench.md"
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "run.py"), "--workloads", "tiny", "--repeats", "1",
         "--steps", "5", "--warmup", "2", "--import-repeats", "1", "--json", str(json_path),
         "--markdown", str(md_path), "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(json_path.read_text()), md_path.read_text()


def test_tiny_run_measures_both_frameworks_and_the_loss_falls(tiny_report):
    _, report, _ = tiny_report
    summaries = {(s["framework"], s["workload"]): s for s in report["summaries"]}
    for framework in ("ndgrad", "torch"):
        s = summaries[(framework, "tiny")]
        assert s["status"] == "ok", s
        assert s["ms_per_step"] > 0 and s["peak_rss_mib"] > 0
        assert s["spread"] == 1.0 and s["ms_per_step_runs"] == [s["ms_per_step"]]   # one repeat
        assert s["check"] == "falls" and s["check_passed"] is True
        assert s["probe_after"] < s["probe_before"]
    runs = [r for r in report["runs"] if r["workload"] == "tiny"]
    assert sorted(r["framework"] for r in runs) == ["ndgrad", "torch"]


def test_tiny_row_has_ratio_target_and_verdict(tiny_report):
    _, report, _ = tiny_report
    (row,) = report["rows"]
    assert row["workload"] == "tiny"
    assert row["ratio"] == pytest.approx(row["ndgrad_ms"] / row["torch_ms"])
    assert row["rss_ratio"] == pytest.approx(row["ndgrad_rss_mib"] / row["torch_rss_mib"])
    assert row["target"] == runner.TIME_TARGETS["tiny"]
    assert row["met"] == ("yes" if row["ratio"] <= row["target"] else "no")
    targets = {t["target"]: t for t in report["targets"]}
    assert targets["tiny time ratio"]["value"] == pytest.approx(row["ratio"])
    imp = targets["import ndgrad / import numpy time"]
    assert imp["value"] == pytest.approx(report["imports"]["ndgrad"]["median_s"] / report["imports"]["numpy"]["median_s"])


def test_report_records_threads_blas_and_machine(tiny_report):
    _, report, _ = tiny_report
    cfg = report["config"]
    assert cfg["threads"] == (os.cpu_count() or 1)
    assert set(cfg["thread_env"]) == set(runner.THREAD_ENV_VARS)
    assert report["blas"]["numpy"]["gflops"] > 0
    assert report["machine"]["cpu"]
    assert {"numpy", "ndgrad", "torch"} <= set(report["imports"])


def test_markdown_table_printed_and_written(tiny_report):
    stdout, report, markdown = tiny_report
    assert markdown in stdout
    header = markdown.splitlines()[0]
    for column in ("ndgrad ms/step", "PyTorch ms/step", "ndgrad ÷ PyTorch", "target", "met", "RSS ratio"):
        assert column in header
    tiny_line = next(line for line in markdown.splitlines() if line.startswith("| tiny |"))
    assert f"{report['rows'][0]['ratio']:.2f}" in tiny_line
    assert "import" in markdown and "GFLOP/s" in markdown and "threads: " in markdown


def test_a_broken_workload_becomes_an_error_row_not_a_crash():
    env = runner._child_env(1)
    spec = {"framework": "torch", "workload": "no_such_workload", "device": "cpu", "threads": 1,
            "warmup": 0, "steps": 1}
    result = runner.spawn(spec, env, timeout=120)
    assert result["status"] == "error"
    assert "build: AttributeError" in result["error"] and "no_such_workload" in result["error"]
    summary = runner.summarize([result], "torch", "no_such_workload")
    assert summary["status"] == "error"
    assert "**error**: build: AttributeError" in runner._ms_cell(summary)


@pytest.mark.parametrize("check, before, after, passed", [
    ("falls", 2.0, 1.0, True),
    ("falls", 1.0, 1.0, False),
    ("falls", 1.0, math.nan, False),
    ("steady", 2.3, 2.3, True),
    ("steady", 2.3, 2.0, False),
    ("grad_matches", math.nan, 1e-6, True),
    ("grad_matches", math.nan, 0.5, False),
])
def test_judge_check(check, before, after, passed):
    assert runner.judge_check(check, before, after) is passed


def test_unknown_workload_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        runner.main(["--workloads", "tiny,resnet"])
    assert "unknown workload(s) resnet" in capsys.readouterr().err


# --------------------------------------------------------------------------- the model workloads (issue 12)


@pytest.fixture(scope="module")
def workloads():
    return runner._load_workloads()


@pytest.mark.parametrize("framework", ["ndgrad", "torch"])
@pytest.mark.parametrize("name", runner.MODEL_WORKLOADS)
def test_model_workload_builds_and_a_step_runs(workloads, name, framework):
    """Each model workload builds on both frameworks and one step runs: a training step changes the probed
    loss; an inference step gives a finite loss (timing is the harness's business, not asserted here)."""
    fw = ndgrad_module() if framework == "ndgrad" else torch_module()
    fw.manual_seed(0)
    prepared = workloads.WORKLOADS[name](fw, "cpu")
    assert prepared.check in workloads.CHECKS
    before = prepared.probe() if prepared.check == "falls" else None
    prepared.step()
    after = prepared.probe()
    assert math.isfinite(after)
    if before is not None:
        assert math.isfinite(before) and after != before


def torch_module():
    import torch
    torch.set_num_threads(1)   # the test machine is shared: no thread oversubscription
    return torch


def ndgrad_module():
    import ndgrad
    return ndgrad


def test_model_workloads_are_selectable_by_name_and_have_targets():
    args = runner._parse(["--workloads", "lstm_lm,gpt", "vae"], "run.py")
    assert args.workloads == ["lstm_lm", "gpt", "vae"]
    for name in runner.MODEL_WORKLOADS:
        assert name in runner.ALL_WORKLOADS
        assert runner.TIME_TARGETS[name] == (1.2 if name in ("lstm_lm", "gru_lm") else 1.0)


def test_resnet18_gemm_count_is_the_known_36_g_multiply_adds(workloads):
    # The CIFAR ResNet-18 does ~0.56 G multiply-adds per 32x32 image: 64 images ~ 35.7 G (2 flops each).
    assert workloads.GEMM_FLOPS_PER_STEP["resnet18_infer"] / 2 / 64 == pytest.approx(0.556e9, rel=0.01)

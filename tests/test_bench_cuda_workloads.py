"""The GPU benchmark (issue 15) on a machine without a GPU: its new workloads at reduced size, the CUDA-graph
pattern and its checks (with a recording stand-in for ``fw.cuda``), the refusal without a GPU, and the GPU
table and targets, formatted from hand-made results.

Timings are never asserted. The hand-made numbers below are test input for the formatting code, not results.
"""

import contextlib
import math

import pytest

from ndgrad.bench import runner


@pytest.fixture(scope="module")
def workloads():
    return runner._load_workloads()


def frameworks():
    import ndgrad
    import torch

    torch.set_num_threads(1)   # the test machine is shared: no thread oversubscription
    return {"ndgrad": ndgrad, "torch": torch}


# --------------------------------------------------------------------------- the new workloads, shrunk


@pytest.mark.parametrize("framework", ["ndgrad", "torch"])
@pytest.mark.parametrize("name", runner.GPU_WORKLOADS)
def test_gpu_workload_runs_two_steps_on_the_cpu_and_its_check_passes(workloads, name, framework):
    fw = frameworks()[framework]
    fw.manual_seed(0)
    prepared = workloads.WORKLOADS[name](fw, "cpu", **workloads.REDUCED_SIZES[name])
    assert prepared.check == "falls" and prepared.not_graphable == ""
    before = prepared.probe()
    prepared.step()
    prepared.step()
    after = prepared.probe()
    assert math.isfinite(before) and math.isfinite(after)
    assert runner.judge_check(prepared.check, before, after), (before, after)


def test_gpu_workloads_keep_the_issue_sizes_for_cuda(workloads):
    assert workloads.FULL_SIZES["gpt_medium"] == {"vocab": 65, "width": 768, "heads": 12, "layers": 12,
                                                  "block": 512, "batch": 8, "lr": 3e-4}
    assert workloads.FULL_SIZES["resnet18_train"]["batch"] == 128
    assert workloads.FULL_SIZES["resnet18_train"]["image"] == 32
    assert workloads.FULL_SIZES["resnet18_train"]["classes"] == 10
    # gpt's vocabulary is the small GPT's; the reduced sizes only shrink, they never change the kind of model.
    assert workloads.FULL_SIZES["gpt_medium"]["vocab"] == workloads._models.GPT_SMALL["vocab"]
    for name, reduced in workloads.REDUCED_SIZES.items():
        assert set(reduced) <= set(workloads.FULL_SIZES[name])


@pytest.mark.parametrize("name", runner.GPU_WORKLOADS)
def test_gpu_workload_refuses_an_unknown_size(workloads, name):
    import torch

    with pytest.raises(TypeError, match=f"{name}: unknown size"):
        workloads.WORKLOADS[name](torch, "cpu", depth=3)


def test_gpu_workload_flop_counts(workloads):
    # gpt_medium: 6 x parameters x tokens is the usual estimate of a training step's GEMM work; with the
    # attention products and the 65-token head it is within a few percent of the exact count here.
    size = workloads.FULL_SIZES["gpt_medium"]
    params = 12 * size["layers"] * size["width"] ** 2
    tokens = size["batch"] * size["block"]
    assert workloads.GEMM_FLOPS_PER_STEP["gpt_medium"] == pytest.approx(6 * params * tokens, rel=0.15)
    # resnet18_train: three forward passes of 128 images (0.556 G multiply-adds each), less the stem's input grad.
    assert workloads.GEMM_FLOPS_PER_STEP["resnet18_train"] / 2 / 128 / 3 == pytest.approx(0.556e9, rel=0.01)


def test_cuda_default_set_is_the_issue_list(workloads):
    assert runner.CUDA_DEFAULT_WORKLOADS == workloads.CUDA_WORKLOADS
    assert set(runner.CUDA_DEFAULT_WORKLOADS) == {
        "mlp", "cnn", "cnn_infer", "matmul_grad", "tiny", "mnist_cnn", "lstm_lm", "gpt", "vae", "dcgan",
        "resnet18_infer", "gpt_medium", "resnet18_train"}
    assert set(runner.ALL_WORKLOADS) == set(workloads.WORKLOADS)
    # The CPU default set stays what it was: the two big ones are selectable by name only.
    assert not set(runner.GPU_WORKLOADS) & set(runner.CPU_DEFAULT_WORKLOADS)


def test_big_workloads_take_fewer_steps_unless_told():
    assert runner._steps_for({"warmup": None, "steps": None}, "gpt_medium") == (3, 10)
    assert runner._steps_for({"warmup": None, "steps": None}, "mlp") == (runner.DEFAULT_WARMUP,
                                                                         runner.DEFAULT_STEPS)
    assert runner._steps_for({"warmup": 1, "steps": 4}, "gpt_medium") == (1, 4)


# --------------------------------------------------------------------------- the CUDA-graph pattern


class RecordingCuda:
    """Stands in for ``fw.cuda`` on a CPU: records the calls of the capture pattern. Its graph records
    nothing, so a replay does nothing (a graph that lost its work)."""

    def __init__(self, log):
        self.log = log
        self.main = self.Stream(log, "main")

    def Stream(self, log=None, name="side"):
        recording = self

        class Stream:
            def __init__(self):
                self.name = name

            def wait_stream(self, other):
                (log or recording.log).append(f"{self.name}.wait_stream({other.name})")

        return Stream()

    def current_stream(self):
        return self.main

    @contextlib.contextmanager
    def stream(self, s):
        self.log.append(f"enter stream {s.name}")
        yield
        self.log.append(f"exit stream {s.name}")

    def CUDAGraph(self):
        log = self.log

        class CUDAGraph:
            def replay(self):
                log.append("replay")

        log.append("CUDAGraph()")
        return CUDAGraph()

    @contextlib.contextmanager
    def graph(self, g):
        self.log.append("enter graph")
        yield
        self.log.append("exit graph")


class WithRecordingCuda:
    """A framework module whose ``cuda`` is a RecordingCuda (everything else is the real module's)."""

    def __init__(self, module, log):
        self._module = module
        self.cuda = RecordingCuda(log)

    def __getattr__(self, name):
        return getattr(self._module, name)


def test_capture_graph_follows_pytorchs_whole_network_pattern(workloads):
    import torch

    log = []
    fw = WithRecordingCuda(torch, log)
    fw.manual_seed(0)
    prepared = workloads.mlp(fw, "cpu", graphed=True)

    def counted_step():
        log.append("step")
        prepared.step()

    graphed = workloads.capture_graph(fw, prepared._replace(step=counted_step))
    assert log == ["side.wait_stream(main)", "enter stream side", "step", "step", "step", "exit stream side",
                   "main.wait_stream(side)", "CUDAGraph()", "enter graph", "step", "exit graph"]
    graphed.step()
    assert log[-1] == "replay"
    assert graphed.probe is prepared.probe and graphed.check == prepared.check


def test_graphed_row_is_judged_by_its_replays(workloads):
    """The probe brackets the replays alone: a graph whose replays do nothing leaves the loss where it was
    after capture, and the row's check fails (it is not credited with the eager warm-up's progress)."""
    import torch

    fw = WithRecordingCuda(torch, [])
    spec = {"framework": "torch", "device": "cpu", "warmup": 1, "steps": 2}
    result = {}
    runner._measure(fw, workloads, lambda: None, spec, "mlp", "graph", result)
    assert result["status"] == "ok", result
    assert result["probe_after"] == result["probe_before"]
    assert result["check_passed"] is False
    summary = runner.summarize([{**result, "framework": "torch", "workload": "mlp+graph", "peak_rss_mib": 1.0}],
                               "torch", "mlp+graph")
    assert "**FAILED**" in runner._check_cell(summary)


def test_a_workload_that_cannot_be_graphed_says_so(workloads, monkeypatch):
    import torch

    def data_dependent(fw, device, graphed=False):
        prepared = workloads.tiny(fw, device, graphed)
        return prepared._replace(not_graphable="the step branches on a value read back from the GPU")

    monkeypatch.setattr(workloads, "data_dependent", data_dependent, raising=False)
    result = {}
    runner._measure(WithRecordingCuda(torch, []), workloads, lambda: None, {"device": "cpu"}, "data_dependent",
                    "graph", result)
    assert result["status"] == "not graphable"
    assert "branches on a value" in result["note"]
    summary = runner.summarize([{**result, "framework": "torch", "workload": "data_dependent+graph",
                                 "peak_rss_mib": 1.0}], "torch", "data_dependent+graph")
    assert runner._ms_cell(summary) == "not graphable: the step branches on a value read back from the GPU"


def test_one_process_reports_eager_and_graph_separately():
    """The child measures eager, then the graph; a graph that fails (here: no GPU for torch.cuda.Stream, hidden
    from the child on a GPU machine too) is that mode's error row, and the eager row keeps its numbers."""
    spec = {"framework": "torch", "workload": "tiny", "modes": ["eager", "graph"], "device": "cpu", "threads": 1,
            "warmup": 1, "steps": 2}
    env = {**runner._child_env(1), "CUDA_VISIBLE_DEVICES": ""}
    eager, graph = runner.spawn_modes(spec, env, timeout=120)
    assert (eager["workload"], eager["mode"], eager["status"]) == ("tiny", "eager", "ok")
    assert eager["check_passed"] is True
    assert (graph["workload"], graph["mode"], graph["status"]) == ("tiny+graph", "graph", "error")
    assert graph["error"].startswith("capture: ")


@pytest.mark.cuda
@pytest.mark.parametrize("framework", ["ndgrad", "torch"])
@pytest.mark.parametrize("name", ["tiny", "mlp", "cnn_infer", "matmul_grad", "vae", "gpt_medium", "resnet18_train"])
def test_graphed_step_on_the_gpu_passes_its_check(workloads, name, framework):
    """On a GPU (pytest -m cuda, run by scripts/gpu_check.sh): the captured step replays and its check passes
    over the replays alone, on both frameworks (the big workloads shrunk)."""
    fw = frameworks()[framework]
    fw.manual_seed(0)
    prepared = workloads.WORKLOADS[name](fw, "cuda", graphed=True, **workloads.REDUCED_SIZES.get(name, {}))
    graphed = workloads.capture_graph(fw, prepared)
    before = graphed.probe()
    for _ in range(3):
        graphed.step()
    fw.cuda.synchronize()
    after = graphed.probe()
    assert runner.judge_check(graphed.check, before, after), (before, after)


@pytest.mark.parametrize("names, graphs, expected", [
    (["mlp", "cnn"], False, [("mlp", ["eager"]), ("cnn", ["eager"])]),
    (["mlp", "cnn"], True, [("mlp", ["eager", "graph"]), ("cnn", ["eager", "graph"])]),
    (["mlp+graph"], False, [("mlp", ["graph"])]),
    (["mlp+graph", "mlp"], False, [("mlp", ["eager", "graph"])]),
])
def test_plan_groups_the_modes_of_a_workload_into_one_process(names, graphs, expected):
    assert runner.plan(names, graphs) == expected


# --------------------------------------------------------------------------- without a GPU


def test_graphs_on_the_cpu_are_refused_with_the_reason(capsys):
    with pytest.raises(SystemExit):
        runner.main(["--graphs", "--workloads", "mlp"])
    assert "need --device cuda" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        runner.main(["--workloads", "mlp+graph"])
    assert "capture CUDA graphs" in capsys.readouterr().err


# What probe_cuda answers on a machine without a GPU (this one; stood in for on a GPU machine).
NO_GPU = {"ndgrad": False, "torch": False, "cupy": "ModuleNotFoundError: No module named 'cupy'"}


def test_probe_cuda_says_what_the_frameworks_say():
    import ndgrad
    import torch

    cuda = runner.probe_cuda(runner._child_env(1))
    assert cuda["ndgrad"] is ndgrad.cuda.is_available()
    assert cuda["torch"] is torch.cuda.is_available()


def test_graphs_without_a_gpu_give_a_clear_message(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "probe_cuda", lambda env: NO_GPU)
    json_path = tmp_path / "bench.json"
    code = runner.main(["--device", "cuda", "--graphs", "--workloads", "tiny", "--json", str(json_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--graphs captures CUDA graphs" in err and "needs an NVIDIA GPU, but none was found" in err
    assert "ndgrad: no GPU" in err and "pip install 'ndgrad[cuda]'" in err
    assert not json_path.exists()


def test_require_gpu_accepts_either_framework():
    runner._require_gpu({"ndgrad": True, "torch": False}, graphs=True)
    runner._require_gpu({"ndgrad": "ModuleNotFoundError: No module named 'cupy'", "torch": True}, graphs=False)
    with pytest.raises(runner.NoCudaDevice, match="ndgrad: ModuleNotFoundError"):
        runner._require_gpu({"ndgrad": "ModuleNotFoundError: No module named 'cupy'", "torch": False}, graphs=False)


# --------------------------------------------------------------------------- the GPU table, from hand-made results

# Made-up per-process results (test input for the formatting code, not measurements).
FAKE_MS = {  # (workload, framework): ms/step
    ("mlp", "ndgrad"): 0.8, ("mlp", "torch"): 0.4, ("mlp+graph", "ndgrad"): 0.1, ("mlp+graph", "torch"): 0.12,
    ("tiny", "ndgrad"): 0.6, ("tiny", "torch"): 0.3, ("tiny+graph", "ndgrad"): 0.2, ("tiny+graph", "torch"): 0.1,
    ("gpt_medium", "ndgrad"): 60.0, ("gpt_medium", "torch"): 50.0,
    ("gpt_medium+graph", "ndgrad"): 58.0, ("gpt_medium+graph", "torch"): 49.0,
}


def fake_run(workload, framework, ms, passed=True):
    return {"framework": framework, "workload": workload, "device": "cuda", "status": "ok", "ms_per_step": ms,
            "peak_rss_mib": 1000.0, "check": "falls", "probe_before": 4.0, "probe_after": 3.0 if passed else 4.5,
            "check_passed": passed, "repeat": 0}


@pytest.fixture
def fake_cuda_report():
    runs = [fake_run(w, f, ms, passed=(w, f) != ("tiny+graph", "torch")) for (w, f), ms in FAKE_MS.items()]
    runs += [{"framework": f, "workload": "lstm_lm+graph", "device": "cuda", "status": "not graphable",
              "note": "made-up reason for the test", "peak_rss_mib": 1.0, "repeat": 0} for f in runner.FRAMEWORKS]
    runs += [fake_run("lstm_lm", f, 10.0) for f in runner.FRAMEWORKS]
    names = ["mlp", "mlp+graph", "tiny", "tiny+graph", "gpt_medium", "gpt_medium+graph", "lstm_lm", "lstm_lm+graph"]
    summaries = {(f, w): runner.summarize(runs, f, w) for f in runner.FRAMEWORKS for w in names}
    rows = runner.build_rows(summaries, ["mlp", "tiny", "gpt_medium", "lstm_lm"], "cuda")
    return {
        "config": {"device": "cuda", "threads": 16, "repeats": 1, "steps": None, "warmup": None, "graphs": True,
                   "workloads": names, "steps_per_workload": {"mlp": [5, 30], "gpt_medium": [3, 10]}},
        "machine": {"cpu": "test CPU", "cores": 16, "versions": {"python": "3"}, "cuda": {"gpu": "test GPU"}},
        "blas": {}, "imports": {},
        "summaries": [summaries[k] for k in sorted(summaries)],
        "rows": rows, "targets": runner._target_rows(rows, {}, "cuda"), "notes": [], "runs": runs,
    }


def test_cuda_rows_compare_graphs_with_both_pytorch_modes(fake_cuda_report):
    rows = {r["workload"]: r for r in fake_cuda_report["rows"]}
    mlp = rows["mlp"]
    assert mlp["ratio"] == pytest.approx(0.8 / 0.4)
    assert (mlp["target"], mlp["met"]) == (1.5, "no")
    assert mlp["graph_vs_torch_eager"] == pytest.approx(0.1 / 0.4)
    assert (mlp["graph_vs_torch_eager_target"], mlp["graph_vs_torch_eager_met"]) == (0.5, "yes")
    assert mlp["graph_vs_torch_graph"] == pytest.approx(0.1 / 0.12)
    assert (mlp["graph_vs_torch_graph_target"], mlp["graph_vs_torch_graph_met"]) == (1.0, "yes")
    # A failed loss check makes the comparisons that use that row invalid, not met.
    tiny = rows["tiny"]
    assert tiny["graph_vs_torch_eager_met"] == "no"                        # 0.2 / 0.3 > 0.5, both checks passed
    assert tiny["graph_vs_torch_graph_met"] == "invalid (check failed)"    # PyTorch graphed failed its check
    gpt = rows["gpt_medium"]
    assert (gpt["target"], gpt["met"]) == (1.1, "no")                      # 60 / 50 = 1.2
    assert gpt["graph_vs_torch_eager_target"] is None and gpt["graph_vs_torch_eager_met"] is None
    assert rows["lstm_lm"]["ndgrad_graph_ms"] is None and rows["lstm_lm"]["graph_vs_torch_graph"] is None


def test_cuda_targets_in_the_json(fake_cuda_report):
    targets = {t["target"]: t for t in fake_cuda_report["targets"]}
    assert targets["mlp eager time ratio (ndgrad ÷ PyTorch eager)"]["limit"] == 1.5
    assert targets["gpt_medium eager time ratio (ndgrad ÷ PyTorch eager)"]["limit"] == 1.1
    assert targets["lstm_lm eager time ratio (ndgrad ÷ PyTorch eager)"]["met"] == "yes"
    assert targets["mlp graphed ÷ PyTorch eager"] == {
        "target": "mlp graphed ÷ PyTorch eager", "workload": "mlp", "limit": 0.5,
        "value": pytest.approx(0.25), "met": "yes"}
    assert targets["tiny graphed ÷ PyTorch graphed"]["met"] == "invalid (check failed)"
    assert "gpt_medium graphed ÷ PyTorch eager" not in targets     # graph targets: tiny, mlp, cnn only


def test_cuda_markdown_table(fake_cuda_report):
    markdown = runner.format_markdown(fake_cuda_report)
    lines = markdown.splitlines()
    header = lines[0]
    for column in ("ndgrad ms/step", "PyTorch ms/step", "ndgrad ÷ PyTorch", "ndgrad graphed ms/step",
                   "PyTorch graphed ms/step", "ndgrad graphed ÷ PyTorch eager", "ndgrad graphed ÷ PyTorch graphed",
                   "graphed loss check"):
        assert column in header
    assert header.count("|") == lines[1].count("|")
    mlp = next(line for line in lines if line.startswith("| mlp |"))
    cells = [c.strip() for c in mlp.strip("|").split("|")]
    assert cells[:6] == ["mlp", "0.800", "0.400", "2.00", "≤ 1.5", "no"]
    assert cells[7:15] == ["0.100", "0.120", "0.25", "≤ 0.5", "yes", "0.83", "≤ 1.0", "yes"]
    assert len(cells) == header.count("|") - 1
    lstm = next(line for line in lines if line.startswith("| lstm_lm |"))
    assert "not graphable: made-up reason for the test" in lstm
    assert "GPU: test GPU" in markdown
    assert "30 timed steps after 5 warm-up steps (gpt_medium: 10 after 3)" in markdown
    assert "Targets met: " in markdown and "Graphed columns:" in markdown


def test_cuda_table_without_graphs_has_no_graph_columns(fake_cuda_report):
    report = dict(fake_cuda_report)
    summaries = {(s["framework"], s["workload"]): s for s in report["summaries"]}
    eager_only = {k: v for k, v in summaries.items() if "+graph" not in k[1]}
    report["rows"] = runner.build_rows(eager_only, ["mlp", "gpt_medium"], "cuda")
    report["targets"] = runner._target_rows(report["rows"], {}, "cuda")
    report["config"] = {**report["config"], "graphs": False, "workloads": ["mlp", "gpt_medium"]}
    markdown = runner.format_markdown(report)
    assert "graphed" not in markdown.splitlines()[0]
    assert [t["target"] for t in report["targets"]] == ["mlp eager time ratio (ndgrad ÷ PyTorch eager)",
                                                        "gpt_medium eager time ratio (ndgrad ÷ PyTorch eager)"]


def test_cuda_run_end_to_end_with_stand_in_children(monkeypatch, tmp_path, capsys):
    """run() on cuda with --graphs, its processes replaced by made-up results (test input, not measurements):
    one process per (workload, framework) asks for both modes, and the table, JSON and exit status follow."""
    asked = []

    def stand_in_spawn_modes(spec, env, timeout):
        asked.append((spec["workload"], spec["framework"], tuple(spec["modes"])))
        ms = 1.0 if spec["framework"] == "torch" else 1.2
        return [fake_run(runner.row_name(spec["workload"], mode), spec["framework"],
                         ms / 4 if mode == "graph" else ms) for mode in spec["modes"]]

    monkeypatch.setattr(runner, "spawn_modes", stand_in_spawn_modes)
    monkeypatch.setattr(runner, "probe_cuda", lambda env: {"ndgrad": True, "torch": True, "gpu": "stand-in GPU"})
    monkeypatch.setattr(runner, "measure_blas", lambda env, device: {})
    json_path, md_path = tmp_path / "bench.json", tmp_path / "bench.md"
    code = runner.main(["--device", "cuda", "--graphs", "--workloads", "mlp", "gpt_medium", "--json", str(json_path),
                        "--markdown", str(md_path), "--quiet"])
    assert code == 0
    assert asked == [("mlp", "ndgrad", ("eager", "graph")), ("mlp", "torch", ("eager", "graph")),
                     ("gpt_medium", "ndgrad", ("eager", "graph")), ("gpt_medium", "torch", ("eager", "graph"))]
    import json

    report = json.loads(json_path.read_text())
    assert report["config"]["repeats"] == 1 and report["imports"] == {}          # the cuda defaults
    assert report["config"]["workloads"] == ["mlp", "mlp+graph", "gpt_medium", "gpt_medium+graph"]
    assert report["config"]["steps_per_workload"] == {"mlp": [5, 30], "gpt_medium": [3, 10]}
    targets = {t["target"]: t["met"] for t in report["targets"]}
    assert targets == {"mlp eager time ratio (ndgrad ÷ PyTorch eager)": "yes",            # 1.2 ≤ 1.5
                       "mlp graphed ÷ PyTorch eager": "yes",                              # 0.3 ≤ 0.5
                       "mlp graphed ÷ PyTorch graphed": "no",                             # 1.2 > 1.0
                       "gpt_medium eager time ratio (ndgrad ÷ PyTorch eager)": "no"}      # 1.2 > 1.1
    markdown = md_path.read_text()
    assert markdown in capsys.readouterr().out
    assert "GPU: stand-in GPU" in markdown and "| mlp | 1.200 | 1.000 | 1.20 | ≤ 1.5 | yes |" in markdown


def test_time_budget_reports_what_did_not_run(monkeypatch):
    monkeypatch.setattr(runner, "spawn_modes", lambda spec, env, timeout: [
        fake_run(runner.row_name(spec["workload"], m), spec["framework"], 1.0) for m in spec["modes"]])
    monkeypatch.setattr(runner, "probe_cuda", lambda env: {"ndgrad": True, "torch": True})
    monkeypatch.setattr(runner, "measure_blas", lambda env, device: {})
    args = runner._parse(["--device", "cuda", "--workloads", "mlp", "cnn", "--time-budget", "0", "--quiet"], "t")
    report = runner.run(args)
    assert {s["status"] for s in report["summaries"]} == {"not run"}
    assert any("--time-budget 0 s was spent" in note and "mlp/ndgrad" in note for note in report["notes"])
    assert "| mlp | not run | not run |" in runner.format_markdown(report)

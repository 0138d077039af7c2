"""The Deepbit search: binary search over the cost charts, Pareto front, resumable results,
the CLI, the FPGA backend's folding choice, and (slow) the acceptance run and Ray."""
from __future__ import annotations

import json
import math

import pytest

from bnn2hls.estimate import fit
from bnn2hls.cli import main
from bnn2hls.search import backends, deepbit
from bnn2hls.search.candidates import WIDTHS, Candidate, predicted_network
from bnn2hls.search.cost import Cost

pytestmark = pytest.mark.tier("unit")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cost(lut: float, budget: float = 100.0, fps: float = 1e6) -> Cost:
    return Cost(backend="t", device="d", fps=fps, latency_s=1e-6, usage={"lut": lut}, budget={"lut": budget},
                objective_name="lut", objective=lut)


def _spec(**kw) -> deepbit.SearchSpec:
    base = dict(dataset="digits", backend="fpga", device="pynq-z2", objective="lut", min_fps=None)
    return deepbit.SearchSpec(**{**base, **kw})


# --------------------------------------------------------------------------------------
# Binary search and Pareto front (pure)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("limit", [0, 15, 16, 100, 500, 1024, 5000])
def test_widest_feasible_is_exact_and_logarithmic(limit):
    spec = _spec()
    calls = []

    def predict(c: Candidate) -> Cost:
        calls.append(c.width)
        return _cost(c.width, budget=limit)

    top, probes = deepbit.widest_feasible(predict, spec, depth=2)
    expected = max((i for i, w in enumerate(WIDTHS) if w <= limit), default=None)
    assert top == expected
    assert len(calls) == len(probes) <= math.ceil(math.log2(len(WIDTHS) + 1))
    assert all(p.candidate.depth == 2 for p in probes)


def test_min_fps_is_part_of_feasibility():
    spec = _spec(min_fps=1000.0)
    assert deepbit.feasible(_cost(10, fps=2000), spec)
    assert not deepbit.feasible(_cost(10, fps=500), spec)
    assert not deepbit.feasible(_cost(200, fps=2000), spec)


def _rec(key: str, acc: float, axis: float, ok: bool = True) -> dict:
    return {"key": key, "accuracy": acc, "axis": axis, "feasible": ok}


def test_pareto_front_and_winner():
    recs = [_rec("a", 0.80, 10), _rec("b", 0.85, 20), _rec("c", 0.84, 30), _rec("d", 0.90, 40),
            _rec("e", 0.95, 5, ok=False), _rec("f", 0.90, 50)]
    assert [r["key"] for r in deepbit.pareto_front(recs)] == ["a", "b", "d"]
    assert deepbit.pick_winner(recs)["key"] == "d"  # infeasible e excluded; ties -> cheaper (d over f)
    assert deepbit.pick_winner([_rec("x", 0.9, 1, ok=False)]) is None


def test_results_reader_skips_a_cut_line(tmp_path):
    path = tmp_path / deepbit.RESULTS
    deepbit.append_result(path, {"result_key": "k1", "x": 1})
    with path.open("a") as f:
        f.write('{"result_key": "k2", "x"')  # an interrupted run
    assert list(deepbit.load_results(path)) == ["k1"]


# --------------------------------------------------------------------------------------
# Planning with real cost backends
# --------------------------------------------------------------------------------------
def test_fpga_backend_folds_for_the_target_and_for_the_budget():
    fpga = backends.get("fpga")
    net = predicted_network(Candidate("mnist5k", 2, 256))
    slow = fpga.estimate(net, "pynq-z2", min_fps=1000)
    fast = fpga.estimate(net, "pynq-z2", min_fps=200_000)
    assert slow.fps >= 1000 and fast.fps >= 200_000
    assert fast.objective > slow.objective  # more lanes
    best = fpga.estimate(net, "pynq-z2", min_fps=None)  # fastest that fits
    assert best.fits and best.fps >= fast.fps
    assert set(fast.details["folding"]["layers"]) == {layer.name for layer in net.matrix_layers}
    # the details are plain JSON: the estimate's network dict and per-layer usage dicts
    assert fast.details["network"]["est_lut_total"] == fast.objective
    assert all(list(u) == list(fit.USAGE_KEYS) for u in fast.details["layers"].values())


def test_plan_trains_the_frontier_first_and_cheaper_probes_after():
    spec = _spec(dataset="mnist5k", min_fps=400_000.0, probes=2)
    plan = deepbit.plan_search(backends.get("fpga"), spec)
    assert [c.depth for c in plan.frontier] == [1, 2, 3, 4]
    assert plan.order[: len(plan.frontier)] == plan.frontier
    for c in plan.frontier:  # widest feasible: feasible, and the next rung up is not
        assert deepbit.feasible(plan.predictions[c.key], spec)
        i = WIDTHS.index(c.width)
        if i + 1 < len(WIDTHS):
            up = deepbit.predict(backends.get("fpga"), spec, Candidate("mnist5k", c.depth, WIDTHS[i + 1]))
            assert not deepbit.feasible(up, spec)
    assert all(plan.predictions[c.key].objective < plan.predictions[f"mnist5k-d{c.depth}-w{next(x.width for x in plan.frontier if x.depth == c.depth)}"].objective
               for c in plan.order[len(plan.frontier):])
    assert len(plan.chart) <= 4 * 4  # <= 4 predictions per depth on a 13-rung ladder


def test_backends_disagree_where_their_cost_models_do():
    """RRAM is bound by its crossbar count (weights), the GPU by nothing at these sizes, the
    FPGA by LUTs at 400k frames/s: the widest affordable widths differ."""
    fronts = {}
    for name, device, min_fps in (("gpu", None, None), ("rram", None, None), ("fpga", "pynq-z2", 400_000.0)):
        b = backends.get(name)
        spec = _spec(dataset="mnist5k", backend=name, device=device or b.default_device(), min_fps=min_fps)
        fronts[name] = {c.depth: c.width for c in deepbit.plan_search(b, spec).frontier}
    assert fronts["gpu"] == {1: 1024, 2: 1024, 3: 1024, 4: 1024}
    assert max(fronts["rram"].values()) < 1024 and fronts["rram"][1] > fronts["rram"][4]
    assert fronts["fpga"] != fronts["gpu"]


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------
@pytest.mark.tier("e2e")
def test_search_cli_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["search", "--dataset", "digits", "--depths", "1", "--max-minutes", "4", "--no-verify", "--quiet",
            "--workers", "1", "-o", str(out)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    lines = (out / "results.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    assert [r["key"] for r in recs] == ["digits-d1-w1024", "digits-d1-w512", "digits-d1-w256", "digits-d1-w128"]
    assert all(r["feasible"] and r["agree"] == 1.0 and r["accuracy"] > 0.7 for r in recs)
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["winner"]["key"] == max(recs, key=lambda r: (r["accuracy"], -r["axis"]))["key"]
    assert 1 <= len(doc["front"]) <= 4 and "winner:" in first
    assert (out / "pareto.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / recs[0]["model"]).is_file()
    # rerun: nothing retrained, same front
    assert main(argv) == 0
    capsys.readouterr()
    assert (out / "results.jsonl").read_text().splitlines() == lines
    assert json.loads((out / "pareto.json").read_text())["front"] == doc["front"]
    # other settings in the same directory are refused
    assert main([*argv[:-2], "--min-fps", "1000", "-o", str(out)]) == 2
    assert "holds a search with other settings (min_fps)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--backend", "tpu"], "--backend tpu: unknown cost backend (known: fpga, gpu, rram)"),
    (["--board", "nope"], "--board nope: unknown fpga device"),
    (["--backend", "gpu", "--device", "v100"], "--device v100: unknown gpu device"),
    (["--depths", "1,x"], "--depths 1,x"),
    (["--executor", "local", "--address", "1.2.3.4:6379"], "--address needs --executor ray"),
    (["--min-fps", "1e12"], "no candidate fits pynq-z2"),
])
def test_search_user_errors(tmp_path, capsys, argv, message):
    rc = main(["search", "--dataset", "digits", "--quiet", *argv, "-o", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "s").exists()


# --------------------------------------------------------------------------------------
# Slow: the acceptance run, Ray
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_search_acceptance_mnist_pynq_z2(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["search", "--board", "pynq-z2", "--dataset", "mnist5k", "--max-minutes", "10", "--quiet",
                 "-o", str(out)]) == 0
    doc = json.loads((out / "pareto.json").read_text())
    assert len(doc["front"]) >= 4
    w = doc["winner"]
    v = w["verified"]
    assert w["predicted"]["fits"] and v["measured_fits"] and v["meets_min_fps"]
    assert v["rtl_bit_exact"] and v["onnx_equal"]
    assert abs(v["lut_error_pct"]) <= 20
    assert (out / "winner" / "model.onnx").is_file() and (out / "winner" / "out" / "rtl" / "bnn_top.sv").is_file()


@pytest.mark.slow
def test_search_on_a_local_ray_instance(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["search", "--dataset", "digits", "--depths", "1,2", "--max-minutes", "6", "--no-verify", "--quiet",
                 "--executor", "ray", "-o", str(out)]) == 0
    recs = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(recs) >= 2 and all(r["agree"] == 1.0 for r in recs)

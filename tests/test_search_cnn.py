"""The search's cnn family (bnn2hls.search.cnn): the layer rule, candidates, the predicted IR
against the compiled one, the cost of a convnet on each backend, the residual switch, and a
small search on the 8x8 digits."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bnn2hls import ir, reference
from bnn2hls.cli import main
from bnn2hls.search import backends, cnn, deepbit
from bnn2hls.search.candidates import Candidate, compiled_network, evaluate_candidate, load_split, predicted_network, structure
from bnn2hls.search.run import default_min_fps, residual_report, shortcut_costs

pytestmark = pytest.mark.tier("unit")

MNIST = (28, 28)


def _cnn(depth: int = 2, width: int = 16, residual: bool = False, dataset: str = "mnist5k", input_bits: int = 1) -> Candidate:
    return Candidate(dataset, depth, width, family="cnn", residual=residual, input_bits=input_bits)


def _spec(**kw) -> deepbit.SearchSpec:
    base = dict(dataset="mnist5k", backend="fpga", device="pynq-z2", objective="lut", min_fps=50_000.0,
                widths=cnn.CONV_WIDTHS, family="cnn")
    return deepbit.SearchSpec(**{**base, **kw})


# --------------------------------------------------------------------------------------
# The rule: convs, pools, classifier
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth, kinds, final", [
    (1, "cp", (14, 14)),
    (2, "ccp", (14, 14)),
    (3, "ccpcp", (7, 7)),
    (4, "ccpccp", (7, 7)),
    (5, "ccpccpc", (7, 7)),  # 7 < POOL_MIN: no third pool
    (6, "ccpccpcc", (7, 7)),
])
def test_pooling_rule_on_mnist(depth, kinds, final):
    plan = cnn.layer_plan(depth, MNIST, residual=False)
    assert "".join(op.kind[0] for op in plan) == kinds
    assert cnn.out_hw(depth, MNIST) == final
    assert all(op.hw[0] >= cnn.POOL_MIN for op in plan if op.kind == "pool")


def test_pooling_rule_on_digits_and_shortcuts():
    assert "".join(op.kind[0] for op in cnn.layer_plan(3, (8, 8), False)) == "ccpc"
    assert cnn.out_hw(3, (8, 8)) == (4, 4)
    plan = cnn.layer_plan(4, MNIST, residual=True)
    # every conv but the first (which changes the channel count) has a shortcut
    assert [op.shortcut for op in plan if op.kind == "conv"] == [False, True, True, True]
    assert cnn.shortcuts(4, True) == 3 and cnn.shortcuts(4, False) == 0 and cnn.shortcuts(1, True) == 0
    assert _cnn(3, 16, residual=True).topology == "c16-c16r-mp-c16r-mp-fc10"
    assert _cnn(1, 8).topology == "c8-mp-fc10"


def test_conv_ladder():
    w = cnn.CONV_WIDTHS
    assert list(w) == sorted(set(w)) and all(x % 4 == 0 for x in w)
    assert all(1.3 <= b / a <= 1.5 for a, b in zip(w, w[1:]))
    assert math.ceil(math.log2(len(w) + 1)) <= 4  # <= 4 predictions per binary search


# --------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------
def test_cnn_candidate_key_and_round_trip():
    c = _cnn(3, 32, residual=True, input_bits=8)
    assert c.key == "mnist5k-cnn-d3-c32-res-in8"
    assert Candidate.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert _cnn(2, 16).key == "mnist5k-cnn-d2-c16"
    # an mlp candidate keeps its three fields (old results.jsonl files read back the same)
    assert Candidate("mnist5k", 2, 256).to_dict() == {"dataset": "mnist5k", "depth": 2, "width": 256}
    assert Candidate.from_dict({"dataset": "mnist5k", "depth": 2, "width": 256}).family == "mlp"


@pytest.mark.parametrize("kw", [dict(residual=True), dict(input_bits=8), dict(family="cnn", residual=True, depth=1),
                                dict(family="cnn", input_bits=4), dict(family="rnn")])
def test_cnn_candidate_rejects_bad_combinations(kw):
    args = {"dataset": "mnist5k", "depth": 2, "width": 16, **kw}
    with pytest.raises(ValueError):
        Candidate(**args)


def test_spec_keeps_mlp_settings_and_residual_options():
    mlp = deepbit.SearchSpec(dataset="digits", backend="fpga", device="pynq-z2", objective="lut", min_fps=None)
    assert not {"family", "residual", "input_bits"} & set(mlp.to_dict())  # old search.json files resume
    assert _spec(residual="both").to_dict()["residual"] == "both"
    assert _spec(residual="both").residual_options(1) == (False,)
    assert _spec(residual="both").residual_options(2) == (False, True)
    assert _spec(residual="on").residual_options(3) == (True,)
    assert _spec().residual_options(3) == (False,)
    assert default_min_fps("fpga", "cnn") == 50_000.0 and default_min_fps("fpga") == 400_000.0
    assert default_min_fps("gpu", "cnn") is None


# --------------------------------------------------------------------------------------
# Predicted IR
# --------------------------------------------------------------------------------------
def test_predicted_cnn_network_shapes():
    net = predicted_network(_cnn(3, 16))
    convs = [layer for layer in net.matrix_layers if isinstance(layer, ir.Conv)]
    assert [(c.in_shape, c.out_shape, c.pad_mode, c.input_bits) for c in convs] == [
        ((28, 28, 1), (28, 28, 16), "alternating", 1), ((28, 28, 16), (28, 28, 16), "alternating", 1),
        ((14, 14, 16), (14, 14, 16), "alternating", 1)]
    pools = [layer for layer in net.datapath if isinstance(layer, ir.MaxPool)]
    assert [p.out_shape for p in pools] == [(14, 14, 16), (7, 7, 16)]
    fc = net.matrix_layers[-1]
    assert isinstance(fc, ir.Dense) and fc.fan_in == 7 * 7 * 16 and fc.out_channels == 10 and not fc.binarize
    eight = predicted_network(_cnn(1, 8, input_bits=8))
    first = eight.matrix_layers[0]
    assert eight.input_quant.bits == 8 and first.input_bits == 8 and first.pad_mode == "zero"
    # real images run through it (the host input step is the trained model's)
    x = np.array(load_split("digits")[2][:4])
    assert reference.run(predicted_network(_cnn(2, 8, dataset="digits")), x).shape == (4, 10)


def test_predicted_residual_network_has_a_join_per_shortcut():
    net = predicted_network(_cnn(3, 16, residual=True))
    joins = [layer for layer in net.datapath if isinstance(layer, ir.Join)]
    acts = [layer for layer in net.datapath if isinstance(layer, ir.Threshold)]
    assert len(joins) == len(acts) == 2
    for join in joins:
        conv, shortcut = net.producers(join)
        # the conv's 3-level (2-bit) output plus the block input's sign bits: sums -2..2
        assert isinstance(conv, ir.Conv) and conv.out_levels == 3 and net.element_bits(conv) == 2
        assert net.is_bipolar(shortcut) and conv.in_shape == conv.out_shape
        assert net.value_range(join) == (-2, 2)
        assert net.consumers[shortcut.name] == (conv, join)  # a fork
    x = np.array(load_split("digits")[2][:4])
    assert reference.run(predicted_network(_cnn(2, 8, residual=True, dataset="digits")), x).shape == (4, 10)


def test_predicted_equals_compiled_cnn(tmp_path):
    """Plain cnn, binary and 8-bit input: the IR the cost models see before training is the
    compiled one, and the reference engine classifies every test image as torch does."""
    for c in (_cnn(2, 8, dataset="digits"), _cnn(1, 8, dataset="digits", input_bits=8)):
        r = evaluate_candidate(c, out_dir=tmp_path / c.key, epochs=1)
        assert not r.get("failed"), r
        assert r["agree"] == 1.0 and r["reference_accuracy"] == r["accuracy"]
        assert structure(compiled_network(r["model"], c)) == structure(predicted_network(c))


def test_residual_candidate_compiles_or_fails_with_one_line(tmp_path):
    """The residual switch's model. Until the compiler builds residual joins, it trains and
    then fails to compile, recorded with its error line; once it does, it must compile to the
    predicted IR and agree with torch."""
    c = _cnn(2, 8, residual=True, dataset="digits")
    r = evaluate_candidate(c, out_dir=tmp_path, epochs=1)
    assert r["epochs_done"] == 1 and 0.0 <= r["accuracy"] <= 1.0
    json.dumps(r)
    if r.get("failed"):
        assert r["error"].count("\n") == 0 and r["error"].split(":")[0] in {"UserError", "KeyError", "NotImplementedError"}
    else:
        assert r["agree"] == 1.0
        assert structure(compiled_network(r["model"], c)) == structure(predicted_network(c))


def test_residual_model_shares_its_quantizer():
    import torch

    from bnn2hls.search.candidates import build_model

    torch.manual_seed(0)
    model = build_model(_cnn(3, 8, residual=True, dataset="digits")).eval()
    blocks = [m for m in model.modules() if type(m).__name__ == "Block"]
    assert [b.shortcut for b in blocks] == [False, True, True]
    # one quantizer applied to both operands leaves the block input's sign bits unchanged
    x = torch.where(torch.rand(2, 8, 8, 8) < 0.5, -1.0, 1.0)
    assert torch.equal(blocks[1].q(x), x)
    y = blocks[1].q(torch.linspace(-3, 3, 50))
    assert set(y.unique().tolist()) == {-1.0, 0.0, 1.0}
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)


# --------------------------------------------------------------------------------------
# Cost on each backend
# --------------------------------------------------------------------------------------
def test_fpga_prices_a_cnn():
    cost = backends.get("fpga").estimate(predicted_network(_cnn(2, 32)), "pynq-z2", min_fps=50_000)
    assert cost.fits and cost.fps >= 50_000 and cost.objective > 0
    assert set(cost.details["folding"]["layers"]) == {"conv0", "conv1", "dense0"}
    # a 28x28 map streams one pixel per cycle: no folding passes clock / (30 * 30)
    assert backends.get("fpga").estimate(predicted_network(_cnn(1, 8)), "pynq-z2", min_fps=None).fps < 1e8 / 784


def test_gpu_prices_a_conv_as_an_implicit_gemm_and_a_join_as_a_kernel():
    gpu = backends.get("gpu")
    dev = gpu.default_device()
    plain = gpu.estimate(predicted_network(_cnn(3, 32)), dev)
    layers = {e["name"]: e for e in plain.details["layers"]}
    assert (layers["conv1"]["m"], layers["conv1"]["k"], layers["conv1"]["n"]) == (28 * 28, 9 * 32, 32)
    assert (layers["conv0"]["k"], layers["conv0"]["planes"]) == (9, 1)
    res = gpu.estimate(predicted_network(_cnn(3, 32, residual=True)), dev)
    kinds = [e["kind"] for e in res.details["layers"]]
    assert kinds.count("add") == 2 and "threshold" not in kinds  # the activation is fused into the join's kernel
    assert res.details["launches"] == plain.details["launches"] + 2
    assert res.latency_s > plain.latency_s + 2 * res.details["launch_s"] * 0.99
    eight = gpu.estimate(predicted_network(_cnn(1, 32, input_bits=8)), dev)
    assert eight.details["layers"][0]["planes"] == 8


def test_rram_prices_convs_as_unrolled_crossbars_and_shortcuts_digitally():
    rram = backends.get("rram")
    dev = rram.default_device()
    plain = rram.estimate(predicted_network(_cnn(3, 32)), dev)
    conv1 = next(e for e in plain.details["layers"] if e["name"] == "conv1")
    assert conv1["m"] == 28 * 28 and conv1["k"] == 9 * 32 and conv1["passes"] == 28 * 28
    res = rram.estimate(predicted_network(_cnn(3, 32, residual=True)), dev)
    assert res.usage == plain.usage  # a shortcut needs no crossbar
    assert res.objective > plain.objective
    assert {e["kind"] for e in res.details["layers"]} >= {"add", "threshold"}


def test_plan_searches_the_residual_switch():
    gpu = backends.get("gpu")
    spec = _spec(backend="gpu", device=gpu.default_device(), min_fps=None, residual="both", depths=(1, 2))
    plan = deepbit.plan_search(gpu, spec)
    assert [c.key for c in plan.frontier] == ["mnist5k-cnn-d1-c128", "mnist5k-cnn-d2-c128", "mnist5k-cnn-d2-c128-res"]
    assert plan.predictions["mnist5k-cnn-d2-c128-res"].latency_s > plan.predictions["mnist5k-cnn-d2-c128"].latency_s
    # fpga: a residual candidate is priced once the hardware builds joins, else unpriced with its error line
    fpga_plan = deepbit.plan_search(backends.get("fpga"), _spec(residual="both", depths=(1, 2)))
    assert [c.depth for c in fpga_plan.frontier if not c.residual] == [1, 2]
    for key, error in fpga_plan.unpriced.items():
        assert key.endswith("-res") and error.count("\n") == 0
    assert all(p.feasible == (p.cost is not None and p.cost.meets(50_000.0)) for p in fpga_plan.chart)


def test_residual_report_and_shortcut_costs():
    spec = _spec(residual="both")
    c_off, c_on = _cnn(2, 16), _cnn(2, 16, residual=True)

    def rec(c: Candidate, acc: float) -> dict:
        return {"key": c.key, "candidate": c.to_dict(), "accuracy": acc, "feasible": True,
                "predicted": {"objective_name": "lut", "objective": 100.0 if not c.residual else 110.0}}

    doc = residual_report(spec, [rec(c_off, 0.90), rec(c_on, 0.92)], rec(c_on, 0.92))
    assert doc["winner_uses_shortcuts"] is True and doc["searched"] == "both"
    assert doc["pairs"] == [{"depth": 2, "width": 16, "accuracy_off": 0.90, "accuracy_on": 0.92, "objective_name": "lut",
                             "objective_off": 100.0, "objective_on": 110.0, "feasible_off": True, "feasible_on": True}]
    costs = doc["shortcut_cost"]
    assert set(costs) == {"fpga", "gpu", "rram"}
    assert costs["gpu"]["objective_delta_pct"] > 0 and costs["rram"]["objective_delta_pct"] > 0
    assert "objective_delta_pct" in costs["fpga"] or "error" in costs["fpga"]["on"]
    json.dumps(shortcut_costs(spec, c_off))


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--residual", "on"], "--residual and --input-bits are options of the cnn family"),
    (["--input-bits", "8"], "--residual and --input-bits are options of the cnn family"),
    (["--family", "cnn", "--depths", "9"], "--depths 9: depths must be between 1 and 8 for the cnn family"),
])
def test_cnn_search_user_errors(tmp_path, capsys, argv, message):
    rc = main(["search", "--dataset", "digits", "--quiet", "--no-verify", *argv, "-o", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "s").exists()


@pytest.mark.tier("e2e")
def test_cnn_search_on_digits(tmp_path, monkeypatch):
    """A small cnn search (gpu, channels 8..16, depth 2) with the residual switch: every
    planned candidate is trained, and a residual one either compiles or (before the compiler
    builds joins) is recorded as failed with its error line. A winner whose verification
    raises (a residual one the hardware does not build yet) is reported, not a crash."""
    from bnn2hls.errors import UserError
    from bnn2hls.search import run
    from bnn2hls.search.run import RunOptions, run_search

    def refuse(fn, args, timeout):
        raise UserError("node 'fork0': no cost coefficients\nsecond line")

    monkeypatch.setattr(run, "call_with_timeout", refuse)

    gpu = backends.get("gpu")
    spec = _spec(dataset="digits", backend="gpu", device=gpu.default_device(), min_fps=None, residual="both",
                 depths=(2,), widths=(8, 12, 16))
    out = tmp_path / "s"
    doc = run_search(spec, out, RunOptions(max_minutes=3, workers=2, progress=False, verify=True))
    assert doc["winner"]["verified"] == {"error": "UserError: node 'fork0': no cost coefficients"}
    recs = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["key"] for r in recs) == ["digits-cnn-d2-c16", "digits-cnn-d2-c16-res", "digits-cnn-d2-c8",
                                              "digits-cnn-d2-c8-res"]
    for r in recs:
        if r.get("failed"):
            assert r["candidate"]["residual"] and not r["feasible"] and r["error"].count("\n") == 0
        else:
            assert r["agree"] == 1.0 and r["accuracy"] > 0.5
    assert doc["settings"]["family"] == "cnn" and doc["winner"]["candidate"]["family"] == "cnn"
    assert doc["residual"]["winner_uses_shortcuts"] is not None
    assert set(doc["residual"]["shortcut_cost"]) == {"fpga", "gpu", "rram"}
    assert len(doc["failed"]) == sum(bool(r.get("failed")) for r in recs)
    assert len(doc["residual"]["pairs"]) == 2 - len(doc["failed"])
    assert (out / "pareto.png").is_file()


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_cnn_search_verifies_the_winner_on_the_fpga(tmp_path, capsys):
    """The winner of a cnn search is compiled, simulated bit-exact in RTL and synthesized."""
    out = tmp_path / "s"
    assert main(["search", "--family", "cnn", "--dataset", "digits", "--depths", "1,2", "--min-fps", "400000",
                 "--max-minutes", "5", "--quiet", "-o", str(out)]) == 0
    doc = json.loads((out / "pareto.json").read_text())
    v = doc["winner"]["verified"]
    assert v["rtl_bit_exact"] and v["onnx_equal"] and v["meets_min_fps"] and v["measured_fits"]
    assert abs(v["lut_error_pct"]) <= 20

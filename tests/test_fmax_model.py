"""The fmax model (bnn2hls/estimate/fmax_model.py): block stages, the fit to the recorded
place-and-route runs, and the effective clock min(board clock, predicted fmax) that
--target-fps, the fit, the report and the search use."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnn2hls.estimate import fit, fmax_model
from bnn2hls.hw import lower
from bnn2hls.hw.blocks import kinds
from bnn2hls.hw.blocks.base import TIMING_FEATURES
from bnn2hls.hw.boards import load_board
from bnn2hls.hw.folding import estimate_cycles, fold_parallelism
from bnn2hls.reports import report

pytestmark = pytest.mark.tier("unit")

POINTS = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "fmax_points.json"


def _points() -> list[dict]:
    return json.loads(POINTS.read_text())["points"]


@pytest.fixture(scope="module")
def tfc(exported):
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model

    path, _ = exported("TFC_1W1A")
    return build_network(load_model(path), "tfc")


def _fast_board(mhz: float) -> dict:
    """ulx3s-85f (ECP5) with a board clock of `mhz`."""
    return {**load_board("ulx3s-85f").to_dict(), "clock_mhz": mhz}


def test_every_recorded_block_has_stages_with_known_features():
    seen = set()
    for point in _points():
        for b in point["blocks"]:
            stages = fmax_model.block_stages(b["kind"], b["params"])
            assert stages, b["name"]
            for feats in stages.values():
                assert set(feats) == set(TIMING_FEATURES) and feats["fanout"] >= 1
            seen.add(b["kind"])
    assert {"mvau", "fifo"} <= seen
    assert {k.kind for k in kinds()} >= seen


def test_prediction_within_15_percent_of_every_recorded_place_and_route():
    """Acceptance 4 of issue 17 on the recorded runs (the fit's own points: refit with
    benchmarks/fit_fmax.py when the RTL changes)."""
    coeffs = fmax_model.load_coefficients()
    points = [p for p in _points() if p["family"] == "ecp5"]
    assert len(points) >= 5
    for p in points:
        pred = fmax_model.predict_blocks([(b["name"], b["kind"], b["params"]) for b in p["blocks"]], "ecp5", coeffs)
        assert pred is not None
        assert abs(pred.fmax_mhz - p["fmax_mhz"]) <= 0.15 * p["fmax_mhz"], (p["spec"], pred, p["fmax_mhz"])


def test_stages_follow_the_structure():
    """Wider accumulators, a wider issue fanout and more products in series are slower."""
    c = fmax_model.load_coefficients()["families"]["ecp5"]["coeffs"]
    base = {"MW": 64, "MH": 16, "PE": 4, "SIMD": 8, "IN_B": 1, "BINARIZE": 1, "N_CLASSES": 1, "USER_W": 1, "ACC_W": 7,
            "THR_W": 7}
    mb = {**base, "IN_B": 8, "W_B": 4, "ACC_W": 18, "THR_W": 19}
    s_bin, s_mb = fmax_model.block_stages("mvau", base), fmax_model.block_stages("mvau", mb)
    assert fmax_model.stage_delay(s_mb["tree0"], c) > fmax_model.stage_delay(s_bin["tree0"], c)
    assert fmax_model.stage_delay(s_mb["acc"], c) > fmax_model.stage_delay(s_bin["acc"], c)
    wide = fmax_model.block_stages("mvau", {**base, "MW": 1024, "ACC_W": 11, "THR_W": 11})
    assert fmax_model.stage_delay(wide["issue"], c) > fmax_model.stage_delay(s_bin["issue"], c)


def test_xilinx_has_no_prediction_and_keeps_the_board_clock(tfc):
    assert fmax_model.predict(tfc, "xc7") is None and not fmax_model.fitted("xc7")
    info = fmax_model.clock_info(100.0, None, "xc7")
    assert info["clock_mhz"] == 100.0 and info["predicted_fmax_mhz"] is None and info["clock_source"] == "board clock"
    assert "unfitted" in info["fmax"]["note"]
    assert fmax_model.clock_phrase(info) == "at 100 MHz (board clock; fmax not predicted for xc7)"


def test_effective_clock_is_the_lower_of_the_two():
    slow = fmax_model.FmaxPrediction("ecp5", 80.09, "u_x", "acc", 12.49)
    assert fmax_model.effective_clock(100.0, slow) == 80.0
    assert fmax_model.clock_source(100.0, slow) == "predicted fmax"
    assert fmax_model.effective_clock(50.0, slow) == 50.0 and fmax_model.clock_source(50.0, slow) == "board clock"
    assert fmax_model.effective_clock(100.0, None) == 100.0


def test_target_fps_folds_at_the_predicted_fmax(tfc):
    """A board clock above the design's predicted fmax: --target-fps folds for the fmax, so the
    design reaches the rate at the clock it can run at (more lanes than at the board clock)."""
    board = _fast_board(400.0)
    fps = 1e6
    folded = fit.fold_within_budget(tfc, fps, 400.0, board)
    pred = fmax_model.predict(folded, "ecp5")
    assert pred is not None and pred.fmax_mhz < 400
    cycles = estimate_cycles(folded)["est_cycles_per_frame"]
    assert pred.fmax_mhz * 1e6 / cycles >= fps
    naive = estimate_cycles(fold_parallelism(tfc, int(400e6 // fps)))["est_cycles_per_frame"]
    assert cycles < naive  # at the board clock the folding would fall short of the rate
    # below the fmax the board clock rules, and the folding is the plain one
    slow, clock = fit.fold_for_rate(tfc, fps, 50.0, "ecp5")
    assert clock == 50.0 and slow == fold_parallelism(tfc, int(50e6 // fps))


def test_report_states_and_uses_the_effective_clock(tfc):
    net = fold_parallelism(tfc, 1000)
    cycles = estimate_cycles(net)["est_cycles_per_frame"]
    fast = report.build_report(net, 400.0, _fast_board(400.0))["network"]
    pred = fmax_model.predict(net, "ecp5")
    assert pred is not None
    assert fast["clock_mhz"] == fmax_model.effective_clock(400.0, pred) < 400 and fast["board_clock_mhz"] == 400.0
    assert pred.fmax_mhz - 0.1 < fast["clock_mhz"] <= pred.fmax_mhz
    assert fast["clock_source"] == "predicted fmax" and fast["est_fps"] == pytest.approx(fast["clock_mhz"] * 1e6 / cycles)
    assert fast["fmax"]["critical_block"] in {b.name for b in lower(net).blocks}
    assert fmax_model.clock_phrase(fast).startswith(f"at {fast['clock_mhz']:g} MHz (predicted fmax on ecp5")
    board = report.build_report(net, 50.0, load_board("ulx3s-85f"))["network"]
    assert board["clock_mhz"] == 50.0 and board["clock_source"] == "board clock"
    assert board["predicted_fmax_mhz"] == pytest.approx(pred.fmax_mhz, abs=0.05)  # report.json keeps 0.1 MHz
    assert fmax_model.clock_phrase(board) == f"at 50 MHz (board clock; predicted fmax {board['predicted_fmax_mhz']:.0f} MHz on ecp5)"
    none = report.build_report(net, 100.0)["network"]
    assert none["clock_mhz"] == 100.0 and none["predicted_fmax_mhz"] is None


def test_lut4_board_budget_counts_the_estimate_in_its_logic_cells(tfc):
    """The cost model counts xc7 LUT6s; on a LUT4 board the fit counts the logic cells nextpnr
    would place (ratio fitted to the recorded runs), not LUT6s against LUT4 sites."""
    coeffs = fmax_model.load_coefficients()
    scale = fmax_model.resource_scale("ecp5", coeffs)
    assert scale is not None and scale.fitted_on == "ecp5" and scale.lut > 1.0
    # the fitted ratio is the recorded runs' logic cells per estimated LUT, within its stated error
    resources = coeffs["families"]["ecp5"]["resources"]
    points = [p for p in _points() if p["family"] == "ecp5" and "estimate" in p]
    assert len(points) == resources["points"] >= 5
    for p in points:
        ratio = p["utilisation"]["logic_cells"] / p["estimate"]["lut_total"]
        assert abs(ratio / scale.lut - 1) <= resources["lut_sites_per_lut_max_abs_error"] + 1e-3, p["spec"]
    ice = fmax_model.resource_scale("ice40", coeffs)
    assert ice is not None and ice.fitted_on == "ecp5" and ice.lut == scale.lut
    assert fmax_model.resource_scale("xc7", coeffs) is None

    est = fit.estimate(fold_parallelism(tfc, 1000))
    xc7, _, _ = fit.usage(est, load_board("pynq-z2"))
    ecp5, layers, source = fit.usage(est, load_board("ulx3s-85f"))
    assert source == "estimate" and xc7.lut == est.resources.lut_total
    assert ecp5.lut == pytest.approx(scale.lut * est.resources.lut_total)
    assert ecp5.ff == pytest.approx(scale.ff * est.resources.ff)
    assert (xc7.bram18, ecp5.bram18) == (est.resources.bram18, est.resources.bram18_ecp5)
    assert sum(u.lut for u in layers.values()) == pytest.approx(ecp5.lut, rel=0.02)
    lines = fit.fit_check(est, load_board("ulx3s-85f"))
    assert lines[1].startswith("Estimate in ecp5 logic cells (LUT4 sites)")
    assert any(line.startswith(f"LUT: {round(ecp5.lut):,} of 83,640") for line in lines)


def test_ecp5_block_rams_counted_as_synth_ecp5_maps_them(exported):
    """The fit counts an ECP5 board's block RAMs (DP16KD) by synth_ecp5's own mapping rule
    (cost_model.LIBRARIES["ecp5"]), not xc7's: ECP5 keeps ROMs in block RAM at 1/16 per logic
    bit where xc7 pays 1/64, and its distributed RAM is 16 x 4. Figures placed by nextpnr on
    ulx3s-85f (the README's timing table): TFC's 64 x 784 weight ROM in 22 DP16KD (xc7: LUTs);
    a 64 x 56 FIFO in 2 (xc7: LUTRAM); CNV_1W1A at BNN-PYNQ's folding 114 (xc7 estimate: 90)
    and at 9,216 cycles per frame 171 (xc7 estimate: 73)."""
    from bnn2hls.estimate import cost_model
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model
    from bnn2hls.hw.folding import apply_folding_spec
    from bnn2hls.models import zoo

    assert cost_model.map_memory(64, 784, rom=True).kind == "logic"
    assert cost_model.map_memory(64, 784, rom=True, family="ecp5").bram18 == 22
    assert cost_model.map_memory(64, 56, rom=False, emu=cost_model.EMU_PLAIN).kind == "lutram"
    assert cost_model.map_memory(64, 56, rom=False, emu=cost_model.EMU_PLAIN, family="ecp5").bram18 == 2
    path, _ = exported("CNV_1W1A")
    net = build_network(load_model(path), "cnv")
    board = load_board("ulx3s-85f")
    for folded, placed, xc7 in ((apply_folding_spec(net, zoo.bnn_pynq_folding(net)), 114, 90),
                                (fold_parallelism(net, 9216), 171, 73)):
        est = fit.estimate(folded)
        assert (est.resources.bram18_ecp5, est.resources.bram18) == (placed, xc7)
        assert fit.usage(est, board)[0].bram18 == placed
        assert fit.usage(est, load_board("pynq-z2"))[0].bram18 == xc7


def test_routed_cnv_point_is_the_largest_folding_that_fits(exported):
    """benchmarks/timing.py's `cnv` (issue 17: "CNV_1W1A at the largest folding that fits") is
    the fastest folding whose estimate stays within fit.ROUTABLE of ulx3s-85f. The routed
    point recorded as `cnv` in fmax_points.json is that folding, so the figure quoted for it
    is the figure of today's choice: a cost-model change that moves the choice fails here
    (route the new folding: `benchmarks/fmax_points.py --networks cnv`)."""
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model

    path, _ = exported("CNV_1W1A")
    net = build_network(load_model(path), "cnv")
    best = fit.fastest_fitting_folding(net, load_board("ulx3s-85f"), fit.ROUTABLE)
    assert best is not None
    folded, est = best
    point = next(p for p in _points() if p["spec"] == "cnv" and p["board"] == "ulx3s-85f")
    routed = {b["name"]: (b["params"]["PE"], b["params"]["SIMD"]) for b in point["blocks"] if b["kind"] == "mvau"}
    assert {f"u_{layer.name}_mvau": (layer.pe, layer.simd) for layer in folded.matrix_layers} == routed
    # it routed at 100 MHz or more, in the block RAMs the fit counted
    assert point["fmax_mhz"] >= 100 and point["utilisation"]["bram"] == est.resources.bram18_ecp5


def test_fastest_fitting_folding_fits_the_ecp5_in_logic_cells(exported):
    """CNV_1W1A on ulx3s-85f: the fastest folding the fit picks fits in logic cells, the next
    faster one the search rejected does not (CNV's xc7 LUT estimate alone would pick a folding
    of ~77,000 LUT6, far past the 85F's 83,640 LUT4 once placed)."""
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model

    path, _ = exported("CNV_1W1A")
    net = build_network(load_model(path), "cnv")
    board = load_board("ulx3s-85f")
    best = fit.fastest_fitting_folding(net, board)
    assert best is not None
    folded, est = best
    used, _, _ = fit.usage(est, board)
    assert used.lut <= 83640
    cycles = estimate_cycles(folded)["est_cycles_per_frame"]
    faster = fold_parallelism(net, cycles - 1)
    assert not fit.fits(fit.estimate(faster), board)

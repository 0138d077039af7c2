"""`bnn2hls report OUT --pnr`: place and route with yosys + nextpnr (bnn2hls.estimate.pnr).

The parsing is checked on a recorded nextpnr-ice40 report (tests/data/nextpnr_report_ice40.json,
from a real run of a 16-16-4 MLP); the real runs are in the slow tier."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnn2hls.hw.boards import load_board
from bnn2hls.cli import main
from bnn2hls.errors import UserError
from bnn2hls.estimate import pnr

pytestmark = pytest.mark.tier("unit")

FIXTURE = Path(__file__).parent / "data" / "nextpnr_report_ice40.json"


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(FIXTURE.read_text())


def test_recorded_report_parses_to_fmax_utilisation_and_a_named_path(recorded):
    d = pnr.Design(load_board("icebreaker"), 12.0, 1, {}, {}, recorded["instances"])
    s = pnr.summarize(d, recorded["report"], recorded["yosys_cells"])
    assert s["fmax_mhz"] == pytest.approx(52.51, abs=0.01) and s["meets_clock"] is True
    assert s["clock_mhz"] == 12.0 and s["constraint_mhz"] == 12.0 and s["device"] == "iCE40UP5K-SG48"
    u = s["utilisation"]
    assert u["lut4"] == recorded["yosys_cells"]["SB_LUT4"] > 0
    assert u["carry"] == recorded["yosys_cells"]["SB_CARRY"] > 0
    assert u["ff"] == sum(n for k, n in recorded["yosys_cells"].items() if k.startswith("SB_DFF")) > 0
    assert u["logic_cells"] == u["device"]["ICESTORM_LC"][0] and u["device"]["ICESTORM_LC"][1] == 5280
    assert u["bram"] == 0 and u["dsp"] == 0
    cp = s["critical_path"]
    # the clock's register-to-register path (not the pins' <async> ones), inside the last MVAU
    assert cp["from"] == cp["to"] == "u_dense1_mvau" and cp["through"] == ["u_dense1_mvau"]
    assert cp["logic_ns"] > 0 and cp["routing_ns"] > 0
    assert cp["total_ns"] == pytest.approx(cp["logic_ns"] + cp["routing_ns"], abs=0.002)
    assert 1000 / cp["total_ns"] == pytest.approx(s["fmax_mhz"], rel=0.02)


def test_report_entry_and_page_section(recorded):
    from bnn2hls.reports import report, report_html

    d = pnr.Design(load_board("icebreaker"), 12.0, 1, {}, {}, recorded["instances"])
    result = {**pnr.summarize(d, recorded["report"], recorded["yosys_cells"]), "cached": True}
    doc = report.add_pnr({"network": {"est_cycles_per_frame": 256}}, result)
    p = doc["pnr"]
    assert "cached" not in p and p["fps_at_fmax"] == pytest.approx(52.51e6 / 256, rel=1e-3)
    assert p["fps_at_clock"] == pytest.approx(12e6 / 256)
    page = report_html._pnr_section(p)
    assert "Place and route on icebreaker" in page and "52.5 MHz" in page and "u_dense1_mvau" in page
    assert "Vivado" in page


def test_cells_map_to_block_instances():
    inst = ["u_dense0_mvau", "u_dense0_fifo"]
    assert pnr.instance_of("u_top.u_dense0_mvau.acc_TRELLIS_FF_Q_149", inst) == "u_dense0_mvau"
    assert pnr.instance_of("u_top.u_dense0_mvau.wmem.0.19", inst) == "u_dense0_mvau"
    assert pnr.instance_of("u_top.s_tready_LUT4_Z", inst) == "bnn_top"
    assert pnr.instance_of("dout_q_TRELLIS_FF_Q", inst) == "harness"


def test_nextpnr_failures_condense_to_one_line(recorded):
    over = recorded["log_utilisation"].replace("451/   5280", "5301/   5280")
    msg = pnr.condense_error(over, "iCE40UP5K-SG48")
    assert msg == "the design does not fit iCE40UP5K-SG48: it needs 5,301 ICESTORM_LC of 5,280"
    msg = pnr.condense_error("Info: x\nERROR: Unable to place cell 'w', no BELs remaining to implement cell type "
                             "'DP16KD'\n", "LFE5U-85F-6BG381C")
    assert msg == "the design does not fit LFE5U-85F-6BG381C: not enough DP16KD"
    assert pnr.condense_error("ERROR: something else\nmore\n", "P") == "nextpnr failed: something else"
    assert "\n" not in pnr.condense_error(recorded["log_utilisation"] + "\nboom", "P")


def test_board_choice():
    assert pnr.pnr_board(None)[0].name == pnr.DEFAULT_BOARD == "ulx3s-85f"
    assert pnr.pnr_board("icebreaker") == (load_board("icebreaker"), None)
    assert pnr.pnr_board(None, "icebreaker")[0].name == "icebreaker"
    board, note = pnr.pnr_board("pynq-z2")
    assert board.name == "ulx3s-85f" and note is not None and "Vivado" in note
    with pytest.raises(UserError, match="nosuchboard"):
        pnr.pnr_board("nosuchboard")


def test_harness_and_constraints_use_the_boards_pins():
    text = pnr.harness(16, 20)
    assert "module bnn_pnr_top" in text and "localparam integer IN_W = 16;" in text and "bnn_top u_top" in text
    name, lpf = pnr.constraints(load_board("ulx3s-85f"), 50.0)
    assert name == "board.lpf" and 'LOCATE COMP "clk" SITE "G2";' in lpf and 'FREQUENCY PORT "clk" 50 MHZ;' in lpf
    name, pcf = pnr.constraints(load_board("icebreaker"), 12.0)
    assert name == "board.pcf" and "set_io -nowarn clk 35" in pcf


def test_progress_line():
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        bar = pnr.Progress("pnr ulx3s-85f", stream)
        bar.show("yosys synth_ecp5", 3)
        bar.show("nextpnr placing", 40)
        bar.show("nextpnr placing", 41)
        bar.done("fmax 61.0 MHz (225 s)")
    # a terminal: one line redrawn in place; a log: a line per phase
    assert tty.getvalue().count("\n") == 1 and "\rpnr ulx3s-85f: nextpnr placing, 41 s" in tty.getvalue()
    assert log.getvalue() == ("pnr ulx3s-85f: yosys synth_ecp5\npnr ulx3s-85f: nextpnr placing\n"
                              "pnr ulx3s-85f: fmax 61.0 MHz (225 s)\n")


def test_pnr_options_need_pnr(capsys, tmp_path):
    assert main(["report", str(tmp_path), "--seed", "3"]) == 2
    assert capsys.readouterr().err == "error: --seed applies to --pnr only\n"
    assert main(["report", str(tmp_path), "--pnr-clock", "100"]) == 2
    assert capsys.readouterr().err == "error: --pnr-clock applies to --pnr only\n"


# --------------------------------------------------------------------------------------
# Real runs (slow tier)
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_out(tmp_path_factory):
    """A 16-16-4 binary MLP, compiled."""
    import torch
    from torch import nn

    from bnn2hls.models import zoo
    from bnn2hls.frontend.torch_export import export_qonnx
    from bnn2hls.models.zoo import _binary_act, _linear, _Sequential

    tmp = tmp_path_factory.mktemp("pnr")
    torch.manual_seed(0)
    model = _Sequential(nn.Flatten(), _binary_act(), _linear(16, 16), nn.BatchNorm1d(16), _binary_act(),
                        _linear(16, 4), nn.BatchNorm1d(4))
    zoo.randomize_batchnorm(model, 0)
    path = export_qonnx(model.eval(), torch.zeros(1, 1, 4, 4), tmp / "tiny.onnx")
    out = tmp / "out"
    assert main(["compile", str(path), "-o", str(out)]) == 0
    return out


@pytest.mark.slow
@pytest.mark.tier("rtl")  # yosys + nextpnr
@pytest.mark.parametrize("board", ["icebreaker", "ulx3s-85f"])
def test_report_pnr_routes_a_tiny_network(tiny_out, board, capsys):
    from bnn2hls import hw, ir

    assert main(["report", str(tiny_out), "--pnr", "--board", board, "--seed", "2"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads((tiny_out / "report.json").read_text())
    p = doc["pnr"]
    b = load_board(board)
    assert p["board"] == board and p["device"] == b.part and p["seed"] == 2 and p["clock_mhz"] == b.clock_mhz
    assert p["fmax_mhz"] > 0 and p["meets_clock"] == (p["fmax_mhz"] >= b.clock_mhz)
    assert p["fps_at_fmax"] == pytest.approx(p["fmax_mhz"] * 1e6 / doc["network"]["est_cycles_per_frame"])
    u = p["utilisation"]
    assert u["lut4"] > 0 and u["ff"] > 0 and u["logic_cells"] >= u["lut4"]
    blocks = {s.name for s in hw.lower(ir.load(tiny_out)).blocks}
    cp = p["critical_path"]
    assert {cp["from"], cp["to"]} <= blocks | {"bnn_top", "harness"} and set(cp["through"]) & blocks
    assert cp["logic_ns"] > 0 and cp["routing_ns"] >= 0
    assert f"fmax {p['fmax_mhz']:.1f} MHz" in out and f"critical path: {cp['from']} -> {cp['to']}" in out
    assert f"pnr {board}:" in err  # the progress line
    if b.family == "ecp5":  # the fmax model's prediction (fitted for ECP5) and its error
        assert p["predicted_fmax_mhz"] > 0 and p["predicted_critical"].split(".")[0] in blocks
        assert p["fmax_prediction_error"] == pytest.approx((p["predicted_fmax_mhz"] - p["fmax_mhz"]) / p["fmax_mhz"], abs=1e-3)
        assert f"predicted fmax {p['predicted_fmax_mhz']:.1f} MHz" in out
    else:
        assert "predicted_fmax_mhz" not in p
    page = (tiny_out / "report.html").read_text()
    assert f"Place and route on {board}" in page and f"{p['fmax_mhz']:.1f} MHz" in page
    # cached: the same entry again, without running the tools
    assert main(["report", str(tiny_out), "--pnr", "--board", board, "--seed", "2"]) == 0
    capsys.readouterr()
    assert json.loads((tiny_out / "report.json").read_text())["pnr"] == p


@pytest.mark.slow
@pytest.mark.tier("rtl")
def test_report_pnr_does_not_fit(exported, tmp_path, capsys):
    """TFC at FINN's folding needs about 12,000 logic cells, the iCE40 UP5K has 5,280: one line
    naming the resource, exit 2."""
    from bnn2hls.flow import compiler

    path, _ = exported("TFC_1W1A")
    net = compiler.build_network(compiler.load_model(path), "TFC_1W1A")
    folding = {"layers": {layer.name: {"pe": pe, "simd": simd}
                          for layer, (pe, simd) in zip(net.matrix_layers, [(16, 49), (8, 8), (8, 8), (10, 8)])}}
    (tmp_path / "fold.json").write_text(json.dumps(folding))
    out = tmp_path / "tfc"
    assert main(["compile", str(path), "-o", str(out), "--folding", str(tmp_path / "fold.json")]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--pnr", "--board", "icebreaker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: pnr on icebreaker: the design does not fit iCE40UP5K-SG48: it needs ")
    assert err.endswith(" ICESTORM_LC of 5,280")

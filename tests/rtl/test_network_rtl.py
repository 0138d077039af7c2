"""Acceptance for the Verilog backend: `run --engine rtl` equals the QONNX executor, at several
foldings per network, and the simulated steady-state interval stays within 5 % of the
analytic bottleneck bound with >= 8 frames streamed back to back."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bnn2hls import cli
from bnn2hls.models import zoo
from bnn2hls.hw.folding import folding_preset

from ..conftest import random_inputs

pytestmark = pytest.mark.tier("e2e")

FRAMES = 8
def check_rtl(path, tmp_path, spec, frames=FRAMES, extra=()):
    out = tmp_path / "out"
    (tmp_path / "f.json").write_text(json.dumps(spec))
    assert cli.main(["compile", str(path), "-o", str(out), "--folding", str(tmp_path / "f.json")]) == 0
    x = random_inputs(path, frames, seed=7)
    np.save(tmp_path / "x.npy", x)
    for engine in ("onnx", "rtl"):
        assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", engine,
                         "-o", str(tmp_path / f"{engine}.npy"), *extra]) == 0
    y_rtl, y_onnx = np.load(tmp_path / "rtl.npy"), np.load(tmp_path / "onnx.npy")
    np.testing.assert_allclose(y_rtl, y_onnx, rtol=1e-5, atol=1e-5)
    assert np.array_equal(y_rtl.argmax(1), y_onnx.argmax(1))
    return json.loads((out / "sim" / "rtl_perf.json").read_text())


SMALL = ["TFC_1W1A", "SFC_1W1A", "padnet", "oddnet", "altpadnet"]
# The default suite runs each network at one folding, every folding style at least once (padnet:
# wide, in the gaps test below); the slow suite the other eleven (TFC wide alone is 86 s).
DEFAULT_FOLDINGS = {("TFC_1W1A", "mid"), ("SFC_1W1A", "unit"), ("oddnet", "wide"), ("altpadnet", "unit")}
# Dense chains: every layer takes its whole vector before its output starts, so the first
# frame's latency is exactly the estimate (tests/rtl/test_latency.py; back-to-back frames
# behind it do not delay it).
DENSE_CHAINS = {"TFC_1W1A", "SFC_1W1A"}


@pytest.mark.parametrize("name, style", [
    pytest.param(name, style, marks=() if (name, style) in DEFAULT_FOLDINGS else pytest.mark.slow)
    for name in SMALL for style in ("unit", "mid", "wide")])
def test_rtl_equals_qonnx_and_meets_estimate(name, style, exported, tmp_path):
    path, _ = exported(name)
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model

    spec = folding_preset(build_network(load_model(path), name), style)
    perf = check_rtl(path, tmp_path, spec)
    assert perf["frames"] == FRAMES
    assert perf["cycles_per_frame"] <= 1.05 * perf["est_cycles_per_frame"], perf
    if name in DENSE_CHAINS:
        network = json.loads((tmp_path / "out" / "report.json").read_text())["network"]
        assert perf["latency_cycles"] == network["est_latency_cycles"], (perf, network)


def test_rtl_under_random_gaps_and_backpressure(exported, tmp_path):
    path, _ = exported("padnet")
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model

    spec = folding_preset(build_network(load_model(path), "padnet"), "wide")
    check_rtl(path, tmp_path, spec, extra=("--gap-pct", "40", "--stall-pct", "50"))


@pytest.mark.slow
@pytest.mark.parametrize("style", ["unit", "mid", "wide"])
def test_rtl_lfc(style, exported, tmp_path):
    path, _ = exported("LFC_1W1A")
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model

    perf = check_rtl(path, tmp_path, folding_preset(build_network(load_model(path), "LFC_1W1A"), style))
    assert perf["cycles_per_frame"] <= 1.05 * perf["est_cycles_per_frame"], perf


@pytest.mark.slow
@pytest.mark.parametrize("style", ["bnn_pynq", "mid", "wide"])
def test_rtl_cnv(style, exported, tmp_path):
    path, _ = exported("CNV_1W1A")
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model

    net = build_network(load_model(path), "CNV_1W1A")
    if style == "bnn_pynq":
        spec = zoo.bnn_pynq_folding(net)
    else:
        spec = folding_preset(net, style)
    perf = check_rtl(path, tmp_path, spec)
    assert perf["cycles_per_frame"] <= 1.05 * perf["est_cycles_per_frame"], perf


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/include/lz4.h").is_file(), reason="FST tracing needs liblz4-dev")
def test_trace_writes_fst_and_build_is_cached(exported, tmp_path):
    path, _ = exported("oddnet")
    out = tmp_path / "out"
    assert cli.main(["compile", str(path), "-o", str(out)]) == 0
    np.save(tmp_path / "x.npy", random_inputs(path, 2))
    assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", "rtl", "--trace", "-o", str(tmp_path / "y.npy")]) == 0
    trace = out / "sim" / "trace.fst"
    assert trace.is_file() and trace.stat().st_size > 1000
    builds = sorted(p.name for p in (out / "sim").glob("build-*"))
    assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", "rtl", "-o", str(tmp_path / "y2.npy")]) == 0
    assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", "rtl", "-o", str(tmp_path / "y3.npy")]) == 0
    assert len(sorted(p.name for p in (out / "sim").glob("build-*"))) == len(builds) + 1  # one more (no trace), reused
    assert np.array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "y3.npy"))

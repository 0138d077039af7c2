"""The latency estimate (report.json network.est_latency_cycles, hw/folding.py critical_path)
against RTL simulation (sim/rtl_perf.json latency_cycles: the first output handshake less the
first input handshake, one frame).

Exact where every layer takes its whole input before its output starts (one vector per frame:
dense chains, a dense residual graph with a fork, a join and a threshold): each block's
pipeline depth (Block.layer_latency) and each FIFO / fork cycle counts, so a depth off by one
fails here. Where layers stream pixels they overlap and the estimate is an upper bound."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bnn2hls import cli
from bnn2hls.backends import rtl as rtl_backend
from bnn2hls.engines import rtl_sim
from bnn2hls.flow.compiler import build_network
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.hw.folding import estimate_cycles, folding_preset

from ..conftest import random_inputs
from ..test_graph_ir import residual_net

pytestmark = pytest.mark.tier("e2e")


def rtl_latency(path, name, style, tmp_path):
    """(simulated, estimated) first-frame latency of zoo network `name` at folding `style`."""
    out = tmp_path / "out"
    (tmp_path / "f.json").write_text(json.dumps(folding_preset(build_network(load_model(path), name), style)))
    assert cli.main(["compile", str(path), "-o", str(out), "--folding", str(tmp_path / "f.json")]) == 0
    np.save(tmp_path / "x.npy", random_inputs(path, 1, seed=3))
    assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", "rtl",
                     "-o", str(tmp_path / "y.npy")]) == 0
    perf = json.loads((out / "sim" / "rtl_perf.json").read_text())
    est = json.loads((out / "report.json").read_text())["network"]["est_latency_cycles"]
    return perf["latency_cycles"], est


@pytest.mark.parametrize(("name", "style"), [
    # popcount trees of 1 and 2 levels (the default suite checks this one and SFC unit in
    # tests/rtl/test_network_rtl.py, with 8 frames streamed)
    pytest.param("TFC_1W1A", "mid", marks=pytest.mark.slow),
    pytest.param("TFC_1W1A", "wide", marks=pytest.mark.slow),
    pytest.param("SFC_1W1A", "unit", marks=pytest.mark.slow),
    pytest.param("mlp_1w2a", "mid", marks=pytest.mark.slow),  # multi-bit inputs: the signed product tree
    pytest.param("mlp_1w2a", "wide", marks=pytest.mark.slow),
])
def test_dense_chain_latency_is_exact(name, style, exported, tmp_path):
    path, _ = exported(name)
    simulated, estimated = rtl_latency(path, name, style, tmp_path)
    assert simulated == estimated


def test_dense_residual_graph_latency_is_exact(tmp_path):
    """fork -> (dense1 | shortcut FIFO) -> join -> threshold -> dense2; a 2-bit-weight MVAU."""
    net = residual_net()
    rtl_backend.generate(net, tmp_path / "rtl")
    (tmp_path / "sim").mkdir()
    x = np.random.default_rng(0).integers(-8, 8, (1, *net.input_quant.source_shape)).astype(np.float32)
    sim = rtl_sim.run(net, tmp_path, x)
    assert sim.perf["latency_cycles"] == estimate_cycles(net)["est_latency_cycles"]


@pytest.mark.slow
def test_streaming_conv_latency_is_an_upper_bound(exported, tmp_path):
    path, _ = exported("padnet")
    simulated, estimated = rtl_latency(path, "padnet", "mid", tmp_path)
    assert simulated <= estimated

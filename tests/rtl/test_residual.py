"""Residual hardware (forks, joins, thresholds): the three blocks' cocotb benches, and hand-built
residual networks (tests/residual_nets.py: a 3x3 conv main branch with an identity shortcut,
and a stride-2 3x3 conv with a 1x1 stride-2 conv shortcut) through the rtl and hls engines,
bit-exact against the reference engine, at the estimate's cycles per frame (within 5 %), and
without deadlock or mismatch under 40 % input gaps and 50 % output stalls."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bnn2hls.engines import hls_sim, rtl_sim
from bnn2hls import reference
from bnn2hls.backends import hls as hls_backend
from bnn2hls.backends import rtl as rtl_backend
from bnn2hls.hw import lower
from bnn2hls.hw.blocks.threshold import input_range
from bnn2hls.hw.mvau_memories import flip_words, threshold_words, write_memh
from bnn2hls.ir import signed_width
from sim.runner import rtl_source, run_bench

from ..residual_nets import random_input, residual_conv_net

pytestmark = pytest.mark.tier("rtl")


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build_residual")


@pytest.mark.parametrize("width, n", [(12, 3), pytest.param(1, 2, marks=pytest.mark.slow)])
def test_fork(width, n, sim_build):
    run_bench("bnn_fork", [rtl_source("bnn_fork.sv")], "bench_fork", {"W": width, "N": n}, sim_build)


@pytest.mark.parametrize("c, ba, bb, sa, sb", [(3, 1, 3, 1, 0), pytest.param(4, 2, 2, 0, 0, marks=pytest.mark.slow),
                                               pytest.param(5, 4, 1, 0, 2, marks=pytest.mark.slow)])
def test_join(c, ba, bb, sa, sb, sim_build):
    rng_a = (-1, 1) if ba == 1 else (-(2 ** (ba - 1)), 2 ** (ba - 1) - 1)
    rng_b = (-1, 1) if bb == 1 else (-(2 ** (bb - 1)), 2 ** (bb - 1) - 1)
    bo = signed_width((rng_a[0] << sa) + (rng_b[0] << sb), (rng_a[1] << sa) + (rng_b[1] << sb))
    params = {"C": c, "BA": ba, "BB": bb, "SA": sa, "SB": sb, "BO": bo}
    run_bench("bnn_join", [rtl_source("bnn_join.sv")], "bench_join", params, sim_build,
              extra_env={"BENCH_CONFIG": json.dumps(params)})


@pytest.mark.parametrize("c, bi, levels, offset", [(4, 4, 4, -2), pytest.param(6, 3, 0, 0, marks=pytest.mark.slow),
                                                   pytest.param(5, 1, 3, -1, marks=pytest.mark.slow)])
def test_threshold(c, bi, levels, offset, sim_build, tmp_path):
    rng = np.random.default_rng(c)
    lo, hi = input_range(bi)
    steps = max(1, levels - 1)
    thr = np.sort(rng.integers(lo - 1, hi + 2, (c, steps)), axis=1)
    thr = thr if levels else thr[:, 0]
    flip = rng.random(c) < 0.4
    thr_w = signed_width(lo, hi + 1)
    clamped = np.clip(thr, lo, hi + 1)
    o_b = signed_width(offset, offset + levels - 1) if levels else 1
    tfile = write_memh(tmp_path / "t.mem", threshold_words(clamped[None], c, thr_w, signed=True, levels=levels), c * steps * thr_w)
    ffile = write_memh(tmp_path / "f.mem", flip_words(flip, c), c)
    params = {"C": c, "BI": bi, "LEVELS": levels, "O_B": o_b, "OFFSET": offset, "THR_W": thr_w,
              "THRESH_FILE": f'"{tfile}"', "FLIP_FILE": f'"{ffile}"'}
    cfg = {**params, "thresholds": thr.tolist(), "flip": flip.tolist()}
    run_bench("bnn_threshold", [rtl_source("bnn_threshold.sv")], "bench_threshold", params, sim_build,
              extra_env={"BENCH_CONFIG": json.dumps(cfg)})


def folded(shortcut: str, style: str):
    net = residual_conv_net(shortcut)
    if style == "unit":
        return net
    fold = {layer.name: (layer.out_channels, layer.fan_in) for layer in net.matrix_layers if layer.name != "dense"}
    fold["dense"] = (5, 64)
    return residual_conv_net(shortcut, folding=fold)


@pytest.mark.parametrize(("shortcut", "style"), [
    pytest.param("identity", "unit", marks=pytest.mark.slow),  # (the default suite's time budget; the
    pytest.param("identity", "wide", marks=pytest.mark.slow),  #  ResNet acceptance nets run both kinds,
    pytest.param("conv", "unit", marks=pytest.mark.slow),      #  tests/test_residual.py)
    ("conv", "wide"),
])
def test_residual_net_rtl(shortcut, style, tmp_path):
    net = folded(shortcut, style)
    rtl_backend.generate(net, tmp_path / "rtl")
    (tmp_path / "sim").mkdir()
    x = random_input(net, 8)
    expect = reference.run(net, x)
    sim = rtl_sim.run(net, tmp_path, x)
    np.testing.assert_array_equal(sim.outputs, expect)
    assert sim.perf["cycles_per_frame"] <= 1.05 * sim.perf["est_cycles_per_frame"], sim.perf
    stalled = rtl_sim.run(net, tmp_path, x, gap_pct=40, stall_pct=50, seed=3)
    np.testing.assert_array_equal(stalled.outputs, expect)


@pytest.mark.parametrize("shortcut", [pytest.param("identity", marks=pytest.mark.slow), "conv"])
def test_residual_net_hls(shortcut, tmp_path):
    net = folded(shortcut, "wide")
    hls_backend.generate(net, tmp_path / "hls")
    (tmp_path / "sim").mkdir()
    x = random_input(net, 3)
    np.testing.assert_array_equal(hls_sim.run(net, tmp_path, x), reference.run(net, x))


def test_fork_feeds_each_consumer_through_its_own_fifo():
    graph = lower(residual_conv_net("identity"))
    fork = graph.block("u_conv0_fork")
    assert [s.name for s in fork.outputs] == ["conv0_fork0", "conv0_fork1"]
    readers = {s.name: [b.name for b in graph.blocks if any(i is s for i in b.inputs)] for s in fork.outputs}
    assert readers == {"conv0_fork0": ["u_conv0_fifo0"], "conv0_fork1": ["u_conv0_fifo1"]}
    join = graph.block("u_add0")
    assert [s.name for s in join.inputs] == ["conv1_fifo", "conv0_fifo1"]
    # the shortcut FIFO holds what the 3x3 conv reads ahead: more than a row of 8 pixels
    assert graph.block("u_conv0_fifo1").params["DEPTH"] > 8
    assert Path(rtl_source("bnn_join.sv")).is_file()

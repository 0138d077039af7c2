"""bnn_concat (channel concatenation of N streams) under its cocotb bench on Verilator: random
pixels on every input, random tvalid gaps on each, random tready backpressure, compared with
numpy's concatenate of the operands' values; a late input holds the others after 2 pixels; full
rate (one pixel per cycle) when nobody stalls. Equal element widths (wiring only) and mixed ones
(a sign bit widened to +-1, a shifted 2-bit operand). Also lint at non-default parameters and
the elaboration checks of the parameters."""
from __future__ import annotations

import json
import subprocess

import pytest

from bnn2hls.hw.blocks.concat import rtl_parameters
from bnn2hls.engines.toolchain import verilator_env
from sim.runner import rtl_source, run_bench

pytestmark = pytest.mark.tier("rtl")


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build_concat")


@pytest.mark.parametrize("cs, bs, ss, bo", [
    ((3, 5), (1, 1), (0, 0), 1),  # two binary streams (BinaryDenseNet, a binary ReActNet downsampling)
    ((3, 2, 4), (1, 2, 2), (0, 1, 0), 3),  # a sign beside 2-bit values, one of them shifted (scale 2x)
    pytest.param((2, 3, 1), (2, 2, 2), (0, 0, 0), 2, marks=pytest.mark.slow),  # three 2-bit streams
    pytest.param((1, 20), (4, 4), (0, 0), 4, marks=pytest.mark.slow),  # an 84-bit output word
    pytest.param((64, 64), (1, 1), (0, 0), 1, marks=pytest.mark.slow),  # a 128-bit output word
    pytest.param((5, 3), (1, 3), (2, 0), 4, marks=pytest.mark.slow),  # +-4 beside 3-bit values
])
def test_concat(cs, bs, ss, bo, sim_build):
    cfg = {"CS": list(cs), "BS": list(bs), "SS": list(ss), "BO": bo}
    run_bench("bnn_concat", [rtl_source("bnn_concat.sv")], "bench_concat", dict(rtl_parameters(cs, bs, ss, bo)),
              sim_build, extra_env={"BENCH_CONFIG": json.dumps(cfg)})


def test_concat_lint_and_parameter_checks():
    """Lint-clean at N = 3, equal and mixed widths; CT, IW or BO inconsistent with the vectors:
    an elaboration error."""
    src = str(rtl_source("bnn_concat.sv"))

    def lint(params) -> subprocess.CompletedProcess:
        return subprocess.run(["verilator", "--lint-only", "-Wall", src, "--top-module", "bnn_concat",
                               *(f"-G{k}={v}" for k, v in params)], capture_output=True, text=True,
                              env=verilator_env())

    for params in (rtl_parameters((5, 2, 4), (3, 3, 3), (0, 0, 0), 3), rtl_parameters((5, 2, 4), (1, 2, 3), (1, 2, 0), 4)):
        ok = lint(params)
        assert ok.returncode == 0 and "%Warning" not in ok.stderr, ok.stderr
    good = dict(rtl_parameters((5, 2, 4), (1, 2, 3), (1, 2, 0), 4))
    for change, message in ((("CT", 12), "CT must be the sum of the CS entries"),
                            (("IW", 20), "IW must be the sum of CS[i]*BS[i]"),
                            (("BO", 3), "BO does not hold an input's values")):
        bad = lint({**good, change[0]: change[1]}.items())
        assert bad.returncode != 0 and message in bad.stderr, bad.stderr

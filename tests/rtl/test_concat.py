"""bnn_concat (channel concatenation of N streams) under its cocotb bench on Verilator: random
pixels on every input, random tvalid gaps on each, random tready backpressure, compared with
numpy's concatenate; a late input holds the others after 2 pixels; full rate (one pixel per
cycle) when nobody stalls. Also lint of the block at non-default parameters."""
from __future__ import annotations

import json
import subprocess

import pytest

from bnn2hls.hw.blocks.base import vector_literal
from bnn2hls.toolchain import verilator_env
from sim.runner import rtl_source, run_bench


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build_concat")


def concat_params(b: int, cs: tuple[int, ...]) -> dict[str, object]:
    """The Verilog parameters of bnn_concat (as bnn2hls/hw/blocks/concat.py prints them)."""
    return {"N": len(cs), "B": b, "CT": sum(cs), "CS": vector_literal(cs, 16)}


@pytest.mark.parametrize("b, cs", [
    (1, (3, 5)),  # two binary streams (BinaryDenseNet, a binary ReActNet downsampling)
    (2, (2, 3, 1)),  # three 2-bit streams
    pytest.param(4, (1, 20), marks=pytest.mark.slow),  # a 84-bit output word
    pytest.param(1, (64, 64), marks=pytest.mark.slow),  # a 128-bit output word
])
def test_concat(b, cs, sim_build):
    cfg = {"N": len(cs), "B": b, "CS": list(cs)}
    run_bench("bnn_concat", [rtl_source("bnn_concat.sv")], "bench_concat", concat_params(b, cs), sim_build,
              extra_env={"BENCH_CONFIG": json.dumps(cfg)})


def test_concat_lint_and_parameter_check():
    """Lint-clean at N = 3, multi-bit; CT not the sum of CS is an elaboration error."""
    src = str(rtl_source("bnn_concat.sv"))

    def lint(params: dict[str, object]) -> subprocess.CompletedProcess:
        return subprocess.run(["verilator", "--lint-only", "-Wall", src, "--top-module", "bnn_concat",
                               *(f"-G{k}={v}" for k, v in params.items())], capture_output=True, text=True,
                              env=verilator_env())

    ok = lint(concat_params(3, (5, 2, 4)))
    assert ok.returncode == 0 and "%Warning" not in ok.stderr, ok.stderr
    bad = lint({**concat_params(3, (5, 2, 4)), "CT": 12})
    assert bad.returncode != 0 and "CT must be the sum of the CS entries" in bad.stderr, bad.stderr

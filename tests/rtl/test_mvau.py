"""bnn_mvau (cocotb + Verilator): random weights/thresholds/flips/class ids, exact comparison
with a numpy model under random gaps and backpressure, and the (MH/PE)*(MW/SIMD) interval
with no bubbles between vectors (sim/bench_mvau.py). Memories come from bnn2hls/backends/mvau_memories.py."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bnn2hls.backends.mvau_memories import acc_range, acc_width, clamp_thresholds, thr_width, write_mvau_memories
from sim.runner import rtl_source, run_bench

# id: (MW, MH, PE, SIMD, IN_B, BINARIZE, N_CLASSES)
CONFIGS = {
    "bin_pe1_simd1": (72, 16, 1, 1, 1, 1, 1),
    "bin_pe4_simd8": (72, 16, 4, 8, 1, 1, 1),
    "bin_full_parallel": (72, 16, 16, 72, 1, 1, 1),
    "bin_raw_last_layer": (64, 10, 5, 16, 1, 0, 1),
    "multibit_in8": (27, 16, 4, 3, 8, 1, 1),
    "bin_18_border_classes": (27 * 3, 6, 2, 9, 1, 1, 18),
    "bin_odd": (35, 7, 7, 5, 1, 1, 1),
}


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build_mvau")


def random_thresholds(rng: np.random.Generator, n_classes: int, mh: int, mw: int, in_b: int) -> np.ndarray:
    """Mostly near the accumulator's typical values (so comparisons go both ways), some at and
    beyond the ends of its range (clamped later to lo / hi+1)."""
    lo, hi = acc_range(mw, in_b)
    if in_b == 1:
        center, spread = mw / 2, max(1.0, math.sqrt(mw) / 2)
    else:
        center, spread = 0.0, math.sqrt(mw) * 2 ** (in_b - 1) / math.sqrt(3)
    thr = np.rint(rng.normal(center, 1.5 * spread, (n_classes, mh))).astype(np.int64)
    ends = np.array([lo, lo - 5, hi, hi + 1, hi + 7, 0])
    pick = rng.random((n_classes, mh)) < 0.2
    thr[pick] = rng.choice(ends, pick.sum())
    if mh >= 2:
        thr[0, :2] = (lo, hi + 1)
    return thr


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mvau(name, sim_build, tmp_path):
    mw, mh, pe, simd, in_b, binarize, n_classes = CONFIGS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    weights = rng.random((mh, mw)) < 0.5
    weights[0] = False  # rows reaching the accumulator's ends with all-equal inputs
    weights[1] = True
    thresholds = clamp_thresholds(random_thresholds(rng, n_classes, mh, mw, in_b), mw, in_b)
    flip = rng.random(mh) < 0.5
    files = write_mvau_memories(tmp_path, "mvau", weights, thresholds if binarize else None, flip, pe, simd, in_b)
    np.savez(tmp_path / "data.npz", weights=weights, thresholds=thresholds, flip=flip)

    params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_B": in_b, "BINARIZE": binarize,
              "N_CLASSES": n_classes, "USER_W": max(1, (n_classes - 1).bit_length()),
              "ACC_W": acc_width(mw, in_b), "THR_W": thr_width(mw, in_b)}
    # Verilator takes a string parameter as -GNAME="value": the quotes are part of the value.
    file_params = {"WEIGHT_FILE": f'"{files["WEIGHT_FILE"]}"'}
    if binarize:
        file_params.update(THRESH_FILE=f'"{files["THRESH_FILE"]}"', FLIP_FILE=f'"{files["FLIP_FILE"]}"')
    interval = (mh // pe) * (mw // simd)
    report = tmp_path / "report.json"
    cfg = {"params": params, "data": str(tmp_path / "data.npz"), "seed": sum(map(ord, name)),
           "vectors": 24 if interval > 200 else 40, "report": str(report)}
    run_bench("bnn_mvau", [rtl_source("bnn_mvau.sv")], "bench_mvau", {**params, **file_params}, sim_build / name,
              extra_env={"MVAU_CFG": json.dumps(cfg)})
    measured = json.loads(report.read_text())["full_rate"]
    print(f"{name}: {measured}")
    assert measured["output_spacing"] == [interval]

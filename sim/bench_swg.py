"""cocotb bench for bnn_swg: every window word and border class of several back-to-back frames,
compared with the reference (FBNA pad pattern / zero padding + reference.windows, classes from
passes.padding._axis_classes), under random tvalid gaps and tready backpressure; plus the
full-rate check (one padded position per cycle).

The DUT's parameters arrive as JSON in BENCH_CONFIG (set by tests/rtl/test_swg_maxpool.py):
C, B, H, W, KH, KW, SH, SW, PAD_T, PAD_L, PAD_B, PAD_R, and optionally FRAMES."""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np


from axis import CycleCounter, collect, drive, record_transfers, start_clock_and_reset
from bnn2hls.ir.padding_pattern import pad_binary_image
from bnn2hls.passes.padding import _axis_classes
from bnn2hls.reference import windows

# Fixed latency allowed on top of frames * padded H * padded W cycles: the input queue and the
# output register each add one cycle, plus the cycle in which the last word is taken.
THROUGHPUT_SLACK = 4


def config() -> dict:
    return json.loads(os.environ["BENCH_CONFIG"])


def classes(cfg: dict) -> tuple[np.ndarray, int, np.ndarray, int]:
    hp = cfg["H"] + cfg["PAD_T"] + cfg["PAD_B"]
    wp = cfg["W"] + cfg["PAD_L"] + cfg["PAD_R"]
    oh = (hp - cfg["KH"]) // cfg["SH"] + 1
    ow = (wp - cfg["KW"]) // cfg["SW"] + 1
    rows, row_keys = _axis_classes(oh, cfg["H"], cfg["KH"], cfg["SH"], cfg["PAD_T"])
    cols, col_keys = _axis_classes(ow, cfg["W"], cfg["KW"], cfg["SW"], cfg["PAD_L"])
    return rows, len(row_keys), cols, len(col_keys)


def make_case(cfg: dict, frames: int, rng: np.random.Generator) -> tuple[list[int], list[tuple[int, int]]]:
    """Random frames -> (input pixel words, expected (window word, tuser) per output)."""
    c, b, h, w = cfg["C"], cfg["B"], cfg["H"], cfg["W"]
    pads = (cfg["PAD_T"], cfg["PAD_L"], cfg["PAD_B"], cfg["PAD_R"])
    kernel, stride = (cfg["KH"], cfg["KW"]), (cfg["SH"], cfg["SW"])
    if b == 1:
        image = rng.integers(0, 2, (frames, h, w, c)).astype(bool)
        padded = pad_binary_image(image, pads)
        def to_word(v: np.ndarray) -> int:
            return int.from_bytes(np.packbits(v, bitorder="little").tobytes(), "little")
    else:
        assert b == 8, "bench packs multi-bit elements as bytes"
        image = rng.integers(-128, 128, (frames, h, w, c)).astype(np.int8)
        t, l, bt, r = pads
        padded = np.pad(image, ((0, 0), (t, bt), (l, r), (0, 0)))  # multi-bit pads with 0
        def to_word(v: np.ndarray) -> int:
            return int.from_bytes(v.astype(np.int8).tobytes(), "little")
    wins = windows(padded, kernel, stride)  # [N, OH, OW, KH*KW*C], (ky, kx, c) order
    rows, _, cols, n_col = classes(cfg)
    inputs = [to_word(image[n, y, x]) for n in range(frames) for y in range(h) for x in range(w)]
    expected = []
    for n in range(frames):
        for oy in range(wins.shape[1]):
            for ox in range(wins.shape[2]):
                cls = (int(rows[oy]) * n_col + int(cols[ox])) * 2 + (cfg["SH"] * oy + cfg["SW"] * ox) % 2
                expected.append((to_word(wins[n, oy, ox]), cls))
    return inputs, expected


def check_ports(dut, cfg: dict) -> None:
    pix = cfg["C"] * cfg["B"]
    assert len(dut.s_tdata) == pix
    assert len(dut.m_tdata) == cfg["KH"] * cfg["KW"] * pix


def compare(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g[1] == e[1], f"output {i}: tuser {g[1]} != {e[1]}"
        assert g[0] == e[0], f"output {i}: window {g[0]:#x} != {e[0]:#x}"


@cocotb.test()
async def windows_under_gaps_and_backpressure(dut):
    cfg = config()
    check_ports(dut, cfg)
    seed = int(os.environ.get("BENCH_SEED", "1"))
    inputs, expected = make_case(cfg, cfg.get("FRAMES", 4), np.random.default_rng(seed))
    rng = random.Random(seed)
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, inputs, rng, gap_probability=0.3))
    got = await collect(dut, len(expected), random.Random(rng.random()), stall_probability=0.4, with_user=True)
    compare(got, expected)


@cocotb.test()
async def full_rate(dut):
    cfg = config()
    frames = cfg.get("FRAMES", 4)
    inputs, expected = make_case(cfg, frames, np.random.default_rng(7))
    rng = random.Random(3)
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    times: list[int] = []
    record_transfers(dut, counter, times)
    cocotb.start_soon(drive(dut, inputs, rng))
    got = await collect(dut, len(expected), rng, with_user=True)
    compare(got, expected)
    padded = (cfg["H"] + cfg["PAD_T"] + cfg["PAD_B"]) * (cfg["W"] + cfg["PAD_L"] + cfg["PAD_R"])
    per_frame = len(expected) // frames
    # Steady state: the first windows of consecutive frames are exactly one padded frame apart.
    intervals = [times[(f + 1) * per_frame] - times[f * per_frame] for f in range(frames - 1)]
    dut._log.info(f"THROUGHPUT bnn_swg {frames} frames: {counter.cycles} cycles total, padded H*W = {padded}, "
                  f"frame-to-frame intervals {intervals}")
    assert all(i == padded for i in intervals), (intervals, padded)
    assert counter.cycles <= frames * padded + THROUGHPUT_SLACK, (counter.cycles, frames * padded)

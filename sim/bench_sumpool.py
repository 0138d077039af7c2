"""cocotb bench for bnn_sumpool: every window sum of several back-to-back frames compared with
reference.sumpool_layer (cross-checked against reference.windows + sum) under random tvalid
gaps and tready backpressure; plus the full-rate check (one input pixel per cycle).

The DUT's parameters arrive as JSON in BENCH_CONFIG: C, H, W, KH, KW, SH, SW, B (bits per input
element: 1 a sign bit counting +-1), SIGNED (B > 1: two's complement or unsigned fields), OB
(bits per output sum) and FRAMES."""
from __future__ import annotations

import json
import os
import random
from types import SimpleNamespace

import cocotb
import numpy as np

from axis import CycleCounter, collect, drive, record_transfers, start_clock_and_reset
from bnn2hls.reference import sumpool_layer, windows
from bnn2hls.hw.streams import pack_words

# Fixed latency allowed on top of frames * H * W cycles (input queue, output register, last take).
THROUGHPUT_SLACK = 4


def config() -> dict:
    return json.loads(os.environ["BENCH_CONFIG"])


def image(cfg: dict, frames: int, rng: np.random.Generator) -> np.ndarray:
    """[frames, H, W, C]: sign bits, or B-bit values over the whole range (both ends present)."""
    c, h, w, b = cfg["C"], cfg["H"], cfg["W"], cfg["B"]
    if b == 1:
        return rng.random((frames, h, w, c)) < 0.5
    lo, hi = (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if cfg["SIGNED"] else (0, 2**b - 1)
    x = rng.integers(lo, hi + 1, (frames, h, w, c))
    x[0] = hi  # the largest sums
    x[-1] = lo  # the smallest
    return x


def make_case(cfg: dict, frames: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    kernel, stride = (cfg["KH"], cfg["KW"]), (cfg["SH"], cfg["SW"])
    x = image(cfg, frames, rng)
    oh, ow = (cfg["H"] - kernel[0]) // stride[0] + 1, (cfg["W"] - kernel[1]) // stride[1] + 1
    layer = SimpleNamespace(kernel=kernel, stride=stride, out_shape=(oh, ow, cfg["C"]))
    sums = sumpool_layer(layer, x)  # [N, OH, OW, C]
    values = np.where(x, 1, -1) if x.dtype == np.bool_ else x
    taps = windows(values, kernel, stride).reshape(frames, oh, ow, kernel[0] * kernel[1], cfg["C"])
    assert np.array_equal(sums, taps.sum(axis=3))
    return pack_words(x.astype(np.int64), cfg["B"]), pack_words(sums, cfg["OB"])


@cocotb.test()
async def sums_under_gaps_and_backpressure(dut):
    cfg = config()
    assert len(dut.s_tdata) == cfg["C"] * cfg["B"] and len(dut.m_tdata) == cfg["C"] * cfg["OB"]
    seed = int(os.environ.get("BENCH_SEED", "1"))
    inputs, expected = make_case(cfg, cfg.get("FRAMES", 4), np.random.default_rng(seed))
    rng = random.Random(seed)
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, inputs, rng, gap_probability=0.3))
    got = await collect(dut, len(expected), random.Random(rng.random()), stall_probability=0.4)
    assert got == expected


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
    got = await collect(dut, len(expected), rng)
    assert got == expected
    pixels = cfg["H"] * cfg["W"]
    per_frame = len(expected) // frames
    intervals = [times[(f + 1) * per_frame] - times[f * per_frame] for f in range(frames - 1)]
    dut._log.info(f"THROUGHPUT bnn_sumpool {frames} frames: {counter.cycles} cycles total, H*W = {pixels}, "
                  f"frame-to-frame intervals {intervals}")
    assert all(i == pixels for i in intervals), (intervals, pixels)
    assert counter.cycles <= frames * pixels + THROUGHPUT_SLACK, (counter.cycles, frames * pixels)

"""cocotb bench for bnn_maxpool: every pooled pixel of several back-to-back frames compared with
reference.maxpool_layer (cross-checked against reference.windows + OR) under random tvalid gaps
and tready backpressure; plus the full-rate check (one input pixel per cycle).

The DUT's parameters arrive as JSON in BENCH_CONFIG: C, H, W, KH, KW, SH, SW, optionally B
(bits per element: 1 binary OR, > 1 signed max of two's complement fields) and FRAMES."""
from __future__ import annotations

import json
import os
import random
from types import SimpleNamespace

import cocotb
import numpy as np

from axis import CycleCounter, collect, drive, record_transfers, start_clock_and_reset
from stimulus import pool_image
from bnn2hls.reference import maxpool_layer, windows

# Fixed latency allowed on top of frames * H * W cycles (input queue, output register, last take).
THROUGHPUT_SLACK = 4


def config() -> dict:
    return json.loads(os.environ["BENCH_CONFIG"])


def to_word(pixel: np.ndarray, b: int = 1) -> int:
    """One pixel: bool channels as bits, or ints as b-bit two's complement fields."""
    if b == 1:
        return int.from_bytes(np.packbits(pixel, bitorder="little").tobytes(), "little")
    mask = (1 << b) - 1
    return sum((int(v) & mask) << (i * b) for i, v in enumerate(pixel))


def make_case(cfg: dict, frames: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    c, h, w, b = cfg["C"], cfg["H"], cfg["W"], cfg.get("B", 1)
    kernel, stride = (cfg["KH"], cfg["KW"]), (cfg["SH"], cfg["SW"])
    image = pool_image(rng, frames, h, w, c, b)
    oh, ow = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
    layer = SimpleNamespace(kernel=kernel, stride=stride, out_shape=(oh, ow, c))
    pooled = maxpool_layer(layer, image)  # [N, OH, OW, C]
    taps = windows(image, kernel, stride).reshape(frames, oh, ow, kernel[0] * kernel[1], c)
    via_windows = taps.any(axis=3) if b == 1 else taps.max(axis=3)
    assert np.array_equal(pooled, via_windows)
    inputs = [to_word(image[n, y, x], b) for n in range(frames) for y in range(h) for x in range(w)]
    expected = [to_word(pooled[n, oy, ox], b) for n in range(frames) for oy in range(oh) for ox in range(ow)]
    return inputs, expected


@cocotb.test()
async def pooling_under_gaps_and_backpressure(dut):
    cfg = config()
    width = cfg["C"] * cfg.get("B", 1)
    assert len(dut.s_tdata) == width and len(dut.m_tdata) == width
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
    dut._log.info(f"THROUGHPUT bnn_maxpool {frames} frames: {counter.cycles} cycles total, H*W = {pixels}, "
                  f"frame-to-frame intervals {intervals}")
    assert all(i == pixels for i in intervals), (intervals, pixels)
    assert counter.cycles <= frames * pixels + THROUGHPUT_SLACK, (counter.cycles, frames * pixels)

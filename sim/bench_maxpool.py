"""cocotb bench for bnn_maxpool: every pooled pixel of several back-to-back frames compared with
reference.maxpool_layer (cross-checked against reference.windows + OR) under random tvalid gaps
and tready backpressure; plus the full-rate check (one input pixel per cycle).

The DUT's parameters arrive as JSON in BENCH_CONFIG: C, H, W, KH, KW, SH, SW, optionally IN_B
(bits per element: 1 binary OR, > 1 signed max of two's complement fields), PAD_T/L/B/R
(padded positions never win), MIN (a list of 0/1 per channel: the channels that pool their
minimum) and FRAMES. The checks themselves are sim/window_bench.py's."""
from __future__ import annotations

from types import SimpleNamespace

import cocotb
import numpy as np

import window_bench
from stimulus import pool_image
from bnn2hls.hw.blocks import MaxPoolBlock
from bnn2hls.reference import maxpool_layer


def to_word(pixel: np.ndarray, b: int = 1) -> int:
    """One pixel: bool channels as bits, or ints as b-bit two's complement fields."""
    if b == 1:
        return int.from_bytes(np.packbits(pixel, bitorder="little").tobytes(), "little")
    mask = (1 << b) - 1
    return sum((int(v) & mask) << (i * b) for i, v in enumerate(pixel))


def make_case(cfg: dict, frames: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    c, h, w, b = cfg["C"], cfg["H"], cfg["W"], cfg.get("IN_B", 1)
    kernel, stride = (cfg["KH"], cfg["KW"]), (cfg["SH"], cfg["SW"])
    pads = tuple(cfg.get(k, 0) for k in ("PAD_T", "PAD_L", "PAD_B", "PAD_R"))
    minimum = np.asarray(cfg.get("MIN", [0] * c), bool)
    image = pool_image(rng, frames, h, w, c, b)
    oh, ow = (h + pads[0] + pads[2] - kernel[0]) // stride[0] + 1, (w + pads[1] + pads[3] - kernel[1]) // stride[1] + 1
    layer = SimpleNamespace(kernel=kernel, stride=stride, out_shape=(oh, ow, c), pads=pads, minimum=minimum)
    pooled = maxpool_layer(layer, image)  # [N, OH, OW, C]
    # Cross-check: each window's max (min) over its in-bounds taps, by brute force.
    values = image.astype(np.int64)
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * stride[0] - pads[0], ox * stride[1] - pads[1]
            tap = values[:, max(0, y0):y0 + kernel[0], max(0, x0):x0 + kernel[1]].reshape(frames, -1, c)
            assert tap.shape[1] > 0
            want = np.where(minimum, tap.min(axis=1), tap.max(axis=1))
            assert np.array_equal(pooled[:, oy, ox].astype(np.int64), want)
    inputs = [to_word(image[n, y, x], b) for n in range(frames) for y in range(h) for x in range(w)]
    expected = [to_word(pooled[n, oy, ox], b) for n in range(frames) for oy in range(oh) for ox in range(ow)]
    return inputs, expected



@cocotb.test()
async def pooling_under_gaps_and_backpressure(dut):
    cfg = window_bench.config()
    width = cfg["C"] * cfg.get("IN_B", 1)
    assert len(dut.s_tdata) == width and len(dut.m_tdata) == width
    await window_bench.under_gaps_and_backpressure(dut, cfg, make_case)


@cocotb.test()
async def full_rate(dut):
    await window_bench.full_rate(dut, window_bench.config(), make_case, MaxPoolBlock)

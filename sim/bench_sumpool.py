"""cocotb bench for bnn_sumpool: every window sum of several back-to-back frames compared with
reference.sumpool_layer (cross-checked against reference.windows + sum) under random tvalid
gaps and tready backpressure; plus the full-rate check (one input pixel per cycle).

The DUT's parameters arrive as JSON in BENCH_CONFIG: C, H, W, KH, KW, SH, SW, IN_B (bits per
input element: 1 a sign bit counting +-1), SIGNED (IN_B > 1: two's complement or unsigned
fields), O_B (bits per output sum) and FRAMES. The checks themselves are sim/window_bench.py's."""
from __future__ import annotations

from types import SimpleNamespace

import cocotb
import numpy as np

import window_bench
from bnn2hls.hw.blocks import SumPoolBlock
from bnn2hls.reference import sumpool_layer, windows
from bnn2hls.hw.streams import pack_words


def image(cfg: dict, frames: int, rng: np.random.Generator) -> np.ndarray:
    """[frames, H, W, C]: sign bits, or IN_B-bit values over the whole range (both ends present)."""
    c, h, w, b = cfg["C"], cfg["H"], cfg["W"], cfg["IN_B"]
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
    return pack_words(x.astype(np.int64), cfg["IN_B"]), pack_words(sums, cfg["O_B"])



@cocotb.test()
async def sums_under_gaps_and_backpressure(dut):
    cfg = window_bench.config()
    assert len(dut.s_tdata) == cfg["C"] * cfg["IN_B"] and len(dut.m_tdata) == cfg["C"] * cfg["O_B"]
    await window_bench.under_gaps_and_backpressure(dut, cfg, make_case)


@cocotb.test()
async def full_rate(dut):
    await window_bench.full_rate(dut, window_bench.config(), make_case, SumPoolBlock)

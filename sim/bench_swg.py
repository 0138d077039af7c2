"""cocotb bench for bnn_swg: every window word and border class of several back-to-back frames,
compared with the reference (FBNA pad pattern / zero padding + reference.windows, classes from
passes.padding._axis_classes), under random tvalid gaps and tready backpressure; plus the
full-rate check (one padded position per cycle).

The DUT's parameters arrive as JSON in BENCH_CONFIG (set by tests/rtl/test_swg_maxpool.py):
C, IN_B, H, W, KH, KW, SH, SW, PAD_T, PAD_L, PAD_B, PAD_R, and optionally FRAMES. The checks
themselves are sim/window_bench.py's."""
from __future__ import annotations

import cocotb
import numpy as np

import window_bench
from bnn2hls.hw.blocks import Swg
from bnn2hls.ir.padding_pattern import pad_binary_image
from bnn2hls.passes.padding import _axis_classes
from bnn2hls.reference import windows


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
    c, b, h, w = cfg["C"], cfg["IN_B"], cfg["H"], cfg["W"]
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
    pix = cfg["C"] * cfg["IN_B"]
    assert len(dut.s_tdata) == pix
    assert len(dut.m_tdata) == cfg["KH"] * cfg["KW"] * pix



@cocotb.test()
async def windows_under_gaps_and_backpressure(dut):
    cfg = window_bench.config()
    check_ports(dut, cfg)
    await window_bench.under_gaps_and_backpressure(dut, cfg, make_case, with_user=True)


@cocotb.test()
async def full_rate(dut):
    await window_bench.full_rate(dut, window_bench.config(), make_case, Swg, with_user=True)

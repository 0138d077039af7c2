"""cocotb bench for bnn_threshold: per-channel sign / multi-threshold of integer pixels,
compared with bnn2hls.reference.threshold_layer (thresholds and flips from the files the test
wrote, in BENCH_CONFIG) under random gaps and backpressure; full rate when nobody stalls."""
from __future__ import annotations

import json
import os
import random
from types import SimpleNamespace

import cocotb
import numpy as np

from axis import CycleCounter, collect, drive, start_clock_and_reset
from bnn2hls.reference import threshold_layer


def case(cfg: dict, n: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    c, bi, levels = cfg["C"], cfg["BI"], cfg["LEVELS"]
    layer = SimpleNamespace(thresholds=np.asarray(cfg["thresholds"]), flip=np.asarray(cfg["flip"], bool),
                            out_levels=levels, out_offset=cfg["OFFSET"])
    x = (np.where(rng.random((n, c)) < 0.5, 1, -1) if bi == 1
         else rng.integers(-(2 ** (bi - 1)), 2 ** (bi - 1), (n, c)))
    y = threshold_layer(layer, x)
    ob = cfg["O_B"] if levels else 1

    def words(v: np.ndarray, bits: int) -> list[int]:
        mask = (1 << bits) - 1
        return [sum((int(e) & mask) << (i * bits) for i, e in enumerate(row)) for row in v]

    xin = (x > 0) if bi == 1 else x
    return words(xin, bi), words(y, ob)


@cocotb.test()
async def thresholds_under_gaps_and_backpressure(dut):
    cfg = json.loads(os.environ["BENCH_CONFIG"])
    seed = int(os.environ.get("BENCH_SEED", "1"))
    inputs, expected = case(cfg, 200, np.random.default_rng(seed))
    rng = random.Random(seed)
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, inputs, rng, gap_probability=0.4))
    got = await collect(dut, len(expected), random.Random(rng.random()), stall_probability=0.5)
    assert got == expected


@cocotb.test()
async def full_rate(dut):
    cfg = json.loads(os.environ["BENCH_CONFIG"])
    inputs, expected = case(cfg, 150, np.random.default_rng(4))
    rng = random.Random(3)
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    cocotb.start_soon(drive(dut, inputs, rng))
    got = await collect(dut, len(expected), rng)
    assert got == expected
    assert counter.cycles <= len(expected) + 4, counter.cycles

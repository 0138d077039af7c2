"""cocotb bench for bnn_join: the elementwise (a << SA) + (b << SB) of two streams, sign bits
read as +-1, compared with bnn2hls.reference.join_layer under random gaps on both inputs and
random backpressure; full rate when nobody stalls. Parameters in BENCH_CONFIG (JSON)."""
from __future__ import annotations

import json
import os
import random
from types import SimpleNamespace

import cocotb
import numpy as np

from axis import CycleCounter, collect, drive, start_clock_and_reset
from bnn2hls.reference import join_layer


def case(cfg: dict, n: int, rng: np.random.Generator) -> tuple[list[int], list[int], list[int]]:
    c, ba, bb, bo = cfg["C"], cfg["BA"], cfg["BB"], cfg["BO"]

    def values(bits: int) -> np.ndarray:
        if bits == 1:
            return rng.random((n, c)) < 0.5
        return rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), (n, c))

    def words(v: np.ndarray, bits: int) -> list[int]:
        mask = (1 << bits) - 1
        return [sum((int(x) & mask) << (i * bits) for i, x in enumerate(row)) for row in v]

    a, b = values(ba), values(bb)
    s = join_layer(SimpleNamespace(shifts=(cfg["SA"], cfg["SB"])), a, b)
    return words(a, ba), words(b, bb), words(s, bo)


@cocotb.test()
async def sums_under_gaps_and_backpressure(dut):
    cfg = json.loads(os.environ["BENCH_CONFIG"])
    seed = int(os.environ.get("BENCH_SEED", "1"))
    a, b, expected = case(cfg, 200, np.random.default_rng(seed))
    rng = random.Random(seed)
    await start_clock_and_reset(dut)
    dut.a_tvalid.value = 0
    dut.b_tvalid.value = 0
    cocotb.start_soon(drive(dut, a, random.Random(rng.random()), gap_probability=0.4, prefix="a"))
    cocotb.start_soon(drive(dut, b, random.Random(rng.random()), gap_probability=0.2, prefix="b"))
    got = await collect(dut, len(expected), random.Random(rng.random()), stall_probability=0.5)
    assert got == expected


@cocotb.test()
async def full_rate(dut):
    cfg = json.loads(os.environ["BENCH_CONFIG"])
    a, b, expected = case(cfg, 150, np.random.default_rng(5))
    rng = random.Random(3)
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    cocotb.start_soon(drive(dut, a, rng, prefix="a"))
    cocotb.start_soon(drive(dut, b, rng, prefix="b"))
    got = await collect(dut, len(expected), rng)
    assert got == expected
    assert counter.cycles <= len(expected) + 4, counter.cycles

"""cocotb bench for bnn_fork: every output gets every word in order under random tvalid gaps
and independent random tready backpressure per output; full rate when nobody stalls."""
from __future__ import annotations

import os
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from axis import CycleCounter, drive, start_clock_and_reset


async def collect_all(dut, n_out: int, width: int, count: int, rng: random.Random, stall: float) -> list[list[int]]:
    """Accept `count` words on each of the fork's outputs, each with its own random tready."""
    got: list[list[int]] = [[] for _ in range(n_out)]
    cycles = 0
    while any(len(g) < count for g in got):
        ready = [0 if (rng.random() < stall or len(got[i]) >= count) else 1 for i in range(n_out)]
        dut.m_tready.value = sum(r << i for i, r in enumerate(ready))
        await ReadOnly()
        valid, data = int(dut.m_tvalid.value), int(dut.m_tdata.value)
        for i in range(n_out):
            if (valid >> i) & 1 and ready[i]:
                got[i].append((data >> (i * width)) & ((1 << width) - 1))
        await RisingEdge(dut.clk)
        cycles += 1
        assert cycles < 100_000, "timeout"
    dut.m_tready.value = 0
    return got


@cocotb.test()
async def every_output_under_gaps_and_backpressure(dut):
    rng = random.Random(int(os.environ.get("BENCH_SEED", "1")))
    width, n_out = len(dut.s_tdata), len(dut.m_tvalid)
    words = [rng.getrandbits(width) for _ in range(300)]
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, words, rng, gap_probability=0.3))
    got = await collect_all(dut, n_out, width, len(words), random.Random(rng.random()), 0.4)
    assert got == [words] * n_out


@cocotb.test()
async def full_rate(dut):
    rng = random.Random(2)
    width, n_out = len(dut.s_tdata), len(dut.m_tvalid)
    words = [rng.getrandbits(width) for _ in range(200)]
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    cocotb.start_soon(drive(dut, words, rng))
    got = await collect_all(dut, n_out, width, len(words), rng, 0.0)
    assert got == [words] * n_out
    assert counter.cycles <= len(words) + 4, counter.cycles

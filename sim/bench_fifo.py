"""cocotb bench for bnn_fifo: order preserved under random gaps and backpressure; full rate
when neither side stalls."""
import os
import random

import cocotb

from axis import CycleCounter, collect, drive, start_clock_and_reset


@cocotb.test()
async def order_under_gaps_and_backpressure(dut):
    rng = random.Random(int(os.environ.get("BENCH_SEED", "1")))
    width = len(dut.s_tdata)
    words = [rng.getrandbits(width) for _ in range(300)]
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, words, rng, gap_probability=0.3))
    got = await collect(dut, len(words), random.Random(rng.random()), stall_probability=0.4)
    assert got == words


@cocotb.test()
async def full_rate(dut):
    rng = random.Random(2)
    width = len(dut.s_tdata)
    words = [rng.getrandbits(width) for _ in range(200)]
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    cocotb.start_soon(drive(dut, words, rng))
    await collect(dut, len(words), rng)
    assert counter.cycles <= len(words) + 4, counter.cycles

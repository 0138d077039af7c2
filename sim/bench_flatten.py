"""cocotb bench for bnn_flatten: N words -> one concatenated word, under gaps and
backpressure; N cycles per vector at full rate."""
import random

import cocotb

from axis import CycleCounter, collect, drive, start_clock_and_reset


def expected(words, n, width):
    return [sum(w << (i * width) for i, w in enumerate(words[v * n : (v + 1) * n])) for v in range(len(words) // n)]


@cocotb.test()
async def concatenates_under_gaps_and_backpressure(dut):
    rng = random.Random(3)
    width, n = len(dut.s_tdata), len(dut.m_tdata) // len(dut.s_tdata)
    words = [rng.getrandbits(width) for _ in range(n * 25)]
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, words, rng, gap_probability=0.3))
    got = await collect(dut, 25, random.Random(4), stall_probability=0.5)
    assert got == expected(words, n, width)


@cocotb.test()
async def full_rate(dut):
    rng = random.Random(5)
    width, n = len(dut.s_tdata), len(dut.m_tdata) // len(dut.s_tdata)
    words = [rng.getrandbits(width) for _ in range(n * 20)]
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    cocotb.start_soon(drive(dut, words, rng))
    assert await collect(dut, 20, rng) == expected(words, n, width)
    assert counter.cycles <= n * 20 + 3, counter.cycles

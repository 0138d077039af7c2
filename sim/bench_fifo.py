"""cocotb bench for bnn_fifo: order preserved under random gaps and backpressure; full rate
when neither side stalls and while a backlog drains; one cycle of latency when empty."""
import os
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from axis import CycleCounter, collect, drive, record_transfers, start_clock_and_reset


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


@cocotb.test()
async def backlog_drains_at_full_rate(dut):
    """Fill the FIFO with the reader stopped (the words beyond the head queue go through the
    RAM, if any), then read with the writer still sending: the FIFO held exactly its capacity,
    and the words come out in order, one per cycle from the first."""
    rng = random.Random(3)
    width = len(dut.s_tdata)
    words = [rng.getrandbits(width) for _ in range(120)]
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    times: list = []
    record_transfers(dut, counter, times)
    cocotb.start_soon(drive(dut, words, rng))
    held = 0
    while True:  # writer runs until the FIFO is full
        await ReadOnly()
        if dut.s_tready.value == 0 and held > 0:
            break
        held += int(dut.s_tvalid.value == 1 and dut.s_tready.value == 1)
        await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    got = await collect(dut, len(words), rng)
    assert got == words
    assert held == int(os.environ["FIFO_CAPACITY"]), held
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps == [1] * len(gaps), gaps


@cocotb.test()
async def one_cycle_latency_when_empty(dut):
    """A word written into an empty FIFO is at the head on the next cycle."""
    await start_clock_and_reset(dut)
    dut.m_tready.value = 1
    for value in (1, 0, 1):
        dut.s_tdata.value = value
        dut.s_tvalid.value = 1
        await ReadOnly()
        assert dut.s_tready.value == 1 and dut.m_tvalid.value == 0
        await RisingEdge(dut.clk)
        dut.s_tvalid.value = 0
        await ReadOnly()
        assert dut.m_tvalid.value == 1 and int(dut.m_tdata.value) == value
        await RisingEdge(dut.clk)

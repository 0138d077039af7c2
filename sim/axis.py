"""AXI-Stream helpers for cocotb benches: a source with random tvalid gaps, a sink with random
tready backpressure, a cycle counter and a recorder of output transfer times.

Timing discipline (race-free on any simulator): inputs are written right after a rising edge;
the handshake of the coming edge is judged in the ReadOnly phase just before it, when every
combinational signal has settled; then the bench waits for that edge."""
from __future__ import annotations

import random
from collections.abc import Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


async def start_clock_and_reset(dut, cycles: int = 3) -> None:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst_n.value = 0
    for name in ("s_tvalid",):
        if hasattr(dut, name):
            getattr(dut, name).value = 0
    if hasattr(dut, "m_tready"):
        dut.m_tready.value = 0
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)


async def drive(dut, words: Sequence[int], rng: random.Random, gap_probability: float = 0.0,
                users: Sequence[int] | None = None, prefix: str = "s") -> None:
    """Send `words` on <prefix>_tdata (and <prefix>_tuser if given), holding each until accepted."""
    data, valid, ready = (getattr(dut, f"{prefix}_{n}") for n in ("tdata", "tvalid", "tready"))
    user = getattr(dut, f"{prefix}_tuser") if users is not None else None
    for i, word in enumerate(words):
        while rng.random() < gap_probability:
            valid.value = 0
            await RisingEdge(dut.clk)
        data.value = word
        if user is not None:
            user.value = users[i]
        valid.value = 1
        while True:
            await ReadOnly()
            accepted = ready.value == 1
            await RisingEdge(dut.clk)
            if accepted:
                break
    valid.value = 0


async def collect(dut, count: int, rng: random.Random, stall_probability: float = 0.0, prefix: str = "m",
                  with_user: bool = False, max_cycles: int = 10_000_000) -> list:
    """Accept `count` words from <prefix>_*, randomly holding tready low."""
    data, valid, ready = (getattr(dut, f"{prefix}_{n}") for n in ("tdata", "tvalid", "tready"))
    user = getattr(dut, f"{prefix}_tuser") if with_user else None
    out: list = []
    cycles = 0
    while len(out) < count:
        ready.value = 0 if rng.random() < stall_probability else 1
        await ReadOnly()
        if valid.value == 1 and ready.value == 1:
            word = int(data.value)
            out.append((word, int(user.value)) if user is not None else word)
        await RisingEdge(dut.clk)
        cycles += 1
        assert cycles < max_cycles, f"timeout after {cycles} cycles with {len(out)}/{count} words"
    ready.value = 0
    return out


class CycleCounter:
    """Counts rising edges since start(); benches use it to check throughput."""

    def __init__(self, dut):
        self.dut = dut
        self.cycles = 0

    def start(self) -> None:
        async def count():
            while True:
                await RisingEdge(self.dut.clk)
                self.cycles += 1

        cocotb.start_soon(count())


def record_transfers(dut, counter: CycleCounter, times: list, prefix: str = "m") -> None:
    """Append `counter.cycles` at every transfer on the `prefix` stream to `times`."""
    valid, ready = getattr(dut, f"{prefix}_tvalid"), getattr(dut, f"{prefix}_tready")

    async def watch():
        while True:
            await ReadOnly()
            if valid.value == 1 and ready.value == 1:
                times.append(counter.cycles)
            await RisingEdge(dut.clk)

    cocotb.start_soon(watch())

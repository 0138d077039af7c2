"""cocotb bench for bnn_concat: N streams of pixels (CS[i] channels of BS[i] bits, shifted by
SS[i]) joined side by side per pixel into BO-bit elements, compared with the op's kernel
(bnn2hls.ops.concat: a sign bit is +-1 where widened) under random tvalid gaps on every input (garbage on
the lanes of the idle ones) and random tready backpressure; an input that stays silent holds
the others after its queue (2 pixels) fills; full rate when nobody stalls. Parameters in
BENCH_CONFIG (JSON: CS, BS, SS, BO)."""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from axis import CycleCounter, collect, start_clock_and_reset

from bnn2hls.ir import Concat
from bnn2hls.ops.concat import concat_layer


def pack(values: np.ndarray, bits: int) -> list[int]:
    """Rows of elements -> words, element c at [c*bits +: bits] (two's complement; for 1 bit,
    a sign: True or +1 is bit 1)."""
    if bits == 1:
        values = np.asarray(values) > 0
    mask = (1 << bits) - 1
    return [sum((int(v) & mask) << (c * bits) for c, v in enumerate(row)) for row in values]


def case(cfg: dict, n: int, rng: np.random.Generator) -> tuple[list[list[int]], list[int]]:
    """Random pixels of every input (as words) and the expected output words: the op's own
    kernel (bnn2hls.ops.concat) on them."""
    parts, values = [], []
    for c, b in zip(cfg["CS"], cfg["BS"]):
        p = rng.random((n, c)) < 0.5 if b == 1 else rng.integers(-(2 ** (b - 1)), 2 ** (b - 1), (n, c))
        parts.append(pack(p, b))
        values.append(p.reshape(1, 1, n, c))
    node = Concat("concat", (1, n, sum(cfg["CS"])), tuple(cfg["CS"]), (1.0,) * len(cfg["CS"]), tuple(cfg["SS"]))
    return parts, pack(concat_layer(node, values).reshape(n, -1), cfg["BO"])


async def drive_all(dut, streams: list[list[int]], cfg: dict, rng: random.Random, gaps: list[float],
                    silent: list[int] | None = None, accepted_log: list | None = None) -> None:
    """Send streams[i] on input i (s_tdata lanes [LO_i +: CS[i]*BS[i]], s_tvalid[i], s_tready[i]),
    each with its own random gaps (input i waits `silent[i]` cycles first); a presented word
    stays until accepted; the lanes of idle inputs carry random garbage. `accepted_log` gets
    (cycle, input) per accepted word."""
    width = [c * b for c, b in zip(cfg["CS"], cfg["BS"])]
    n = len(width)
    lo = [sum(width[:i]) for i in range(n)]
    pos = [0] * n
    showing = [False] * n
    wait = list(silent or [0] * n)
    cycle = 0
    while any(pos[i] < len(streams[i]) for i in range(n)):
        data = valid = 0
        for i in range(n):
            if not showing[i] and pos[i] < len(streams[i]):
                if wait[i] > 0:
                    wait[i] -= 1
                else:
                    showing[i] = rng.random() >= gaps[i]
            word = streams[i][pos[i]] if showing[i] else rng.getrandbits(width[i])
            data |= word << lo[i]
            valid |= int(showing[i]) << i
        dut.s_tdata.value = data
        dut.s_tvalid.value = valid
        await ReadOnly()
        ready = int(dut.s_tready.value)
        for i in range(n):
            if showing[i] and (ready >> i) & 1:
                pos[i] += 1
                showing[i] = False
                if accepted_log is not None:
                    accepted_log.append((cycle, i))
        await RisingEdge(dut.clk)
        cycle += 1
    dut.s_tvalid.value = 0


def config() -> dict:
    return json.loads(os.environ["BENCH_CONFIG"])


@cocotb.test()
async def concatenates_under_gaps_and_backpressure(dut):
    cfg = config()
    seed = int(os.environ.get("BENCH_SEED", "1"))
    streams, expected = case(cfg, 200, np.random.default_rng(seed))
    rng = random.Random(seed)
    await start_clock_and_reset(dut)
    dut.s_tvalid.value = 0
    gaps = [rng.choice([0.1, 0.3, 0.6]) for _ in cfg["CS"]]
    cocotb.start_soon(drive_all(dut, streams, cfg, random.Random(rng.random()), gaps))
    got = await collect(dut, len(expected), random.Random(rng.random()), stall_probability=0.5)
    assert got == expected


@cocotb.test()
async def a_silent_input_holds_the_others(dut):
    """The last input starts 40 cycles late: every other input is taken 2 pixels (its queue)
    and then held; the output waits; then everything flows, in order."""
    cfg = config()
    streams, expected = case(cfg, 30, np.random.default_rng(7))
    n = len(cfg["CS"])
    await start_clock_and_reset(dut)
    dut.s_tvalid.value = 0
    log: list = []
    cocotb.start_soon(drive_all(dut, streams, cfg, random.Random(4), [0.0] * n, silent=[0] * (n - 1) + [40],
                                accepted_log=log))
    got = await collect(dut, len(expected), random.Random(5))
    assert got == expected
    first_late = min(c for c, i in log if i == n - 1)
    assert first_late >= 40
    early = [i for c, i in log if c < first_late]
    assert all(early.count(i) == 2 for i in range(n - 1)), early


@cocotb.test()
async def full_rate(dut):
    cfg = config()
    streams, expected = case(cfg, 150, np.random.default_rng(5))
    rng = random.Random(3)
    await start_clock_and_reset(dut)
    dut.s_tvalid.value = 0
    counter = CycleCounter(dut)
    counter.start()
    cocotb.start_soon(drive_all(dut, streams, cfg, rng, [0.0] * len(cfg["CS"])))
    got = await collect(dut, len(expected), rng)
    assert got == expected
    assert counter.cycles <= len(expected) + 4, counter.cycles

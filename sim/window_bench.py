"""What the cocotb benches of the three blocks on bnn_window (bench_swg, bench_maxpool,
bench_sumpool) share: the configuration, the check under random tvalid gaps and tready
backpressure, and the full-rate check against the block kind's own cycle formula
(`layer_interval`, the one the network's cycle estimate uses).

A bench supplies `make_case(cfg, frames, rng) -> (input words, expected outputs)`; an expected
output is a tdata word, or a (tdata, tuser) pair when the block has a tuser output."""
from __future__ import annotations

import json
import os
import random
from types import SimpleNamespace
from typing import Any, Callable

import cocotb
import numpy as np

from axis import CycleCounter, collect, drive, record_transfers, start_clock_and_reset
from bnn2hls.hw.blocks import Block

# Fixed latency allowed on top of frames * (cycles per frame): the input queue and the output
# register each add one cycle, plus the cycle in which the last word is taken.
THROUGHPUT_SLACK = 4

MakeCase = Callable[[dict, int, np.random.Generator], "tuple[list[int], list[Any]]"]


def config() -> dict:
    """The DUT's parameters (BENCH_CONFIG, set by the pytest that runs the bench)."""
    return json.loads(os.environ["BENCH_CONFIG"])


def frame_cycles(kind: type[Block], cfg: dict) -> int:
    """Cycles per frame by the kind's formula, for a layer of the bench's geometry."""
    layer = SimpleNamespace(in_shape=(cfg["H"], cfg["W"], cfg["C"]), kernel=(cfg["KH"], cfg["KW"]),
                            stride=(cfg["SH"], cfg["SW"]),
                            pads=tuple(cfg.get(k, 0) for k in ("PAD_T", "PAD_L", "PAD_B", "PAD_R")))
    return int(kind.layer_interval(layer))


def compare(got: list, expected: list, with_user: bool) -> None:
    assert len(got) == len(expected), (len(got), len(expected))
    for i, (g, e) in enumerate(zip(got, expected)):
        if with_user:
            assert g[1] == e[1], f"output {i}: tuser {g[1]} != {e[1]}"
            assert g[0] == e[0], f"output {i}: tdata {g[0]:#x} != {e[0]:#x}"
        else:
            assert g == e, f"output {i}: tdata {g:#x} != {e:#x}"


async def under_gaps_and_backpressure(dut, cfg: dict, make_case: MakeCase, with_user: bool = False) -> None:
    """Several frames back to back, inputs with 30 % gaps, outputs stalled 40 % of cycles."""
    seed = int(os.environ.get("BENCH_SEED", "1"))
    inputs, expected = make_case(cfg, cfg.get("FRAMES", 4), np.random.default_rng(seed))
    rng = random.Random(seed)
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, inputs, rng, gap_probability=0.3))
    got = await collect(dut, len(expected), random.Random(rng.random()), stall_probability=0.4, with_user=with_user)
    compare(got, expected, with_user)


async def full_rate(dut, cfg: dict, make_case: MakeCase, kind: type[Block], with_user: bool = False) -> None:
    """Frames back to back with no gaps or stalls: consecutive frames' first outputs are
    exactly the kind's cycles per frame apart, and the whole run takes no more than
    frames * that + THROUGHPUT_SLACK cycles."""
    frames = cfg.get("FRAMES", 4)
    inputs, expected = make_case(cfg, frames, np.random.default_rng(7))
    rng = random.Random(3)
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    times: list[int] = []
    record_transfers(dut, counter, times)
    cocotb.start_soon(drive(dut, inputs, rng))
    got = await collect(dut, len(expected), rng, with_user=with_user)
    compare(got, expected, with_user)
    per_frame = frame_cycles(kind, cfg)
    outputs = len(expected) // frames
    intervals = [times[(f + 1) * outputs] - times[f * outputs] for f in range(frames - 1)]
    dut._log.info(f"THROUGHPUT {kind.module} {frames} frames: {counter.cycles} cycles total, "
                  f"{kind.kind}.layer_interval = {per_frame}, frame-to-frame intervals {intervals}")
    assert all(i == per_frame for i in intervals), (intervals, per_frame)
    assert counter.cycles <= frames * per_frame + THROUGHPUT_SLACK, (counter.cycles, frames * per_frame)


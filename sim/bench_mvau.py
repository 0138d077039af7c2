"""cocotb bench for bnn_mvau and bnn_vvau (the depthwise unit, `depthwise` true in the
configuration: a vector is a window of MW taps x MH channels, element (k, c) at k*MH + c, and
output channel c dots its own taps with weights row c): exact results against a numpy model under random tvalid gaps and
tready backpressure, and the interval (MH/PE)*(MW/SIMD) cycles/vector with no bubbles when
neither side stalls.

Configuration: the JSON in MVAU_CFG (written by tests/rtl/test_mvau.py):
  params: the RTL parameters (MW, MH, PE, SIMD, IN_B, BINARIZE, N_CLASSES, ACC_W, and
          optionally W_B, LEVELS, O_B, OFFSET)
  data:   .npz with weights bool [MH, MW] (W_B == 1) or int [MH, MW], thresholds int
          [N_CLASSES, MH] (LEVELS == 0) or [N_CLASSES, MH, LEVELS-1] (clamped, as in the
          memories), flip bool [MH]
  seed, vectors: random seed and vectors per test; report: optional JSON path for measurements.
"""
import json
import os
import random

import cocotb
import numpy as np

from axis import CycleCounter, collect, drive, record_transfers, start_clock_and_reset
from bnn2hls.hw.blocks.mvau import mvau_pipeline_latency
from bnn2hls.reference import pack_bits, xnor_popcount

CFG = json.loads(os.environ.get("MVAU_CFG", "{}"))

# Cycles from the first input transfer being offered to the last output transfer, beyond
# N*(MH/PE)*(MW/SIMD): load, output handshake and the pipeline's depth from a step's issue to
# its queue write (bnn2hls.hw.blocks.mvau.mvau_pipeline_latency; 3 before the unit was
# pipelined, when this slack was 6).
LATENCY_SLACK = 3


class Model:
    def __init__(self, cfg):
        p = cfg["params"]
        self.mw, self.mh, self.pe, self.simd = p["MW"], p["MH"], p["PE"], p["SIMD"]
        self.in_b, self.binarize, self.n_classes = p["IN_B"], p["BINARIZE"], p["N_CLASSES"]
        self.acc_w = p["ACC_W"]
        self.w_b, self.levels = p.get("W_B", 1), p.get("LEVELS", 0)
        self.o_b, self.offset = p.get("O_B", 1), p.get("OFFSET", 0)
        self.interval = (self.mh // self.pe) * (self.mw // self.simd)
        self.depthwise = bool(cfg.get("depthwise", False))
        self.elements = self.mw * self.mh if self.depthwise else self.mw  # per input vector
        data = np.load(cfg["data"])
        self.weights = data["weights"].astype(bool) if self.w_b == 1 else data["weights"].astype(np.int64)
        self.thresholds = data["thresholds"].astype(np.int64) if self.binarize else None
        self.flip = data["flip"].astype(bool) if self.binarize else None

    def inputs(self, rng: np.random.Generator, n: int):
        """Random vectors (the first few chosen to reach the accumulator's ends) and classes."""
        w_last = self.weights[-1] if self.w_b == 1 else self.weights[-1] >= 0  # the last row's signs
        if self.depthwise:  # every channel's taps matching its own weights' signs
            w_last = (self.weights if self.w_b == 1 else self.weights >= 0).T.reshape(-1)
        m = self.elements
        if self.in_b == 1:
            x = rng.random((n, m)) < 0.5
            special = [np.ones(m, bool), np.zeros(m, bool), w_last, ~w_last]
        else:
            lo, hi = -(2 ** (self.in_b - 1)), 2 ** (self.in_b - 1) - 1
            x = rng.integers(lo, hi + 1, (n, m))
            special = [np.full(m, lo), np.full(m, hi), np.where(w_last, hi, lo)]
        for i, v in enumerate(special[: n // 4]):
            x[i] = v
        classes = rng.integers(0, self.n_classes, n)
        return x, classes

    def word(self, x) -> int:
        if self.in_b == 1:
            return int.from_bytes(np.packbits(x, bitorder="little").tobytes(), "little")
        mask = (1 << self.in_b) - 1
        return sum((int(v) & mask) << (i * self.in_b) for i, v in enumerate(x))

    def accumulators(self, x) -> np.ndarray:
        if self.depthwise:
            xv = (np.where(x, 1, -1) if self.in_b == 1 else x).astype(np.int64).reshape(len(x), self.mw, self.mh)
            wv = (np.where(self.weights, 1, -1) if self.w_b == 1 else self.weights).astype(np.int64)
            dot = np.einsum("nkc,ck->nc", xv, wv)
            return (dot + self.mw) // 2 if self.in_b == 1 and self.w_b == 1 else dot  # popcount: matches
        if self.in_b == 1 and self.w_b == 1:
            return xnor_popcount(pack_bits(x), pack_bits(self.weights), self.mw).astype(np.int64)
        xv = np.where(x, 1, -1) if self.in_b == 1 else x
        wv = np.where(self.weights, 1, -1) if self.w_b == 1 else self.weights
        return xv.astype(np.int64) @ wv.T.astype(np.int64)

    def expected(self, x, classes) -> list[int]:
        acc = self.accumulators(x)
        out = []
        for a, cls in zip(acc, classes):
            if self.binarize and self.levels >= 2:
                passed = (a[:, None] >= self.thresholds[cls]) ^ self.flip[:, None]
                levels = self.offset + passed.sum(axis=1)
                mask = (1 << self.o_b) - 1
                out.append(sum((int(v) & mask) << (o * self.o_b) for o, v in enumerate(levels)))
            elif self.binarize:
                bits = (a >= self.thresholds[cls]) ^ self.flip
                out.append(int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little"))
            else:
                mask = (1 << self.acc_w) - 1
                out.append(sum((int(v) & mask) << (o * self.acc_w) for o, v in enumerate(a)))
        return out


def report(key, value):
    path = CFG.get("report")
    if not path:
        return
    data = json.load(open(path)) if os.path.exists(path) else {}
    data[key] = value
    with open(path, "w") as f:
        json.dump(data, f)


@cocotb.test()
async def exact_under_gaps_and_backpressure(dut):
    model = Model(CFG)
    seed = int(CFG.get("seed", 1))
    rng = random.Random(seed)
    x, classes = model.inputs(np.random.default_rng(seed), int(CFG.get("vectors", 40)))
    words = [model.word(v) for v in x]
    expected = model.expected(x, classes)
    await start_clock_and_reset(dut)
    cocotb.start_soon(drive(dut, words, rng, gap_probability=0.3, users=[int(c) for c in classes]))
    got = await collect(dut, len(words), random.Random(rng.random()), stall_probability=0.4)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"vector {i} (class {classes[i]}): got {g:#x}, expected {e:#x}"


@cocotb.test()
async def full_rate(dut):
    model = Model(CFG)
    seed = int(CFG.get("seed", 1)) + 1000
    n = int(CFG.get("vectors", 40))
    x, classes = model.inputs(np.random.default_rng(seed), n)
    words = [model.word(v) for v in x]
    await start_clock_and_reset(dut)
    counter = CycleCounter(dut)
    counter.start()
    stamps: list[int] = []
    record_transfers(dut, counter, stamps)
    cocotb.start_soon(drive(dut, words, random.Random(seed), users=[int(c) for c in classes]))
    got = await collect(dut, n, random.Random(seed))
    assert got == model.expected(x, classes)
    total = counter.cycles
    gaps = sorted(set(b - a for a, b in zip(stamps, stamps[1:])))
    dut._log.info(f"{n} vectors in {total} cycles; interval {model.interval}; output spacing {gaps}")
    report("full_rate", {"vectors": n, "cycles": total, "interval": model.interval,
                         "output_spacing": gaps, "first_output": stamps[0]})
    assert gaps == [model.interval], f"output spacing {gaps}, expected exactly {model.interval}"
    slack = LATENCY_SLACK + mvau_pipeline_latency(model.simd, model.in_b == 1 and model.w_b == 1)
    assert total <= n * model.interval + slack, (total, n * model.interval, slack)

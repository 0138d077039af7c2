"""`threshold`: a standalone activation of an integer stream (ir.Threshold, e.g. after a
residual join; hls_lib/rtl/bnn_threshold.sv, hls_lib/hls/bnn_threshold.h): per channel a sign
or a multi-threshold, all channels of a pixel in one cycle. Its thresholds and flips are
memories in the MVAU's layout (PE = C, one word each)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ir import signed_width
from ..mvau_memories import flip_words, threshold_words
from .base import Block, LowerContext, Memory, Stream, timing_stage


def input_range(bits: int) -> tuple[int, int]:
    """The integers a `bits`-bit element can hold (1: a sign bit, -1 or +1)."""
    return (-1, 1) if bits == 1 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


class ThresholdBlock(Block):
    kind = "threshold"
    module = "bnn_threshold"
    rtl_files = ("bnn_threshold.sv",)
    hls_files = ("bnn_threshold.h",)
    library_rank = 7

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        layer, bi = ctx.layer, ctx.bits
        assert layer.thresholds is not None and layer.flip is not None, "fold_thresholds first"
        _, _, c = layer.in_shape
        levels = layer.out_levels
        steps = max(1, levels - 1)
        lo, hi = input_range(bi)
        thr_w = signed_width(lo, hi + 1)
        # x >= T is always true for T <= lo and never for T > hi: clamp into [lo, hi + 1]
        thr = np.clip(np.asarray(layer.thresholds, np.int64), lo, hi + 1).reshape(1, c, *((steps,) if levels else ()))
        flip = np.asarray(layer.flip, bool)
        memories = [
            Memory("thresholds", "THRESH_FILE", f"{layer.name}_thresh.mem", "THRESHOLDS", c * steps * thr_w, 1, thr,
                   lambda: threshold_words(thr, c, thr_w, signed=True, levels=levels),
                   f"1 word of C*THR_W = {c}*{thr_w} bits" + (f" x {steps} levels" if levels else "")),
            Memory("flip", "FLIP_FILE", f"{layer.name}_flip.mem", "FLIPS", c, 1, flip, lambda: flip_words(flip, c),
                   f"1 word of C = {c} bits"),
        ]
        o_b = layer.out_bits
        params = {"C": c, "BI": bi, "LEVELS": levels, "O_B": o_b, "OFFSET": layer.out_offset, "THR_W": thr_w}
        out = Stream(layer.name, "out", c * o_b, o_b, f"{layer.name}: output pixels")
        what = f"{levels}-level thresholds" if levels else "sign"
        return cls(f"u_{layer.name}", layer, "threshold", ctx.src, out, params, memories,
                   comment=f"{layer.name}: {what} of {bi}-bit inputs, {c} channels")

    # one pixel per cycle
    @classmethod
    def layer_cycles(cls, layer: Any) -> dict[str, int]:
        return {"threshold": layer.in_shape[0] * layer.in_shape[1]}

    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return layer.in_shape[0] * layer.in_shape[1]

    @classmethod
    def layer_latency(cls, layer: Any) -> int:
        return 1  # the input queue, then the output register: 2 cycles for a 1-pixel frame

    @classmethod
    def cost_features(cls, p: dict[str, int], tables: Any, a: Any) -> None:
        c, bi, thr_w, levels = p["C"], p["BI"], p["THR_W"], p["LEVELS"]
        steps = max(1, levels - 1)
        a.ram("in_queue", 2, c * bi, a.EMU_POINTER)
        a.add("lut", "cmp", c * steps * thr_w)  # constant thresholds: comparators against constants
        a.add("ff", "regs", c * p["O_B"] if levels else c)

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """From the input queue's head to the output register: per channel a compare of
        max(BI, THR_W) + 1 bits and the flip, then (multi-level) the count of the thresholds
        passed and the offset, in series. The thresholds and flips are constants (a one-word
        ROM), so a channel's output is a function of its BI input bits alone: up to 4 bits one
        LUT4 after the head's queue select, whatever the levels (the residual demo's 3-bit
        acts were modelled as three adders in series: predicted 111 MHz, routed at 134)."""
        c, bi, thr_w, levels = p["C"], p["BI"], p["THR_W"], p["LEVELS"]
        out_w = c * (p["O_B"] if levels else 1)
        if bi <= 4:
            return {"act": timing_stage(lut=2, fanout=out_w + c * bi)}
        count = levels - 1 if levels >= 2 else 0  # the count of thresholds passed, then the offset
        carry = max(bi, thr_w) + 1 + count * max(1, (levels - 1).bit_length())
        return {"act": timing_stage(lut=2, adders=1 + count, carry=carry, fanout=out_w + c * bi)}

    def rtl_params(self) -> list[tuple[str, Any]]:
        return [*self.params.items(), *sorted((m.param, f'"{m.file}"') for m in self.memories)]

    def hls(self, ctx: Any) -> None:
        p = self.params
        header = ctx.header(self)
        ns = header.namespace
        for memory in self.memories:
            ctx.memory(header, memory)
        h, w, _ = self.layer.in_shape
        header.constants += [(k, p[k]) for k in ("C", "BI", "LEVELS", "O_B", "OFFSET", "THR_W")]
        header.constants.append(("PIXELS", h * w))
        src = ctx.name(self.input)
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        keys = ("C", "BI", "LEVELS", "O_B", "OFFSET", "THR_W", "PIXELS")
        ctx.call("bnn::threshold", [f"{ns}::{k}" for k in keys], [src, out, f"{ns}::THRESHOLDS", f"{ns}::FLIPS"],
                 self.comment)
        ctx.widths += [self.input.width, self.output.width, p["C"] * max(1, p["LEVELS"] - 1) * p["THR_W"]]

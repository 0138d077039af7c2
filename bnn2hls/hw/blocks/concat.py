"""`concat`: channel concatenation of N streams, torch.cat along channels
(hls_lib/rtl/bnn_concat.sv, hls_lib/hls/bnn_concat.h). Output pixel k is the inputs' pixel k
side by side, input 0's channels first (in the low bits), so output channel c sits at
[c*BO +: BO] as in any stream.

Operands of one element width (all sign bits, or all B-bit integers) concatenate as they are
(BO = B: wiring only). Otherwise each operand's value v (a sign bit read as +-1) becomes
v << shift in BO bits, BO the narrowest that holds them all: a sign beside 2-bit values, or
operands whose scales differ by powers of two (as a join's: the op gives the shifts, the
smaller scale being the unit). Operands whose scales do not differ by a power of two have no
common integer grid: that is the op's to refuse.

What it needs from the IR node it implements: `name`, `out_shape` (H, W, the sum of the
inputs' channels), and its operands' streams in input order (`LowerContext.srcs`, as for a
join), each one pixel of C_i*B_i bits per word, H*W words per frame. The inputs reconverge
here like a join's: the FIFOs into it are sized by hw/fifo_sizing.py (`operand_depths`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import UserError
from ...ir import describe
from .base import Block, LowerContext, Stream, timing_stage, vector_literal

CS_FIELD = 16  # bits per entry of bnn_concat's CS parameter vector (channels)
BS_FIELD = 8  # bits per entry of BS (element bits) and SS (shifts)


def out_bits(bits: Sequence[int], shifts: Sequence[int]) -> int:
    """BO: 1 for unshifted sign bits only, else the narrowest two's complement width holding
    every operand's values shifted (a sign bit, +-1, takes 2 bits before its shift)."""
    if all(b == 1 for b in bits) and not any(shifts):
        return 1
    return max((2 if b == 1 else b) + s for b, s in zip(bits, shifts))


def rtl_parameters(channels: Sequence[int], bits: Sequence[int], shifts: Sequence[int], bo: int) -> list[tuple[str, Any]]:
    """bnn_concat's parameter list for operands of `channels` channels of `bits` bits shifted
    by `shifts`, BO = `bo`."""
    return [("N", len(channels)), ("CT", sum(channels)), ("IW", sum(c * b for c, b in zip(channels, bits))), ("BO", bo),
            ("CS", vector_literal(channels, CS_FIELD)), ("BS", vector_literal(bits, BS_FIELD)),
            ("SS", vector_literal(shifts, BS_FIELD))]


def hls_template_args(bo: int, pixels: int, channels: Sequence[int], bits: Sequence[int], shifts: Sequence[int]) -> list[str]:
    """bnn::concat's template arguments."""
    return [str(bo), str(pixels), *(f"bnn::operand<{c}, {b}, {s}>" for c, b, s in zip(channels, bits, shifts))]


class ConcatBlock(Block):
    kind = "concat"
    module = "bnn_concat"
    rtl_files = ("bnn_concat.sv",)
    hls_files = ("bnn_concat.h",)
    library_rank = 8  # last in files.f: the files before it keep their order

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        return cls.make(ctx.layer, ctx.srcs, getattr(ctx.layer, "shifts", None))

    @classmethod
    def make(cls, layer: Any, srcs: Sequence[Stream], shifts: Sequence[int] | None = None) -> Block:
        """The concat of `srcs` (one stream per operand, in input order; `shifts`: per operand,
        default 0) for IR node `layer`."""
        bits = [s.elem_bits for s in srcs]
        shifts = list(shifts) if shifts is not None else [0] * len(srcs)
        channels = [s.width // b for s, b in zip(srcs, bits)]
        h, w, c = layer.out_shape
        if len(shifts) != len(srcs) or sum(channels) != c or any(s.width != ci * b for s, ci, b in zip(srcs, channels, bits)):
            raise ValueError(f"{layer.name}: streams of {[s.width for s in srcs]} bits and shifts {shifts} "
                             f"do not make {c} channels")
        if max(channels) >= 1 << CS_FIELD or max(bits) + max(shifts) >= 1 << BS_FIELD or min(shifts) < 0:
            raise UserError(f"node {describe(layer)}: an operand of {max(channels)} channels, {max(bits)}-bit elements or "
                            f"shift {max(shifts)} is beyond the hardware concat")
        bo = out_bits(bits, shifts)
        params = {"N": len(srcs), "CT": c, "IW": sum(s.width for s in srcs), "BO": bo,
                  **{f"C{i}": ci for i, ci in enumerate(channels)}, **{f"B{i}": b for i, b in enumerate(bits)},
                  **{f"S{i}": s for i, s in enumerate(shifts)}}
        parts = " + ".join(f"{ci}x{b}b" + (f"<<{s}" if s else "") for ci, b, s in zip(channels, bits, shifts))
        out = Stream(layer.name, "out", c * bo, bo, f"{layer.name}: {parts} -> {c} channels of {bo} bits")
        block = cls(f"u_{layer.name}", layer, "concat", srcs[0], out, params, extra_inputs=list(srcs[1:]),
                    comment=f"{layer.name}: concatenation of {len(srcs)} streams ({parts}) -> {bo}-bit elements")
        block.vectors["CS"], block.vectors["BS"], block.vectors["SS"] = channels, bits, shifts
        block.vectors["PIXELS"] = h * w
        return block

    def in_ports(self) -> list[tuple[str, list[Stream]]]:
        return [("s", self.inputs)]  # concatenated, input 0 in the low bits: bnn_concat's lanes

    # one pixel per cycle
    @classmethod
    def layer_cycles(cls, layer: Any) -> dict[str, int]:
        return {"concat": layer.out_shape[0] * layer.out_shape[1]}

    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return layer.out_shape[0] * layer.out_shape[1]

    # The join's datapath without its adders: an input queue per operand and the output
    # register, priced with the join's fitted coefficients (no concat in the fit's samples
    # yet). Where an operand is copied or only sign-extended, the output register takes its
    # queue's head directly and yosys merges the two (memory_dff): a plain registered read
    # (EMU_PLAIN, LUTRAM from 4 bits on). A sign bit widened to +-1 (~b above a constant 1)
    # or a shifted operand keeps the register out of the memory (measured): a read through
    # the pointer (EMU_POINTER), as the join's queues. The output register keeps one FF per
    # input bit (copies and constants merge away): IW.
    # The queues' control has no feature of the join's; it is counted in the join's 1-LUT
    # ("adder") and 1-FF ("regs") features: 6 LUTs and 3 FFs per operand past the join's two
    # (measured with yosys xc7, N = 2..5: see tests/test_concat_block.py).
    @classmethod
    def cost_kind_of(cls, params: dict[str, int]) -> str:
        return "join"

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """The inputs' heads, converted (sign bit to +-1, shift), into the output word."""
        return {"control": timing_stage(lut=3, adders=1, carry=p["BO"], fanout=p["IW"])}

    @classmethod
    def cost_features(cls, p: dict[str, int], tables: Any, a: Any) -> None:
        n, bo = p["N"], p["BO"]
        for i in range(n):
            converted = (p[f"B{i}"] == 1 and bo > 1) or p[f"S{i}"] > 0  # +-1 from a sign bit, or shifted
            a.ram(f"in_queue_{i}", 2, p[f"C{i}"] * p[f"B{i}"], a.EMU_POINTER if converted else a.EMU_PLAIN)
        a.add("ff", "regs", p["IW"] + max(0, 3 * n - 5))
        a.add("lut", "adder", 6 * (n - 1))

    def rtl_params(self) -> list[tuple[str, Any]]:
        v = self.vectors
        return rtl_parameters(v["CS"], v["BS"], v["SS"], self.params["BO"])

    def hls(self, ctx: Any) -> None:
        ins = [ctx.name(s) for s in self.inputs]
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        v = self.vectors
        targs = hls_template_args(self.params["BO"], v["PIXELS"], v["CS"], v["BS"], v["SS"])
        ctx.call("bnn::concat", targs, [*ins, out], self.comment)
        ctx.widths += [s.width for s in self.inputs] + [self.output.width]

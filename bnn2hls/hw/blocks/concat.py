"""`concat`: channel concatenation of N streams, torch.cat along channels
(hls_lib/rtl/bnn_concat.sv, hls_lib/hls/bnn_concat.h). Output pixel k is the inputs' pixel k
side by side, input 0 in the low bits, so output channel c sits at [c*B +: B] as in any
stream. Every input carries the same element width B (1: sign bits, else two's complement
fields): the block converts no encoding, and `make` refuses inputs of different widths.

What it needs from the IR node it implements: `name`, `out_shape` (H, W, the sum of the
inputs' channels), and its operands' streams in input order (`LowerContext.srcs`, as for a
join), each one pixel of C_i*B bits per word, H*W words per frame. The inputs reconverge here
like a join's: the FIFOs into it are sized by hw/fifo_sizing.py (`reconvergent_operand_depths`).
"""
from __future__ import annotations

from typing import Any

from ...errors import UserError
from .base import Block, LowerContext, Stream, vector_literal

CS_FIELD = 16  # bits per entry of bnn_concat's CS parameter vector


class ConcatBlock(Block):
    kind = "concat"
    module = "bnn_concat"
    rtl_files = ("bnn_concat.sv",)
    hls_files = ("bnn_concat.h",)
    library_rank = 8  # last in files.f: the files before it keep their order

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        return cls.make(ctx.layer, ctx.srcs)

    @classmethod
    def make(cls, layer: Any, srcs: list[Stream]) -> Block:
        """The concat of `srcs` (one stream per operand, in input order) for IR node `layer`."""
        widths = sorted({s.elem_bits for s in srcs})
        if len(widths) != 1:
            raise UserError(f"node '{layer.name}': concatenates streams of {' and '.join(map(str, widths))}-bit "
                            "elements; the hardware concat takes one element width")
        b = widths[0]
        channels = [s.width // b for s in srcs]
        h, w, c = layer.out_shape
        if sum(channels) != c or any(s.width != ci * b for s, ci in zip(srcs, channels)):
            raise ValueError(f"{layer.name}: streams of {[s.width for s in srcs]} bits do not make {c} channels of {b} bits")
        if max(channels) >= 1 << CS_FIELD:
            raise UserError(f"node '{layer.name}': an operand of {max(channels)} channels (at most {(1 << CS_FIELD) - 1})")
        params = {"N": len(srcs), "B": b, "CT": c, **{f"C{i}": ci for i, ci in enumerate(channels)}}
        out = Stream(layer.name, "out", c * b, b, f"{layer.name}: {' + '.join(map(str, channels))} channels")
        block = cls(f"u_{layer.name}", layer, "concat", srcs[0], out, params, extra_inputs=list(srcs[1:]),
                    comment=f"{layer.name}: concatenation of {len(srcs)} streams ({' + '.join(map(str, channels))} "
                    f"channels of {b} bit{'s' if b > 1 else ''})")
        block.vectors["CS"] = channels
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
    # yet). The output register takes the queues' heads directly, so yosys merges it into
    # their read ports (memory_dff): a plain registered read (EMU_PLAIN), LUTRAM from 4 bits
    # on. The queues' control has no feature of the join's; it is counted in the join's
    # 1-LUT ("adder") and 1-FF ("regs") features: 6 LUTs and 3 FFs per operand past the
    # join's two (measured with yosys xc7, N = 2..4: see tests/test_concat_block.py).
    @classmethod
    def cost_kind_of(cls, params: dict[str, int]) -> str:
        return "join"

    @classmethod
    def cost_features(cls, p: dict[str, int], tables: Any, a: Any) -> None:
        n, b, ct = p["N"], p["B"], p["CT"]
        for i in range(n):
            a.ram(f"in_queue_{i}", 2, p[f"C{i}"] * b, a.EMU_PLAIN)
        a.add("ff", "regs", ct * b + max(0, 3 * n - 5))
        a.add("lut", "adder", 6 * (n - 1))

    def rtl_params(self) -> list[tuple[str, Any]]:
        p = self.params
        return [("N", p["N"]), ("B", p["B"]), ("CT", p["CT"]), ("CS", vector_literal(self.vectors["CS"], CS_FIELD))]

    def hls(self, ctx: Any) -> None:
        ins = [ctx.name(s) for s in self.inputs]
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        targs = [str(self.params["B"]), str(self.vectors["PIXELS"]), *map(str, self.vectors["CS"])]
        ctx.call("bnn::concat", targs, [*ins, out], self.comment)
        ctx.widths.append(self.output.width)
